//! The payment role: `POST /pay {"amount": number > 0}` captures a (pretend) charge.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::{json_object, short_string};
use crate::error::ApiError;
use crate::random;
use crate::state::AppState;
use crate::trace::TraceId;

/// Largest amount accepted, so a typo does not look like a real charge.
pub const MAX_AMOUNT: f64 = 1_000_000.0;

pub async fn pay(
    State(state): State<AppState>,
    trace: TraceId,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(&body, &trace)?;
    let amount = match body.get("amount") {
        None => {
            return Err(
                ApiError::bad_request("amount is required: a number greater than 0").trace(&trace),
            );
        }
        Some(v) => match v.as_f64() {
            Some(a) if a > 0.0 && a <= MAX_AMOUNT => a,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "amount must be a number greater than 0 and at most {MAX_AMOUNT}, got {v}"
                ))
                .trace(&trace));
            }
        },
    };
    let currency = short_string(&body, "currency", 3, &trace)?.unwrap_or_else(|| "USD".to_owned());
    Ok(Json(json!({
        "payment_id": random::hex_id("pay-", 16),
        "status": "captured",
        "amount": amount,
        "currency": currency,
        "region": state.config().region,
        "trace_id": trace.as_str(),
    })))
}
