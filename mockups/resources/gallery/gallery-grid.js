/* mockups review gallery: the virtualised grid of cards.
 *
 * Only the rows near the viewport are in the DOM (plus a few above and below), positioned by a
 * translateY inside a viewport element as tall as every row would be, so 10,000 variants open and
 * filter in milliseconds and the scrollbar is true. Cards are built once and reused. Keyboard: one card
 * is in the tab order (a roving tabindex); the arrows, PageUp/PageDown, Home and End move between
 * cards, rendering and scrolling as needed; Enter opens the lightbox.
 */
(function (G) {
  'use strict';

  const BUFFER_ROWS = 3;
  const $ = G.$;
  const el = G.el;
  const grid = { viewport: $('grid-viewport'), list: $('grid'), cols: 1, rowH: 0, gap: 0, width: 0,
    start: -1, end: -1, active: 0 };

  const cache = new Map();
  function card(i) {
    let li = cache.get(i);
    if (li) return li;
    const v = G.V[i];
    li = el('li', 'cell');
    const b = el('button', 'card');
    b.type = 'button';
    b.dataset.i = i;
    const body = el('span', 'card-body');
    body.append(el('span', 'card-title', v.product));
    const sub = el('span', 'card-sub');
    sub.append(G.swatch(v.colour_hex), el('span', null, v.colour_name + ' · ' + v.background_name));
    body.append(sub, el('span', 'card-meta', [v.sku, v.channel, v.placement, v.design].filter(Boolean).join(' · ')));
    b.append(G.media(v, 'card-media'), body);
    li.append(b);
    const review = G.reviewButtons && G.reviewButtons(v, 'review-buttons card-review');
    if (review) li.append(review); // beside the card's button, not in it
    if (cache.size > 4000) cache.clear();
    cache.set(i, li);
    return li;
  }

  G.forgetCards = (list) => list.forEach((i) => cache.delete(i)); // drawn again (a review decision)

  // Columns from the width and the theme's --card-min; the row height is measured on a real card.
  G.layoutGrid = function () {
    const cs = getComputedStyle(grid.list);
    const min = parseFloat(cs.getPropertyValue('--card-min')) || 200;
    const gap = parseFloat(cs.columnGap) || 0;
    grid.width = grid.viewport.clientWidth;
    grid.cols = Math.max(1, Math.floor((grid.width + gap) / (min + gap)));
    grid.gap = parseFloat(cs.rowGap) || 0;
    grid.list.style.setProperty('--cols', String(grid.cols));
    grid.rowH = 0;
  };

  function measureRow() {
    grid.list.style.transform = '';
    grid.list.replaceChildren(card(G.visible[0]));
    grid.rowH = grid.list.firstElementChild.getBoundingClientRect().height + grid.gap;
    grid.start = -1;
  }

  G.renderGrid = function (force) {
    if (G.state.view !== 'grid') return;
    const n = G.visible.length;
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
    const from = first * grid.cols;
    const to = Math.min(n, last * grid.cols);
    if (grid.active >= n) grid.active = 0;
    const tabStop = grid.active >= from && grid.active < to ? grid.active : from;
    const nodes = [];
    for (let pos = from; pos < to; pos++) {
      const li = card(G.visible[pos]);
      li.firstChild.dataset.pos = pos;
      li.firstChild.tabIndex = pos === tabStop ? 0 : -1;
      nodes.push(li);
    }
    grid.list.style.transform = 'translateY(' + first * grid.rowH + 'px)';
    grid.list.replaceChildren(...nodes);
  };

  function scrollToPos(pos) {
    const row = Math.floor(pos / grid.cols);
    const y = grid.viewport.getBoundingClientRect().top + window.scrollY + row * grid.rowH;
    const bar = document.querySelector('.toolbar');
    const header = bar ? bar.getBoundingClientRect().height + 8 : 8;
    if (y < window.scrollY + header) window.scrollTo(0, y - header);
    else if (y + grid.rowH > window.scrollY + window.innerHeight) window.scrollTo(0, y + grid.rowH - window.innerHeight + 8);
  }

  // Focus the card at a position of the filtered list, scrolling it into view and rendering it first.
  G.focusPos = function (pos) {
    if (!G.visible.length) return;
    pos = Math.max(0, Math.min(G.visible.length - 1, pos));
    grid.active = pos;
    scrollToPos(pos);
    G.renderGrid(true);
    const b = grid.list.querySelector('[data-pos="' + pos + '"]');
    if (b) b.focus({ preventScroll: true });
  };

  function onKey(e) {
    const b = e.target.closest('.card');
    if (!b) return;
    const pos = Number(b.dataset.pos);
    const page = Math.max(1, Math.floor(window.innerHeight / (grid.rowH || 1)) - 1) * grid.cols;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: grid.cols, ArrowUp: -grid.cols, PageDown: page,
      PageUp: -page, Home: -pos, End: G.visible.length - 1 - pos };
    if (!(e.key in moves)) return;
    e.preventDefault();
    G.focusPos(pos + moves[e.key]);
  }

  G.initGrid = function () {
    grid.list.addEventListener('click', (e) => {
      const b = e.target.closest('.card');
      if (b) G.openLightbox(G.visible, Number(b.dataset.pos));
    });
    grid.list.addEventListener('keydown', onKey);
    grid.list.addEventListener('focusin', (e) => {
      const b = e.target.closest('.card');
      if (b) grid.active = Number(b.dataset.pos);
    });
    let ticking = false;
    window.addEventListener('scroll', () => {
      if (ticking) return;
      ticking = true;
      requestAnimationFrame(() => { ticking = false; G.renderGrid(false); });
    }, { passive: true });
    new ResizeObserver(() => {
      if (grid.viewport.clientWidth === grid.width || G.state.view !== 'grid') return;
      G.layoutGrid();
      G.renderGrid(true);
    }).observe(grid.viewport);
    window.addEventListener('resize', () => { grid.rowH = 0; G.renderGrid(true); });
  };
})(window.MockupsGallery);
