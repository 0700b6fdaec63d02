//! `GET /api/approvals?status=pending` (the plans, for anyone signed in) and
//! `POST /api/approvals/{plan_id}` with `{"decision": "approve"|"deny", "note": ...}`
//! (a token holding the `approve` scope, never the requester's own).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use quantumstate_store::{PlanStatus, Verdict};
use serde::Deserialize;
use serde_json::json;

use super::HttpState;
use super::api::error_response;
use crate::caller::Caller;
use crate::error::ToolError;

/// The longest listing answered.
const MAX_LISTED: usize = 200;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    note: Option<String>,
}

pub async fn list(State(s): State<HttpState>, Query(q): Query<ListQuery>) -> Response {
    let status = match q.status.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        None | Some("all") => None,
        Some(x) => match PlanStatus::parse(x) {
            Some(p) => Some(p),
            None => {
                return error_response(&ToolError::invalid(format!(
                    "status {x:?} is not one of pending, approved, denied, used, issued, all"
                )));
            }
        },
    };
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_LISTED);
    let store = match s.app.store().await {
        Ok(st) => st,
        Err(e) => return error_response(&e),
    };
    match store.list_plans(status, limit).await {
        Ok(mut page) => {
            // A pending plan past its lifetime can no longer be approved: not listed as such.
            if status == Some(PlanStatus::Pending) {
                let now = Utc::now();
                page.items.retain(|p| p.expires_at > now);
            }
            Json(json!({"plans": page.items, "truncated": page.truncated})).into_response()
        }
        Err(e) => error_response(&e.into()),
    }
}

pub async fn decide(
    State(s): State<HttpState>,
    Path(id): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let b: DecisionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                &ToolError::invalid(format!("the body is not a decision: {e}"))
                    .hint(r#"send {"decision": "approve"} or {"decision": "deny", "note": "why"}"#),
            );
        }
    };
    let verdict = match b.decision.trim() {
        "approve" => Verdict::Approve,
        "deny" => Verdict::Deny,
        other => {
            return error_response(&ToolError::invalid(format!(
                "decision {:?} must be approve or deny",
                crate::text::truncate(other, 40)
            )));
        }
    };
    let note = b
        .note
        .map(|n| crate::text::truncate(n.trim(), 500))
        .filter(|n| !n.is_empty());
    let id = crate::text::truncate(id.trim(), 80);
    match s.app.road().decide(&caller, &id, verdict, note).await {
        Ok(plan) => Json(json!({"plan": plan})).into_response(),
        Err(e) => error_response(&e),
    }
}
