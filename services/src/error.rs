//! The JSON error of business routes (`{"error": {"error_code", "message", "trace_id"}}`)
//! and the log note it carries to the middleware that writes the ERROR line.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::log::Level;
use crate::trace::TraceId;

/// The log line a failed request should produce; read by the business middleware so
/// every error is logged in one place, with the request's trace id and rate limiting.
#[derive(Debug, Clone, PartialEq)]
pub struct LogNote {
    pub level: Level,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone)]
struct Details {
    status: StatusCode,
    code: String,
    message: String,
    trace_id: Option<String>,
    log: Option<LogNote>,
}

/// A business-route failure (boxed: it travels in `Result`s on every request path).
#[derive(Debug, Clone)]
pub struct ApiError(Box<Details>);

impl ApiError {
    /// A failure; server errors are logged at ERROR with the same code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let log = status.is_server_error().then(|| LogNote {
            level: Level::Error,
            code: code.to_owned(),
            message: message.clone(),
        });
        ApiError(Box::new(Details {
            status,
            code: code.to_owned(),
            message,
            trace_id: None,
            log,
        }))
    }

    /// A 400 for a malformed request (not logged: the client's mistake, not an incident).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn trace(mut self, trace: &TraceId) -> ApiError {
        self.0.trace_id = Some(trace.0.clone());
        self
    }

    /// Logs a different line than the response body says (e.g. a stack head).
    pub fn log_as(mut self, level: Level, code: &str, message: impl Into<String>) -> ApiError {
        self.0.log = Some(LogNote {
            level,
            code: code.to_owned(),
            message: message.into(),
        });
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Details {
            status,
            code,
            message,
            trace_id,
            log,
        } = *self.0;
        let body = json!({"error": {
            "error_code": code,
            "message": message,
            "trace_id": trace_id,
        }});
        let mut resp = (status, Json(body)).into_response();
        if let Some(note) = log {
            resp.extensions_mut().insert(note);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_carry_a_log_note() {
        let resp = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "CACHE_OFFLINE", "down")
            .log_as(Level::Error, "REDIS_UNAVAILABLE", "redis down")
            .into_response();
        assert_eq!(resp.status(), 503);
        let note = resp.extensions().get::<LogNote>().unwrap();
        assert_eq!(note.code, "REDIS_UNAVAILABLE");
        let resp = ApiError::bad_request("no").into_response();
        assert!(resp.extensions().get::<LogNote>().is_none());
    }
}
