//! The auth role: `POST /login` creates a session and stores it in the session cache
//! (`auth-cache`, `PUT /sessions/{id}`); without the cache, logins fail with CACHE_OFFLINE.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::{json_object, short_string};
use crate::config::Role;
use crate::deps::CallError;
use crate::error::ApiError;
use crate::log::Level;
use crate::random;
use crate::state::AppState;
use crate::trace::TraceId;

pub const SESSION_TTL_SECONDS: u64 = 3600;

fn cache_offline(username: &str, reason: &str, trace: &TraceId) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "CACHE_OFFLINE",
        format!("login failed: the session cache is offline ({reason})"),
    )
    .trace(trace)
    .log_as(
        Level::Error,
        "REDIS_UNAVAILABLE",
        format!("Login for {username} failed: session cache unavailable — {reason}"),
    )
}

pub async fn login(
    State(state): State<AppState>,
    trace: TraceId,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body, &trace)?;
    let username =
        short_string(&body, "username", 64, &trace)?.unwrap_or_else(|| "guest".to_owned());
    let Some(cache) = state.deps().name_for_role(Role::Cache) else {
        return Err(cache_offline(
            &username,
            "no session cache is configured in DEPENDS_ON",
            &trace,
        ));
    };
    let session_id = random::hex_id("sess-", 32);
    let session = json!({
        "username": username,
        "created_at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "expires_in": SESSION_TTL_SECONDS,
        "issued_by": state.config().service_name,
    });
    let stored = state
        .deps()
        .call(
            &cache,
            Method::PUT,
            &format!("/sessions/{session_id}"),
            Some(&session),
            &trace,
        )
        .await;
    match stored {
        Ok(_) => Ok(Json(json!({
            "session_id": session_id,
            "username": username,
            "expires_in": SESSION_TTL_SECONDS,
            "trace_id": trace.as_str(),
        }))),
        Err(e @ CallError::Rejected { .. }) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_ERROR",
            format!("login failed: the session cache refused the session ({e})"),
        )
        .trace(&trace)),
        Err(e) => Err(cache_offline(&username, &e.to_string(), &trace)),
    }
}
