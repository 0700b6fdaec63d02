//! The audit record of one call on the road: written as `refused`, or as `started` and
//! then with its outcome; a dry run's record issues the plan id its plan carries.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use quantumstate_fleet::ContainerDetail;
use quantumstate_store::{AuditRecord, DynStore, Outcome};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Request;
use super::refusals::Refusals;
use crate::caller::Caller;
use crate::error::{ToolError, ToolResult};

/// The plan a dry run returns: what a real call would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Quote this as `plan_id` in the real call (once; required with --require-plan).
    pub plan_id: String,
    pub tool: String,
    /// Containers the call would touch.
    pub containers: Vec<String>,
    /// The Docker engine each of those containers runs on, in the same order.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// What would happen, in order.
    pub operations: Vec<String>,
    /// Seconds the service would not serve (0 when none).
    pub expected_downtime_seconds: u64,
    /// When the plan stops being accepted.
    pub valid_until: DateTime<Utc>,
    /// Present when a human must approve the plan before the real call runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalNeeded>,
}

/// How a plan that needs a human's yes gets one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalNeeded {
    /// `required` until an approver decides.
    pub status: String,
    pub plan_id: String,
    pub expires_at: DateTime<Utc>,
    /// The ways to approve it (HTTP, the host's CLI, the console).
    pub approve: serde_json::Value,
}

impl Plan {
    /// What a dry run answers for an issued plan.
    pub fn of(p: &quantumstate_store::PlanRecord, targets: &[ContainerDetail]) -> Plan {
        let pending = p.status == quantumstate_store::PlanStatus::Pending;
        Plan {
            plan_id: p.id.clone(),
            tool: p.tool.clone(),
            containers: targets.iter().map(|t| t.info.name.clone()).collect(),
            hosts: targets.iter().map(|t| t.info.host.clone()).collect(),
            operations: p.operations.clone(),
            expected_downtime_seconds: p.expected_downtime_seconds,
            valid_until: p.expires_at,
            approval: pending.then(|| ApprovalNeeded {
                status: "required".into(),
                plan_id: p.id.clone(),
                expires_at: p.expires_at,
                approve: crate::policy::plans::how_to_approve(&p.id),
            }),
        }
    }
}

/// One call's record, from first check to outcome.
pub(super) struct Audit {
    store: DynStore,
    record: AuditRecord,
    started: Instant,
    refusals: Arc<Refusals>,
}

impl Audit {
    pub(super) fn new(
        store: DynStore,
        caller: &Caller,
        req: &Request,
        refusals: Arc<Refusals>,
    ) -> Audit {
        let record = AuditRecord {
            id: quantumstate_store::new_id("aud"),
            timestamp: Utc::now(),
            who: caller.name.clone(),
            approved_by: None,
            tool: req.tool.to_string(),
            arguments: req.arguments.clone(),
            dry_run: req.dry_run,
            outcome: Outcome::Started,
            service: req.service.clone(),
            plan_id: req.plan_id.clone(),
            host: None,
            detail: None,
            duration_ms: 0,
            repeats: None,
            first_seen: None,
        };
        Audit {
            store,
            record,
            started: Instant::now(),
            refusals,
        }
    }

    /// The record of a call refused before it reached the road.
    pub(super) fn outside(
        store: DynStore,
        caller: &Caller,
        tool: &str,
        arguments: serde_json::Value,
        service: Option<String>,
        refusals: Arc<Refusals>,
    ) -> Audit {
        let dry_run = arguments
            .get("dry_run")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let record = AuditRecord {
            id: quantumstate_store::new_id("aud"),
            timestamp: Utc::now(),
            who: caller.name.clone(),
            approved_by: None,
            tool: tool.to_string(),
            arguments,
            dry_run,
            outcome: Outcome::Refused,
            service,
            plan_id: None,
            host: None,
            detail: None,
            duration_ms: 0,
            repeats: None,
            first_seen: None,
        };
        Audit {
            store,
            record,
            started: Instant::now(),
            refusals,
        }
    }

    pub(super) fn set_service(&mut self, service: Option<String>) {
        self.record.service = service;
    }

    /// Records a refusal (best effort: the refusal stands even if the write fails).
    pub(super) async fn refused(&mut self, err: &ToolError) {
        self.record.outcome = Outcome::Refused;
        self.record.detail = Some(err.message.clone());
        self.refusals.fold(&mut self.record);
        if let Err(e) = self.store.put_audit(&self.record).await {
            tracing::error!(error = %e, "could not audit a refusal");
        }
    }

    /// Records that the call was admitted; nothing may change unless this was written.
    pub(super) async fn start(&mut self) -> ToolResult<()> {
        self.store.put_audit(&self.record).await.map_err(|e| {
            ToolError::unavailable(format!(
                "cannot write the audit record, so nothing is changed: {e}"
            ))
        })
    }

    /// The plan this call issued (a dry run) or runs on.
    /// The engines of the admitted targets.
    pub(super) fn set_hosts(
        &mut self,
        targets: &[ContainerDetail],
        swarm: Option<&quantumstate_fleet::SwarmService>,
    ) {
        let mut hosts: Vec<&str> = targets.iter().map(|t| t.info.host.as_str()).collect();
        hosts.extend(swarm.map(|s| s.host.as_str()));
        hosts.sort_unstable();
        hosts.dedup();
        self.record.host = (!hosts.is_empty()).then(|| hosts.join(","));
    }

    pub(super) fn set_plan_id(&mut self, id: &str) {
        self.record.plan_id = Some(id.to_string());
    }

    /// Who approved the call, when someone had to.
    pub(super) fn set_approved_by(&mut self, by: Option<String>) {
        self.record.approved_by = by;
    }

    pub(super) async fn finish_ok(&mut self, detail: String) {
        self.record.outcome = Outcome::Ok;
        self.record.detail = Some(detail);
        self.write_outcome().await;
    }

    pub(super) async fn finish_err(&mut self, err: &ToolError) {
        self.record.outcome = Outcome::Error;
        self.record.detail = Some(err.message.clone());
        self.write_outcome().await;
    }

    /// An outcome write that fails is logged loudly: the operation has happened by now
    /// and its result must still reach the caller.
    async fn write_outcome(&mut self) {
        self.record.duration_ms = self.started.elapsed().as_millis() as u64;
        if let Err(e) = self.store.put_audit(&self.record).await {
            tracing::error!(audit_id = %self.record.id, error = %e, "could not write the outcome of an audited call");
        }
    }
}
