//! Operational endpoints: `/health` (the full report, measured here from the state), `/livez`, `/readyz` (503 when
//! unhealthy) and `/metrics` (Prometheus text).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::health::{HealthReport, Status, StatusInputs, evaluate};
use crate::state::AppState;
use crate::telemetry::window::WINDOW_SECS;

pub async fn health(State(state): State<AppState>) -> Json<HealthReport> {
    Json(report(&state))
}

pub async fn livez() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let report = report(&state);
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
    let report = report(&state);
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

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Measures everything now.
fn report(state: &AppState) -> HealthReport {
    let config = state.config();
    let telemetry = state.telemetry();
    let mem = telemetry.memory();
    let window = telemetry.window(WINDOW_SECS);
    let per_min = 60.0 / WINDOW_SECS as f64;
    let error_rate = window.errors as f64 * per_min;
    let p95 = window.p95_ms;
    let dependencies = state.deps().report();
    let status = evaluate(&StatusInputs {
        memory_percent: mem.percent,
        error_rate,
        p95_ms: p95.unwrap_or(0.0),
        dependency_down: dependencies.iter().any(|d| d.status != "up"),
    });
    HealthReport {
        service: config.service_name.clone(),
        version: config.version.clone(),
        status,
        // Milliseconds: a service asked within 5 ms of starting is up, not 0.00 s.
        uptime_seconds: (telemetry.uptime().as_secs_f64() * 1000.0).round() / 1000.0,
        memory_percent: round2(mem.percent),
        memory_rss_mb: round2(mem.rss_mb()),
        cpu_percent: round2(telemetry.cpu_percent()),
        error_rate: round2(error_rate),
        request_latency_ms: p95.map(round2),
        requests_per_min: round2(window.requests as f64 * per_min),
        dependencies,
        active_faults: state.faults().list(),
        region: config.region.clone(),
        role: config.role.as_str().to_owned(),
        memory_limit_mb: round2(mem.limit_mb()),
    }
}
