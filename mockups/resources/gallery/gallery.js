/* mockups review gallery. Plain JavaScript: no framework, no build step, no network.
 *
 * Reads the variants from <script id="gallery-data" type="application/json"> and draws
 *   - a virtualised grid: only the rows near the viewport are in the DOM, so 10,000 variants open fast;
 *   - a matrix per product (rows = colours, columns = backgrounds);
 *   - filters with counts and a search box, combinable, kept in the URL hash so a view can be linked:
 *     #colour=navy&status=changed&q=tee&view=matrix&group=…&v=<variant id>;
 *   - a lightbox with keyboard navigation, metadata, the prompt, and a compare against the previous build.
 * Catalog text is only ever inserted with textContent or setAttribute, never as HTML.
 */
(function () {
  'use strict';

  const DATA = JSON.parse(document.getElementById('gallery-data').textContent);
  const V = DATA.variants;
  const FACETS = DATA.facets;
  const BUFFER_ROWS = 3;

  const $ = (id) => document.getElementById(id);
  const state = { sel: {}, q: '', view: 'grid', group: null, open: null };
  let visible = [];           // indexes into V that pass the filters, in display order
  let counts = [];            // per facet: Map value -> count
  let scheduled = false;

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function swatch(hex) {
    const s = el('span', 'swatch');
    s.setAttribute('aria-hidden', 'true');
    if (hex) s.style.backgroundColor = hex;
    return s;
  }

  function altText(v) {
    return v.product + ' in ' + v.colour_name + ', ' + v.background_name + ' background';
  }

  function statusesOf(v) {
    const s = [];
    if (v.change) s.push(v.change);
    if (v.status === 'failed') s.push('failed');
    if (!s.length) s.push('unchanged');
    return s;
  }

  // --- index: facet values and search text per variant (no DOM work) -------------------------------
  V.forEach((v, i) => {
    v._i = i;
    v._f = FACETS.map((f) => (f.key === 'status' ? statusesOf(v) : [v[f.field]]));
    v._text = [v.id, v.sku, v.product, v.colour, v.colour_name, v.colour_hex, v.background, v.background_name,
      v.design, v.channel, v.backend, v.model, v.prompt].filter(Boolean).join('\n').toLowerCase();
  });
  FACETS.forEach((f) => { state.sel[f.key] = new Set(); });

  // --- filtering -------------------------------------------------------------------------------------
  function filter() {
    const sets = FACETS.map((f) => state.sel[f.key]);
    const terms = state.q.toLowerCase().split(/\s+/).filter(Boolean);
    const out = [];
    const c = FACETS.map(() => new Map());
    const bump = (k, values) => { for (const x of values) c[k].set(x, (c[k].get(x) || 0) + 1); };
    for (const v of V) {
      if (terms.length && !terms.every((t) => v._text.includes(t))) continue;
      let fails = 0;
      let failed = -1;
      for (let k = 0; k < sets.length && fails < 2; k++) {
        if (sets[k].size && !v._f[k].some((x) => sets[k].has(x))) { fails++; failed = k; }
      }
      if (fails === 0) {
        out.push(v._i);
        for (let k = 0; k < sets.length; k++) bump(k, v._f[k]);
      } else if (fails === 1) {
        bump(failed, v._f[failed]); // counts show what ticking this value would add
      }
    }
    visible = out;
    counts = c;
  }

  function apply() {
    scheduled = false;
    filter();
    updateFacetCounts();
    updateChrome();
    render();
    writeHash();
    performance.mark('gallery:filtered');
  }

  function schedule() {
    if (!scheduled) { scheduled = true; requestAnimationFrame(apply); }
  }

  // --- facets ------------------------------------------------------------------------------------------
  const facetRefs = []; // per facet: Map value -> {input, count, li}
  function buildFacets() {
    const root = $('facets');
    const totals = FACETS.map(() => new Map());
    for (const v of V) v._f.forEach((vals, k) => vals.forEach((x) => totals[k].set(x, (totals[k].get(x) || 0) + 1)));
    FACETS.forEach((f, k) => {
      const refs = new Map();
      facetRefs.push(refs);
      const values = f.values.filter((x) => totals[k].get(x.id));
      if (values.length < 2) return; // nothing to choose between
      const box = el('fieldset', 'facet');
      box.dataset.key = f.key;
      box.append(el('legend', null, f.label));
      const list = el('ul', 'facet-list');
      for (const value of values) {
        const li = el('li');
        const label = el('label', 'opt');
        const input = el('input');
        input.type = 'checkbox';
        input.value = value.id;
        input.dataset.facet = f.key;
        label.append(input);
        if (f.key === 'colour') label.append(swatch(value.hex));
        if (f.key === 'status') label.append(el('span', 'dot dot-' + value.id));
        label.append(el('span', 'opt-label', value.label));
        const count = el('span', 'opt-count');
        label.append(count);
        li.append(label);
        list.append(li);
        refs.set(value.id, { input, count, li });
      }
      box.append(list);
      root.append(box);
    });
    root.addEventListener('change', (e) => {
      const t = e.target;
      if (!t.dataset || !t.dataset.facet) return;
      const set = state.sel[t.dataset.facet];
      if (t.checked) set.add(t.value); else set.delete(t.value);
      apply();
    });
  }

  function updateFacetCounts() {
    FACETS.forEach((f, k) => {
      for (const [value, ref] of facetRefs[k]) {
        const n = counts[k].get(value) || 0;
        ref.count.textContent = n.toLocaleString();
        ref.li.classList.toggle('is-zero', n === 0 && !ref.input.checked);
        ref.input.checked = state.sel[f.key].has(value);
      }
    });
  }

  function updateChrome() {
    const total = V.length;
    const n = visible.length;
    $('count').textContent = n === total ? total.toLocaleString() + ' variants'
      : n.toLocaleString() + ' of ' + total.toLocaleString() + ' variants';
    $('empty').hidden = n > 0;
    const status = state.sel.status || new Set();
    document.querySelectorAll('.chip[data-status]').forEach((b) => {
      b.setAttribute('aria-pressed', String(status.size === 1 && status.has(b.dataset.status)));
    });
    $('view-grid').setAttribute('aria-pressed', String(state.view === 'grid'));
    $('view-matrix').setAttribute('aria-pressed', String(state.view === 'matrix'));
    $('grid-view').hidden = state.view !== 'grid';
    $('matrix-view').hidden = state.view !== 'matrix' || n === 0;
    if ($('q').value !== state.q) $('q').value = state.q;
  }

  function render() {
    if (state.view === 'grid') renderGrid(true); else renderMatrix();
  }

  // --- URL hash ------------------------------------------------------------------------------------------
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    FACETS.forEach((f) => { state.sel[f.key] = new Set(p.getAll(f.key)); });
    state.q = p.get('q') || '';
    state.view = p.get('view') === 'matrix' ? 'matrix' : 'grid';
    state.group = p.get('group');
    state.open = p.get('v');
  }

  function writeHash() {
    const p = new URLSearchParams();
    FACETS.forEach((f) => state.sel[f.key].forEach((x) => p.append(f.key, x)));
    if (state.q) p.set('q', state.q);
    if (state.view !== 'grid') p.set('view', state.view);
    if (state.view === 'matrix' && state.group) p.set('group', state.group);
    if (state.open) p.set('v', state.open);
    const hash = p.toString();
    if (hash === location.hash.slice(1)) return;
    const url = hash ? '#' + hash : location.pathname + location.search;
    try { history.replaceState(null, '', url); } catch (err) { location.replace(hash ? '#' + hash : '#'); }
  }

  // --- cards -------------------------------------------------------------------------------------------------
  function badges(v) {
    const box = el('span', 'badges');
    if (v.change) box.append(el('span', 'badge badge-' + v.change, v.change === 'new' ? 'New' : 'Changed'));
    if (v.status === 'failed') box.append(el('span', 'badge badge-failed', 'Failed'));
    return box.childElementCount ? box : null;
  }

  function thumbImage(v, className) {
    const img = el('img', className);
    img.loading = 'lazy';
    img.decoding = 'async';
    img.width = v.tw;
    img.height = v.th;
    img.alt = altText(v);
    img.src = v.thumb;
    return img;
  }

  function media(v, className) {
    const box = el('span', className);
    if (v.status === 'failed') {
      box.classList.add('is-failed');
      box.append(el('span', 'failed-title', 'Failed'), el('span', 'failed-error', v.error || 'no output'));
    } else if (v.thumb) {
      box.append(thumbImage(v));
    } else {
      box.classList.add('is-missing');
      box.append(el('span', 'failed-title', 'No preview'));
    }
    const b = badges(v);
    if (b) box.append(b);
    return box;
  }

  const cardCache = new Map();
  function card(i) {
    let li = cardCache.get(i);
    if (li) return li;
    const v = V[i];
    li = el('li', 'cell');
    const b = el('button', 'card');
    b.type = 'button';
    b.dataset.i = i;
    const body = el('span', 'card-body');
    body.append(el('span', 'card-title', v.product));
    const sub = el('span', 'card-sub');
    sub.append(swatch(v.colour_hex), el('span', null, v.colour_name + ' · ' + v.background_name));
    body.append(sub, el('span', 'card-meta', [v.sku, v.channel, v.design].filter(Boolean).join(' · ')));
    b.append(media(v, 'card-media'), body);
    li.append(b);
    if (cardCache.size > 4000) cardCache.clear();
    cardCache.set(i, li);
    return li;
  }

  // --- virtualised grid ------------------------------------------------------------------------------------------
  const grid = { viewport: $('grid-viewport'), list: $('grid'), cols: 1, rowH: 0, gap: 0, width: 0,
    start: -1, end: -1, active: 0 };

  function layoutGrid() {
    const cs = getComputedStyle(grid.list);
    const min = parseFloat(cs.getPropertyValue('--card-min')) || 200;
    const gap = parseFloat(cs.columnGap) || 0;
    grid.width = grid.viewport.clientWidth;
    grid.cols = Math.max(1, Math.floor((grid.width + gap) / (min + gap)));
    grid.gap = parseFloat(cs.rowGap) || 0;
    grid.list.style.setProperty('--cols', String(grid.cols));
    grid.rowH = 0;
  }

  function measureRow() {
    grid.list.style.transform = '';
    grid.list.replaceChildren(card(visible[0]));
    grid.rowH = grid.list.firstElementChild.getBoundingClientRect().height + grid.gap;
    grid.start = -1;
  }

  function renderGrid(force) {
    if (state.view !== 'grid') return;
    const n = visible.length;
    if (!n) { grid.list.replaceChildren(); grid.viewport.style.height = '0px'; grid.start = grid.end = -1; return; }
    if (!grid.rowH) measureRow();
    const rows = Math.ceil(n / grid.cols);
    grid.viewport.style.height = Math.max(0, rows * grid.rowH - grid.gap) + 'px';
    const top = grid.viewport.getBoundingClientRect().top;
    const first = Math.max(0, Math.min(rows - 1, Math.floor(-top / grid.rowH) - BUFFER_ROWS));
    const last = Math.min(rows, Math.max(first + 1, Math.ceil((window.innerHeight - top) / grid.rowH) + BUFFER_ROWS));
    if (!force && first === grid.start && last === grid.end) return;
    grid.start = first;
    grid.end = last;
    const nodes = [];
    const from = first * grid.cols;
    const to = Math.min(n, last * grid.cols);
    if (grid.active >= n) grid.active = 0;
    const tabStop = grid.active >= from && grid.active < to ? grid.active : from;
    for (let pos = from; pos < to; pos++) {
      const li = card(visible[pos]);
      const b = li.firstChild;
      b.dataset.pos = pos;
      b.tabIndex = pos === tabStop ? 0 : -1;
      nodes.push(li);
    }
    grid.list.style.transform = 'translateY(' + first * grid.rowH + 'px)';
    grid.list.replaceChildren(...nodes);
  }

  function scrollToPos(pos) {
    const row = Math.floor(pos / grid.cols);
    const y = grid.viewport.getBoundingClientRect().top + window.scrollY + row * grid.rowH;
    const bar = document.querySelector('.toolbar');
    const header = bar ? bar.getBoundingClientRect().height + 8 : 8;
    if (y < window.scrollY + header) window.scrollTo(0, y - header);
    else if (y + grid.rowH > window.scrollY + window.innerHeight) window.scrollTo(0, y + grid.rowH - window.innerHeight + 8);
  }

  function focusPos(pos) {
    if (!visible.length) return;
    pos = Math.max(0, Math.min(visible.length - 1, pos));
    grid.active = pos;
    scrollToPos(pos);
    renderGrid(true);
    const b = grid.list.querySelector('[data-pos="' + pos + '"]');
    if (b) b.focus({ preventScroll: true });
  }

  function onGridKey(e) {
    const b = e.target.closest('.card');
    if (!b) return;
    const pos = Number(b.dataset.pos);
    const page = Math.max(1, Math.floor(window.innerHeight / (grid.rowH || 1)) - 1) * grid.cols;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: grid.cols, ArrowUp: -grid.cols, PageDown: page,
      PageUp: -page, Home: -pos, End: visible.length - 1 - pos };
    if (!(e.key in moves)) return;
    e.preventDefault();
    focusPos(pos + moves[e.key]);
  }

  function initGrid() {
    grid.list.addEventListener('click', (e) => {
      const b = e.target.closest('.card');
      if (b) openLightbox(visible, Number(b.dataset.pos));
    });
    grid.list.addEventListener('keydown', onGridKey);
    grid.list.addEventListener('focusin', (e) => {
      const b = e.target.closest('.card');
      if (b) grid.active = Number(b.dataset.pos);
    });
    let ticking = false;
    window.addEventListener('scroll', () => {
      if (ticking) return;
      ticking = true;
      requestAnimationFrame(() => { ticking = false; renderGrid(false); });
    }, { passive: true });
    new ResizeObserver(() => {
      if (grid.viewport.clientWidth === grid.width || state.view !== 'grid') return;
      layoutGrid();
      renderGrid(true);
    }).observe(grid.viewport);
    window.addEventListener('resize', () => { grid.rowH = 0; renderGrid(true); });
  }

  // --- matrix ----------------------------------------------------------------------------------------------
  const rank = {};
  FACETS.forEach((f) => { rank[f.key] = new Map(f.values.map((x, k) => [x.id, k])); });

  function groups() {
    const out = new Map();
    for (const i of visible) {
      const v = V[i];
      const key = [v.sku, v.channel, v.design || ''].join('|');
      if (!out.has(key)) {
        const label = [v.product + ' (' + v.sku + ')', v.channel, v.design].filter(Boolean).join(' · ');
        out.set(key, { key, label, items: [] });
      }
      out.get(key).items.push(i);
    }
    return out;
  }

  function fillGroupSelect(all) {
    const select = $('matrix-group');
    const keys = Array.from(all.keys());
    if (!all.has(state.group)) state.group = keys[0] || null;
    const same = select.options.length === keys.length && keys.every((k, n) => select.options[n].value === k);
    if (!same) {
      select.replaceChildren(...keys.map((k) => {
        const o = el('option', null, all.get(k).label + ' — ' + all.get(k).items.length);
        o.value = k;
        return o;
      }));
    }
    select.value = state.group || '';
  }

  let matrixList = [];
  function renderMatrix() {
    const all = groups();
    fillGroupSelect(all);
    const wrap = $('matrix');
    const group = all.get(state.group);
    if (!group) { wrap.replaceChildren(); matrixList = []; return; }
    const byRank = (kind) => (a, b) => (rank[kind].get(a) ?? 1e9) - (rank[kind].get(b) ?? 1e9);
    const colours = [...new Set(group.items.map((i) => V[i].colour))].sort(byRank('colour'));
    const backgrounds = [...new Set(group.items.map((i) => V[i].background))].sort(byRank('background'));
    const at = new Map(group.items.map((i) => [V[i].colour + '\u0000' + V[i].background, i]));
    matrixList = [];
    const table = el('table', 'matrix');
    table.append(el('caption', null, group.label));
    const colgroup = el('colgroup');
    colgroup.append(el('col'));
    backgrounds.forEach(() => colgroup.append(el('col')));
    const head = el('tr');
    head.append(el('td', 'corner'));
    backgrounds.forEach((bg, c) => {
      const th = el('th', null, V[group.items.find((i) => V[i].background === bg)].background_name);
      th.scope = 'col';
      th.dataset.col = c + 1;
      head.append(th);
    });
    const thead = el('thead');
    thead.append(head);
    const tbody = el('tbody');
    colours.forEach((colour) => tbody.append(matrixRow(group, colour, backgrounds, at)));
    table.append(colgroup, thead, tbody);
    wrap.replaceChildren(table);
  }

  function matrixRow(group, colour, backgrounds, at) {
    const tr = el('tr');
    const sample = V[group.items.find((i) => V[i].colour === colour)];
    const th = el('th', 'row-head');
    th.scope = 'row';
    th.append(swatch(sample.colour_hex), el('span', 'row-name', sample.colour_name), el('small', null, sample.colour_hex));
    tr.append(th);
    backgrounds.forEach((bg, c) => {
      const td = el('td');
      td.dataset.col = c + 1;
      const i = at.get(colour + '\u0000' + bg);
      if (i === undefined) {
        td.className = 'm-empty';
        td.append(el('span', 'visually-hidden', 'not in the catalog'));
      } else {
        const b = el('button', 'mcell');
        b.type = 'button';
        b.dataset.pos = matrixList.length;
        b.dataset.i = i;
        b.setAttribute('aria-label', altText(V[i]) + (V[i].change ? ' (' + V[i].change + ')' : '')
          + (V[i].status === 'failed' ? ' (failed)' : ''));
        b.append(media(V[i], 'mcell-media'));
        td.append(b);
        matrixList.push(i);
      }
      tr.append(td);
    });
    return tr;
  }

  function initMatrix() {
    const wrap = $('matrix');
    wrap.addEventListener('click', (e) => {
      const b = e.target.closest('.mcell');
      if (b) openLightbox(matrixList, Number(b.dataset.pos));
    });
    const highlight = (e) => {
      const td = e.target.closest('td, th');
      const cols = wrap.querySelectorAll('col');
      cols.forEach((c, n) => c.classList.toggle('is-hl', !!td && td.dataset.col === String(n)));
    };
    wrap.addEventListener('pointerover', highlight);
    wrap.addEventListener('focusin', highlight);
    wrap.addEventListener('pointerleave', () => wrap.querySelectorAll('col.is-hl').forEach((c) => c.classList.remove('is-hl')));
    wrap.addEventListener('keydown', (e) => {
      const td = e.target.closest('td');
      const moves = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] };
      if (!td || !(e.key in moves)) return;
      const tr = td.parentElement;
      const rows = Array.from(tr.parentElement.children);
      const r = rows.indexOf(tr) + moves[e.key][0];
      const c = td.cellIndex + moves[e.key][1];
      const target = rows[r] && rows[r].cells[c] && rows[r].cells[c].querySelector('button');
      if (target) { e.preventDefault(); target.focus(); }
    });
    $('matrix-group').addEventListener('change', (e) => { state.group = e.target.value; renderMatrix(); writeHash(); });
  }

  // --- lightbox ------------------------------------------------------------------------------------------------
  const lb = { dialog: $('lightbox'), list: [], pos: 0, mode: 'current' };

  function openLightbox(list, pos) {
    if (!list.length) return;
    lb.list = list;
    lb.pos = Math.max(0, Math.min(list.length - 1, pos));
    lb.view = state.view;
    showVariant();
    if (!lb.dialog.open) lb.dialog.showModal();
  }

  function step(delta) {
    const pos = lb.pos + delta;
    if (pos < 0 || pos >= lb.list.length) return;
    lb.pos = pos;
    showVariant();
  }

  function row(dl, term, value, extra) {
    if (value === null || value === undefined || value === '') return;
    const dd = el('dd');
    if (extra) dd.append(extra);
    dd.append(document.createTextNode(String(value)));
    dl.append(el('dt', null, term), dd);
  }

  function money(x) { return x ? '$' + Number(x).toFixed(Number(x) < 0.1 ? 4 : 2) : '$0'; }
  function bytes(n) { return n ? (n > 1e6 ? (n / 1e6).toFixed(1) + ' MB' : Math.round(n / 1e3) + ' kB') : null; }

  function showMeta(v) {
    const dl = $('lb-dl');
    dl.replaceChildren();
    row(dl, 'SKU', v.sku);
    row(dl, 'Product', v.product);
    row(dl, 'Colour', v.colour_name + (v.colour_hex ? ' ' + v.colour_hex : ''), swatch(v.colour_hex));
    row(dl, 'Background', v.background_name);
    row(dl, 'Design', v.design);
    row(dl, 'Channel', v.channel + ' · ' + (v.size || []).join('×') + ' · ' + v.format);
    row(dl, 'Backend', v.backend + (v.model ? ' · ' + v.model : ''));
    row(dl, 'Template', v.template);
    row(dl, 'Cost', money(v.cost));
    row(dl, 'Built', v.built_at ? v.built_at.replace('T', ' ').replace(/\+00:00$/, ' UTC') : null);
    row(dl, 'Output', v.output + (v.bytes ? ' (' + bytes(v.bytes) + ')' : ''));
    if (v.change) row(dl, v.change === 'new' ? 'New' : 'Changed', v.reasons.length ? v.reasons.join(', ') : 'in this build');
    if (v.warnings.length) row(dl, 'Warnings', v.warnings.join('; '));
    $('lb-prompt').textContent = v.prompt || '—';
    const b = badges(v);
    $('lb-badges').replaceChildren(...(b ? [b] : []));
  }

  function showImage(v) {
    const failed = v.status === 'failed';
    $('lb-error').hidden = !failed;
    $('lb-frame').hidden = failed;
    $('lb-error-text').textContent = failed ? (v.error || 'no output') : '';
    const img = $('lb-img');
    if (!failed) {
      $('lb-frame').style.setProperty('--ar', String(v.size[0] / v.size[1]));
      img.removeAttribute('src');
      img.width = v.size[0];
      img.height = v.size[1];
      img.alt = altText(v);
      img.src = v.src;
    }
    const prev = $('lb-prev-img');
    $('lb-modes').hidden = failed || !v.previous;
    if (v.previous && !failed) {
      prev.width = v.size[0];
      prev.height = v.size[1];
      prev.alt = altText(v) + ', previous build';
      prev.src = v.previous;
    } else {
      prev.removeAttribute('src');
    }
    setMode(v.previous && !failed ? lb.mode : 'current');
    for (const link of [$('lb-download'), $('lb-open')]) {
      link.hidden = failed;
      if (!failed) link.setAttribute('href', v.src);
    }
    if (!failed) $('lb-download').setAttribute('download', (v.output || '').split('/').join('_'));
  }

  function showVariant() {
    const v = V[lb.list[lb.pos]];
    $('lb-title').textContent = v.product + ' — ' + v.colour_name + ' · ' + v.background_name;
    $('lb-pos').textContent = (lb.pos + 1).toLocaleString() + ' / ' + lb.list.length.toLocaleString();
    $('lb-prev').disabled = lb.pos === 0;
    $('lb-next').disabled = lb.pos === lb.list.length - 1;
    showImage(v);
    showMeta(v);
    for (const d of [-1, 1]) {
      const n = V[lb.list[lb.pos + d]];
      if (n && n.src) new Image().src = n.src; // warm the neighbours
    }
    state.open = v.id;
    writeHash();
  }

  function setMode(mode) {
    $('lb-frame').dataset.mode = mode;
    $('lb-slider').hidden = mode !== 'slider';
    $('lb-modes').querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.mode === mode)));
    slide();
  }

  function slide() {
    const x = Number($('lb-slider').value);
    const frame = $('lb-frame');
    frame.querySelector('.lb-fig-cur').style.clipPath = frame.dataset.mode === 'slider' ? 'inset(0 0 0 ' + x + '%)' : '';
    frame.querySelector('.lb-divider').style.left = x + '%';
  }

  function onLightboxClosed() {
    const i = lb.list[lb.pos];
    state.open = null;
    writeHash();
    if (lb.view === 'grid' && state.view === 'grid') {
      const pos = visible.indexOf(i);
      if (pos >= 0) focusPos(pos);
    } else {
      const b = $('matrix').querySelector('.mcell[data-i="' + i + '"]');
      if (b) b.focus();
    }
  }

  function initLightbox() {
    $('lb-prev').addEventListener('click', () => step(-1));
    $('lb-next').addEventListener('click', () => step(1));
    $('lb-close').addEventListener('click', () => lb.dialog.close());
    lb.dialog.addEventListener('close', onLightboxClosed);
    lb.dialog.addEventListener('click', (e) => { if (e.target === lb.dialog) lb.dialog.close(); });
    lb.dialog.addEventListener('keydown', (e) => {
      if (e.target.type === 'range' || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
      if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
    });
    $('lb-modes').addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (b) { lb.mode = b.dataset.mode; setMode(lb.mode); }
    });
    $('lb-slider').addEventListener('input', slide);
    const frame = $('lb-frame');
    const drag = (e) => {
      if (frame.dataset.mode !== 'slider' || !(e.buttons & 1)) return;
      const box = frame.getBoundingClientRect();
      $('lb-slider').value = String(Math.round(((e.clientX - box.left) / box.width) * 100));
      slide();
    };
    frame.addEventListener('pointerdown', drag);
    frame.addEventListener('pointermove', drag);
  }

  // --- toolbar -------------------------------------------------------------------------------------------------
  function resetFilters() {
    FACETS.forEach((f) => state.sel[f.key].clear());
    state.q = '';
    apply();
  }

  function setView(view) {
    if (state.view === view) return;
    state.view = view;
    updateChrome();
    if (view === 'grid') { layoutGrid(); renderGrid(true); } else renderMatrix();
    writeHash();
  }

  function initToolbar() {
    $('q').addEventListener('input', (e) => { state.q = e.target.value; schedule(); });
    $('view-grid').addEventListener('click', () => setView('grid'));
    $('view-matrix').addEventListener('click', () => setView('matrix'));
    $('reset').addEventListener('click', resetFilters);
    $('empty-reset').addEventListener('click', resetFilters);
    $('filters-toggle').addEventListener('click', (e) => {
      const open = document.body.classList.toggle('filters-open');
      e.currentTarget.setAttribute('aria-expanded', String(open));
    });
    document.querySelectorAll('.chip[data-status]').forEach((b) => b.addEventListener('click', () => {
      const s = state.sel.status;
      const only = s.size === 1 && s.has(b.dataset.status);
      s.clear();
      if (!only) s.add(b.dataset.status);
      apply();
    }));
    const removedChip = document.querySelector('.chip[data-show="removed"]');
    if (removedChip) removedChip.addEventListener('click', () => {
      const box = $('removed');
      if (box) { box.open = true; box.scrollIntoView({ block: 'start' }); box.querySelector('summary').focus(); }
    });
    document.addEventListener('keydown', (e) => {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
      if (e.key === '/' && !typing && !lb.dialog.open) { e.preventDefault(); $('q').focus(); }
    });
    window.addEventListener('hashchange', () => {
      readHash();
      apply();
      restoreOpen();
    });
  }

  function restoreOpen() {
    if (!state.open) { if (lb.dialog.open) lb.dialog.close(); return; }
    const i = V.findIndex((v) => v.id === state.open);
    if (i < 0) { state.open = null; writeHash(); return; }
    const pos = visible.indexOf(i);
    openLightbox(pos >= 0 ? visible : [i], Math.max(0, pos));
  }

  // --- start ---------------------------------------------------------------------------------------------------
  function start() {
    buildFacets();
    initGrid();
    initMatrix();
    initLightbox();
    initToolbar();
    readHash();
    filter();
    updateFacetCounts();
    updateChrome();
    layoutGrid();
    render();
    performance.mark('gallery:first-render');
    writeHash();
    restoreOpen();
    document.documentElement.dataset.ready = 'true';
  }

  start();
})();
