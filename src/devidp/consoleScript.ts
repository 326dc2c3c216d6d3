// The live console's script, as the browser runs it (no build step: plain JavaScript in a string,
// hashed into the page's Content-Security-Policy). It polls the admin API every second and
// redraws; the toggles call the same admin endpoints a test or curl would. Everything shown is
// written with textContent or SVG attributes, never innerHTML, so no value can become markup.
// No template literals inside: the whole script is one String.raw template.
export const CONSOLE_SCRIPT = String.raw`'use strict';
(() => {
  const POLL_MS = 1000;
  const KEEP_EVENTS = 500;
  // A timeline shows at most the last two minutes, so a long demo keeps its bars readable.
  const WINDOW_MS = 120000;
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  let since = 0;
  let events = [];

  function el(tag, attrs, text, ns) {
    const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  const svg = (tag, attrs, text) => el(tag, attrs, text, SVG);
  const clock = (ms) => new Date(ms).toISOString().slice(11, 19);
  const row = (cells) => {
    const tr = el('tr');
    for (const c of cells) tr.append(c instanceof Node ? c : el('td', {}, c === undefined ? '' : c));
    return tr;
  };

  async function call(method, path, body) {
    const init = { method, cache: 'no-store' };
    if (body !== undefined) {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    // Relative to the page (<issuer>/__admin/): a tenant's console drives that tenant's admin API.
    const res = await fetch(path, init);
    const json = await res.json();
    if (!res.ok) throw new Error(path + ': ' + (json.error_description || res.status));
    return json;
  }

  function showError(err) {
    $('status').textContent = String(err.message || err);
    $('status').className = 'error';
  }

  // Profiles: the checkboxes are in the page; a toggle PUTs the whole new list.
  function renderProfiles(active) {
    for (const box of document.querySelectorAll('input[data-profile]'))
      box.checked = active.includes(box.dataset.profile);
    $('active-profiles').textContent = active.length ? active.join(', ') : 'none';
  }
  document.addEventListener('change', (ev) => {
    const box = ev.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.profile) return;
    const next = [...document.querySelectorAll('input[data-profile]')]
      .filter((b) => b.checked)
      .map((b) => b.dataset.profile);
    call('PUT', 'profiles', { profiles: next }).then(poll, showError);
  });

  function renderFaults(rules) {
    const body = $('faults');
    body.replaceChildren(...rules.map((r) => {
      const detail = ['status', 'nth', 'times', 'probability', 'latencyMs', 'retryAfter']
        .filter((k) => r[k] !== undefined)
        .map((k) => k + '=' + r[k])
        .join(' ');
      return row([r.endpoint, r.kind, detail, r.fired, r.spent ? 'spent' : 'live']);
    }));
    if (rules.length === 0) body.append(row(['no faults installed']));
  }
  $('fault-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const rule = { endpoint: form.get('endpoint'), kind: form.get('kind') };
    for (const k of ['status', 'nth', 'times', 'latencyMs']) {
      const v = form.get(k);
      if (v !== '' && v !== null) rule[k] = Number(v);
    }
    call('POST', 'faults', { rules: [rule] }).then(poll, showError);
  });
  $('clear-faults').addEventListener('click', () => call('DELETE', 'faults').then(poll, showError));

  function renderUsers(users) {
    $('users').replaceChildren(...users.map((u) =>
      row([u.username, u.sub, u.email, (u.groups || []).join(', ') || 'none'])));
  }

  // One timeline per family: a bar per access token from issue to expiry (two lanes, so a token
  // refreshed just before the last one expired does not hide it), a mark per refresh.
  function timeline(f, now) {
    const W = 720;
    const H = 54;
    const first = Math.max(f.tokens.length ? f.tokens[0].at : f.started, now - WINDOW_MS);
    let last = now;
    for (const t of f.tokens) if (t.expiresAt !== undefined && t.expiresAt > last) last = t.expiresAt;
    const span = Math.max(last - first, 1000);
    const x = (t) => 6 + ((W - 12) * (t - first)) / span;
    const refreshes = f.tokens.filter((t) => t.grantType === 'refresh_token').length;
    const s = svg('svg', {
      class: 'timeline', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'data-refreshes': refreshes,
      'aria-label': 'family ' + f.family + ': ' + f.tokens.length + ' access tokens, ' + refreshes + ' refreshes',
    });
    f.tokens.forEach((t, i) => {
      const end = t.expiresAt === undefined ? now : t.expiresAt;
      const live = end > now;
      const bar = svg('rect', {
        class: 'bar ' + (live ? 'live' : 'expired'), x: x(t.at), y: 6 + (i % 2) * 14,
        width: Math.max(x(end) - x(t.at), 2), height: 10, rx: 2,
      });
      bar.append(svg('title', {}, 'access token ' + t.access + ' (' + t.grantType + ') issued ' + clock(t.at) +
        (t.expiresAt === undefined ? ', no expiry' : (live ? ', expires ' : ', expired ') + clock(t.expiresAt))));
      s.append(bar);
      if (t.grantType !== 'refresh_token') return;
      const m = svg('g', { class: 'mark refresh' });
      m.append(svg('line', { x1: x(t.at), x2: x(t.at), y1: 2, y2: 36 }), svg('circle', { cx: x(t.at), cy: 38, r: 3 }),
        svg('title', {}, 'refresh at ' + clock(t.at) + ': refresh token ' + t.presented + ' → ' + (t.refresh || 'none')));
      s.append(m);
    });
    if (f.revoked) {
      const m = svg('g', { class: 'mark revoked' });
      m.append(svg('line', { x1: x(f.revoked.at), x2: x(f.revoked.at), y1: 0, y2: 40 }),
        svg('title', {}, 'revoked at ' + clock(f.revoked.at) + ' (' + f.revoked.reason + ')'));
      s.append(m);
    }
    s.append(svg('line', { class: 'now', x1: x(now), x2: x(now), y1: 0, y2: 40 }),
      svg('text', { x: 6, y: H - 2 }, clock(first)),
      svg('text', { x: W - 6, y: H - 2, 'text-anchor': 'end' }, clock(last)));
    return s;
  }

  function renderFamilies(data) {
    const list = $('families');
    list.replaceChildren(...data.families.map((f) => {
      const li = el('li', { class: 'family', 'data-family': f.family });
      const revoked = f.revoked ? 'revoked (' + f.revoked.reason + ') at ' + clock(f.revoked.at) : 'active';
      li.append(
        el('h3', {}, 'family ' + f.family + ' · ' + f.sub + ' · client ' + f.clientId + ' · session ' +
          (f.session || 'none') + (f.sessionLive ? ' (live)' : ' (ended)')),
        el('p', { class: 'counts' }, 'tokens ' + f.tokens.length + ' · refreshes ' + f.refreshes + ' · rotations ' +
          f.rotations + ' · reuse detections ' + f.reuseDetections + ' · ' + revoked),
        timeline(f, data.now));
      return li;
    }));
    if (data.families.length === 0) list.append(el('li', {}, 'no token families yet: log in through the gateway'));
  }

  function renderRequests() {
    const byEndpoint = new Map();
    for (const e of events) {
      const s = byEndpoint.get(e.endpoint) || { count: 0, errors: 0, ms: 0, last: e };
      s.count++;
      s.ms += e.ms;
      if (e.status === 0 || e.status >= 400 || e.error) s.errors++;
      s.last = e;
      byEndpoint.set(e.endpoint, s);
    }
    $('endpoints').replaceChildren(...[...byEndpoint].map(([name, s]) =>
      row([name, s.count, s.errors, s.last.status || 'reset', s.last.grantType, (s.ms / s.count).toFixed(1)])));
    $('requests').replaceChildren(...events.slice(-50).reverse().map((e) =>
      row([clock(e.at), e.method, e.endpoint, e.status || 'reset', e.ms, e.grantType, e.clientId, e.sub, e.error,
        [e.access && 'at ' + e.access, e.presented && 'rt ' + e.presented + ' →', e.refresh && 'rt ' + e.refresh]
          .filter(Boolean).join(' ')])));
  }

  function renderStats(stats) {
    const g = stats.grants;
    $('stats').textContent = 'grants: code ' + g.authorization_code + ', refresh ' + g.refresh_token +
      ', client credentials ' + g.client_credentials + ' · errors: ' +
      (Object.entries(stats.errors).map(([k, v]) => k + ' ' + v).join(', ') || 'none');
  }

  async function poll() {
    const [ev, families, profiles, faults, users, stats] = await Promise.all([
      call('GET', 'events?since=' + since), call('GET', 'families'), call('GET', 'profiles'),
      call('GET', 'faults'), call('GET', 'users'), call('GET', 'stats'),
    ]);
    if (ev.latest < since) events = []; // the dev IdP restarted
    since = ev.latest;
    events = events.concat(ev.events).slice(-KEEP_EVENTS);
    renderProfiles(profiles.profiles);
    renderFaults(faults.rules);
    renderUsers(users.users);
    renderFamilies(families);
    renderRequests();
    renderStats(stats);
    $('status').textContent = 'live · updated ' + clock(families.now);
    $('status').className = 'ok';
  }

  const loop = () => poll().catch(showError).finally(() => setTimeout(loop, POLL_MS));
  loop();
})();
`;
