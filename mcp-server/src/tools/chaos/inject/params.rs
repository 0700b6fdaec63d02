//! A fault's parameters: which kinds take which, and the body a service's `/faults` takes.

use serde_json::Value;

use super::InjectArgs;
use crate::error::{ToolError, ToolResult};

/// Parameters that only some kinds take must not be passed to others.
pub(super) fn check_params(a: &InjectArgs) -> ToolResult<()> {
    let given = [
        ("mb_per_second", a.mb_per_second.is_some()),
        ("max_mb", a.max_mb.is_some()),
        ("allow_oom", a.allow_oom.is_some()),
        ("threads", a.threads.is_some()),
        ("error_share", a.error_share.is_some()),
        ("added_ms", a.added_ms.is_some()),
        ("dependency", a.dependency.is_some()),
        ("version", a.version.is_some()),
    ];
    let allowed: &[&str] = match a.kind.as_str() {
        "memory_leak" => &["mb_per_second", "max_mb", "allow_oom"],
        "cpu_burn" => &["threads"],
        "error_spike" => &["error_share"],
        "latency" => &["added_ms"],
        "dependency_failure" => &["dependency"],
        "bad_deploy" => &["version"],
        _ => &[],
    };
    if let Some((p, _)) = given.iter().find(|(p, set)| *set && !allowed.contains(p)) {
        let hint = if allowed.is_empty() {
            format!("{} takes no parameters besides ttl_seconds", a.kind)
        } else {
            format!("{} takes: {}", a.kind, allowed.join(", "))
        };
        return Err(
            ToolError::invalid(format!("{p} does not apply to a {} fault", a.kind)).hint(hint),
        );
    }
    Ok(())
}

/// The service-level fault body the service's `/faults` expects.
pub(super) fn service_fault_body(a: &InjectArgs) -> Value {
    let mut b = serde_json::Map::new();
    b.insert("kind".into(), a.kind.clone().into());
    b.insert("ttl_seconds".into(), a.ttl_seconds.into());
    let params = [
        ("mb_per_second", a.mb_per_second.map(Value::from)),
        ("max_mb", a.max_mb.map(Value::from)),
        ("allow_oom", a.allow_oom.map(Value::from)),
        ("threads", a.threads.map(Value::from)),
        ("error_share", a.error_share.map(Value::from)),
        ("added_ms", a.added_ms.map(Value::from)),
        ("dependency", a.dependency.clone().map(Value::from)),
    ];
    for (k, v) in params {
        if let Some(v) = v {
            b.insert(k.into(), v);
        }
    }
    Value::Object(b)
}
