//! Turning Elasticsearch's answers into `StoreError`s a person can act on: each names
//! the cluster (never its credentials), the index, and what to do.

use serde_json::Value;

use crate::StoreError;

/// The `error.type` and `error.reason` of an error body (or a bulk item's `error`).
pub(crate) fn type_and_reason(body: &Value) -> (String, String) {
    let err = body.get("error").unwrap_or(body);
    if let Some(s) = err.as_str() {
        return (String::new(), s.to_string());
    }
    let ty = err
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut reason = err
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    // The cause usually says more than a wrapper such as search_phase_execution_exception.
    let cause = err
        .get("caused_by")
        .or_else(|| err.get("root_cause").and_then(|r| r.get(0)));
    if let Some(c) = cause.and_then(|c| c.get("reason")).and_then(Value::as_str)
        && !reason.contains(c)
    {
        if !reason.is_empty() {
            reason.push_str(": ");
        }
        reason.push_str(c);
    }
    (ty, reason)
}

/// True when a body is an error object rather than a result (a 404 `found: false` is not).
pub(crate) fn is_error(body: &Value) -> bool {
    body.get("error").is_some_and(|e| !e.is_null())
}

/// The index a request path names, for messages (`/logs-x/_search` → `logs-x`).
fn index_of(path: &str) -> Option<&str> {
    let first = path.trim_start_matches('/').split(['/', '?']).next()?;
    (!first.is_empty() && !first.starts_with('_')).then_some(first)
}

/// Maps a failed answer to an error naming `target` (the URL without secrets).
pub(crate) fn classify(
    target: &str,
    path: &str,
    status: u16,
    body: &Value,
    attempts: u32,
) -> StoreError {
    let (ty, reason) = type_and_reason(body);
    let index = index_of(path)
        .map(|i| format!(" (index {i})"))
        .unwrap_or_default();
    let url = std::path::PathBuf::from(target);
    let detail = if reason.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("{ty}: {reason}")
    };
    match (status, ty.as_str()) {
        (_, "cluster_block_exception") => {
            let lower = reason.to_lowercase();
            if lower.contains("read-only") || lower.contains("read_only") || lower.contains("write")
            {
                StoreError::ReadOnly {
                    path: url,
                    reason: format!(
                        "the cluster refuses writes{index}: {reason}. This is usually the \
                         flood-stage disk watermark: free disk space, then clear \
                         index.blocks.read_only_allow_delete"
                    ),
                }
            } else {
                StoreError::Unavailable(format!(
                    "Elasticsearch at {target} is blocked{index}: {reason} (no elected master \
                     or state not recovered; check the cluster's health)"
                ))
            }
        }
        (401, _) => StoreError::Open {
            path: url,
            reason: format!(
                "authentication failed (401): check ELASTIC_API_KEY, or \
                 ELASTIC_USERNAME/ELASTIC_PASSWORD ({detail})"
            ),
        },
        (403, _) => StoreError::Open {
            path: url,
            reason: format!(
                "permission denied (403){index}: the API key or user lacks a privilege \
                 this needs (read, write, create_index, view_index_metadata on the \
                 QuantumState indices) ({detail})"
            ),
        },
        (404, "index_not_found_exception") => StoreError::Unavailable(format!(
            "Elasticsearch at {target}: the index{index} does not exist (deleted while in use?); \
             it is created again on the next call ({reason})"
        )),
        (413, _) => StoreError::Invalid(format!(
            "request too large for Elasticsearch at {target}{index} (413): send fewer or \
             smaller documents per call, or raise http.max_content_length on the cluster"
        )),
        (429, _) => StoreError::Unavailable(format!(
            "Elasticsearch at {target} is overloaded{index}: still 429 Too Many Requests after \
             {attempts} attempt(s) with backoff; retry later or add capacity ({detail})"
        )),
        (
            _,
            "mapper_parsing_exception"
            | "document_parsing_exception"
            | "strict_dynamic_mapping_exception"
            | "illegal_argument_exception",
        ) => StoreError::Conflict(format!(
            "Elasticsearch at {target} rejected the document or request{index} as conflicting \
             with the index mapping: {reason}. Check that the index was created by \
             QuantumState (or use ELASTIC_INDEX_PREFIX for a fresh set)"
        )),
        (409, _) | (_, "version_conflict_engine_exception") => {
            StoreError::Conflict(format!("{detail}{index}"))
        }
        (
            _,
            "search_phase_execution_exception"
            | "no_shard_available_action_exception"
            | "unavailable_shards_exception"
            | "master_not_discovered_exception",
        ) => StoreError::Unavailable(format!(
            "Elasticsearch at {target} cannot serve{index}: shards unavailable (is the \
             cluster red?): {reason}"
        )),
        (s, _) if s >= 500 => StoreError::Unavailable(format!(
            "Elasticsearch at {target} failed{index} after {attempts} attempt(s): {detail}"
        )),
        _ => StoreError::Backend(format!(
            "Elasticsearch at {target} answered {status}{index}: {detail}"
        )),
    }
}

/// A request that never got an answer: refused, unresolvable, TLS, or timed out.
pub(crate) fn transport(
    target: &str,
    timeout: std::time::Duration,
    e: &elasticsearch::Error,
) -> StoreError {
    if e.is_timeout() {
        return StoreError::Unavailable(format!(
            "Elasticsearch at {target} did not answer within {} s (ELASTIC_TIMEOUT_SECS); is \
             it overloaded, or is the address unreachable?",
            timeout.as_secs_f64()
        ));
    }
    // The innermost cause says what happened ("Connection refused", "dns error", ...).
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    StoreError::Unavailable(format!(
        "cannot reach Elasticsearch at {target}: {cause}; check ELASTIC_URL (scheme, host and \
         port) or ELASTIC_CLOUD_ID, and that the cluster is running"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_auth_and_mapping_errors_are_told_apart() {
        let ro = json!({"error": {"type": "cluster_block_exception",
            "reason": "index [logs] blocked by: [TOO_MANY_REQUESTS/12/index read-only / allow delete (api)];"},
            "status": 429});
        let e = classify("http://es:9200", "/_bulk", 429, &ro, 1);
        assert!(matches!(e, StoreError::ReadOnly { .. }), "{e:?}");
        assert!(e.to_string().contains("http://es:9200"));

        let auth = json!({"error": {"type": "security_exception", "reason": "unable to authenticate"}, "status": 401});
        let e = classify("http://es:9200", "/x/_search", 401, &auth, 1);
        assert!(e.to_string().contains("ELASTIC_API_KEY"), "{e}");

        let map = json!({"error": {"type": "document_parsing_exception", "reason": "failed to parse field [value]"}});
        let e = classify(
            "http://es:9200",
            "/metrics-quantumstate/_doc/1",
            400,
            &map,
            1,
        );
        assert!(matches!(e, StoreError::Conflict(_)));
        assert!(e.to_string().contains("metrics-quantumstate"));
    }
}
