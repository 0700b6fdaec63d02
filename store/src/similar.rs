//! Similarity search as every backend answers it: the query (with people's names for
//! services), hits that say how they were found and why they ranked, the fusion of the
//! lexical and the semantic ranking, and the text a document's vector is computed from.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{AnomalyType, Incident, Runbook};

/// A similarity search over incidents or runbooks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimilarQuery {
    pub description: String,
    /// Ranks this service's documents higher (and, for runbooks, `any` too).
    pub service: Option<String>,
    pub anomaly_type: Option<AnomalyType>,
    pub limit: usize,
    /// Other names people use for a service (`payment-service` → `payments`, `billing`),
    /// from its `quantumstate.aliases` label and its role.
    pub aliases: BTreeMap<String, Vec<String>>,
    /// How the two rankings are combined (hybrid retrieval only).
    pub fusion: Fusion,
}

/// How a search found its hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retrieval {
    /// Full-text (BM25) only: no embedding model is configured or it could not load.
    Lexical,
    /// BM25 and sentence vectors, fused.
    Hybrid,
}

/// How the lexical and the semantic ranking become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fusion {
    /// What measured best on the evaluation set (`bench`): RRF for incidents, the convex
    /// combination for runbooks (eight long documents, where raw scores say more than ranks).
    #[default]
    Auto,
    /// Reciprocal rank fusion (k = 60): only ranks count, not raw scores.
    Rrf,
    /// A weighted sum of the BM25 score (squashed to 0..1) and the cosine similarity.
    Convex,
}

/// Why a hit ranked where it did: each part of its score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Why {
    /// The full-text match, 0..1 (0: the words did not match).
    pub lexical: f64,
    /// Cosine similarity of the sentence vectors, -1..1; null when retrieval is lexical.
    pub semantic: Option<f64>,
    /// What was learnt from outcomes: verified fixes add to the score.
    pub outcome: f64,
    /// The service boost (named, or mentioned in the text by name or alias).
    pub service: f64,
    /// The anomaly-type boost.
    pub anomaly: f64,
}

/// A search hit with its score in 0..=1 (higher is closer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scored<T> {
    pub score: f64,
    #[serde(default)]
    pub why: Why,
    pub item: T,
}

/// The hits of a similarity search and how they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hits<T> {
    pub retrieval: Retrieval,
    pub hits: Vec<Scored<T>>,
}

/// RRF's constant: ranks beyond the first few matter less and less.
pub const RRF_K: f64 = 60.0;
/// Weight of BM25 in [`Fusion::Convex`] (the rest is the cosine's).
const CONVEX_LEXICAL: f64 = 0.4;

/// One document's place in each ranking: (0-based rank, score) in the lexical and the
/// semantic list, when it is in them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ranks {
    pub lexical: Option<(usize, f64)>,
    pub semantic: Option<(usize, f64)>,
}

impl Ranks {
    /// What the two rankings said of the document, for its `why`.
    pub fn why(&self) -> Why {
        Why {
            lexical: self.lexical.map_or(0.0, |(_, s)| s),
            semantic: self.semantic.map(|(_, s)| s),
            ..Why::default()
        }
    }

    /// The text part of a score: BM25 alone when retrieval is lexical, else the fusion
    /// (`auto`: reciprocal rank fusion for incidents, convex for runbooks, as measured).
    pub fn text(&self, fusion: Fusion, runbook: bool, retrieval: Retrieval) -> f64 {
        let fusion = match (fusion, runbook) {
            (Fusion::Auto, true) => Fusion::Convex,
            (f, _) => f,
        };
        match retrieval {
            Retrieval::Lexical => self.lexical.map_or(0.0, |(_, s)| s),
            Retrieval::Hybrid => fuse(fusion, *self),
        }
    }
}

/// The text-match part of a score, 0..1, from a document's ranks.
pub fn fuse(fusion: Fusion, r: Ranks) -> f64 {
    match fusion {
        Fusion::Auto => fuse(Fusion::Rrf, r),
        Fusion::Rrf => {
            let rrf =
                |x: Option<(usize, f64)>| x.map_or(0.0, |(i, _)| 1.0 / (RRF_K + 1.0 + i as f64));
            (rrf(r.lexical) + rrf(r.semantic)) / (2.0 / (RRF_K + 1.0))
        }
        Fusion::Convex => {
            let lex = r.lexical.map_or(0.0, |(_, s)| s);
            let cos = r.semantic.map_or(0.0, |(_, c)| c.max(0.0));
            CONVEX_LEXICAL * lex + (1.0 - CONVEX_LEXICAL) * cos
        }
    }
}

/// The text an incident's vector is computed from: what a person would say about it.
pub fn incident_text(i: &Incident) -> String {
    // Title and description only: measured on the evaluation set, adding the root cause
    // and the fix (past the model's 128-token window anyway) made top-1 worse.
    format!(
        "{} ({}): {}. {}",
        i.service,
        i.anomaly_type.words(),
        i.title,
        i.description
    )
}

/// The text a runbook's vector is computed from.
pub fn runbook_text(r: &Runbook) -> String {
    format!(
        "{}. When: {} Diagnosis: {} Action: {}",
        r.title,
        r.symptoms,
        r.diagnosis,
        r.action.as_str().replace('_', " ")
    )
}

/// A text's words, lower-cased, hyphenated words kept whole, a trailing plural `s`
/// dropped (so "payments" and "payment" are one word).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.strip_suffix('s')
                .filter(|s| s.len() > 2)
                .unwrap_or(w)
                .to_string()
        })
        .collect()
}

/// Where a phrase (already split into words) first appears in `text`.
fn first_at(text: &[String], phrase: &[String]) -> Option<usize> {
    if phrase.is_empty() || phrase.len() > text.len() {
        return None;
    }
    text.windows(phrase.len()).position(|w| w == phrase)
}

/// Each service the text names — in full, by its first word (`payment`), or by one of
/// its aliases — with the word position where it is first named.
fn mentions(q: &SimilarQuery, known: &[String]) -> Vec<(usize, String)> {
    let text = words(&q.description);
    let mut services: Vec<&String> = known.iter().chain(q.aliases.keys()).collect();
    services.sort();
    services.dedup();
    let mut out: Vec<(usize, String)> = services
        .into_iter()
        .filter_map(|svc| {
            let stem = svc.split('-').next().unwrap_or(svc);
            let names = [svc.as_str(), stem]
                .into_iter()
                .map(str::to_string)
                .chain(q.aliases.get(svc).into_iter().flatten().cloned());
            names
                .filter_map(|n| first_at(&text, &words(&n)))
                .min()
                .map(|at| (at, svc.clone()))
        })
        .collect();
    out.sort();
    out
}

/// The services a query names by an alias only (their canonical names are not in it).
pub fn aliased_services(q: &SimilarQuery) -> Vec<String> {
    let text = words(&q.description);
    mentions(q, &[])
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| first_at(&text, &words(s)).is_none())
        .collect()
}

/// The description with the canonical names of the services it mentions by alias
/// appended, so both the words and the vector know "payments" means payment-service.
pub fn expanded(q: &SimilarQuery) -> String {
    let mut out = q.description.clone();
    for svc in aliased_services(q) {
        out.push(' ');
        out.push_str(&svc);
    }
    out
}

/// The services a query is about, the one it is mainly about first: the one given, else
/// those its text names (in full, by first word, or by alias) in the order it names them
/// ("login fails because redis is down" is about auth-service first).
pub fn wanted_services(q: &SimilarQuery, known: &[String]) -> Vec<String> {
    if let Some(s) = &q.service {
        return vec![s.clone()];
    }
    mentions(q, known).into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> SimilarQuery {
        let mut aliases = BTreeMap::new();
        aliases.insert(
            "payment-service".to_string(),
            vec!["payments".to_string(), "billing".to_string()],
        );
        aliases.insert("auth-service".to_string(), vec!["sign-in".to_string()]);
        SimilarQuery {
            description: text.into(),
            aliases,
            ..SimilarQuery::default()
        }
    }

    #[test]
    fn aliases_name_services_as_words_not_substrings() {
        assert_eq!(
            aliased_services(&q("payments are failing")),
            vec!["payment-service"]
        );
        assert_eq!(
            aliased_services(&q("the payment is slow")),
            vec!["payment-service"]
        );
        assert_eq!(aliased_services(&q("Sign-in broken")), vec!["auth-service"]);
        assert!(aliased_services(&q("rebilling job")).is_empty());
        assert!(aliased_services(&q("payment-service is down")).is_empty());
        assert_eq!(expanded(&q("billing down")), "billing down payment-service");
        let known = ["auth-service".to_string(), "payment-service".to_string()];
        assert_eq!(
            wanted_services(&q("billing fails since sign-in broke"), &known),
            vec!["payment-service", "auth-service"]
        );
        assert!(wanted_services(&q("authentic"), &known).is_empty());
    }

    #[test]
    fn rrf_prefers_documents_both_lists_rank_high() {
        let both = fuse(
            Fusion::Rrf,
            Ranks {
                lexical: Some((0, 0.9)),
                semantic: Some((0, 0.8)),
            },
        );
        let one = fuse(
            Fusion::Rrf,
            Ranks {
                lexical: Some((0, 0.9)),
                semantic: None,
            },
        );
        assert!((both - 1.0).abs() < 1e-9 && one < 0.51 && one > 0.49);
    }
}
