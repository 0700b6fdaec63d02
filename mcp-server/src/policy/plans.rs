//! Plans: issued by dry runs (and by real calls that must wait for approval), bound to
//! the tool, its arguments, the containers and the caller; checked against the call that
//! quotes them; decided and used up with a compare-and-set, so each runs at most once.

use chrono::{DateTime, Utc};
use quantumstate_fleet::ContainerDetail;
use quantumstate_store::{DynStore, PlanRecord, PlanStatus, PlanTarget, Verdict};
use serde_json::{Value, json};

use super::guard::canonical;
use crate::caller::Caller;
use crate::config::Config;
use crate::error::{ErrorCode, ToolError, ToolResult};

/// What a call proposes to do, as its dry run (or real call) resolved it.
pub struct Proposal<'a> {
    pub tool: &'a str,
    pub arguments: &'a Value,
    pub service: Option<&'a str>,
    pub targets: &'a [ContainerDetail],
    pub operations: &'a [String],
    pub downtime_seconds: u64,
    pub takes_capacity: bool,
}

/// How to get plan `id` approved, for messages and plans.
pub fn how_to_approve(id: &str) -> Value {
    json!({
        "http": format!("POST /api/approvals/{id} with {{\"decision\": \"approve\"}} and a token holding the approve scope (not the requester's)"),
        "cli": format!("quantumstate-mcp approve {id}"),
        "console": "the console's Pending approvals panel (an approver signed in)",
    })
}

fn targets_of(t: &[ContainerDetail]) -> Vec<PlanTarget> {
    t.iter()
        .map(|d| PlanTarget {
            host: d.info.host.clone(),
            service: d.info.name.clone(),
            container_id: d.info.id.clone(),
        })
        .collect()
}

/// A new plan for `p`, waiting for approval when `needs` says so.
pub(super) fn plan_for(cfg: &Config, caller: &Caller, p: &Proposal<'_>, needs: bool) -> PlanRecord {
    let now = Utc::now();
    PlanRecord {
        id: quantumstate_store::new_id("plan"),
        created_at: now,
        expires_at: now + chrono::Duration::seconds(cfg.plan_ttl.as_secs() as i64),
        tool: p.tool.to_string(),
        arguments: canonical(p.arguments),
        service: p.service.map(str::to_string),
        targets: targets_of(p.targets),
        requester: caller.name.clone(),
        operations: p.operations.to_vec(),
        expected_downtime_seconds: p.downtime_seconds,
        takes_capacity: p.takes_capacity,
        status: if needs {
            PlanStatus::Pending
        } else {
            PlanStatus::Issued
        },
        decided_by: None,
        decided_at: None,
        note: None,
        used_at: None,
    }
}

/// Issues the plan of a dry run.
pub async fn issue(
    store: &DynStore,
    cfg: &Config,
    caller: &Caller,
    p: &Proposal<'_>,
    needs: bool,
) -> ToolResult<PlanRecord> {
    let plan = plan_for(cfg, caller, p, needs);
    store.put_plan(&plan).await?;
    Ok(plan)
}

pub(super) fn required(plan: &PlanRecord, why: &str) -> ToolError {
    ToolError::new(
        ErrorCode::ApprovalRequired,
        format!("{} needs a human's approval first ({why}); plan {} is waiting for it, and nothing was changed", plan.tool, plan.id),
    )
    .hint(format!(
        "ask an approver: quantumstate-mcp approve {id} on the host, POST /api/approvals/{id}, or the console's Pending approvals; then repeat the call with plan_id {id}",
        id = plan.id
    ))
    .details(json!({"plan_id": plan.id, "expires_at": plan.expires_at, "approve": how_to_approve(&plan.id)}))
}

/// Checks that `plan` was made for exactly this call by this caller, and is still usable.
pub(super) fn check_binding(
    plan: &PlanRecord,
    caller: &Caller,
    p: &Proposal<'_>,
    now: DateTime<Utc>,
) -> ToolResult<()> {
    let mismatch = |what: String| {
        ToolError::new(
            ErrorCode::PlanMismatch,
            format!("plan {} {what}; nothing was changed", plan.id),
        )
        .hint(
            "a plan covers exactly the call of its dry run: run a new dry run with these arguments",
        )
    };
    if plan.tool != p.tool {
        return Err(mismatch(format!(
            "was made for {}, not {}",
            plan.tool, p.tool
        )));
    }
    if plan.requester != caller.name {
        return Err(mismatch(format!(
            "was asked for by {:?}, not {:?}",
            plan.requester, caller.name
        )));
    }
    if plan.arguments != canonical(p.arguments) {
        return Err(mismatch("was made with different arguments".into()));
    }
    if plan.targets != targets_of(p.targets) {
        return Err(mismatch(
            "was made for other containers (one was recreated or replaced since)".into(),
        ));
    }
    if now > plan.expires_at {
        return Err(ToolError::new(
            ErrorCode::PlanExpired,
            format!(
                "plan {} expired at {}; nothing was changed",
                plan.id,
                plan.expires_at.format("%H:%M:%S UTC")
            ),
        )
        .hint("run the dry run again for a fresh plan"));
    }
    match plan.status {
        PlanStatus::Used => Err(ToolError::new(
            ErrorCode::PlanUsed,
            format!(
                "plan {} was already used; a plan runs once and nothing was changed",
                plan.id
            ),
        )
        .hint("run a new dry run for another call")),
        PlanStatus::Denied => Err(ToolError::new(
            ErrorCode::ApprovalDenied,
            format!(
                "plan {} was denied by {}{}; nothing was changed",
                plan.id,
                plan.decided_by.as_deref().unwrap_or("an approver"),
                plan.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        )),
        PlanStatus::Pending => Err(required(plan, "it has not been decided yet")),
        PlanStatus::Approved | PlanStatus::Issued => Ok(()),
    }
}

/// Marks a pending plan approved or denied by `by`, if it still waits.
pub(super) async fn settle(
    store: &DynStore,
    plan: &PlanRecord,
    verdict: Verdict,
    by: &str,
    note: Option<String>,
) -> ToolResult<PlanRecord> {
    let mut p = plan.clone();
    p.status = match verdict {
        Verdict::Approve => PlanStatus::Approved,
        Verdict::Deny => PlanStatus::Denied,
    };
    p.decided_by = Some(by.to_string());
    p.decided_at = Some(Utc::now());
    p.note = note;
    if !store.update_plan_if(&p, PlanStatus::Pending).await? {
        let now = store
            .get_plan(&p.id)
            .await?
            .map(|x| x.status.as_str())
            .unwrap_or("gone");
        return Err(ToolError::new(
            ErrorCode::PlanUsed,
            format!(
                "plan {} is no longer waiting for a decision (it is {now})",
                p.id
            ),
        ));
    }
    Ok(p)
}

/// Uses up the plan a real call runs on (once: a second use loses the race).
pub async fn consume(store: &DynStore, plan: &PlanRecord) -> ToolResult<()> {
    let mut used = plan.clone();
    used.status = PlanStatus::Used;
    used.used_at = Some(Utc::now());
    if store.update_plan_if(&used, plan.status).await? {
        return Ok(());
    }
    Err(ToolError::new(
        ErrorCode::PlanUsed,
        format!(
            "plan {} was used by another call just now; nothing was changed",
            plan.id
        ),
    ))
}
