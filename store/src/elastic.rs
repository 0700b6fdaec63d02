//! The Elasticsearch backend: the same `Store` on an existing cluster, sharing the
//! original's indices (`metrics-quantumstate`, ...) so its agents and ours can coexist.
//!
//! Indices are set up on first use with explicit mappings (never changing an existing
//! index's mapping); every request has a timeout and bounded retries; queue claims,
//! budgets and restart counts use `if_seq_no`/`if_primary_term`, so they are safe across
//! processes. Configuration comes from `ELASTIC_URL`/`ELASTIC_CLOUD_ID` and friends.

mod budgets;
mod bulk;
mod client;
pub mod config;
mod docs;
mod dsl;
mod errors;
mod logs;
mod mappings;
mod metrics;
mod plans;
mod queue;
mod search;
mod series;
mod setup;
mod vectors;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use elasticsearch::http::Method;

pub use config::{Auth, ElasticConfig, Refresh, RetryPolicy, Target};

use client::{Body, Es};
use mappings::Idx;

use crate::model::*;
use crate::query::*;
use crate::similar::{Hits, SimilarQuery};
use crate::{Result, Store};

/// The Elasticsearch store. Cheap to clone.
#[derive(Clone)]
pub struct ElasticStore {
    es: Arc<Es>,
    /// The sentence model for the kNN half of similarity search (and documents' vectors).
    embedder: Option<Arc<crate::Embedder>>,
}

impl ElasticStore {
    /// Builds the client; no request is made until the first call.
    pub fn new(cfg: &ElasticConfig) -> Result<ElasticStore> {
        Ok(ElasticStore {
            es: Arc::new(Es::new(cfg)?),
            embedder: None,
        })
    }

    /// The same store, writing vectors and searching with them when `embedder` has a model.
    pub fn with_embedder(mut self, embedder: Option<Arc<crate::Embedder>>) -> Self {
        self.embedder = embedder;
        self
    }

    /// `ElasticStore::new` with the settings in the environment.
    pub fn from_env() -> Result<ElasticStore> {
        Self::new(&ElasticConfig::from_env()?)
    }

    /// Every index this store uses (with the prefix), for operators and test teardown.
    pub fn index_names(&self) -> Vec<String> {
        Idx::ALL.iter().map(|i| i.name(&self.es.prefix)).collect()
    }

    /// Deletes every index and template this store created. Irreversible: meant for
    /// tearing down a test's prefixed set, never for a shared deployment.
    pub async fn delete_everything(&self) -> Result<()> {
        for name in self.index_names() {
            self.es
                .send(
                    Method::Delete,
                    &format!("/{name}"),
                    &[],
                    &Body::Empty,
                    &[404],
                )
                .await?;
        }
        for idx in Idx::ALL {
            if let Some((t, _)) = idx.template(&self.es.prefix) {
                self.es
                    .send(
                        Method::Delete,
                        &format!("/_index_template/{t}"),
                        &[],
                        &Body::Empty,
                        &[404],
                    )
                    .await?;
            }
        }
        self.es.forget_indices();
        Ok(())
    }
}

const INCIDENTS: Idx = Idx::C(Collection::Incidents);
const RUNBOOKS: Idx = Idx::C(Collection::Runbooks);
const DECISIONS: Idx = Idx::C(Collection::Decisions);
const DEPLOYMENTS: Idx = Idx::C(Collection::Deployments);
const AUDIT: Idx = Idx::C(Collection::Audit);

#[async_trait]
impl Store for ElasticStore {
    fn describe(&self) -> String {
        if self.es.prefix.is_empty() {
            format!("elasticsearch:{}", self.es.target)
        } else {
            format!(
                "elasticsearch:{} (indices prefixed {:?})",
                self.es.target, self.es.prefix
            )
        }
    }

    async fn ping(&self) -> Result<()> {
        queue::depth(&self.es).await.map(|_| ())
    }

    async fn put_metrics(&self, docs: &[Metric]) -> Result<usize> {
        metrics::put(&self.es, docs).await
    }

    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries> {
        series::query(&self.es, q).await
    }

    async fn metric_samples(
        &self,
        service: &str,
        metric_type: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>> {
        metrics::samples(&self.es, service, metric_type, range, limit).await
    }

    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        metrics::services(&self.es, since).await
    }

    async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<RetentionReport> {
        let mut r = metrics::retain(&self.es, now, retention).await?;
        r.logs_deleted = logs::retain(&self.es, now - retention.logs).await?;
        Ok(r)
    }

    async fn put_logs(&self, docs: &[LogLine]) -> Result<usize> {
        logs::put(&self.es, docs).await
    }

    async fn search_logs(&self, q: &LogQuery) -> Result<Page<LogLine>> {
        logs::search_logs(&self.es, q).await
    }

    async fn count_logs(
        &self,
        service: Option<&str>,
        min_level: Level,
        range: TimeRange,
    ) -> Result<Vec<LogCount>> {
        logs::counts(&self.es, service, min_level, range).await
    }

    async fn delete_scenario_data(&self, service: &str) -> Result<u64> {
        let m = metrics::delete_scenario(&self.es, service).await?;
        let l = logs::delete_scenario(&self.es, service).await?;
        let q = dsl::filtered(vec![
            dsl::term("service", service),
            dsl::term("by", "scenario"),
        ]);
        let d = docs::delete_by_query(&self.es, DEPLOYMENTS, q).await?;
        Ok(m + l + d)
    }

    async fn put_incident(&self, doc: &Incident) -> Result<()> {
        let v = vectors::incident(self.embedder.as_ref(), doc).await?;
        docs::put_value(&self.es, INCIDENTS, &doc.id, v).await
    }

    async fn insert_incident_if_absent(&self, doc: &Incident) -> Result<bool> {
        let v = vectors::incident(self.embedder.as_ref(), doc).await?;
        docs::create(&self.es, INCIDENTS, &doc.id, &v).await
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>> {
        docs::get(&self.es, INCIDENTS, id).await
    }

    async fn list_incidents(&self, f: &IncidentFilter) -> Result<Page<Incident>> {
        docs::list_incidents(&self.es, f).await
    }

    async fn similar_incidents(&self, q: &SimilarQuery) -> Result<Hits<Incident>> {
        search::incidents(&self.es, self.embedder.as_ref(), q).await
    }

    async fn put_runbook(&self, doc: &Runbook) -> Result<()> {
        let v = vectors::runbook(self.embedder.as_ref(), doc).await?;
        docs::put_value(&self.es, RUNBOOKS, &doc.id, v).await
    }

    async fn insert_runbook_if_absent(&self, doc: &Runbook) -> Result<bool> {
        let v = vectors::runbook(self.embedder.as_ref(), doc).await?;
        docs::create(&self.es, RUNBOOKS, &doc.id, &v).await
    }

    async fn get_runbook(&self, id: &str) -> Result<Option<Runbook>> {
        docs::get(&self.es, RUNBOOKS, id).await
    }

    async fn list_runbooks(&self, limit: usize) -> Result<Page<Runbook>> {
        docs::list_runbooks(&self.es, limit).await
    }

    async fn relevant_runbooks(&self, q: &SimilarQuery) -> Result<Hits<Runbook>> {
        search::runbooks(&self.es, self.embedder.as_ref(), q).await
    }

    async fn put_decision(&self, doc: &Decision) -> Result<()> {
        docs::put(&self.es, DECISIONS, &doc.id, doc).await
    }

    async fn list_decisions(&self, f: &DecisionFilter) -> Result<Page<Decision>> {
        docs::list_decisions(&self.es, f).await
    }

    async fn put_deployment(&self, doc: &Deployment) -> Result<()> {
        docs::put(&self.es, DEPLOYMENTS, &doc.id, doc).await
    }

    async fn list_deployments(&self, f: &DeploymentFilter) -> Result<Page<Deployment>> {
        docs::list_deployments(&self.es, f).await
    }

    async fn put_audit(&self, doc: &AuditRecord) -> Result<()> {
        docs::put(&self.es, AUDIT, &doc.id, doc).await
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditRecord>> {
        docs::list_audit(&self.es, f).await
    }

    async fn delete_audit_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        docs::delete_by_query(
            &self.es,
            docs::AUDIT,
            serde_json::json!({"range": {"@timestamp": {"lt": cutoff.to_rfc3339()}}}),
        )
        .await
    }

    async fn put_plan(&self, doc: &PlanRecord) -> Result<()> {
        plans::put(&self.es, doc).await
    }

    async fn get_plan(&self, id: &str) -> Result<Option<PlanRecord>> {
        plans::get(&self.es, id).await
    }

    async fn update_plan_if(&self, doc: &PlanRecord, from: PlanStatus) -> Result<bool> {
        plans::update_if(&self.es, doc, from).await
    }

    async fn list_plans(
        &self,
        status: Option<PlanStatus>,
        limit: usize,
    ) -> Result<Page<PlanRecord>> {
        plans::list(&self.es, status, limit).await
    }

    async fn put_task(&self, doc: &TaskRecord) -> Result<()> {
        plans::put_task(&self.es, doc).await
    }

    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>> {
        plans::get_task(&self.es, id).await
    }

    async fn open_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>> {
        plans::open_tasks(&self.es, limit).await
    }

    async fn enqueue_action(&self, doc: &RemediationAction) -> Result<()> {
        queue::enqueue(&self.es, doc).await
    }

    async fn get_action(&self, exec_id: &str) -> Result<Option<RemediationAction>> {
        queue::get_action(&self.es, exec_id).await
    }

    async fn list_actions(&self, f: &ActionFilter) -> Result<Page<RemediationAction>> {
        queue::list(&self.es, f).await
    }

    async fn claim_action(&self, claim: &Claim) -> Result<Option<RemediationAction>> {
        queue::claim(&self.es, claim).await
    }

    async fn renew_lease(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        queue::renew(&self.es, exec_id, runner_id, until).await
    }

    async fn record_intent(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
        intent: &serde_json::Value,
    ) -> Result<bool> {
        queue::intend(&self.es, exec_id, runner_id, until, intent).await
    }

    async fn complete_action(&self, runner_id: &str, result: &RemediationResult) -> Result<bool> {
        queue::complete(&self.es, runner_id, result).await
    }

    async fn get_result(&self, exec_id: &str) -> Result<Option<RemediationResult>> {
        queue::get_result(&self.es, exec_id).await
    }

    async fn queue_depth(&self) -> Result<u64> {
        queue::depth(&self.es).await
    }

    async fn take_budget(
        &self,
        key: &str,
        max: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<BudgetDecision> {
        budgets::take(&self.es, key, max, window, now).await
    }

    async fn budget_used(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u32> {
        budgets::used(&self.es, key, window, now).await
    }

    async fn observe_start(&self, service: &str, started_at: DateTime<Utc>) -> Result<u64> {
        budgets::observe_start(&self.es, service, started_at).await
    }

    async fn put_fault(&self, doc: &FaultRecord) -> Result<()> {
        docs::put(&self.es, Idx::Faults, &doc.id, doc).await
    }

    async fn active_faults(&self) -> Result<Vec<FaultRecord>> {
        docs::active_faults(&self.es).await
    }

    async fn get_fault(&self, id: &str) -> Result<Option<FaultRecord>> {
        docs::get(&self.es, Idx::Faults, id).await
    }
}
