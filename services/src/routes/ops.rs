//! Operational endpoints: `/health` (the full report), `/livez`, `/readyz` (503 when
//! unhealthy) and `/metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::health::{self, HealthReport, Status};
use crate::state::AppState;

pub async fn health(State(state): State<AppState>) -> Json<HealthReport> {
    Json(health::report(&state))
}

pub async fn livez() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let report = health::report(&state);
    let ready = report.status != Status::Unhealthy;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({"ready": ready, "status": report.status.as_str()})),
    )
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let report = health::report(&state);
    let text = state
        .metrics()
        .render(&report, &state.faults().count_by_kind());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
