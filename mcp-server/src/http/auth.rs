//! Who may talk to the HTTP server: Host and Origin checks against DNS rebinding, then
//! bearer tokens (constant-time compare) that name the caller for the audit, then the
//! body size. Every refused attempt to call something is itself audited (`refusal`).

mod refusal;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::HttpState;
use crate::caller::{Caller, Scopes};
use crate::config::{HttpConfig, Token};
use crate::error::{ErrorCode, ToolError};

/// The JSON-RPC error code of a request refused before it reached MCP (implementation-
/// defined server error range).
pub const MCP_REFUSED: i32 = -32001;

/// The console's cookie (HttpOnly, set from `/?token=` once).
pub const COOKIE: &str = "qs_token";

/// Host header values accepted: loopback names, the listen address, and configured extras.
/// Entries without a port match any port.
pub fn allowed_hosts(cfg: &HttpConfig) -> Vec<String> {
    let mut hosts: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        "[::1]".into(),
    ];
    let ip = cfg.listen.ip();
    if !ip.is_unspecified() {
        hosts.push(ip.to_string());
    }
    hosts.extend(cfg.allowed_hosts.iter().cloned());
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Splits `host[:port]` (with `[v6]:port` forms) into host and optional port. Anything
/// else after a bracketed address, or a port that is not digits, is returned whole and
/// so matches no allowed host.
fn split_host(h: &str) -> (String, Option<String>) {
    let h = h.trim().to_ascii_lowercase();
    let digits = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = h.strip_prefix('[') {
        if let Some((v6, tail)) = rest.split_once(']') {
            match tail.strip_prefix(':') {
                None if tail.is_empty() => return (format!("[{v6}]"), None),
                Some(p) if digits(p) => return (format!("[{v6}]"), Some(p.to_string())),
                _ => {}
            }
        }
        return (format!("invalid:{h}"), None);
    }
    if h.matches(':').count() > 1 {
        return (h, None); // bare IPv6
    }
    match h.rsplit_once(':') {
        Some((host, port)) if digits(port) => (host.to_string(), Some(port.to_string())),
        Some(_) => (format!("invalid:{h}"), None),
        None => (h, None),
    }
}

fn host_allowed(value: &str, allowed: &[String]) -> bool {
    let (host, port) = split_host(value);
    allowed.iter().any(|a| {
        let (ah, ap) = split_host(a);
        let same_host = ah == host || (ah == "::1" && host == "[::1]");
        same_host && (ap.is_none() || ap == port)
    })
}

/// The refusal's response: the error body with its status (and a Bearer challenge on 401).
/// On `/mcp` the body is a JSON-RPC error carrying the same body as `data`, so that MCP
/// clients (the Python SDK reads JSON-RPC errors from non-2xx replies) show the reason
/// instead of a bare status.
fn refuse(
    state: &HttpState,
    mcp: bool,
    status: StatusCode,
    code: ErrorCode,
    reason: &'static str,
    message: String,
) -> Response {
    state.app.telemetry().http_refused(reason);
    let body = ToolError::new(code, message.clone()).body();
    let mut resp = if mcp {
        let rpc = serde_json::json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": MCP_REFUSED, "message": message, "data": body}});
        (status, axum::Json(rpc)).into_response()
    } else {
        (status, axum::Json(body)).into_response()
    };
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = "Bearer realm=\"quantumstate\"".parse()
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// Refuses `req` and, when it tried to call something, writes the audit record of the
/// attempt (who: the token it presented, else "anonymous"). Nothing of it runs.
pub(super) async fn deny(
    state: &HttpState,
    req: Request,
    status: StatusCode,
    code: ErrorCode,
    reason: &'static str,
    message: String,
) -> Response {
    let who = presented_name(state, req.headers());
    let mcp = req.uri().path().starts_with("/mcp");
    refusal::record(&state.app, req, &who, status, &message).await;
    refuse(state, mcp, status, code, reason, message)
}

/// The name of the token a request presents (valid or not, it grants nothing here):
/// the token's name (from the bearer header, or the console's cookie), "local" on a
/// server without tokens, else "anonymous".
fn presented_name(state: &HttpState, headers: &HeaderMap) -> String {
    let tokens = &state.app.config().tokens;
    if tokens.is_empty() {
        return "local".into();
    }
    presented(headers)
        .or_else(|| super::console::cookie_secret(headers))
        .and_then(|secret| find_token(tokens, &secret).map(|t| t.name.clone()))
        .unwrap_or_else(|| "anonymous".into())
}

/// Refuses requests whose Host or Origin is not ours (DNS rebinding, cross-site pages).
pub async fn check_host_and_origin(
    State(state): State<HttpState>,
    req: Request,
    next: Next,
) -> Response {
    let allowed = allowed_hosts(&state.cfg);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host.as_deref() {
        Some(h) if host_allowed(h, &allowed) => {}
        Some(h) => {
            let message = format!(
                "Host {:?} is not allowed (DNS-rebinding protection); allowed: {}; add yours with --allowed-hosts",
                crate::text::truncate(h, 100),
                allowed.join(", ")
            );
            return deny(
                &state,
                req,
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "bad_host",
                message,
            )
            .await;
        }
        None => {
            return deny(
                &state,
                req,
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArgument,
                "no_host",
                "no Host header".into(),
            )
            .await;
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let o = origin.to_str().unwrap_or("").trim().to_ascii_lowercase();
        let listed = state
            .cfg
            .allowed_origins
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&o));
        // Same origin: scheme, host and port as the request itself asked for them.
        let own = host.as_deref().map(str::to_ascii_lowercase);
        let same = own.is_some_and(|h| o == format!("http://{h}") || o == format!("https://{h}"));
        if !(listed || same) {
            let message = format!(
                "Origin {:?} is not this server's (scheme, host and port must match); add it with --allowed-origins",
                crate::text::truncate(&o, 100)
            );
            return deny(
                &state,
                req,
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "bad_origin",
                message,
            )
            .await;
        }
    }
    next.run(req).await
}

/// Compares secrets in time independent of where they differ (and of their lengths).
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let n = given.len().max(expected.len()).max(1);
    let mut a = vec![0u8; n];
    let mut b = vec![0u8; n];
    a[..given.len()].copy_from_slice(given);
    b[..expected.len()].copy_from_slice(expected);
    let len_eq = (given.len() as u64).ct_eq(&(expected.len() as u64));
    (a.ct_eq(&b) & len_eq).into()
}

/// The token a request presents in `Authorization: Bearer ...` (the console's cookie
/// authenticates the console's own routes only, never these).
pub(super) fn presented(headers: &HeaderMap) -> Option<String> {
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .trim();
    if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
        return Some(v[7..].trim().to_string());
    }
    Some(String::new())
}

/// The caller a valid `Authorization: Bearer` header names (`local` without tokens).
pub(super) fn bearer_caller(state: &HttpState, headers: &HeaderMap) -> Option<Caller> {
    let tokens = &state.app.config().tokens;
    if tokens.is_empty() {
        return Some(Caller::http("local", Scopes::WRITE));
    }
    let t = find_token(tokens, &presented(headers)?)?;
    Some(Caller::http(&t.name, t.scopes))
}

/// Finds the token whose secret matches, checking every token (no early exit).
pub fn find_token<'a>(tokens: &'a [Token], secret: &str) -> Option<&'a Token> {
    let mut found = None;
    for t in tokens {
        if same_secret(secret.as_bytes(), t.secret.as_bytes()) {
            found = Some(t);
        }
    }
    found
}

/// Names the caller (and refuses unauthenticated requests when tokens are configured).
pub async fn authenticate(
    State(state): State<HttpState>,
    mut req: Request,
    next: Next,
) -> Response {
    let tokens = &state.app.config().tokens;
    let caller = if tokens.is_empty() {
        Caller::http("local", Scopes::WRITE)
    } else {
        let Some(secret) = presented(req.headers()) else {
            return deny(
                &state,
                req,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "no_token",
                "this server needs a bearer token: send Authorization: Bearer <secret> (the console's cookie signs in the console only)".into(),
            )
            .await;
        };
        match find_token(tokens, &secret) {
            Some(t) => Caller::http(&t.name, t.scopes),
            None => {
                return deny(
                    &state,
                    req,
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthorized,
                    "wrong_token",
                    "the bearer token is not valid".into(),
                )
                .await;
            }
        }
    };
    // A declared size over the limit is refused (and audited) before anything reads it;
    // a chunked body over it still meets the routes' own limits (413, not audited).
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::MAX_BODY as u64) {
        let message = format!("the request body is larger than {} bytes", super::MAX_BODY);
        return deny(
            &state,
            req,
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidArgument,
            "too_large",
            message,
        )
        .await;
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_and_without_ports() {
        let allowed = vec![
            "localhost".to_string(),
            "127.0.0.1".into(),
            "[::1]".into(),
            "qs.internal:8080".into(),
        ];
        assert!(host_allowed("127.0.0.1:8080", &allowed));
        assert!(host_allowed("LOCALHOST", &allowed));
        assert!(host_allowed("[::1]:8080", &allowed));
        assert!(host_allowed("qs.internal:8080", &allowed));
        assert!(!host_allowed("qs.internal:9090", &allowed));
        assert!(!host_allowed("evil.example:8080", &allowed));
        assert!(!host_allowed("127.0.0.1.evil.example", &allowed));
        assert!(!host_allowed("[::1]evil.example", &allowed));
        assert!(!host_allowed("[::1]:80x", &allowed));
        assert!(!host_allowed("localhost:evil", &allowed));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"0123456789", b"0123456789"));
        assert!(!same_secret(b"0123456789", b"0123456788"));
        assert!(!same_secret(b"012345678", b"0123456789"));
        assert!(!same_secret(b"", b"0123456789"));
    }
}
