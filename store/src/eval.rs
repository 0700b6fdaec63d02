//! The retrieval evaluation: queries phrased the way on-call engineers talk
//! (`eval/retrieval.json`), each with its expected answer, run against a seeded store and
//! scored at top-1 and top-3. `bench` reports it for lexical and hybrid retrieval; a test
//! holds hybrid retrieval to its targets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{ActionKind, AnomalyType};
use crate::similar::{Fusion, Retrieval, SimilarQuery};
use crate::{Result, Store, StoreError};

const EVAL_JSON: &str = include_str!("../eval/retrieval.json");

/// An incident query and the service and failure type its best match must have.
#[derive(Debug, Clone, Deserialize)]
pub struct IncidentCase {
    pub q: String,
    pub service: String,
    #[serde(rename = "type")]
    pub anomaly_type: AnomalyType,
}

/// A runbook query and the action (and runbook) its best match must have.
#[derive(Debug, Clone, Deserialize)]
pub struct RunbookCase {
    pub q: String,
    pub action: ActionKind,
    #[serde(default)]
    pub id: Option<String>,
}

/// The whole set, with the fleet's aliases the queries may use.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalSet {
    pub aliases: BTreeMap<String, Vec<String>>,
    pub incidents: Vec<IncidentCase>,
    pub runbooks: Vec<RunbookCase>,
}

/// The built-in set.
pub fn eval_set() -> Result<EvalSet> {
    serde_json::from_str(EVAL_JSON)
        .map_err(|e| StoreError::Backend(format!("built-in eval/retrieval.json is invalid: {e}")))
}

/// Accuracy over one group of queries.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Accuracy {
    pub queries: usize,
    pub top1: usize,
    pub top3: usize,
    /// How the store searched (every query of a run searches the same way).
    pub retrieval: Retrieval,
    /// The queries whose best hit was wrong, with what came first instead.
    pub misses: Vec<String>,
}

impl Accuracy {
    pub fn top1_pct(&self) -> f64 {
        pct(self.top1, self.queries)
    }
    pub fn top3_pct(&self) -> f64 {
        pct(self.top3, self.queries)
    }
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        (1000.0 * n as f64 / of as f64).round() / 10.0
    }
}

fn query(set: &EvalSet, q: &str, fusion: Fusion) -> SimilarQuery {
    SimilarQuery {
        description: q.to_string(),
        limit: 3,
        aliases: set.aliases.clone(),
        fusion,
        ..SimilarQuery::default()
    }
}

impl Accuracy {
    fn new(queries: usize) -> Accuracy {
        Accuracy {
            queries,
            top1: 0,
            top3: 0,
            retrieval: Retrieval::Lexical,
            misses: Vec::new(),
        }
    }

    /// Counts one query from whether each of its hits (best first) was right; `first`
    /// says what came first, for the misses.
    fn tally(&mut self, q: &str, right: &[bool], first: Option<String>) {
        if right.first() == Some(&true) {
            self.top1 += 1;
        } else {
            let first = first.unwrap_or_else(|| "nothing".into());
            self.misses.push(format!("{q:?} → {first}"));
        }
        if right.iter().any(|r| *r) {
            self.top3 += 1;
        }
    }
}

/// Runs the incident queries: text only (no service or type given), as a new user asks.
pub async fn incidents(store: &dyn Store, set: &EvalSet, fusion: Fusion) -> Result<Accuracy> {
    let mut acc = Accuracy::new(set.incidents.len());
    for case in &set.incidents {
        let hits = store
            .similar_incidents(&query(set, &case.q, fusion))
            .await?;
        acc.retrieval = hits.retrieval;
        let right: Vec<bool> = hits
            .hits
            .iter()
            .map(|h| h.item.service == case.service && h.item.anomaly_type == case.anomaly_type)
            .collect();
        let first = hits
            .hits
            .first()
            .map(|h| format!("{} {}", h.item.service, h.item.anomaly_type));
        acc.tally(&case.q, &right, first);
    }
    Ok(acc)
}

/// Runs the runbook queries.
pub async fn runbooks(store: &dyn Store, set: &EvalSet, fusion: Fusion) -> Result<Accuracy> {
    let mut acc = Accuracy::new(set.runbooks.len());
    for case in &set.runbooks {
        let hits = store
            .relevant_runbooks(&query(set, &case.q, fusion))
            .await?;
        acc.retrieval = hits.retrieval;
        let right: Vec<bool> = hits
            .hits
            .iter()
            .map(|h| {
                h.item.action == case.action && case.id.as_ref().is_none_or(|id| *id == h.item.id)
            })
            .collect();
        acc.tally(
            &case.q,
            &right,
            hits.hits.first().map(|h| h.item.id.clone()),
        );
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_big_enough_and_names_only_seeded_services() {
        let set = eval_set().unwrap();
        assert!(set.incidents.len() + set.runbooks.len() >= 40);
        let seeded: Vec<String> = crate::seed::incidents(chrono::Utc::now())
            .unwrap()
            .into_iter()
            .map(|i| i.service)
            .collect();
        for c in &set.incidents {
            assert!(seeded.contains(&c.service), "{} is not seeded", c.service);
        }
        let runbooks: Vec<String> = crate::seed::runbooks()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        for c in &set.runbooks {
            assert!(
                c.id.as_ref().is_none_or(|id| runbooks.contains(id)),
                "{:?}",
                c.id
            );
        }
    }
}
