// The "Pending approvals" panel: plans waiting for a human's yes (what, on which
// containers, the expected downtime, who asked and why), with Approve and Deny for a
// signed-in approver who did not ask for them. A decision is one POST to the server,
// which checks the approve scope and that the approver is not the requester.

import { h, put, stamp, dur } from './dom.js';
import { decide } from './api.js';

function why(plan) {
  const a = plan.arguments || {};
  return a.reason || a.kind || '';
}

function targets(plan) {
  return (plan.targets || []).map((t) => `${t.service} (${t.container_id})`).join(', ');
}

/** Draws the plans; `canDecide` says whether this browser holds the approve scope. */
export function renderApprovals(body, plans, { caller, canDecide, refresh }) {
  if (!plans.length) {
    put(body, h('p', { class: 'empty-state' }, 'No plan is waiting for approval.'));
    return;
  }
  put(body, h('table', { class: 'grid' },
    h('thead', null, h('tr', null,
      ['plan', 'tool', 'targets', 'operations', 'downtime', 'asked by', 'why', 'expires', ''].map((t) => h('th', null, t)))),
    h('tbody', null, plans.map((p) => {
      const status = h('div', { class: 'status', 'aria-live': 'polite' });
      const own = p.requester === caller;
      const act = (decision) => async (ev) => {
        ev.target.disabled = true;
        try {
          await decide(p.id, decision);
          put(status, h('span', { class: 'okmsg' }, decision === 'approve' ? 'approved' : 'denied'));
        } catch (e) {
          put(status, h('span', { class: 'err', title: e.hint || '' }, `${e.code}: ${e.message}`));
          ev.target.disabled = false;
        }
        refresh();
      };
      const buttons = canDecide && !own
        ? h('div', { class: 'btns' },
          h('button', { type: 'button', class: 'danger', 'data-approve': p.id, on: { click: act('approve') } }, 'Approve'),
          h('button', { type: 'button', 'data-deny': p.id, on: { click: act('deny') } }, 'Deny'))
        : h('span', { class: 'dim' }, own ? 'your own request' : 'an approver decides');
      return h('tr', { 'data-plan': p.id, 'data-tool': p.tool },
        h('td', { class: 'mono', title: stamp(p['@timestamp']) }, p.id),
        h('td', { class: 'mono' }, p.tool, p.takes_capacity ? h('div', { class: 'dim' }, 'takes capacity away') : null),
        h('td', null, targets(p) || p.service || '—'),
        h('td', null, h('ul', { class: 'ops' }, (p.operations || []).map((o) => h('li', null, o)))),
        h('td', null, dur(p.expected_downtime_seconds || 0)),
        h('td', { class: 'who' }, p.requester),
        h('td', null, why(p) || h('span', { class: 'dim' }, '—')),
        h('td', { class: 't', title: stamp(p.expires_at) }, stamp(p.expires_at)),
        h('td', null, buttons, status));
    }))));
}
