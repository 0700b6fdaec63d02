//! Sentence vectors in Elasticsearch: a `dense_vector` field (384 dimensions, cosine) on
//! incidents and runbooks, filled when a document is written with a model at hand, and
//! the kNN half of a hybrid search. Documents written without a model have no vector and
//! are found by the BM25 half only.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::client::Es;
use super::docs::search;
use super::dsl::hits;
use super::mappings::Idx;
use crate::model::{Incident, Runbook};
use crate::similar;
use crate::{Embedder, Result, StoreError, rules};

/// The field holding a document's vector.
pub(crate) const FIELD: &str = "qs_vector";

/// Its mapping: indexed for approximate kNN, cosine similarity.
pub(crate) fn mapping() -> Value {
    json!({"type": "dense_vector", "dims": quantumstate_embed::DIM, "index": true, "similarity": "cosine"})
}

/// What searches ask for of `_source`: everything but the vector.
pub(crate) fn source_filter() -> Value {
    json!({"excludes": [FIELD]})
}

/// Vectors of `texts` on a blocking thread; None without a usable model.
pub(crate) async fn embed(
    emb: Option<&Arc<Embedder>>,
    texts: Vec<String>,
) -> Result<Option<Vec<Vec<f32>>>> {
    let Some(e) = emb.filter(|e| e.available()).cloned() else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        e.embed_batch(&refs)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("embedding task failed: {e}")))
}

/// `doc` as the JSON to index, with its vector when there is a model.
async fn with_vector<T: Serialize>(
    emb: Option<&Arc<Embedder>>,
    doc: &T,
    text: String,
) -> Result<Value> {
    let mut v = serde_json::to_value(doc).map_err(|e| StoreError::Backend(e.to_string()))?;
    if let Some(vec) = embed(emb, vec![text]).await?.and_then(|mut v| v.pop())
        && let Some(m) = v.as_object_mut()
    {
        m.insert(FIELD.into(), json!(vec));
    }
    Ok(v)
}

pub(crate) async fn incident(emb: Option<&Arc<Embedder>>, doc: &Incident) -> Result<Value> {
    with_vector(emb, doc, similar::incident_text(doc)).await
}

pub(crate) async fn runbook(emb: Option<&Arc<Embedder>>, doc: &Runbook) -> Result<Value> {
    with_vector(emb, doc, similar::runbook_text(doc)).await
}

/// The nearest documents to `query` as (hit, cosine), closest first. Elasticsearch scores
/// a cosine kNN hit as (1 + cosine) / 2; this undoes that.
pub(crate) async fn nearest(es: &Es, idx: Idx, query: &[f32]) -> Result<Vec<(Value, f64)>> {
    let k = rules::CANDIDATES;
    let body = json!({
        "size": k,
        "knn": {"field": FIELD, "query_vector": query, "k": k, "num_candidates": 2 * k},
        "_source": source_filter(),
        "track_total_hits": false
    });
    let r = search(es, idx, body).await?;
    Ok(hits(&r)
        .iter()
        .map(|h| {
            let s = h.get("_score").and_then(Value::as_f64).unwrap_or(0.5);
            (h.clone(), 2.0 * s - 1.0)
        })
        .collect())
}
