//! One real HTTP call to a dependency: honours `dependency_failure` faults (fails without
//! sending), forwards the trace id, and classifies failures for the caller's error code.

use std::time::Instant;

use reqwest::Method;
use serde_json::Value;

use super::Dependencies;
use crate::trace::{self, TraceId};

/// Largest dependency response body read; ours are a few hundred bytes.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a dependency call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("no {0} dependency is configured in DEPENDS_ON")]
    NotConfigured(String),
    #[error("{name} unavailable: calls are failing (dependency_failure fault active)")]
    Injected { name: String },
    #[error("{name} unavailable at {url}: {reason}")]
    Unreachable {
        name: String,
        url: String,
        reason: String,
    },
    #[error("{name} did not answer within {timeout_ms} ms")]
    Timeout { name: String, timeout_ms: u64 },
    #[error("{name} answered {status} {code}: {message}")]
    Rejected {
        name: String,
        status: u16,
        code: String,
        message: String,
    },
}

/// Plain words for a reqwest error: the innermost cause says the most
/// ("Connection refused", "failed to lookup address").
pub fn describe_error(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        format!("connection failed: {cause}")
    } else {
        cause.to_string()
    }
}

impl Dependencies {
    /// Calls `path` on dependency `name` with the trace id, returning its JSON body.
    pub async fn call(
        &self,
        name: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        trace: &TraceId,
    ) -> Result<Value, CallError> {
        let Some(dep) = self.get(name) else {
            return Err(CallError::NotConfigured(name.to_owned()));
        };
        if self.inner.faults.fails_dependency(name) {
            self.observe(
                name,
                Err("dependency_failure fault active".to_owned()),
                Some(trace),
            );
            return Err(CallError::Injected {
                name: name.to_owned(),
            });
        }
        let started = Instant::now();
        let mut request = self
            .inner
            .client
            .request(method, format!("{}{path}", dep.url))
            .header(trace::HEADER, trace.as_str())
            .timeout(self.inner.call_timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err(CallError::Timeout {
                    name: name.to_owned(),
                    timeout_ms: self.inner.call_timeout.as_millis() as u64,
                });
            }
            Err(e) => {
                let reason = describe_error(&e);
                self.observe(name, Err(reason.clone()), Some(trace));
                return Err(CallError::Unreachable {
                    name: name.to_owned(),
                    url: dep.url.clone(),
                    reason,
                });
            }
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                return Err(CallError::Timeout {
                    name: name.to_owned(),
                    timeout_ms: self.inner.call_timeout.as_millis() as u64,
                });
            }
            Err(e) => {
                return Err(CallError::Unreachable {
                    name: name.to_owned(),
                    url: dep.url.clone(),
                    reason: describe_error(&e),
                });
            }
        };
        self.observe(name, Ok(started.elapsed()), Some(trace));
        let json: Value = if bytes.is_empty() || bytes.len() > MAX_BODY_BYTES {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status.is_success() {
            return Ok(json);
        }
        let error = json.get("error");
        Err(CallError::Rejected {
            name: name.to_owned(),
            status: status.as_u16(),
            code: error
                .and_then(|e| e.get("error_code"))
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN")
                .to_owned(),
            message: error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("no error message")
                .chars()
                .take(300)
                .collect(),
        })
    }
}
