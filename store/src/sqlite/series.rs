//! Reading a metric series: the summary (count, min, max, avg, p95, first, last, slope)
//! and a bounded, bucketed curve, from raw samples or (past six hours) the one-minute
//! rollups. Either is one ordered pass over an index, folded here: a raw sample is a cell
//! of one sample, a rollup minute a cell of many.

use rusqlite::{Connection, params};

use super::codec::{from_ms, ms};
use super::metrics::lookup_series;
use crate::query::*;
use crate::rules::{MINUTE_MS, bucket_ms, empty_summary, reads_rollups, slope};

/// A raw sample or a rollup minute: its time, sample count, sum, extremes, first and last
/// values and the time of the last.
struct Cell {
    t: i64,
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
    first: f64,
    last: f64,
    last_ts: i64,
}

impl Cell {
    fn mean(&self) -> f64 {
        self.sum / self.n as f64
    }
}

/// One bucket of the curve being folded.
struct Bucket {
    key: i64,
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
}

impl Bucket {
    fn start(key: i64, c: &Cell) -> Bucket {
        Bucket {
            key,
            n: c.n,
            sum: c.sum,
            min: c.min,
            max: c.max,
            last: c.last,
        }
    }

    fn add(&mut self, c: &Cell) {
        self.n += c.n;
        self.sum += c.sum;
        self.min = self.min.min(c.min);
        self.max = self.max.max(c.max);
        self.last = c.last;
    }

    fn point(&self, width: i64, a: Aggregation) -> Point {
        Point {
            t: from_ms(self.key * width),
            v: match a {
                Aggregation::Avg => self.sum / self.n as f64,
                Aggregation::Min => self.min,
                Aggregation::Max => self.max,
                Aggregation::Sum => self.sum,
                Aggregation::Count => self.n as f64,
                Aggregation::Last => self.last,
            },
        }
    }
}

/// Folds cells in time order into the summary and the buckets. The slope is fitted to each
/// cell's mean at its time (minutes since `origin`), the p95 is the nearest-rank p95 of
/// the cells' means.
struct Fold {
    origin: i64,
    width: i64,
    aggregation: Aggregation,
    means: Vec<f64>,
    n: u64,
    sum: f64,
    sx: f64,
    sxx: f64,
    sxy: f64,
    sy: f64,
    min: f64,
    max: f64,
    first: Option<f64>,
    last: Option<(f64, i64)>,
    bucket: Option<Bucket>,
    points: Vec<Point>,
}

impl Fold {
    fn new(origin: i64, width: i64, aggregation: Aggregation) -> Fold {
        Fold {
            origin,
            width,
            aggregation,
            means: Vec::new(),
            n: 0,
            sum: 0.0,
            sx: 0.0,
            sxx: 0.0,
            sxy: 0.0,
            sy: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: None,
            last: None,
            bucket: None,
            points: Vec::new(),
        }
    }

    fn push(&mut self, c: Cell) {
        let (x, y) = ((c.t - self.origin) as f64 / 60000.0, c.mean());
        self.sx += x;
        self.sxx += x * x;
        self.sxy += y * x;
        self.sy += y;
        self.means.push(y);
        self.n += c.n;
        self.sum += c.sum;
        self.min = self.min.min(c.min);
        self.max = self.max.max(c.max);
        self.first.get_or_insert(c.first);
        self.last = Some((c.last, c.last_ts));
        if self.width > 0 {
            let key = c.t / self.width;
            match self.bucket.as_mut() {
                Some(b) if b.key == key => b.add(&c),
                _ => {
                    if let Some(done) = self.bucket.replace(Bucket::start(key, &c)) {
                        self.points.push(done.point(self.width, self.aggregation));
                    }
                }
            }
        }
    }

    fn finish(mut self, resolution: Resolution, scenario: bool) -> MetricSeries {
        if let Some(done) = self.bucket.take() {
            self.points.push(done.point(self.width, self.aggregation));
        }
        let cells = self.means.len();
        let summary = match (self.first, self.last) {
            (Some(first), Some((last, last_ts))) if self.n > 0 => {
                let rank = (((cells as f64) * 0.95).ceil() as usize).saturating_sub(1);
                let (_, p95, _) = self.means.select_nth_unstable_by(rank, f64::total_cmp);
                MetricSummary {
                    count: self.n,
                    min: Some(self.min),
                    max: Some(self.max),
                    avg: Some(self.sum / self.n as f64),
                    p95: Some(*p95),
                    first: Some(first),
                    last: Some(last),
                    last_at: Some(from_ms(last_ts)),
                    slope_per_min: slope(cells as f64, self.sx, self.sy, self.sxx, self.sxy),
                }
            }
            _ => empty_summary(),
        };
        MetricSeries {
            bucket_seconds: if summary.count == 0 {
                0
            } else {
                self.width / 1000
            },
            points: self.points,
            summary,
            resolution,
            includes_scenario_data: scenario,
        }
    }
}

pub fn query(c: &Connection, q: &MetricQuery) -> rusqlite::Result<MetricSeries> {
    let from = ms(q.range.from);
    let to = ms(q.range.to);
    let use_rollups = reads_rollups(to - from);
    let Some(sid) = lookup_series(c, &q.service, q.metric_type)? else {
        let resolution = if use_rollups {
            Resolution::Rollup1m
        } else {
            Resolution::Raw
        };
        return Ok(Fold::new(from, 0, q.aggregation).finish(resolution, false));
    };
    if use_rollups {
        rollup_query(c, sid, from, to, q)
    } else {
        raw_query(c, sid, from, to, q)
    }
}

/// Raw samples off the covering index; the scenario flag from the partial index of
/// scenario samples.
fn raw_query(
    c: &Connection,
    sid: i64,
    from: i64,
    to: i64,
    q: &MetricQuery,
) -> rusqlite::Result<MetricSeries> {
    let width = match q.max_points {
        0 => 0,
        n => bucket_ms(to - from, n, 1_000),
    };
    let mut fold = Fold::new(from, width, q.aggregation);
    let mut st = c.prepare_cached(
        "SELECT ts, value FROM metrics WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3 ORDER BY ts",
    )?;
    let mut rows = st.query(params![sid, from, to])?;
    while let Some(r) = rows.next()? {
        let (t, v): (i64, f64) = (r.get(0)?, r.get(1)?);
        fold.push(Cell {
            t,
            n: 1,
            sum: v,
            min: v,
            max: v,
            first: v,
            last: v,
            last_ts: t,
        });
    }
    let scenario = fold.n > 0
        && c.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM metrics
             WHERE series_id = ?1 AND scenario = 1 AND ts BETWEEN ?2 AND ?3)",
        )?
        .query_row(params![sid, from, to], |r| r.get::<_, bool>(0))?;
    Ok(fold.finish(Resolution::Raw, scenario))
}

/// The one-minute rollups from the minute holding `from` on (the table is clustered by
/// series and minute).
fn rollup_query(
    c: &Connection,
    sid: i64,
    from: i64,
    to: i64,
    q: &MetricQuery,
) -> rusqlite::Result<MetricSeries> {
    let lo = from.div_euclid(MINUTE_MS) * MINUTE_MS;
    let width = match q.max_points {
        0 => 0,
        n => bucket_ms(to - lo, n, MINUTE_MS),
    };
    let mut fold = Fold::new(lo, width, q.aggregation);
    let mut scenario = false;
    let mut st = c.prepare_cached(
        "SELECT minute, n, vsum, vmin, vmax, vfirst, vlast, last_ts, scenario FROM metric_rollups
         WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3 ORDER BY minute",
    )?;
    let mut rows = st.query(params![sid, lo, to])?;
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(1)?;
        scenario |= r.get::<_, i64>(8)? != 0;
        fold.push(Cell {
            t: r.get(0)?,
            n: n.max(1) as u64,
            sum: r.get(2)?,
            min: r.get(3)?,
            max: r.get(4)?,
            first: r.get(5)?,
            last: r.get(6)?,
            last_ts: r.get(7)?,
        });
    }
    Ok(fold.finish(Resolution::Rollup1m, scenario))
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;
