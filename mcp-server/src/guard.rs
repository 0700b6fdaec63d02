//! THE gate every mutation passes: who may call, the server's mode, the managed-label
//! allowlist, plans from dry runs, the shared restart budget, per-client rate limits —
//! and the audit record of every attempt, allowed or refused, dry or real.
//!
//! Tools never touch Docker for a mutation without a `Ticket` from `Guard::admit`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quantumstate_store::{AuditRecord, BudgetDecision, DynStore, Outcome};
use rmcp::RoleServer;
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;
use crate::config::Access;
use crate::error::{ErrorCode, ToolError, ToolResult};
use crate::fleet::{FleetError, MANAGED_LABEL, ROLE_LABEL};

/// How long a dry run's plan stays valid for `--require-plan`.
pub const PLAN_TTL: Duration = Duration::from_secs(300);

/// Where a call came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    Stdio,
    Http,
    Cli,
    Console,
    Runner,
    Reaper,
}

/// Who is calling: the token's name (or the surface's), and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub access: Access,
    pub surface: Surface,
}

impl Caller {
    pub fn stdio() -> Caller {
        Caller {
            name: "stdio".into(),
            access: Access::Write,
            surface: Surface::Stdio,
        }
    }

    pub fn cli() -> Caller {
        Caller {
            name: "cli".into(),
            access: Access::Write,
            surface: Surface::Cli,
        }
    }

    pub fn runner(on_behalf_of: Option<&str>) -> Caller {
        let name = match on_behalf_of {
            Some(who) => format!("runner:{who}"),
            None => "runner".into(),
        };
        Caller {
            name,
            access: Access::Write,
            surface: Surface::Runner,
        }
    }

    pub fn reaper() -> Caller {
        Caller {
            name: "reaper".into(),
            access: Access::Write,
            surface: Surface::Reaper,
        }
    }

    /// The caller of an MCP request: set by the HTTP auth layer (inside the request's
    /// `http::request::Parts`), by the in-process dispatcher directly, or stdio.
    pub fn from_ctx(ctx: &RequestContext<RoleServer>) -> Caller {
        if let Some(c) = ctx.extensions.get::<Caller>() {
            return c.clone();
        }
        if let Some(c) = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
        {
            return c.clone();
        }
        Caller::stdio()
    }
}

/// The class of a mutation, which decides which guardrails apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Writes to the knowledge store only (incidents, decisions, queued actions).
    Record,
    /// Changes a container, recoverably (restart, start, rollback, scale, service faults).
    Operate,
    /// Takes capacity away (stop, kill, pause, partition, bad deploy): hidden by
    /// `--disable-destructive`.
    Destructive,
}

/// A mutation asking to pass.
#[derive(Debug, Clone)]
pub struct Request {
    pub tool: &'static str,
    /// The arguments as received (audited, and compared with the plan's).
    pub arguments: Value,
    /// The service the call is about.
    pub service: Option<String>,
    /// Containers (service names) the call will touch: each must be managed.
    pub targets: Vec<String>,
    /// Services whose restart budget a real call uses.
    pub restarts: Vec<String>,
    pub dry_run: bool,
    pub plan_id: Option<String>,
    pub kind: Kind,
}

/// The plan a dry run returns: what a real call would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Quote this as `plan_id` in the real call (required with --require-plan).
    pub plan_id: String,
    pub tool: String,
    /// Containers the call would touch.
    pub containers: Vec<String>,
    /// What would happen, in order.
    pub operations: Vec<String>,
    /// Seconds the service would not serve (0 when none).
    pub expected_downtime_seconds: u64,
    /// When the plan stops being accepted.
    pub valid_until: DateTime<Utc>,
}

/// Permission to proceed, holding the audit record to complete.
pub struct Ticket {
    record: AuditRecord,
    store: DynStore,
    started: Instant,
}

impl Ticket {
    pub fn plan_id(&self) -> Option<&str> {
        self.record.plan_id.as_deref()
    }

    /// Builds the plan of a dry run.
    pub fn plan(&self, containers: Vec<String>, operations: Vec<String>, downtime: u64) -> Plan {
        Plan {
            plan_id: self.record.plan_id.clone().unwrap_or_default(),
            tool: self.record.tool.clone(),
            containers,
            operations,
            expected_downtime_seconds: downtime,
            valid_until: self.record.timestamp
                + chrono::Duration::seconds(PLAN_TTL.as_secs() as i64),
        }
    }

    /// Records the outcome. An audit write that fails is logged loudly; the operation
    /// has happened by now and its result must still reach the caller.
    pub async fn finish<T>(mut self, result: &ToolResult<T>, detail: Option<String>) {
        self.record.duration_ms = self.started.elapsed().as_millis() as u64;
        match result {
            Ok(_) => {
                self.record.outcome = Outcome::Ok;
                self.record.detail = detail;
            }
            Err(e) => {
                self.record.outcome = Outcome::Error;
                self.record.detail = Some(e.message.clone());
            }
        }
        if let Err(e) = self.store.put_audit(&self.record).await {
            tracing::error!(audit_id = %self.record.id, error = %e, "could not write the outcome of an audited call");
        }
    }
}

/// The gate. One per process; budgets live in the store, rate limits in memory.
#[derive(Default)]
pub struct Guard {
    rate: Mutex<HashMap<String, Vec<Instant>>>,
}

/// Arguments without `dry_run` and `plan_id`: what a plan is compared on.
fn canonical(args: &Value) -> Value {
    match args {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove("dry_run");
            m.remove("plan_id");
            Value::Object(m)
        }
        other => other.clone(),
    }
}

impl Guard {
    /// Checks a mutation against every guardrail. A refusal is audited and returned as
    /// a tool error saying why and what to do; an admitted call is audited as started.
    pub async fn admit(&self, app: &App, caller: &Caller, req: Request) -> ToolResult<Ticket> {
        let store = app.store().await.map_err(|e| {
            ToolError::unavailable(format!(
                "cannot write the audit record, so nothing is changed: {}",
                e.message
            ))
            .hint(e.hint.unwrap_or_else(|| "fix the store and retry".into()))
        })?;
        let now = Utc::now();
        let mut record = AuditRecord {
            id: quantumstate_store::new_id("aud"),
            timestamp: now,
            who: caller.name.clone(),
            tool: req.tool.to_string(),
            arguments: req.arguments.clone(),
            dry_run: req.dry_run,
            outcome: Outcome::Started,
            service: req.service.clone(),
            plan_id: if req.dry_run {
                Some(quantumstate_store::new_id("plan"))
            } else {
                req.plan_id.clone()
            },
            detail: None,
            duration_ms: 0,
        };
        if let Err(refusal) = self.check(app, caller, &req, &store, now).await {
            record.outcome = Outcome::Refused;
            record.detail = Some(refusal.message.clone());
            if let Err(e) = store.put_audit(&record).await {
                tracing::error!(error = %e, "could not audit a refusal");
            }
            return Err(refusal);
        }
        store.put_audit(&record).await.map_err(|e| {
            ToolError::unavailable(format!(
                "cannot write the audit record, so nothing is changed: {e}"
            ))
        })?;
        Ok(Ticket {
            record,
            store,
            started: Instant::now(),
        })
    }

    /// Audits a mutation refused before it reached `admit` (e.g. it named a container
    /// that is not managed). Best effort: the refusal stands even if the store is away.
    pub async fn refuse(
        &self,
        app: &App,
        caller: &Caller,
        tool: &str,
        arguments: Value,
        service: Option<String>,
        err: &ToolError,
    ) {
        let Ok(store) = app.store().await else { return };
        let dry_run = arguments
            .get("dry_run")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let rec = AuditRecord {
            id: quantumstate_store::new_id("aud"),
            timestamp: Utc::now(),
            who: caller.name.clone(),
            tool: tool.to_string(),
            arguments,
            dry_run,
            outcome: Outcome::Refused,
            service,
            plan_id: None,
            detail: Some(err.message.clone()),
            duration_ms: 0,
        };
        if let Err(e) = store.put_audit(&rec).await {
            tracing::error!(error = %e, "could not audit a refusal");
        }
    }

    async fn check(
        &self,
        app: &App,
        caller: &Caller,
        req: &Request,
        store: &DynStore,
        now: DateTime<Utc>,
    ) -> ToolResult<()> {
        let cfg = app.config();
        if caller.access == Access::Read {
            return Err(ToolError::forbidden(format!(
                "token {:?} is read-only and cannot call {}",
                caller.name, req.tool
            ))
            .hint("use a token with write access, or call read tools only"));
        }
        if cfg.read_only {
            return Err(ToolError::forbidden(format!(
                "the server runs with --read-only: {} is not available",
                req.tool
            )));
        }
        if cfg.disable_destructive && req.kind == Kind::Destructive {
            return Err(ToolError::forbidden(format!(
                "the server runs with --disable-destructive: {} takes capacity away and is disabled",
                req.tool
            ))
            .hint("restarts and rollbacks remain available"));
        }
        for target in &req.targets {
            check_managed(app, target).await?;
        }
        // Runner and reaper act on decisions already audited (the queued action, the fault).
        if cfg.require_plan
            && !req.dry_run
            && req.kind != Kind::Record
            && !matches!(caller.surface, Surface::Runner | Surface::Reaper)
        {
            self.check_plan(store, req, now).await?;
        }
        if !req.dry_run
            && matches!(caller.surface, Surface::Http | Surface::Console)
            && let Some(h) = &cfg.http
        {
            self.check_rate(&caller.name, h.mutation_rate_per_min)?;
        }
        if !req.dry_run {
            let b = cfg.restart_budget;
            let window = chrono::Duration::seconds(b.window.as_secs() as i64);
            for svc in &req.restarts {
                let key = format!("restart:{svc}");
                if let BudgetDecision::Exhausted { max, retry_at } =
                    store.take_budget(&key, b.max, window, now).await?
                {
                    let wait = (retry_at - now).num_seconds().max(1) as u64;
                    return Err(ToolError::new(
                        ErrorCode::RateLimited,
                        format!(
                            "restart budget spent: {svc} was restarted {max} times in the last {} s; \
                             allowed again at {} (in {wait} s)",
                            b.window.as_secs(),
                            retry_at.format("%H:%M:%S UTC")
                        ),
                    )
                    .hint("repeated restarts are not fixing it: look for the cause (correlate_deployments, search_logs) or roll back")
                    .retry_after(Duration::from_secs(wait)));
                }
            }
        }
        Ok(())
    }

    async fn check_plan(
        &self,
        store: &DynStore,
        req: &Request,
        now: DateTime<Utc>,
    ) -> ToolResult<()> {
        let need = || {
            ToolError::forbidden(format!("the server runs with --require-plan: {} needs the plan_id of a matching dry run", req.tool))
                .hint("call the same tool with the same arguments and dry_run: true, review the plan, then repeat with plan_id")
        };
        let id = req.plan_id.as_deref().ok_or_else(need)?;
        let plan = store.find_plan(id).await?.ok_or_else(|| {
            ToolError::forbidden(format!("plan {id:?} was not issued by a dry run"))
                .hint("run the dry run again and quote its plan_id")
        })?;
        if plan.tool != req.tool {
            return Err(ToolError::forbidden(format!(
                "plan {id:?} was made for {}, not {}",
                plan.tool, req.tool
            )));
        }
        if canonical(&plan.arguments) != canonical(&req.arguments) {
            return Err(ToolError::forbidden(format!(
                "plan {id:?} was made with different arguments"
            ))
            .hint("a plan covers exactly the arguments of its dry run; run a new dry run"));
        }
        if now - plan.timestamp > chrono::Duration::seconds(PLAN_TTL.as_secs() as i64) {
            return Err(ToolError::forbidden(format!(
                "plan {id:?} expired (plans are valid for 5 minutes)"
            ))
            .hint("run the dry run again"));
        }
        if plan.outcome != Outcome::Ok {
            return Err(ToolError::forbidden(format!(
                "plan {id:?} comes from a dry run that did not succeed"
            )));
        }
        Ok(())
    }

    fn check_rate(&self, who: &str, per_min: u32) -> ToolResult<()> {
        let mut map = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let hits = map.entry(who.to_string()).or_default();
        hits.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if hits.len() >= per_min as usize {
            let oldest = hits.first().copied().unwrap_or(now);
            let wait = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
            return Err(ToolError::new(
                ErrorCode::RateLimited,
                format!("{who} made {per_min} mutating calls in the last minute, the limit"),
            )
            .retry_after(wait));
        }
        hits.push(now);
        Ok(())
    }
}

/// Refuses any container not labelled `quantumstate.managed=true`, and infra containers.
pub async fn check_managed(app: &App, service: &str) -> ToolResult<()> {
    let detail = app
        .fleet()
        .inspect(service)
        .await
        .map_err(ToolError::from)?;
    let labels = &detail.info.labels;
    if labels.get(MANAGED_LABEL).map(String::as_str) != Some("true") {
        return Err(FleetError::NotManaged {
            name: service.into(),
            why: format!("it lacks the label {MANAGED_LABEL}=true"),
        }
        .into());
    }
    if labels.get(ROLE_LABEL).map(String::as_str) == Some("infra") {
        return Err(FleetError::NotManaged {
            name: service.into(),
            why: format!("it is labelled {ROLE_LABEL}=infra (QuantumState's own containers are never targets)"),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_compare_without_dry_run_and_plan_id() {
        let a = serde_json::json!({"service": "x", "dry_run": true});
        let b = serde_json::json!({"plan_id": "plan-1", "service": "x"});
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(
            canonical(&a),
            canonical(&serde_json::json!({"service": "y"}))
        );
    }

    #[test]
    fn rate_limit_counts_per_caller() {
        let g = Guard::default();
        for _ in 0..3 {
            g.check_rate("a", 3).unwrap();
        }
        let e = g.check_rate("a", 3).unwrap_err();
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert!(e.retry_after_seconds.is_some());
        g.check_rate("b", 3).unwrap();
    }
}
