/* mockups review gallery: the data side. Plain JavaScript, no framework, no build step, no network.
 *
 * Reads the variants from <script id="gallery-data" type="application/json"> and keeps, on the shared
 * namespace `MockupsGallery`: the state (filters, search, view, open variant), a typed-array index for
 * filtering 10,000 variants in a few milliseconds, the URL hash that mirrors the state
 * (#colour=navy&status=changed&q=tee&view=matrix&group=…&v=<variant id>), and the small DOM helpers the
 * views share. Catalog text is only ever inserted with textContent or setAttribute, never as HTML.
 * Load order: gallery-core.js, gallery-grid.js, gallery-matrix.js, gallery-lightbox.js, gallery.js.
 */
(function (G) {
  'use strict';

  const DATA = JSON.parse(document.getElementById('gallery-data').textContent);
  const V = DATA.variants;
  const FACETS = DATA.facets;
  const N = V.length;
  const NUMBER = new Intl.NumberFormat();

  G.DATA = DATA;
  G.V = V;
  G.FACETS = FACETS;
  G.state = { sel: {}, q: '', view: 'grid', group: null, open: null };
  G.visible = [];  // indexes into V that pass the filters, in display order
  G.counts = [];   // per facet: Int32Array of counts per value
  FACETS.forEach((f) => { G.state.sel[f.key] = new Set(); });

  // --- DOM helpers ---------------------------------------------------------------------------------
  G.$ = (id) => document.getElementById(id);
  G.num = (n) => (n < 1000 ? String(n) : NUMBER.format(n));

  G.el = function (tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  G.swatch = function (hex) {
    const s = G.el('span', 'swatch');
    s.setAttribute('aria-hidden', 'true');
    if (hex) s.style.backgroundColor = hex;
    return s;
  };

  G.altText = (v) => v.product + ' in ' + v.colour_name + ', ' + v.background_name + ' background';

  G.warnings = (v) => (Array.isArray(v.warnings) ? v.warnings : []);

  // The product's overlay (`mockups inspect`: silhouette, dyeable area, print area), if it has one.
  const OVERLAYS = new Map(Object.entries(DATA.inspect || {}));
  G.inspectUrl = (v) => OVERLAYS.get(v.sku) || null;

  G.inspectLink = function (v, className) {
    const url = G.inspectUrl(v);
    if (!url) return null;
    const a = G.el('a', className, 'inspect');
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener';
    a.title = 'What the tool sees in the photo of ' + v.product + ': silhouette, dyeable area, print area';
    return a;
  };

  G.badges = function (v, saysFailed) {
    const box = G.el('span', 'badges');
    if (v.change) box.append(G.el('span', 'badge badge-' + v.change, v.change === 'new' ? 'New' : 'Changed'));
    if (v.status === 'failed' && !saysFailed) box.append(G.el('span', 'badge badge-failed', 'Failed'));
    const w = G.warnings(v);
    if (w.length) {
      const badge = G.el('span', 'badge badge-warning', w.length === 1 ? 'Warning' : w.length + ' warnings');
      badge.title = w.join('\n'); // the warning text on hover; the lightbox lists it too
      box.append(badge);
    }
    return box.childElementCount ? box : null;
  };

  // The picture part of a card or matrix cell: a lazy thumbnail with its size known up front, or the error.
  G.media = function (v, className) {
    const box = G.el('span', className);
    if (v.status === 'failed') {
      box.classList.add('is-failed');
      box.append(G.el('span', 'failed-title', 'Failed'), G.el('span', 'failed-error', v.error || 'no output'));
    } else if (v.thumb) {
      const img = G.el('img');
      img.loading = 'lazy';
      img.decoding = 'async';
      img.width = v.tw;
      img.height = v.th;
      img.alt = G.altText(v);
      img.src = v.thumb;
      box.append(img);
    } else {
      box.classList.add('is-missing');
      box.append(G.el('span', 'failed-title', 'No preview'));
    }
    const b = G.badges(v, true); // a failed card already says so
    if (b) box.append(b);
    return box;
  };

  // --- index: one integer code per variant and facet, in typed arrays ----------------------------------
  // A facet value is its position in the facet's list; status is several at once, so it is a bitmask.
  function statusesOf(v) {
    const s = [];
    if (v.change) s.push(v.change);
    if (v.status === 'failed') s.push('failed');
    if (!s.length) s.push('unchanged');
    if (G.warnings(v).length) s.push('warnings'); // besides the others: an unchanged variant can have one
    const review = G.reviewOf ? G.reviewOf(v) : (v.review && v.review.state); // approvals.yaml, or a decision here
    if (review) s.push(review);
    return s;
  }

  const MULTI = FACETS.map((f) => f.key === 'status');
  const CODE = FACETS.map((f, k) => {
    const index = new Map(f.values.map((x, n) => [x.id, n]));
    const codes = new Int32Array(N);
    V.forEach((v, i) => {
      if (MULTI[k]) {
        codes[i] = statusesOf(v).reduce((bits, s) => (index.has(s) ? bits | (1 << index.get(s)) : bits), 0);
      } else {
        const n = index.get(v[f.field]);
        codes[i] = n === undefined ? -1 : n;
      }
    });
    return codes;
  });

  // A variant's statuses again, after a review decision made in the page.
  G.recode = function (i) {
    FACETS.forEach((f, k) => {
      if (!MULTI[k]) return;
      const index = new Map(f.values.map((x, n) => [x.id, n]));
      CODE[k][i] = statusesOf(V[i]).reduce((bits, s) => (index.has(s) ? bits | (1 << index.get(s)) : bits), 0);
    });
  };

  let TEXT = null; // lower-case search text per variant, built on the first search
  function searchText() {
    TEXT = TEXT || V.map((v) => [v.id, v.sku, v.product, v.colour, v.colour_name, v.colour_hex, v.background,
      v.background_name, v.placement, v.design, v.channel, v.backend, v.model, v.prompt, ...G.warnings(v)].filter(Boolean)
      .join('\n').toLowerCase());
    return TEXT;
  }

  function masks() {
    return FACETS.map((f, k) => {
      const sel = G.state.sel[f.key];
      if (!sel.size) return null;
      if (MULTI[k]) return f.values.reduce((bits, x, n) => (sel.has(x.id) ? bits | (1 << n) : bits), 0);
      return Uint8Array.from(f.values, (x) => (sel.has(x.id) ? 1 : 0));
    });
  }

  function tally(c, k, code) {
    if (!MULTI[k]) { if (code >= 0) c[k][code]++; return; }
    for (let n = 0; code; n++, code >>= 1) if (code & 1) c[k][n]++;
  }

  // Every facet value's count over all variants (to hide values and facets with nothing to choose).
  G.totals = function () {
    const c = FACETS.map((f) => new Int32Array(f.values.length));
    for (let i = 0; i < N; i++) for (let k = 0; k < FACETS.length; k++) tally(c, k, CODE[k][i]);
    return c;
  };

  // One pass: the variants that pass every facet and the search, and per facet value how many variants
  // would show if it were ticked too (counted over the variants that fail no other facet).
  G.filter = function () {
    const m = masks();
    const active = [];
    m.forEach((mask, k) => { if (mask !== null) active.push(k); });
    const terms = G.state.q.toLowerCase().split(/\s+/).filter(Boolean);
    const text = terms.length ? searchText() : null;
    const c = FACETS.map((f) => new Int32Array(f.values.length));
    const out = [];
    for (let i = 0; i < N; i++) {
      if (text && !terms.every((t) => text[i].includes(t))) continue;
      let fails = 0;
      let failed = -1;
      for (let a = 0; a < active.length && fails < 2; a++) {
        const k = active[a];
        const code = CODE[k][i];
        if (MULTI[k] ? (code & m[k]) === 0 : code < 0 || m[k][code] === 0) { fails++; failed = k; }
      }
      if (fails === 0) {
        out.push(i);
        for (let k = 0; k < FACETS.length; k++) tally(c, k, CODE[k][i]);
      } else if (fails === 1) {
        tally(c, failed, CODE[failed][i]);
      }
    }
    G.visible = out;
    G.counts = c;
  };

  // --- URL hash ------------------------------------------------------------------------------------------
  G.readHash = function () {
    const p = new URLSearchParams(location.hash.slice(1));
    const state = G.state;
    FACETS.forEach((f) => { state.sel[f.key] = new Set(p.getAll(f.key)); });
    state.q = p.get('q') || '';
    state.view = p.get('view') === 'matrix' ? 'matrix' : 'grid';
    state.group = p.get('group');
    state.open = p.get('v');
  };

  function writeHashNow() {
    const state = G.state;
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

  // history.replaceState costs a few milliseconds: coalesce the writes of one burst of input
  let hashTimer = 0;
  G.writeHash = function () {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(writeHashNow, 60);
  };
})(window.MockupsGallery = window.MockupsGallery || {});
