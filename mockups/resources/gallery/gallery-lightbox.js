/* mockups review gallery: the lightbox (a modal <dialog>).
 *
 * Shows the full-size output (or the error of a failed variant), its metadata, the rendered prompt and
 * a download link. ArrowLeft/ArrowRight step through the list it was opened from (the filtered grid or
 * the matrix), Esc closes it and focus returns to the variant's card. A changed variant whose previous
 * image is in the gallery can be compared: current, slider, side by side, previous.
 */
(function (G) {
  'use strict';

  const $ = G.$;
  const el = G.el;
  const lb = { dialog: $('lightbox'), list: [], pos: 0, mode: 'current', view: 'grid' };

  G.openLightbox = function (list, pos) {
    if (!list.length) return;
    lb.list = list;
    lb.pos = Math.max(0, Math.min(list.length - 1, pos));
    lb.view = G.state.view;
    show();
    if (!lb.dialog.open) lb.dialog.showModal();
  };

  G.closeLightbox = function () {
    if (lb.dialog.open) lb.dialog.close();
  };

  G.lightboxOpen = () => lb.dialog.open;

  function step(delta) {
    const pos = lb.pos + delta;
    if (pos < 0 || pos >= lb.list.length) return;
    lb.pos = pos;
    show();
  }

  function term(dl, name, value, extra) {
    if (value === null || value === undefined || value === '') return;
    const dd = el('dd');
    if (extra) dd.append(extra);
    dd.append(document.createTextNode(String(value)));
    dl.append(el('dt', null, name), dd);
  }

  const money = (x) => (x ? '$' + Number(x).toFixed(Number(x) < 0.1 ? 4 : 2) : '$0');
  const bytes = (n) => (n > 1e6 ? (n / 1e6).toFixed(1) + ' MB' : Math.round(n / 1e3) + ' kB');
  const when = (iso) => (iso ? iso.replace('T', ' ').replace(/\+00:00$/, ' UTC') : null);

  function showMeta(v) {
    const dl = $('lb-dl');
    dl.replaceChildren();
    term(dl, 'SKU', v.sku);
    term(dl, 'Product', v.product);
    term(dl, 'Colour', v.colour_name + (v.colour_hex ? ' ' + v.colour_hex : ''), G.swatch(v.colour_hex));
    term(dl, 'Background', v.background_name);
    term(dl, 'Placement', v.placement);
    term(dl, 'Design', v.design);
    term(dl, 'Channel', v.channel + ' · ' + (v.size || []).join('×') + ' · ' + v.format);
    term(dl, 'Backend', v.backend + (v.model ? ' · ' + v.model : ''));
    term(dl, 'Template', v.template);
    term(dl, 'Cost', money(v.cost));
    term(dl, 'Built', when(v.built_at));
    term(dl, 'Output', v.output + (v.bytes ? ' (' + bytes(v.bytes) + ')' : ''));
    const inspect = G.inspectLink(v, 'lb-inspect');
    if (inspect) {
      const dd = el('dd');
      dd.append(inspect, document.createTextNode(' (what the tool sees in the photo)'));
      dl.append(el('dt', null, 'Photo'), dd);
    }
    if (v.change) {
      const why = v.reasons && v.reasons.length ? v.reasons.join(', ') : 'in this build';
      term(dl, v.change === 'new' ? 'New' : 'Changed', why);
    }
    if (v.previous_built_at) term(dl, 'Previous', when(v.previous_built_at));
    const warnings = G.warnings(v);
    if (warnings.length) {
      const dd = el('dd', 'lb-warnings');
      warnings.forEach((w) => dd.append(el('span', 'lb-warning', w)));
      dl.append(el('dt', null, warnings.length === 1 ? 'Warning' : 'Warnings'), dd);
    }
    $('lb-prompt').textContent = v.prompt || '—';
    const b = G.badges(v);
    $('lb-badges').replaceChildren(...(b ? [b] : []));
  }

  function setImage(img, v, src, alt) {
    img.removeAttribute('src');
    img.width = v.size[0];
    img.height = v.size[1];
    img.alt = alt;
    img.src = src;
  }

  function showImage(v) {
    const failed = v.status === 'failed';
    const compare = !failed && !!v.previous;
    $('lb-error').hidden = !failed;
    $('lb-frame').hidden = failed;
    $('lb-error-text').textContent = failed ? (v.error || 'no output') : '';
    $('lb-modes').hidden = !compare;
    if (!failed) {
      $('lb-frame').style.setProperty('--ar', String(v.size[0] / v.size[1]));
      setImage($('lb-img'), v, v.src, G.altText(v));
    }
    if (compare) setImage($('lb-prev-img'), v, v.previous, G.altText(v) + ', previous build');
    else $('lb-prev-img').removeAttribute('src');
    setMode(compare ? lb.mode : 'current');
    for (const link of [$('lb-download'), $('lb-open')]) {
      link.hidden = failed;
      if (!failed) link.setAttribute('href', v.src);
    }
    if (!failed) $('lb-download').setAttribute('download', (v.output || '').split('/').join('_'));
  }

  function show() {
    const v = G.V[lb.list[lb.pos]];
    $('lb-title').textContent = v.product + ' — ' + v.colour_name + ' · ' + v.background_name;
    $('lb-pos').textContent = G.num(lb.pos + 1) + ' / ' + G.num(lb.list.length);
    $('lb-prev').disabled = lb.pos === 0;
    $('lb-next').disabled = lb.pos === lb.list.length - 1;
    showImage(v);
    showMeta(v);
    showReview(v);
    for (const d of [-1, 1]) {
      const n = G.V[lb.list[lb.pos + d]];
      if (n && n.src) new Image().src = n.src; // warm the neighbours
    }
    G.state.open = v.id;
    G.writeHash();
  }

  // Approve / reject, and approve every pending variant of the same change (see gallery-review.js).
  function showReview(v) {
    const box = $('lb-review');
    if (!box || !G.reviewButtons) return;
    box.replaceChildren();
    const buttons = G.reviewButtons(v, 'review-buttons lb-review-buttons');
    if (!buttons) return;
    box.append(buttons);
    if (document.querySelector('meta[name="mockups-serve"]')) { // served: the print-area editor is there
      const edit = G.el('a', 'review-edit', 'Edit the print area');
      edit.href = '/edit/' + encodeURIComponent(v.sku) + (v.placement ? '?placement=' + encodeURIComponent(v.placement) : '');
      box.append(edit);
    }
    const group = G.groupOf(v);
    if (group.length > 1) {
      const all = G.el('button', 'review-group', 'Approve all ' + G.num(group.length) + ' in this group');
      all.type = 'button';
      all.title = 'Every pending variant changed by the same catalog edit: ' + (v.review.reasons || []).join(', ');
      all.addEventListener('click', () => G.decide(group, 'approved'));
      box.append(all);
    }
  }

  function decideHere(state) {
    const i = lb.list[lb.pos];
    const v = G.V[i];
    if (!v || !v.sha256) return;
    const note = state === 'rejected' ? G.askNote(v) : null;
    if (state === 'rejected' && note === null) return;
    G.decide([i], state, note);
    if (lb.pos < lb.list.length - 1) step(1); else show(); // on to the next, as review tools do
  }

  G.refreshLightbox = function () { if (lb.dialog.open) show(); };

  function setMode(mode) {
    $('lb-frame').dataset.mode = mode;
    $('lb-slider').hidden = mode !== 'slider';
    $('lb-modes').querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.mode === mode)));
    slide();
  }

  function slide() {
    const x = Number($('lb-slider').value);
    const frame = $('lb-frame');
    const sliding = frame.dataset.mode === 'slider';
    frame.querySelector('.lb-fig-cur').style.clipPath = sliding ? 'inset(0 0 0 ' + x + '%)' : '';
    // the previous image only left of the divider: under a cut-out's transparency it would show through
    frame.querySelector('.lb-fig-prev').style.clipPath = sliding ? 'inset(0 ' + (100 - x) + '% 0 0)' : '';
    frame.querySelector('.lb-divider').style.left = x + '%';
  }

  function onClosed() {
    const i = lb.list[lb.pos];
    G.state.open = null;
    G.writeHash();
    if (lb.view === 'grid' && G.state.view === 'grid') {
      const pos = G.visible.indexOf(i);
      if (pos >= 0) G.focusPos(pos);
    } else {
      G.focusMatrixCell(i);
    }
  }

  function initCompare() {
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

  G.initLightbox = function () {
    $('lb-prev').addEventListener('click', () => step(-1));
    $('lb-next').addEventListener('click', () => step(1));
    $('lb-close').addEventListener('click', () => lb.dialog.close());
    lb.dialog.addEventListener('close', onClosed);
    lb.dialog.addEventListener('click', (e) => { if (e.target === lb.dialog) lb.dialog.close(); });
    lb.dialog.addEventListener('keydown', (e) => {
      if (e.target.type === 'range' || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.target.id === 'lb-note') { // typing a note: Enter rejects with it, other keys are text
        if (e.key === 'Enter') { e.preventDefault(); decideHere('rejected'); }
        return;
      }
      if (e.key === 'ArrowLeft') { e.preventDefault(); step(-1); }
      if (e.key === 'ArrowRight') { e.preventDefault(); step(1); }
      if (e.key === 'a' || e.key === 'A') { e.preventDefault(); decideHere('approved'); }
      if (e.key === 'x' || e.key === 'X') { e.preventDefault(); decideHere('rejected'); }
    });
    initCompare();
  };
})(window.MockupsGallery);
