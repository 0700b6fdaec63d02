// Tool calls: POST /console/api/tools/{name} (the same tools every client calls, as this
// browser's signed-in token; the HttpOnly cookie signs in the console's routes only, and
// every POST carries the page's CSRF token). Reads revalidate with If-None-Match, so an
// unchanged result is a 304 with no body and the page skips redrawing it.

import { noteServerDate } from './dom.js';

/** Marks the page's calls: the server refuses their mutations without --console-actions. */
const CONSOLE_HEADER = 'x-quantumstate-console';
const CSRF_HEADER = 'x-quantumstate-csrf';
const CSRF = (document.querySelector('meta[name="qs-csrf"]') || {}).content || '';
const TIMEOUT_MS = 90_000;
const MAX_REMEMBERED = 400;

const remembered = new Map(); // call key → { etag, value }
const listeners = new Set();

export const stats = { calls: 0, notModified: 0, failures: 0 };

/** A tool error (or a transport failure, status 0) with the server's message and hint. */
export class ToolError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'unreachable' : 'error');
    this.hint = e.hint || '';
  }
}

/** Called with 'ok', 'unauthorized' or 'unreachable' after each call. */
export function onStatus(fn) {
  listeners.add(fn);
}

function tell(status) {
  for (const fn of listeners) fn(status);
}

/**
 * Calls a tool. Returns its structured result; the very same object as last time when the
 * server answered 304 (callers compare by identity to skip work). Throws ToolError.
 */
export async function call(tool, args = {}, { revalidate = true, timeoutMs = TIMEOUT_MS } = {}) {
  const key = `${tool} ${JSON.stringify(args)}`;
  const prev = revalidate ? remembered.get(key) : undefined;
  const headers = { 'content-type': 'application/json', [CONSOLE_HEADER]: '1', [CSRF_HEADER]: CSRF };
  if (prev) headers['if-none-match'] = prev.etag;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  stats.calls += 1;
  let res;
  try {
    res = await fetch(`/console/api/tools/${encodeURIComponent(tool)}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(args),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: abort.signal,
    });
  } catch (e) {
    stats.failures += 1;
    tell('unreachable');
    const why = e && e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : 'the server is unreachable';
    throw new ToolError(0, { error: { code: 'unreachable', message: `${tool}: ${why}` } });
  } finally {
    clearTimeout(timer);
  }
  noteServerDate(res.headers.get('date'));
  if (res.status === 304 && prev) {
    stats.notModified += 1;
    tell('ok');
    return prev.value;
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: { code: 'bad_reply', message: `${tool}: HTTP ${res.status}, not JSON` } };
  }
  if (res.status === 401) {
    tell('unauthorized');
    throw new ToolError(401, body);
  }
  tell('ok');
  if (!res.ok) {
    stats.failures += 1;
    throw new ToolError(res.status, body);
  }
  const etag = res.headers.get('etag');
  if (revalidate && etag) {
    if (remembered.size >= MAX_REMEMBERED) remembered.clear();
    remembered.set(key, { etag, value: body });
  }
  return body;
}

/** A JSON request to one of the console's own routes (approvals); throws ToolError. */
async function request(method, path, body) {
  const headers = { [CONSOLE_HEADER]: '1', [CSRF_HEADER]: CSRF };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    tell('unreachable');
    throw new ToolError(0, { error: { code: 'unreachable', message: `${path}: the server is unreachable` } });
  }
  noteServerDate(res.headers.get('date'));
  let parsed;
  try {
    parsed = await res.json();
  } catch {
    parsed = { error: { code: 'bad_reply', message: `${path}: HTTP ${res.status}, not JSON` } };
  }
  if (res.status === 401) {
    tell('unauthorized');
    throw new ToolError(401, parsed);
  }
  tell('ok');
  if (!res.ok) throw new ToolError(res.status, parsed);
  return parsed;
}

/** Plans waiting for a human's decision. */
export function pendingApprovals() {
  return request('GET', '/console/api/approvals?status=pending&limit=50');
}

/** Approves or denies a plan as this browser's token. */
export function decide(planId, decision, note) {
  return request('POST', `/console/api/approvals/${encodeURIComponent(planId)}`, note ? { decision, note } : { decision });
}
