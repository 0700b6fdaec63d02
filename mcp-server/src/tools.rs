//! The tool catalogue: one `#[tool_router]` per toolset (one file each), combined here,
//! filtered by the server's flags, plus the argument checks every tool shares.

pub mod analysis;
pub mod chaos;
pub mod fleet;
pub mod memory;
pub mod metrics;
pub mod remediation;

use chrono::{DateTime, Utc};
use quantumstate_store::Window;
use rmcp::handler::server::router::tool::ToolRouter;

use crate::config::Config;
use crate::error::{ToolError, ToolResult};
use crate::server::QsServer;

/// Tools `--disable-destructive` hides (they only take capacity away).
pub const DESTRUCTIVE_TOOLS: &[&str] = &["stop_container"];

/// Builds one toolset's router.
type ToolGroup = fn() -> ToolRouter<QsServer>;

/// Every tool of every toolset, before any flag filters them.
pub fn catalogue() -> ToolRouter<QsServer> {
    QsServer::fleet_tools()
        + QsServer::metrics_tools()
        + QsServer::analysis_tools()
        + QsServer::memory_tools()
        + QsServer::remediation_tools()
        + QsServer::chaos_tools()
}

/// The tools this configuration exposes.
pub fn router(cfg: &Config) -> ToolRouter<QsServer> {
    let mut r = ToolRouter::new();
    let groups: [(&str, ToolGroup); 6] = [
        ("fleet", QsServer::fleet_tools),
        ("metrics", QsServer::metrics_tools),
        ("analysis", QsServer::analysis_tools),
        ("memory", QsServer::memory_tools),
        ("remediation", QsServer::remediation_tools),
        ("chaos", QsServer::chaos_tools),
    ];
    for (name, make) in groups {
        if cfg.toolset_enabled(name) {
            r += make();
        }
    }
    let mut hide: Vec<String> = Vec::new();
    for t in r.list_all() {
        let read_only = t
            .annotations
            .as_ref()
            .and_then(|a| a.read_only_hint)
            .unwrap_or(false);
        if (cfg.read_only && !read_only)
            || (cfg.disable_destructive && DESTRUCTIVE_TOOLS.contains(&t.name.as_ref()))
        {
            hide.push(t.name.to_string());
        }
    }
    for name in hide {
        r.remove_route(&name);
    }
    for route in r.map.values_mut() {
        compact_schemas(&mut route.attr);
    }
    r
}

/// Keeps `tools/list` small (it is sent to the model on every session): output schemas
/// keep their structure but drop prose, and no schema repeats `$schema` or `default: null`.
fn compact_schemas(tool: &mut rmcp::model::Tool) {
    fn strip(v: &mut serde_json::Value, prose: bool) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("$schema");
                if prose {
                    m.remove("description");
                    m.remove("title");
                }
                if m.get("default").is_some_and(serde_json::Value::is_null) {
                    m.remove("default");
                }
                // Numeric formats (int64, uint8, double...) say nothing a model needs.
                if m.get("format")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|f| f != "date-time")
                {
                    m.remove("format");
                    if prose {
                        m.remove("minimum");
                        m.remove("maximum");
                    }
                }
                for (k, child) in m.iter_mut() {
                    // A property *named* description or title is data, not prose.
                    // `true` (any value) as a subschema is valid but strict validators flag
                    // it; `{}` says the same.
                    if (k == "items" || k == "additionalItems")
                        && *child == serde_json::Value::Bool(true)
                    {
                        *child = serde_json::json!({});
                    }
                    if k != "properties" || !prose {
                        if k == "properties"
                            && let serde_json::Value::Object(props) = child
                        {
                            for p in props
                                .values_mut()
                                .filter(|p| **p == serde_json::Value::Bool(true))
                            {
                                *p = serde_json::json!({});
                            }
                        }
                        strip(child, prose);
                    } else if let serde_json::Value::Object(props) = child {
                        for p in props.values_mut() {
                            if *p == serde_json::Value::Bool(true) {
                                *p = serde_json::json!({});
                            }
                            strip(p, prose);
                        }
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| strip(x, prose)),
            _ => {}
        }
    }
    let mut input = serde_json::Value::Object((*tool.input_schema).clone());
    strip(&mut input, false);
    if let serde_json::Value::Object(m) = input {
        tool.input_schema = std::sync::Arc::new(m);
    }
    if let Some(out) = &tool.output_schema {
        let mut v = serde_json::Value::Object((**out).clone());
        strip(&mut v, true);
        if let serde_json::Value::Object(m) = v {
            tool.output_schema = Some(std::sync::Arc::new(m));
        }
    }
}

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
