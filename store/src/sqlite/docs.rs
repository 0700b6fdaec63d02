//! Document collections in SQLite (incidents, runbooks, decisions, deployments, audit,
//! faults): the whole record as JSON plus the columns its filters need.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::codec::{from_json, ms, to_json};
use crate::model::*;
use crate::query::*;

/// One document by key from a `doc` table. The table and column names are ours, never
/// user input.
pub fn get_doc<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &'static str,
    key: &'static str,
    id: &str,
) -> rusqlite::Result<Option<T>> {
    let doc: Option<String> = c
        .prepare_cached(&format!("SELECT doc FROM {table} WHERE {key} = ?1"))?
        .query_row([id], |r| r.get(0))
        .optional()?;
    doc.map(|d| from_json(&d)).transpose()
}

/// Runs a filtered listing: `base` selects `doc`, `conds`/`args` filter, newest first.
fn list_docs<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &'static str,
    conds: Vec<&'static str>,
    mut args: Vec<rusqlite::types::Value>,
    limit: usize,
) -> rusqlite::Result<Page<T>> {
    let mut sql = format!("SELECT doc FROM {table}");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY ts DESC, rowid DESC LIMIT ?");
    args.push(((limit + 1) as i64).into());
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for d in rows {
        out.push(from_json(&d?)?);
    }
    Ok(Page::new(out, limit))
}

/// Whether a document with this id is stored: only a replaced document has an FTS row to
/// drop (the FTS id column is unindexed, so that delete scans; a new one must not pay it).
fn exists(tx: &Transaction<'_>, table: &'static str, id: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))?
        .exists([id])
}

/// Inserts (or, with `replace`, replaces) an incident and its full-text row.
/// Returns whether anything was written.
pub fn put_incident(tx: &Transaction<'_>, d: &Incident, replace: bool) -> rusqlite::Result<bool> {
    let existed = replace && exists(tx, "incidents", &d.id)?;
    let verb = if replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT OR IGNORE"
    };
    let n = tx.execute(
        &format!(
            "{verb} INTO incidents (id, ts, service, anomaly_type, status, doc, verified, runbook_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            d.id,
            ms(d.timestamp),
            d.service,
            d.anomaly_type.as_str(),
            d.status,
            to_json(d)?,
            d.verified,
            d.runbook_id
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    if existed {
        tx.execute("DELETE FROM incidents_fts WHERE id = ?1", [&d.id])?;
    }
    tx.execute(
        "INSERT INTO incidents_fts (id, service, anomaly, title, description, root_cause, actions_taken)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.id,
            d.service.replace('-', " "),
            d.anomaly_type.words(),
            d.title,
            d.description,
            d.root_cause,
            d.actions_taken
        ],
    )?;
    Ok(true)
}

pub fn list_incidents(c: &Connection, f: &IncidentFilter) -> rusqlite::Result<Page<Incident>> {
    let mut conds = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = &f.service {
        conds.push("service = ?");
        args.push(s.clone().into());
    }
    if let Some(a) = f.anomaly_type {
        conds.push("anomaly_type = ?");
        args.push(a.as_str().to_string().into());
    }
    if let Some(s) = &f.status {
        conds.push("status = ?");
        args.push(s.clone().into());
    }
    if let Some(t) = f.since {
        conds.push("ts >= ?");
        args.push(ms(t).into());
    }
    list_docs(c, "incidents", conds, args, f.limit)
}

pub fn put_runbook(tx: &Transaction<'_>, d: &Runbook, replace: bool) -> rusqlite::Result<bool> {
    let existed = replace && exists(tx, "runbooks", &d.id)?;
    let verb = if replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT OR IGNORE"
    };
    let n = tx.execute(
        &format!("{verb} INTO runbooks (id, service, doc) VALUES (?1, ?2, ?3)"),
        params![d.id, d.service, to_json(d)?],
    )?;
    if n == 0 {
        return Ok(false);
    }
    let anomaly = d
        .anomaly_types
        .iter()
        .map(|a| a.words())
        .collect::<Vec<_>>()
        .join(" ");
    if existed {
        tx.execute("DELETE FROM runbooks_fts WHERE id = ?1", [&d.id])?;
    }
    tx.execute(
        "INSERT INTO runbooks_fts (id, service, anomaly, title, symptoms, diagnosis, steps)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.id,
            d.service.replace('-', " "),
            anomaly,
            d.title,
            d.symptoms,
            d.diagnosis,
            d.steps.join("\n")
        ],
    )?;
    Ok(true)
}

pub fn list_runbooks(c: &Connection, limit: usize) -> rusqlite::Result<Page<Runbook>> {
    let mut st = c.prepare_cached("SELECT doc FROM runbooks ORDER BY id LIMIT ?1")?;
    let rows = st.query_map([(limit + 1) as i64], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for d in rows {
        out.push(from_json(&d?)?);
    }
    Ok(Page::new(out, limit))
}

pub fn put_decision(tx: &Transaction<'_>, d: &Decision) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO decisions (id, ts, service, agent, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![d.id, ms(d.timestamp), d.service, d.agent, to_json(d)?],
    )?;
    Ok(())
}

pub fn list_decisions(c: &Connection, f: &DecisionFilter) -> rusqlite::Result<Page<Decision>> {
    let mut conds = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = &f.service {
        conds.push("service = ?");
        args.push(s.clone().into());
    }
    if let Some(a) = &f.agent {
        conds.push("agent = ?");
        args.push(a.clone().into());
    }
    if let Some(t) = f.since {
        conds.push("ts >= ?");
        args.push(ms(t).into());
    }
    list_docs(c, "decisions", conds, args, f.limit)
}

pub fn put_deployment(tx: &Transaction<'_>, d: &Deployment) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO deployments (id, ts, service, by_who, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![d.id, ms(d.at), d.service, d.by, to_json(d)?],
    )?;
    Ok(())
}

pub fn list_deployments(
    c: &Connection,
    f: &DeploymentFilter,
) -> rusqlite::Result<Page<Deployment>> {
    let mut conds = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = &f.service {
        conds.push("service = ?");
        args.push(s.clone().into());
    }
    if let Some(r) = f.range {
        conds.push("ts BETWEEN ? AND ?");
        args.push(ms(r.from).into());
        args.push(ms(r.to).into());
    }
    list_docs(c, "deployments", conds, args, f.limit)
}

pub fn put_audit(tx: &Transaction<'_>, d: &AuditRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO audit (id, ts, who, tool, service, outcome, dry_run, plan_id, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            d.id,
            ms(d.timestamp),
            d.who,
            d.tool,
            d.service,
            d.outcome.as_str(),
            d.dry_run,
            d.plan_id,
            to_json(d)?
        ],
    )?;
    Ok(())
}

/// Deletes audit records older than `cutoff`.
pub fn delete_audit_before(tx: &Transaction<'_>, cutoff: DateTime<Utc>) -> rusqlite::Result<u64> {
    let n = tx.execute("DELETE FROM audit WHERE ts < ?1", params![ms(cutoff)])?;
    Ok(n as u64)
}

pub fn list_audit(c: &Connection, f: &AuditFilter) -> rusqlite::Result<Page<AuditRecord>> {
    let mut conds = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(s) = &f.service {
        conds.push("service = ?");
        args.push(s.clone().into());
    }
    if let Some(t) = &f.tool {
        conds.push("tool = ?");
        args.push(t.clone().into());
    }
    if let Some(w) = &f.who {
        conds.push("who = ?");
        args.push(w.clone().into());
    }
    if let Some(o) = f.outcome {
        conds.push("outcome = ?");
        args.push(o.as_str().to_string().into());
    }
    if let Some(t) = f.since {
        conds.push("ts >= ?");
        args.push(ms(t).into());
    }
    list_docs(c, "audit", conds, args, f.limit)
}

pub fn put_fault(tx: &Transaction<'_>, d: &FaultRecord) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO faults (id, state, expires_at, doc) VALUES (?1, ?2, ?3, ?4)",
        params![d.id, d.state, ms(d.expires_at), to_json(d)?],
    )?;
    Ok(())
}

pub fn active_faults(c: &Connection) -> rusqlite::Result<Vec<FaultRecord>> {
    let mut st = c.prepare_cached(
        "SELECT doc FROM faults WHERE state = 'active' ORDER BY expires_at, id LIMIT 1000",
    )?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for d in rows {
        out.push(from_json(&d?)?);
    }
    Ok(out)
}
