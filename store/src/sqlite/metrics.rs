//! Metrics in SQLite: an indexed time series per (service, metric type), one-minute
//! rollups kept current on insert, and summaries and downsampling computed in SQL.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{from_ms, ms};
use crate::model::{Metric, MetricType};
use crate::query::*;

/// Windows longer than this are answered from the one-minute rollups.
pub const RAW_MAX_WINDOW_MS: i64 = 6 * 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// (service, metric type) → series id, so inserts skip a lookup.
#[derive(Default)]
pub struct SeriesCache {
    ids: HashMap<(String, MetricType), (i64, String)>,
}

impl SeriesCache {
    pub fn clear(&mut self) {
        self.ids.clear();
    }
}

fn series_id(
    tx: &Transaction<'_>,
    cache: &Mutex<SeriesCache>,
    m: &Metric,
) -> rusqlite::Result<i64> {
    let key = (m.service.clone(), m.metric_type);
    {
        let c = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, region)) = c.ids.get(&key)
            && *region == m.region
        {
            return Ok(*id);
        }
    }
    let id: i64 = tx.query_row(
        "INSERT INTO series (service, metric_type, region, unit) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (service, metric_type) DO UPDATE SET region = excluded.region
         RETURNING id",
        params![
            m.service,
            m.metric_type.as_str(),
            m.region,
            m.metric_type.unit()
        ],
        |r| r.get(0),
    )?;
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .ids
        .insert(key, (id, m.region.clone()));
    Ok(id)
}

const UPSERT_ROLLUP: &str = "INSERT INTO metric_rollups
        (series_id, minute, n, vsum, vmin, vmax, vfirst, first_ts, vlast, last_ts, scenario)
    VALUES (?1, ?2, 1, ?3, ?3, ?3, ?3, ?4, ?3, ?4, ?5)
    ON CONFLICT (series_id, minute) DO UPDATE SET
        n = n + 1,
        vsum = vsum + excluded.vsum,
        vmin = min(vmin, excluded.vmin),
        vmax = max(vmax, excluded.vmax),
        vfirst = CASE WHEN excluded.first_ts < first_ts THEN excluded.vfirst ELSE vfirst END,
        first_ts = min(first_ts, excluded.first_ts),
        vlast = CASE WHEN excluded.last_ts >= last_ts THEN excluded.vlast ELSE vlast END,
        last_ts = max(last_ts, excluded.last_ts),
        scenario = max(scenario, excluded.scenario)";

/// Inserts samples (non-finite values are not measurements and are skipped) and keeps the
/// rollups current. Returns how many were stored.
pub fn insert(
    tx: &Transaction<'_>,
    cache: &Mutex<SeriesCache>,
    docs: &[Metric],
) -> rusqlite::Result<usize> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO metrics (series_id, ts, value, scenario) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut roll = tx.prepare_cached(UPSERT_ROLLUP)?;
    let mut n = 0;
    for m in docs {
        if !m.value.is_finite() {
            continue;
        }
        let sid = series_id(tx, cache, m)?;
        let ts = ms(m.timestamp);
        let scenario = i64::from(m.source.as_deref() == Some("scenario"));
        ins.execute(params![sid, ts, m.value, scenario])?;
        roll.execute(params![
            sid,
            ts.div_euclid(MINUTE_MS) * MINUTE_MS,
            m.value,
            ts,
            scenario
        ])?;
        n += 1;
    }
    Ok(n)
}

fn lookup_series(c: &Connection, service: &str, mt: MetricType) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM series WHERE service = ?1 AND metric_type = ?2")?
        .query_row(params![service, mt.as_str()], |r| r.get(0))
        .optional()
}

/// Bucket width (ms) so that an epoch-aligned series over `span_ms` has at most `n` points.
fn bucket_ms(span_ms: i64, n: usize, granule: i64) -> i64 {
    let raw = if n <= 1 {
        span_ms + 1
    } else {
        (span_ms + (n as i64 - 2)) / (n as i64 - 1)
    };
    let raw = raw.max(granule);
    // Whole granules, so buckets never split a rollup minute or a second.
    (raw + granule - 1) / granule * granule
}

fn empty_summary() -> MetricSummary {
    MetricSummary {
        count: 0,
        min: None,
        max: None,
        avg: None,
        p95: None,
        first: None,
        last: None,
        last_at: None,
        slope_per_min: None,
    }
}

/// One aggregate row: sample count, the number of (x, y) points behind the slope sums
/// (samples for raw data, minutes for rollups), extremes, sums and the scenario flag.
struct Agg {
    n: i64,
    points: i64,
    min: Option<f64>,
    max: Option<f64>,
    sum: f64,
    sx: f64,
    sxx: f64,
    sxy: f64,
    sy: f64,
    scenario: bool,
}

impl Agg {
    /// Reads the ten columns every aggregate query selects, in this order.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Agg> {
        Ok(Agg {
            n: r.get(0)?,
            points: r.get(1)?,
            min: r.get(2)?,
            max: r.get(3)?,
            sum: r.get(4)?,
            sx: r.get(5)?,
            sxx: r.get(6)?,
            sxy: r.get(7)?,
            sy: r.get(8)?,
            scenario: r.get::<_, i64>(9)? != 0,
        })
    }

    fn slope(&self) -> Option<f64> {
        slope(self.points as f64, self.sx, self.sy, self.sxx, self.sxy)
    }
}

/// Least-squares slope from sums over x (minutes) and y.
fn slope(n: f64, sx: f64, sy: f64, sxx: f64, sxy: f64) -> Option<f64> {
    if n < 2.0 {
        return None;
    }
    let den = n * sxx - sx * sx;
    if den.abs() < 1e-12 {
        return None;
    }
    Some((n * sxy - sx * sy) / den)
}

pub fn query(c: &Connection, q: &MetricQuery) -> rusqlite::Result<MetricSeries> {
    let from = ms(q.range.from);
    let to = ms(q.range.to);
    let use_rollups = to - from > RAW_MAX_WINDOW_MS;
    let Some(sid) = lookup_series(c, &q.service, q.metric_type)? else {
        return Ok(MetricSeries {
            summary: empty_summary(),
            points: Vec::new(),
            bucket_seconds: 0,
            resolution: if use_rollups {
                Resolution::Rollup1m
            } else {
                Resolution::Raw
            },
            includes_scenario_data: false,
        });
    };
    if use_rollups {
        rollup_query(c, sid, from, to, q)
    } else {
        raw_query(c, sid, from, to, q)
    }
}

fn raw_query(
    c: &Connection,
    sid: i64,
    from: i64,
    to: i64,
    q: &MetricQuery,
) -> rusqlite::Result<MetricSeries> {
    let agg = c
        .prepare_cached(
            "SELECT count(*), count(*), min(value), max(value), total(value),
                    total((ts - ?2) / 60000.0), total(((ts - ?2) / 60000.0) * ((ts - ?2) / 60000.0)),
                    total(value * ((ts - ?2) / 60000.0)), total(value), coalesce(max(scenario), 0)
             FROM metrics WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3",
        )?
        .query_row(params![sid, from, to], Agg::read)?;
    let n = agg.n;
    let mut summary = empty_summary();
    if n > 0 {
        let edge = |order: &str| -> rusqlite::Result<(f64, i64)> {
            c.prepare_cached(&format!(
                "SELECT value, ts FROM metrics WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3
                 ORDER BY ts {order} LIMIT 1"
            ))?
            .query_row(params![sid, from, to], |r| Ok((r.get(0)?, r.get(1)?)))
        };
        let (first, _) = edge("ASC")?;
        let (last, last_ts) = edge("DESC")?;
        let rank = ((n as f64) * 0.95).ceil() as i64 - 1;
        let p95: f64 = c
            .prepare_cached(
                "SELECT value FROM metrics WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3
                 ORDER BY value LIMIT 1 OFFSET ?4",
            )?
            .query_row(params![sid, from, to, rank.max(0)], |r| r.get(0))?;
        summary = MetricSummary {
            count: n as u64,
            min: agg.min,
            max: agg.max,
            avg: Some(agg.sum / n as f64),
            p95: Some(p95),
            first: Some(first),
            last: Some(last),
            last_at: Some(from_ms(last_ts)),
            slope_per_min: agg.slope(),
        };
    }
    let (points, bucket) = if q.max_points == 0 || n == 0 {
        (Vec::new(), 0)
    } else {
        let b = bucket_ms(to - from, q.max_points, 1_000);
        let expr = match q.aggregation {
            Aggregation::Avg => "avg(value)",
            Aggregation::Min => "min(value)",
            Aggregation::Max => "max(value)",
            Aggregation::Sum => "total(value)",
            Aggregation::Count => "count(*)",
            // SQLite returns the bare column from the row holding max(ts).
            Aggregation::Last => "value, max(ts)",
        };
        let sql = format!(
            "SELECT ts / ?4 AS k, {expr} FROM metrics
             WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3 GROUP BY k ORDER BY k"
        );
        let mut st = c.prepare_cached(&sql)?;
        let rows = st.query_map(params![sid, from, to, b], |r| {
            Ok(Point {
                t: from_ms(r.get::<_, i64>(0)? * b),
                v: r.get::<_, f64>(1)?,
            })
        })?;
        (rows.collect::<rusqlite::Result<Vec<_>>>()?, b / 1000)
    };
    Ok(MetricSeries {
        summary,
        points,
        bucket_seconds: bucket,
        resolution: Resolution::Raw,
        includes_scenario_data: agg.scenario,
    })
}

fn rollup_query(
    c: &Connection,
    sid: i64,
    from: i64,
    to: i64,
    q: &MetricQuery,
) -> rusqlite::Result<MetricSeries> {
    let lo = from.div_euclid(MINUTE_MS) * MINUTE_MS;
    let agg = c
        .prepare_cached(
            "SELECT coalesce(sum(n), 0), count(*), min(vmin), max(vmax), total(vsum),
                    total((minute - ?2) / 60000.0), total(((minute - ?2) / 60000.0) * ((minute - ?2) / 60000.0)),
                    total((vsum / n) * ((minute - ?2) / 60000.0)), total(vsum / n), coalesce(max(scenario), 0)
             FROM metric_rollups WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3",
        )?
        .query_row(params![sid, lo, to], Agg::read)?;
    let (n, minutes) = (agg.n, agg.points);
    let mut summary = empty_summary();
    if n > 0 {
        let (first,): (f64,) = c
            .prepare_cached(
                "SELECT vfirst FROM metric_rollups WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3
                 ORDER BY minute ASC LIMIT 1",
            )?
            .query_row(params![sid, lo, to], |r| Ok((r.get(0)?,)))?;
        let (last, last_ts): (f64, i64) = c
            .prepare_cached(
                "SELECT vlast, last_ts FROM metric_rollups WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3
                 ORDER BY minute DESC LIMIT 1",
            )?
            .query_row(params![sid, lo, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let rank = ((minutes as f64) * 0.95).ceil() as i64 - 1;
        let p95: f64 = c
            .prepare_cached(
                "SELECT vsum / n AS mean FROM metric_rollups WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3
                 ORDER BY mean LIMIT 1 OFFSET ?4",
            )?
            .query_row(params![sid, lo, to, rank.max(0)], |r| r.get(0))?;
        summary = MetricSummary {
            count: n as u64,
            min: agg.min,
            max: agg.max,
            avg: Some(agg.sum / n as f64),
            p95: Some(p95),
            first: Some(first),
            last: Some(last),
            last_at: Some(from_ms(last_ts)),
            slope_per_min: agg.slope(),
        };
    }
    let (points, bucket) = if q.max_points == 0 || n == 0 {
        (Vec::new(), 0)
    } else {
        let b = bucket_ms(to - lo, q.max_points, MINUTE_MS);
        let expr = match q.aggregation {
            Aggregation::Avg => "total(vsum) / sum(n)",
            Aggregation::Min => "min(vmin)",
            Aggregation::Max => "max(vmax)",
            Aggregation::Sum => "total(vsum)",
            Aggregation::Count => "sum(n)",
            Aggregation::Last => "vlast, max(last_ts)",
        };
        let sql = format!(
            "SELECT minute / ?4 AS k, {expr} FROM metric_rollups
             WHERE series_id = ?1 AND minute BETWEEN ?2 AND ?3 GROUP BY k ORDER BY k"
        );
        let mut st = c.prepare_cached(&sql)?;
        let rows = st.query_map(params![sid, lo, to, b], |r| {
            Ok(Point {
                t: from_ms(r.get::<_, i64>(0)? * b),
                v: r.get::<_, f64>(1)?,
            })
        })?;
        (rows.collect::<rusqlite::Result<Vec<_>>>()?, b / 1000)
    };
    Ok(MetricSeries {
        summary,
        points,
        bucket_seconds: bucket,
        resolution: Resolution::Rollup1m,
        includes_scenario_data: agg.scenario,
    })
}

/// Raw samples in time order; when more than `limit` match, the newest `limit`.
pub fn samples(
    c: &Connection,
    service: &str,
    mt: MetricType,
    range: TimeRange,
    limit: usize,
) -> rusqlite::Result<Vec<Point>> {
    let Some(sid) = lookup_series(c, service, mt)? else {
        return Ok(Vec::new());
    };
    let mut st = c.prepare_cached(
        "SELECT ts, value FROM metrics WHERE series_id = ?1 AND ts BETWEEN ?2 AND ?3
         ORDER BY ts DESC LIMIT ?4",
    )?;
    let rows = st.query_map(
        params![sid, ms(range.from), ms(range.to), limit as i64],
        |r| {
            Ok(Point {
                t: from_ms(r.get(0)?),
                v: r.get(1)?,
            })
        },
    )?;
    let mut v = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    v.reverse();
    Ok(v)
}

/// Services with a sample since `since`, and their newest sample time, by name.
pub fn services(
    c: &Connection,
    since: DateTime<Utc>,
) -> rusqlite::Result<Vec<(String, DateTime<Utc>)>> {
    let mut st = c.prepare_cached(
        "SELECT s.service, max((SELECT max(ts) FROM metrics m WHERE m.series_id = s.id)) AS last
         FROM series s GROUP BY s.service HAVING last >= ?1 ORDER BY s.service",
    )?;
    let rows = st.query_map(params![ms(since)], |r| {
        Ok((r.get::<_, String>(0)?, from_ms(r.get(1)?)))
    })?;
    rows.collect()
}

pub fn retain(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    r: Retention,
) -> rusqlite::Result<RetentionReport> {
    let raw = tx.execute("DELETE FROM metrics WHERE ts < ?1", [ms(now - r.raw)])? as u64;
    let roll = tx.execute(
        "DELETE FROM metric_rollups WHERE minute < ?1",
        [ms(now - r.rollups)],
    )? as u64;
    Ok(RetentionReport {
        raw_metrics_deleted: raw,
        rollups_deleted: roll,
        logs_deleted: 0,
    })
}

/// Deletes one service's scenario samples and rebuilds the rollup minutes they touched.
pub fn delete_scenario(tx: &Transaction<'_>, service: &str) -> rusqlite::Result<u64> {
    let span: Option<(i64, i64)> = tx
        .query_row(
            "SELECT min(ts), max(ts) FROM metrics
             WHERE scenario = 1 AND series_id IN (SELECT id FROM series WHERE service = ?1)",
            [service],
            |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
        )
        .map(|(a, b)| a.zip(b))?;
    let Some((lo, hi)) = span else {
        return Ok(0);
    };
    let lo = lo.div_euclid(MINUTE_MS) * MINUTE_MS;
    let hi = hi.div_euclid(MINUTE_MS) * MINUTE_MS + MINUTE_MS - 1;
    let deleted = tx.execute(
        "DELETE FROM metrics WHERE scenario = 1 AND series_id IN (SELECT id FROM series WHERE service = ?1)",
        [service],
    )? as u64;
    tx.execute(
        "DELETE FROM metric_rollups WHERE series_id IN (SELECT id FROM series WHERE service = ?1)
         AND minute BETWEEN ?2 AND ?3",
        params![service, lo, hi],
    )?;
    let mut roll = tx.prepare_cached(UPSERT_ROLLUP)?;
    let mut st = tx.prepare(
        "SELECT series_id, ts, value, scenario FROM metrics
         WHERE series_id IN (SELECT id FROM series WHERE service = ?1) AND ts BETWEEN ?2 AND ?3",
    )?;
    let rows = st.query_map(params![service, lo, hi], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    for row in rows {
        let (sid, ts, v, sc) = row?;
        roll.execute(params![
            sid,
            ts.div_euclid(MINUTE_MS) * MINUTE_MS,
            v,
            ts,
            sc
        ])?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_never_exceed_max_points() {
        for span in [0_i64, 999, 60_000, 3_600_000, 86_400_000, 2_592_000_000] {
            for n in [1_usize, 2, 7, 100, 2000] {
                let b = bucket_ms(span, n, 1000);
                let worst = span / b + 1;
                assert!(
                    worst as usize <= n.max(1),
                    "span {span} n {n} b {b} gives {worst}"
                );
                assert_eq!(b % 1000, 0);
            }
        }
    }

    #[test]
    fn slope_of_a_line() {
        // y = 2x + 1 at x = 0..4
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let (n, sx, sy, sxx, sxy) = xs.iter().fold((0.0, 0.0, 0.0, 0.0, 0.0), |a, &x| {
            let y = 2.0 * x + 1.0;
            (a.0 + 1.0, a.1 + x, a.2 + y, a.3 + x * x, a.4 + x * y)
        });
        assert!((slope(n, sx, sy, sxx, sxy).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(slope(1.0, 0.0, 1.0, 0.0, 0.0), None);
    }
}
