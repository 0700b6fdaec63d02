// The operator console in a real browser: Debian's chromium driven by playwright-core.
//
// Run by tests/tests/console.rs, which brings up the fleet, the scraper (1 s) and
// `quantumstate-mcp http --token ...` on a temporary store, then starts this script with:
//   QS_URL          http://127.0.0.1:<port>
//   QS_SECRET       the token's secret; QS_TOKEN_NAME its name (the audit's "who")
//   QS_SCENARIO     watch   - read-only console: healthy fleet, a leak injected through the
//                             API as a rising memory line and an anomaly, the restart that
//                             clears it in the audit timeline
//                   actions - --console-actions: a drill and a restart from the page's buttons
//                   approve - --approval mutations, signed in as an approver: an agent's
//                             restart waits in Pending approvals, Approve, the call runs
//   QS_AGENT_SECRET the agent's token (approve only): it asks, the page's user decides
//   QS_SCREENSHOTS  directory for the PNGs (their paths are printed)
// Every wait is bounded; the script exits non-zero on the first failed expectation.

import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { chromium } from 'playwright-core';

const BASE = need('QS_URL');
const SECRET = need('QS_SECRET');
const WHO = need('QS_TOKEN_NAME');
const SCENARIO = process.env.QS_SCENARIO || 'watch';
const SHOTS = process.env.QS_SCREENSHOTS || path.resolve('screenshots');
const CHROMIUM = process.env.QS_CHROMIUM || '/usr/bin/chromium';
const SERVICES = ['auth-cache', 'auth-service', 'checkout-service', 'inventory-service', 'payment-service'];
const started = Date.now();

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set (tests/tests/console.rs sets it)`);
    process.exit(2);
  }
  return v;
}

function log(msg) {
  console.log(`[console-test ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

/** Polls `probe` (returns a truthy value when done, else falsy; may throw) until `ms`. */
async function waitFor(what, ms, probe, every = 250) {
  const begun = Date.now();
  const deadline = begun + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) {
        if (Date.now() - begun > 10_000) log(`waited ${((Date.now() - begun) / 1000).toFixed(1)} s for ${what} (last before: ${JSON.stringify(last)})`);
        return v;
      }
      last = v;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(`expected: ${what}`);
}

/** A tool call as a script makes it, with `secret`: the status and the body. */
async function post(tool, args, secret) {
  const res = await fetch(`${BASE}/api/tools/${tool}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify(args),
    signal: AbortSignal.timeout(150_000),
  });
  return [res.status, await res.json().catch(() => null)];
}

/** A tool call as a script makes it: bearer token, no console header; throws unless 2xx. */
async function api(tool, args, secret = SECRET) {
  const [status, body] = await post(tool, args, secret);
  if (status >= 300) throw new Error(`${tool} ${JSON.stringify(args)}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'qs-console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
    viewport: { width: 1440, height: 900 },
    colorScheme: 'dark',
    timeout: 30_000,
  });
  const problems = [];
  let notModified = 0;
  let refusalsExpected = false; // while a step provokes a 401 or 403 on purpose
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(15_000);
    const origin = new URL(BASE).origin;
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (refusalsExpected && /status of 40[13]/.test(m.text())) return;
      // Chromium aborts requests in flight when an interface changes, and a container
      // restart (a veth going away and coming back) is one; the page's next poll retries.
      if (m.text().includes('net::ERR_NETWORK_CHANGED')) return;
      problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(`${origin}/`)) problems.push(`request outside the server: ${u}`);
    });
    page.on('response', (r) => {
      if (r.status() === 304 && r.url().includes('/api/tools/')) notModified += 1;
    });

    const shot = async (name) => {
      const file = path.join(SHOTS, `${SCENARIO}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`console screenshot: ${file}`);
    };
    const fleetRow = (svc) => page.locator(`#fleet-table tr[data-service="${svc}"]`);
    const timelineRow = (sel) => page.locator(`#timeline tr${sel}`);

    // --- sign in ---------------------------------------------------------------------
    refusalsExpected = true;
    const refused = await page.goto(`${BASE}/`);
    refusalsExpected = false;
    expect(refused.status() === 401, `GET / without a token is 401, got ${refused.status()}`);
    expect((await page.textContent('body')).includes('needs a token'), 'the 401 page says a token is needed');
    const signedIn = await page.goto(`${BASE}/?token=${encodeURIComponent(SECRET)}`);
    expect(signedIn.status() === 200, `the console loads after the token link (${signedIn.status()})`);
    expect(page.url() === `${origin}/`, `the token is taken out of the address (${page.url()})`);
    const csp = (await signedIn.allHeaders())['content-security-policy'] || '';
    expect(csp.startsWith("default-src 'self'"), `a CSP with default-src 'self' (${csp})`);
    const cookie = (await context.cookies()).find((c) => c.name === 'qs_token');
    expect(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', `an HttpOnly SameSite=Strict qs_token cookie (${JSON.stringify(cookie)})`);
    expect(!(await page.evaluate(() => document.cookie)).includes('qs_token'), 'scripts cannot read the cookie');
    log('signed in with the token link');

    // --- the fleet, healthy --------------------------------------------------------------
    await waitFor('five healthy services in the fleet table', 90_000, async () => {
      for (const svc of SERVICES) {
        const row = fleetRow(svc);
        if ((await row.count()) !== 1) throw new Error(`${svc}: no row`);
        const health = await row.getAttribute('data-health');
        const verdict = await row.getAttribute('data-verdict');
        if (health !== 'healthy' || verdict !== 'healthy') throw new Error(`${svc}: health ${health}, analysis ${verdict}`);
      }
      return true;
    });
    await waitFor('a memory line per service', 30_000, async () => {
      const n = await page.locator('#chart-memory_percent path.line').count();
      return n === SERVICES.length;
    });
    log('five healthy services and their charts');

    const expectRefusals = (on) => {
      refusalsExpected = on;
    };
    if (SCENARIO === 'actions') await actions(page, shot, fleetRow, timelineRow);
    else if (SCENARIO === 'approve') await approve(page, shot);
    else await watch(page, shot, fleetRow, timelineRow, () => notModified, expectRefusals);

    // The window selector redraws every chart from the server's downsampled series.
    await page.click('#windows button[data-window="1h"]');
    await waitFor('charts redrawn over 1h', 20_000, async () => (await page.getAttribute('#charts', 'data-window')) === '1h'
      && (await page.locator('#chart-memory_percent path.line[data-service="payment-service"]').count()) === 1);
    const maxPoints = await page.evaluate(() => Math.max(...[...document.querySelectorAll('path.line')].map((p) => Number(p.dataset.n))));
    expect(maxPoints <= 500, `at most a few hundred points per line (${maxPoints})`);
    log(`window switched to 1h (${maxPoints} points at most per line)`);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (problems.length) throw new Error(`the page misbehaved:\n  ${problems.join('\n  ')}`);
  log(`passed (${notModified} polls answered 304)`);
}

/** An approver in the console: the agent's restart waits for them; they approve; it runs once. */
async function approve(page, shot) {
  const agent = need('QS_AGENT_SECRET');
  const svc = 'inventory-service';
  const count = async () => (await api('list_services', {})).services.find((s) => s.name === svc).restart_count;
  const before = await count();
  const [status, asked] = await post('restart_container', { service: svc }, agent);
  expect(status === 403 && asked.error.code === 'approval_required', `the agent's restart waits for approval (${status} ${JSON.stringify(asked)})`);
  const plan = asked.error.details.plan_id;
  log(`the agent asked for a restart of ${svc}: plan ${plan} is pending`);

  const row = page.locator(`#approvals tr[data-plan="${plan}"]`);
  await waitFor('the plan in Pending approvals', 15_000, async () => (await row.count()) === 1);
  const text = await row.textContent();
  expect(text.includes('agent') && text.includes('docker restart') && text.includes(svc), `the row shows who asked and what would happen (${text})`);
  expect((await page.getAttribute('meta[name="qs-approver"]', 'content')) === 'true', 'the page knows its user may approve');
  await shot('01-pending-approval');

  await row.locator(`button[data-approve="${plan}"]`).click();
  await waitFor('the plan approved and gone from the panel', 15_000, async () => (await row.count()) === 0);
  log(`approved ${plan} in the console`);

  const done = await api('restart_container', { service: svc, plan_id: plan }, agent);
  expect(done.result.readiness.ready === true, `the approved restart ran (${JSON.stringify(done)})`);
  expect((await count()) === before + 1, 'it restarted exactly once');
  const [again, used] = await post('restart_container', { service: svc, plan_id: plan }, agent);
  expect(again === 409 && used.error.code === 'plan_used', `a second use is refused (${again} ${JSON.stringify(used)})`);
  const audit = await api('list_audit', { tool: 'restart_container', outcome: 'ok' });
  const ran = audit.records.filter((r) => !r.dry_run);
  expect(ran.length === 1 && ran[0].who === 'agent' && ran[0].approved_by === WHO, `the audit names the requester and the approver (${JSON.stringify(ran)})`);
  await waitFor('the restart in the timeline', 15_000, async () => (await page.locator('#timeline tr[data-tool="restart_container"]').count()) > 0);
  await shot('02-approved-and-run');
}

/** Read-only console: a leak through the API, seen live; the restart that clears it. */
async function watch(page, shot, fleetRow, timelineRow, notModified, expectRefusals) {
  expect((await page.locator('button[data-action]').count()) === 0, 'no action buttons without --console-actions');
  expect((await page.textContent('#mode')).includes('read-only'), 'the page says it is read-only');
  expectRefusals(true);
  const [status, scriptStatus] = await page.evaluate(async () => {
    const csrf = document.querySelector('meta[name="qs-csrf"]').content;
    const body = JSON.stringify({ service: 'payment-service', kind: 'memory_leak', ttl_seconds: 30 });
    const page = await fetch('/console/api/tools/inject_fault', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-quantumstate-csrf': csrf },
      body,
    });
    // The cookie is the console's alone: the scripts' API does not take it.
    const script = await fetch('/api/tools/inject_fault', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return [page.status, script.status];
  });
  expectRefusals(false);
  expect(status === 403, `the server refuses a mutation from the page (got ${status})`);
  expect(scriptStatus === 401, `the cookie does not authenticate /api/tools (got ${scriptStatus})`);
  await waitFor('polls revalidated with 304', 20_000, () => notModified() > 0);
  await shot('01-healthy-fleet');

  const memory = page.locator('#chart-memory_percent path.line[data-service="payment-service"]');
  const before = Number(await memory.getAttribute('data-last'));
  const fault = await api('inject_fault', { service: 'payment-service', kind: 'memory_leak', ttl_seconds: 240, mb_per_second: 10 });
  log(`injected ${fault.result.fault_id} through the API; payment-service memory was ${before} %`);

  await waitFor('the leak in the fleet table with its time left', 15_000, async () => (await fleetRow('payment-service').getAttribute('data-faults')).includes('memory_leak')
    && (await fleetRow('payment-service').locator('[data-countdown]').textContent()).includes('left'));
  const rising = await waitFor('a rising memory line and a memory_leak_progressive anomaly', 75_000, async () => {
    const last = Number(await memory.getAttribute('data-last'));
    const anomaly = await page.locator('#anomalies tr[data-service="payment-service"][data-type="memory_leak_progressive"]').count();
    if (!(last >= before + 30 && anomaly === 1)) return false;
    // The line itself climbs: its last point sits well above (lower y than) its lowest.
    const ys = (await memory.getAttribute('d')).match(/[ML][\d.]+ [\d.]+/g).map((p) => Number(p.split(' ')[1]));
    return ys[ys.length - 1] < Math.max(...ys) - 40 ? { last, points: ys.length } : false;
  });
  log(`memory line rose to ${rising.last} % (${rising.points} points); the anomaly is listed`);
  await page.locator('#anomalies details.rb summary').first().waitFor({ state: 'visible' });
  await shot('02-leak-detected');

  const plan = await api('restart_container', { service: 'payment-service', dry_run: true });
  const restarted = await api('restart_container', { service: 'payment-service', plan_id: plan.plan.plan_id });
  log(`restarted payment-service through the API (restart count ${restarted.result && restarted.result.restart_count})`);
  await waitFor('the real restart and its dry run in the timeline, by the token', 30_000, async () => (await timelineRow(`[data-tool="restart_container"][data-dry="false"][data-outcome="ok"][data-who="${WHO}"]`).count()) >= 1
    && (await timelineRow(`[data-tool="restart_container"][data-dry="true"][data-outcome="ok"]`).count()) >= 1
    && (await timelineRow(`[data-tool="inject_fault"][data-outcome="ok"][data-who="${WHO}"]`).count()) >= 1);
  await waitFor('payment-service back: restarted, no fault, memory down', 45_000, async () => {
    const row = fleetRow('payment-service');
    return (await row.getAttribute('data-health')) === 'healthy'
      && (await row.getAttribute('data-faults')) === ''
      && Number(await row.locator('td.col-restarts').textContent()) >= 1
      && Number(await memory.getAttribute('data-last')) < 40;
  });
  log('the restart cleared the leak, and the timeline shows it');
  await shot('03-restart-in-audit');
}

/** --console-actions: a fault drill and a restart from the page, audited as the token. */
async function actions(page, shot, fleetRow, timelineRow) {
  // checkout-service: no other service depends on it, so its restart degrades no one.
  const svc = 'checkout-service';
  expect((await page.textContent('#mode')).includes('actions enabled'), 'the page says actions are enabled');
  await page.click(`button[data-action="drill"][data-service="${svc}"]`);
  await page.locator('#dlg[open]').waitFor();
  await page.selectOption('#drill-kind', 'latency');
  await page.fill('#drill-param', '300');
  await page.selectOption('#drill-ttl', '120');
  await page.click('[data-confirm="drill"]');
  await page.locator('#dlg .okmsg').waitFor({ timeout: 20_000 });
  expect((await page.textContent('#dlg .okmsg')).includes('Started latency'), 'the drill started');
  await waitFor('the drill in the fleet table', 15_000, async () => (await fleetRow(svc).getAttribute('data-faults')).includes('latency'));
  await shot('04-drill-started');
  await page.click('#dlg [data-close]');
  log('drill started from the page');

  await page.click(`button[data-action="restart"][data-service="${svc}"]`);
  await page.locator('#dlg .plan').waitFor({ timeout: 20_000 });
  const plan = await page.textContent('#dlg .plan');
  expect(plan.includes(`docker restart ${svc}`), `the dry-run plan is shown first (${plan})`);
  await shot('05-restart-plan');
  await page.click('[data-confirm="restart"]');
  await page.locator('#dlg .okmsg').waitFor({ timeout: 120_000 });
  expect((await page.textContent('#dlg .okmsg')).includes('Restarted'), 'the restart finished');
  await page.click('#dlg [data-close]');
  log('restarted from the page after its plan');

  await waitFor('drill, dry run and restart in the timeline, by the token', 30_000, async () => (await timelineRow(`[data-tool="inject_fault"][data-outcome="ok"][data-who="${WHO}"]`).count()) >= 1
    && (await timelineRow(`[data-tool="restart_container"][data-dry="true"][data-who="${WHO}"]`).count()) >= 1
    && (await timelineRow(`[data-tool="restart_container"][data-dry="false"][data-outcome="ok"][data-who="${WHO}"]`).count()) >= 1);
  await waitFor('the restart cleared the drill', 30_000, async () => (await fleetRow(svc).getAttribute('data-faults')) === ''
    && (await fleetRow(svc).getAttribute('data-health')) === 'healthy');
  await shot('06-actions-in-audit');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`console test failed: ${e.stack || e}`);
    process.exit(1);
  },
);
