//! The operations behind remediation, shared by the tools, the runner and the reaper:
//! restart and wait until ready, deploy and roll back versions, restart a dependency,
//! raise a cache's memory. Callers pass the guard first; nothing here checks permissions.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use quantumstate_store::Deployment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;
use crate::error::{ToolError, ToolResult};
use crate::fleet::{
    ContainerDetail, PREVIOUS_VERSION_LABEL, Recreate, VERSION_LABEL, probe_health,
};

/// Grace period Docker gives a container to stop before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Largest memory limit scale_cache will set.
pub const CACHE_MAX_MB: i64 = 2048;
pub const CACHE_MIN_MB: i64 = 64;

/// What waiting for a service found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Readiness {
    /// True when it was ready before the timeout.
    pub ready: bool,
    /// The last health seen: healthy, degraded, unhealthy, starting, down, unknown.
    pub health: String,
    pub started_at: Option<DateTime<Utc>>,
}

/// Polls until the container runs and answers (its /health, else Docker's healthcheck),
/// calling `on_poll` with a progress message. Bounded by `timeout`.
pub async fn wait_ready<F, Fut>(
    app: &App,
    service: &str,
    timeout: Duration,
    mut on_poll: F,
) -> Readiness
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = Readiness {
        ready: false,
        health: "unknown".into(),
        started_at: None,
    };
    loop {
        if let Ok(d) = app.fleet().inspect(service).await {
            last.started_at = d.started_at;
            if !d.running {
                last.health = "down".into();
            } else {
                match probe_health(&d.info).await {
                    Ok(r) => {
                        let s = r
                            .body
                            .get("status")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        last.health = s.clone().unwrap_or_else(|| {
                            d.docker_health.clone().unwrap_or_else(|| "unknown".into())
                        });
                        last.ready = match s.as_deref() {
                            Some("healthy") | Some("degraded") => true,
                            Some(_) => false,
                            None => {
                                d.docker_health.as_deref().is_none_or(|h| h == "healthy")
                                    && r.status < 500
                            }
                        };
                    }
                    Err(_) => {
                        last.health = d.docker_health.clone().unwrap_or_else(|| "starting".into());
                        last.ready = d.docker_health.as_deref() == Some("healthy");
                    }
                }
            }
        }
        if last.ready {
            return last;
        }
        on_poll(format!("{service}: {}", last.health)).await;
        if tokio::time::Instant::now() >= deadline {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What a restart did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Restarted {
    pub service: String,
    pub started_at_before: Option<DateTime<Utc>>,
    pub started_at_after: Option<DateTime<Utc>>,
    /// QuantumState's restart count after this restart.
    pub restart_count: Option<u64>,
    pub readiness: Option<Readiness>,
}

/// Restarts a container and (optionally) waits until it is ready again.
pub async fn restart<F, Fut>(
    app: &App,
    service: &str,
    wait: Option<Duration>,
    on_poll: F,
) -> ToolResult<Restarted>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = app.fleet().inspect(service).await?;
    app.fleet()
        .restart(service, STOP_GRACE)
        .await
        .map_err(|e| {
            app.telemetry().docker_error();
            ToolError::from(e)
        })?;
    let readiness = match wait {
        Some(t) => Some(wait_ready(app, service, t, on_poll).await),
        None => None,
    };
    let after = app.fleet().inspect(service).await.ok();
    let started_after = after.as_ref().and_then(|d| d.started_at);
    let count = count_start(app, service, before.started_at, started_after).await;
    Ok(Restarted {
        service: service.into(),
        started_at_before: before.started_at,
        started_at_after: started_after,
        restart_count: count,
        readiness,
    })
}

/// Feeds both start times to the restart counter and returns the count.
pub async fn count_start(
    app: &App,
    service: &str,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
) -> Option<u64> {
    let store = app.store().await.ok()?;
    if let Some(b) = before {
        let _ = store.observe_start(service, b).await;
    }
    store.observe_start(service, after?).await.ok()
}

/// Checks a version string: 1–32 of letters, digits, `.`, `-`, `_`.
pub fn check_version(v: &str) -> ToolResult<String> {
    let v = v.trim();
    if v.is_empty()
        || v.len() > 32
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c))
    {
        return Err(ToolError::invalid(format!(
            "version {:?} is not like 1.2.3 (letters, digits, . - _ +; at most 32)",
            crate::app::truncate(v, 40)
        )));
    }
    Ok(v.to_string())
}

/// What a deploy or rollback did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployed {
    pub service: String,
    pub from_version: Option<String>,
    pub to_version: String,
    pub container_id: String,
    pub deployment_id: String,
    pub readiness: Readiness,
}

/// Recreates the container with `version`, records the deployment, waits until ready.
pub async fn deploy<F, Fut>(
    app: &App,
    service: &str,
    version: &str,
    by: &str,
    reason: &str,
    wait: Duration,
    on_poll: F,
) -> ToolResult<Deployed>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = app.fleet().inspect(service).await?;
    let from = before.version.clone();
    let mut labels = BTreeMap::new();
    labels.insert(VERSION_LABEL.to_string(), version.to_string());
    if let Some(f) = &from {
        labels.insert(PREVIOUS_VERSION_LABEL.to_string(), f.clone());
    }
    let store = app.store().await?;
    let after: ContainerDetail = app
        .fleet()
        .recreate(
            service,
            &Recreate {
                version: version.into(),
                labels,
            },
        )
        .await
        .map_err(|e| {
            app.telemetry().docker_error();
            ToolError::from(e)
        })?;
    let dep = Deployment {
        id: quantumstate_store::new_id("dep"),
        service: service.into(),
        from_version: from.clone(),
        to_version: version.into(),
        image: after.info.image.clone(),
        at: Utc::now(),
        by: by.into(),
        reason: reason.into(),
    };
    store.put_deployment(&dep).await?;
    let readiness = wait_ready(app, service, wait, on_poll).await;
    Ok(Deployed {
        service: service.into(),
        from_version: from,
        to_version: version.into(),
        container_id: after.info.id,
        deployment_id: dep.id,
        readiness,
    })
}

/// The version a rollback returns to: the container's recorded previous version, else the
/// `from_version` of its latest deployment record.
pub async fn rollback_target(app: &App, service: &str) -> ToolResult<(Option<String>, String)> {
    let d = app.fleet().inspect(service).await?;
    if let Some(prev) = d
        .info
        .labels
        .get(PREVIOUS_VERSION_LABEL)
        .filter(|p| Some(*p) != d.version.as_ref())
    {
        return Ok((d.version.clone(), prev.clone()));
    }
    let store = app.store().await?;
    let deps = store
        .list_deployments(&quantumstate_store::DeploymentFilter {
            service: Some(service.into()),
            range: None,
            limit: 20,
        })
        .await?;
    let found = deps
        .items
        .iter()
        .find(|x| Some(&x.to_version) == d.version.as_ref())
        .and_then(|x| x.from_version.clone());
    match found {
        Some(v) => Ok((d.version, v)),
        None => Err(ToolError::invalid(format!(
            "{service} runs {} and no previous version is recorded for it",
            d.version.as_deref().unwrap_or("an unknown version")
        ))
        .hint("pass to_version explicitly, or use deploy_version")),
    }
}

/// The managed containers `service` depends on (from its DEPENDS_ON hosts).
pub async fn dependencies(app: &App, service: &str) -> ToolResult<Vec<String>> {
    let d = app.fleet().inspect(service).await?;
    let hosts: Vec<String> = d
        .env
        .iter()
        .find_map(|e| e.strip_prefix("DEPENDS_ON="))
        .unwrap_or("")
        .split(',')
        .filter_map(|u| {
            let rest = u.trim().split("://").nth(1).unwrap_or(u.trim());
            let host = rest.split(['/', ':']).next().unwrap_or("").trim();
            (!host.is_empty()).then(|| host.to_string())
        })
        .collect();
    let managed = app.fleet().list().await?;
    let mut out: Vec<String> = managed
        .into_iter()
        .filter(|c| hosts.iter().any(|h| *h == c.container_name || *h == c.name))
        .map(|c| c.name)
        .collect();
    out.sort();
    Ok(out)
}

/// Picks the dependency to restart: the one named, the only one, or the only unhealthy one.
pub async fn pick_dependency(app: &App, service: &str, named: Option<&str>) -> ToolResult<String> {
    let deps = dependencies(app, service).await?;
    if deps.is_empty() {
        return Err(ToolError::invalid(format!(
            "{service} has no managed dependencies (its DEPENDS_ON names none)"
        ))
        .hint("restart_container restarts the service itself"));
    }
    if let Some(n) = named {
        return deps
            .iter()
            .find(|d| d.as_str() == n.trim())
            .cloned()
            .ok_or_else(|| {
                ToolError::invalid(format!("{n:?} is not a dependency of {service}"))
                    .hint(format!("its dependencies: {}", deps.join(", ")))
            });
    }
    if deps.len() == 1 {
        return Ok(deps[0].clone());
    }
    let mut unhealthy = Vec::new();
    for dep in &deps {
        let ok = match app.fleet().inspect(dep).await {
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
            "{service} has several dependencies ({}); say which",
            deps.join(", ")
        ))
        .hint("pass dependency")),
    }
}

/// Checks and returns the memory limit scale_cache would set, in bytes, with the current one.
pub async fn cache_limit(
    app: &App,
    service: &str,
    memory_mb: i64,
) -> ToolResult<(Option<i64>, i64)> {
    let d = app.fleet().inspect(service).await?;
    if d.info.role != "cache" {
        return Err(ToolError::invalid(format!(
            "{service} is not a cache (its quantumstate.role is {:?})",
            d.info.role
        ))
        .hint("scale_cache raises the memory of the session cache, auth-cache"));
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
