//! Similar incidents and relevant runbooks: a `multi_match` (`most_fields`, field boosts
//! like the SQLite bm25 weights) over the prose, plus a `semantic` clause on any
//! `semantic_text` field the cluster has, and — with a model — a kNN search on the
//! documents' `dense_vector`, run at the same time. The two rankings are fused and
//! re-ranked exactly as in SQLite (service, anomaly type, outcome; see `rules`).
//!
//! `multi_match` has no corpus-frequency cut-offs, unlike `more_like_this` with its
//! defaults (`min_term_freq` 2, `min_doc_freq` 5), which finds nothing in a corpus of fifty
//! incidents where most words occur once; so it works the same on small and large corpora.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::client::Es;
use super::docs::search;
use super::dsl::*;
use super::mappings::Idx;
use super::setup::ensure;
use super::vectors;
use crate::model::{Collection, Incident, Runbook};
use crate::similar::{self, Hits, Ranks, Retrieval, SimilarQuery};
use crate::{Embedder, Result, rules, text};

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

/// Candidates: each document with its places in the BM25 and (with a model) the kNN
/// ranking, and whether retrieval was hybrid. The two searches run at once.
async fn candidates<T: serde::de::DeserializeOwned>(
    es: &Es,
    emb: Option<&Arc<Embedder>>,
    idx: Idx,
    fields: &[&str],
    q: &SimilarQuery,
) -> Result<(Vec<(Ranks, T)>, Retrieval)> {
    let description = similar::expanded(q);
    let words = text::terms(&description, 32);
    if words.is_empty() || q.limit == 0 {
        return Ok((Vec::new(), Retrieval::Lexical));
    }
    let ready = ensure(es, idx).await?;
    let body = json!({
        "size": rules::CANDIDATES,
        "query": text_query(&words, fields, &ready.semantic, &description),
        "_source": vectors::source_filter(),
        "track_total_hits": false
    });
    let knn = async {
        match vectors::embed(emb, vec![description.clone()]).await? {
            Some(mut v) => match v.pop() {
                Some(v) => vectors::nearest(es, idx, &v).await.map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    };
    let (lexical, near) = tokio::try_join!(search(es, idx, body), knn)?;
    let retrieval = if near.is_some() || !ready.semantic.is_empty() {
        Retrieval::Hybrid
    } else {
        Retrieval::Lexical
    };
    let mut by_id: HashMap<String, (Ranks, Value)> = HashMap::new();
    for (i, h) in hits(&lexical).iter().enumerate() {
        let s = h.get("_score").and_then(Value::as_f64).unwrap_or(0.0);
        let e = by_id
            .entry(id_of(h))
            .or_insert_with(|| (Ranks::default(), h.clone()));
        e.0.lexical = Some((i, unit(s)));
    }
    for (i, (h, cos)) in near.into_iter().flatten().enumerate() {
        let e = by_id
            .entry(id_of(&h))
            .or_insert_with(|| (Ranks::default(), h));
        e.0.semantic = Some((i, cos));
    }
    let out = by_id
        .into_values()
        .map(|(r, h)| Ok((r, source(&h)?)))
        .collect::<Result<_>>()?;
    Ok((out, retrieval))
}

fn id_of(hit: &Value) -> String {
    hit.get("_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Maps an Elasticsearch relevance score (0 and up) to 0..1 like the SQLite backend.
fn unit(score: f64) -> f64 {
    text::bm25_to_unit(-score)
}

pub(crate) async fn incidents(
    es: &Es,
    emb: Option<&Arc<Embedder>>,
    q: &SimilarQuery,
) -> Result<Hits<Incident>> {
    let (cands, retrieval) =
        candidates::<Incident>(es, emb, INCIDENTS, &INCIDENT_FIELDS, q).await?;
    if cands.is_empty() {
        return Ok(Hits {
            retrieval,
            hits: Vec::new(),
        });
    }
    let services = wanted_services(es, q).await?;
    let scored = cands
        .into_iter()
        .map(|(r, inc)| {
            let mut why = r.why();
            let text = r.text(q.fusion, false, retrieval);
            let score = rules::incident_score(text, &mut why, &inc, &services, q);
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

pub(crate) async fn runbooks(
    es: &Es,
    emb: Option<&Arc<Embedder>>,
    q: &SimilarQuery,
) -> Result<Hits<Runbook>> {
    let (cands, retrieval) = candidates::<Runbook>(es, emb, RUNBOOKS, &RUNBOOK_FIELDS, q).await?;
    if cands.is_empty() {
        return Ok(Hits {
            retrieval,
            hits: Vec::new(),
        });
    }
    let services = wanted_services(es, q).await?;
    let scored = cands
        .into_iter()
        .map(|(r, rb)| {
            let mut why = r.why();
            let text = r.text(q.fusion, true, retrieval);
            let score = rules::runbook_score(text, &mut why, &rb, &services, q.anomaly_type, 0);
            (score, 0, rb.id.clone(), why, rb)
        })
        .collect();
    Ok(Hits {
        retrieval,
        hits: rules::rank(scored, q.limit),
    })
}
