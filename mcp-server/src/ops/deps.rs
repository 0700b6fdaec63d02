//! What a service depends on (its DEPENDS_ON hosts that are managed containers), which of
//! them to restart, and the bounds of raising a cache's memory.

use quantumstate_fleet::{ContainerDetail, FleetRead, probe_health};
use serde_json::Value;

use crate::error::{ToolError, ToolResult};

/// Largest memory limit scale_cache will set.
pub const CACHE_MAX_MB: i64 = 2048;
pub const CACHE_MIN_MB: i64 = 64;

/// The managed containers `service` depends on (from its DEPENDS_ON hosts), sorted.
pub async fn dependencies(
    reads: &dyn FleetRead,
    service: &ContainerDetail,
) -> ToolResult<Vec<String>> {
    let hosts = service.depends_on_hosts();
    let managed = reads.list_cached().await?;
    let mut out: Vec<String> = managed
        .into_iter()
        .filter(|c| hosts.iter().any(|h| *h == c.container_name || *h == c.name))
        .map(|c| c.name)
        .collect();
    out.sort();
    Ok(out)
}

/// Picks the dependency to restart: the one named, the only one, or the only unhealthy one.
pub async fn pick_dependency(
    reads: &dyn FleetRead,
    service: &ContainerDetail,
    named: Option<&str>,
) -> ToolResult<String> {
    let name = &service.info.name;
    let deps = dependencies(reads, service).await?;
    if deps.is_empty() {
        return Err(ToolError::invalid(format!(
            "{name} has no managed dependencies (its DEPENDS_ON names none)"
        ))
        .hint("restart_container restarts the service itself"));
    }
    if let Some(n) = named {
        return deps
            .iter()
            .find(|d| d.as_str() == n.trim())
            .cloned()
            .ok_or_else(|| {
                ToolError::invalid(format!("{n:?} is not a dependency of {name}"))
                    .hint(format!("its dependencies: {}", deps.join(", ")))
            });
    }
    if deps.len() == 1 {
        return Ok(deps[0].clone());
    }
    let mut unhealthy = Vec::new();
    for dep in &deps {
        let ok = match reads.inspect(dep).await {
            Ok(d) if d.running => probe_health(&d.info)
                .await
                .ok()
                .and_then(|r| {
                    r.body
                        .get("status")
                        .and_then(Value::as_str)
                        .map(|s| s == "healthy")
                })
                .unwrap_or(false),
            _ => false,
        };
        if !ok {
            unhealthy.push(dep.clone());
        }
    }
    match unhealthy.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(ToolError::invalid(format!(
            "{name} has several dependencies ({}); say which",
            deps.join(", ")
        ))
        .hint("pass dependency")),
    }
}

/// Checks and returns the memory limit scale_cache would set, in bytes, with the current one.
pub fn cache_limit(d: &ContainerDetail, memory_mb: i64) -> ToolResult<(Option<i64>, i64)> {
    let service = &d.info.name;
    if d.info.role != "cache" {
        return Err(ToolError::invalid(format!(
            "{service} is not a cache (its quantumstate.role is {:?})",
            d.info.role
        ))
        .hint(
            "scale_cache raises the memory limit of a container labelled quantumstate.role=cache",
        ));
    }
    if !(CACHE_MIN_MB..=CACHE_MAX_MB).contains(&memory_mb) {
        return Err(ToolError::invalid(format!(
            "memory_mb must be {CACHE_MIN_MB} to {CACHE_MAX_MB} (got {memory_mb})"
        )));
    }
    let bytes = memory_mb * 1024 * 1024;
    if let Some(cur) = d.memory_limit_bytes
        && bytes <= cur
    {
        return Err(ToolError::invalid(format!(
            "{service} already has {} MB; scale_cache only raises the limit",
            cur / (1024 * 1024)
        ))
        .hint("pass a larger memory_mb"));
    }
    Ok((d.memory_limit_bytes, bytes))
}
