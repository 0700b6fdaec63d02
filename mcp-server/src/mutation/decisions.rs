//! What the road audits that is not a mutation of its own: a call refused before it
//! reached the road, and an approver's decision on a plan.

use serde_json::Value;

use super::Road;
use super::audit::Audit;
use crate::caller::Caller;
use crate::error::{ToolError, ToolResult};
use crate::policy::approvals;

impl Road {
    /// Audits a call refused before it reached the road (a tool this server hides, the
    /// console's gate). Best effort: the refusal stands even if the store is away.
    pub async fn refused_outside(
        &self,
        caller: &Caller,
        tool: &str,
        arguments: Value,
        service: Option<String>,
        err: &ToolError,
    ) {
        let Ok(store) = self.store.get().await else {
            return;
        };
        Audit::outside(
            store,
            caller,
            tool,
            arguments,
            service,
            self.refusals.clone(),
        )
        .refused(err)
        .await;
    }

    /// An approver's decision on a pending plan, audited (allowed or refused) as
    /// `decide_plan` under the approver's name.
    pub async fn decide(
        &self,
        approver: &Caller,
        plan_id: &str,
        verdict: quantumstate_store::Verdict,
        note: Option<String>,
    ) -> ToolResult<quantumstate_store::PlanRecord> {
        let store = self.store.get().await.map_err(ToolError::from)?;
        let word = match verdict {
            quantumstate_store::Verdict::Approve => "approve",
            quantumstate_store::Verdict::Deny => "deny",
        };
        let args = serde_json::json!({"plan_id": plan_id, "decision": word, "note": note});
        let result = approvals::decide(&store, approver, plan_id, verdict, note).await;
        let service = result.as_ref().ok().and_then(|p| p.service.clone());
        let mut audit = Audit::outside(
            store,
            approver,
            "decide_plan",
            args,
            service,
            self.refusals.clone(),
        );
        audit.set_plan_id(plan_id);
        match &result {
            Ok(p) => {
                audit
                    .finish_ok(format!(
                        "{} plan {} of {} for {} asked by {}",
                        p.status.as_str(),
                        p.id,
                        p.tool,
                        p.service.as_deref().unwrap_or("-"),
                        p.requester
                    ))
                    .await
            }
            Err(e) => audit.refused(e).await,
        }
        result
    }
}
