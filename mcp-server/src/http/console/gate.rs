//! `POST /console/api/tools/{name}`: the page's tool calls, as the signed-in browser's
//! caller; mutations are refused unless `--console-actions` and the catalogue let the
//! console make them, and read tools answer with an ETag so the page's polls revalidate
//! with `If-None-Match` → 304.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::caller::{Caller, Scopes, Surface};
use crate::catalogue::{self, Class};
use crate::error::ToolError;
use crate::http::HttpState;
use crate::http::api::error_response;
use crate::policy::Policy;

/// Largest tool result buffered to compute its ETag (results are bounded far below this).
const MAX_RESULT: usize = 32 * 1024 * 1024;

/// Some(read-only?) for a tool this server exposes; None for anything else (the tool
/// route then answers 403 or 404 itself).
fn read_only(state: &HttpState, name: &str) -> Option<bool> {
    Policy::new(state.app.config())
        .visible(name)
        .then(|| catalogue::spec(name).is_some_and(|t| t.class == Class::Read))
}

/// Wraps `POST /api/tools/{name}` (inside the token check, which names the caller).
pub async fn tool_calls(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let name = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let read_only = read_only(&state, &name);
    if read_only == Some(false)
        && let Err(err) =
            Policy::new(state.app.config()).console_may(&name, state.cfg.console_actions)
    {
        return refuse(&state, req, &name, err).await;
    }
    if read_only != Some(true) {
        return next.run(req).await;
    }
    let conditional = req.headers().clone();
    let resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match to_bytes(body, MAX_RESULT).await {
        Ok(b) => b,
        Err(e) => {
            return error_response(&ToolError::failed(format!(
                "could not read the result of {name}: {e}"
            )));
        }
    };
    let tag = super::etag(&bytes);
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, v);
    }
    // A poll that already holds this result gets 304 and no body. (RFC 9110 reserves 304
    // for GET and HEAD, but these POSTs are reads, and fetch() hands the 304 to the page.)
    if super::if_none_match(&conditional, &tag) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Refuses a console mutation with 403 and audits the attempt like any refused call.
async fn refuse(state: &HttpState, req: Request, name: &str, err: ToolError) -> Response {
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller {
            name: "console".into(),
            scopes: Scopes::READ,
            surface: Surface::Console,
        });
    let body = to_bytes(req.into_body(), super::super::MAX_BODY)
        .await
        .unwrap_or_default();
    let arguments: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let service = arguments
        .get("service")
        .and_then(Value::as_str)
        .map(|s| crate::text::truncate(s, 128));
    state.app.telemetry().http_refused("console_read_only");
    state
        .app
        .road()
        .refused_outside(&caller, name, arguments, service, &err)
        .await;
    let mut r = error_response(&err);
    if r.status() != StatusCode::FORBIDDEN {
        *r.status_mut() = StatusCode::FORBIDDEN;
    }
    r.into_response()
}
