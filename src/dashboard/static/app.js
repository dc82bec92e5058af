// The dashboard page: one event stream (/api/stream) carries the whole view, then patches (see
// src/dashboard/core/view.ts: diffView/applyPatch), and the swarm events. Rows are kept and updated
// in place, so an input being typed into survives a patch. Text goes in with textContent only.

const state = { view: { nodes: [], services: [], tasks: [] }, events: [], eventKeys: new Set() };
const MAX_EVENTS = 200;
const MAX_LOG_LINES = 1000;

const $ = (sel, root = document) => root.querySelector(sel);

// ---- the live view ----

/** The same as applyPatch in core/view.ts: remove, set, then order (new rows at the end). */
function applyPatch(view, p) {
  const apply = (rows, c) => {
    if (!c) return rows;
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of c.remove) byId.delete(id);
    for (const r of c.set) byId.set(r.id, r);
    const known = new Set(rows.map((r) => r.id));
    const order = c.order ?? [...rows.map((r) => r.id).filter((id) => byId.has(id)), ...c.set.map((r) => r.id).filter((id) => !known.has(id))];
    return order.map((id) => byId.get(id)).filter(Boolean);
  };
  const out = { nodes: apply(view.nodes, p.nodes), services: apply(view.services, p.services), tasks: apply(view.tasks, p.tasks) };
  const error = p.error !== undefined ? p.error : view.error;
  if (error) out.error = error;
  return out;
}

function connect() {
  const es = new EventSource('/api/stream');
  const conn = $('#conn');
  es.addEventListener('open', () => {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
  });
  es.addEventListener('error', () => {
    // EventSource reconnects by itself; the server sends the whole view again
    conn.dataset.state = 'reconnecting';
    conn.textContent = 'reconnecting';
  });
  es.addEventListener('view', (m) => {
    state.view = JSON.parse(m.data);
    render();
  });
  es.addEventListener('patch', (m) => {
    state.view = applyPatch(state.view, JSON.parse(m.data));
    render();
  });
  es.addEventListener('event', (m) => addEvent(JSON.parse(m.data)));
  es.addEventListener('failure', (m) => showError(JSON.parse(m.data).message));
}

function addEvent(ev) {
  const key = eventKey(ev);
  if (state.eventKeys.has(key)) return; // the history again after a reconnect
  state.eventKeys.add(key);
  state.events.push(ev);
  if (state.events.length > MAX_EVENTS) state.eventKeys.delete(eventKey(state.events.shift()));
  if (route().tab === 'events') renderEvents();
}
const eventKey = (ev) => `${ev.timeNano}/${ev.Type}/${ev.Action}/${ev.Actor.ID}`;

// ---- routes: #services, #nodes, #tasks, #events, #service/<id>, #node/<id> ----

function route() {
  const [a, id] = location.hash.replace(/^#/, '').split('/');
  if (a === 'service' && id) return { tab: 'tasks', service: id };
  if (a === 'node' && id) return { tab: 'tasks', node: id };
  return { tab: ['services', 'nodes', 'tasks', 'events'].includes(a) ? a : 'services' };
}

let logStream = null;
let logsFor = '';

function render() {
  const r = route();
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${r.tab}`;
  for (const a of document.querySelectorAll('nav a')) a.setAttribute('aria-current', a.dataset.tab === r.tab && !r.service && !r.node ? 'page' : 'false');
  renderSummary();
  showError(state.view.error);
  if (r.tab === 'services') renderServices();
  else if (r.tab === 'nodes') renderNodes();
  else if (r.tab === 'tasks') renderTasks(r);
  else renderEvents();
  followLogs(r.service ?? '');
}

function renderSummary() {
  const { nodes, services } = state.view;
  const ready = nodes.filter((n) => n.status === 'ready').length;
  const leader = nodes.find((n) => n.leader);
  $('#summary').textContent = `${ready}/${nodes.length} nodes ready · ${services.length} services${leader ? ` · leader ${leader.hostname}` : ''}`;
}

function showError(message) {
  const e = $('#error');
  e.hidden = !message;
  e.textContent = message ?? '';
}

function toast(message, isError) {
  const t = $('#toast');
  t.textContent = message;
  t.dataset.kind = isError ? 'error' : 'ok';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 5000);
}

/**
 * Keeps a tbody's rows in the order of `rows`, one <tr data-id> per row: built once (`build`), then
 * updated in place (`update`), removed when gone.
 */
function syncRows(tbody, rows, build, update) {
  const existing = new Map([...tbody.children].map((tr) => [tr.dataset.id, tr]));
  let prev = null;
  for (const r of rows) {
    let tr = existing.get(r.id);
    if (tr) existing.delete(r.id);
    else {
      tr = build(r);
      tr.dataset.id = r.id;
    }
    update(tr, r);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (tr !== want) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of existing.values()) tr.remove();
}

/** A row with one cell per column; each cell carries its column (for updates) and label (phone layout). */
function row(table, cols) {
  const labels = [...$(`#${table} thead tr`).children].map((th) => th.textContent);
  const tr = document.createElement('tr');
  cols.forEach((c, i) => {
    const td = document.createElement('td');
    td.dataset.col = c;
    td.dataset.label = labels[i];
    tr.append(td);
  });
  return tr;
}

function set(tr, col, text) {
  const td = tr.querySelector(`[data-col="${col}"]`);
  if (td.textContent !== text) td.textContent = text;
  return td;
}

function link(tr, col, href, text) {
  const td = tr.querySelector(`[data-col="${col}"]`);
  let a = td.firstElementChild;
  if (!a) td.append((a = document.createElement('a')));
  if (a.getAttribute('href') !== href) a.setAttribute('href', href);
  if (a.textContent !== text) a.textContent = text;
}

function button(label, cls, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

// ---- services ----

function serviceActions(s) {
  const box = document.createElement('div');
  box.className = 'actions';
  const input = document.createElement('input');
  input.type = 'number';
  input.min = '0';
  input.className = 'scale-input';
  input.setAttribute('aria-label', `replicas of ${s.name}`);
  const scale = button('Scale', 'scale', () => act(`/api/services/${encodeURIComponent(s.id)}/scale`, { Replicas: Number(input.value) }, `${s.name} scaled to ${input.value}`));
  const rollback = button('Roll back', 'rollback', () => act(`/api/services/${encodeURIComponent(s.id)}/rollback`, {}, `${s.name}: rollback requested`));
  input.addEventListener('keydown', (e) => e.key === 'Enter' && scale.click());
  box.append(input, scale, rollback);
  return box;
}

function renderServices() {
  const tbody = $('#services tbody');
  syncRows(
    tbody,
    state.view.services,
    (s) => {
      const tr = row('services', ['name', 'mode', 'replicas', 'image', 'ports', 'update', 'actions']);
      tr.querySelector('[data-col="actions"]').append(serviceActions(s));
      return tr;
    },
    (tr, s) => {
      tr.dataset.name = s.name;
      link(tr, 'name', `#service/${s.id}`, s.name);
      set(tr, 'mode', s.mode);
      set(tr, 'replicas', `${s.running}/${s.desired}${s.completed !== undefined ? ` (${s.completed} completed)` : ''}`).dataset.converged = String(s.running === s.desired);
      set(tr, 'image', s.image);
      set(tr, 'ports', s.ports.join(', '));
      renderUpdate(tr.querySelector('[data-col="update"]'), s.update);
      const input = tr.querySelector('.scale-input');
      input.hidden = !s.scalable;
      tr.querySelector('button.scale').hidden = !s.scalable;
      // the box shows the desired count until someone types into it
      if (document.activeElement !== input && !input.dataset.touched) input.value = String(s.desired);
      input.oninput = () => (input.dataset.touched = '1');
      tr.querySelector('button.rollback').hidden = !s.canRollback;
    },
  );
  $('[data-empty-for="services"]').hidden = state.view.services.length > 0;
}

function renderUpdate(td, u) {
  if (!u) {
    td.replaceChildren();
    return;
  }
  let label = td.querySelector('.update-state');
  let bar = td.querySelector('progress');
  if (!label) {
    // one child, so the phone layout's label/value grid keeps the bar beside its text
    const box = document.createElement('span');
    box.className = 'update';
    label = document.createElement('span');
    label.className = 'update-state';
    bar = document.createElement('progress');
    box.append(label, bar);
    td.replaceChildren(box);
  }
  label.textContent = `${u.state.replace('_', ' ')} ${u.updated}/${u.total}`;
  label.title = u.message;
  bar.max = Math.max(1, u.total);
  bar.value = u.updated;
}

// ---- nodes ----

function renderNodes() {
  syncRows(
    $('#nodes tbody'),
    state.view.nodes,
    (n) => {
      const tr = row('nodes', ['hostname', 'role', 'status', 'availability', 'manager', 'cpus', 'memory', 'tasks', 'engine', 'actions']);
      const flip = button('', 'availability', () => {
        const cur = state.view.nodes.find((x) => x.id === n.id);
        const next = cur && cur.availability === 'active' ? 'drain' : 'active';
        act(`/api/nodes/${encodeURIComponent(n.id)}/availability`, { Availability: next }, `${cur ? cur.hostname : n.id}: ${next}`);
      });
      tr.querySelector('[data-col="actions"]').append(flip);
      return tr;
    },
    (tr, n) => {
      tr.dataset.hostname = n.hostname;
      link(tr, 'hostname', `#node/${n.id}`, n.hostname);
      set(tr, 'role', n.role);
      set(tr, 'status', n.status).title = n.message;
      set(tr, 'availability', n.availability);
      set(tr, 'manager', n.managerStatus);
      set(tr, 'cpus', n.nanoCpus ? String(n.nanoCpus / 1e9) : '');
      set(tr, 'memory', n.memoryBytes ? bytes(n.memoryBytes) : '');
      set(tr, 'tasks', String(n.tasks));
      set(tr, 'engine', n.engineVersion);
      const b = tr.querySelector('button.availability');
      const label = n.availability === 'active' ? 'Drain' : 'Activate';
      if (b.textContent !== label) b.textContent = label;
    },
  );
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// ---- tasks (all, one service's, one node's) ----

function renderTasks(r) {
  let tasks = state.view.tasks;
  const detail = $('#detail');
  detail.replaceChildren();
  if (r.service) {
    const s = state.view.services.find((x) => x.id === r.service);
    tasks = tasks.filter((t) => t.serviceId === r.service);
    $('#tasks-title').textContent = s ? `Service ${s.name}` : 'Service (removed)';
    if (s) detail.append(facts([['Mode', s.mode], ['Replicas', `${s.running}/${s.desired}`], ['Image', s.image], ['Ports', s.ports.join(', ') || '—'], ['Update', s.update ? `${s.update.state.replace('_', ' ')} ${s.update.updated}/${s.update.total}${s.update.message ? ` (${s.update.message})` : ''}` : '—']]));
  } else if (r.node) {
    const n = state.view.nodes.find((x) => x.id === r.node);
    tasks = tasks.filter((t) => t.nodeId === r.node);
    $('#tasks-title').textContent = n ? `Node ${n.hostname}` : 'Node (removed)';
    if (n) detail.append(facts([['Role', n.role], ['Status', `${n.status}${n.message ? ` (${n.message})` : ''}`], ['Availability', n.availability], ['Manager status', n.managerStatus || '—'], ['Address', n.addr]]));
  } else $('#tasks-title').textContent = 'Tasks';
  const now = Date.now();
  syncRows(
    $('#tasks tbody'),
    tasks,
    () => row('tasks', ['name', 'image', 'node', 'desired', 'current', 'error']),
    (tr, t) => {
      tr.classList.toggle('history', t.history);
      tr.dataset.state = t.state;
      set(tr, 'name', t.history ? `\\_ ${t.name}` : t.name);
      set(tr, 'image', t.image);
      set(tr, 'node', t.node);
      set(tr, 'desired', cap(t.desiredState));
      set(tr, 'current', `${cap(t.state)} ${ago(now, t.since)}`).title = t.message;
      set(tr, 'error', t.error + (t.exitCode ? ` (exit ${t.exitCode})` : ''));
    },
  );
}

function facts(pairs) {
  const dl = document.createElement('dl');
  dl.className = 'facts';
  for (const [k, v] of pairs) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  return dl;
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** "5 seconds ago", as the docker CLI's (go-units) HumanDuration words it. */
function ago(now, iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, (now - t) / 1000);
  const n = (v) => Math.floor(v);
  let text;
  if (s < 1) text = 'Less than a second';
  else if (s < 2) text = '1 second';
  else if (s < 60) text = `${n(s)} seconds`;
  else if (s < 120) text = 'About a minute';
  else if (s < 3600) text = `${n(s / 60)} minutes`;
  else if (s < 7200) text = 'About an hour';
  else if (s < 48 * 3600) text = `${n(s / 3600)} hours`;
  else if (s < 14 * 86400) text = `${n(s / 86400)} days`;
  else if (s < 90 * 86400) text = `${n(s / (7 * 86400))} weeks`;
  else if (s < 730 * 86400) text = `${n(s / (30 * 86400))} months`;
  else text = `${n(s / (365 * 86400))} years`;
  return `${text.charAt(0).toLowerCase()}${text.slice(1)} ago`;
}

// ---- service logs, following ----

function followLogs(serviceId) {
  const panel = $('#logs-panel');
  panel.hidden = !serviceId;
  if (serviceId === logsFor) return;
  logStream?.close();
  logStream = null;
  logsFor = serviceId;
  const pre = $('#logs');
  pre.textContent = '';
  if (!serviceId) return;
  logStream = new EventSource(`/api/services/${encodeURIComponent(serviceId)}/logs?tail=100`);
  logStream.addEventListener('log', (m) => {
    const l = JSON.parse(m.data);
    const t = state.view.tasks.find((x) => x.id === l.taskId);
    const line = document.createElement('span');
    line.className = l.stream;
    line.textContent = `${new Date(l.time).toISOString()} ${t ? `${t.name}@${t.node}` : l.taskId.slice(0, 12)} | ${l.text}\n`;
    pre.append(line);
    while (pre.childElementCount > MAX_LOG_LINES) pre.firstElementChild.remove();
    if ($('#logs-follow').checked) pre.scrollTop = pre.scrollHeight;
  });
  logStream.addEventListener('failure', (m) => {
    pre.append(document.createTextNode(`error: ${JSON.parse(m.data).message}\n`));
    logStream.close();
  });
}

// ---- events ----

function renderEvents() {
  const ol = $('#events');
  const items = state.events
    .slice()
    .reverse()
    .map((ev) => {
      const li = document.createElement('li');
      const { name, ...attrs } = ev.Actor.Attributes;
      const extra = Object.entries(attrs)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      const time = document.createElement('time');
      time.textContent = new Date(ev.timeNano / 1e6).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
      const what = document.createElement('span');
      what.textContent = ` ${ev.Type} ${ev.Action} ${name ?? ev.Actor.ID}${extra ? ` (${extra})` : ''}`;
      li.append(time, what);
      return li;
    });
  ol.replaceChildren(...items);
}

// ---- actions ----

async function act(url, body, done) {
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.message || `${r.status} ${r.statusText}`);
    toast(done + (j.Warnings ? ` (${j.Warnings.join('; ')})` : ''), false);
  } catch (e) {
    toast(e.message, true);
  }
}

window.addEventListener('hashchange', render);
// relative times ("2 minutes ago") move on without a change
setInterval(() => route().tab === 'tasks' && render(), 5000);
render();
connect();
