//! The business routes, one module per role, behind the middleware that applies faults
//! and the defect and measures them; a route of another role is a 404 JSON error.

pub mod auth;
pub mod checkout;
pub mod defect;
pub mod effects;
pub mod inventory;
pub mod payment;
pub mod sessions;

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::config::Role;
use crate::error::ApiError;
use crate::state::AppState;
use crate::trace::TraceId;

/// Which role serves a business path, for the wrong-role 404.
pub fn role_of_path(path: &str) -> Option<Role> {
    let first = path.trim_start_matches('/').split('/').next()?;
    match first {
        "pay" => Some(Role::Payment),
        "checkout" => Some(Role::Checkout),
        "login" => Some(Role::Auth),
        "stock" => Some(Role::Inventory),
        "sessions" => Some(Role::Cache),
        _ => None,
    }
}

/// This role's business routes, wrapped in the effects middleware.
pub fn router(state: &AppState) -> Router<AppState> {
    let routes = match state.config().role {
        Role::Payment => Router::new().route("/pay", post(payment::pay)),
        Role::Checkout => Router::new().route("/checkout", post(checkout::checkout)),
        Role::Auth => Router::new().route("/login", post(auth::login)),
        Role::Inventory => Router::new().route("/stock/{sku}", get(inventory::stock)),
        Role::Cache => Router::new().route(
            "/sessions/{id}",
            get(sessions::get_session).put(sessions::put_session),
        ),
    };
    routes.route_layer(from_fn_with_state(state.clone(), effects::apply))
}

/// The fallback for every unknown path: a JSON 404 that says who serves it, if anyone.
pub async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    trace: TraceId,
    method: Method,
    uri: Uri,
) -> ApiError {
    let path = uri.path();
    let message = match role_of_path(path) {
        Some(role) => format!(
            "{method} {path} is served by the {role} role; {} has role {}",
            state.config().service_name,
            state.config().role
        ),
        None => format!("no route {method} {path}"),
    };
    ApiError::not_found("NOT_FOUND", message).trace(&trace)
}

/// Parses an optional JSON object body (empty means `{}`).
pub fn json_object(body: &Bytes, trace: &TraceId) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object").trace(trace)),
        Err(e) => {
            Err(ApiError::bad_request(format!("the body is not valid JSON: {e}")).trace(trace))
        }
    }
}

/// An optional short string field made of safe characters.
pub fn short_string(
    body: &Map<String, Value>,
    field: &str,
    max_len: usize,
    trace: &TraceId,
) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= max_len
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c)) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ApiError::bad_request(format!(
            "{field} must be a string of 1-{max_len} letters, digits, '-', '_', '.' or '@'"
        ))
        .trace(trace)),
    }
}

/// Whether a path parameter (sku, session id) is a safe identifier.
pub fn valid_id(id: &str, max_len: usize) -> bool {
    !id.is_empty()
        && id.len() <= max_len
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_roles() {
        assert_eq!(role_of_path("/pay"), Some(Role::Payment));
        assert_eq!(role_of_path("/stock/SKU-1"), Some(Role::Inventory));
        assert_eq!(role_of_path("/sessions/abc"), Some(Role::Cache));
        assert_eq!(role_of_path("/nope"), None);
        assert!(valid_id("SKU-1001", 64));
        assert!(!valid_id("../etc", 64));
    }
}
