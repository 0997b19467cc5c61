/* mockups serve: the print-area editor. Drag the four corners over the product photo, Save: the
 * server writes them into catalog.yaml (every other byte kept), rebuilds, and the preview follows.
 * Plain JavaScript; the page's data is in <script id="editor-data" type="application/json">. */
(function () {
  'use strict';
  const DATA = JSON.parse(document.getElementById('editor-data').textContent);
  const TOKEN = document.querySelector('meta[name="mockups-serve"]').content;
  const svg = document.getElementById('overlay');
  const poly = document.getElementById('area');
  const status = document.getElementById('status');
  const preview = document.getElementById('preview');
  const NS = 'http://www.w3.org/2000/svg';
  const corners = DATA.corners.map((c) => c.slice());
  const handles = [];
  let dragging = -1;
  let version = null;

  svg.setAttribute('viewBox', '0 0 ' + DATA.width + ' ' + DATA.height);

  function draw() {
    poly.setAttribute('points', corners.map((c) => c.join(',')).join(' '));
    handles.forEach((h, i) => { h.setAttribute('cx', corners[i][0]); h.setAttribute('cy', corners[i][1]); });
    document.getElementById('corners').textContent = JSON.stringify(corners.map((c) => c.map(Math.round)));
  }

  function point(e) {
    const box = svg.getBoundingClientRect();
    const x = (e.clientX - box.left) / box.width * DATA.width;
    const y = (e.clientY - box.top) / box.height * DATA.height;
    return [Math.max(0, Math.min(DATA.width, Math.round(x))), Math.max(0, Math.min(DATA.height, Math.round(y)))];
  }

  const NAMES = ['top-left', 'top-right', 'bottom-right', 'bottom-left'];
  const STEPS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  // A handle is 28 CSS px across however large the photo is shown (a touch target), so its radius
  // in the photo's pixels follows the scale it is shown at.
  function sizeHandles() {
    const box = svg.getBoundingClientRect();
    const r = box.width > 0 ? 14 * DATA.width / box.width : Math.max(6, DATA.width / 80);
    handles.forEach((h) => h.setAttribute('r', String(r)));
  }

  corners.forEach((c, i) => {
    const h = document.createElementNS(NS, 'circle');
    h.setAttribute('class', 'handle');
    h.setAttribute('tabindex', '0');  // arrows move it: 1 px, 10 with Shift
    h.setAttribute('role', 'button');
    h.setAttribute('aria-label', NAMES[i] + ' corner of the print area (arrow keys move it)');
    h.dataset.corner = String(i);
    h.addEventListener('pointerdown', (e) => { dragging = i; h.setPointerCapture(e.pointerId); e.preventDefault(); });
    h.addEventListener('pointermove', (e) => { if (dragging === i) { corners[i] = point(e); draw(); } });
    h.addEventListener('pointerup', () => { dragging = -1; });
    h.addEventListener('keydown', (e) => {
      const step = STEPS[e.key];
      if (!step) return;
      const by = e.shiftKey ? 10 : 1;
      corners[i] = [Math.max(0, Math.min(DATA.width, Math.round(corners[i][0] + step[0] * by))),
        Math.max(0, Math.min(DATA.height, Math.round(corners[i][1] + step[1] * by)))];
      draw();
      e.preventDefault();
    });
    svg.append(h);
    handles.push(h);
  });
  sizeHandles();
  window.addEventListener('resize', sizeHandles);
  document.getElementById('photo').addEventListener('load', sizeHandles);

  function say(text) { status.textContent = text; }

  // The print position's options (and a cylinder's): only those changed are written.
  const LABELS = { scale: 'Scale (0-1]', anchor: 'Anchor', rotation: 'Rotation (degrees)', arc: 'Arc (degrees)',
    ellipse: 'Ellipse (0-1)', centre: 'Centre (degrees)' };
  const fields = {};
  Object.entries(DATA.options || {}).forEach(([key, value]) => {
    const label = document.createElement('label');
    label.textContent = LABELS[key] || key;
    let input;
    if (key === 'anchor') {
      input = document.createElement('select');
      DATA.anchors.forEach((a) => { const o = document.createElement('option'); o.value = o.textContent = a; input.append(o); });
    } else {
      input = document.createElement('input');
      input.type = 'number';
      input.step = key === 'scale' || key === 'ellipse' ? '0.01' : '1';
    }
    input.value = String(value);
    input.id = 'opt-' + key;
    label.append(input);
    document.getElementById('options').append(label);
    fields[key] = { input: input, initial: String(value) };
  });

  let base = DATA.base;

  function currentOptions() {
    const out = Object.assign({}, DATA.options);
    Object.entries(fields).forEach(([key, f]) => { out[key] = key === 'anchor' ? f.input.value : Number(f.input.value); });
    return out;
  }

  function changedOptions() {
    const out = {};
    Object.entries(fields).forEach(([key, f]) => {
      if (f.input.value !== f.initial) out[key] = key === 'anchor' ? f.input.value : Number(f.input.value);
    });
    return out;
  }

  document.getElementById('save').addEventListener('click', () => {
    say('saving…');
    fetch('/api/print-area', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Mockups-Token': TOKEN },
      // base: what the page was opened with; the server refuses the save if the catalog has changed meanwhile
      body: JSON.stringify({ sku: DATA.sku, placement: DATA.placement, corners: corners, options: changedOptions(),
        base: base }),
    }).then((r) => r.json().then((body) => {
      if (!r.ok) throw new Error(body.error || r.statusText);
      Object.values(fields).forEach((f) => { f.initial = f.input.value; });
      base = { corners: corners.map((c) => c.slice()), options: currentOptions() };
      say('saved to catalog.yaml; rebuilding…');
    })).catch((e) => say('not saved: ' + e.message));
  });

  function poll() {
    fetch('/api/state', { cache: 'no-store' }).then((r) => r.json()).then((s) => {
      if (version !== null && s.version > version && !s.building) {
        if (s.error) say('the rebuild failed: ' + s.error);
        else { say('rebuilt: ' + s.last); if (DATA.preview) preview.src = '/' + DATA.preview + '?v=' + s.version; }
      }
      version = s.version;
    }).catch(() => {}).finally(() => setTimeout(poll, 700));
  }

  draw();
  poll();
  document.documentElement.dataset.ready = 'true';
})();
