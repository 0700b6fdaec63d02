//! Documents by id and filtered listings: incidents, runbooks, decisions, deployments,
//! audit and faults, plus the generic get/put/create/search helpers the others use.

use elasticsearch::http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::client::{Body, Es, enc};
use super::dsl::*;
use super::errors::{classify, is_error};
use super::mappings::Idx;
use super::setup::ensure;
use crate::model::*;
use crate::query::*;
use crate::{Result, StoreError};

/// Indexes (inserts or replaces) `doc` under `id`.
pub(crate) async fn put<T: Serialize>(es: &Es, idx: Idx, id: &str, doc: &T) -> Result<()> {
    put_value(es, idx, id, to_value(doc)?).await
}

pub(crate) async fn put_value(es: &Es, idx: Idx, id: &str, doc: Value) -> Result<()> {
    ensure(es, idx).await?;
    let path = format!("/{}/_doc/{}", idx.name(&es.prefix), enc(id));
    let q: Vec<_> = es.refresh().into_iter().collect();
    es.json(Method::Put, &path, &q, doc).await?;
    Ok(())
}

/// Creates `doc` under `id` only if the id is new (`op_type=create`); false on a 409.
pub(crate) async fn create<T: Serialize>(es: &Es, idx: Idx, id: &str, doc: &T) -> Result<bool> {
    ensure(es, idx).await?;
    let path = format!("/{}/_create/{}", idx.name(&es.prefix), enc(id));
    let q: Vec<_> = es.refresh().into_iter().collect();
    let r = es
        .send(Method::Put, &path, &q, &Body::Json(to_value(doc)?), &[409])
        .await?;
    Ok(r.status != 409)
}

/// Writes `doc` only if the stored one is still at (`seq_no`, `primary_term`); false when
/// another writer got there first (409).
pub(crate) async fn put_if(
    es: &Es,
    idx: Idx,
    id: &str,
    seq_no: i64,
    primary_term: i64,
    doc: Value,
) -> Result<bool> {
    let path = format!("/{}/_doc/{}", idx.name(&es.prefix), enc(id));
    let (seq, term) = (seq_no.to_string(), primary_term.to_string());
    let mut q = vec![
        ("if_seq_no", seq.as_str()),
        ("if_primary_term", term.as_str()),
    ];
    q.extend(es.refresh());
    let r = es
        .send(Method::Put, &path, &q, &Body::Json(doc), &[409])
        .await?;
    Ok(r.status != 409)
}

/// One document by id, with its sequence number, or None.
pub(crate) async fn get_versioned<T: DeserializeOwned>(
    es: &Es,
    idx: Idx,
    id: &str,
) -> Result<Option<Versioned<T>>> {
    ensure(es, idx).await?;
    let path = format!("/{}/_doc/{}", idx.name(&es.prefix), enc(id));
    let r = es
        .send(Method::Get, &path, &[], &Body::Empty, &[404])
        .await?;
    if is_error(&r.body) {
        es.forget_indices();
        return Err(classify(&es.target, &path, r.status, &r.body, 1));
    }
    if r.body.get("found").and_then(Value::as_bool) != Some(true) {
        return Ok(None);
    }
    versioned(&r.body).map(Some)
}

pub(crate) async fn get<T: DeserializeOwned>(es: &Es, idx: Idx, id: &str) -> Result<Option<T>> {
    Ok(get_versioned(es, idx, id).await?.map(|v| v.doc))
}

/// `POST /{index}/_search` with `body`.
pub(crate) async fn search(es: &Es, idx: Idx, body: Value) -> Result<Value> {
    ensure(es, idx).await?;
    let path = format!("/{}/_search", idx.name(&es.prefix));
    es.json(Method::Post, &path, &[], body).await
}

/// Up to `limit` documents matching every filter, in `sort` order, flagged when more match.
pub(crate) async fn page<T: DeserializeOwned>(
    es: &Es,
    idx: Idx,
    filters: Vec<Value>,
    sort: Vec<Value>,
    limit: usize,
) -> Result<Page<T>> {
    let size = (limit + 1).min(MAX_WINDOW);
    let body = search(
        es,
        idx,
        json!({"size": size, "query": filtered(filters), "sort": sort, "track_total_hits": false}),
    )
    .await?;
    Ok(Page::new(sources(&body)?, limit))
}

/// Deletes what `query` matches; returns how many went.
pub(crate) async fn delete_by_query(es: &Es, idx: Idx, query: Value) -> Result<u64> {
    ensure(es, idx).await?;
    let path = format!("/{}/_delete_by_query", idx.name(&es.prefix));
    let mut q = vec![("conflicts", "proceed")];
    q.extend(es.refresh_bool());
    let r = es
        .json(Method::Post, &path, &q, json!({"query": query}))
        .await?;
    if let Some(f) = r
        .get("failures")
        .and_then(Value::as_array)
        .and_then(|f| f.first())
    {
        return Err(StoreError::Unavailable(format!(
            "Elasticsearch at {}: delete in {} partly failed: {f}",
            es.target,
            idx.name(&es.prefix)
        )));
    }
    Ok(r.get("deleted").and_then(Value::as_u64).unwrap_or(0))
}

pub(crate) async fn list_incidents(es: &Es, f: &IncidentFilter) -> Result<Page<Incident>> {
    let mut fl = Vec::new();
    if let Some(s) = &f.service {
        fl.push(term("service", s.as_str()));
    }
    if let Some(a) = f.anomaly_type {
        fl.push(term("anomaly_type", a.as_str()));
    }
    if let Some(s) = &f.status {
        fl.push(term("status", s.as_str()));
    }
    if let Some(t) = f.since {
        fl.push(range("@timestamp", Some(ms(t)), None));
    }
    let sort = vec![desc("@timestamp"), asc("id")];
    page(es, Idx::C(Collection::Incidents), fl, sort, f.limit).await
}

pub(crate) async fn list_runbooks(es: &Es, limit: usize) -> Result<Page<Runbook>> {
    page(
        es,
        Idx::C(Collection::Runbooks),
        vec![],
        vec![asc("id")],
        limit,
    )
    .await
}

pub(crate) async fn list_decisions(es: &Es, f: &DecisionFilter) -> Result<Page<Decision>> {
    let mut fl = Vec::new();
    if let Some(s) = &f.service {
        fl.push(term("service", s.as_str()));
    }
    if let Some(a) = &f.agent {
        fl.push(term("agent", a.as_str()));
    }
    if let Some(t) = f.since {
        fl.push(range("@timestamp", Some(ms(t)), None));
    }
    let sort = vec![desc("@timestamp")];
    page(es, Idx::C(Collection::Decisions), fl, sort, f.limit).await
}

pub(crate) async fn list_deployments(es: &Es, f: &DeploymentFilter) -> Result<Page<Deployment>> {
    let mut fl = Vec::new();
    if let Some(s) = &f.service {
        fl.push(term("service", s.as_str()));
    }
    if let Some(r) = f.range {
        fl.push(range("at", Some(ms(r.from)), Some(ms(r.to))));
    }
    let sort = vec![desc("at")];
    page(es, Idx::C(Collection::Deployments), fl, sort, f.limit).await
}

/// The audit's index.
pub(crate) const AUDIT: Idx = Idx::C(Collection::Audit);

pub(crate) async fn list_audit(es: &Es, f: &AuditFilter) -> Result<Page<AuditRecord>> {
    let mut fl = Vec::new();
    if let Some(s) = &f.service {
        fl.push(term("service", s.as_str()));
    }
    if let Some(t) = &f.tool {
        fl.push(term("tool", t.as_str()));
    }
    if let Some(w) = &f.who {
        fl.push(term("who", w.as_str()));
    }
    if let Some(o) = f.outcome {
        fl.push(term("outcome", o.as_str()));
    }
    if let Some(t) = f.since {
        fl.push(range("@timestamp", Some(ms(t)), None));
    }
    let sort = vec![desc("@timestamp")];
    page(es, Idx::C(Collection::Audit), fl, sort, f.limit).await
}

pub(crate) async fn active_faults(es: &Es) -> Result<Vec<FaultRecord>> {
    let fl = vec![term("state", "active")];
    let sort = vec![asc("expires_at"), asc("id")];
    Ok(page(es, Idx::Faults, fl, sort, 1000).await?.items)
}
