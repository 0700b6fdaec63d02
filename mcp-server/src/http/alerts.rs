//! `POST /api/alerts`: Alertmanager's webhook. Authenticated by the alert token alone
//! (`--alert-token`, sent as Alertmanager's bearer credentials), which grants nothing
//! else; the payload is checked whole before any incident is written.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::HttpState;
use super::api::error_response;
use super::auth::{deny, presented, same_secret};
use crate::caller::Caller;
use crate::error::{ErrorCode, ToolError};

pub async fn receive(State(s): State<HttpState>, req: Request) -> Response {
    let Some(expected) = s.cfg.alerts.token.clone() else {
        return error_response(
            &ToolError::not_found("the alert webhook is off on this server")
                .hint("start the server with --alert-token (QS_ALERT_TOKEN) and give Alertmanager the same secret"),
        );
    };
    let ok =
        presented(req.headers()).is_some_and(|t| same_secret(t.as_bytes(), expected.as_bytes()));
    if !ok {
        return deny(
            &s,
            req,
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "wrong_alert_token",
            "POST /api/alerts needs Authorization: Bearer <the alert token>".into(),
        )
        .await;
    }
    let body = match axum::body::to_bytes(req.into_body(), super::MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return error_response(&ToolError::invalid(format!(
                "the body could not be read (at most {} bytes): {e}",
                super::MAX_BODY
            )));
        }
    };
    let alerts = match crate::alerts::parse(&body) {
        Ok(a) => a,
        Err(e) => return error_response(&e),
    };
    let caller = Caller::alertmanager();
    match crate::alerts::intake::receive(&s.app, &caller, &alerts, s.cfg.alerts.on_alert).await {
        Ok(received) => (StatusCode::OK, Json(json!({"received": received}))).into_response(),
        Err(e) => error_response(&e),
    }
}
