//! The HTTP surface: `app(state)` assembles the operational routes (health, metrics,
//! fault control — never touched by faults; its writes need `QS_FAULT_TOKEN`) and this
//! role's business routes.

pub mod fault_api;
pub mod ops;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post};

use crate::business;
use crate::state::AppState;
use crate::trace;

/// Largest request body accepted on any route.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn app(state: AppState) -> Router {
    let ops = Router::new()
        .route("/health", get(ops::health))
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/faults", get(fault_api::list));
    // Fault control changes the service: only QuantumState, holding QS_FAULT_TOKEN.
    let control = Router::new()
        .route("/faults", post(fault_api::start))
        .route("/faults/reset", post(fault_api::reset))
        .route("/faults/{id}", delete(fault_api::end))
        .layer(from_fn_with_state(state.clone(), fault_api::authorised));
    ops.merge(control)
        .merge(business::router(&state))
        .fallback(business::not_found)
        .layer(from_fn(trace::middleware))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[cfg(test)]
mod tests;
