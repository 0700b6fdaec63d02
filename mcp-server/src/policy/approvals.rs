//! Plans and approvals. Every dry run issues a plan bound to the tool, its arguments, the
//! resolved containers and the caller. Where the approval policy asks for it, a real call
//! runs only on a plan that someone other than the requester approved — through the HTTP
//! API, the host's CLI, the console, or (if trusted) the client asking its own user — and
//! each plan is used at most once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quantumstate_store::{DynStore, PlanRecord, PlanStatus, Verdict};
use serde_json::json;

use super::plans::{Proposal, check_binding, how_to_approve, issue, required, settle};
use crate::caller::{Caller, Scopes, Surface};
use crate::catalogue::{Capacity, Class, ToolSpec};
use crate::config::{ApprovalMode, Config};
use crate::error::{ErrorCode, ToolError, ToolResult};

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
