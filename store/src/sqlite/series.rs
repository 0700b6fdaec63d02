//! Reading a metric series: the summary (count, min, max, avg, p95, first, last, slope)
//! and a bounded, bucketed curve, from raw samples or (past six hours) the one-minute
//! rollups, aggregated in SQL.

use rusqlite::{Connection, params};

use super::codec::{from_ms, ms};
use super::metrics::lookup_series;
use crate::query::*;
use crate::rules::{MINUTE_MS, bucket_ms, empty_summary, reads_rollups, slope};

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

pub fn query(c: &Connection, q: &MetricQuery) -> rusqlite::Result<MetricSeries> {
    let from = ms(q.range.from);
    let to = ms(q.range.to);
    let use_rollups = reads_rollups(to - from);
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
