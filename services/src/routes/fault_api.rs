//! Fault control: `POST /faults`, `GET /faults`, `DELETE /faults/{id}`,
//! `POST /faults/reset`; errors are `{"error": {"field", "message"}}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
