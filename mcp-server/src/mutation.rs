//! THE road every mutation takes — the tools, the runner and the reaper alike:
//! policy (may this caller call this tool?) → the service's name → its targets, resolved
//! once → the plan → admission (capacity, plans, rate, budget) → the audit record →
//! dry run (the plan) or apply (with progress) → the audit outcome → a typed result.
//!
//! A mutation only declares its targets, its plan and its apply step (`Mutation`).
//! Fleet operations exist only inside `apply`, through `ApplyCx::ops`, and only on the
//! targets the road admitted: an unaudited change to a container does not compile.

mod audit;
mod context;
mod decisions;
mod refusals;

use std::sync::Arc;

use async_trait::async_trait;
use quantumstate_fleet::{
    ContainerDetail, FleetOps, FleetRead, MANAGED_LABEL, ROLE_LABEL, SwarmService,
};
use quantumstate_store::StoreHandle;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

pub use audit::{ApprovalNeeded, Plan};
pub use context::{ApplyCx, Client, Fence, Ops, PlanCx, Progress, TargetCx};

use crate::caller::Caller;
use crate::catalogue::{self, Capacity};
use crate::config::Config;
use crate::directory::Directory;
use crate::error::{ToolError, ToolResult};
use crate::policy::approvals;
use crate::policy::plans::{self, Proposal};
use crate::policy::{Admission, Guard, Policy};
use crate::telemetry::Telemetry;
use audit::Audit;

/// A mutation asking to pass.
#[derive(Debug, Clone)]
pub struct Request {
    /// The tool's name: its declaration in the catalogue and the audit's `tool`.
    pub tool: &'static str,
    /// The arguments as received: audited, and what a plan is bound to.
    pub arguments: Value,
    /// The service the call names, if any (checked against the known services).
    pub service: Option<String>,
    pub dry_run: bool,
    pub plan_id: Option<String>,
}

impl Request {
    /// A request from a tool's typed arguments.
    pub fn new<A: Serialize>(
        tool: &'static str,
        args: &A,
        service: Option<&str>,
        dry_run: bool,
        plan_id: Option<&str>,
    ) -> Request {
        Request {
            tool,
            arguments: serde_json::to_value(args).unwrap_or(Value::Null),
            service: service.map(str::to_string),
            dry_run,
            plan_id: plan_id.map(str::to_string),
        }
    }
}

/// What a real call would do, as the mutation plans it for its resolved targets.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// What would happen, in order, in words.
    pub operations: Vec<String>,
    /// Seconds the service would not serve (0 when none).
    pub downtime_seconds: u64,
    /// Services whose container a real call stops, restarts or recreates: each takes one
    /// use of that service's restart budget.
    pub disrupts: Vec<String>,
    /// True when it takes capacity away (stop, kill, pause, partition, cache offline, a
    /// defective version).
    pub takes_capacity: bool,
}

/// One kind of change: which containers, what it would do, and doing it.
#[async_trait]
pub trait Mutation: Send + Sync {
    type Output: Serialize + Send + Sync;

    /// The containers it acts on (default: the named service's own).
    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        Ok(vec![cx.service().await?])
    }

    /// The plan for the resolved targets; an error refuses the call (and is audited).
    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned>;

    /// Does it. Only here are fleet operations reachable, and only on the targets.
    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Self::Output>;

    /// One line for the audit record.
    fn summary(&self, out: &Self::Output) -> String;

    /// What the result names as its `service` (default: the service the call named,
    /// else the first target, else `all`).
    fn subject(&self, service: Option<&str>, targets: &[ContainerDetail]) -> String {
        service
            .map(str::to_string)
            .or_else(|| targets.first().map(|t| t.info.name.clone()))
            .unwrap_or_else(|| "all".into())
    }
}

/// The answer of every mutating tool: the plan of a dry run, or what was done.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Outcome<T> {
    pub service: String,
    /// True when nothing was changed.
    pub dry_run: bool,
    /// What a real call would do (dry runs only); quote its plan_id in the real call.
    pub plan: Option<Plan>,
    /// What was done (real calls only).
    pub result: Option<T>,
}

/// How far a call got: refused before anything changed, or applied (successfully or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Refused,
    Planned,
    Applied,
}

/// The road: one per process, shared by every caller.
pub struct Road {
    config: Arc<Config>,
    store: Arc<StoreHandle>,
    reads: Arc<dyn FleetRead>,
    ops: Arc<dyn FleetOps>,
    directory: Arc<Directory>,
    guard: Guard,
    telemetry: Telemetry,
    refusals: Arc<refusals::Refusals>,
}

impl Road {
    pub fn new(
        config: Arc<Config>,
        store: Arc<StoreHandle>,
        reads: Arc<dyn FleetRead>,
        ops: Arc<dyn FleetOps>,
        directory: Arc<Directory>,
        telemetry: Telemetry,
    ) -> Road {
        Road {
            config,
            store,
            reads,
            ops,
            directory,
            guard: Guard::default(),
            telemetry,
            refusals: Arc::default(),
        }
    }

    /// Bounds a refusal's record and folds it into the same refusal's record of the last
    /// minute (for refusals recorded outside the road, e.g. unauthenticated requests).
    pub fn fold_refusal(&self, rec: &mut quantumstate_store::AuditRecord) {
        self.refusals.fold(rec);
    }

    /// Runs `m` for `caller`: refused (audited), planned (dry run) or applied.
    pub async fn run<M: Mutation>(
        &self,
        caller: &Caller,
        req: Request,
        m: &M,
        client: Client,
    ) -> ToolResult<Outcome<M::Output>> {
        self.run_staged(caller, req, m, client).await.0
    }

    /// As `run`, also saying how far it got (the runner records whether Docker was used).
    pub async fn run_staged<M: Mutation>(
        &self,
        caller: &Caller,
        req: Request,
        m: &M,
        client: Client,
    ) -> (ToolResult<Outcome<M::Output>>, Stage) {
        let store = match self.store.get().await {
            Ok(s) => s,
            Err(e) => {
                let e = ToolError::from(e);
                let err = ToolError::unavailable(format!(
                    "cannot write the audit record, so nothing is changed: {}",
                    e.message
                ))
                .hint(e.hint.unwrap_or_else(|| "fix the store and retry".into()));
                return (Err(err), Stage::Refused);
            }
        };
        let mut audit = Audit::new(store.clone(), caller, &req, self.refusals.clone());
        let admitted = match self.admit(caller, &req, m, &store, &client).await {
            Ok(a) => a,
            Err(e) => {
                // A refusal that issued a plan (one waiting for approval) names it.
                if let Some(id) = e.details.as_ref().and_then(|d| d["plan_id"].as_str()) {
                    audit.set_plan_id(id);
                }
                audit.refused(&e).await;
                return (Err(e), Stage::Refused);
            }
        };
        let Admitted {
            targets,
            swarm,
            subject,
            plan,
            approved_by,
        } = admitted;
        audit.set_service(Some(subject.clone()));
        audit.set_hosts(&targets, swarm.as_ref());
        audit.set_approved_by(approved_by);
        if let Some(p) = &plan {
            audit.set_plan_id(&p.id);
        }
        if let Err(e) = audit.start().await {
            return (Err(e), Stage::Refused);
        }
        if req.dry_run {
            let out = Outcome {
                service: subject,
                dry_run: true,
                plan: plan.map(|p| Plan::of(&p, &targets)),
                result: None,
            };
            audit.finish_ok("dry run".into()).await;
            return (Ok(out), Stage::Planned);
        }
        let allowed: Vec<_> = targets.iter().map(ContainerDetail::target).collect();
        let cx = ApplyCx {
            targets: &targets,
            swarm: swarm.as_ref(),
            ops: Ops::new(
                self.ops.as_ref(),
                &allowed,
                swarm.as_ref(),
                &self.telemetry,
                client.fence.as_deref(),
                &targets,
            ),
            reads: self.reads.as_ref(),
            store: &store,
            caller,
            progress: &client.progress,
            fault_token: self.config.fault_token.as_deref(),
        };
        let result = m.apply(&cx).await;
        match &result {
            Ok(out) => audit.finish_ok(m.summary(out)).await,
            Err(e) => audit.finish_err(e).await,
        }
        let out = result.map(|r| Outcome {
            service: subject,
            dry_run: false,
            plan: None,
            result: Some(r),
        });
        (out, Stage::Applied)
    }

    /// Every check before the call's own audit record is written: the policy, the
    /// service's name, the targets, the plan, capacity, approval, rate and budget. A dry
    /// run issues its plan here; a real call uses up the plan it runs on here.
    async fn admit<M: Mutation>(
        &self,
        caller: &Caller,
        req: &Request,
        m: &M,
        store: &quantumstate_store::DynStore,
        client: &Client,
    ) -> ToolResult<Admitted> {
        let cfg = &self.config;
        let policy = Policy::new(cfg);
        let spec = catalogue::spec(req.tool).ok_or_else(|| {
            ToolError::failed(format!("{} is not declared in the catalogue", req.tool))
        })?;
        policy.allows(caller, spec)?;
        let service = match req.service.as_deref() {
            Some(s) => Some(self.directory.check(s).await?),
            None => None,
        };
        let swarm = match service.as_deref() {
            Some(s) => self.directory.swarm_check(s).await,
            None => false,
        };
        let tcx = TargetCx::new(service.as_deref(), swarm, self.reads.as_ref());
        let targets = m.targets(&tcx).await?;
        for t in &targets {
            check_managed(t)?;
        }
        let swarm = tcx.looked_up_swarm();
        let pcx = PlanCx {
            service: service.as_deref(),
            targets: &targets,
            swarm: swarm.as_ref(),
            reads: self.reads.as_ref(),
            store,
            caller,
        };
        let planned = m.plan(&pcx).await?;
        let takes = spec.capacity == Capacity::Always || planned.takes_capacity;
        policy.allows_capacity_loss(req.tool, takes)?;
        let subject = m.subject(service.as_deref(), &targets);
        let needs = approvals::needs_approval(cfg, caller, spec, takes);
        let proposal = Proposal {
            tool: req.tool,
            arguments: &req.arguments,
            service: Some(subject.as_str()),
            targets: &targets,
            operations: &planned.operations,
            downtime_seconds: planned.downtime_seconds,
            takes_capacity: takes,
        };
        if req.dry_run {
            let plan = plans::issue(store, cfg, caller, &proposal, needs).await?;
            return Ok(Admitted {
                targets,
                swarm,
                subject,
                plan: Some(plan),
                approved_by: None,
            });
        }
        let consent = client.consent.as_deref();
        let grant = approvals::check(
            store,
            cfg,
            caller,
            &proposal,
            req.plan_id.as_deref(),
            needs,
            consent,
        )
        .await?;
        let admission = Admission {
            dry_run: req.dry_run,
            disrupts: &planned.disrupts,
        };
        self.guard.admit(cfg, caller, &admission, store).await?;
        if let Some(p) = &grant.plan {
            plans::consume(store, p).await?;
        }
        Ok(Admitted {
            targets,
            swarm,
            subject,
            plan: grant.plan,
            approved_by: grant.approved_by,
        })
    }
}

/// What the checks let through.
struct Admitted {
    targets: Vec<ContainerDetail>,
    /// The swarm service the call names (only it can be updated).
    swarm: Option<SwarmService>,
    subject: String,
    /// The plan a dry run issued, or the one a real call runs on (used up).
    plan: Option<quantumstate_store::PlanRecord>,
    approved_by: Option<String>,
}

/// Refuses any container not labelled `quantumstate.managed=true`, and infra containers.
fn check_managed(t: &ContainerDetail) -> ToolResult<()> {
    let labels = &t.info.labels;
    let why = if labels.get(MANAGED_LABEL).map(String::as_str) != Some("true") {
        format!("it lacks the label {MANAGED_LABEL}=true")
    } else if labels.get(ROLE_LABEL).map(String::as_str) == Some("infra") {
        format!(
            "it is labelled {ROLE_LABEL}=infra (QuantumState's own containers are never targets)"
        )
    } else {
        return Ok(());
    };
    Err(quantumstate_fleet::FleetError::NotManaged {
        name: t.info.name.clone(),
        why,
    }
    .into())
}
