//! The remediation queue and shared budgets in SQLite. Claims happen inside one
//! IMMEDIATE transaction, so two runners (even in two processes) never hold one action.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::codec::{from_json, from_ms, ms, to_json};
use crate::model::*;
use crate::query::*;

fn write_action(tx: &Transaction<'_>, a: &RemediationAction) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO actions (exec_id, ts, service, status, runner_id, lease_until, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            a.exec_id,
            ms(a.timestamp),
            a.service,
            a.status.as_str(),
            a.runner_id,
            a.lease_until.map(ms),
            to_json(a)?
        ],
    )?;
    Ok(())
}

fn write_result(tx: &Transaction<'_>, r: &RemediationResult) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO results (exec_id, ts, doc) VALUES (?1, ?2, ?3)",
        params![r.exec_id, ms(r.timestamp), to_json(r)?],
    )?;
    Ok(())
}

pub fn enqueue(tx: &Transaction<'_>, a: &RemediationAction) -> rusqlite::Result<()> {
    let exists: bool = tx
        .query_row(
            "SELECT 1 FROM actions WHERE exec_id = ?1",
            [&a.exec_id],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if exists {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(format!(
                "an action with exec_id {} already exists",
                a.exec_id
            )),
        ));
    }
    write_action(tx, a)
}

pub fn list(c: &Connection, f: &ActionFilter) -> rusqlite::Result<Page<RemediationAction>> {
    let mut sql = String::from("SELECT doc FROM actions");
    let mut conds = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = &f.service {
        conds.push("service = ?");
        args.push(s.clone().into());
    }
    if let Some(s) = f.status {
        conds.push("status = ?");
        args.push(s.as_str().to_string().into());
    }
    if let Some(t) = f.since {
        conds.push("ts >= ?");
        args.push(ms(t).into());
    }
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY ts DESC, rowid DESC LIMIT ?");
    args.push(((f.limit + 1) as i64).into());
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for d in rows {
        out.push(from_json(&d?)?);
    }
    Ok(Page::new(out, f.limit))
}

pub fn claim(tx: &Transaction<'_>, c: &Claim) -> rusqlite::Result<Option<RemediationAction>> {
    let now = ms(c.now);
    // Bounded: each pass either returns or retires one action for good.
    for _ in 0..64 {
        let doc: Option<String> = tx
            .prepare_cached(
                "SELECT doc FROM actions
                 WHERE status = 'pending'
                    OR (status = 'executing' AND (lease_until IS NULL OR lease_until < ?1))
                 ORDER BY ts, exec_id LIMIT 1",
            )?
            .query_row([now], |r| r.get(0))
            .optional()?;
        let Some(doc) = doc else {
            return Ok(None);
        };
        let mut a: RemediationAction = from_json(&doc)?;
        // A document claimed by the original runner (started, but without our lease
        // columns) is held until its start time plus one lease.
        if a.status == ActionStatus::Executing
            && a.lease_until.is_none()
            && let Some(started) = a.runner_started_at
            && started + c.lease > c.now
        {
            a.lease_until = Some(started + c.lease);
            write_action(tx, &a)?;
            continue;
        }
        if a.attempts >= c.max_attempts {
            let reason = format!(
                "abandoned after {} attempt(s): the runner holding it stopped before finishing \
                 (lease expired); not retried again",
                a.attempts
            );
            a.status = ActionStatus::Failed;
            a.runner_output = Some(reason.clone());
            a.executed_at = Some(c.now);
            a.lease_until = None;
            write_action(tx, &a)?;
            write_result(
                tx,
                &RemediationResult {
                    exec_id: a.exec_id.clone(),
                    timestamp: c.now,
                    incident_id: a.incident_id.clone(),
                    service: a.service.clone(),
                    action: a.action.clone(),
                    status: ActionStatus::Failed,
                    runner_started_at: a.runner_started_at,
                    runner_output: Some(reason),
                    executed_at: Some(c.now),
                    docker_used: false,
                },
            )?;
            continue;
        }
        a.status = ActionStatus::Executing;
        a.runner_id = Some(c.runner_id.clone());
        a.runner_started_at = Some(c.now);
        a.lease_until = Some(c.now + c.lease);
        a.attempts += 1;
        write_action(tx, &a)?;
        return Ok(Some(a));
    }
    Ok(None)
}

fn held(
    tx: &Transaction<'_>,
    exec_id: &str,
    runner_id: &str,
) -> rusqlite::Result<Option<RemediationAction>> {
    let doc: Option<String> = tx
        .query_row(
            "SELECT doc FROM actions WHERE exec_id = ?1 AND status = 'executing' AND runner_id = ?2",
            [exec_id, runner_id],
            |r| r.get(0),
        )
        .optional()?;
    doc.map(|d| from_json(&d)).transpose()
}

pub fn renew(
    tx: &Transaction<'_>,
    exec_id: &str,
    runner_id: &str,
    until: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let Some(mut a) = held(tx, exec_id, runner_id)? else {
        return Ok(false);
    };
    a.lease_until = Some(until);
    write_action(tx, &a)?;
    Ok(true)
}

pub fn intend(
    tx: &Transaction<'_>,
    exec_id: &str,
    runner_id: &str,
    until: DateTime<Utc>,
    intent: serde_json::Value,
) -> rusqlite::Result<bool> {
    let Some(mut a) = held(tx, exec_id, runner_id)? else {
        return Ok(false);
    };
    a.lease_until = Some(until);
    a.intent = Some(intent);
    write_action(tx, &a)?;
    Ok(true)
}

pub fn complete(
    tx: &Transaction<'_>,
    runner_id: &str,
    r: &RemediationResult,
) -> rusqlite::Result<bool> {
    let Some(mut a) = held(tx, &r.exec_id, runner_id)? else {
        return Ok(false);
    };
    a.status = r.status;
    a.runner_output = r.runner_output.clone();
    a.executed_at = r.executed_at;
    a.lease_until = None;
    write_action(tx, &a)?;
    write_result(tx, r)?;
    Ok(true)
}

pub fn depth(c: &Connection) -> rusqlite::Result<u64> {
    c.query_row(
        "SELECT count(*) FROM actions WHERE status IN ('pending', 'executing')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}

pub fn take_budget(
    tx: &Transaction<'_>,
    key: &str,
    max: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> rusqlite::Result<BudgetDecision> {
    let start = ms(now - window);
    tx.execute(
        "DELETE FROM budget_uses WHERE key = ?1 AND ts <= ?2",
        params![key, start],
    )?;
    let used: i64 = tx.query_row(
        "SELECT count(*) FROM budget_uses WHERE key = ?1 AND ts > ?2",
        params![key, start],
        |r| r.get(0),
    )?;
    if used < i64::from(max) {
        tx.execute(
            "INSERT INTO budget_uses (key, ts) VALUES (?1, ?2)",
            params![key, ms(now)],
        )?;
        return Ok(BudgetDecision::Granted {
            used: used as u32 + 1,
            max,
        });
    }
    // The use that must age out before one more fits: the max-th newest.
    let pivot: i64 = tx
        .query_row(
            "SELECT ts FROM budget_uses WHERE key = ?1 AND ts > ?2 ORDER BY ts DESC LIMIT 1 OFFSET ?3",
            params![key, start, i64::from(max.max(1)) - 1],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| ms(now));
    Ok(BudgetDecision::Exhausted {
        max,
        retry_at: from_ms(pivot) + window,
    })
}

pub fn budget_used(
    c: &Connection,
    key: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> rusqlite::Result<u32> {
    c.query_row(
        "SELECT count(*) FROM budget_uses WHERE key = ?1 AND ts > ?2",
        params![key, ms(now - window)],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u32)
}

pub fn observe_start(
    tx: &Transaction<'_>,
    service: &str,
    started_at: DateTime<Utc>,
) -> rusqlite::Result<u64> {
    let seen: Option<(i64, i64)> = tx
        .query_row(
            "SELECT started_at, restarts FROM container_starts WHERE service = ?1",
            [service],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let t = ms(started_at);
    let restarts = match seen {
        None => 0,
        Some((prev, n)) if t > prev => n + 1,
        Some((_, n)) => return Ok(n as u64),
    };
    tx.execute(
        "INSERT OR REPLACE INTO container_starts (service, started_at, restarts) VALUES (?1, ?2, ?3)",
        params![service, t, restarts],
    )?;
    Ok(restarts as u64)
}
