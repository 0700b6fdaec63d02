//! The cache role (auth-cache): a bounded in-memory session map behind
//! `GET/PUT /sessions/{id}`, evicting the oldest entry when full.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::valid_id;
use crate::error::ApiError;
use crate::state::AppState;
use crate::trace::TraceId;

/// Sessions kept; the oldest goes first (a small LRU-ish cache, like Redis with maxmemory).
pub const MAX_SESSIONS: usize = 4096;
/// Largest session document accepted.
pub const MAX_SESSION_BYTES: usize = 4096;

#[derive(Default)]
struct Map {
    entries: HashMap<String, String>,
    order: VecDeque<String>,
}

/// Session id → JSON text.
#[derive(Default)]
pub struct SessionStore {
    map: Mutex<Map>,
}

impl SessionStore {
    pub fn put(&self, id: &str, value: String) {
        let mut m = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if m.entries.insert(id.to_owned(), value).is_none() {
            m.order.push_back(id.to_owned());
        }
        while m.entries.len() > MAX_SESSIONS {
            let Some(oldest) = m.order.pop_front() else {
                break;
            };
            m.entries.remove(&oldest);
        }
    }

    pub fn get(&self, id: &str) -> Option<String> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .get(id)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn check_id(id: &str, trace: &TraceId) -> Result<(), ApiError> {
    if valid_id(id, 128) {
        Ok(())
    } else {
        Err(
            ApiError::bad_request("session id must be 1-128 letters, digits, '-', '_' or '.'")
                .trace(trace),
        )
    }
}

pub async fn put_session(
    State(state): State<AppState>,
    trace: TraceId,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_id(&id, &trace)?;
    if body.len() > MAX_SESSION_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "SESSION_TOO_LARGE",
            format!("a session is at most {MAX_SESSION_BYTES} bytes"),
        )
        .trace(&trace));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the session is not valid JSON: {e}")).trace(&trace)
    })?;
    state.sessions().put(&id, value.to_string());
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "stored": true, "sessions": state.sessions().len()})),
    ))
}

pub async fn get_session(
    State(state): State<AppState>,
    trace: TraceId,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&id, &trace)?;
    let text = state.sessions().get(&id).ok_or_else(|| {
        ApiError::not_found("SESSION_NOT_FOUND", format!("no session {id}")).trace(&trace)
    })?;
    let session: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Json(json!({"id": id, "session": session})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_oldest_first() {
        let s = SessionStore::default();
        for i in 0..MAX_SESSIONS + 10 {
            s.put(&format!("s{i}"), "{}".to_owned());
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.get("s0").is_none());
        assert!(s.get(&format!("s{}", MAX_SESSIONS + 9)).is_some());
        s.put("s20", "{\"u\":1}".to_owned());
        assert_eq!(s.len(), MAX_SESSIONS);
    }
}
