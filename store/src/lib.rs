//! `quantumstate-store`: the data model of QuantumState, the `Store` trait every backend
//! implements, the embedded SQLite backend (default), the Elasticsearch backend and seed data.
//!
//! Everything above this crate (scraper, MCP tools, runner) talks to `Arc<dyn Store>`,
//! so the same behaviour suite (`tests/behaviour.rs`) holds every backend to one contract.

pub mod elastic;
pub mod eval;
mod handle;
pub mod model;
pub mod query;
pub mod rules;
pub mod seed;
pub mod similar;
pub mod source;
pub mod sqlite;
mod text;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use handle::StoreHandle;
pub use model::*;
pub use quantumstate_embed::Embedder;
pub use query::*;
pub use similar::{Fusion, Hits, Retrieval, Scored, SimilarQuery, Why};
pub use sqlite::SqliteStore;

/// Everything that can go wrong in a store, said so a person can act on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "the store file {path} is not a valid QuantumState database (corrupt or another file): {reason}"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("the store at {path} is locked by another process and stayed locked; retry shortly")]
    Locked { path: PathBuf },
    #[error("the store at {path} cannot be written: {reason}")]
    ReadOnly { path: PathBuf, reason: String },
    #[error("no {collection} document with id {id:?}")]
    NotFound {
        collection: &'static str,
        id: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("store error: {0}")]
    Backend(String),
    /// The metrics source (Prometheus) could not be reached or answered in time.
    #[error("the metrics source is unavailable: {0}")]
    SourceUnavailable(String),
    /// The metrics source refused or could not use a query (a template to fix).
    #[error("the metrics source refused the query: {0}")]
    SourceRefused(String),
}

impl StoreError {
    /// True when retrying later may succeed (locked, unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Locked { .. }
                | StoreError::Unavailable(_)
                | StoreError::SourceUnavailable(_)
                | StoreError::ReadOnly { .. }
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The one interface to QuantumState's data, whatever the backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite:/path` or `elasticsearch:https://...` (no secrets).
    fn describe(&self) -> String;

    /// A cheap read that fails when the backend cannot serve.
    async fn ping(&self) -> Result<()>;

    // ---- metrics ----
    async fn put_metrics(&self, docs: &[Metric]) -> Result<usize>;
    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries>;
    /// Raw samples in time order, at most `limit` (the newest when more match).
    async fn metric_samples(
        &self,
        service: &str,
        metric_type: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>>;
    /// Services with any metric since `since`, with their newest sample time.
    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>>;
    /// Drops data past retention and keeps rollups current.
    async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<RetentionReport>;

    // ---- logs ----
    /// Inserts lines; a line already stored (same service, time, message, trace) is skipped.
    /// Returns how many were new.
    async fn put_logs(&self, docs: &[LogLine]) -> Result<usize>;
    async fn search_logs(&self, q: &LogQuery) -> Result<Page<LogLine>>;
    async fn count_logs(
        &self,
        service: Option<&str>,
        min_level: Level,
        range: TimeRange,
    ) -> Result<Vec<LogCount>>;
    /// Removes documents written by `seed --scenario` for one service (re-seeding replaces them).
    async fn delete_scenario_data(&self, service: &str) -> Result<u64>;

    // ---- incidents ----
    /// Inserts or replaces by id.
    async fn put_incident(&self, doc: &Incident) -> Result<()>;
    /// Inserts only when the id is new; returns whether it was.
    async fn insert_incident_if_absent(&self, doc: &Incident) -> Result<bool>;
    async fn get_incident(&self, id: &str) -> Result<Option<Incident>>;
    async fn list_incidents(&self, f: &IncidentFilter) -> Result<Page<Incident>>;
    /// Inserts the incidents whose ids are new, in one go (seeding, bulk import); returns
    /// how many were new. Backends with vectors embed the batch at once.
    async fn insert_incidents_if_absent(&self, docs: &[Incident]) -> Result<usize> {
        let mut n = 0;
        for d in docs {
            n += usize::from(self.insert_incident_if_absent(d).await?);
        }
        Ok(n)
    }
    /// Past incidents like the query, best first, and how they were found.
    async fn similar_incidents(&self, q: &SimilarQuery) -> Result<Hits<Incident>>;

    // ---- runbooks ----
    async fn put_runbook(&self, doc: &Runbook) -> Result<()>;
    async fn insert_runbook_if_absent(&self, doc: &Runbook) -> Result<bool>;
    async fn get_runbook(&self, id: &str) -> Result<Option<Runbook>>;
    async fn list_runbooks(&self, limit: usize) -> Result<Page<Runbook>>;
    async fn relevant_runbooks(&self, q: &SimilarQuery) -> Result<Hits<Runbook>>;

    // ---- decisions ----
    async fn put_decision(&self, doc: &Decision) -> Result<()>;
    async fn list_decisions(&self, f: &DecisionFilter) -> Result<Page<Decision>>;

    // ---- deployments ----
    async fn put_deployment(&self, doc: &Deployment) -> Result<()>;
    async fn list_deployments(&self, f: &DeploymentFilter) -> Result<Page<Deployment>>;

    // ---- audit ----
    /// Inserts or replaces by id (a call is written as `started`, then its outcome).
    async fn put_audit(&self, doc: &AuditRecord) -> Result<()>;
    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditRecord>>;
    /// Deletes audit records older than `cutoff` (the audit's retention); how many went.
    async fn delete_audit_before(&self, cutoff: DateTime<Utc>) -> Result<u64>;

    // ---- plans (dry runs, approvals) ----
    /// Inserts a new plan.
    async fn put_plan(&self, doc: &PlanRecord) -> Result<()>;
    /// A plan by id, read through (a plan quoted right after its dry run is found).
    async fn get_plan(&self, id: &str) -> Result<Option<PlanRecord>>;
    /// Replaces the plan `doc.id` with `doc` only if it is still in status `from`;
    /// false (and nothing written) when another process moved it first.
    async fn update_plan_if(&self, doc: &PlanRecord, from: PlanStatus) -> Result<bool>;
    /// Plans newest first, in one status or all.
    async fn list_plans(
        &self,
        status: Option<PlanStatus>,
        limit: usize,
    ) -> Result<Page<PlanRecord>>;

    // ---- tasks (long calls a client polls) ----
    /// Inserts or replaces a task by id.
    async fn put_task(&self, doc: &TaskRecord) -> Result<()>;
    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>>;
    /// Tasks still working or waiting for input, oldest first (at most `limit`).
    async fn open_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>>;

    // ---- remediation queue ----
    async fn enqueue_action(&self, doc: &RemediationAction) -> Result<()>;
    async fn get_action(&self, exec_id: &str) -> Result<Option<RemediationAction>>;
    async fn list_actions(&self, f: &ActionFilter) -> Result<Page<RemediationAction>>;
    /// Atomically claims the oldest claimable action: `pending`, `executing` with no
    /// `runner_started_at` (the original agents' convention), or `executing` whose lease
    /// ran out. A claim past `max_attempts` is marked failed instead and not returned.
    async fn claim_action(&self, claim: &Claim) -> Result<Option<RemediationAction>>;
    /// Extends the lease of an action this runner holds; false if it no longer holds it.
    async fn renew_lease(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Records what the holder is about to do (and extends its lease), only if
    /// `runner_id` still holds the claim; false (nothing written) when it does not.
    async fn record_intent(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
        intent: &serde_json::Value,
    ) -> Result<bool>;
    /// Writes the final status and the result document, only if `runner_id` still holds
    /// the claim. Returns false (and writes nothing) when it does not.
    async fn complete_action(&self, runner_id: &str, result: &RemediationResult) -> Result<bool>;
    async fn get_result(&self, exec_id: &str) -> Result<Option<RemediationResult>>;
    /// Actions pending or executing (the runner's queue depth).
    async fn queue_depth(&self) -> Result<u64>;

    // ---- budgets (shared by every process on the store) ----
    /// Takes one use of `key` if fewer than `max` were taken in the last `window`.
    async fn take_budget(
        &self,
        key: &str,
        max: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<BudgetDecision>;
    /// Uses of `key` within the window ending now.
    async fn budget_used(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u32>;

    // ---- restart counts (ours: Docker's RestartCount ignores `docker restart`) ----
    /// Records that `service`'s container was seen started at `started_at`; a start time
    /// newer than the last one seen counts one restart. Returns the restarts counted so far.
    async fn observe_start(&self, service: &str, started_at: DateTime<Utc>) -> Result<u64>;

    // ---- container-level faults ----
    async fn put_fault(&self, doc: &FaultRecord) -> Result<()>;
    async fn active_faults(&self) -> Result<Vec<FaultRecord>>;
    async fn get_fault(&self, id: &str) -> Result<Option<FaultRecord>>;
}

/// A shared store handle.
pub type DynStore = Arc<dyn Store>;

/// Where the store lives: parsed from `QS_STORE` / `--store`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Sqlite(PathBuf),
    Elasticsearch,
}

impl StoreSpec {
    /// `sqlite:PATH`, a bare path, or `elasticsearch`; empty means the default file.
    pub fn parse(text: Option<&str>) -> Result<StoreSpec> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(StoreSpec::Sqlite(default_db_path()?)),
            Some("elasticsearch") | Some("elastic") | Some("es") => Ok(StoreSpec::Elasticsearch),
            Some(t) => {
                let path = t.strip_prefix("sqlite:").unwrap_or(t);
                let path = path.strip_prefix("//").unwrap_or(path);
                if path.is_empty() {
                    return Err(StoreError::Invalid(
                        "QS_STORE=sqlite: needs a path, e.g. sqlite:./data/quantumstate.db".into(),
                    ));
                }
                if t.contains("://") && !t.starts_with("sqlite:") {
                    return Err(StoreError::Invalid(format!(
                        "unknown store {t:?}: use sqlite:PATH or elasticsearch (with ELASTIC_URL)"
                    )));
                }
                Ok(StoreSpec::Sqlite(PathBuf::from(path)))
            }
        }
    }
}

/// `$QS_DATA_DIR/quantumstate.db`; `QS_DATA_DIR` defaults to `$XDG_DATA_HOME/quantumstate`,
/// then `~/.local/share/quantumstate`, so a stdio server started from any directory finds
/// the same store.
pub fn default_db_path() -> Result<PathBuf> {
    Ok(data_dir()?.join("quantumstate.db"))
}

/// The data directory: `QS_DATA_DIR`, else `$XDG_DATA_HOME/quantumstate`, else
/// `~/.local/share/quantumstate`.
pub fn data_dir() -> Result<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = var("QS_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(x) = var("XDG_DATA_HOME") {
        return Ok(PathBuf::from(x).join("quantumstate"));
    }
    if let Some(h) = var("HOME") {
        return Ok(PathBuf::from(h).join(".local/share/quantumstate"));
    }
    Err(StoreError::Invalid(
        "no store location: set QS_STORE=sqlite:PATH, QS_DATA_DIR or HOME".into(),
    ))
}

/// Opens the store a spec names. Elasticsearch settings come from the original's
/// variables (`ELASTIC_URL`, `ELASTIC_API_KEY`, `ELASTIC_CLOUD_ID`).
pub async fn open(spec: &StoreSpec) -> Result<DynStore> {
    open_with(spec, None).await
}

/// The same, with a sentence model for hybrid similarity search (either backend; loaded
/// on the first search or write that needs a vector).
pub async fn open_with(spec: &StoreSpec, embedder: Option<Arc<Embedder>>) -> Result<DynStore> {
    match spec {
        StoreSpec::Sqlite(path) => {
            let path = path.clone();
            let store =
                tokio::task::spawn_blocking(move || SqliteStore::open_with(&path, embedder))
                    .await
                    .map_err(|e| StoreError::Backend(format!("open task failed: {e}")))??;
            Ok(Arc::new(store))
        }
        StoreSpec::Elasticsearch => Ok(Arc::new(
            elastic::ElasticStore::from_env()?.with_embedder(embedder),
        )),
    }
}

/// A new random id with a readable prefix, e.g. `act-3f2a...`.
pub fn new_id(prefix: &str) -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &u[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_spec_parses() {
        assert_eq!(
            StoreSpec::parse(Some("sqlite:./data/q.db")).unwrap(),
            StoreSpec::Sqlite(PathBuf::from("./data/q.db"))
        );
        assert_eq!(
            StoreSpec::parse(Some("/tmp/x.db")).unwrap(),
            StoreSpec::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            StoreSpec::parse(Some("elasticsearch")).unwrap(),
            StoreSpec::Elasticsearch
        );
        assert!(StoreSpec::parse(Some("sqlite:")).is_err());
        assert!(StoreSpec::parse(Some("mysql://x")).is_err());
    }
}
