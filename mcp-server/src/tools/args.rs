//! The argument checks every tool shares: bounded counts, windows, free text and times,
//! each refused with a message saying what fits.

use chrono::{DateTime, Utc};
use quantumstate_store::Window;

use crate::error::{ToolError, ToolResult};

/// A bounded count argument: `default` when absent, else 1..=max.
pub fn limit(v: Option<i64>, default: usize, max: usize, field: &str) -> ToolResult<usize> {
    match v {
        None => Ok(default),
        Some(n) if n >= 1 && n as u64 <= max as u64 => Ok(n as usize),
        Some(n) => Err(
            ToolError::invalid(format!("{field} must be 1 to {max} (got {n})"))
                .hint(format!("omit it for the default of {default}")),
        ),
    }
}

/// A window argument like `15m`; `default` when absent.
pub fn window(v: Option<&str>, default: &str) -> ToolResult<Window> {
    Window::parse(v.unwrap_or(default)).map_err(|e| ToolError::invalid(e.to_string()))
}

/// A required free-text argument: trimmed, not empty, at most `max` characters.
pub fn text(v: &str, field: &str, max: usize) -> ToolResult<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(ToolError::invalid(format!("{field} is empty"))
            .hint(format!("describe it in words in {field}")));
    }
    let n = t.chars().count();
    if n > max {
        return Err(ToolError::invalid(format!(
            "{field} is {n} characters; the limit is {max}"
        )));
    }
    Ok(t.to_string())
}

/// An optional free-text argument, trimmed; empty means absent.
pub fn opt_text(v: Option<&str>, field: &str, max: usize) -> ToolResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => text(s, field, max).map(Some),
    }
}

/// An RFC 3339 time argument, not in the future (one minute of clock skew allowed).
pub fn timestamp(v: &str, field: &str) -> ToolResult<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(v.trim())
        .map_err(|_| {
            ToolError::invalid(format!(
                "{field} {v:?} is not an RFC 3339 time like 2026-11-20T14:32:00Z"
            ))
        })?
        .with_timezone(&Utc);
    if t > Utc::now() + chrono::Duration::minutes(1) {
        return Err(ToolError::invalid(format!("{field} is in the future")));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_windows_say_what_fits() {
        assert_eq!(limit(None, 5, 50, "limit").unwrap(), 5);
        assert_eq!(limit(Some(50), 5, 50, "limit").unwrap(), 50);
        let e = limit(Some(10_000), 5, 50, "limit").unwrap_err();
        assert!(e.message.contains("1 to 50"), "{}", e.message);
        assert!(limit(Some(0), 5, 50, "limit").is_err());
        assert!(limit(Some(-3), 5, 50, "limit").is_err());
        assert!(window(Some("-5m"), "15m").is_err());
        assert_eq!(window(None, "15m").unwrap().secs(), 900);
        assert!(text("   ", "description", 10).is_err());
        assert!(text("abcdefghijk", "description", 10).is_err());
        assert!(timestamp("yesterday", "started_at").is_err());
    }
}
