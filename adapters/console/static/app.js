// ddn console: calls the node's JSON API (the same routes and tokens as any
// client) and renders plain HTML and SVG. No library, no network but the node.
'use strict';

const $ = (sel, el = document) => el.querySelector(sel);
const $$ = (sel, el = document) => Array.from(el.querySelectorAll(sel));
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const main = () => $('#main');

// Tokens live in this tab's sessionStorage only.
const tokens = {
  get read() { return sessionStorage.getItem('ddn.readToken') || ''; },
  get admin() { return sessionStorage.getItem('ddn.adminToken') || ''; },
  set(read, admin) {
    read ? sessionStorage.setItem('ddn.readToken', read) : sessionStorage.removeItem('ddn.readToken');
    admin ? sessionStorage.setItem('ddn.adminToken', admin) : sessionStorage.removeItem('ddn.adminToken');
  },
};

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// api calls the node; admin routes send the admin token, reads the read
// token (or the admin token, which the API accepts for reads too).
async function api(path, { admin = false, method = 'GET' } = {}) {
  const headers = {};
  const t = admin ? tokens.admin : (tokens.read || tokens.admin);
  if (t) headers.Authorization = 'Bearer ' + t;
  const r = await fetch(path, { method, headers });
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) throw new APIError(r.status, (body && body.message) || r.statusText);
  return body;
}

function toast(msg) {
  const el = $('#toast');
  el.textContent = msg;
  el.className = 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = ''; }, 4000);
}

function errText(e) {
  if (e instanceof APIError) {
    if (e.status === 401) return 'refused (401): ' + e.message + ' — enter a token under Tokens';
    if (e.status === 403) return 'refused (403): ' + e.message;
    return e.status + ': ' + e.message;
  }
  return String(e && e.message || e);
}

const fmtTime = (s) => (s ? new Date(s).toLocaleString() : '—');
const ago = (s) => {
  if (!s) return '—';
  const d = (Date.now() - new Date(s).getTime()) / 1000;
  if (d < 60) return Math.max(0, Math.round(d)) + ' s ago';
  if (d < 3600) return Math.round(d / 60) + ' min ago';
  if (d < 86400) return Math.round(d / 3600) + ' h ago';
  return Math.round(d / 86400) + ' d ago';
};
const dur = (sec) => {
  if (sec < 10) return (Math.round(sec * 10) / 10) + ' s';
  if (sec < 60) return Math.round(sec) + ' s';
  if (sec < 3600) return Math.round(sec / 60) + ' min';
  if (sec < 86400) return (sec / 3600).toFixed(1) + ' h';
  return (sec / 86400).toFixed(1) + ' d';
};
const pct = (f) => (f === null || f === undefined ? '—' : (f * 100).toFixed(2) + ' %');
const stateBadge = (s) => `<span class="state ${esc(s || 'unknown')}">${esc(s || 'unknown')}</span>`;
const machineHref = (m) => '#/machine/' + [m.project, m.machine_id, m.container_id].filter((x, i) => i < 2 || x).map(encodeURIComponent).join('/');
const keyOf = (m) => m.project + '\u0000' + m.machine_id + '\u0000' + m.container_id;

// Timers belong to the page shown; leaving it stops them.
let timers = [];
function every(ms, fn) { fn(); timers.push(setInterval(fn, ms)); }

// ---- fleet -------------------------------------------------------------

function fleetPage() {
  main().innerHTML = `<h1>Fleet</h1>
    <div class="cards" id="state-cards">
      <div class="card"><span class="muted">machines</span><b id="count-total">…</b></div>
      <div class="card online"><span class="muted">online</span><b id="count-online">…</b></div>
      <div class="card disconnected"><span class="muted">disconnected</span><b id="count-disconnected">…</b></div>
      <div class="card offline"><span class="muted">offline</span><b id="count-offline">…</b></div>
      <div class="card"><span class="muted">reports, last hour</span><b id="count-reports">…</b></div>
    </div>
    <section><h2>By project</h2><div class="scroll" id="projects"></div></section>
    <section><h2>Nodes of the cluster</h2><div class="scroll" id="fleet-nodes"></div></section>
    <section><h2>Outbox</h2><div id="outbox-health"></div></section>
    <p class="muted">Updates every 3 s. <span id="updated"></span></p>`;
  every(3000, refreshFleet);
}

async function refreshFleet() {
  try {
    const s = await api('/api/v0/stats');
    $('#count-total').textContent = s.machines;
    for (const st of ['online', 'disconnected', 'offline']) $('#count-' + st).textContent = s.by_state[st] || 0;
    $('#count-reports').textContent = s.reports_last_hour;
    const rows = Object.keys(s.by_project).sort().map((p) => {
      const c = s.by_project[p];
      return `<tr><td><a href="#/machines?project=${encodeURIComponent(p)}">${esc(p || '(none)')}</a></td>
        <td class="num">${c.online || 0}</td><td class="num">${c.disconnected || 0}</td><td class="num">${c.offline || 0}</td>
        <td class="num wide">${c.unknown || 0}</td><td class="num">${c.total || 0}</td></tr>`;
    });
    $('#projects').innerHTML = `<table id="project-table"><thead><tr><th>project</th><th class="num">online</th><th class="num">disconnected</th>
      <th class="num">offline</th><th class="num wide">unclassified</th><th class="num">total</th></tr></thead><tbody>${rows.join('') || '<tr><td colspan="6" class="muted">no machines yet</td></tr>'}</tbody></table>`;
    $('#updated').textContent = 'Last update ' + new Date().toLocaleTimeString() + '.';
  } catch (e) {
    $('#projects').innerHTML = `<p class="err">${esc(errText(e))}</p>`;
  }
  try {
    const n = await api('/api/v0/cluster/nodes');
    $('#fleet-nodes').innerHTML = nodesTable(n.nodes);
  } catch (e) {
    $('#fleet-nodes').innerHTML = `<p class="err">${esc(errText(e))}</p>`;
  }
  const box = $('#outbox-health');
  if (!tokens.admin) {
    box.innerHTML = '<p class="muted">Enter the admin token (Tokens) to see the outbox.</p>';
    return;
  }
  try {
    const o = await api('/api/v0/admin/outbox?limit=1', { admin: true });
    const c = o.counts || {};
    const waiting = (c.pending || 0) + (c.ready || 0);
    box.innerHTML = `<p id="outbox-summary"><b>${waiting}</b> waiting (pending ${c.pending || 0}, ready ${c.ready || 0}),
      <b class="${c.dead ? 'err' : ''}">${c.dead || 0}</b> dead-lettered, ${c.done || 0} delivered, ${c.cancelled || 0} cancelled.
      <a href="#/outbox">Details</a></p>`;
  } catch (e) {
    box.innerHTML = `<p class="err">${esc(outboxErr(e))}</p>`;
  }
}

function outboxErr(e) {
  if (e instanceof APIError && e.status === 404) return 'The admin API is not served on this listener (AdminAddr is set): open the console on the admin listener.';
  return errText(e);
}

function nodesTable(nodes) {
  const rows = (nodes || []).map((n) => `<tr><td>${esc(n.id)}</td><td class="wide">${esc(n.addr)}</td><td class="wide">${esc(n.version)}</td>
    <td>${n.alive ? '<span class="state online">alive</span>' : '<span class="state offline">lease expired</span>'}</td>
    <td class="wide">${fmtTime(n.started_at)}</td><td>${ago(n.heartbeat_at)}</td><td class="num">${n.connections}</td></tr>`);
  return `<table class="nodes"><thead><tr><th>node</th><th class="wide">address</th><th class="wide">version</th><th>lease</th>
    <th class="wide">started</th><th>renewed</th><th class="num">connections held</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

// ---- machines ----------------------------------------------------------

// The fleet is read a page at a time; the first page is shown as soon as it
// arrives, the rest follow in the background (1,000 a request).
const fleet = { machines: [], done: false, loading: null, error: null, uptime: new Map(), uptimeDone: false, uptimeLoading: null };
const PAGE_ROWS = 50;
let table = { q: '', project: '', state: '', gpu: '', region: '', sort: 'last_report', page: 0 };

function loadFleet(onPage) {
  if (fleet.loading) return fleet.loading;
  fleet.machines = [];
  fleet.done = false;
  fleet.error = null;
  fleet.loading = (async () => {
    let after = '';
    let first = true;
    try {
      do {
        // The first request asks for one screen only, so it is drawn at once.
        const limit = first ? PAGE_ROWS : 1000;
        const r = await api(`/api/v0/machines?limit=${limit}` + (after ? '&after=' + encodeURIComponent(after) : ''));
        fleet.machines.push(...r.machines);
        after = r.next;
        onPage && onPage(first);
        first = false;
      } while (after);
      fleet.done = true;
    } catch (e) {
      fleet.error = e;
    }
    onPage && onPage();
  })();
  return fleet.loading;
}

function loadUptime(onPage) {
  if (fleet.uptimeLoading) return fleet.uptimeLoading;
  fleet.uptimeLoading = (async () => {
    let after = '';
    try {
      do {
        const r = await api('/api/v0/uptime?limit=1000' + (after ? '&after=' + encodeURIComponent(after) : ''));
        for (const u of r.machines) fleet.uptime.set(keyOf(u), u.uptime);
        after = r.next;
        onPage && onPage();
      } while (after);
      fleet.uptimeDone = true;
    } catch (e) {
      toast('uptime: ' + errText(e));
    }
    onPage && onPage();
  })();
  return fleet.uptimeLoading;
}

const gpuOf = (m) => (m.deeplink_st && m.deeplink_st.gpu_names && m.deeplink_st.gpu_names[0]) || '';
const regionOf = (m) => (m.deeplink_st && m.deeplink_st.region) || (m.deeplink_bw && m.deeplink_bw.region) || (m.location && m.location.region) || '';
const pointOf = (m) => (m.deeplink_st && m.deeplink_st.calc_point) || 0;

function machinesPage(params) {
  table = { q: params.get('q') || '', project: params.get('project') || '', state: params.get('state') || '',
    gpu: params.get('gpu') || '', region: params.get('region') || '', sort: params.get('sort') || 'last_report', page: 0 };
  main().innerHTML = `<h1>Machines</h1>
    <section class="filters" id="filters">
      <label>Search id <input id="f-q" type="search" placeholder="machine id" value="${esc(table.q)}"></label>
      <label>Project <select id="f-project"></select></label>
      <label>State <select id="f-state">
        <option value="">any</option><option>online</option><option>disconnected</option><option>offline</option></select></label>
      <label>GPU model <select id="f-gpu"></select></label>
      <label>Region <select id="f-region"></select></label>
      <label>Sort by <select id="f-sort">
        <option value="last_report">last report</option><option value="calc_point">calc point</option><option value="uptime">uptime (24 h, worst first)</option></select></label>
    </section>
    <section><p class="muted" id="machines-status">Loading…</p><div class="scroll" id="machines-table"></div>
      <div class="pager"><button class="secondary" id="prev">‹ Prev</button><span id="page-of"></span><button class="secondary" id="next">Next ›</button></div></section>`;
  $('#f-state').value = table.state;
  $('#f-sort').value = table.sort;
  const bind = (id, field, ev) => $(id).addEventListener(ev, (e) => { table[field] = e.target.value; table.page = 0; renderTable(); });
  bind('#f-q', 'q', 'input');
  bind('#f-project', 'project', 'change');
  bind('#f-state', 'state', 'change');
  bind('#f-gpu', 'gpu', 'change');
  bind('#f-region', 'region', 'change');
  bind('#f-sort', 'sort', 'change');
  $('#prev').onclick = () => { table.page = Math.max(0, table.page - 1); renderTable(); };
  $('#next').onclick = () => { table.page++; renderTable(); };
  let pending = false;
  const redraw = (now) => {
    if (now) { renderTable(); return; }
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; renderTable(); }); }
  };
  if (fleet.done || fleet.loading) {
    // Shown before: refresh in the background, show what is known now.
    if (fleet.done) { fleet.loading = null; }
    renderTable();
  }
  loadFleet(redraw);
  timers.push(setInterval(() => { if (fleet.done) { fleet.loading = null; loadFleet(redraw); } }, 30000));
}

function options(sel, values, current, anyLabel) {
  const el = $(sel);
  const want = [''].concat(values);
  if (el.options.length === want.length) { el.value = current; return; }
  el.innerHTML = want.map((v) => `<option value="${esc(v)}">${esc(v === '' ? anyLabel : v)}</option>`).join('');
  el.value = current;
}

function renderTable() {
  if (!$('#machines-table')) return;
  const ms = fleet.machines;
  const uniq = (f) => Array.from(new Set(ms.map(f).filter(Boolean))).sort();
  options('#f-project', uniq((m) => m.project), table.project, 'any');
  options('#f-gpu', uniq(gpuOf), table.gpu, 'any');
  options('#f-region', uniq(regionOf), table.region, 'any');
  const q = table.q.trim().toLowerCase();
  let rows = ms.filter((m) => (!q || m.machine_id.toLowerCase().includes(q)) && (!table.project || m.project === table.project) &&
    (!table.state || m.state === table.state) && (!table.gpu || gpuOf(m) === table.gpu) && (!table.region || regionOf(m) === table.region));
  if (table.sort === 'uptime') {
    loadUptime(() => renderTable());
    const u = (m) => { const v = fleet.uptime.get(keyOf(m)); return v === undefined || v === null ? 2 : v; };
    rows = rows.slice().sort((a, b) => u(a) - u(b));
  } else if (table.sort === 'calc_point') {
    rows = rows.slice().sort((a, b) => pointOf(b) - pointOf(a));
  } else {
    rows = rows.slice().sort((a, b) => (b.last_report_time || '').localeCompare(a.last_report_time || ''));
  }
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  table.page = Math.min(table.page, pages - 1);
  const shown = rows.slice(table.page * PAGE_ROWS, (table.page + 1) * PAGE_ROWS);
  const status = fleet.error ? `<span class="err">${esc(errText(fleet.error))}</span>` :
    `${rows.length} of ${ms.length} machines` + (fleet.done ? '' : ' (loading…)') +
    (table.sort === 'uptime' && !fleet.uptimeDone ? `, uptime of ${fleet.uptime.size} known (loading…)` : '');
  $('#machines-status').innerHTML = status;
  $('#machines-table').innerHTML = `<table id="machines"><thead><tr><th>machine</th><th>project</th><th>state</th>
    <th class="wide">GPU</th><th class="wide">region</th><th class="num">calc point</th><th>last report</th><th class="num">uptime 24 h</th></tr></thead>
    <tbody>${shown.map((m) => {
      const up = fleet.uptime.get(keyOf(m));
      return `<tr data-machine="${esc(m.machine_id)}"><td><a href="${machineHref(m)}">${esc(m.machine_id)}</a>${m.container_id ? ' <span class="muted">' + esc(m.container_id) + '</span>' : ''}</td>
      <td>${esc(m.project)}</td><td>${stateBadge(m.state)}</td><td class="wide">${esc(gpuOf(m))}</td><td class="wide">${esc(regionOf(m))}</td>
      <td class="num">${pointOf(m) ? pointOf(m).toFixed(2) : '—'}</td><td title="${esc(fmtTime(m.last_report_time))}">${ago(m.last_report_time)}</td>
      <td class="num">${up === undefined ? '—' : pct(up)}</td></tr>`;
    }).join('')}</tbody></table>`;
  $('#page-of').textContent = `page ${table.page + 1} of ${pages}`;
  $('#prev').disabled = table.page === 0;
  $('#next').disabled = table.page >= pages - 1;
}

// ---- one machine -------------------------------------------------------

const WINDOWS = { '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };

function machinePage(parts, params) {
  const [project, id, container] = parts.map(decodeURIComponent);
  const win = params.get('window') in WINDOWS ? params.get('window') : '24h';
  const base = `/api/v0/machines/${encodeURIComponent(project)}/${encodeURIComponent(id)}`;
  const cq = container ? 'container_id=' + encodeURIComponent(container) : '';
  main().innerHTML = `<h1>${esc(id)} <span class="muted">${esc(project)}${container ? ' / ' + esc(container) : ''}</span></h1>
    <div class="grid2"><section><h2>Machine</h2><div id="info">Loading…</div></section>
      <section><h2>Hardware and calc point</h2><div id="hardware"></div></section>
      <section><h2>Location</h2><div id="location"></div></section></div>
    <section><h2>Presence</h2>
      <div class="filters">${Object.keys(WINDOWS).map((w) => `<button class="secondary ${w === win ? 'on' : ''}" data-window="${w}">${w}</button>`).join('')}</div>
      <div id="presence"></div></section>
    <section><h2>Reports over time</h2><div id="reports-chart"></div></section>`;
  $$('[data-window]').forEach((b) => { b.onclick = () => { location.hash = machineHref({ project, machine_id: id, container_id: container }) + '?window=' + b.dataset.window; }; });
  every(10000, async () => {
    try {
      const r = await api(base + (cq ? '?' + cq : ''));
      renderMachine(r.machine, r.connection);
    } catch (e) {
      $('#info').innerHTML = `<p class="err">${esc(errText(e))}</p>`;
      return;
    }
    const to = new Date();
    const from = new Date(to.getTime() - WINDOWS[win]);
    const w = `from=${from.getTime()}&to=${to.getTime()}` + (cq ? '&' + cq : '');
    try {
      const u = await api(`${base}/uptime?${w}`);
      renderPresence(u.uptime, from, to);
    } catch (e) {
      $('#presence').innerHTML = `<p class="err">${esc(errText(e))}</p>`;
    }
    try {
      const r = await api(`${base}/reports?${w}&limit=10000`);
      renderReports(r.reports, from, to);
    } catch (e) {
      $('#reports-chart').innerHTML = `<p class="err">${esc(errText(e))}</p>`;
    }
  });
}

const dl = (pairs) => '<dl class="info">' + pairs.filter((p) => p[1] !== undefined && p[1] !== '' && p[1] !== null)
  .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('') + '</dl>';

function renderMachine(m, conn) {
  $('#info').innerHTML = dl([
    ['state', stateBadge(m.state)], ['staking type', esc(m.staking_type)], ['node', esc(m.node_id)],
    ['connection', conn ? `on ${esc(conn.node_id)} from ${esc(conn.client_ip)} since ${esc(fmtTime(conn.since))}` : 'not connected'],
    ['registered', esc(fmtTime(m.register_time))], ['last online', esc(fmtTime(m.last_online_time))],
    ['last disconnect', esc(fmtTime(m.last_disconnect_time))], ['last offline', esc(fmtTime(m.last_offline_time))],
    ['last report', esc(fmtTime(m.last_report_time)) + ' <span class="muted">' + ago(m.last_report_time) + '</span>'],
  ]);
  const st = m.deeplink_st;
  const bw = m.deeplink_bw;
  $('#hardware').innerHTML = st ? dl([
    ['calc point', `<b id="calc-point">${st.calc_point ? st.calc_point.toFixed(2) : '—'}</b>`],
    ['GPUs', esc((st.gpu_names || []).map((g, i) => g + (st.gpu_memory_total && st.gpu_memory_total[i] ? ` (${Math.round(st.gpu_memory_total[i] / 1024)} GB)` : '')).join(', '))],
    ['CPU', esc(st.cpu_type) + (st.cpu_rate ? ` @ ${esc(st.cpu_rate)} MHz` : '')], ['memory', esc(st.memory_total) + ' GB'],
    ['wallet', esc(st.wallet)], ['client IP', esc(st.client_ip)], ['region', esc(st.region)],
  ]) : bw ? dl([
    ['CPU cores', esc(bw.cpu_cores)], ['memory', esc(bw.memory_total) + ' GB'], ['disk', esc(bw.hdd) + ' GB'],
    ['bandwidth', esc(bw.bandwidth) + ' Mbps'], ['wallet', esc(bw.wallet)], ['client IP', esc(bw.client_ip)], ['region', esc(bw.region)],
  ]) : '<p class="muted">No machine info reported yet.</p>';
  const l = m.location;
  $('#location').innerHTML = l ? dl([['country', esc(l.country)], ['region', esc(l.region)], ['city', esc(l.city)],
    ['coordinates', `${esc(l.latitude)}, ${esc(l.longitude)}`]]) : (st && (st.latitude || st.longitude) ?
    dl([['coordinates (reported)', `${esc(st.latitude)}, ${esc(st.longitude)}`]]) : '<p class="muted">Not located.</p>');
}

// timelineSVG draws [from, to) as a bar: unknown before the first thing
// known, online after it, outages over it.
function timelineSVG(id, u, from, to, knownFromMs) {
  const W = 1000, H = 36, t0 = from.getTime(), span = to.getTime() - t0;
  const x = (t) => Math.max(0, Math.min(W, ((new Date(t).getTime() - t0) / span) * W));
  const known = x(knownFromMs);
  const rects = (u.outages || []).map((o, i) => `<rect class="outage ${esc(o.reason)}" data-outage="${i}" x="${x(o.from).toFixed(1)}" y="0"
    width="${Math.max(2, x(o.to) - x(o.from)).toFixed(1)}" height="${H}"><title>${esc(o.reason)}: ${esc(fmtTime(o.from))} – ${o.ongoing ? 'now' : esc(fmtTime(o.to))}</title></rect>`).join('');
  return `<svg id="${id}" viewBox="0 0 ${W} ${H + 16}" role="img" aria-label="presence timeline">
      <rect class="unknown" x="0" y="0" width="${W}" height="${H}"></rect>
      <rect class="known" x="${known.toFixed(1)}" y="0" width="${(W - known).toFixed(1)}" height="${H}"></rect>${rects}
      <text x="0" y="${H + 13}">${esc(from.toLocaleString())}</text><text x="${W}" y="${H + 13}" text-anchor="end">${esc(to.toLocaleString())}</text></svg>`;
}

function renderPresence(u, from, to) {
  const outs = u.outages || [];
  const knownFromMs = to.getTime() - u.known_seconds * 1000;
  const span = to.getTime() - from.getTime();
  // A machine first seen late in the window gets a second bar over the
  // part that is known, so its outages stay visible.
  const zoom = u.known_seconds > 0 && u.known_seconds * 1000 < span / 2 ?
    `<p class="muted">Since first known (${dur(u.known_seconds)}):</p>` + timelineSVG('timeline-known', u, new Date(knownFromMs), to, knownFromMs) : '';
  $('#presence').innerHTML = `<p>Uptime <b id="uptime-value">${pct(u.uptime)}</b> · ${u.outage_count} outage${u.outage_count === 1 ? '' : 's'} ·
      <span id="reconnects">${u.reconnects}</span> reconnect${u.reconnects === 1 ? '' : 's'}</p>
    ${timelineSVG('timeline', u, from, to, knownFromMs)}${zoom}
    <p class="legend"><span><i class="l-online"></i>online</span><span><i class="l-disconnected"></i>disconnected</span>
      <span><i class="l-node_lost"></i>node lost</span><span><i class="l-offline"></i>offline</span><span><i class="l-unknown"></i>unknown</span></p>
    <div class="scroll"><table id="outages"><thead><tr><th>from</th><th>to</th><th class="num">lasted</th><th>reason</th></tr></thead><tbody>
      ${outs.slice().reverse().map((o) => `<tr><td>${esc(fmtTime(o.from))}</td><td>${o.ongoing ? 'ongoing' : esc(fmtTime(o.to))}</td>
        <td class="num">${dur(o.seconds)}</td><td>${esc(o.reason.replace('_', ' '))}${o.offline_at ? ' <span class="muted">(offline at ' + esc(fmtTime(o.offline_at)) + ')</span>' : ''}</td></tr>`).join('') ||
        '<tr><td colspan="4" class="muted">no outage in this window</td></tr>'}</tbody></table></div>`;
}

function renderReports(reports, from, to) {
  // The chart starts at the oldest report shown, when that is in the window.
  const oldest = reports.length ? new Date(reports[reports.length - 1].timestamp) : from;
  if (oldest > from) from = new Date(oldest.getTime() - 1000);
  const N = 60, W = 1000, H = 120, t0 = from.getTime(), span = Math.max(1, to.getTime() - t0);
  const buckets = new Array(N).fill(0);
  for (const r of reports) {
    const i = Math.floor(((new Date(r.timestamp).getTime() - t0) / span) * N);
    if (i >= 0 && i < N) buckets[i]++;
  }
  const max = Math.max(1, ...buckets);
  const bw = W / N;
  const bars = buckets.map((c, i) => c ? `<rect class="bar" x="${(i * bw + 1).toFixed(1)}" y="${(H - (c / max) * H).toFixed(1)}" width="${(bw - 2).toFixed(1)}"
    height="${((c / max) * H).toFixed(1)}"><title>${c} report${c === 1 ? '' : 's'}</title></rect>` : '').join('');
  $('#reports-chart').innerHTML = `<p><span id="report-count">${reports.length}</span> report${reports.length === 1 ? '' : 's'} in the window (at most 10,000 shown); bars count them per ${dur(span / N / 1000)}.</p>
    <svg id="reports-svg" viewBox="0 0 ${W} ${H + 16}" role="img" aria-label="reports over time">
      <line class="axis" x1="0" y1="${H}" x2="${W}" y2="${H}"></line>${bars}
      <text x="0" y="${H + 13}">${esc(from.toLocaleString())}</text><text x="${W}" y="${H + 13}" text-anchor="end">${esc(to.toLocaleString())}</text>
      <text x="4" y="12">max ${max}</text></svg>`;
}

// ---- cluster -----------------------------------------------------------

function clusterPage() {
  main().innerHTML = `<h1>Cluster</h1><section><h2>Nodes and their leases</h2><div class="scroll" id="cluster-nodes"></div>
    <p class="muted" id="cluster-total"></p></section>
    <section><h2>Connections held by this node</h2><div class="scroll" id="sessions"></div></section>`;
  every(3000, async () => {
    try {
      const n = await api('/api/v0/cluster/nodes');
      $('#cluster-nodes').innerHTML = nodesTable(n.nodes);
      const alive = n.nodes.filter((x) => x.alive).length;
      const held = n.nodes.reduce((s, x) => s + x.connections, 0);
      $('#cluster-total').textContent = `${alive} of ${n.nodes.length} nodes alive, ${held} connections held. A node is alive while its lease keeps being renewed.`;
    } catch (e) {
      $('#cluster-nodes').innerHTML = `<p class="err">${esc(errText(e))}</p>`;
    }
    if (!tokens.admin) {
      $('#sessions').innerHTML = '<p class="muted">Enter the admin token (Tokens) to list this node\'s sockets.</p>';
      return;
    }
    try {
      const s = await api('/api/v0/admin/sessions', { admin: true });
      const list = s.sessions || [];
      $('#sessions').innerHTML = `<table><thead><tr><th>machine</th><th>project</th><th class="wide">connection</th><th>since</th></tr></thead><tbody>
        ${list.map((x) => `<tr><td><a href="${machineHref(x)}">${esc(x.machine_id)}</a></td><td>${esc(x.project)}</td><td class="wide">${esc(x.conn_id)}</td><td>${ago(x.since)}</td></tr>`).join('') ||
        '<tr><td colspan="4" class="muted">none</td></tr>'}</tbody></table>`;
    } catch (e) {
      $('#sessions').innerHTML = `<p class="err">${esc(outboxErr(e))}</p>`;
    }
  });
}

// ---- outbox ------------------------------------------------------------

function outboxPage() {
  main().innerHTML = `<h1>Outbox</h1><p id="outbox-msg" class="muted"></p>
    <section><h2>Counts</h2><div id="outbox-counts"></div></section>
    <section><h2>Dead-lettered</h2><div class="scroll" id="outbox-dead"></div></section>
    <section><h2>Waiting (pending and ready)</h2><div class="scroll" id="outbox-waiting"></div></section>`;
  $('#outbox-dead').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const { action, id } = b.dataset;
    try {
      await api(`/api/v0/admin/outbox/${encodeURIComponent(id)}/${action}`, { admin: true, method: 'POST' });
      $('#outbox-msg').textContent = `${action} of ${id}: done`;
      $('#outbox-msg').className = '';
      refreshOutbox();
    } catch (e) {
      $('#outbox-msg').textContent = `${action} of ${id} ${errText(e)}`;
      $('#outbox-msg').className = 'err';
    }
  });
  every(5000, refreshOutbox);
}

const entryRow = (e, actions) => `<tr data-entry="${esc(e.id)}"><td>${esc(e.kind)}</td><td>${esc(e.machine_id)} <span class="muted">${esc(e.project)}</span></td>
  <td>${esc(e.status)}</td><td class="num">${e.attempts}</td><td class="wide">${esc((e.targets || []).join(', '))}</td>
  <td class="wide clip" title="${esc(e.last_error || '')}">${esc(e.last_error || '')}</td><td>${ago(e.created_at)}</td>
  ${actions ? `<td><button data-action="retry" data-id="${esc(e.id)}">Retry</button> <button class="danger" data-action="drop" data-id="${esc(e.id)}">Drop</button></td>` : ''}</tr>`;
const entryHead = (actions) => `<thead><tr><th>kind</th><th>machine</th><th>status</th><th class="num">attempts</th><th class="wide">targets</th>
  <th class="wide">last error</th><th>created</th>${actions ? '<th>admin</th>' : ''}</tr></thead>`;

async function refreshOutbox() {
  if (!tokens.admin) {
    $('#outbox-counts').innerHTML = '<p class="muted">The outbox is part of the admin API: enter the admin token (Tokens).</p>';
    return;
  }
  try {
    const [dead, pending, ready] = await Promise.all([
      api('/api/v0/admin/outbox?status=dead&limit=200', { admin: true }),
      api('/api/v0/admin/outbox?status=pending&limit=100', { admin: true }),
      api('/api/v0/admin/outbox?status=ready&limit=100', { admin: true })]);
    const c = dead.counts || {};
    $('#outbox-counts').innerHTML = `<div class="cards">${['pending', 'ready', 'dead', 'done', 'cancelled'].map((s) =>
      `<div class="card ${s === 'dead' && c[s] ? 'offline' : ''}"><span class="muted">${s}</span><b id="outbox-count-${s}">${c[s] || 0}</b></div>`).join('')}</div>`;
    $('#outbox-dead').innerHTML = `<table id="dead-table">${entryHead(true)}<tbody>${dead.entries.map((e) => entryRow(e, true)).join('') ||
      '<tr><td colspan="8" class="muted">none</td></tr>'}</tbody></table>`;
    const waiting = pending.entries.concat(ready.entries);
    $('#outbox-waiting').innerHTML = `<table>${entryHead(false)}<tbody>${waiting.map((e) => entryRow(e, false)).join('') ||
      '<tr><td colspan="7" class="muted">none</td></tr>'}</tbody></table>`;
  } catch (e) {
    $('#outbox-counts').innerHTML = `<p class="err">${esc(outboxErr(e))}</p>`;
  }
}

// ---- router ------------------------------------------------------------

function route() {
  timers.forEach(clearInterval);
  timers = [];
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  const page = parts[0] || 'fleet';
  $$('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === (page === 'machine' ? 'machines' : page)));
  switch (page) {
    case 'machines': return machinesPage(params);
    case 'machine': return machinePage(parts.slice(1), params);
    case 'cluster': return clusterPage();
    case 'outbox': return outboxPage();
    default: return fleetPage();
  }
}

$('#read-token').value = tokens.read;
$('#admin-token').value = tokens.admin;
$('#token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  tokens.set($('#read-token').value.trim(), $('#admin-token').value.trim());
  toast('Tokens kept for this tab.');
  fleet.loading = null;
  route();
});
$('#forget-tokens').addEventListener('click', () => {
  tokens.set('', '');
  $('#read-token').value = '';
  $('#admin-token').value = '';
  toast('Tokens forgotten.');
});
window.addEventListener('hashchange', route);
route();
