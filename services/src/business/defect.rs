//! The bad release: when `SERVICE_VERSION` is in `DEFECTIVE_VERSIONS`, about 30 % of
//! business requests fail with a 500 and an UNHANDLED_EXCEPTION line that reads like an NPE.

use axum::http::{Method, StatusCode};

use crate::config::{Config, Role};
use crate::error::ApiError;
use crate::log::Level;
use crate::trace::TraceId;

/// Share of business requests a defective release fails.
pub const FAILURE_SHARE: f64 = 0.3;

/// Java-flavoured names per role, so the stack head looks like the seed's incident.
fn frames(
    role: Role,
) -> (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
) {
    match role {
        Role::Payment => (
            "payment",
            "PaymentController",
            "charge",
            "Order.getTotal()",
            "order",
        ),
        Role::Checkout => (
            "checkout",
            "CheckoutService",
            "placeOrder",
            "Cart.getCustomer()",
            "cart",
        ),
        Role::Auth => (
            "auth",
            "SessionManager",
            "createSession",
            "User.getId()",
            "user",
        ),
        Role::Inventory => (
            "inventory",
            "StockController",
            "reserve",
            "Warehouse.getStock(String)",
            "warehouse",
        ),
        Role::Cache => ("cache", "SessionStore", "put", "Entry.getKey()", "entry"),
    }
}

/// The stack head logged for one failure.
pub fn stack_head(config: &Config, method: &Method, route: &str) -> String {
    let (pkg, class, func, callee, var) = frames(config.role);
    format!(
        "Unhandled exception in v{version} processing {method} {route}: \
         java.lang.NullPointerException: Cannot invoke \"com.quantumstate.{pkg}.{callee}\" because \"{var}\" is null\n\
         \tat com.quantumstate.{pkg}.{class}.{func}({class}.java:142)\n\
         \tat com.quantumstate.{pkg}.{class}.handle({class}.java:88)\n\
         \tat com.quantumstate.web.RequestDispatcher.dispatch(RequestDispatcher.java:57)",
        version = config.version
    )
}

/// The 500 a defective release answers, logged as UNHANDLED_EXCEPTION.
pub fn failure(config: &Config, method: &Method, route: &str, trace: &TraceId) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        format!("{method} {route} failed: unhandled exception"),
    )
    .trace(trace)
    .log_as(
        Level::Error,
        "UNHANDLED_EXCEPTION",
        stack_head(config, method, route),
    )
}
