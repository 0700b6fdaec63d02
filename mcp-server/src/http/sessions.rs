//! A cap on open MCP sessions, in all and per caller: a request that would open one more
//! (a POST without `Mcp-Session-Id` before protocol 2026-07-28, i.e. `initialize`) beyond either cap is answered 503
//! with `Retry-After`; sessions already open keep working. rmcp's session manager has no
//! cap of its own and keeps each session until it idles out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::caller::Caller;
use crate::error::{ErrorCode, ToolError};

const SESSION_HEADER: &str = "mcp-session-id";

/// Which caller opened each session this server handed out, and the opens in flight
/// (counted against the caps until they answer, so concurrent opens cannot overshoot).
#[derive(Default)]
pub struct Owners(Mutex<Book>);

#[derive(Default)]
struct Book {
    owners: HashMap<String, String>,
    in_flight: HashMap<String, usize>,
}

impl Book {
    fn release(&mut self, who: &str) {
        if let Some(n) = self.in_flight.get_mut(who) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(who);
            }
        }
    }
}

/// Refuses a new session beyond the caps; records who opened the ones it lets through.
pub async fn cap(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    // From protocol 2026-07-28 on requests are stateless: they open no session.
    let stateless = req
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= "2026-07-28");
    let opens =
        req.method() == Method::POST && !stateless && !req.headers().contains_key(SESSION_HEADER);
    if !opens {
        return next.run(req).await;
    }
    let who = req
        .extensions()
        .get::<Caller>()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let (max, per_caller) = state.cfg.max_sessions;
    let refused = {
        let live = state.sessions.sessions.read().await;
        let mut book = state
            .owners
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        book.owners.retain(|id, _| live.contains_key(id.as_str()));
        let pending: usize = book.in_flight.values().sum();
        let mine = book.owners.values().filter(|w| **w == who).count()
            + book.in_flight.get(&who).copied().unwrap_or(0);
        if live.len() + pending >= max {
            Some(format!(
                "the server holds its maximum of {max} MCP sessions"
            ))
        } else if mine >= per_caller {
            Some(format!(
                "caller {who:?} holds its maximum of {per_caller} MCP sessions"
            ))
        } else {
            *book.in_flight.entry(who.clone()).or_default() += 1;
            None
        }
    };
    if let Some(why) = refused {
        state.app.telemetry().http_refused("session_cap");
        return busy(&why, state.cfg.session_idle.as_secs().min(60));
    }
    // Released when the open answers, or when its request is dropped half-way.
    let slot = Slot {
        owners: state.owners.clone(),
        who: who.clone(),
    };
    let resp = next.run(req).await;
    drop(slot);
    let mut book = state
        .owners
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(id) = resp
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        book.owners.insert(id.to_string(), who);
    }
    drop(book);
    resp
}

/// An open in flight, counted until dropped.
struct Slot {
    owners: Arc<Owners>,
    who: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owners
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .release(&self.who);
    }
}

/// 503 with Retry-After and the JSON error body every route uses.
fn busy(why: &str, retry_after: u64) -> Response {
    let e = ToolError::new(ErrorCode::Unavailable, format!("{why}; no new session now"))
        .hint("close sessions you no longer use (DELETE /mcp), or retry after Retry-After seconds (idle sessions close on their own)");
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(e.to_json())).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    resp
}

/// Shared by every route's state.
pub fn owners() -> Arc<Owners> {
    Arc::default()
}
