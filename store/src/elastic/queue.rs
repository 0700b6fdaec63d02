//! The remediation queue, claimed the way the original runner does it: search for
//! claimable actions, then write the claim with `if_seq_no`/`if_primary_term`; a 409 means
//! another runner won, so try the next. Leases and `max_attempts` follow the SQLite rules,
//! and documents written by the original agents (any `_id`, no lease fields) are handled.

use chrono::{DateTime, Utc};
use elasticsearch::http::Method;
use serde_json::{Value, json};

use super::client::{Body, Es};
use super::docs::{self, get_versioned, put_if, search};
use super::dsl::*;
use super::mappings::Idx;
use super::setup::ensure;
use crate::model::*;
use crate::query::*;
use crate::{Result, StoreError};

const ACTIONS: Idx = Idx::C(Collection::Actions);
const RESULTS: Idx = Idx::C(Collection::Results);
/// Our optional fields, removed from a stored document when we clear them.
const OURS: [&str; 2] = ["runner_id", "lease_until"];
/// Candidates per search, searches per claim, and conditional writes per claim.
const BATCH: usize = 16;
const MAX_SEARCHES: usize = 16;
const MAX_WRITES: usize = 128;

pub(crate) async fn enqueue(es: &Es, a: &RemediationAction) -> Result<()> {
    if docs::create(es, ACTIONS, &a.exec_id, a).await? {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "an action with exec_id {} already exists",
        a.exec_id
    )))
}

/// An action by `exec_id`: our documents use it as `_id`; the original agents' may not,
/// so a miss falls back to a search on the field.
async fn load(es: &Es, exec_id: &str) -> Result<Option<Versioned<RemediationAction>>> {
    if let Some(v) = get_versioned(es, ACTIONS, exec_id).await? {
        return Ok(Some(v));
    }
    let body = json!({
        "size": 1, "seq_no_primary_term": true, "track_total_hits": false,
        "query": filtered(vec![term("exec_id", exec_id)]),
        "sort": [desc("@timestamp")]
    });
    let r = search(es, ACTIONS, body).await?;
    hits(&r).first().map(versioned).transpose()
}

pub(crate) async fn get_action(es: &Es, exec_id: &str) -> Result<Option<RemediationAction>> {
    Ok(load(es, exec_id).await?.map(|v| v.doc))
}

pub(crate) async fn get_result(es: &Es, exec_id: &str) -> Result<Option<RemediationResult>> {
    if let Some(r) = docs::get(es, RESULTS, exec_id).await? {
        return Ok(Some(r));
    }
    let body = json!({
        "size": 1, "track_total_hits": false,
        "query": filtered(vec![term("exec_id", exec_id)]),
        "sort": [desc("@timestamp")]
    });
    Ok(sources(&search(es, RESULTS, body).await?)?
        .into_iter()
        .next())
}

pub(crate) async fn list(es: &Es, f: &ActionFilter) -> Result<Page<RemediationAction>> {
    let mut fl = Vec::new();
    if let Some(s) = &f.service {
        fl.push(term("service", s.as_str()));
    }
    if let Some(s) = f.status {
        fl.push(term("status", s.as_str()));
    }
    if let Some(t) = f.since {
        fl.push(range("@timestamp", Some(ms(t)), None));
    }
    docs::page(
        es,
        ACTIONS,
        fl,
        vec![desc("@timestamp"), asc("exec_id")],
        f.limit,
    )
    .await
}

pub(crate) async fn depth(es: &Es) -> Result<u64> {
    ensure(es, ACTIONS).await?;
    let path = format!("/{}/_count", ACTIONS.name(&es.prefix));
    let body = json!({"query": {"terms": {"status": ["pending", "executing"]}}});
    let r = es
        .send(Method::Post, &path, &[], &Body::Json(body), &[])
        .await?;
    Ok(r.body.get("count").and_then(Value::as_u64).unwrap_or(0))
}

/// Writes `a` back over `v` if nobody changed it since it was read.
async fn write_back(
    es: &Es,
    v: &Versioned<RemediationAction>,
    a: &RemediationAction,
) -> Result<bool> {
    let doc = overlay(&v.raw, to_value(a)?, &OURS);
    put_if(es, ACTIONS, &v.id, v.seq_no, v.primary_term, doc).await
}

/// Pending; or executing with no lease (the original agents' convention) or a lease
/// that ran out.
fn claimable_query(now: i64) -> Value {
    json!({"bool": {"should": [
        term("status", "pending"),
        {"bool": {
            "filter": [term("status", "executing")],
            "should": [
                {"bool": {"must_not": [{"exists": {"field": "lease_until"}}]}},
                {"range": {"lease_until": {"lt": now, "format": "epoch_millis"}}}
            ],
            "minimum_should_match": 1
        }}
    ], "minimum_should_match": 1}})
}

fn claimable(a: &RemediationAction, now: DateTime<Utc>) -> bool {
    match a.status {
        ActionStatus::Pending => true,
        ActionStatus::Executing => a.lease_until.is_none_or(|l| l < now),
        _ => false,
    }
}

pub(crate) async fn claim(es: &Es, c: &Claim) -> Result<Option<RemediationAction>> {
    let mut writes = 0;
    for _ in 0..MAX_SEARCHES {
        let body = json!({
            "size": BATCH, "seq_no_primary_term": true, "track_total_hits": false,
            "query": claimable_query(ms(c.now)),
            "sort": [asc("@timestamp"), asc("exec_id")]
        });
        let r = search(es, ACTIONS, body).await?;
        let found: Vec<Versioned<RemediationAction>> =
            hits(&r).iter().map(versioned).collect::<Result<_>>()?;
        if found.is_empty() {
            return Ok(None);
        }
        for v in found {
            if writes >= MAX_WRITES {
                return Ok(None);
            }
            let mut a = v.doc.clone();
            if !claimable(&a, c.now) {
                continue;
            }
            writes += 1;
            // Claimed by the original runner (started, no lease of ours): held until its
            // start plus one lease.
            if a.status == ActionStatus::Executing
                && let Some(started) = a.runner_started_at
                && started + c.lease > c.now
            {
                a.lease_until = Some(started + c.lease);
                write_back(es, &v, &a).await?;
                continue;
            }
            if a.attempts >= c.max_attempts {
                retire(es, &v, a, c.now).await?;
                continue;
            }
            a.status = ActionStatus::Executing;
            a.runner_id = Some(c.runner_id.clone());
            a.runner_started_at = Some(c.now);
            a.lease_until = Some(c.now + c.lease);
            a.attempts += 1;
            if write_back(es, &v, &a).await? {
                return Ok(Some(a));
            }
            // 409: another runner claimed it first; try the next candidate.
        }
    }
    Ok(None)
}

/// Marks an action whose runner stopped too often as failed, with a result saying why.
async fn retire(
    es: &Es,
    v: &Versioned<RemediationAction>,
    mut a: RemediationAction,
    now: DateTime<Utc>,
) -> Result<()> {
    let reason = format!(
        "abandoned after {} attempt(s): the runner holding it stopped before finishing \
         (lease expired); not retried again",
        a.attempts
    );
    a.status = ActionStatus::Failed;
    a.runner_output = Some(reason.clone());
    a.executed_at = Some(now);
    a.lease_until = None;
    if !write_back(es, v, &a).await? {
        return Ok(());
    }
    let result = RemediationResult {
        exec_id: a.exec_id.clone(),
        timestamp: now,
        incident_id: a.incident_id.clone(),
        service: a.service.clone(),
        action: a.action.clone(),
        status: ActionStatus::Failed,
        runner_started_at: a.runner_started_at,
        runner_output: Some(reason),
        executed_at: Some(now),
        docker_used: false,
    };
    docs::put(es, RESULTS, &a.exec_id, &result).await
}

/// Reads the action `runner_id` holds, changes it with `f` and writes it back
/// conditionally; retried a few times when another writer touched the document.
async fn update_held(
    es: &Es,
    exec_id: &str,
    runner_id: &str,
    f: impl Fn(&mut RemediationAction),
) -> Result<bool> {
    for _ in 0..4 {
        let Some(v) = load(es, exec_id).await? else {
            return Ok(false);
        };
        let a = &v.doc;
        if a.status != ActionStatus::Executing || a.runner_id.as_deref() != Some(runner_id) {
            return Ok(false);
        }
        let mut next = a.clone();
        f(&mut next);
        if write_back(es, &v, &next).await? {
            return Ok(true);
        }
    }
    Err(StoreError::Unavailable(format!(
        "action {exec_id} kept changing under us; retry"
    )))
}

pub(crate) async fn renew(
    es: &Es,
    exec_id: &str,
    runner_id: &str,
    until: DateTime<Utc>,
) -> Result<bool> {
    update_held(es, exec_id, runner_id, |a| a.lease_until = Some(until)).await
}

pub(crate) async fn intend(
    es: &Es,
    exec_id: &str,
    runner_id: &str,
    until: DateTime<Utc>,
    intent: &serde_json::Value,
) -> Result<bool> {
    update_held(es, exec_id, runner_id, |a| {
        a.lease_until = Some(until);
        a.intent = Some(intent.clone());
    })
    .await
}

pub(crate) async fn complete(es: &Es, runner_id: &str, r: &RemediationResult) -> Result<bool> {
    let done = update_held(es, &r.exec_id, runner_id, |a| {
        a.status = r.status;
        a.runner_output = r.runner_output.clone();
        a.executed_at = r.executed_at;
        a.lease_until = None;
    })
    .await?;
    if done {
        docs::put(es, RESULTS, &r.exec_id, r).await?;
    }
    Ok(done)
}
