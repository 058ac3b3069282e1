// Workflows console: plain script, no framework, no build. Everything from the API
// is written with textContent / createElement, never as HTML. The key lives in
// sessionStorage["workflowsApiKey"] only.
'use strict';
(() => {
const KEY = 'workflowsApiKey';
const API = location.pathname.replace(/\/console\/?$/, '').replace(/\/$/, '') + '/api/v1';
const LIVE = ['queued', 'running', 'waiting', 'cancelling'];
const STATUSES = [...LIVE, 'succeeded', 'failed', 'cancelled', 'timed_out'];
const $ = q => document.querySelector(q);
const view = $('#view'), errBox = $('#error'), form = $('#key-form'), input = $('#key-input');
const wfNames = Object.create(null);
let gen = 0, ctrl = null, timer = 0, scopes = null, nextFocus = null;

// ---- DOM: h('tag#id.class', {attrs}?, ...children); children are nodes or text ----
function mk(el, sel, kids) {
  for (const p of sel.match(/[#.][\w-]+/g) || []) p[0] === '#' ? el.id = p.slice(1) : el.classList.add(p.slice(1));
  const a = kids[0];
  if (a && a.constructor === Object) {
    kids.shift();
    for (const k in a) {
      const v = a[k];
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v === true ? '' : v);
    }
  }
  return add(el, kids);
}
const tag = sel => sel.match(/^[\w-]+/)[0];
const h = (sel, ...k) => mk(document.createElement(tag(sel)), sel, k);
const s = (sel, ...k) => mk(document.createElementNS('http://www.w3.org/2000/svg', tag(sel)), sel, k);
function add(el, kids) {
  for (const c of kids) Array.isArray(c) ? add(el, c) : c != null && c !== false && el.append(c instanceof Node ? c : String(c));
  return el;
}
const put = (el, ...k) => { el.replaceChildren(); return add(el, k); };
const code = (t, sel = 'code') => h(sel, String(t));
const enc = encodeURIComponent;
const dec = x => { try { return decodeURIComponent(x); } catch (e) { return x; } };
const pretty = v => v === undefined ? '' : JSON.stringify(v, null, 2);
const runLink = id => h('a', { href: '#/runs/' + enc(id) }, code(id));
const wfLink = id => h('a', { href: '#/workflows/' + enc(id) }, wfNames[id] || code(id));
const getKey = () => { try { return sessionStorage.getItem(KEY) || ''; } catch (e) { return ''; } };
const title = t => { document.title = t + ' · Workflows console'; };
const announce = t => { $('#announce').textContent = t; };
const setState = st => { view.dataset.state = st; view.setAttribute('aria-busy', st === 'loading'); };
const words = st => String(st).replace('_', ' ');
const focusId = id => { const el = document.getElementById(id); if (el) el.focus(); return !!el; };
const sleep = (ms, signal) => new Promise((ok, no) => {
  const t = setTimeout(ok, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(t); no(new DOMException('aborted', 'AbortError')); });
});

// ---- time: the browser's locale, plus relative times and durations ----
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const ms = iso => iso ? Date.parse(iso) : NaN;
function rel(iso) {
  const d = (ms(iso) - Date.now()) / 1000, a = Math.abs(d);
  const [u, n] = a < 45 ? ['second', 1] : a < 2700 ? ['minute', 60] : a < 64800 ? ['hour', 3600] : a < 2592000 ? ['day', 86400] : ['month', 2592000];
  return rtf.format(Math.round(d / n), u);
}
const when = (iso, none = '—') => !iso ? h('span.muted', none) : h('time', { datetime: iso, title: iso },
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }), h('span.rel', ` (${rel(iso)})`));
function dur(d) {
  if (d == null || !isFinite(d)) return '';
  d = Math.max(0, d);
  if (d < 1000) return Math.round(d) + ' ms';
  const sec = d / 1000, m = Math.floor(sec / 60), hr = Math.floor(m / 60);
  if (sec < 60) return (sec < 10 ? sec.toFixed(1) : Math.floor(sec)) + ' s';
  if (m < 60) return `${m} min ${Math.floor(sec % 60)} s`;
  return hr < 24 ? `${hr} h ${m % 60} min` : `${Math.floor(hr / 24)} d ${hr % 24} h`;
}
const span = (a, b) => (b ? ms(b) : Date.now()) - ms(a);
const ranFor = (a, b) => a ? dur(span(a, b)) + (b ? '' : ' so far') : '';

// ---- the API and its errors ----
class ApiError { constructor(status, code, message) { Object.assign(this, { status, code, message }); } }
function showError(e, note) {
  if (!e || e.name === 'AbortError') return;
  put(errBox, e.code && [h('span.code', e.code), ' '], h('span.message', e.message || String(e)), note && [' ', h('span.note', note)]);
}
const clearError = () => errBox.replaceChildren();
function waitSecs(res) {
  let n = parseInt(res.headers.get('Retry-After'), 10);
  if (!(n >= 0)) {
    const reset = parseInt(res.headers.get('X-RateLimit-Reset'), 10);
    n = reset > 0 ? Math.ceil(reset - Date.now() / 1000) : 1;
  }
  return Math.min(Math.max(n, 0), 300);
}
// A 429 shows its message, waits Retry-After (or until X-RateLimit-Reset) and tries once more.
async function api(path, opt = {}) {
  const init = { method: opt.method || 'GET', headers: { 'x-api-key': getKey(), Accept: 'application/json' },
    signal: opt.signal, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (opt.body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(opt.body); }
  for (let tries = 0; ; tries++) {
    let res;
    try { res = await fetch(API + path, init); } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, '', 'Network error: the API could not be reached. Check the connection and try again.');
    }
    const sc = res.headers.get('X-Key-Scopes');
    if (sc != null) {
      scopes = sc.split(',').map(x => x.trim()).filter(Boolean);
      $('#scopes-line').textContent = 'This tab’s key may: ' + (scopes.join(', ') || 'nothing');
    }
    const body = await res.json().catch(() => null);
    if (res.ok && body && body.success) { if (tries) clearError(); return body; }
    const er = (body && body.error) || {};
    const err = new ApiError(res.status, er.code || 'HTTP_' + res.status, er.message || `The API answered ${res.status} ${res.statusText}.`);
    if (res.status !== 429 || tries) throw err;
    const secs = waitSecs(res);
    showError(err, `Trying again in ${secs} s, by itself.`);
    await sleep(secs * 1000 + 200, opt.signal);
  }
}
const can = sc => !!scopes && scopes.includes(sc);

// ---- views and routes ----
const stopLive = () => { clearTimeout(timer); timer = 0; };
function load(fn, label, scope) {
  stopLive();
  if (ctrl) ctrl.abort();
  ctrl = new AbortController();
  const my = ++gen, ctx = { signal: ctrl.signal, current: () => my === gen };
  clearError();
  setState('loading');
  announce(`Loading ${label}…`);
  put(view, h('p.loading', `Loading ${label}…`));
  return (async () => {
    try {
      const done = await fn(ctx);
      if (ctx.current()) { setState('ready'); announce(done || label + ' loaded.'); }
    } catch (e) {
      if (!ctx.current() || e.name === 'AbortError') return;
      showError(e);
      put(view, h('h1', document.title.split(' · ')[0]), h('p.muted', e.status === 403
        ? `This key’s scopes do not allow this view${scope ? ': it needs ' + scope : ''}.` : 'This view could not be shown.'));
      setState('error');
      announce('Error: ' + e.message);
    }
  })();
}
function route(focus) {
  placeKeyForm();
  const raw = location.hash.replace(/^#\/?/, ''), q = raw.indexOf('?');
  let p = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean).map(dec);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  if (getKey() && !p.length) { history.replaceState(null, '', '#/workflows'); p = ['workflows']; }
  document.querySelectorAll('#nav a').forEach(a =>
    a.getAttribute('href') === '#/' + p[0] ? a.setAttribute('aria-current', 'page') : a.removeAttribute('aria-current'));
  if (!getKey()) return noKey();
  const [a, b] = p, one = p.length === 1, two = p.length === 2;
  const done = a === 'workflows' && one ? load(workflowsView, 'workflows', 'workflows:read')
    : a === 'workflows' && two ? load(c => workflowView(c, b), 'workflow', 'workflows:read')
    : a === 'runs' && one ? load(c => runsView(c, query, null, 1), 'runs', 'runs:read')
    : a === 'runs' && two ? load(c => runView(c, b), 'run', 'runs:read')
    : a === 'keys' && one ? load(keysView, 'keys', 'keys:read')
    : load(() => { title('Not found'); throw new ApiError(404, 'NOT_FOUND', 'No such page in the console.'); }, 'page');
  if (focus) done.then(() => { if (typeof focus !== 'string' || !focusId(focus)) view.focus(); });
}

// ---- the key: the form sits in the header once a key is set, alone in the view before ----
function placeKeyForm() {
  const k = !!getKey();
  $('#key-state').hidden = !k;
  input.placeholder = k ? 'Paste another key' : 'wfk_…';
  if (k && form.parentNode !== $('#key-slot')) $('#key-slot').prepend(form);
  form.classList.toggle('big', !k);
}
function noKey() {
  stopLive();
  if (ctrl) ctrl.abort();
  gen++;
  title('Paste a key');
  scopes = null;
  $('#scopes-line').textContent = '';
  put(view, add(h('section.card.key-card', { 'aria-labelledby': 'key-title' }, h('h1#key-title', 'Paste an API key'),
    h('p', 'The console calls the Workflows API from this browser with your key. Make one with ',
      code('wfctl keys create'), ' or ', code('POST /auth/api-keys'), '.')), [form]));
  setState('ready');
}
function useKey(e) {
  if (e) e.preventDefault();
  const v = input.value.trim();
  input.value = '';
  if (!v) { showError({ message: 'Paste a key first.' }); input.focus(); return; }
  try { sessionStorage.setItem(KEY, v); } catch (x) { showError({ message: 'This browser refuses session storage, which the console needs.' }); return; }
  scopes = null;
  route(true);
}
// The input has no name, so a native submission (form.submit() fires no submit event)
// carries nothing, and form-action 'none' blocks it; the formdata event it fires first takes the key.
form.addEventListener('submit', useKey);
form.addEventListener('formdata', () => { if (input.value) useKey(); });
$('#forget-key').addEventListener('click', () => {
  try { sessionStorage.removeItem(KEY); } catch (x) { /* nothing kept */ }
  clearError();
  route();
  input.focus();
});
$('.skip').addEventListener('click', e => { e.preventDefault(); view.focus(); });
window.addEventListener('hashchange', () => {
  if (location.hash && !location.hash.startsWith('#/')) return;
  const f = nextFocus || true;
  nextFocus = null;
  route(f);
});

// ---- shared pieces ----
const badge = (st, id) => h('span.badge.status-' + st, id ? { id, 'data-status': st } : null, words(st));
function table(id, caption, heads, rows) {
  rows.forEach(tr => [...tr.children].forEach((td, i) => { td.dataset.label = heads[i]; }));
  return h('div.table-wrap', { role: 'region', 'aria-label': caption, tabindex: 0 },
    h('table#' + id, h('caption.visually-hidden', caption),
      h('thead', h('tr', heads.map(t => h('th', { scope: 'col' }, t)))), h('tbody', rows)));
}
const head = (text, sub) => h('div.view-head', h('h1', text), sub && h('p.muted', sub));
const dl = items => h('dl.meta', items.map(([k, v]) => h('div', h('dt', k), h('dd', v))));
const trigger = t => !t ? '' : t.type !== 'schedule' ? t.type
  : 'schedule · ' + (t.every ? 'every ' + t.every : t.cron + (t.timezone ? ` (${t.timezone})` : ''));
async function allWorkflows(ctx) {
  let out = [], cursor = null;
  for (let i = 0; i < 10; i++) {
    const r = await api('/workflows?limit=100' + (cursor ? '&cursor=' + enc(cursor) : ''), ctx);
    out = out.concat(r.data);
    r.data.forEach(w => { wfNames[w.id] = w.name; });
    if (!(cursor = r.meta && r.meta.nextCursor)) break;
  }
  return out;
}

// ---- #/workflows ----
async function workflowsView(ctx) {
  title('Workflows');
  const list = await allWorkflows(ctx);
  if (!ctx.current()) return;
  const rows = list.map(w => h('tr.workflow', { 'data-workflow-id': w.id },
    h('td.name', h('a', { href: '#/workflows/' + enc(w.id) }, w.name), w.description && h('div.muted.small', String(w.description))),
    h('td.trigger', trigger(w.trigger)),
    h('td.enabled', { 'data-enabled': String(w.enabled) }, h(w.enabled ? 'span.yes' : 'span.no', w.enabled ? 'Yes' : 'No')),
    h('td.version.num', String(w.version)),
    h('td', when(w.updatedAt)),
    h('td', h('a', { href: '#/runs?workflowId=' + enc(w.id) }, 'Runs'), h('div', code(w.id, 'code.small')))));
  put(view, head('Workflows', list.length + (list.length === 1 ? ' workflow' : ' workflows')),
    table('workflows', 'Workflows', ['Name', 'Trigger', 'Enabled', 'Version', 'Updated', 'Runs · id'], rows),
    !list.length && h('p.empty', 'No workflows yet. Create one with ', code('POST /workflows'), '.'));
  return list.length + ' workflows shown.';
}

// ---- #/workflows/{id}: the graph and two versions compared ----
async function workflowView(ctx, id) {
  title('Workflow ' + id);
  const wf = (await api('/workflows/' + enc(id), ctx)).data, versions = { [wf.version]: wf };
  if (!ctx.current()) return;
  wfNames[wf.id] = wf.name;
  title(wf.name + ' · Workflow');
  const children = (wf.steps || []).filter(x => x.type === 'workflow' && x.with);
  const pick = (sid, sel) => h('select#' + sid, Array.from({ length: wf.version }, (_, i) => wf.version - i)
    .map(v => h('option', { value: v, selected: v === sel }, 'v' + v + (v === wf.version ? ' (current)' : ''))));
  const from = pick('compare-from', Math.max(1, wf.version - 1)), to = pick('compare-to', wf.version);
  const diffBox = h('pre#version-diff.diff', { tabindex: 0, 'aria-label': 'Differences between the two versions' });
  const sum = h('p.muted', { 'aria-live': 'polite' });
  const box = h('div.graph-box', { tabindex: 0, role: 'region', 'aria-label': 'Step graph, scrollable' }, graph(wf));
  put(view,
    h('div.view-head', h('h1#workflow-name', wf.name),
      h('p.muted', code(wf.id), ` · version ${wf.version} · ${trigger(wf.trigger)} · ${wf.enabled ? 'enabled' : 'disabled'}`),
      wf.description && h('p', String(wf.description)),
      h('p', h('a', { href: '#/runs?workflowId=' + enc(wf.id) }, 'See this workflow’s runs'))),
    h('section.card', { 'aria-labelledby': 'graph-title' }, h('h2#graph-title', `Steps (version ${wf.version})`), box,
      children.length > 0 && h('p', 'Child workflows: ', children.map((c, i) =>
        [i ? ', ' : '', code(c.id), ' → ', h('a', { href: '#/workflows/' + enc(c.with.workflowId) }, code(c.with.workflowId))]))),
    h('section.card', { 'aria-labelledby': 'cmp-title' }, h('h2#cmp-title', 'Compare versions'),
      h('div.filters', h('label', 'From ', from), h('label', 'to ', to)), sum, diffBox));
  box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
  const version = v => versions[v] || api(`/workflows/${enc(id)}?version=${v}`, ctx).then(x => (versions[v] = x.data));
  async function compare() {
    const a = +from.value, b = +to.value;
    sum.textContent = `Loading versions ${a} and ${b}…`;
    try {
      const [va, vb] = await Promise.all([version(a), version(b)]);
      if (!ctx.current() || +from.value !== a || +to.value !== b) return;
      const lines = diff(defText(va), defText(vb)), n = { add: 0, del: 0, same: 0 };
      put(diffBox, lines.map(([k, t]) => { n[k]++; return h('span.diff-' + k, (k === 'add' ? '+ ' : k === 'del' ? '- ' : '  ') + t + '\n'); }));
      const first = diffBox.querySelector('.diff-add, .diff-del');
      diffBox.scrollTop = first ? Math.max(0, first.offsetTop - 48) : 0;
      sum.textContent = `Version ${a} → ${b}: ` + (n.add || n.del ? `${n.add} added, ${n.del} removed (lines).` : 'no difference.');
    } catch (e) {
      if (ctx.current()) { showError(e); sum.textContent = 'The versions could not be loaded.'; }
    }
  }
  from.addEventListener('change', compare);
  to.addEventListener('change', compare);
  compare();
}
function defText(w) {
  const d = {};
  for (const k of ['name', 'description', 'enabled', 'trigger', 'inputSchema', 'timeoutSeconds', 'concurrency', 'notify', 'steps']) if (w[k] !== undefined) d[k] = w[k];
  return pretty(d).split('\n');
}
// A line diff: the common prefix and suffix trimmed, then an LCS table over the rest.
function diff(a, b) {
  let st = 0, ea = a.length, eb = b.length, i, j;
  while (st < ea && st < eb && a[st] === b[st]) st++;
  while (ea > st && eb > st && a[ea - 1] === b[eb - 1]) { ea--; eb--; }
  const out = a.slice(0, st).map(t => ['same', t]), A = a.slice(st, ea), B = b.slice(st, eb), n = A.length, m = B.length;
  if (n * m > 4e6) {
    A.forEach(t => out.push(['del', t]));
    B.forEach(t => out.push(['add', t]));
  } else {
    const w = m + 1, L = new Uint16Array((n + 1) * w);
    for (i = n - 1; i >= 0; i--) for (j = m - 1; j >= 0; j--)
      L[i * w + j] = A[i] === B[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    for (i = 0, j = 0; i < n || j < m;) {
      if (i < n && j < m && A[i] === B[j]) { out.push(['same', A[i++]]); j++; }
      else if (j >= m || (i < n && L[(i + 1) * w + j] >= L[i * w + j + 1])) out.push(['del', A[i++]]);
      else out.push(['add', B[j++]]);
    }
  }
  return out.concat(a.slice(ea).map(t => ['same', t]));
}

// ---- the step graph: SVG, top to bottom ----
const clip = (t, n) => (t = String(t == null ? '' : t)).length > n ? t.slice(0, n - 1) + '…' : t;
function detail(st) {
  const w = st.with || {};
  return {
    http: () => (w.method || '') + ' ' + String(w.url || '').replace(/^https?:\/\//, ''),
    transform: () => 'jq ' + (w.jq || ''),
    condition: () => 'if ' + (w.jq || ''),
    delay: () => 'wait ' + dur((w.seconds || 0) * 1000),
    wait_for_signal: () => 'signal, up to ' + dur((w.timeoutSeconds || 0) * 1000),
    workflow: () => w.workflowId || '',
    foreach: () => 'each of ' + (w.items || '') + (w.concurrency ? ' · ×' + w.concurrency : ''),
    parallel: () => (w.steps || []).length + ' branches at once',
  }[st.type]?.() || '';
}
function graph(wf) {
  const NW = 232, NH = 50, IW = 156, IG = 14, GAP = 40, PAD = 12, steps = wf.steps || [];
  let widest = NW;
  for (const st of steps) if (st.type === 'parallel') { const n = (st.with?.steps || []).length; widest = Math.max(widest, n * IW + (n - 1) * IG); }
  const cx = PAD + widest / 2, nodes = [], edges = [], top = Object.create(null);
  let y = PAD, exits = [];
  const arrow = (id, cls) => s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path.' + cls, { d: 'M0 0L10 5L0 10z' }));
  const svg = s('svg#workflow-graph.graph', { role: 'img' }, s('defs', arrow('arrow', 'arrowhead'), arrow('arrow-else', 'arrowhead.else')));
  function box(st, x, yy, w, inner, sid) {
    const label = sid + ' · ' + st.type, sub = detail(st), chars = Math.floor((w - 20) / 7);
    const d = `M${x + 14} ${yy}H${x + w - 14}L${x + w} ${yy + NH / 2}L${x + w - 14} ${yy + NH}H${x + 14}L${x} ${yy + NH / 2}Z`;
    nodes.push(s('g.node.type-' + st.type + (inner ? '.inner' : ''), { 'data-step-id': sid },
      s('title', (inner === 'loop' ? 'For each item: ' : '') + label + '\n' + sub),
      st.type === 'condition' ? s('path.shape', { d }) : s('rect.shape', { x, y: yy, width: w, height: NH, rx: 6 }),
      s('text.label', { x: x + w / 2, y: yy + 20 }, clip(inner === 'loop' ? '↻ ' + st.type + ' per item' : label, chars)),
      s('text.sub', { x: x + w / 2, y: yy + 38 }, clip(sub, chars + 2))));
    return { x, y: yy, w, h: NH, cx: x + w / 2 };
  }
  function link(a, b, cls = '') {
    const y1 = a.y + a.h, y2 = b.y - 1, mid = (y1 + y2) / 2;
    edges.push(s('path.edge' + cls, { 'marker-end': 'url(#arrow)',
      d: a.cx === b.cx ? `M${a.cx} ${y1}V${y2}` : `M${a.cx} ${y1}C${a.cx} ${mid} ${b.cx} ${mid} ${b.cx} ${y2}` }));
  }
  for (const st of steps) {
    const b = box(st, cx - NW / 2, y, NW, false, st.id), w = st.with || {};
    exits.forEach(e => link(e, b));
    top[st.id] = b;
    exits = [b];
    y += NH + GAP;
    if (st.type === 'parallel' && (w.steps || []).length) {
      const x0 = cx - (w.steps.length * IW + (w.steps.length - 1) * IG) / 2;
      exits = w.steps.map((inn, k) => { const ib = box(inn, x0 + k * (IW + IG), y, IW, true, inn.id); link(b, ib, '.branch'); return ib; });
      y += NH + GAP;
    } else if (st.type === 'foreach' && w.step) {
      const fb = box(w.step, cx - (NW - 40) / 2, y, NW - 40, 'loop', st.id + '/step'), lx = b.x + b.w + 18;
      link(b, fb);
      edges.push(s('path.loop', { 'marker-end': 'url(#arrow)', d: `M${fb.x + fb.w} ${fb.y + NH / 2}H${lx}V${b.y + NH / 2}H${b.x + b.w + 1}` }));
      exits = [fb];
      y += NH + GAP;
    }
  }
  const end = { x: cx - 40, y, w: 80, h: 34, cx };
  nodes.push(s('g.node.end', s('title', 'End of the run'), s('rect.shape', { x: end.x, y, width: 80, height: 34, rx: 17 }), s('text.label', { x: cx, y: y + 22 }, 'End')));
  exits.forEach(e => link(e, end));
  let lane = PAD + widest + 22;
  const jumps = [];
  for (const st of steps) {
    const a = top[st.id], t = st.else === 'end' ? end : top[st.else];
    if (st.type !== 'condition' || !a || !t) continue;
    edges.push(s('path.edge.else', { 'marker-end': 'url(#arrow-else)', d: `M${a.x + a.w} ${a.y + NH / 2}H${lane}V${t.y + t.h / 2}H${t.x + t.w + 2}` }),
      s('text.else-label', { x: a.x + a.w + 8, y: a.y + NH / 2 - 6 }, 'else'));
    jumps.push(st.id + ' else → ' + st.else);
    lane += 24;
  }
  const W = Math.max(lane + PAD, PAD * 2 + widest + 40), H = y + 34 + PAD;
  mk(svg, '', [{ viewBox: `0 0 ${W} ${H}`, width: W, height: H, 'aria-label': `Steps of ${wf.name}, in order: ` +
    steps.map(x => `${x.id} (${x.type})`).join(', ') + (jumps.length ? '. Jumps: ' + jumps.join(', ') : '') + '.' }, edges, nodes]);
  return svg;
}

// ---- #/runs?workflowId=&status= ----
async function runsView(ctx, q, cursor, page) {
  title('Runs');
  const wid = q.get('workflowId') || '', status = q.get('status') || '', qs = new URLSearchParams({ limit: 20 });
  if (wid) qs.set('workflowId', wid);
  if (status) qs.set('status', status);
  if (cursor) qs.set('cursor', cursor);
  const [r, wfs] = await Promise.all([api('/runs?' + qs, ctx), allWorkflows(ctx).catch(() => [])]);
  if (!ctx.current()) return;
  const fw = h('select#filter-workflow', h('option', { value: '' }, 'All workflows'),
    wfs.map(w => h('option', { value: w.id, selected: w.id === wid }, w.name)),
    wid && !wfNames[wid] && h('option', { value: wid, selected: true }, wid));
  const fs = h('select#filter-status', h('option', { value: '' }, 'Any status'),
    STATUSES.map(x => h('option', { value: x, selected: x === status }, words(x))));
  const refilter = e => {
    const p = new URLSearchParams();
    if (fw.value) p.set('workflowId', fw.value);
    if (fs.value) p.set('status', fs.value);
    nextFocus = e.target.id;
    location.hash = '#/runs' + (String(p) ? '?' + p : '');
  };
  fw.addEventListener('change', refilter);
  fs.addEventListener('change', refilter);
  const rows = r.data.map(run => h('tr.run', { 'data-run-id': run.id, 'data-status': run.status },
    h('td', runLink(run.id)),
    h('td', wfLink(run.workflowId), h('span.muted.small', ' v' + run.workflowVersion)),
    h('td', badge(run.status)),
    h('td', String(run.trigger)),
    h('td', when(run.createdAt)),
    h('td.num', ranFor(run.startedAt, run.finishedAt) || '—'),
    h('td.small', run.error && [code(run.error.code), ' ', run.error.message])));
  const go = (c, p, f) => load(x => runsView(x, q, c, p), 'runs').then(() => f.some(focusId));
  const next = r.meta && r.meta.nextCursor;
  put(view, head('Runs', 'Newest first, 20 a page.'),
    h('form.filters', { role: 'search', 'aria-label': 'Filter runs', onsubmit: e => e.preventDefault() },
      h('label', 'Workflow ', fw), h('label', 'Status ', fs)),
    table('runs', 'Runs', ['Run', 'Workflow', 'Status', 'Trigger', 'Created', 'Duration', 'Error'], rows),
    !r.data.length && h('p.empty', wid || status ? 'No runs match these filters.' : 'No runs yet.'),
    h('div.pager',
      page > 1 && h('button#first-page.secondary', { type: 'button', onclick: () => go(null, 1, ['next-page']) }, 'First page'),
      h('span.muted', 'Page ' + page),
      next && h('button#next-page', { type: 'button', onclick: () => go(next, page + 1, ['next-page', 'first-page']) }, 'Next page')));
  return `${r.data.length} runs shown, page ${page}.`;
}

// ---- #/runs/{id}: timeline, steps, live refresh, actions ----
async function runView(ctx, id) {
  title('Run ' + id);
  const run = (await api('/runs/' + enc(id), ctx)).data;
  if (!ctx.current()) return;
  const st = { id, steps: new Map(), full: new Map(), def: null, status: null, head: h('div.run-head'), actions: h('div.actions'),
    live: h('p#live.live', { hidden: true }), err: h('div'), meta: h('div'), tl: h('div#timeline.timeline'), list: h('div.steps'), io: h('div.io') };
  put(view, st.head, h('div.run-bar', st.actions, st.live), st.err, st.meta,
    h('section.card', { 'aria-labelledby': 'tl-title' }, h('h2#tl-title', 'Timeline'), legend(),
      h('div.tl-box', { tabindex: 0, role: 'region', 'aria-label': 'Timeline, scrollable' }, st.tl)),
    h('section.card', { 'aria-labelledby': 'steps-title' }, h('h2#steps-title', 'Steps'), st.list), st.io);
  update(st, run, ctx);
  // The definition names the steps that have not begun; the view does without it.
  api(`/workflows/${enc(run.workflowId)}?version=${run.workflowVersion}`, { signal: ctx.signal }).then(w => {
    if (!ctx.current()) return;
    wfNames[w.data.id] = w.data.name;
    st.def = w.data.steps || [];
    update(st, st.run, ctx);
  }, () => {});
  schedule(st, ctx);
  return `Run ${run.id} loaded: ${words(run.status)}.`;
}
// While the run is not finished it is read again 1.5 s after each answer; leaving the view stops it.
function schedule(st, ctx) {
  stopLive();
  if (!LIVE.includes(st.run.status) || !ctx.current()) return;
  timer = setTimeout(async () => {
    try {
      const r = await api('/runs/' + enc(st.id), ctx);
      if (!ctx.current()) return;
      if (st.pollErr) { clearError(); st.pollErr = false; }
      update(st, r.data, ctx);
    } catch (e) {
      if (!ctx.current() || e.name === 'AbortError') return;
      showError(e);
      st.pollErr = true;
    }
    schedule(st, ctx);
  }, 1500);
}
function update(st, run, ctx) {
  const live = LIVE.includes(run.status);
  st.run = run;
  title(`Run ${run.id} (${words(run.status)})`);
  if (st.status !== run.status) {
    if (st.status) announce(`Run ${words(run.status)}.`);
    st.status = run.status;
    put(st.head, h('h1', 'Run ', code(run.id, 'code.run-id')), badge(run.status, 'run-status'));
    actions(st, ctx);
  }
  st.live.hidden = !live;
  put(st.live, live && [h('span.dot', { 'aria-hidden': 'true' }), 'Live: read again every 1.5 s']);
  put(st.err, run.error && h('p.run-error', code(run.error.code), ' ', run.error.message, run.error.step && [' (step ', code(run.error.step), ')']));
  put(st.meta, dl([['Workflow', [wfLink(run.workflowId), ' v' + run.workflowVersion]], ['Trigger', String(run.trigger)],
    ['Created', when(run.createdAt)], ['Started', when(run.startedAt, 'not yet')], ['Finished', when(run.finishedAt, 'not yet')],
    ['Duration', ranFor(run.startedAt, run.finishedAt) || '—'],
    ...run.retryOf ? [['Retry of', runLink(run.retryOf)]] : [], ...run.parentRunId ? [['Parent run', runLink(run.parentRunId)]] : []]));
  timeline(st, run);
  steps(st, run, ctx);
  const sig = JSON.stringify([run.input, run.output]);
  if (st.ioSig !== sig) {
    st.ioSig = sig;
    put(st.io, h('section.card', { 'aria-labelledby': 'io-title' }, h('h2#io-title', 'Input and result'),
      h('details', h('summary', 'Input'), h('pre.run-input', { tabindex: 0 }, pretty(run.input))),
      run.output != null ? h('details', { open: true }, h('summary', 'Output'), h('pre.run-output', { tabindex: 0 }, pretty(run.output)))
        : h('p.muted', run.finishedAt ? 'No output.' : 'No result yet: the run has not ended.')));
  }
}
function actions(st, ctx) {
  const run = st.run, had = st.actions.contains(document.activeElement), btns = [];
  const btn = (id, text, cls, path, body) => h('button#' + id + cls, { type: 'button', onclick: async e => {
    const b = e.currentTarget;
    st.actions.querySelectorAll('button').forEach(x => { x.disabled = true; });
    b.textContent = text + '…';
    try {
      const r = await api(`/runs/${enc(run.id)}${path}`, { method: 'POST', body, signal: ctx.signal });
      if (!ctx.current()) return;
      const next = '#/runs/' + enc(r.data.id);
      if (path === '/retry' && location.hash !== next) location.hash = next; else route(true);
    } catch (er) {
      if (!ctx.current()) return;
      showError(er);
      st.actions.querySelectorAll('button').forEach(x => { x.disabled = false; });
      b.textContent = text;
    }
  } }, text);
  if (can('workflows:execute')) {
    if (['queued', 'running', 'waiting'].includes(run.status)) btns.push(btn('cancel-run', 'Cancel run', '.danger', '/cancel', {}));
    if (['failed', 'cancelled', 'timed_out'].includes(run.status)) btns.push(btn('retry-run', 'Retry', '', '/retry', {}));
    if (run.status === 'failed') btns.push(btn('retry-from-failed', 'Retry from the failed step', '.secondary', '/retry', { from: 'failed_step' }));
  }
  put(st.actions, btns);
  if (had) (btns[0] || view).focus();
}
const legend = () => h('ul.legend', { 'aria-label': 'Legend' },
  ['running', 'waiting', 'succeeded', 'failed', 'cancelled', 'skipped'].map(x => h('li', h('span.swatch.status-' + x, { 'aria-hidden': 'true' }), x)),
  h('li.muted', 'gaps: waits between attempts'));
// One bar per entry of a step's attemptHistory; a step without one that has begun gets one bar, attempt 0.
function timeline(st, run) {
  const t0 = ms(run.createdAt), t1 = run.finishedAt ? ms(run.finishedAt) : Date.now(), total = Math.max(t1 - t0, 1);
  const pct = t => Math.min(100, Math.max(0, (t - t0) / total * 100));
  function bar(sid, n, status, from, to, err, of) {
    const a = ms(from), b = to ? ms(to) : LIVE.includes(run.status) ? Date.now() : t1;
    const what = `${sid}, ${n ? 'attempt ' + n + (of > 1 ? ' of ' + of : '') : of > 1 ? of + ' attempts' : 'the step'}: ${status}, ` +
      `${dur(b - a)}${to ? '' : ' so far'}, began ${dur(a - t0)} into the run` + (err ? ` (${err.code}: ${err.message})` : '');
    const el = h('div.bar.status-' + status + (to ? '' : '.open'), { 'data-step-id': sid, 'data-attempt': n, role: 'img', title: what, 'aria-label': what });
    el.style.left = pct(a) + '%';
    el.style.width = Math.max(pct(b) - pct(a), 0) + '%';
    return el;
  }
  const seen = new Set((run.steps || []).map(x => x.id));
  const rows = (run.steps || []).map(x => [x.id, x]).concat((st.def || []).filter(d => !seen.has(d.id)).map(d => [d.id, null]));
  put(st.tl,
    h('div.tl-row.tl-axis', { 'aria-hidden': 'true' }, h('div.tl-label'), h('div.tl-track', [0, 0.25, 0.5, 0.75, 1].map(f => {
      const t = h('span.tick' + (f === 1 ? '.last' : f === 0 ? '.first' : '.q'), f ? '+' + dur(f * total) : '0');
      t.style.left = f * 100 + '%';
      return t;
    }))),
    h('div.tl-rows', rows.map(([sid, x]) => {
      const hist = x && Array.isArray(x.attemptHistory) ? x.attemptHistory : [];
      const bars = !x ? [] : hist.length ? hist.map((a, k) => bar(sid, a.attempt ?? k + 1, a.status, a.startedAt, a.finishedAt, a.error, hist.length))
        : x.startedAt ? [bar(sid, 0, x.status, x.startedAt, x.finishedAt, x.error, x.attempts)] : [];
      return h('div.tl-row', h('div.tl-label', code(sid), !bars.length && h('span.muted.note', x ? x.status : 'not started')), h('div.tl-track', bars));
    })),
    h('p.muted.small.tl-foot', 'From ', when(run.createdAt), ' to ', run.finishedAt ? when(run.finishedAt) : 'now', ' · ' + dur(total)));
}
// Steps are rebuilt only when they change, so open details and loaded outputs stay put.
function steps(st, run, ctx) {
  const list = run.steps || [], kept = new Map();
  if (!list.length) { put(st.list, h('p.empty', 'No step has begun yet.')); st.steps = kept; return; }
  const els = list.map(x => {
    const sig = JSON.stringify(x), old = st.steps.get(x.id);
    if (old && old.sig === sig) { kept.set(x.id, old); return old.el; }
    const el = stepEl(st, run, x, ctx);
    el.open = old ? old.el.open : x.status === 'failed';
    if (old && old.el.contains(document.activeElement)) setTimeout(() => el.querySelector('summary').focus());
    kept.set(x.id, { sig, el });
    return el;
  });
  st.steps = kept;
  const cur = st.list.children;
  if (els.length !== cur.length || els.some((e, i) => cur[i] !== e)) put(st.list, els);
}
function stepEl(st, run, x, ctx) {
  const hist = Array.isArray(x.attemptHistory) ? x.attemptHistory : [], full = st.full.has(x.id);
  const out = h('pre.output', { tabindex: 0 }, full ? pretty(st.full.get(x.id)) : x.truncated && typeof x.output === 'string' ? x.output : pretty(x.output));
  const more = x.truncated && !full && h('p.trunc', 'Cut short at 16 KiB. ', h('button.load-full.secondary', { type: 'button', onclick: async e => {
    const b = e.currentTarget;
    b.disabled = true;
    b.textContent = 'Loading the whole output…';
    try {
      const r = await api(`/runs/${enc(run.id)}/steps/${enc(x.id)}`, ctx);
      if (!ctx.current()) return;
      st.full.set(x.id, r.data.output);
      out.textContent = pretty(r.data.output);
      put(more, 'The whole output is shown.');
      out.focus();
    } catch (er) {
      if (ctx.current()) { showError(er); b.disabled = false; b.textContent = 'Load full output'; }
    }
  } }, 'Load full output'));
  const took = ranFor(x.startedAt, x.finishedAt);
  return h('details.step', { 'data-step-id': x.id },
    h('summary', badge(x.status), ' ', code(x.id, 'code.step-name'),
      h('span.muted.small', (x.attempts ? ` · ${x.attempts} attempt${x.attempts === 1 ? '' : 's'}` : '') + (took ? ' · ' + took : '')),
      x.reused && h('span.tag', 'reused')),
    h('div.step-body',
      dl([['Started', when(x.startedAt, 'not yet')], ['Finished', when(x.finishedAt, 'not yet')], ['Attempts', String(x.attempts)],
        ...x.nextAttemptAt ? [['Goes on at', when(x.nextAttemptAt)]] : [], ...x.expiresAt ? [['Signal wait ends', when(x.expiresAt)]] : [],
        ...x.signalledAt ? [['Signalled', when(x.signalledAt)]] : [], ...x.childRunId ? [['Child run', runLink(x.childRunId)]] : []]),
      hist.length > 0 && h('ol.attempts', hist.map(a => h('li', badge(a.status), ` attempt ${a.attempt} · `,
        h('time', { datetime: a.startedAt, title: a.startedAt }, new Date(a.startedAt).toLocaleTimeString()),
        ' · ' + ranFor(a.startedAt, a.finishedAt), a.error && [' · ', code(a.error.code), ' ', a.error.message]))),
      x.error && h('p.step-error', h('span.code', x.error.code), ' ', x.error.message),
      h('h3', 'Output'), out, more));
}

// ---- #/keys ----
async function keysView(ctx) {
  title('API keys');
  const r = await api('/auth/api-keys?limit=100', ctx);
  if (!ctx.current()) return;
  const rows = r.data.map(k => h('tr.key', { 'data-key-id': k.id },
    h('td.name', String(k.name), h('div', code(k.id, 'code.small'))),
    h('td.prefix', code(k.prefix + '…')),
    h('td.scopes', h('ul.chips', k.scopes.map(x => h('li', String(x))))),
    h('td.status', h('span.badge.key-' + k.status, String(k.status))),
    h('td.last-used', when(k.lastUsedAt, 'never')),
    h('td', when(k.createdAt)),
    h('td', when(k.expiresAt, 'never'))));
  put(view, head('API keys', 'This account’s keys, read-only. Manage them with wfctl or /auth/api-keys.'),
    table('keys', 'API keys', ['Name', 'Prefix', 'Scopes', 'Status', 'Last used', 'Created', 'Expires'], rows),
    r.meta && r.meta.nextCursor && h('p.muted', 'More keys exist than are shown here.'));
  return r.data.length + ' keys shown.';
}

route(false);
})();
