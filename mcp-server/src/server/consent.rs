//! Asking the human behind an MCP client to approve a plan: on protocol 2026-07-28 a
//! multi round-trip request (the call answers `input_required` with a form, and the
//! client retries with the answer and the plan id as `requestState`); on older protocols
//! `elicitation/create` while the call waits. Whether an answer counts is the server's
//! `--trust-client-approval`; the plan itself is always checked server-side.

use std::time::Duration;

use async_trait::async_trait;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};

use crate::error::ErrorCode;
use crate::policy::{Answer, Consent};

/// The key of the approval form among a call's input requests.
const KEY: &str = "approval";
/// How long a legacy elicitation may wait for the user.
const ASK_WITHIN: Duration = Duration::from_secs(120);

/// The consent channel of one `tools/call`.
pub struct McpConsent {
    carried: Option<(String, Answer)>,
    on_retry: bool,
    legacy: Option<Peer<RoleServer>>,
}

fn answer_of(v: &Value) -> Answer {
    match serde_json::from_value::<ElicitResult>(v.clone()) {
        Ok(r) => match r.action {
            ElicitationAction::Accept => {
                let yes = r
                    .content
                    .as_ref()
                    .and_then(|c| c.get("approve"))
                    .and_then(Value::as_bool);
                if yes == Some(true) {
                    Answer::Accepted
                } else {
                    Answer::Declined
                }
            }
            ElicitationAction::Decline => Answer::Declined,
            _ => Answer::NoAnswer,
        },
        Err(_) => Answer::NoAnswer,
    }
}

fn form(question: &str) -> Option<ElicitRequest> {
    let schema = json!({
        "type": "object",
        "properties": {"approve": {"type": "boolean", "title": "Approve", "description": question}},
        "required": ["approve"]
    });
    let schema = ElicitationSchema::from_json_schema(schema.as_object()?.clone()).ok()?;
    Some(ElicitRequest::new(
        ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: question.to_string(),
            requested_schema: schema,
        },
    ))
}

impl McpConsent {
    /// What this request's client can do, and the answer it carries, if any.
    pub fn of(params: &CallToolRequestParams, ctx: &RequestContext<RoleServer>) -> McpConsent {
        let elicits = ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some();
        let current = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let carried = params.request_state.as_ref().map(|plan_id| {
            let answer = params
                .input_responses
                .as_ref()
                .and_then(|r| r.get(KEY))
                .map(answer_of)
                .unwrap_or(Answer::NoAnswer);
            (plan_id.clone(), answer)
        });
        McpConsent {
            carried,
            on_retry: elicits && current,
            legacy: (elicits && !current).then(|| ctx.peer.clone()),
        }
    }

    /// A refusal that asks for the client's approval, turned into the `input_required`
    /// result that asks it (protocol 2026-07-28); anything else unchanged.
    pub fn ask_if_needed(&self, r: CallToolResponse) -> CallToolResponse {
        let CallToolResponse::Complete(c) = &r else {
            return r;
        };
        if !self.on_retry || c.is_error != Some(true) {
            return r;
        }
        let Some(err) = c.structured_content.as_ref().and_then(|v| v.get("error")) else {
            return r;
        };
        let code = serde_json::from_value::<ErrorCode>(err["code"].clone()).ok();
        let plan_id = err.pointer("/details/plan_id").and_then(Value::as_str);
        let question = err.pointer("/details/ask_client").and_then(Value::as_str);
        match (code, plan_id, question.and_then(form)) {
            (Some(ErrorCode::ApprovalRequired), Some(id), Some(req)) => {
                let mut requests = InputRequests::new();
                requests.insert(KEY.into(), InputRequest::Elicitation(req));
                InputRequiredResult::new(Some(requests), Some(id.to_string())).into()
            }
            _ => r,
        }
    }
}

#[async_trait]
impl Consent for McpConsent {
    fn carried(&self) -> Option<(String, Answer)> {
        self.carried.clone()
    }

    fn asks_on_retry(&self) -> bool {
        self.on_retry
    }

    async fn ask_now(&self, question: &str) -> Option<Answer> {
        let peer = self.legacy.as_ref()?;
        let req = form(question)?;
        let sent = peer.send_request(ServerRequest::ElicitRequest(req));
        match tokio::time::timeout(ASK_WITHIN, sent).await {
            Ok(Ok(ClientResult::ElicitResult(r))) => {
                Some(answer_of(&serde_json::to_value(r).unwrap_or(Value::Null)))
            }
            _ => Some(Answer::NoAnswer),
        }
    }
}
