//! The embedded backend: one SQLite file in WAL mode, shared by the scraper, the server
//! and the CLI (even across containers through a bind mount).
//!
//! One writer connection behind a mutex and a small pool of readers; every call runs on
//! tokio's blocking pool. Errors name the file and say what to do.

mod codec;
mod conn;
mod docs;
mod logs;
mod metrics;
mod plans;
mod pool;
mod queue;
mod schema;
mod search;
mod semantic;
mod series;
mod vectors;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use pool::SqliteStore;

use crate::model::*;
use crate::query::*;
use crate::similar::{Hits, SimilarQuery};
use crate::{Result, Store};

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path().display())
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
            .await
    }

    async fn put_metrics(&self, docs: &[Metric]) -> Result<usize> {
        let docs = docs.to_vec();
        self.write(move |tx, inner| metrics::insert(tx, &inner.series, &docs))
            .await
    }

    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries> {
        crate::rules::validate_metric_query(q)?;
        let q = q.clone();
        self.read(move |c| series::query(c, &q)).await
    }

    async fn metric_samples(
        &self,
        service: &str,
        metric_type: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>> {
        let service = service.to_string();
        self.read(move |c| metrics::samples(c, &service, metric_type, range, limit))
            .await
    }

    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.read(move |c| metrics::services(c, since)).await
    }

    async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        retention: Retention,
    ) -> Result<RetentionReport> {
        self.write(move |tx, _| {
            let mut r = metrics::retain(tx, now, retention)?;
            r.logs_deleted = logs::retain(tx, now - retention.logs)?;
            Ok(r)
        })
        .await
    }

    async fn put_logs(&self, docs: &[LogLine]) -> Result<usize> {
        let docs = docs.to_vec();
        self.write(move |tx, _| logs::insert(tx, &docs)).await
    }

    async fn search_logs(&self, q: &LogQuery) -> Result<Page<LogLine>> {
        let q = q.clone();
        self.read(move |c| logs::search(c, &q)).await
    }

    async fn count_logs(
        &self,
        service: Option<&str>,
        min_level: Level,
        range: TimeRange,
    ) -> Result<Vec<LogCount>> {
        let service = service.map(str::to_string);
        self.read(move |c| logs::counts(c, service.as_deref(), min_level, range))
            .await
    }

    async fn delete_scenario_data(&self, service: &str) -> Result<u64> {
        let service = service.to_string();
        self.write(move |tx, inner| {
            let m = metrics::delete_scenario(tx, &service)?;
            inner
                .series
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            let l = logs::delete_scenario(tx, &service)?;
            let d = tx.execute(
                "DELETE FROM deployments WHERE service = ?1 AND by_who = 'scenario'",
                [&service],
            )? as u64;
            Ok(m + l + d)
        })
        .await
    }

    async fn put_incident(&self, doc: &Incident) -> Result<()> {
        self.write_incidents(vec![doc.clone()], true)
            .await
            .map(|_| ())
    }

    async fn insert_incident_if_absent(&self, doc: &Incident) -> Result<bool> {
        Ok(self.write_incidents(vec![doc.clone()], false).await? == 1)
    }

    async fn insert_incidents_if_absent(&self, docs: &[Incident]) -> Result<usize> {
        self.write_incidents(docs.to_vec(), false).await
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "incidents", "id", &id))
            .await
    }

    async fn list_incidents(&self, f: &IncidentFilter) -> Result<Page<Incident>> {
        let f = f.clone();
        self.read(move |c| docs::list_incidents(c, &f)).await
    }

    async fn similar_incidents(&self, q: &SimilarQuery) -> Result<Hits<Incident>> {
        self.search_incidents(q).await
    }

    async fn put_runbook(&self, doc: &Runbook) -> Result<()> {
        self.write_runbook(doc.clone(), true).await.map(|_| ())
    }

    async fn insert_runbook_if_absent(&self, doc: &Runbook) -> Result<bool> {
        self.write_runbook(doc.clone(), false).await
    }

    async fn get_runbook(&self, id: &str) -> Result<Option<Runbook>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "runbooks", "id", &id))
            .await
    }

    async fn list_runbooks(&self, limit: usize) -> Result<Page<Runbook>> {
        self.read(move |c| docs::list_runbooks(c, limit)).await
    }

    async fn relevant_runbooks(&self, q: &SimilarQuery) -> Result<Hits<Runbook>> {
        self.search_runbooks(q).await
    }

    async fn put_decision(&self, doc: &Decision) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_decision(tx, &doc)).await
    }

    async fn list_decisions(&self, f: &DecisionFilter) -> Result<Page<Decision>> {
        let f = f.clone();
        self.read(move |c| docs::list_decisions(c, &f)).await
    }

    async fn put_deployment(&self, doc: &Deployment) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_deployment(tx, &doc))
            .await
    }

    async fn list_deployments(&self, f: &DeploymentFilter) -> Result<Page<Deployment>> {
        let f = f.clone();
        self.read(move |c| docs::list_deployments(c, &f)).await
    }

    async fn put_audit(&self, doc: &AuditRecord) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_audit(tx, &doc)).await
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<Page<AuditRecord>> {
        let f = f.clone();
        self.read(move |c| docs::list_audit(c, &f)).await
    }

    async fn delete_audit_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        self.write(move |tx, _| docs::delete_audit_before(tx, cutoff))
            .await
    }

    async fn put_plan(&self, doc: &PlanRecord) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| plans::put(tx, &doc)).await
    }

    async fn get_plan(&self, id: &str) -> Result<Option<PlanRecord>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "plans", "id", &id))
            .await
    }

    async fn update_plan_if(&self, doc: &PlanRecord, from: PlanStatus) -> Result<bool> {
        let doc = doc.clone();
        self.write(move |tx, _| plans::update_if(tx, &doc, from))
            .await
    }

    async fn list_plans(
        &self,
        status: Option<PlanStatus>,
        limit: usize,
    ) -> Result<Page<PlanRecord>> {
        self.read(move |c| plans::list(c, status, limit)).await
    }

    async fn put_task(&self, doc: &TaskRecord) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| plans::put_task(tx, &doc)).await
    }

    async fn get_task(&self, id: &str) -> Result<Option<TaskRecord>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "tasks", "id", &id))
            .await
    }

    async fn open_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>> {
        self.read(move |c| plans::open_tasks(c, limit)).await
    }

    async fn enqueue_action(&self, doc: &RemediationAction) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| queue::enqueue(tx, &doc)).await
    }

    async fn get_action(&self, exec_id: &str) -> Result<Option<RemediationAction>> {
        let id = exec_id.to_string();
        self.read(move |c| docs::get_doc(c, "actions", "exec_id", &id))
            .await
    }

    async fn list_actions(&self, f: &ActionFilter) -> Result<Page<RemediationAction>> {
        let f = f.clone();
        self.read(move |c| queue::list(c, &f)).await
    }

    async fn claim_action(&self, claim: &Claim) -> Result<Option<RemediationAction>> {
        let claim = claim.clone();
        self.write(move |tx, _| queue::claim(tx, &claim)).await
    }

    async fn renew_lease(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let (id, runner) = (exec_id.to_string(), runner_id.to_string());
        self.write(move |tx, _| queue::renew(tx, &id, &runner, until))
            .await
    }

    async fn record_intent(
        &self,
        exec_id: &str,
        runner_id: &str,
        until: DateTime<Utc>,
        intent: &serde_json::Value,
    ) -> Result<bool> {
        let (id, runner, intent) = (exec_id.to_string(), runner_id.to_string(), intent.clone());
        self.write(move |tx, _| queue::intend(tx, &id, &runner, until, intent))
            .await
    }

    async fn complete_action(&self, runner_id: &str, result: &RemediationResult) -> Result<bool> {
        let (runner, result) = (runner_id.to_string(), result.clone());
        self.write(move |tx, _| queue::complete(tx, &runner, &result))
            .await
    }

    async fn get_result(&self, exec_id: &str) -> Result<Option<RemediationResult>> {
        let id = exec_id.to_string();
        self.read(move |c| docs::get_doc(c, "results", "exec_id", &id))
            .await
    }

    async fn queue_depth(&self) -> Result<u64> {
        self.read(queue::depth).await
    }

    async fn take_budget(
        &self,
        key: &str,
        max: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<BudgetDecision> {
        let key = key.to_string();
        self.write(move |tx, _| queue::take_budget(tx, &key, max, window, now))
            .await
    }

    async fn budget_used(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u32> {
        let key = key.to_string();
        self.read(move |c| queue::budget_used(c, &key, window, now))
            .await
    }

    async fn observe_start(&self, service: &str, started_at: DateTime<Utc>) -> Result<u64> {
        let service = service.to_string();
        self.write(move |tx, _| queue::observe_start(tx, &service, started_at))
            .await
    }

    async fn put_fault(&self, doc: &FaultRecord) -> Result<()> {
        let doc = doc.clone();
        self.write(move |tx, _| docs::put_fault(tx, &doc)).await
    }

    async fn active_faults(&self) -> Result<Vec<FaultRecord>> {
        self.read(docs::active_faults).await
    }

    async fn get_fault(&self, id: &str) -> Result<Option<FaultRecord>> {
        let id = id.to_string();
        self.read(move |c| docs::get_doc(c, "faults", "id", &id))
            .await
    }
}
