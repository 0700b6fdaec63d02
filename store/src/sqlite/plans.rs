//! Plans: inserted by dry runs, moved between statuses only from the status the caller
//! read (a compare-and-set on `status`), so a plan is approved once and used once; and
//! the tasks that wait on them.

use rusqlite::{Connection, Transaction, params};

use super::codec::{from_json, ms, to_json};
use crate::model::{PlanRecord, PlanStatus, TaskRecord};
use crate::query::Page;

pub fn put(tx: &Transaction<'_>, p: &PlanRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO plans (id, ts, status, doc) VALUES (?1, ?2, ?3, ?4)",
        params![p.id, ms(p.created_at), p.status.as_str(), to_json(p)?],
    )?;
    Ok(())
}

/// True when the plan was still in `from` and is now `p`.
pub fn update_if(tx: &Transaction<'_>, p: &PlanRecord, from: PlanStatus) -> rusqlite::Result<bool> {
    let n = tx.execute(
        "UPDATE plans SET status = ?1, doc = ?2 WHERE id = ?3 AND status = ?4",
        params![p.status.as_str(), to_json(p)?, p.id, from.as_str()],
    )?;
    Ok(n == 1)
}

pub fn list(
    c: &Connection,
    status: Option<PlanStatus>,
    limit: usize,
) -> rusqlite::Result<Page<PlanRecord>> {
    let (sql, arg) = match status {
        Some(s) => (
            "SELECT doc FROM plans WHERE status = ?1 ORDER BY ts DESC, id LIMIT ?2",
            Some(s.as_str()),
        ),
        None => (
            "SELECT doc FROM plans WHERE ?1 IS NULL ORDER BY ts DESC, id LIMIT ?2",
            None,
        ),
    };
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(params![arg, (limit + 1) as i64], |r| r.get::<_, String>(0))?;
    let mut items = Vec::new();
    for d in rows {
        items.push(from_json(&d?)?);
    }
    Ok(Page::new(items, limit))
}

pub fn put_task(tx: &Transaction<'_>, t: &TaskRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO tasks (id, ts, status, doc) VALUES (?1, ?2, ?3, ?4)",
        params![t.id, ms(t.created_at), t.status.as_str(), to_json(t)?],
    )?;
    Ok(())
}

pub fn open_tasks(c: &Connection, limit: usize) -> rusqlite::Result<Vec<TaskRecord>> {
    let mut st = c.prepare_cached(
        "SELECT doc FROM tasks WHERE status IN ('working', 'input_required') ORDER BY ts, id LIMIT ?1",
    )?;
    let rows = st.query_map(params![limit as i64], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for d in rows {
        out.push(from_json(&d?)?);
    }
    Ok(out)
}
