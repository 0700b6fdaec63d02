//! Middleware on business routes only: applies `latency` and `error_spike` faults and
//! the defective release, then records the request (window, metrics, error and SLO logs).

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::defect;
use crate::error::{ApiError, LogNote};
use crate::log::Level;
use crate::random;
use crate::state::AppState;
use crate::trace::TraceId;

/// Requests slower than this log LATENCY_SLO_BREACH (seed 001's alarm level).
pub const LATENCY_SLO: Duration = Duration::from_millis(1000);

pub async fn apply(
    State(state): State<AppState>,
    trace: TraceId,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());

    let effects = state.faults().effects();
    if effects.added_ms > 0 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(effects.added_ms)) => {}
            _ = state.shutdown().cancelled() => {}
        }
    }
    let response = if random::chance(effects.error_share) {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            format!("{method} {route} failed: internal server error"),
        )
        .trace(&trace)
        .into_response()
    } else if state.config().is_defective() && random::chance(defect::FAILURE_SHARE) {
        defect::failure(state.config(), &method, &route, &trace).into_response()
    } else {
        next.run(req).await
    };

    let latency = started.elapsed();
    let status = response.status();
    state.telemetry().record(latency, status.is_server_error());
    state
        .metrics()
        .record_request(method.as_str(), &route, status.as_u16(), latency);
    if let Some(note) = response.extensions().get::<LogNote>() {
        state.logger().event(
            note.level,
            Some(&note.code),
            Some(trace.as_str()),
            &note.message,
        );
    }
    if latency > LATENCY_SLO {
        state.logger().event(
            Level::Warn,
            Some("LATENCY_SLO_BREACH"),
            Some(trace.as_str()),
            &format!(
                "{method} {route} took {} ms (SLO {} ms)",
                latency.as_millis(),
                LATENCY_SLO.as_millis()
            ),
        );
    }
    response
}
