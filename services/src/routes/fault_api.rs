//! Fault control: `POST /faults`, `GET /faults`, `DELETE /faults/{id}`,
//! `POST /faults/reset`; errors are `{"error": {"field", "message"}}`. The writes take
//! the bearer token `QS_FAULT_TOKEN` (QuantumState holds it; without one they are off),
//! JSON bodies only, and no browser requests (any `Origin` is refused).

use axum::Json;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::spec;
use crate::faults::{EndReason, FaultView, SpecErrorKind, StartError};
use crate::state::AppState;

/// A fault-control error naming the field at fault.
#[derive(Debug)]
pub struct FieldError {
    pub status: StatusCode,
    pub field: String,
    pub message: String,
}

impl IntoResponse for FieldError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"field": self.field, "message": self.message}})),
        )
            .into_response()
    }
}

impl From<StartError> for FieldError {
    fn from(e: StartError) -> FieldError {
        match e {
            StartError::TooMany => FieldError {
                status: StatusCode::CONFLICT,
                field: "faults".to_owned(),
                message: e.to_string(),
            },
            StartError::Invalid(spec) => FieldError {
                status: match spec.kind {
                    SpecErrorKind::Malformed => StatusCode::BAD_REQUEST,
                    SpecErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                },
                field: spec.field,
                message: spec.message,
            },
            StartError::Spawn(_) => FieldError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                field: "kind".to_owned(),
                message: e.to_string(),
            },
        }
    }
}

fn refuse(status: StatusCode, field: &str, message: &str) -> Response {
    FieldError {
        status,
        field: field.to_owned(),
        message: message.to_owned(),
    }
    .into_response()
}

/// Lets a fault-control write through only from a holder of the fault token.
pub async fn authorised(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let h = req.headers();
    if h.contains_key(header::ORIGIN) {
        return refuse(
            StatusCode::FORBIDDEN,
            "origin",
            "fault control takes no browser requests",
        );
    }
    let Some(token) = state.config().fault_token.as_deref() else {
        return refuse(
            StatusCode::FORBIDDEN,
            "authorization",
            "fault control is off: this service runs without QS_FAULT_TOKEN; faults come through QuantumState",
        );
    };
    let given = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "authorization",
            "fault control needs the fault token (Authorization: Bearer $QS_FAULT_TOKEN)",
        );
    }
    let json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if req.method() == Method::POST && req.uri().path() == "/faults" && !json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            "a fault is a JSON body: Content-Type: application/json",
        );
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn start(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<FaultView>), FieldError> {
    let spec = spec::parse(&body, &state.deps().names()).map_err(StartError::from)?;
    let kind = spec.kind();
    let view = state.faults().start(spec, &state.telemetry().memory())?;
    state.metrics().fault_started(kind);
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"faults": state.faults().list()}))
}

pub async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, FieldError> {
    match state.faults().end(&id, EndReason::Deleted) {
        Some(view) => Ok(Json(json!({"ended": view}))),
        None => Err(FieldError {
            status: StatusCode::NOT_FOUND,
            field: "id".to_owned(),
            message: format!("no active fault {id:?}; GET /faults lists the active ones"),
        }),
    }
}

pub async fn reset(State(state): State<AppState>) -> Json<Value> {
    let ended = state.faults().end_all(EndReason::Reset);
    Json(json!({"ended": ended.len(), "faults": ended}))
}
