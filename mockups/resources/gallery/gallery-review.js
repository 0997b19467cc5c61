/* mockups review gallery: review decisions. Approve or reject a variant's output from its card or the
 * lightbox (keyboard there: A approve, X reject, arrows to move), or every pending variant that one
 * catalog edit changed at once ("approve all in this group").
 *
 * Opened from disk, a page cannot write files: decisions are kept in this browser (localStorage) and
 * exported as decisions.json, which `mockups approve --from decisions.json` merges into approvals.yaml.
 * A decision is of one output (its sha256): one made for an output that has since changed is dropped.
 * Load order: after gallery-lightbox.js, before gallery.js.
 */
(function (G) {
  'use strict';

  const el = G.el;
  const KEY = 'mockups-review:' + location.pathname;
  const byId = new Map(G.V.map((v, i) => [v.id, i]));
  const local = new Map(); // variant id -> {variant, sha256, state, note}
  let listeners = [];

  function load() {
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(KEY) || '{}'); } catch (e) { saved = {}; }
    Object.values(saved).forEach((d) => {
      const i = byId.get(d.variant);
      if (i !== undefined && G.V[i].sha256 === d.sha256) local.set(d.variant, d); // still the current output
    });
  }

  function store() {
    try { localStorage.setItem(KEY, JSON.stringify(Object.fromEntries(local))); } catch (e) { /* kept in memory */ }
  }

  // The variant's review state: a decision made here, else approvals.yaml's; null when it has no output.
  G.reviewOf = function (v) {
    const d = local.get(v.id);
    if (d) return d.state;
    return v.review ? v.review.state : null;
  };
  G.decidedHere = () => local.size;
  G.onReview = (fn) => listeners.push(fn);

  // Served by `mockups serve`: decisions go straight to approvals.yaml, and the page reloads when the
  // project is rebuilt. From disk: kept here until exported.
  const served = document.querySelector('meta[name="mockups-serve"]');
  const TOKEN = served ? served.content : null;
  let known = null; // the server's version this page shows (or has written itself)

  function send(decisions) {
    return fetch('/api/decisions', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Mockups-Token': TOKEN },
      body: JSON.stringify({ decisions: decisions }),
    }).then((r) => r.json().then((body) => {
      if (!r.ok) throw new Error(body.error || r.statusText);
      return body;
    }));
  }

  // The server's answer to decisions this page showed as made: those it did not record (their
  // output changed since, in a rebuild this page has not shown) go back to what they were, and a
  // page that is not the server's latest reloads, so that it never shows a decision nobody made.
  function settle(body, before) {
    const refused = (body.stale || []).concat(body.unknown || []);
    refused.forEach((id) => {
      const i = byId.get(id);
      if (i !== undefined && before.has(id)) { G.V[i].review = before.get(id); G.recode(i); }
    });
    // only this write since the version the page shows (one that has not looked yet takes the answer's)
    const ours = known === null || body.version === known + (body.applied ? 1 : 0);
    if (refused.length || !ours) {
      const s = G.$('review-server');
      if (s) s.textContent = refused.length ? 'not saved: ' + refused.length + ' changed since; reloading' : 'reloading';
      location.reload();
    } else {
      known = body.version;
    }
    listeners.forEach((fn) => fn(refused.map((id) => byId.get(id)).filter((i) => i !== undefined)));
  }

  function poll() {
    fetch('/api/state', { cache: 'no-store' }).then((r) => r.json()).then((s) => {
      if (known === null) known = s.version;
      else if (s.version > known && !s.building) location.reload(); // a new build: what changed is marked
      const status = G.$('review-server');
      if (status) status.textContent = s.building ? 'rebuilding…' : (s.error ? 'the last rebuild failed: ' + s.error : '');
    }).catch(() => {}).finally(() => setTimeout(poll, 1000));
  }

  G.decide = function (list, state, note) {
    const changed = [];
    const sent = [];
    const before = new Map(); // variant id -> its review state before this decision
    list.forEach((i) => {
      const v = G.V[i];
      if (!v.sha256) return; // failed: nothing to decide
      const d = { variant: v.id, sha256: v.sha256, state: state, note: note || null };
      if (TOKEN) {
        before.set(v.id, v.review);
        v.review = Object.assign({}, v.review, { state: state, change: null, group: null }); // as the file will say
        sent.push(d);
      } else if (v.review && v.review.state === state && !note) {
        local.delete(v.id); // as approvals.yaml says already
      } else {
        local.set(v.id, d);
      }
      G.recode(i);
      changed.push(i);
    });
    if (TOKEN && sent.length) {
      send(sent).then((body) => settle(body, before)).catch((e) => {
        before.forEach((review, id) => { const i = byId.get(id); G.V[i].review = review; G.recode(i); });
        const s = G.$('review-server');
        if (s) s.textContent = 'not saved: ' + e.message;
        listeners.forEach((fn) => fn(changed));
      });
    }
    store();
    listeners.forEach((fn) => fn(changed));
  };

  // The pending variants of the same change as v (one colour's new hex, one template): its group.
  G.groupOf = function (v) {
    const group = v.review && v.review.group;
    if (!group) return [];
    const out = [];
    G.V.forEach((w, i) => { if (w.review && w.review.group === group && G.reviewOf(w) === 'pending') out.push(i); });
    return out;
  };

  // Why a variant is rejected: the lightbox's note field, or (from a card) a prompt; null = cancelled.
  G.askNote = function (v) {
    const field = G.$('lb-note');
    if (field && G.$('lightbox').open) {
      const note = field.value.trim();
      field.value = '';
      return note || 'rejected in the gallery';
    }
    const note = window.prompt('Why is ' + v.product + ' (' + v.colour_name + ', ' + v.background_name + ') rejected?', '');
    return note === null ? null : (note.trim() || 'rejected in the gallery');
  };

  G.reviewButtons = function (v, className) {
    if (!v.sha256) return null;
    const box = el('span', className || 'review-buttons');
    const state = G.reviewOf(v);
    const yes = el('button', 'review-approve' + (state === 'approved' ? ' is-on' : ''), state === 'approved' ? 'Approved' : 'Approve');
    yes.type = 'button';
    yes.title = 'Approve this output (A in the lightbox)';
    yes.setAttribute('aria-pressed', String(state === 'approved'));
    const no = el('button', 'review-reject' + (state === 'rejected' ? ' is-on' : ''), state === 'rejected' ? 'Rejected' : 'Reject');
    no.type = 'button';
    no.title = 'Reject this output, saying why (X in the lightbox)';
    no.setAttribute('aria-pressed', String(state === 'rejected'));
    const i = byId.get(v.id);
    yes.addEventListener('click', (e) => { e.stopPropagation(); G.decide([i], 'approved'); });
    no.addEventListener('click', (e) => {
      e.stopPropagation();
      const note = G.askNote(v);
      if (note !== null) G.decide([i], 'rejected', note);
    });
    box.append(yes, no);
    return box;
  };

  function download() {
    const decisions = Array.from(local.values());
    const blob = new Blob([JSON.stringify({ decisions: decisions }, null, 2) + '\n'], { type: 'application/json' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'decisions.json';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function updateBar() {
    const bar = G.$('review-bar');
    if (!bar) return;
    let pending = 0;
    G.V.forEach((v) => { if (G.reviewOf(v) === 'pending') pending++; });
    G.$('review-pending').textContent = G.num(pending);
    const here = G.$('review-here');
    if (here) here.textContent = G.num(local.size);
    G.$('review-export').disabled = local.size === 0;
  }

  G.initReview = function () {
    if (TOKEN) {
      const note = document.querySelector('.review-note');
      if (note && !document.getElementById('review-server')) {  // the server writes it in the page already
        note.replaceChildren('Served by mockups serve: decisions are written to approvals.yaml as you make them, and the '
          + 'page reloads when the project is rebuilt. ', el('span', null, ''));
        note.lastChild.id = 'review-server';
      }
      poll();
    }
    load();
    G.V.forEach((v, i) => { if (local.has(v.id)) G.recode(i); });
    const exportButton = G.$('review-export');
    if (exportButton) exportButton.addEventListener('click', download);
    G.onReview(updateBar);
    updateBar();
  };
})(window.MockupsGallery);
