//! Logs in SQLite: one row per line with an FTS5 index over the message, and a content
//! hash so a line shipped twice (a scraper restart, a resumed stream) is stored once.

use rusqlite::{Connection, Transaction, params, params_from_iter};

use super::codec::{from_ms, ms};
use crate::model::{Level, LogLine};
use crate::query::*;
use crate::text;

fn level_num(l: Level) -> i64 {
    l.rank() as i64
}

fn level_from(n: i64) -> Level {
    match n {
        0 => Level::Info,
        1 => Level::Warn,
        2 => Level::Error,
        _ => Level::Critical,
    }
}

/// FNV-1a over the fields that make a line the same line. Stable across builds, unlike
/// `std`'s hasher, because it is stored.
fn dedup_key(l: &LogLine) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(l.service.as_bytes());
    eat(&l.timestamp.timestamp_micros().to_le_bytes());
    eat(l.message.as_bytes());
    eat(l.trace_id.as_deref().unwrap_or("").as_bytes());
    eat(l.level.as_str().as_bytes());
    h as i64
}

pub fn insert(tx: &Transaction<'_>, docs: &[LogLine]) -> rusqlite::Result<usize> {
    let mut st = tx.prepare_cached(
        "INSERT OR IGNORE INTO logs
            (ts, service, region, level, message, trace_id, error_code, source, dedup)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut n = 0;
    for l in docs {
        n += st.execute(params![
            ms(l.timestamp),
            l.service,
            l.region,
            level_num(l.level),
            l.message,
            l.trace_id,
            l.error_code,
            l.source,
            dedup_key(l)
        ])?;
    }
    Ok(n)
}

fn row_to_line(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogLine> {
    Ok(LogLine {
        timestamp: from_ms(r.get(0)?),
        service: r.get(1)?,
        region: r.get(2)?,
        level: level_from(r.get(3)?),
        message: r.get(4)?,
        trace_id: r.get(5)?,
        error_code: r.get(6)?,
        source: r.get(7)?,
    })
}

/// Newest first, at most `q.limit`, flagged when more matched.
pub fn search(c: &Connection, q: &LogQuery) -> rusqlite::Result<Page<LogLine>> {
    let mut sql = String::from(
        "SELECT l.ts, l.service, l.region, l.level, l.message, l.trace_id, l.error_code, l.source
         FROM logs l",
    );
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(fts) = q
        .text
        .as_deref()
        .and_then(|t| text::fts_all(&text::terms(t, 16)))
    {
        sql.push_str(" JOIN logs_fts f ON f.rowid = l.id");
        conds.push("logs_fts MATCH ?".into());
        args.push(fts.into());
    }
    if let Some(s) = &q.service {
        conds.push("l.service = ?".into());
        args.push(s.clone().into());
    }
    if let Some(lv) = q.min_level {
        conds.push("l.level >= ?".into());
        args.push(level_num(lv).into());
    }
    if let Some(code) = &q.error_code {
        conds.push("l.error_code = ?".into());
        args.push(code.clone().into());
    }
    if let Some(r) = q.range {
        conds.push("l.ts BETWEEN ? AND ?".into());
        args.push(ms(r.from).into());
        args.push(ms(r.to).into());
    }
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY l.ts DESC, l.id DESC LIMIT ?");
    args.push(((q.limit + 1) as i64).into());
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params_from_iter(args), row_to_line)?;
    Ok(Page::new(
        rows.collect::<rusqlite::Result<Vec<_>>>()?,
        q.limit,
    ))
}

/// Lines at `min_level` or above grouped by service, level and error code.
pub fn counts(
    c: &Connection,
    service: Option<&str>,
    min_level: Level,
    range: TimeRange,
) -> rusqlite::Result<Vec<LogCount>> {
    let mut st = c.prepare_cached(
        "SELECT service, level, error_code, count(*), max(ts), message
         FROM logs
         WHERE ts BETWEEN ?1 AND ?2 AND level >= ?3 AND (?4 IS NULL OR service = ?4)
         GROUP BY service, level, error_code
         ORDER BY count(*) DESC, service, level DESC, error_code
         LIMIT 200",
    )?;
    let rows = st.query_map(
        params![ms(range.from), ms(range.to), level_num(min_level), service],
        |r| {
            Ok(LogCount {
                service: r.get(0)?,
                level: level_from(r.get(1)?),
                error_code: r.get(2)?,
                count: r.get::<_, i64>(3)? as u64,
                last_at: from_ms(r.get(4)?),
                last_message: r.get(5)?,
            })
        },
    )?;
    rows.collect()
}

pub fn retain(
    tx: &Transaction<'_>,
    before: chrono::DateTime<chrono::Utc>,
) -> rusqlite::Result<u64> {
    Ok(tx.execute("DELETE FROM logs WHERE ts < ?1", [ms(before)])? as u64)
}

pub fn delete_scenario(tx: &Transaction<'_>, service: &str) -> rusqlite::Result<u64> {
    Ok(tx.execute(
        "DELETE FROM logs WHERE service = ?1 AND source = 'scenario'",
        [service],
    )? as u64)
}
