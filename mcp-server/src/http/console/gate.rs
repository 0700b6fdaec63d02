//! The console's side of `POST /api/tools/{name}`: calls from the page are marked as the
//! console's (and refused for mutations unless `--console-actions`), and read tools answer
//! with an ETag so the page's polls revalidate with `If-None-Match` → 304.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ToolError;
use crate::guard::{Caller, Surface};
use crate::http::HttpState;
use crate::http::api::error_response;

/// The header the page sends with every call.
pub const HEADER: &str = "x-quantumstate-console";

/// The only mutations the page's buttons make (fault drills and restarts), and only with
/// `--console-actions`. Anything else that changes the fleet goes through MCP or the API.
pub const CONSOLE_MUTATIONS: [&str; 3] = ["inject_fault", "reset_faults", "restart_container"];

/// Largest tool result buffered to compute its ETag (results are bounded far below this).
const MAX_RESULT: usize = 32 * 1024 * 1024;

/// A call made by the page: it says so, or it is signed in only by the console's cookie.
fn from_console(headers: &HeaderMap) -> bool {
    headers.contains_key(HEADER)
        || (!headers.contains_key(header::AUTHORIZATION) && super::signin::cookie_present(headers))
}

/// Some(read-only?) for a tool this server exposes; None for anything else (the tool
/// route then answers 403 or 404 itself).
fn read_only(state: &HttpState, name: &str) -> Option<bool> {
    state.app.tool_router().map.get(name).map(|route| {
        route
            .attr
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false)
    })
}

/// Why the console may not make this mutation, if it may not.
fn refusal(state: &HttpState, name: &str) -> Option<ToolError> {
    if !state.cfg.console_actions {
        return Some(
            ToolError::forbidden(format!(
                "the console is read-only: this server runs without --console-actions, so {name} cannot be called from the page"
            ))
            .hint("restart the server with --console-actions (QS_CONSOLE_ACTIONS=true) to allow drills and restarts from the console, or call the tool through MCP or the API with a bearer token"),
        );
    }
    if !CONSOLE_MUTATIONS.contains(&name) {
        return Some(
            ToolError::forbidden(format!(
                "the console makes fault drills and restarts only ({}); {name} is not one of them",
                CONSOLE_MUTATIONS.join(", ")
            ))
            .hint("call it through MCP or POST /api/tools with a bearer token"),
        );
    }
    None
}

/// Wraps `POST /api/tools/{name}` (inside the token check, which names the caller).
pub async fn tool_calls(State(state): State<HttpState>, mut req: Request, next: Next) -> Response {
    let name = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let read_only = read_only(&state, &name);
    if from_console(req.headers()) {
        if let Some(c) = req.extensions_mut().get_mut::<Caller>() {
            c.surface = Surface::Console;
        }
        if read_only == Some(false)
            && let Some(err) = refusal(&state, &name)
        {
            return refuse(&state, req, &name, err).await;
        }
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
            access: crate::config::Access::Read,
            surface: Surface::Console,
        });
    let body = to_bytes(req.into_body(), super::super::MAX_BODY)
        .await
        .unwrap_or_default();
    let arguments: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let service = arguments
        .get("service")
        .and_then(Value::as_str)
        .map(|s| crate::app::truncate(s, 128));
    state.app.telemetry().http_refused("console_read_only");
    state
        .app
        .guard()
        .refuse(&state.app, &caller, name, arguments, service, &err)
        .await;
    let mut r = error_response(&err);
    if r.status() != StatusCode::FORBIDDEN {
        *r.status_mut() = StatusCode::FORBIDDEN;
    }
    r.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_calls_are_recognised() {
        let mut h = HeaderMap::new();
        assert!(!from_console(&h));
        h.insert(HEADER, HeaderValue::from_static("1"));
        assert!(from_console(&h));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("qs_token=abc"));
        assert!(from_console(&h), "signed in by the console's cookie only");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert!(!from_console(&h), "a bearer token is a script or client");
    }
}
