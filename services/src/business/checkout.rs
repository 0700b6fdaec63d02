//! The checkout role: `POST /checkout` places an order through real calls to auth
//! (`/login`), inventory (`/stock/{sku}`) and payment (`/pay`), forwarding the trace id.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{json_object, short_string};
use crate::config::Role;
use crate::deps::CallError;
use crate::error::ApiError;
use crate::random;
use crate::state::AppState;
use crate::trace::TraceId;

/// Catalogue the load generator and body-less orders pick from.
pub const SKUS: [&str; 8] = [
    "SKU-1001", "SKU-1002", "SKU-1003", "SKU-2001", "SKU-2002", "SKU-3001", "SKU-3002", "SKU-4001",
];

/// What a failed dependency call means for the order.
pub fn upstream_error(e: &CallError, trace: &TraceId) -> ApiError {
    let (status, code) = match e {
        CallError::NotConfigured(_)
        | CallError::Injected { .. }
        | CallError::Unreachable { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
        }
        CallError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT"),
        CallError::Rejected { .. } => (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR"),
    };
    ApiError::new(status, code, format!("checkout failed: {e}")).trace(trace)
}

async fn step(
    state: &AppState,
    role: Role,
    method: Method,
    path: &str,
    body: Option<Value>,
    trace: &TraceId,
) -> Result<Value, ApiError> {
    let deps = state.deps();
    let Some(name) = deps.name_for_role(role) else {
        return Err(upstream_error(
            &CallError::NotConfigured(role.to_string()),
            trace,
        ));
    };
    deps.call(&name, method, path, body.as_ref(), trace)
        .await
        .map_err(|e| upstream_error(&e, trace))
}

fn positive_number(
    body: &Map<String, Value>,
    field: &str,
    max: f64,
    trace: &TraceId,
) -> Result<Option<f64>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n > 0.0 && n <= max => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "{field} must be a number greater than 0 and at most {max}, got {v}"
            ))
            .trace(trace)),
        },
    }
}

pub async fn checkout(
    State(state): State<AppState>,
    trace: TraceId,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body, &trace)?;
    let sku = match short_string(&body, "sku", 64, &trace)? {
        Some(s) => s,
        None => SKUS[(random::next_u64() % SKUS.len() as u64) as usize].to_owned(),
    };
    let quantity =
        positive_number(&body, "quantity", 100.0, &trace)?.map_or(1, |q| q.ceil() as u64);
    let amount = match positive_number(&body, "amount", 1_000_000.0, &trace)? {
        Some(a) => a,
        None => (500.0 + random::unit() * 24_500.0).round() / 100.0,
    };
    let username = short_string(&body, "username", 64, &trace)?
        .unwrap_or_else(|| format!("customer-{}", random::next_u64() % 10_000));

    let login = step(
        &state,
        Role::Auth,
        Method::POST,
        "/login",
        Some(json!({"username": username})),
        &trace,
    )
    .await?;
    let stock = step(
        &state,
        Role::Inventory,
        Method::GET,
        &format!("/stock/{sku}"),
        None,
        &trace,
    )
    .await?;
    let available = stock.get("available").and_then(Value::as_u64).unwrap_or(0);
    if available < quantity {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "OUT_OF_STOCK",
            format!("{sku}: {available} available, {quantity} ordered"),
        )
        .trace(&trace));
    }
    let order_id = random::hex_id("order-", 16);
    let payment = step(
        &state,
        Role::Payment,
        Method::POST,
        "/pay",
        Some(json!({"amount": amount, "order_id": order_id})),
        &trace,
    )
    .await?;
    Ok(Json(json!({
        "order_id": order_id,
        "status": "placed",
        "sku": sku,
        "quantity": quantity,
        "amount": amount,
        "session_id": login.get("session_id"),
        "payment_id": payment.get("payment_id"),
        "trace_id": trace.as_str(),
    })))
}
