//! Metrics in SQLite: an indexed time series per (service, metric type), one-minute
//! rollups kept current on insert, and summaries and downsampling computed in SQL.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::codec::{from_ms, ms};
use crate::model::{Metric, MetricType};
use crate::query::*;
use crate::rules::MINUTE_MS;

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

pub(super) fn lookup_series(
    c: &Connection,
    service: &str,
    mt: MetricType,
) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM series WHERE service = ?1 AND metric_type = ?2")?
        .query_row(params![service, mt.as_str()], |r| r.get(0))
        .optional()
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
