// A small SVG line chart: one line per service over a time window, a dashed alarm line,
// and a crosshair readout on hover. The server has already downsampled every series to a
// few hundred points, so redrawing the whole chart on each refresh stays cheap.

import { h, s, put, num, clock } from './dom.js';

const HEIGHT = 190;
const M = { l: 44, r: 12, t: 10, b: 22 };
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const X_STEPS = [15_000, 30_000, MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY];

/** 1, 2, 2.5 or 5 × 10^k: the smallest such step ≥ raw. */
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

function tickLabel(t, step) {
  const d = new Date(t);
  if (step >= DAY) return `${d.toLocaleString('en-US', { month: 'short' })} ${d.getDate()}`;
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return step < MIN ? `${hm}:${pad2(d.getSeconds())}` : hm;
}

/** Nearest point index to t in a time-sorted series (binary search). */
function nearest(points, t) {
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < t) lo = mid;
    else hi = mid;
  }
  return Math.abs(points[lo][0] - t) <= Math.abs(points[hi][0] - t) ? lo : hi;
}

/**
 * Draws into `fig` (a <figure>). spec: { title, unit, fixedMax?, floor, alarm?, from, to,
 * series: [{ name, cls, bucketMs, points: [[tMs, v], ...] }] }.
 */
export function drawChart(fig, spec) {
  const width = Math.max(300, Math.floor(fig.clientWidth || 600));
  const pw = width - M.l - M.r;
  const ph = HEIGHT - M.t - M.b;
  const span = Math.max(1, spec.to - spec.from);
  let top = spec.floor || 1;
  for (const se of spec.series) for (const p of se.points) if (p[1] > top) top = p[1];
  if (spec.alarm && top >= spec.alarm * 0.6) top = Math.max(top, spec.alarm * 1.05);
  const yStep = spec.fixedMax ? spec.fixedMax / 4 : niceStep((top * 1.05) / 4);
  const yMax = spec.fixedMax || yStep * Math.ceil((top * 1.05) / yStep);
  const x = (t) => M.l + ((t - spec.from) / span) * pw;
  const y = (v) => M.t + ph - (Math.min(v, yMax) / yMax) * ph;

  const grid = s('g', { class: 'axis' });
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    const yy = y(v).toFixed(1);
    grid.append(
      s('line', { x1: M.l, x2: width - M.r, y1: yy, y2: yy, class: v === 0 ? 'base' : 'rule' }),
      s('text', { x: M.l - 6, y: yy, class: 'ylab', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, num(v)),
    );
  }
  const xStep = X_STEPS.find((st) => span / st <= 7) || DAY * Math.ceil(span / DAY / 7);
  const tz = new Date(spec.from).getTimezoneOffset() * MIN;
  for (let t = Math.ceil((spec.from - tz) / xStep) * xStep + tz; t <= spec.to; t += xStep) {
    const xx = x(t).toFixed(1);
    grid.append(
      s('line', { x1: xx, x2: xx, y1: M.t, y2: M.t + ph, class: 'rule v' }),
      s('text', { x: xx, y: HEIGHT - 6, class: 'xlab', 'text-anchor': 'middle' }, tickLabel(t, xStep)),
    );
  }

  const svg = s('svg', {
    class: 'chart-svg',
    viewBox: `0 0 ${width} ${HEIGHT}`,
    width,
    height: HEIGHT,
    role: 'img',
    'aria-label': `${spec.title} per service`,
  }, grid);

  if (spec.alarm && spec.alarm <= yMax) {
    const ya = y(spec.alarm).toFixed(1);
    svg.append(
      s('line', { x1: M.l, x2: width - M.r, y1: ya, y2: ya, class: 'alarm' }),
      s('text', { x: width - M.r - 2, y: Number(ya) - 3, class: 'alarm-lab', 'text-anchor': 'end' }, `alarm ${num(spec.alarm)}`),
    );
  }

  // Marks: real changes from the audit trail (drills, restarts, rollbacks...), so a line's
  // jump can be read against what was done to the fleet. Labels that would overlap move
  // down a row (three rows), else only the line is drawn (its tooltip still says what).
  const rowsEnd = [-Infinity, -Infinity, -Infinity];
  const marks = (spec.marks || []).filter((mk) => mk.t >= spec.from && mk.t <= spec.to).sort((a, b) => a.t - b.t);
  for (const mk of marks) {
    const xm = x(mk.t);
    const w = mk.label.length * 5.4 + 3;
    // Right of the line, or left of it near the right edge.
    const left = xm + 3 + w > width - M.r;
    const start = left ? xm - 3 - w : xm + 3;
    const row = rowsEnd.findIndex((end) => start > end + 3);
    const label = row >= 0
      ? s('text', { x: (left ? xm - 3 : xm + 3).toFixed(1), y: M.t + 9 + row * 11, 'text-anchor': left ? 'end' : 'start' }, mk.label)
      : null;
    if (label) rowsEnd[row] = start + w;
    svg.append(s('g', { class: `mark ${mk.cls || ''}` },
      s('title', null, mk.title || mk.label),
      s('line', { x1: xm.toFixed(1), x2: xm.toFixed(1), y1: M.t, y2: M.t + ph }),
      label));
  }

  let drawn = 0;
  for (const se of spec.series) {
    const pts = se.points;
    if (!pts.length) continue;
    drawn += 1;
    // A gap longer than a few buckets (the service was down, or not scraped) breaks the line.
    const gap = Math.max(3 * se.bucketMs, 5000);
    let d = '';
    for (let i = 0; i < pts.length; i += 1) {
      const jump = i === 0 || pts[i][0] - pts[i - 1][0] > gap;
      d += `${jump ? 'M' : 'L'}${x(pts[i][0]).toFixed(1)} ${y(pts[i][1]).toFixed(1)}`;
    }
    if (pts.length === 1) d += `h0.01`;
    const values = pts.map((p) => p[1]);
    svg.append(s('path', {
      d,
      class: `line ${se.cls}`,
      'data-service': se.name,
      'data-n': pts.length,
      'data-first': values[0],
      'data-last': values[values.length - 1],
      'data-max': Math.max(...values),
    }));
  }
  if (!drawn) {
    svg.append(s('text', { x: M.l + pw / 2, y: M.t + ph / 2, class: 'empty', 'text-anchor': 'middle' }, 'no data in this window'));
  }

  const cursor = s('line', { class: 'cursor', y1: M.t, y2: M.t + ph, x1: -10, x2: -10 });
  const hit = s('rect', { class: 'hit', x: M.l, y: M.t, width: pw, height: ph });
  svg.append(cursor, hit);
  const readout = h('div', { class: 'readout', hidden: true });

  const show = (clientX) => {
    const box = svg.getBoundingClientRect();
    const px = ((clientX - box.left) / box.width) * width;
    const t = spec.from + ((px - M.l) / pw) * span;
    const rows = [];
    for (const se of spec.series) {
      if (!se.points.length) continue;
      const p = se.points[nearest(se.points, t)];
      if (Math.abs(p[0] - t) > Math.max(3 * se.bucketMs, span / 50)) continue;
      rows.push(h('div', null, h('i', { class: `sw ${se.cls}` }), `${se.name} `, h('b', null, `${num(p[1])}${spec.unit}`)));
    }
    cursor.setAttribute('x1', px.toFixed(1));
    cursor.setAttribute('x2', px.toFixed(1));
    put(readout, h('div', { class: 'rt' }, clock(new Date(t).toISOString())), rows);
    readout.hidden = false;
    const left = px / width > 0.6;
    readout.style.left = left ? '' : `${((px + 12) / width) * 100}%`;
    readout.style.right = left ? `${((width - px + 12) / width) * 100}%` : '';
    fig.dataset.hover = String(clientX);
  };
  hit.addEventListener('mousemove', (e) => show(e.clientX));
  hit.addEventListener('mouseleave', () => {
    readout.hidden = true;
    cursor.setAttribute('x1', '-10');
    cursor.setAttribute('x2', '-10');
    delete fig.dataset.hover;
  });

  const head = h('figcaption', null, h('b', null, spec.title), spec.caption ? h('span', { class: 'cap' }, spec.caption) : null);
  put(fig, head, h('div', { class: 'plot' }, svg, readout));
  if (fig.dataset.hover) show(Number(fig.dataset.hover));
}
