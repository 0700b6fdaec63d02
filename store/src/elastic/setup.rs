//! Index setup on first use: each index is checked (or created with its mapping, after its
//! template) the first time this process touches it. An existing index whose mapping
//! differs is never changed: the call fails with the list of differing fields.

use std::sync::Arc;

use elasticsearch::http::Method;
use serde_json::{Value, json};

use super::client::{Body, Es, Ready};
use super::errors::{classify, type_and_reason};
use super::mappings::{Idx, compare};
use crate::{Result, StoreError};

/// Makes sure `idx` exists with a compatible mapping; cheap after the first call.
pub(crate) async fn ensure(es: &Es, idx: Idx) -> Result<Arc<Ready>> {
    let name = idx.name(&es.prefix);
    if let Some(r) = es
        .ready
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&name)
    {
        return Ok(r.clone());
    }
    let ready = Arc::new(check_or_create(es, idx, &name).await?);
    es.ready
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name, ready.clone());
    Ok(ready)
}

async fn check_or_create(es: &Es, idx: Idx, name: &str) -> Result<Ready> {
    let path = format!("/{name}/_mapping");
    let got = es
        .send(Method::Get, &path, &[], &Body::Empty, &[404])
        .await?;
    if got.status != 404 {
        return check(es, idx, name, &got.body).await;
    }
    if let Some((tname, body)) = idx.template(&es.prefix) {
        put_template(es, &tname, body).await?;
    }
    let create = format!("/{name}");
    let made = es
        .send(
            Method::Put,
            &create,
            &[],
            &Body::Json(idx.create_body()),
            &[400],
        )
        .await?;
    if made.status == 400 {
        let (ty, _) = type_and_reason(&made.body);
        if ty != "resource_already_exists_exception" {
            return Err(classify(&es.target, &create, 400, &made.body, 1));
        }
        // Another process created it between our two calls: compare with theirs.
        let again = es.send(Method::Get, &path, &[], &Body::Empty, &[]).await?;
        return check(es, idx, name, &again.body).await;
    }
    tracing::info!(index = name, "created Elasticsearch index");
    Ok(Ready::default())
}

/// Compares every concrete index behind `name` (it may be an alias) with our mapping.
async fn check(es: &Es, idx: Idx, name: &str, body: &Value) -> Result<Ready> {
    let want = idx.mappings();
    let mut ready = Ready::default();
    let mut conflicts = Vec::new();
    let mut additions = serde_json::Map::new();
    if let Some(all) = body.as_object() {
        for (concrete, m) in all {
            let d = compare(&want, m.get("mappings").unwrap_or(&Value::Null));
            conflicts.extend(d.conflicts.into_iter().map(|c| format!("{concrete}: {c}")));
            additions.extend(d.additions);
            ready.semantic.extend(d.semantic);
        }
    }
    if !conflicts.is_empty() {
        return Err(StoreError::Conflict(format!(
            "index {name} at {} exists with a mapping QuantumState cannot use ({}). It was left \
             unchanged: reindex it into the expected mapping, or set ELASTIC_INDEX_PREFIX to \
             use a fresh set of indices",
            es.target,
            conflicts.join("; ")
        )));
    }
    if !additions.is_empty() {
        // New fields only: existing documents and fields are untouched.
        let fields: Vec<String> = additions.keys().cloned().collect();
        es.json(
            Method::Put,
            &format!("/{name}/_mapping"),
            &[],
            super::mappings::for_existing_index(json!({"properties": additions})),
        )
        .await?;
        tracing::info!(
            index = name,
            ?fields,
            "added missing fields to an existing index"
        );
    }
    ready.semantic.sort();
    ready.semantic.dedup();
    Ok(ready)
}

/// Creates our template unless one of that name exists. Without the privilege to manage
/// templates the index still gets its explicit mapping, so that is only a warning.
async fn put_template(es: &Es, name: &str, body: Value) -> Result<()> {
    let path = format!("/_index_template/{name}");
    let r = es
        .send(
            Method::Put,
            &path,
            &[("create", "true")],
            &Body::Json(body),
            &[400, 403],
        )
        .await?;
    match r.status {
        403 => tracing::warn!(
            template = name,
            "no privilege to create the index template; continuing with explicit mappings"
        ),
        400 => {
            let (_, reason) = type_and_reason(&r.body);
            if !reason.contains("already exists") {
                return Err(classify(&es.target, &path, 400, &r.body, 1));
            }
        }
        _ => {}
    }
    Ok(())
}
