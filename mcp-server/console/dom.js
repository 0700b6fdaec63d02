// DOM building and formatting. Every string from the server becomes a text node or an
// attribute value, never markup: tool results carry untrusted text (logs, agent words).

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(el, attrs, kids) {
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'class') {
        el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  for (const k of kids.flat(Infinity)) {
    if (k == null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

/** An HTML element: h('td', {class: 'n'}, 'text', child, ...). */
export const h = (tag, attrs, ...kids) => fill(document.createElement(tag), attrs, kids);
/** An SVG element. */
export const s = (tag, attrs, ...kids) => fill(document.createElementNS(SVG_NS, tag), attrs, kids);

/** Replaces an element's children. */
export function put(el, ...kids) {
  el.replaceChildren();
  fill(el, null, kids);
}

/** Replaces children only when `sig` changed since the last call (keeps focus and hover). */
export function putIf(el, sig, build) {
  if (el.dataset.sig === sig) return false;
  el.dataset.sig = sig;
  put(el, build());
  return true;
}

// ---------- time: the server's clock, from the Date header of its replies ----------

let skew = 0;

/** Learns the server's clock from a Date header (1 s resolution, so only big moves count). */
export function noteServerDate(value) {
  const t = Date.parse(value || '');
  if (Number.isNaN(t)) return;
  const estimate = t + 500 - Date.now();
  if (Math.abs(estimate - skew) > 1500) skew = estimate;
}

export const now = () => Date.now() + skew;
export const ms = (iso) => (iso ? Date.parse(iso) : NaN);

/** 45s, 12m 03s, 3h 12m, 2d 4h. */
export function dur(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '—';
  const t = Math.max(0, Math.round(seconds));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m ${String(t % 60).padStart(2, '0')}s`;
  if (t < 86400) return `${Math.floor(t / 3600)}h ${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(t / 86400)}d ${Math.floor((t % 86400) / 3600)}h`;
}

/** Coarse age: 4s ago, 12m ago, 3h ago, 2d ago. */
export function ago(iso) {
  const t = (now() - ms(iso)) / 1000;
  if (!Number.isFinite(t)) return '—';
  if (t < 2) return 'now';
  if (t < 60) return `${Math.round(t)}s ago`;
  if (t < 3600) return `${Math.floor(t / 60)}m ago`;
  if (t < 86400) return `${Math.floor(t / 3600)}h ago`;
  return `${Math.floor(t / 86400)}d ago`;
}

const pad = (n) => String(n).padStart(2, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Local time: 14:03:07 today, else 'Nov 20 14:03'. */
export function clock(iso) {
  const d = new Date(ms(iso));
  if (Number.isNaN(d.getTime())) return '—';
  const today = new Date(now());
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === today.toDateString()) return `${hm}:${pad(d.getSeconds())}`;
  return `${MONTHS[d.getMonth()]} ${d.getDate()} ${hm}`;
}

/** Full local timestamp for tooltips. */
export function stamp(iso) {
  const d = new Date(ms(iso));
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} (local)`;
}

/** A number with sensible precision; '—' when there is none. */
export function num(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 10000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

/** Tool arguments as `key=value` pairs, without the ones shown elsewhere. */
export function args(obj, skip = ['dry_run', 'plan_id']) {
  if (obj == null || typeof obj !== 'object') return obj == null ? '' : String(obj);
  return Object.entries(obj)
    .filter(([k, v]) => !skip.includes(k) && v != null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** Cuts text to `n` characters with an ellipsis. */
export function cut(text, n) {
  const t = text == null ? '' : String(text);
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** A coloured word: badge('healthy', 'ok'). */
export const badge = (text, kind, title) => h('span', { class: ['badge', kind], title }, text);

/** The badge kind of a health word. */
export function healthKind(word) {
  const w = String(word || '').toLowerCase();
  if (w === 'healthy') return 'ok';
  if (w === 'degraded' || w === 'starting' || w === 'anomalous') return 'warn';
  if (w.startsWith('down') || w === 'unhealthy' || w === 'exited' || w === 'dead') return 'bad';
  return 'unk';
}
