//! Similar incidents and relevant runbooks: a `multi_match` (`most_fields`, field boosts
//! like the SQLite bm25 weights) over the prose, plus a `semantic` clause on any
//! `semantic_text` field the cluster has; then the same re-ranking as SQLite: 0.6 × text
//! score mapped to 0..1, +0.25 for the service, +0.15 for the anomaly type, 3 decimals.
//!
//! `multi_match` has no corpus-frequency cut-offs, unlike `more_like_this` with its
//! defaults (`min_term_freq` 2, `min_doc_freq` 5), which finds nothing in a corpus of fifty
//! incidents where most words occur once; so it works the same on small and large corpora.

use serde_json::{Value, json};

use super::client::Es;
use super::docs::search;
use super::dsl::*;
use super::mappings::Idx;
use super::setup::ensure;
use crate::model::{Collection, Incident, Runbook};
use crate::query::{Scored, SimilarQuery};
use crate::{Result, rules, text};

const INCIDENTS: Idx = Idx::C(Collection::Incidents);
const RUNBOOKS: Idx = Idx::C(Collection::Runbooks);

const INCIDENT_FIELDS: [&str; 6] = [
    "title^2",
    "description",
    "root_cause^1.5",
    "actions_taken",
    "service.words^2",
    "anomaly_type.words^2",
];
const RUNBOOK_FIELDS: [&str; 6] = [
    "title^2",
    "symptoms^2",
    "diagnosis",
    "steps",
    "service.words",
    "anomaly_types.words^2",
];

/// The services a query is about: the one given, else those its text names (among the
/// services incidents were recorded for).
async fn wanted_services(es: &Es, q: &SimilarQuery) -> Result<Vec<String>> {
    if let Some(s) = &q.service {
        return Ok(vec![s.clone()]);
    }
    let r = search(
        es,
        INCIDENTS,
        json!({"size": 0, "aggs": {"services": {"terms": {"field": "service", "size": 500}}}}),
    )
    .await?;
    let mut known: Vec<String> = agg(&r, "services/buckets")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("key").and_then(Value::as_str).map(str::to_string))
        .collect();
    known.sort();
    Ok(text::mentioned_services(&q.description, &known)
        .into_iter()
        .map(str::to_string)
        .collect())
}

/// The candidate search: word match over `fields`, or any semantic field.
fn text_query(words: &[String], fields: &[&str], semantic: &[String], description: &str) -> Value {
    let mm = json!({"multi_match": {
        "query": words.join(" "), "type": "most_fields", "fields": fields, "operator": "or"
    }});
    if semantic.is_empty() {
        return mm;
    }
    let mut should = vec![mm];
    for f in semantic {
        should.push(json!({"semantic": {"field": f, "query": description}}));
    }
    json!({"bool": {"should": should, "minimum_should_match": 1}})
}

/// Candidate hits as (text score, document).
async fn candidates<T: serde::de::DeserializeOwned>(
    es: &Es,
    idx: Idx,
    fields: &[&str],
    q: &SimilarQuery,
) -> Result<Vec<(f64, T)>> {
    let words = text::terms(&q.description, 32);
    if words.is_empty() || q.limit == 0 {
        return Ok(Vec::new());
    }
    let ready = ensure(es, idx).await?;
    let body = json!({
        "size": rules::CANDIDATES,
        "query": text_query(&words, fields, &ready.semantic, &q.description),
        "track_total_hits": false
    });
    let r = search(es, idx, body).await?;
    hits(&r)
        .iter()
        .map(|h| {
            let s = h.get("_score").and_then(Value::as_f64).unwrap_or(0.0);
            Ok((s, source(h)?))
        })
        .collect()
}

/// Maps an Elasticsearch relevance score (0 and up) to 0..1 like the SQLite backend.
fn unit(score: f64) -> f64 {
    text::bm25_to_unit(-score)
}

pub(crate) async fn incidents(es: &Es, q: &SimilarQuery) -> Result<Vec<Scored<Incident>>> {
    let hits: Vec<(f64, Incident)> = candidates(es, INCIDENTS, &INCIDENT_FIELDS, q).await?;
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let services = wanted_services(es, q).await?;
    let scored = hits
        .into_iter()
        .map(|(s, inc)| {
            let score = rules::incident_score(unit(s), &inc, &services, q);
            (score, inc.timestamp.timestamp_millis(), inc.id.clone(), inc)
        })
        .collect();
    Ok(rules::rank(scored, q.limit))
}

pub(crate) async fn runbooks(es: &Es, q: &SimilarQuery) -> Result<Vec<Scored<Runbook>>> {
    let hits: Vec<(f64, Runbook)> = candidates(es, RUNBOOKS, &RUNBOOK_FIELDS, q).await?;
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let services = wanted_services(es, q).await?;
    let scored = hits
        .into_iter()
        .map(|(s, rb)| {
            let score = rules::runbook_score(unit(s), &rb, &services, q.anomaly_type);
            (score, 0, rb.id.clone(), rb)
        })
        .collect();
    Ok(rules::rank(scored, q.limit))
}
