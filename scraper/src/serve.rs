//! The scraper's own endpoint: `/healthz` (JSON: last poll, buffer, last store error) and
//! `/metrics` (Prometheus text of its counters).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;

use crate::Scraper;

pub fn router(s: Arc<Scraper>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(s)
}

async fn healthz(State(s): State<Arc<Scraper>>) -> impl IntoResponse {
    let snap = s.counters.snapshot();
    // Degraded when no poll completed for three intervals or the store is refusing writes.
    let late = snap.last_poll_at.is_none_or(|t| {
        (Utc::now() - t).to_std().unwrap_or_default()
            > s.config.interval * 3 + std::time::Duration::from_secs(5)
    });
    let status = if late || snap.last_store_error.is_some() {
        "degraded"
    } else {
        "ok"
    };
    Json(json!({
        "status": status,
        "interval_seconds": s.config.interval.as_secs_f64(),
        "store": s.store.describe(),
        "counters": snap,
    }))
}

async fn metrics(State(s): State<Arc<Scraper>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.counters.render(),
    )
}

/// Serves until the scraper stops.
pub async fn serve(s: Arc<Scraper>, listener: tokio::net::TcpListener) {
    let shutdown = s.shutdown.clone();
    if let Err(e) = axum::serve(listener, router(s))
        .with_graceful_shutdown(async move { shutdown.cancelled_owned().await })
        .await
    {
        tracing::error!(error = %e, "scraper endpoint failed");
    }
}
