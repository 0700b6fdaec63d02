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
use crate::similar::{self, Hits, Retrieval, SimilarQuery, Why};
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
    Ok(similar::wanted_services(q, &known))
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

/// Candidate hits as (text score, document), and whether a semantic field took part.
async fn candidates<T: serde::de::DeserializeOwned>(
    es: &Es,
    idx: Idx,
    fields: &[&str],
    q: &SimilarQuery,
) -> Result<(Vec<(f64, T)>, Retrieval)> {
    let description = similar::expanded(q);
    let words = text::terms(&description, 32);
    if words.is_empty() || q.limit == 0 {
        return Ok((Vec::new(), Retrieval::Lexical));
    }
    let ready = ensure(es, idx).await?;
    let retrieval = if ready.semantic.is_empty() {
        Retrieval::Lexical
    } else {
        Retrieval::Hybrid
    };
    let body = json!({
        "size": rules::CANDIDATES,
        "query": text_query(&words, fields, &ready.semantic, &description),
        "track_total_hits": false
    });
    let r = search(es, idx, body).await?;
    let hits = hits(&r)
        .iter()
        .map(|h| {
            let s = h.get("_score").and_then(Value::as_f64).unwrap_or(0.0);
            Ok((s, source(h)?))
        })
        .collect::<Result<_>>()?;
    Ok((hits, retrieval))
}

/// Maps an Elasticsearch relevance score (0 and up) to 0..1 like the SQLite backend.
fn unit(score: f64) -> f64 {
    text::bm25_to_unit(-score)
}

pub(crate) async fn incidents(es: &Es, q: &SimilarQuery) -> Result<Hits<Incident>> {
    let (hits, retrieval) = candidates::<Incident>(es, INCIDENTS, &INCIDENT_FIELDS, q).await?;
    if hits.is_empty() {
        return Ok(Hits {
            retrieval,
            hits: Vec::new(),
        });
    }
    let services = wanted_services(es, q).await?;
    let scored = hits
        .into_iter()
        .map(|(s, inc)| {
            let mut why = Why {
                lexical: unit(s),
                ..Why::default()
            };
            let score = rules::incident_score(unit(s), &mut why, &inc, &services, q);
            (
                score,
                inc.timestamp.timestamp_millis(),
                inc.id.clone(),
                why,
                inc,
            )
        })
        .collect();
    Ok(Hits {
        retrieval,
        hits: rules::rank(scored, q.limit),
    })
}

pub(crate) async fn runbooks(es: &Es, q: &SimilarQuery) -> Result<Hits<Runbook>> {
    let (hits, retrieval) = candidates::<Runbook>(es, RUNBOOKS, &RUNBOOK_FIELDS, q).await?;
    if hits.is_empty() {
        return Ok(Hits {
            retrieval,
            hits: Vec::new(),
        });
    }
    let services = wanted_services(es, q).await?;
    let scored = hits
        .into_iter()
        .map(|(s, rb)| {
            let mut why = Why {
                lexical: unit(s),
                ..Why::default()
            };
            let score = rules::runbook_score(unit(s), &mut why, &rb, &services, q.anomaly_type, 0);
            (score, 0, rb.id.clone(), why, rb)
        })
        .collect();
    Ok(Hits {
        retrieval,
        hits: rules::rank(scored, q.limit),
    })
}
