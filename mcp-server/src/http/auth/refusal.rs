//! The audit record of an HTTP request refused before any tool ran (no or wrong token,
//! bad Host or Origin, a body over the limit): who tried, which tool, with what.
//! Only attempts to call something are recorded: POSTs to `/mcp` and `/api/tools/{name}`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use chrono::Utc;
use quantumstate_store::{AuditRecord, Outcome};
use serde_json::{Value, json};

use crate::app::App;

/// Refusals recorded per minute at most: an unauthenticated flood must not fill the
/// store. Past it, refusals are still counted in /metrics (`http_refused`).
const PER_MINUTE: u32 = 120;
/// The body is read only this far to name the tool (a tool's arguments are small).
const READ_AT_MOST: usize = 64 * 1024;
/// Bound on reading the body and on the audit write: a refusal must stay fast.
const TIME_LIMIT: Duration = Duration::from_secs(2);

/// What the refused request was trying to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The tool's name when the request names a known tool, else the route.
    pub tool: String,
    /// The tool's arguments when they could be read (`{}` otherwise).
    pub arguments: Value,
    /// e.g. `POST /mcp (tools/call)`.
    pub route: String,
}

/// The request's method and path if it is one whose refusal is audited.
pub fn audited(req: &Request) -> Option<(Method, String)> {
    let path = req.uri().path();
    let wanted = path == "/mcp" || path == "/mcp/" || path.starts_with("/api/tools/");
    (req.method() == Method::POST && wanted).then(|| (req.method().clone(), path.to_string()))
}

fn known_tool(name: &str) -> bool {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            crate::catalogue::TOOLS
                .iter()
                .filter(|t| t.public)
                .map(|t| t.name.to_string())
                .collect()
        })
        .contains(name)
}

/// Names the attempt from the path and (up to [`READ_AT_MOST`] bytes of) the body.
pub fn attempt(method: &Method, path: &str, body: Option<&[u8]>) -> Attempt {
    let parsed: Option<Value> = body.and_then(|b| serde_json::from_slice(b).ok());
    if let Some(name) = path.strip_prefix("/api/tools/") {
        let arguments = parsed.filter(Value::is_object).unwrap_or_else(|| json!({}));
        let tool = if known_tool(name) {
            name.to_string()
        } else {
            "/api/tools/{name}".to_string()
        };
        return Attempt {
            tool,
            arguments,
            route: format!("{method} {}", crate::text::truncate(path, 120)),
        };
    }
    let rpc_method = parsed
        .as_ref()
        .and_then(|v| v.get("method"))
        .and_then(Value::as_str)
        .map(|m| crate::text::truncate(m, 60));
    let route = match &rpc_method {
        Some(m) => format!("{method} /mcp ({m})"),
        None => format!("{method} /mcp"),
    };
    let params = parsed.as_ref().and_then(|v| v.get("params"));
    let name = params.and_then(|p| p.get("name")).and_then(Value::as_str);
    match (rpc_method.as_deref(), name) {
        (Some("tools/call"), Some(name)) if known_tool(name) => Attempt {
            tool: name.to_string(),
            arguments: params
                .and_then(|p| p.get("arguments"))
                .filter(|a| a.is_object())
                .cloned()
                .unwrap_or_else(|| json!({})),
            route,
        },
        _ => Attempt {
            tool: "/mcp".into(),
            arguments: json!({}),
            route,
        },
    }
}

/// True while this minute's budget of recorded refusals lasts.
fn take_budget() -> bool {
    static WINDOW: Mutex<Option<(Instant, u32)>> = Mutex::new(None);
    let mut w = WINDOW.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    match w.as_mut() {
        Some((start, n)) if now.duration_since(*start) < Duration::from_secs(60) => {
            *n += 1;
            if *n == PER_MINUTE + 1 {
                tracing::warn!(
                    "more than {PER_MINUTE} refused HTTP requests this minute; not auditing the rest of them (see /metrics)"
                );
            }
            *n <= PER_MINUTE
        }
        _ => {
            *w = Some((now, 1));
            true
        }
    }
}

/// Writes the audit record of a refused request (best effort, bounded in time). The
/// body is consumed: the request is answered with the refusal, never run.
pub async fn record(app: &App, req: Request, who: &str, status: StatusCode, why: &str) {
    let Some((method, path)) = audited(&req) else {
        return;
    };
    if !take_budget() {
        return;
    }
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // An oversized body is not read at all; others up to the cap, within the time limit.
    let body = if declared.is_some_and(|n| n > READ_AT_MOST as u64) {
        None
    } else {
        let read = axum::body::to_bytes(Body::new(req.into_body()), READ_AT_MOST);
        tokio::time::timeout(TIME_LIMIT, read)
            .await
            .ok()
            .and_then(Result::ok)
    };
    let a = attempt(&method, &path, body.as_deref());
    let mut rec = AuditRecord {
        id: quantumstate_store::new_id("aud"),
        timestamp: Utc::now(),
        who: who.to_string(),
        approved_by: None,
        tool: a.tool,
        dry_run: a
            .arguments
            .get("dry_run")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        service: a
            .arguments
            .get("service")
            .and_then(Value::as_str)
            .map(|s| crate::text::truncate(s, 100)),
        arguments: a.arguments,
        outcome: Outcome::Refused,
        plan_id: None,
        host: None,
        detail: Some(format!("HTTP {} on {}: {why}", status.as_u16(), a.route)),
        duration_ms: 0,
        repeats: None,
        first_seen: None,
    };
    app.road().fold_refusal(&mut rec);
    let write = async {
        let store = app.store().await.map_err(|e| e.message)?;
        store.put_audit(&rec).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(TIME_LIMIT, write).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not audit a refused HTTP request"),
        Err(_) => tracing::warn!("auditing a refused HTTP request timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_tool_of_direct_routes_and_mcp_calls() {
        let a = attempt(
            &Method::POST,
            "/api/tools/record_decision",
            Some(br#"{"service":"payment-service","dry_run":true}"#),
        );
        assert_eq!(a.tool, "record_decision");
        assert_eq!(a.arguments["service"], "payment-service");

        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"restart_container","arguments":{"service":"auth-service"}}}"#;
        let a = attempt(&Method::POST, "/mcp", Some(body));
        assert_eq!(a.tool, "restart_container");
        assert_eq!(a.arguments, json!({"service": "auth-service"}));
        assert_eq!(a.route, "POST /mcp (tools/call)");
    }

    #[test]
    fn unknown_tools_and_other_methods_are_named_by_route() {
        let a = attempt(&Method::POST, "/api/tools/no_such_tool", Some(b"not json"));
        assert_eq!(
            (a.tool.as_str(), &a.arguments),
            ("/api/tools/{name}", &json!({}))
        );
        let init = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
        let a = attempt(&Method::POST, "/mcp", Some(init));
        assert_eq!(
            (a.tool.as_str(), a.route.as_str()),
            ("/mcp", "POST /mcp (initialize)")
        );
        let a = attempt(&Method::POST, "/mcp", None);
        assert_eq!((a.tool.as_str(), a.route.as_str()), ("/mcp", "POST /mcp"));
    }
}
