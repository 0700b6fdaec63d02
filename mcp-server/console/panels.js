// The page's panels, each a function from tool results to DOM. Text from the server is
// only ever placed as text (see dom.js).

import { h, put, putIf, badge, healthKind, dur, ago, clock, stamp, num, args, cut, ms, now } from './dom.js';

// ---------- fleet ----------

const rows = new Map(); // service → { tr, cells }
const CELLS = ['name', 'host', 'health', 'verdict', 'version', 'uptime', 'restarts', 'mem', 'err', 'p95', 'rpm', 'faults', 'act'];

/** Metric columns of the fleet table: [cell, metric_type, healthy max, alarm] (seed 001's levels). */
export const LIVE_COLUMNS = [
  ['mem', 'memory_percent', 65, 80],
  ['err', 'error_rate', 2.5, 10],
  ['p95', 'request_latency_ms', 400, 1000],
  ['rpm', 'requests_per_min', null, null],
];

function level(v, healthy, alarm) {
  if (v == null || healthy == null) return null;
  if (v > alarm) return 'bad';
  if (v > healthy) return 'warnc';
  return null;
}

function faultBadge(f) {
  const title = `${f.kind} (${f.level}-level) ${args(f.params, [])}`.trim();
  return h('span', { class: 'fault', title },
    h('b', null, f.kind), ' ',
    f.expires_at ? h('span', { 'data-countdown': f.expires_at }, left(f.expires_at)) : 'no expiry');
}

/** Time left until an ISO instant, for countdowns. */
export function left(iso) {
  const t = (ms(iso) - now()) / 1000;
  if (!Number.isFinite(t)) return '';
  return t <= 0 ? 'ending' : `${dur(t)} left`;
}

/**
 * The fleet table, updated in place (rows keyed by service) so buttons keep focus and
 * clicks land while data refreshes. view: { services, verdicts, faults, unreachable,
 * latest, colors, actions, onAction }.
 */
export function renderFleet(tbody, view) {
  const seen = new Set();
  view.services.forEach((svc, index) => {
    seen.add(svc.name);
    let row = rows.get(svc.name);
    if (!row) {
      const cells = {};
      const tr = h('tr', { 'data-service': svc.name });
      for (const c of CELLS) {
        cells[c] = h('td', { class: [`col-${c}`, ['mem', 'err', 'p95', 'rpm', 'restarts'].includes(c) && 'n'] });
        tr.append(cells[c]);
      }
      row = { tr, cells };
      rows.set(svc.name, row);
    }
    // Keep the server's order (by name) without moving rows that are already in place:
    // a moved row would swallow a click in progress.
    if (tbody.children[index] !== row.tr) tbody.insertBefore(row.tr, tbody.children[index] || null);
    const c = row.cells;
    const verdict = view.verdicts.get(svc.name);
    const faults = view.faults.get(svc.name) || [];
    row.tr.dataset.health = svc.health;
    row.tr.dataset.verdict = verdict ? verdict.status : '';
    row.tr.dataset.faults = faults.map((f) => f.kind).join(',');
    putIf(c.name, `${svc.name}|${view.colors.get(svc.name)}|${svc.role}`, () => [
      h('i', { class: `sw ${view.colors.get(svc.name) || ''}` }),
      h('span', { class: 'svc', title: `${svc.role} · ${svc.image} · container ${svc.container_id}` }, svc.name),
    ]);
    putIf(c.host, `${svc.host || ''}|${svc.unreachable || ''}`, () => (svc.unreachable
      ? h('span', { class: 'warnc', title: svc.unreachable }, svc.host)
      : svc.host || '—'));
    putIf(c.health, `${svc.health}|${svc.state}`, () => badge(svc.health, healthKind(svc.health), `container ${svc.state}`));
    putIf(c.verdict, verdict ? `${verdict.status}|${verdict.reason || ''}` : '-', () => verdict
      ? badge(verdict.status, healthKind(verdict.status), verdict.reason || (verdict.last_sample_at ? `last sample ${stamp(verdict.last_sample_at)}` : ''))
      : h('span', { class: 'dim' }, '…'));
    putIf(c.version, svc.version || '', () => svc.version || '—');
    putIf(c.uptime, svc.started_at || '', () => svc.started_at
      ? h('span', { 'data-since': svc.started_at, title: `started ${stamp(svc.started_at)}` }, dur((now() - ms(svc.started_at)) / 1000))
      : h('span', { class: 'dim' }, svc.state));
    putIf(c.restarts, String(svc.restart_count ?? ''), () => (svc.restart_count == null ? '—' : String(svc.restart_count)));
    for (const [cell, metric, healthy, alarm] of LIVE_COLUMNS) {
      const v = view.latest.get(metric)?.get(svc.name);
      putIf(c[cell], num(v), () => h('span', { class: level(v, healthy, alarm) }, num(v)));
    }
    const faultSig = view.unreachable.has(svc.name) ? 'unreachable' : faults.map((f) => f.fault_id).join(',');
    putIf(c.faults, faultSig, () => {
      if (view.unreachable.has(svc.name)) return h('span', { class: 'dim', title: 'list_faults could not read this service' }, 'unreadable');
      return faults.length ? faults.map(faultBadge) : h('span', { class: 'dim' }, 'none');
    });
    c.act.hidden = !view.actions.size;
    if (view.actions.size) {
      putIf(c.act, `${[...view.actions].join()}|${faults.length > 0}`, () => actionButtons(svc.name, faults.length > 0, view));
    }
  });
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.tr.remove();
      rows.delete(name);
    }
  }
}

function actionButtons(service, hasFaults, view) {
  const b = (action, label, title) => h('button', {
    type: 'button', class: 'act', 'data-action': action, 'data-service': service, title,
    on: { click: () => view.onAction(action, service) },
  }, label);
  return [
    view.actions.has('inject_fault') ? b('drill', 'drill…', 'start a fault drill (inject_fault with a TTL)') : null,
    view.actions.has('reset_faults') && hasFaults ? b('reset', 'end faults', 'reset_faults on this service') : null,
    view.actions.has('restart_container') ? b('restart', 'restart…', 'restart_container: dry run first, then confirm the plan') : null,
  ];
}

// ---------- anomalies ----------

function evidence(a) {
  const e = a.evidence || {};
  const parts = [`${e.metric} ${num(e.current)}`];
  if (e.alarm_threshold != null) parts.push(`alarm ${num(e.alarm_threshold)}`);
  if (e.baseline != null) parts.push(`baseline ${num(e.baseline)}`);
  if (e.slope_per_min != null) parts.push(`${e.slope_per_min >= 0 ? '+' : ''}${num(e.slope_per_min)}/min`);
  if (e.minutes_to_critical != null) parts.push(`${num(e.minutes_to_critical)} min to 90 %`);
  const codes = (e.error_codes || []).map((c) => `${c.error_code}×${c.count}`);
  const dep = e.deployment ? `after deploy ${e.deployment.from_version || '?'}→${e.deployment.to_version} by ${e.deployment.by}` : null;
  return [parts.join(' · '), codes.length ? h('div', { class: 'codes' }, codes.join(' ')) : null, dep ? h('div', { class: 'dim' }, dep) : null];
}

/** A runbook in short: title, then steps on demand. */
export function runbookSummary(rb) {
  if (!rb) return h('span', { class: 'dim' }, 'finding…');
  if (rb.error) return h('span', { class: 'dim', title: rb.error }, 'none found');
  return h('details', { class: 'rb' },
    h('summary', { title: `${rb.id} · score ${num(rb.score)}` }, rb.title),
    h('ol', null, (rb.steps || []).map((st) => h('li', null, st))),
    h('div', { class: 'dim' }, `ends in ${rb.action} · ${rb.id}`));
}

/** Open anomalies; runbookOf(anomaly) returns a runbook, {error}, or null while loading. */
export function renderAnomalies(body, detection, runbookOf) {
  const list = detection.anomalies || [];
  if (!list.length) {
    const checked = (detection.services || []).length;
    put(body, h('p', { class: 'empty-state' }, `No open anomalies across ${checked} service${checked === 1 ? '' : 's'}.`));
    return;
  }
  put(body, h('table', { class: 'grid anomalies' },
    h('thead', null, h('tr', null, ['severity', 'service · type', 'what', 'evidence', 'since', 'runbook'].map((t) => h('th', null, t)))),
    h('tbody', null, list.map((a) => h('tr', { 'data-service': a.service, 'data-type': a.anomaly_type, class: a.severity },
      h('td', null, badge(a.severity, a.severity === 'critical' ? 'bad' : 'warn'), h('div', { class: 'dim', title: 'confidence' }, `${a.confidence}%`)),
      h('td', null, h('b', null, a.service), h('div', { class: 'mono' }, a.anomaly_type),
        a.source === 'scenario' ? badge('scenario', 'unk', 'from seed --scenario, not measured') : null),
      h('td', null, a.summary),
      h('td', { class: 'ev' }, evidence(a)),
      h('td', { class: 't' }, a.evidence && a.evidence.since ? h('span', { 'data-ago': a.evidence.since, title: stamp(a.evidence.since) }, ago(a.evidence.since)) : '—'),
      h('td', { class: 'rbc' }, runbookSummary(runbookOf(a))))))));
}

// ---------- timeline: audit records and agent decisions ----------

const OUTCOME_KIND = { ok: 'ok', started: 'run', refused: 'warn', error: 'bad' };

/** Audit records and decisions, newest first; a record_decision call shows its decision. */
export function timelineEntries(audit, decisions) {
  const byId = new Map(decisions.map((d) => [d.id, d]));
  const shown = new Set();
  const out = [];
  for (const r of audit) {
    const m = r.tool === 'record_decision' && /decision (\S+)/.exec(r.detail || '');
    const dec = m ? byId.get(m[1]) : undefined;
    if (dec) shown.add(dec.id);
    out.push({ at: r['@timestamp'], audit: r, decision: dec });
  }
  for (const d of decisions) if (!shown.has(d.id)) out.push({ at: d['@timestamp'], decision: d });
  out.sort((a, b) => ms(b.at) - ms(a.at));
  return out;
}

function auditRow(r, dec) {
  const mode = r.dry_run ? badge('dry run', 'unk', r.plan_id ? `plan ${r.plan_id}` : '') : badge('real', 'real', r.plan_id ? `quoted plan ${r.plan_id}` : '');
  const argText = args(r.arguments, ['dry_run', 'plan_id', 'service', 'decision', 'agent', 'confidence', 'context']);
  return h('tr', { 'data-tool': r.tool, 'data-outcome': r.outcome, 'data-dry': String(r.dry_run), 'data-who': r.who, class: `o-${r.outcome}` },
    h('td', { class: 't', title: stamp(r['@timestamp']) }, clock(r['@timestamp'])),
    h('td', { class: 'who' }, r.who),
    h('td', { class: 'tool' }, h('span', { class: 'mono' }, r.tool), h('div', { class: 'dim' }, r.service || '')),
    h('td', { class: 'args', title: JSON.stringify(r.arguments) }, dec
      ? [h('span', { class: 'agent' }, `${dec.agent} (${dec.confidence}%): `), cut(dec.decision, 300)]
      : argText ? cut(argText, 160) : h('span', { class: 'dim' }, '—')),
    h('td', null, mode),
    h('td', null, badge(r.outcome === 'started' ? 'running' : r.outcome, OUTCOME_KIND[r.outcome] || 'unk'),
      r.duration_ms ? h('span', { class: 'dim' }, ` ${dur(r.duration_ms / 1000)}`) : null),
    h('td', { class: 'detail', title: r.detail || '' }, cut(r.detail || '', 200)));
}

function decisionRow(d) {
  return h('tr', { 'data-tool': 'decision', class: 'o-decision' },
    h('td', { class: 't', title: stamp(d['@timestamp']) }, clock(d['@timestamp'])),
    h('td', { class: 'who' }, d.agent),
    h('td', { class: 'tool' }, badge('decision', 'dec'), h('div', { class: 'dim' }, d.service)),
    h('td', { class: 'args', title: JSON.stringify(d.context) }, cut(d.decision, 300)),
    h('td', null, '—'),
    h('td', { class: 'n' }, `${d.confidence}%`),
    h('td', { class: 'detail' }, d.id));
}

export function renderTimeline(body, entries, hideDry) {
  const shown = entries.filter((e) => !(hideDry && e.audit && e.audit.dry_run)).slice(0, 150);
  if (!shown.length) {
    put(body, h('p', { class: 'empty-state' }, 'No mutating calls or decisions yet. Every call that changes something (allowed, refused, dry run or real) appears here.'));
    return;
  }
  put(body, h('table', { class: 'grid timeline' },
    h('thead', null, h('tr', null, ['time', 'who', 'tool · service', 'arguments / decision', 'mode', 'outcome', 'detail'].map((t) => h('th', null, t)))),
    h('tbody', null, shown.map((e) => (e.audit ? auditRow(e.audit, e.decision) : decisionRow(e.decision))))));
}

// ---------- remediation queue ----------

const STATUS_KIND = { pending: 'warn', executing: 'run', executed: 'ok', failed: 'bad' };

/** items: [{ exec_id, state?: ActionState, error? }] newest first. */
export function renderQueue(body, items) {
  if (!items.length) {
    put(body, h('p', { class: 'empty-state' }, 'Nothing queued with remediate in the audit trail.'));
    return;
  }
  put(body, h('table', { class: 'grid' },
    h('thead', null, h('tr', null, ['queued', 'action', 'service', 'status', 'by', 'runner output'].map((t) => h('th', null, t)))),
    h('tbody', null, items.map((it) => {
      if (!it.state) {
        return h('tr', null, h('td', { class: 'mono', colspan: 6 }, `${it.exec_id}: ${it.error || 'loading…'}`));
      }
      const a = it.state.action;
      const r = it.state.result;
      return h('tr', { 'data-exec': a.exec_id, 'data-status': a.status },
        h('td', { class: 't', title: `${a.exec_id} · ${stamp(a['@timestamp'])}` }, clock(a['@timestamp'])),
        h('td', { class: 'mono' }, a.action, a.incident_id ? h('div', { class: 'dim' }, a.incident_id) : null),
        h('td', null, a.service),
        h('td', null, badge(a.status, STATUS_KIND[a.status] || 'unk', a.executed_at ? `done ${stamp(a.executed_at)}` : ''),
          a.attempts > 1 ? h('span', { class: 'dim' }, ` ×${a.attempts}`) : null),
        h('td', { class: 'who' }, a.requested_by || '—'),
        h('td', { class: 'detail', title: a.runner_output || '' }, cut(a.runner_output || (r && r.runner_output) || '', 160)));
    }))));
}

// ---------- incidents ----------

export function incidentSummary(incidents, truncated) {
  const open = incidents.filter((i) => i.status === 'open').length;
  const mttr = incidents.map((i) => i.mttr_seconds).filter((v) => v != null).sort((a, b) => a - b);
  const median = mttr.length ? mttr[Math.floor((mttr.length - 1) / 2)] : null;
  return `${incidents.length}${truncated ? ' newest' : ''} · ${open} open · median MTTR ${median == null ? '—' : dur(median)}`;
}

export function renderIncidents(body, incidents, selected, onSelect) {
  if (!incidents.length) {
    put(body, h('p', { class: 'empty-state' }, 'No incidents recorded. Seed history with quantumstate-mcp seed; agents add theirs with record_incident.'));
    return;
  }
  put(body, h('table', { class: 'grid incidents' },
    h('thead', null, h('tr', null, ['started', 'service', 'incident', 'status', 'MTTR'].map((t) => h('th', { class: t === 'MTTR' ? 'n' : null }, t)))),
    h('tbody', null, incidents.map((i) => h('tr', { 'data-incident': i.id, class: i.id === selected ? 'sel' : null },
      h('td', { class: 't', title: stamp(i['@timestamp']) }, clock(i['@timestamp'])),
      h('td', { class: 'who' }, i.service),
      h('td', null, h('button', { type: 'button', class: 'link', title: 'show the incident and its runbook', on: { click: () => onSelect(i.id) } }, i.title),
        h('div', { class: 'mono dim' }, i.anomaly_type)),
      h('td', null, badge(i.status, i.status === 'open' ? 'bad' : 'ok')),
      h('td', { class: 'n' }, i.mttr_seconds != null ? dur(i.mttr_seconds)
        : i.status === 'open' ? h('span', { 'data-since': i['@timestamp'], class: 'dim' }, dur((now() - ms(i['@timestamp'])) / 1000)) : '—'))))));
}

/** One incident and its matching runbook (null while loading, {error} when none). */
export function renderIncidentDetail(el, i, rb) {
  if (!i) {
    put(el);
    return;
  }
  const field = (label, text) => (text ? h('div', { class: 'f' }, h('span', { class: 'k' }, label), h('span', null, text)) : null);
  const runbook = !rb ? h('p', { class: 'dim' }, 'finding the matching runbook…')
    : rb.error ? h('p', { class: 'dim' }, `no runbook: ${rb.error}`)
      : h('div', { class: 'runbook', 'data-runbook': rb.id },
        h('h4', null, 'Runbook: ', rb.title, h('span', { class: 'dim' }, ` · ${rb.id} · match ${num(rb.score)}`)),
        field('symptoms', rb.symptoms),
        field('confirm', rb.diagnosis),
        h('ol', null, (rb.steps || []).map((st) => h('li', null, st))),
        field('ends in', rb.action),
        field('verify', rb.verification));
  put(el,
    h('h3', null, i.title),
    h('div', { class: 'meta dim' }, `${i.id} · ${i.service} · ${i.anomaly_type} · ${stamp(i['@timestamp'])}${i.resolved_at ? ` → ${stamp(i.resolved_at)}` : ''}${i.source ? ` · ${i.source}` : ''}`),
    field('observed', i.description),
    field('root cause', i.root_cause),
    field('actions', i.actions_taken),
    runbook);
}
