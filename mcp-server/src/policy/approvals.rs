//! Plans and approvals. Every dry run issues a plan bound to the tool, its arguments, the
//! resolved containers and the caller. Where the approval policy asks for it, a real call
//! runs only on a plan that someone other than the requester approved — through the HTTP
//! API, the host's CLI, the console, or (if trusted) the client asking its own user — and
//! each plan is used at most once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quantumstate_fleet::ContainerDetail;
use quantumstate_store::{DynStore, PlanRecord, PlanStatus, PlanTarget, Verdict};
use serde_json::{Value, json};

use super::guard::canonical;
use crate::caller::{Caller, Scopes, Surface};
use crate::catalogue::{Capacity, Class, ToolSpec};
use crate::config::{ApprovalMode, Config};
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

/// A client's answer to "approve this?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    Declined,
    /// Cancelled, dismissed, or no answer at all.
    NoAnswer,
}

/// The channel to the human behind the client, where there is one.
#[async_trait]
pub trait Consent: Send + Sync {
    /// The answer this very request carries for a plan (a multi round-trip retry).
    fn carried(&self) -> Option<(String, Answer)>;
    /// True when the client can be asked on a retry (protocol 2026-07-28, `input_required`).
    fn asks_on_retry(&self) -> bool;
    /// Asks now and waits for the answer (older protocols' `elicitation/create`); None
    /// when this client cannot be asked that way.
    async fn ask_now(&self, question: &str) -> Option<Answer>;
}

/// What the approval step lets through: the plan to use up (if any) and who approved.
#[derive(Debug, Default)]
pub struct Grant {
    pub plan: Option<PlanRecord>,
    pub approved_by: Option<String>,
}

/// True when a real call of `spec` by `caller` needs a human's approval first.
pub fn needs_approval(
    cfg: &Config,
    caller: &Caller,
    spec: &ToolSpec,
    takes_capacity: bool,
) -> bool {
    // The runner and reaper act on decisions already made (a queued action, a fault's TTL).
    if matches!(caller.surface, Surface::Runner | Surface::Reaper) || spec.class == Class::Record {
        return false;
    }
    match cfg.approval {
        ApprovalMode::Off => false,
        ApprovalMode::Destructive => spec.capacity == Capacity::Always || takes_capacity,
        ApprovalMode::Mutations => true,
    }
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
fn plan_for(cfg: &Config, caller: &Caller, p: &Proposal<'_>, needs: bool) -> PlanRecord {
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

fn required(plan: &PlanRecord, why: &str) -> ToolError {
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
fn check_binding(
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
async fn settle(
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

/// The approval step of a real call: what plan it runs on, and who approved it.
pub async fn check(
    store: &DynStore,
    cfg: &Config,
    caller: &Caller,
    p: &Proposal<'_>,
    plan_id: Option<&str>,
    needs: bool,
    consent: Option<&dyn Consent>,
) -> ToolResult<Grant> {
    let now = Utc::now();
    if let Some(id) = plan_id {
        let plan = store.get_plan(id).await?.ok_or_else(|| {
            ToolError::new(
                ErrorCode::PlanMismatch,
                format!("no plan {id:?} was issued; nothing was changed"),
            )
            .hint("quote the plan_id a dry run of this call returned")
        })?;
        check_binding(&plan, caller, p, now)?;
        if needs && plan.status != PlanStatus::Approved {
            return Err(required(
                &plan,
                "its plan was made when no approval was needed",
            ));
        }
        let approved_by = plan
            .decided_by
            .clone()
            .filter(|_| plan.status == PlanStatus::Approved);
        return Ok(Grant {
            plan: Some(plan),
            approved_by,
        });
    }
    if !needs {
        if cfg.require_plan && !matches!(caller.surface, Surface::Runner | Surface::Reaper) {
            return Err(ToolError::forbidden(format!(
                "the server runs with --require-plan: {} needs the plan_id of a matching dry run",
                p.tool
            ))
            .hint("call the same tool with the same arguments and dry_run: true, review the plan, then repeat with plan_id"));
        }
        return Ok(Grant::default());
    }
    let trusted = cfg.trust_client_approval.then_some(consent).flatten();
    let Some(consent) = trusted else {
        let plan = issue(store, cfg, caller, p, true).await?;
        return Err(required(&plan, "the server's approval policy asks for it"));
    };
    if let Some((id, answer)) = consent.carried() {
        let plan = store.get_plan(&id).await?.ok_or_else(|| {
            ToolError::new(
                ErrorCode::PlanMismatch,
                format!("no plan {id:?} was issued; nothing was changed"),
            )
        })?;
        check_binding_pending(&plan, caller, p, now)?;
        let by = format!("client:{}", caller.name);
        return match answer {
            Answer::Accepted => {
                let plan = settle(store, &plan, Verdict::Approve, &by, None).await?;
                Ok(Grant {
                    approved_by: Some(by),
                    plan: Some(plan),
                })
            }
            Answer::Declined => {
                settle(
                    store,
                    &plan,
                    Verdict::Deny,
                    &by,
                    Some("declined by the client's user".into()),
                )
                .await?;
                Err(ToolError::new(
                    ErrorCode::ApprovalDenied,
                    format!("the user declined plan {}; nothing was changed", plan.id),
                ))
            }
            Answer::NoAnswer => Err(required(&plan, "the client's user gave no answer")),
        };
    }
    let plan = issue(store, cfg, caller, p, true).await?;
    if consent.asks_on_retry() {
        return Err(required(&plan, "asking the client's user").details(json!({
            "plan_id": plan.id, "expires_at": plan.expires_at,
            "approve": how_to_approve(&plan.id), "ask_client": question(&plan),
        })));
    }
    match consent.ask_now(&question(&plan)).await {
        Some(Answer::Accepted) => {
            let by = format!("client:{}", caller.name);
            let plan = settle(store, &plan, Verdict::Approve, &by, None).await?;
            Ok(Grant {
                approved_by: Some(by),
                plan: Some(plan),
            })
        }
        Some(Answer::Declined) => {
            let by = format!("client:{}", caller.name);
            settle(
                store,
                &plan,
                Verdict::Deny,
                &by,
                Some("declined by the client's user".into()),
            )
            .await?;
            Err(ToolError::new(
                ErrorCode::ApprovalDenied,
                format!("the user declined plan {}; nothing was changed", plan.id),
            ))
        }
        Some(Answer::NoAnswer) => Err(required(&plan, "the client's user gave no answer")),
        None => Err(required(&plan, "the server's approval policy asks for it")),
    }
}

/// As `check_binding`, for a plan the client is answering for (it must still wait).
fn check_binding_pending(
    plan: &PlanRecord,
    caller: &Caller,
    p: &Proposal<'_>,
    now: DateTime<Utc>,
) -> ToolResult<()> {
    match check_binding(plan, caller, p, now) {
        Err(e) if e.code == ErrorCode::ApprovalRequired => Ok(()),
        Err(e) => Err(e),
        Ok(()) => Err(ToolError::new(
            ErrorCode::PlanUsed,
            format!(
                "plan {} was already decided ({})",
                plan.id,
                plan.status.as_str()
            ),
        )),
    }
}

/// What the client's user is asked.
pub fn question(plan: &PlanRecord) -> String {
    format!(
        "QuantumState wants to run {} for {}: {}. Expected downtime {} s. Approve?",
        plan.tool,
        plan.requester,
        plan.operations.join("; "),
        plan.expected_downtime_seconds
    )
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

/// An approver's decision on a pending plan: from a token holding `approve` (or the host's
/// CLI), never the requester's own.
pub async fn decide(
    store: &DynStore,
    approver: &Caller,
    id: &str,
    verdict: Verdict,
    note: Option<String>,
) -> ToolResult<PlanRecord> {
    if !approver.scopes.contains(Scopes::APPROVE) {
        return Err(ToolError::forbidden(format!(
            "{:?} has the scopes {} and deciding on plans needs approve",
            approver.name,
            approver.scopes.names()
        ))
        .hint(
            "an approver's token holds the approve scope (e.g. --token lead:SECRET:read+approve)",
        ));
    }
    let plan = store
        .get_plan(id)
        .await?
        .ok_or_else(|| ToolError::not_found(format!("no plan {id:?}")))?;
    if plan.requester == approver.name {
        return Err(ToolError::forbidden(format!(
            "{:?} asked for plan {id} and cannot approve its own request",
            approver.name
        ))
        .hint("someone else, with a token holding the approve scope, must decide"));
    }
    if plan.status != PlanStatus::Pending {
        return Err(ToolError::new(
            ErrorCode::PlanUsed,
            format!(
                "plan {id} is {}, not waiting for a decision",
                plan.status.as_str()
            ),
        ));
    }
    if Utc::now() > plan.expires_at {
        return Err(ToolError::new(
            ErrorCode::PlanExpired,
            format!(
                "plan {id} expired at {}",
                plan.expires_at.format("%H:%M:%S UTC")
            ),
        ));
    }
    settle(store, &plan, verdict, &approver.name, note).await
}
