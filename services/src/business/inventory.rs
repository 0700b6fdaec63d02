//! The inventory role: `GET /stock/{sku}` answers the stock level of a SKU in this
//! region's warehouse (a stable number per SKU).

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::valid_id;
use crate::error::ApiError;
use crate::state::AppState;
use crate::trace::TraceId;

/// Units on hand for a SKU: deterministic and never zero, so demo orders do not stall.
pub fn units_for(sku: &str) -> u64 {
    let mut h = DefaultHasher::new();
    sku.hash(&mut h);
    1 + h.finish() % 500
}

pub async fn stock(
    State(state): State<AppState>,
    trace: TraceId,
    Path(sku): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !valid_id(&sku, 64) {
        return Err(
            ApiError::bad_request("sku must be 1-64 letters, digits, '-', '_' or '.'")
                .trace(&trace),
        );
    }
    Ok(Json(json!({
        "sku": sku,
        "available": units_for(&sku),
        "warehouse": format!("{}-wh1", state.config().region),
        "trace_id": trace.as_str(),
    })))
}
