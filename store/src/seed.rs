//! Seed data: seed 001's four incidents and a history of past incidents (times relative to
//! now), the eight runbooks, and the three backdated scenarios of seed 001.
//!
//! Seeding is idempotent: documents are keyed by fixed ids and never overwritten.

mod scenario;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AnomalyType, Incident, Runbook};
use crate::{Result, Store, StoreError};

pub use scenario::{Scenario, ScenarioReport, seed_scenario};

const INCIDENTS_JSON: &str = include_str!("seed/incidents.json");
const RUNBOOKS_JSON: &str = include_str!("seed/runbooks.json");

/// An incident as written in the data file: its age instead of a date.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedIncident {
    id: String,
    days_ago: f64,
    service: String,
    region: String,
    anomaly_type: AnomalyType,
    title: String,
    description: String,
    root_cause: String,
    actions_taken: String,
    mttr_seconds: u64,
}

/// What a seed run added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeedReport {
    pub incidents_added: usize,
    pub incidents_present: usize,
    pub runbooks_added: usize,
    pub runbooks_present: usize,
}

/// The seeded incidents, dated relative to `now` (whole minutes).
pub fn incidents(now: DateTime<Utc>) -> Result<Vec<Incident>> {
    let raw: Vec<SeedIncident> = serde_json::from_str(INCIDENTS_JSON)
        .map_err(|e| StoreError::Backend(format!("built-in incidents.json is invalid: {e}")))?;
    let base = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    Ok(raw
        .into_iter()
        .map(|s| {
            let start = base - Duration::seconds((s.days_ago * 86_400.0).round() as i64);
            Incident {
                id: s.id,
                timestamp: start,
                service: s.service,
                region: s.region,
                anomaly_type: s.anomaly_type,
                title: s.title,
                description: s.description,
                root_cause: s.root_cause,
                actions_taken: s.actions_taken,
                resolved_at: Some(start + Duration::seconds(s.mttr_seconds as i64)),
                mttr_seconds: Some(s.mttr_seconds),
                status: "resolved".into(),
                source: Some("seed".into()),
                alert: None,
                verified: None,
                runbook_id: None,
            }
        })
        .collect())
}

/// The eight built-in runbooks.
pub fn runbooks() -> Result<Vec<Runbook>> {
    serde_json::from_str(RUNBOOKS_JSON)
        .map_err(|e| StoreError::Backend(format!("built-in runbooks.json is invalid: {e}")))
}

/// Loads incidents and runbooks that are not there yet; running it twice changes nothing.
pub async fn seed(store: &dyn Store, now: DateTime<Utc>) -> Result<SeedReport> {
    let mut r = SeedReport {
        incidents_added: 0,
        incidents_present: 0,
        runbooks_added: 0,
        runbooks_present: 0,
    };
    let all = incidents(now)?;
    r.incidents_added = store.insert_incidents_if_absent(&all).await?;
    r.incidents_present = all.len() - r.incidents_added;
    for rb in runbooks()? {
        if store.insert_runbook_if_absent(&rb).await? {
            r.runbooks_added += 1;
        } else {
            r.runbooks_present += 1;
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn seed_files_cover_every_service_and_kind() {
        let now = Utc::now();
        let inc = incidents(now).unwrap();
        assert!(inc.len() >= 44, "{} incidents", inc.len());
        let ids: HashSet<_> = inc.iter().map(|i| i.id.clone()).collect();
        assert_eq!(ids.len(), inc.len(), "ids are unique");
        for svc in [
            "payment-service",
            "checkout-service",
            "auth-service",
            "inventory-service",
            "auth-cache",
        ] {
            assert!(inc.iter().any(|i| i.service == svc), "{svc}");
        }
        for a in AnomalyType::ALL {
            assert!(inc.iter().any(|i| i.anomaly_type == a), "{a}");
        }
        let first = &inc[0];
        assert_eq!(first.id, "inc-seed-001");
        assert_eq!(first.mttr_seconds, Some(47 * 60));
        assert_eq!((now - first.timestamp).num_days(), 14);
        let rb = runbooks().unwrap();
        assert_eq!(rb.len(), 8);
    }
}
