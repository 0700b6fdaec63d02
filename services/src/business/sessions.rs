//! The cache role's routes: `GET/PUT /sessions/{id}` over the bounded session map
//! (`crate::sessions`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::valid_id;
use crate::error::ApiError;
use crate::sessions::MAX_SESSION_BYTES;
use crate::state::AppState;
use crate::trace::TraceId;

fn check_id(id: &str, trace: &TraceId) -> Result<(), ApiError> {
    if valid_id(id, 128) {
        Ok(())
    } else {
        Err(
            ApiError::bad_request("session id must be 1-128 letters, digits, '-', '_' or '.'")
                .trace(trace),
        )
    }
}

pub async fn put_session(
    State(state): State<AppState>,
    trace: TraceId,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_id(&id, &trace)?;
    if body.len() > MAX_SESSION_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SESSION_TOO_LARGE",
            format!("a session is at most {MAX_SESSION_BYTES} bytes"),
        )
        .trace(&trace));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the session is not valid JSON: {e}")).trace(&trace)
    })?;
    state.sessions().put(&id, value.to_string());
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "stored": true, "sessions": state.sessions().len()})),
    ))
}

pub async fn get_session(
    State(state): State<AppState>,
    trace: TraceId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id, &trace)?;
    let text = state.sessions().get(&id).ok_or_else(|| {
        ApiError::not_found("SESSION_NOT_FOUND", format!("no session {id}")).trace(&trace)
    })?;
    let session: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Json(json!({"id": id, "session": session})))
}
