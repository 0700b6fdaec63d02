// The console's only mutations (shown only when the server runs with --console-actions):
// a fault drill (inject_fault, always with a TTL), ending faults (reset_faults), and a
// restart that shows its dry-run plan before anything happens. Each is one ordinary tool
// call, so the guard, the budgets and the audit treat it like any other client's.

import { h, put, stamp, dur } from './dom.js';
import { call } from './api.js';

const KINDS = {
  memory_leak: { param: 'mb_per_second', label: 'MB per second', value: 5, min: 1, max: 500, step: 1 },
  cpu_burn: { param: 'threads', label: 'busy threads', value: 1, min: 1, max: 8, step: 1 },
  error_spike: { param: 'error_share', label: 'share of requests that fail (0–1)', value: 0.5, min: 0.05, max: 1, step: 0.05 },
  latency: { param: 'added_ms', label: 'added latency, ms', value: 800, min: 1, max: 30000, step: 50 },
};
const TTLS = [60, 120, 300, 600];
const RESTART_TIMEOUT_MS = 150_000;

const dialog = () => document.getElementById('dlg');

function show(title, ...content) {
  const d = dialog();
  put(d, h('h3', { id: 'dlg-title' }, title), content);
  if (!d.open) d.showModal();
}

function errorBox(e) {
  return h('div', { class: 'err', role: 'alert' },
    h('b', null, e.status ? `${e.status} ${e.code}: ` : `${e.code || 'error'}: `), e.message,
    e.hint ? h('div', { class: 'hint' }, e.hint) : null);
}

function closeButton(label = 'Cancel') {
  return h('button', { type: 'button', 'data-close': '', on: { click: () => dialog().close() } }, label);
}

const buttons = (...b) => h('div', { class: 'btns' }, b);

/** Returns the handler the fleet table's buttons call. */
export function createActions({ caller, refresh }) {
  const who = h('p', { class: 'dim' },
    `Runs as ${caller} through the same guardrails, restart budget and audit as any tool call.`);

  function drill(service) {
    const kind = h('select', { id: 'drill-kind' }, Object.keys(KINDS).map((k) => h('option', { value: k }, k)));
    const ttl = h('select', { id: 'drill-ttl' }, TTLS.map((t) => h('option', { value: t, selected: t === 120 }, `${t} s`)));
    const paramLabel = h('label', { for: 'drill-param' });
    const param = h('input', { type: 'number', id: 'drill-param' });
    const sync = () => {
      const k = KINDS[kind.value];
      put(paramLabel, k.label);
      Object.assign(param, { min: k.min, max: k.max, step: k.step, value: k.value });
    };
    kind.addEventListener('change', sync);
    sync();
    const status = h('div', { class: 'status', 'aria-live': 'polite' });
    const cancel = closeButton();
    const go = h('button', { type: 'button', class: 'danger', 'data-confirm': 'drill' }, 'Start drill');
    go.addEventListener('click', async () => {
      go.disabled = true;
      put(status, 'injecting…');
      const k = KINDS[kind.value];
      const body = { service, kind: kind.value, ttl_seconds: Number(ttl.value), [k.param]: Number(param.value) };
      try {
        const f = (await call('inject_fault', body, { revalidate: false })).result || {};
        put(status, h('div', { class: 'okmsg' },
          `Started ${f.kind} on ${f.service} (${f.fault_id}). It ends by itself at ${stamp(f.expires_at)}.`));
        go.hidden = true;
        put(cancel, 'Close');
      } catch (e) {
        put(status, errorBox(e));
        go.disabled = false;
      }
      refresh();
    });
    show(`Fault drill on ${service}`,
      h('p', null, 'Injects a real fault that the service itself ends after its TTL.'),
      h('div', { class: 'form' },
        h('label', { for: 'drill-kind' }, 'kind'), kind,
        paramLabel, param,
        h('label', { for: 'drill-ttl' }, 'ends after'), ttl),
      who, status, buttons(cancel, go));
  }

  function resetFaults(service) {
    const status = h('div', { class: 'status', 'aria-live': 'polite' });
    const cancel = closeButton();
    const go = h('button', { type: 'button', class: 'danger', 'data-confirm': 'reset' }, 'End faults');
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        const r = (await call('reset_faults', { service }, { revalidate: false })).result || {};
        put(status, h('div', { class: 'okmsg' }, (r.services || []).join('; ') || 'done'));
        go.hidden = true;
        put(cancel, 'Close');
      } catch (e) {
        put(status, errorBox(e));
        go.disabled = false;
      }
      refresh();
    });
    show(`End the faults on ${service}`, h('p', null, 'Stops every active fault on this service now (reset_faults).'), who, status, buttons(cancel, go));
  }

  async function restart(service) {
    const title = `Restart ${service}`;
    show(title, h('p', null, 'Asking the server for the plan (a dry run; nothing changes)…'));
    let plan;
    try {
      const r = await call('restart_container', { service, dry_run: true }, { revalidate: false });
      plan = r.plan;
    } catch (e) {
      show(title, errorBox(e), buttons(closeButton('Close')));
      refresh();
      return;
    }
    refresh();
    const status = h('div', { class: 'status', 'aria-live': 'polite' });
    const cancel = closeButton();
    const go = h('button', { type: 'button', class: 'danger', 'data-confirm': 'restart' }, 'Restart now');
    go.addEventListener('click', async () => {
      go.disabled = true;
      cancel.disabled = true;
      put(status, h('span', { class: 'spin' }), ' restarting; waiting until it answers healthy…');
      try {
        const r = await call('restart_container', { service, plan_id: plan.plan_id }, { revalidate: false, timeoutMs: RESTART_TIMEOUT_MS });
        const res = r.result || {};
        const ready = res.readiness ? `${res.readiness.ready ? 'ready' : 'not ready'} (${res.readiness.health})` : 'not waited for';
        put(status, h('div', { class: 'okmsg' }, `Restarted: ${ready}; restart count ${res.restart_count ?? '?'}.`));
        go.hidden = true;
        put(cancel, 'Close');
      } catch (e) {
        put(status, errorBox(e));
        go.disabled = false;
      }
      cancel.disabled = false;
      refresh();
    });
    show(title,
      h('p', null, 'The dry run returned this plan. Nothing has changed yet.'),
      h('div', { class: 'plan', 'data-plan': plan.plan_id },
        h('ol', null, (plan.operations || []).map((o) => h('li', null, o))),
        h('div', { class: 'f' }, h('span', { class: 'k' }, 'containers'), (plan.containers || []).join(', ')),
        h('div', { class: 'f' }, h('span', { class: 'k' }, 'downtime'), `about ${dur(plan.expected_downtime_seconds)}`),
        h('div', { class: 'f' }, h('span', { class: 'k' }, 'plan'), `${plan.plan_id}, valid until ${stamp(plan.valid_until)}`)),
      plan.approval
        ? h('p', { class: 'warnc', 'data-approval': plan.plan_id },
          'This server needs someone else to approve the plan first (Pending approvals, ',
          h('code', null, `quantumstate-mcp approve ${plan.plan_id}`), '); then restart.')
        : null,
      who, status, buttons(cancel, go));
  }

  return (action, service) => {
    if (action === 'drill') drill(service);
    else if (action === 'reset') resetFaults(service);
    else if (action === 'restart') restart(service);
  };
}
