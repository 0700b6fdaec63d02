//! The one-pass raw read against SQLite's own aggregates over the same rows (the SQL the
//! read used before), for every aggregation, with scenario samples in and out of the window.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::*;
use crate::model::{Metric, MetricType};

/// 5,000 samples `step_ms` apart (irregular by up to 1.5 s, repeated values), the last
/// hundred scenario samples, written the way the store writes them (rollups kept current).
fn db(step_ms: i64) -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    crate::sqlite::schema::migrate(&mut c).unwrap();
    let mut x: u64 = 7;
    let docs: Vec<Metric> = (0..5_000i64)
        .map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let ts = T0 + i * step_ms + (x >> 60) as i64 * 100;
            let v = ((x >> 33) % 1000) as f64 / 10.0;
            let mut m = Metric::measured(at(ts), "svc", "r", MetricType::CpuPercent, v);
            if i > 4_900 {
                m.source = Some("scenario".into());
            }
            m
        })
        .collect();
    let tx = c.transaction().unwrap();
    let cache = std::sync::Mutex::new(crate::sqlite::metrics::SeriesCache::default());
    crate::sqlite::metrics::insert(&tx, &cache, &docs).unwrap();
    tx.commit().unwrap();
    c
}

const T0: i64 = 1_700_000_000_000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap()
}

fn sql(c: &Connection, q: &str, p: impl rusqlite::Params) -> f64 {
    c.query_row(q, p, |r| r.get(0)).unwrap()
}

fn mq(from: i64, to: i64, max_points: usize, a: Aggregation) -> MetricQuery {
    MetricQuery {
        service: "svc".into(),
        metric_type: MetricType::CpuPercent,
        range: TimeRange {
            from: at(from),
            to: at(to),
        },
        aggregation: a,
        max_points,
    }
}

#[test]
fn the_one_pass_read_agrees_with_sql_aggregates() {
    let c = db(1_000);
    let (from, to) = (T0 + 123_456, T0 + 4_990_000);
    let w = "FROM metrics WHERE series_id = 1 AND ts BETWEEN ?1 AND ?2";
    let r = query_series(&c, &mq(from, to, 0, Aggregation::Avg));
    let s = &r.summary;
    let n = sql(&c, &format!("SELECT count(*) * 1.0 {w}"), params![from, to]);
    assert_eq!(s.count as f64, n);
    assert_eq!(
        s.min,
        Some(sql(
            &c,
            &format!("SELECT min(value) {w}"),
            params![from, to]
        ))
    );
    assert_eq!(
        s.max,
        Some(sql(
            &c,
            &format!("SELECT max(value) {w}"),
            params![from, to]
        ))
    );
    let avg = sql(&c, &format!("SELECT avg(value) {w}"), params![from, to]);
    assert!((s.avg.unwrap() - avg).abs() < 1e-9);
    let rank = (n * 0.95).ceil() as i64 - 1;
    let p95 = sql(
        &c,
        &format!("SELECT value {w} ORDER BY value LIMIT 1 OFFSET ?3"),
        params![from, to, rank],
    );
    assert_eq!(s.p95, Some(p95));
    let first = sql(
        &c,
        &format!("SELECT value {w} ORDER BY ts, value LIMIT 1"),
        params![from, to],
    );
    assert_eq!(s.first, Some(first));
    // The last sample: the newest, and of samples at the same instant the last in index
    // order (the largest value).
    let last = sql(
        &c,
        &format!("SELECT value {w} ORDER BY ts DESC, value DESC LIMIT 1"),
        params![from, to],
    );
    assert_eq!(s.last, Some(last));
    let last_ts = sql(&c, &format!("SELECT max(ts) * 1.0 {w}"), params![from, to]);
    assert_eq!(s.last_at.unwrap().timestamp_millis() as f64, last_ts);
    // Least squares over (minutes since `from`, value), from SQL's sums.
    let x = "((ts - ?1) / 60000.0)";
    let sum = |e: &str| sql(&c, &format!("SELECT total({e}) {w}"), params![from, to]);
    let want = crate::rules::slope(
        n,
        sum(x),
        sum("value"),
        sum(&format!("{x} * {x}")),
        sum(&format!("value * {x}")),
    )
    .unwrap();
    assert!(
        (s.slope_per_min.unwrap() - want).abs() < 1e-9,
        "{:?} vs {want}",
        s.slope_per_min
    );
    assert!(r.points.is_empty() && r.bucket_seconds == 0);
    assert!(r.includes_scenario_data);
    // A window that ends before the scenario stretch holds none.
    let early = query_series(&c, &mq(from, from + 60_000, 0, Aggregation::Avg));
    assert!(!early.includes_scenario_data && early.summary.count > 0);

    for (a, expr) in [
        (Aggregation::Avg, "avg(value)"),
        (Aggregation::Min, "min(value)"),
        (Aggregation::Max, "max(value)"),
        (Aggregation::Sum, "total(value)"),
        (Aggregation::Count, "count(*) * 1.0"),
    ] {
        let r = query_series(&c, &mq(from, to, 37, a));
        let b = r.bucket_seconds * 1000;
        assert!(
            b > 0 && r.points.len() <= 37,
            "{a:?}: {} points",
            r.points.len()
        );
        let sql = format!("SELECT ts / ?3 AS k, {expr} {w} GROUP BY k ORDER BY k");
        same_buckets(&c, &r, &sql, (from, to), a);
    }
    let r = query_series(&c, &mq(from, to, 37, Aggregation::Last));
    let sql = "SELECT k, value FROM (SELECT ts / ?3 AS k, value,
            row_number() OVER (PARTITION BY ts / ?3 ORDER BY ts DESC, value DESC) AS rn
            FROM metrics WHERE series_id = 1 AND ts BETWEEN ?1 AND ?2) WHERE rn = 1 ORDER BY k";
    same_buckets(&c, &r, sql, (from, to), Aggregation::Last);
}

/// The read's curve is what `sql` (bucket key, value; ?1..?2 the range, ?3 the width)
/// returns over the same rows.
fn same_buckets(c: &Connection, r: &MetricSeries, sql: &str, (lo, hi): (i64, i64), a: Aggregation) {
    let b = r.bucket_seconds * 1000;
    let mut st = c.prepare(sql).unwrap();
    let want: Vec<(i64, f64)> = st
        .query_map(params![lo, hi, b], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(r.points.len(), want.len(), "{a:?}");
    for (p, (k, v)) in r.points.iter().zip(want) {
        assert_eq!(p.t.timestamp_millis(), k * b, "{a:?}");
        assert!((p.v - v).abs() < 1e-9, "{a:?}: {} vs {v}", p.v);
    }
}

fn query_series(c: &Connection, q: &MetricQuery) -> MetricSeries {
    super::query(c, q).unwrap()
}

#[test]
fn the_rollup_read_agrees_with_sql_over_the_minutes() {
    // Eight hours: past the raw limit, so the read folds one-minute rollups.
    let c = db(5_760);
    let (from, to) = (T0 + 30_500, T0 + 28_800_000);
    let lo = (T0 + 30_500) / 60_000 * 60_000;
    let w = "FROM metric_rollups WHERE series_id = 1 AND minute BETWEEN ?1 AND ?2";
    let r = query_series(&c, &mq(from, to, 0, Aggregation::Avg));
    assert_eq!(r.resolution, Resolution::Rollup1m);
    let s = &r.summary;
    let n = sql(&c, &format!("SELECT sum(n) * 1.0 {w}"), params![lo, to]);
    assert_eq!(s.count as f64, n);
    assert_eq!(
        s.min,
        Some(sql(&c, &format!("SELECT min(vmin) {w}"), params![lo, to]))
    );
    assert_eq!(
        s.max,
        Some(sql(&c, &format!("SELECT max(vmax) {w}"), params![lo, to]))
    );
    let avg = sql(
        &c,
        &format!("SELECT total(vsum) / sum(n) {w}"),
        params![lo, to],
    );
    assert!((s.avg.unwrap() - avg).abs() < 1e-9);
    let minutes = sql(&c, &format!("SELECT count(*) * 1.0 {w}"), params![lo, to]);
    let rank = (minutes * 0.95).ceil() as i64 - 1;
    let p95 = sql(
        &c,
        &format!("SELECT vsum / n AS m {w} ORDER BY m LIMIT 1 OFFSET ?3"),
        params![lo, to, rank],
    );
    assert_eq!(s.p95, Some(p95));
    assert!(r.includes_scenario_data);
    for (a, expr) in [
        (Aggregation::Avg, "total(vsum) / sum(n)"),
        (Aggregation::Min, "min(vmin)"),
        (Aggregation::Max, "max(vmax)"),
        (Aggregation::Sum, "total(vsum)"),
        (Aggregation::Count, "sum(n) * 1.0"),
        // SQLite gives the bare column of the row holding max(minute).
        (Aggregation::Last, "vlast, max(minute)"),
    ] {
        let r = query_series(&c, &mq(from, to, 50, a));
        let b = r.bucket_seconds * 1000;
        assert!(b % 60_000 == 0 && r.points.len() <= 50, "{a:?}");
        let sql = format!("SELECT minute / ?3 AS k, {expr} {w} GROUP BY k ORDER BY k");
        same_buckets(&c, &r, &sql, (lo, to), a);
    }
}
