// The console's main loop: polls the tools each panel needs (fleet every 2 s, charts by
// window, audit every 3 s, incidents every 15 s), never two polls of a kind at once, and
// redraws only what changed (an unchanged tool result comes back as a 304).

import { h, put, dur, ago, num, stamp, clock, now } from './dom.js';
import { call, onStatus, pendingApprovals } from './api.js';
import { renderApprovals } from './approvals.js';
import { drawChart } from './chart.js';
import * as P from './panels.js';
import { createActions } from './actions.js';

const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || '';
const CALLER = meta('qs-caller');
const ACCESS = meta('qs-access');
const ACTIONS = new Set(meta('qs-actions').split(',').filter(Boolean));
const APPROVER = meta('qs-approver') === 'true';

const METRICS = [
  { type: 'memory_percent', title: 'Memory', unit: '%', fixedMax: 100, alarm: 80 },
  { type: 'error_rate', title: 'Error rate', unit: '/min', floor: 5, alarm: 10 },
  { type: 'request_latency_ms', title: 'p95 latency', unit: ' ms', floor: 100, alarm: 1000 },
  { type: 'requests_per_min', title: 'Request rate', unit: '/min', floor: 10 },
];
/** Refresh period of the charts per window: a week of data changes slowly. */
const WINDOWS = { '15m': 3000, '1h': 5000, '6h': 15000, '24h': 30000, '7d': 60000 };
/** Points per line: about one per 2–4 pixels of a chart. */
const POINTS = 240;
const QUEUE_SHOWN = 10;
const FINAL = new Set(['executed', 'failed']);

const $ = (id) => document.getElementById(id);

const S = {
  services: [],
  verdicts: new Map(),
  faults: new Map(),
  unreachable: new Set(),
  latest: new Map(),
  colors: new Map(),
  hidden: new Set(),
  window: WINDOWS[localStorage.getItem('qs-window')] ? localStorage.getItem('qs-window') : '15m',
  specs: new Map(),
  detection: null,
  audit: null,
  decisions: null,
  entries: [],
  queue: new Map(),
  incidents: null,
  selected: null,
  runbooks: new Map(),
  lastOk: 0,
  link: 'connecting',
};

// ---------- polling ----------

const loops = new Map();

/** Runs fn now and then every `every` ms after it finishes; kick() runs it again at once. */
function loop(name, every, fn, panel = name) {
  const L = { timer: 0, running: false, again: false };
  const run = async () => {
    if (L.running) {
      L.again = true;
      return;
    }
    L.running = true;
    clearTimeout(L.timer);
    try {
      await fn();
    } catch (e) {
      note(panel, e);
    } finally {
      L.running = false;
      const wait = L.again ? 0 : typeof every === 'function' ? every() : every;
      L.again = false;
      // Signed out: stop polling (each refused call would only fill the audit trail) until
      // the token link reloads the page.
      if (S.link !== 'unauthorized') L.timer = setTimeout(run, wait);
    }
  };
  loops.set(name, run);
  run();
}

const kick = (...names) => names.forEach((n) => loops.get(n) && loops.get(n)());

/** A panel's small status text: an error from its last poll, or nothing. */
function note(panel, err, text) {
  const el = $(`${panel}-note`);
  if (!el) return;
  if (err) {
    el.className = 'err';
    el.title = err.hint || '';
    put(el, `${err.message}`);
  } else {
    el.className = '';
    el.title = '';
    put(el, text || '');
  }
}

// ---------- fleet, faults, anomalies ----------

async function refreshLive() {
  const [svc, faults, det] = await Promise.allSettled([
    call('list_services'),
    call('list_faults'),
    call('detect_anomalies'),
  ]);
  if (svc.status === 'fulfilled') {
    S.services = svc.value.services || [];
    S.services.forEach((s, i) => S.colors.set(s.name, `c${i % 8}`));
    note('fleet', null, svc.value.truncated ? 'more services than shown' : '');
  } else {
    note('fleet', svc.reason);
  }
  if (faults.status === 'fulfilled') {
    S.faults = new Map();
    for (const f of faults.value.faults || []) {
      if (!S.faults.has(f.service)) S.faults.set(f.service, []);
      S.faults.get(f.service).push(f);
    }
    S.unreachable = new Set(faults.value.unreachable || []);
  }
  if (det.status === 'fulfilled') {
    S.verdicts = new Map((det.value.services || []).map((v) => [v.service, v]));
    if (det.value !== S.detection) {
      S.detection = det.value;
      drawAnomalies();
    }
    const n = (det.value.anomalies || []).length;
    const newest = (det.value.services || []).map((v) => v.last_sample_at).filter(Boolean).sort().pop();
    note('anomalies', null, `${n} open${newest ? ` · data as of ${stamp(newest)}` : ''}`);
  } else {
    note('anomalies', det.reason);
  }
  drawFleet();
  drawSummary();
}

function drawFleet() {
  document.querySelector('#fleet-table th.act-col').hidden = !ACTIONS.size;
  P.renderFleet(document.querySelector('#fleet-table tbody'), {
    services: S.services,
    verdicts: S.verdicts,
    faults: S.faults,
    unreachable: S.unreachable,
    latest: S.latest,
    colors: S.colors,
    actions: ACTIONS,
    onAction: act,
  });
}

function drawSummary() {
  const total = S.services.length;
  const healthy = S.services.filter((s) => s.health === 'healthy').length;
  const anomalies = S.detection ? (S.detection.anomalies || []).length : 0;
  const faults = [...S.faults.values()].reduce((n, l) => n + l.length, 0);
  put($('summary'),
    h('span', { class: healthy === total && total ? 'good' : 'bad' }, `${healthy}/${total} healthy`), ' · ',
    h('span', { class: anomalies ? 'bad' : 'good' }, `${anomalies} anomal${anomalies === 1 ? 'y' : 'ies'}`), ' · ',
    h('span', { class: faults ? 'warnc' : '' }, `${faults} active fault${faults === 1 ? '' : 's'}`));
}

function drawAnomalies() {
  if (!S.detection) return;
  P.renderAnomalies($('anomalies').querySelector('.body'), S.detection, (a) => runbook(
    `a|${a.service}|${a.anomaly_type}`,
    { description: a.summary, service: a.service, anomaly_type: a.anomaly_type, limit: 1 },
    drawAnomalies,
  ));
}

/** The best runbook for a situation, looked up once; null until it arrives. */
function runbook(key, args, redraw) {
  if (S.runbooks.has(key)) return S.runbooks.get(key);
  S.runbooks.set(key, null);
  call('find_relevant_runbook', args)
    .then((r) => {
      const best = (r.runbooks || [])[0];
      S.runbooks.set(key, best || { error: 'no runbook matches' });
    })
    .catch((e) => S.runbooks.set(key, { error: e.message }))
    .finally(redraw);
  return null;
}

// ---------- charts ----------

function setupCharts() {
  put($('charts'), METRICS.map((m) => h('figure', { class: 'chart', id: `chart-${m.type}`, 'data-metric': m.type })));
  for (const b of $('windows').querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.dataset.window === S.window));
    b.addEventListener('click', () => {
      S.window = b.dataset.window;
      localStorage.setItem('qs-window', S.window);
      for (const o of $('windows').querySelectorAll('button')) o.setAttribute('aria-pressed', String(o === b));
      $('charts').dataset.window = S.window;
      kick('charts');
    });
  }
  $('charts').dataset.window = S.window;
  let t = 0;
  window.addEventListener('resize', () => {
    clearTimeout(t);
    t = setTimeout(drawCharts, 150);
  });
}

async function refreshCharts() {
  const w = S.window;
  const names = S.services.map((s) => s.name);
  if (!names.length) return;
  const jobs = [];
  for (const m of METRICS) {
    for (const name of names) {
      jobs.push(call('query_metrics', { service: name, metric_type: m.type, window: w, max_points: POINTS })
        .then((r) => ({ m, name, r }), (e) => ({ m, name, e })));
    }
  }
  const results = await Promise.all(jobs);
  if (w !== S.window) return; // the window changed meanwhile: its own refresh is coming
  let bucket = null;
  let resolution = null;
  let failed = null;
  let young = null;
  for (const m of METRICS) {
    const mine = results.filter((x) => x.m === m);
    const ok = mine.filter((x) => x.r);
    failed = failed || (mine.find((x) => x.e) || {}).e;
    const latest = new Map();
    for (const x of ok) latest.set(x.name, x.r.summary ? x.r.summary.last : null);
    S.latest.set(m.type, latest);
    const tos = ok.map((x) => Date.parse(x.r.to));
    const to = tos.length ? Math.max(...tos) : now();
    let from = ok.length ? Math.min(...ok.map((x) => Date.parse(x.r.from))) : to - 900_000;
    // A store younger than the window (a fresh demo): fit the axis to the data there is,
    // at least a minute, rather than squeeze it against the right edge.
    const firsts = ok.map((x) => (x.r.points && x.r.points.length ? Date.parse(x.r.points[0].t) : Infinity));
    const first = Math.min(...firsts);
    if (Number.isFinite(first) && first > from) {
      from = Math.max(from, Math.min(first, to - 60_000));
      young = first;
    }
    if (ok.length) {
      bucket = ok[0].r.bucket_seconds;
      resolution = ok[0].r.resolution;
    }
    S.specs.set(m.type, {
      ...m,
      from,
      to,
      all: ok.map((x) => ({
        name: x.name,
        cls: S.colors.get(x.name) || 'c0',
        bucketMs: (x.r.bucket_seconds || 1) * 1000,
        points: (x.r.points || []).map((p) => [Date.parse(p.t), p.v]),
        scenario: x.r.includes_scenario_data,
      })),
    });
  }
  $('charts').dataset.window = w;
  drawCharts();
  drawLegend();
  drawFleet();
  const res = resolution === 'raw' ? 'raw samples' : '1-minute rollups';
  if (failed) note('metrics', failed);
  else if (bucket) {
    const since = young ? ` · data since ${clock(new Date(young).toISOString())}` : '';
    note('metrics', null, `${w} · ${dur(bucket)} buckets of ${res} · every ${WINDOWS[w] / 1000} s${since}`);
  }
}

/** What the charts mark: short names of the real changes the audit trail records. */
const MARKS = {
  inject_fault: 'fault',
  reset_faults: 'reset',
  restart_container: 'restart',
  restart_service: 'restart', // the runner's name for a queued restart
  restart_dependency: 'restart dep.',
  rollback_deployment: 'rollback',
  deploy_version: 'deploy',
  scale_cache: 'scale',
  stop_container: 'stop',
  start_container: 'start',
};

function marks() {
  const out = [];
  for (const r of (S.audit && S.audit.records) || []) {
    if (r.dry_run || r.outcome !== 'ok' || !MARKS[r.tool]) continue;
    const kind = r.tool === 'inject_fault' && r.arguments ? ` ${r.arguments.kind || ''}` : '';
    out.push({
      t: Date.parse(r['@timestamp']),
      label: `${MARKS[r.tool]}${kind}`,
      cls: S.colors.get(r.service) || 'c7',
      title: `${stamp(r['@timestamp'])} ${r.who}: ${r.tool} ${r.service || ''}`,
    });
    if (out.length >= 40) break;
  }
  return out;
}

function drawCharts() {
  const mk = marks();
  for (const m of METRICS) {
    const spec = S.specs.get(m.type);
    const fig = $(`chart-${m.type}`);
    if (!spec || !fig) continue;
    const series = spec.all.filter((x) => !S.hidden.has(x.name));
    const scenario = spec.all.some((x) => x.scenario);
    drawChart(fig, { ...spec, series, marks: mk, caption: `${spec.unit.trim() || ''}${scenario ? ' · includes scenario data' : ''}` });
  }
}

function drawLegend() {
  const el = $('legend');
  const sig = `${S.services.map((s) => s.name).join()}|${[...S.hidden].join()}|${[...S.latest.get('memory_percent') || []].map(([k, v]) => `${k}${num(v)}`).join()}`;
  if (el.dataset.sig === sig) return;
  el.dataset.sig = sig;
  put(el, S.services.map((s) => h('button', {
    type: 'button',
    class: ['lg', S.hidden.has(s.name) && 'off'],
    'aria-pressed': String(!S.hidden.has(s.name)),
    title: 'show or hide this service in the charts',
    on: {
      click: () => {
        if (S.hidden.has(s.name)) S.hidden.delete(s.name);
        else S.hidden.add(s.name);
        drawLegend();
        drawCharts();
      },
    },
  }, h('i', { class: `sw ${S.colors.get(s.name)}` }), s.name)));
}

// ---------- audit trail, decisions, remediation queue ----------

async function refreshTimeline() {
  const [aud, dec] = await Promise.allSettled([call('list_audit', { limit: 150 }), call('list_decisions', { limit: 50 })]);
  if (aud.status === 'rejected') note('timeline', aud.reason);
  if (dec.status === 'rejected' && aud.status === 'fulfilled') note('timeline', dec.reason);
  const audit = aud.status === 'fulfilled' ? aud.value : S.audit;
  const decisions = dec.status === 'fulfilled' ? dec.value : S.decisions;
  if (audit !== S.audit || decisions !== S.decisions) {
    S.audit = audit;
    S.decisions = decisions;
    S.entries = P.timelineEntries((audit && audit.records) || [], (decisions && decisions.decisions) || []);
    drawTimeline();
    drawCharts(); // their marks come from the audit trail
  }
  if (aud.status === 'fulfilled' && dec.status === 'fulfilled') {
    const n = S.entries.length;
    note('timeline', null, `${n} newest${audit.truncated || decisions.truncated ? ' (older ones: list_audit with a window)' : ''}`);
  }
  await refreshQueue();
}

function drawTimeline() {
  P.renderTimeline($('timeline').querySelector('.body'), S.entries, $('hide-dry').checked);
}

/**
 * No tool lists the remediation queue, so the console follows the audit trail: every real
 * `remediate` call names its exec_id, and get_remediation_action reads each one's status.
 */
async function refreshQueue() {
  const ids = [];
  for (const r of (S.audit && S.audit.records) || []) {
    const m = r.tool === 'remediate' && !r.dry_run && r.outcome === 'ok' && /queued (\S+)/.exec(r.detail || '');
    if (m && !ids.includes(m[1])) ids.push(m[1]);
    if (ids.length >= QUEUE_SHOWN) break;
  }
  await Promise.all(ids.map(async (id) => {
    const known = S.queue.get(id);
    if (known && known.state && FINAL.has(known.state.action.status)) return;
    try {
      S.queue.set(id, { exec_id: id, state: await call('get_remediation_action', { exec_id: id }) });
    } catch (e) {
      S.queue.set(id, { exec_id: id, error: e.message });
    }
  }));
  const items = ids.map((id) => S.queue.get(id)).filter(Boolean);
  const body = $('queue').querySelector('.body');
  const sig = JSON.stringify(items.map((i) => [i.exec_id, i.state && i.state.action.status, i.error]));
  if (body.dataset.sig !== sig) {
    body.dataset.sig = sig;
    P.renderQueue(body, items);
  }
  const waiting = items.filter((i) => i.state && !FINAL.has(i.state.action.status)).length;
  note('queue', null, `${items.length} via the audit trail · ${waiting} waiting or running`);
}

// ---------- incidents ----------

async function refreshIncidents() {
  const r = await call('list_incidents', { limit: 30 });
  if (r === S.incidents) return;
  S.incidents = r;
  const list = r.incidents || [];
  if (!S.selected || !list.some((i) => i.id === S.selected)) {
    S.selected = (list.find((i) => i.status === 'open') || list[0] || {}).id || null;
  }
  note('incidents', null, P.incidentSummary(list, r.truncated));
  drawIncidents();
}

function drawIncidents() {
  const list = (S.incidents && S.incidents.incidents) || [];
  P.renderIncidents($('incidents').querySelector('.body'), list, S.selected, (id) => {
    S.selected = id;
    drawIncidents();
  });
  drawIncidentDetail();
}

function drawIncidentDetail() {
  const list = (S.incidents && S.incidents.incidents) || [];
  const i = list.find((x) => x.id === S.selected);
  const rb = i ? runbook(`i|${i.id}`, {
    description: `${i.title}. ${i.description || ''}`.slice(0, 2000),
    service: i.service,
    anomaly_type: i.anomaly_type,
    limit: 1,
  }, drawIncidentDetail) : null;
  P.renderIncidentDetail($('incident-detail'), i, rb);
}

// ---------- connection state, clocks ----------

onStatus((status) => {
  if (status === 'ok') S.lastOk = Date.now();
  S.link = status;
  const banner = $('banner');
  if (status === 'unauthorized') {
    banner.hidden = false;
    put(banner, 'Signed out: the server no longer accepts this browser\'s token, so the page stopped updating. Open the console link with ?token= again.');
  } else if (status === 'ok') {
    banner.hidden = true;
  }
});

function tick() {
  for (const el of document.querySelectorAll('[data-countdown]')) el.textContent = P.left(el.dataset.countdown);
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = dur((Date.now() - Date.parse(el.dataset.since)) / 1000);
  for (const el of document.querySelectorAll('[data-ago]')) el.textContent = ago(el.dataset.ago);
  const conn = $('conn');
  const age = (Date.now() - S.lastOk) / 1000;
  let cls = 'live';
  let text = `live · updated ${age < 1.5 ? 'just now' : `${Math.round(age)}s ago`}`;
  if (S.link === 'unauthorized') {
    cls = 'down';
    text = 'signed out';
  } else if (!S.lastOk) {
    cls = 'stale';
    text = 'connecting…';
  } else if (S.link === 'unreachable' || age > 15) {
    cls = 'down';
    text = `server unreachable · last update ${Math.round(age)}s ago · retrying`;
  } else if (age > 6) {
    cls = 'stale';
  }
  conn.className = `conn ${cls}`;
  conn.textContent = text;
}

// ---------- approvals ----------

async function refreshApprovals() {
  const r = await pendingApprovals();
  const plans = r.plans || [];
  renderApprovals($('approvals').querySelector('.body'), plans, {
    caller: CALLER,
    canDecide: APPROVER,
    refresh: () => kick('approvals', 'timeline', 'live'),
  });
  note('approvals', null, `${plans.length} waiting${APPROVER ? '' : ' · your token cannot approve'}`);
}

// ---------- start ----------

const act = createActions({
  caller: CALLER,
  refresh: () => kick('live', 'timeline'),
});

function start() {
  $('who').textContent = `${CALLER} (${ACCESS})`;
  $('version').textContent = meta('qs-version');
  put($('mode'), ACTIONS.size
    ? h('span', { class: 'badge real', title: `this server runs with --console-actions: ${[...ACTIONS].join(', ')}` }, 'actions enabled')
    : h('span', { class: 'badge unk', title: 'the server runs without --console-actions (or this token is read-only): the page changes nothing' }, 'read-only console'));
  $('hide-dry').addEventListener('change', drawTimeline);
  setupCharts();
  loop('live', 2000, async () => {
    await refreshLive();
    if (!loops.has('charts')) loop('charts', () => WINDOWS[S.window], refreshCharts, 'metrics');
  }, 'fleet');
  loop('timeline', 3000, refreshTimeline);
  loop('approvals', 3000, refreshApprovals);
  loop('incidents', 15000, refreshIncidents);
  setInterval(tick, 1000);
  tick();
}

start();
