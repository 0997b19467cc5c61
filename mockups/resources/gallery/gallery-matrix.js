/* mockups review gallery: the matrix view, one product (and channel, and design) at a time.
 *
 * Rows are colours, columns are backgrounds, both in catalog order; a combination the catalog does not
 * make is an empty, hatched cell. The filters apply: a filtered-out colour is not a row. Hovering or
 * focusing a cell highlights its column; the arrow keys move between cells; a cell opens the lightbox,
 * whose previous/next follow the matrix row by row.
 */
(function (G) {
  'use strict';

  const $ = G.$;
  const el = G.el;
  const rank = {};
  G.FACETS.forEach((f) => { rank[f.key] = new Map(f.values.map((x, k) => [x.id, k])); });
  let cells = []; // variant indexes of the shown matrix, row by row

  function groups() {
    const out = new Map();
    for (const i of G.visible) {
      const v = G.V[i];
      const key = [v.sku, v.channel, v.design || ''].concat(v.placement ? [v.placement] : []).join('|');
      if (!out.has(key)) {
        const label = [v.product + ' (' + v.sku + ')', v.channel, v.placement, v.design].filter(Boolean).join(' · ');
        out.set(key, { key, label, items: [] });
      }
      out.get(key).items.push(i);
    }
    return out;
  }

  function fillSelect(all) {
    const select = $('matrix-group');
    const keys = Array.from(all.keys());
    if (!all.has(G.state.group)) G.state.group = keys[0] || null;
    const same = select.options.length === keys.length && keys.every((k, n) => select.options[n].value === k);
    if (!same) {
      select.replaceChildren(...keys.map((k) => {
        const o = el('option', null, all.get(k).label + ' — ' + all.get(k).items.length);
        o.value = k;
        return o;
      }));
    }
    select.value = G.state.group || '';
  }

  function header(group, backgrounds) {
    const head = el('tr');
    head.append(el('td', 'corner'));
    backgrounds.forEach((bg, c) => {
      const th = el('th', null, G.V[group.items.find((i) => G.V[i].background === bg)].background_name);
      th.scope = 'col';
      th.dataset.col = c + 1;
      head.append(th);
    });
    const thead = el('thead');
    thead.append(head);
    return thead;
  }

  function row(group, colour, backgrounds, at) {
    const tr = el('tr');
    const sample = G.V[group.items.find((i) => G.V[i].colour === colour)];
    const th = el('th', 'row-head');
    th.scope = 'row';
    th.append(G.swatch(sample.colour_hex), el('span', 'row-name', sample.colour_name), el('small', null, sample.colour_hex));
    tr.append(th);
    backgrounds.forEach((bg, c) => {
      const td = el('td');
      td.dataset.col = c + 1;
      const i = at.get(colour + '\u0000' + bg);
      if (i === undefined) {
        td.className = 'm-empty';
        td.append(el('span', 'visually-hidden', 'not made'));
      } else {
        const v = G.V[i];
        const b = el('button', 'mcell');
        b.type = 'button';
        b.dataset.pos = cells.length;
        b.dataset.i = i;
        b.setAttribute('aria-label', G.altText(v) + (v.change ? ' (' + v.change + ')' : '')
          + (v.status === 'failed' ? ' (failed)' : ''));
        b.append(G.media(v, 'mcell-media'));
        td.append(b);
        cells.push(i);
      }
      tr.append(td);
    });
    return tr;
  }

  G.renderMatrix = function () {
    const all = groups();
    fillSelect(all);
    const wrap = $('matrix');
    const group = all.get(G.state.group);
    cells = [];
    if (!group) { wrap.replaceChildren(); return; }
    const byRank = (kind) => (a, b) => (rank[kind].get(a) ?? 1e9) - (rank[kind].get(b) ?? 1e9);
    const colours = [...new Set(group.items.map((i) => G.V[i].colour))].sort(byRank('colour'));
    const backgrounds = [...new Set(group.items.map((i) => G.V[i].background))].sort(byRank('background'));
    const at = new Map(group.items.map((i) => [G.V[i].colour + '\u0000' + G.V[i].background, i]));
    const table = el('table', 'matrix');
    const caption = el('caption', null, group.label);
    const inspect = G.inspectLink(G.V[group.items[0]], 'm-inspect');
    if (inspect) caption.append(' ', inspect);
    table.append(caption);
    const colgroup = el('colgroup');
    for (let c = 0; c <= backgrounds.length; c++) colgroup.append(el('col'));
    const tbody = el('tbody');
    colours.forEach((colour) => tbody.append(row(group, colour, backgrounds, at)));
    table.append(colgroup, header(group, backgrounds), tbody);
    wrap.replaceChildren(table);
  };

  G.focusMatrixCell = function (i) {
    const b = $('matrix').querySelector('.mcell[data-i="' + i + '"]');
    if (b) b.focus();
  };

  function onKey(e) {
    const td = e.target.closest('td');
    const moves = { ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowDown: [1, 0], ArrowUp: [-1, 0] };
    if (!td || !(e.key in moves)) return;
    const tr = td.parentElement;
    const rows = Array.from(tr.parentElement.children);
    const r = rows.indexOf(tr) + moves[e.key][0];
    const c = td.cellIndex + moves[e.key][1];
    const target = rows[r] && rows[r].cells[c] && rows[r].cells[c].querySelector('button');
    if (target) { e.preventDefault(); target.focus(); }
  }

  G.initMatrix = function () {
    const wrap = $('matrix');
    wrap.addEventListener('click', (e) => {
      const b = e.target.closest('.mcell');
      if (b) G.openLightbox(cells, Number(b.dataset.pos));
    });
    const highlight = (e) => {
      const td = e.target.closest('td, th');
      wrap.querySelectorAll('col').forEach((c, n) => c.classList.toggle('is-hl', !!td && td.dataset.col === String(n)));
    };
    wrap.addEventListener('pointerover', highlight);
    wrap.addEventListener('focusin', highlight);
    wrap.addEventListener('pointerleave', () => wrap.querySelectorAll('col.is-hl').forEach((c) => c.classList.remove('is-hl')));
    wrap.addEventListener('keydown', onKey);
    $('matrix-group').addEventListener('change', (e) => {
      G.state.group = e.target.value;
      G.renderMatrix();
      G.writeHash();
    });
  };
})(window.MockupsGallery);
