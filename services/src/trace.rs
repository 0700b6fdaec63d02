//! Trace ids: taken from the `x-trace-id` header or generated (`trace-` + 16 hex),
//! put on the request for handlers and logs, echoed on the response, forwarded downstream.

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;

use crate::random;

pub const HEADER: &str = "x-trace-id";
const MAX_LEN: usize = 128;

/// The request's trace id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl TraceId {
    pub fn generate() -> TraceId {
        TraceId(random::hex_id("trace-", 16))
    }

    /// Accepts a caller's id when it is short printable ASCII; anything else is replaced.
    pub fn from_header(value: Option<&HeaderValue>) -> TraceId {
        value
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
            .filter(|v| v.chars().all(|c| c.is_ascii_graphic()))
            .map(|v| TraceId(v.to_owned()))
            .unwrap_or_else(TraceId::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TraceId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<TraceId>()
            .cloned()
            .unwrap_or_else(|| TraceId::from_header(parts.headers.get(HEADER))))
    }
}

/// Middleware: resolves the trace id once per request and echoes it on the response.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let trace = TraceId::from_header(req.headers().get(HEADER));
    req.extensions_mut().insert(trace.clone());
    let mut resp = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(trace.as_str()) {
        resp.headers_mut().insert(HEADER, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_good_ids_and_replaces_bad_ones() {
        let good = HeaderValue::from_static("trace-482910");
        assert_eq!(TraceId::from_header(Some(&good)).0, "trace-482910");
        let spaced = HeaderValue::from_static("a b");
        assert!(TraceId::from_header(Some(&spaced)).0.starts_with("trace-"));
        let long = HeaderValue::from_str(&"x".repeat(500)).unwrap();
        assert_eq!(TraceId::from_header(Some(&long)).0.len(), 22);
        assert_eq!(TraceId::from_header(None).0.len(), 22);
    }
}
