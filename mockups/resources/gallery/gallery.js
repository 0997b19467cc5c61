/* mockups review gallery: the page. Builds the filters, wires the toolbar, and starts.
 *
 * Filters (product, colour, background, design, channel, backend, status) combine: values of one facet
 * are OR-ed, facets are AND-ed, and the search (every word, over SKU, names, ids, the prompt and the
 * warnings) too. Status is new, changed, failed, unchanged and, besides any of those, warnings.
 * Each value shows how many variants ticking it would show. The state lives in the URL hash, so a
 * filtered view or an open variant can be linked and is restored on load. See gallery-core.js.
 */
(function (G) {
  'use strict';

  const $ = G.$;
  const el = G.el;
  const state = G.state;
  const refs = []; // per facet, per value: {input, count, li, shown} or null when not shown
  let scheduled = false;

  function apply() {
    scheduled = false;
    G.filter();
    updateCounts();
    updateChrome();
    if (state.view === 'grid') G.renderGrid(true); else G.renderMatrix();
    G.writeHash();
    performance.mark('gallery:filtered');
  }

  function schedule() {
    if (!scheduled) { scheduled = true; requestAnimationFrame(apply); }
  }

  function option(f, value) {
    const label = el('label', 'opt');
    const input = el('input');
    input.type = 'checkbox';
    input.value = value.id;
    input.dataset.facet = f.key;
    label.append(input);
    if (f.key === 'colour') label.append(G.swatch(value.hex));
    if (f.key === 'status') label.append(el('span', 'dot dot-' + value.id));
    const count = el('span', 'opt-count');
    label.append(el('span', 'opt-label', value.label), count);
    const li = el('li');
    li.append(label);
    return { input, count, li, shown: '' };
  }

  function buildFacets() {
    const root = $('facets');
    const totals = G.totals();
    G.FACETS.forEach((f, k) => {
      const mine = f.values.map(() => null);
      refs.push(mine);
      if (f.values.filter((x, n) => totals[k][n] > 0).length < 2) return; // nothing to choose between
      const box = el('fieldset', 'facet');
      box.dataset.key = f.key;
      box.append(el('legend', null, f.label));
      const list = el('ul', 'facet-list');
      f.values.forEach((value, n) => {
        if (!totals[k][n]) return;
        mine[n] = option(f, value);
        list.append(mine[n].li);
      });
      box.append(list);
      root.append(box);
    });
    root.addEventListener('change', (e) => {
      const t = e.target;
      if (!t.dataset || !t.dataset.facet) return;
      if (t.checked) state.sel[t.dataset.facet].add(t.value); else state.sel[t.dataset.facet].delete(t.value);
      apply();
    });
  }

  function updateCounts() {
    G.FACETS.forEach((f, k) => {
      refs[k].forEach((ref, n) => {
        if (!ref) return;
        const value = G.counts[k][n];
        const text = G.num(value);
        if (ref.shown !== text) { ref.count.textContent = text; ref.shown = text; }
        const checked = state.sel[f.key].has(f.values[n].id);
        if (ref.input.checked !== checked) ref.input.checked = checked;
        const zero = value === 0 && !checked;
        if (ref.li.classList.contains('is-zero') !== zero) ref.li.classList.toggle('is-zero', zero);
      });
    });
  }

  function updateChrome() {
    const total = G.V.length;
    const n = G.visible.length;
    $('count').textContent = n === total ? G.num(total) + ' variants' : G.num(n) + ' of ' + G.num(total) + ' variants';
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

  function resetFilters() {
    G.FACETS.forEach((f) => state.sel[f.key].clear());
    state.q = '';
    apply();
  }

  function setView(view) {
    if (state.view === view) return;
    state.view = view;
    updateChrome();
    if (view === 'grid') { G.layoutGrid(); G.renderGrid(true); } else G.renderMatrix();
    G.writeHash();
  }

  function toggleStatus(status) {
    const s = state.sel.status;
    const only = s.size === 1 && s.has(status);
    s.clear();
    if (!only) s.add(status);
    apply();
  }

  function showRemoved() {
    const box = $('removed');
    if (!box) return;
    box.open = true;
    box.scrollIntoView({ block: 'start' });
    box.querySelector('summary').focus();
  }

  function initToolbar() {
    $('q').addEventListener('input', (e) => { state.q = e.target.value; schedule(); });
    $('view-grid').addEventListener('click', () => setView('grid'));
    $('view-matrix').addEventListener('click', () => setView('matrix'));
    $('reset').addEventListener('click', resetFilters);
    $('empty-reset').addEventListener('click', resetFilters);
    $('filters-toggle').addEventListener('click', (e) => {
      e.currentTarget.setAttribute('aria-expanded', String(document.body.classList.toggle('filters-open')));
    });
    document.querySelectorAll('.chip[data-status]').forEach((b) => {
      b.addEventListener('click', () => toggleStatus(b.dataset.status));
    });
    document.querySelectorAll('.chip[data-show="removed"]').forEach((b) => b.addEventListener('click', showRemoved));
    document.addEventListener('keydown', (e) => {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
      if (e.key === '/' && !typing && !G.lightboxOpen()) { e.preventDefault(); $('q').focus(); }
    });
    window.addEventListener('hashchange', () => { G.readHash(); apply(); restoreOpen(); });
  }

  function restoreOpen() {
    if (!state.open) { G.closeLightbox(); return; }
    const i = G.V.findIndex((v) => v.id === state.open);
    if (i < 0) { state.open = null; G.writeHash(); return; }
    const pos = G.visible.indexOf(i);
    G.openLightbox(pos >= 0 ? G.visible : [i], Math.max(0, pos));
  }

  function start() {
    buildFacets();
    G.initGrid();
    G.initMatrix();
    G.initLightbox();
    G.initReview();
    G.onReview((changed) => { // a decision: its cards and the counts again, the view kept
      G.forgetCards(changed);
      G.refreshLightbox();
      schedule();
    });
    initToolbar();
    G.readHash();
    G.filter();
    updateCounts();
    updateChrome();
    G.layoutGrid();
    if (state.view === 'grid') G.renderGrid(true); else G.renderMatrix();
    performance.mark('gallery:first-render');
    G.writeHash();
    restoreOpen();
    document.documentElement.dataset.ready = 'true';
  }

  start();
})(window.MockupsGallery);
