//! The operations mutations apply, shared by the tools, the runner and the reaper:
//! restart and wait until ready, deploy and roll back versions (`deploy`), find a
//! service's dependencies and bound a cache's memory (`deps`). Every function here runs
//! inside `Mutation::apply` or `plan`, on targets the road already admitted.

mod deploy;
mod deps;
pub mod swarm;

use std::time::Duration;

use chrono::{DateTime, Utc};
use quantumstate_fleet::{ContainerDetail, FleetRead, Target, probe_health};
use quantumstate_store::DynStore;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use deploy::{Deployed, check_version, deploy, rollback_target};
pub use deps::{CACHE_MAX_MB, CACHE_MIN_MB, cache_limit, dependencies, pick_dependency};

use crate::error::ToolResult;
use crate::mutation::{ApplyCx, Progress};

/// Grace period Docker gives a container to stop before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often a wait for readiness looks again.
const POLL: Duration = Duration::from_millis(250);

/// What waiting for a service found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Readiness {
    /// True when it was ready before the timeout.
    pub ready: bool,
    /// The last health seen: healthy, degraded, unhealthy, starting, down, unknown.
    pub health: String,
    pub started_at: Option<DateTime<Utc>>,
}

/// Health of an inspected container: (ready, word), from its /health when it answers,
/// else Docker's healthcheck.
async fn readiness_of(d: &ContainerDetail) -> (bool, String) {
    if !d.running {
        return (false, "down".into());
    }
    match probe_health(&d.info).await {
        Ok(r) => {
            let s = r
                .body
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_string);
            let ready = match s.as_deref() {
                Some("healthy") | Some("degraded") => true,
                Some(_) => false,
                None => d.docker_health.as_deref().is_none_or(|h| h == "healthy") && r.status < 500,
            };
            let word =
                s.unwrap_or_else(|| d.docker_health.clone().unwrap_or_else(|| "unknown".into()));
            (ready, word)
        }
        Err(_) => (
            d.docker_health.as_deref() == Some("healthy"),
            d.docker_health.clone().unwrap_or_else(|| "starting".into()),
        ),
    }
}

/// Polls until the container runs and answers, reporting progress; bounded by `timeout`.
/// Each poll is one inspect of the resolved target (no listing).
pub async fn wait_ready(
    reads: &dyn FleetRead,
    target: &Target,
    timeout: Duration,
    progress: &Progress,
) -> Readiness {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = Readiness {
        ready: false,
        health: "unknown".into(),
        started_at: None,
    };
    loop {
        if let Ok(d) = reads.inspect_target(target).await {
            last.started_at = d.started_at;
            (last.ready, last.health) = readiness_of(&d).await;
        }
        if last.ready {
            return last;
        }
        progress
            .report(format!("{}: {}", target.service, last.health))
            .await;
        if tokio::time::Instant::now() >= deadline {
            return last;
        }
        tokio::time::sleep(POLL).await;
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
    /// A swarm service's rolling restart: what swarm did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<swarm::Rolled>,
}

/// Restarts a resolved container and (optionally) waits until it is ready again.
pub async fn restart(
    cx: &ApplyCx<'_>,
    before: &ContainerDetail,
    wait: Option<Duration>,
) -> ToolResult<Restarted> {
    let target = before.target();
    cx.ops.restart(&target, STOP_GRACE).await?;
    let readiness = match wait {
        Some(t) => Some(wait_ready(cx.reads, &target, t, cx.progress).await),
        None => None,
    };
    let started_after = match &readiness {
        Some(r) if r.started_at.is_some() => r.started_at,
        _ => cx
            .reads
            .inspect_target(&target)
            .await
            .ok()
            .and_then(|d| d.started_at),
    };
    let count = count_start(cx.store, &target.service, before.started_at, started_after).await;
    Ok(Restarted {
        service: target.service.clone(),
        started_at_before: before.started_at,
        started_at_after: started_after,
        restart_count: count,
        readiness,
        rolling: None,
    })
}

/// Feeds both start times to the restart counter and returns the count.
pub async fn count_start(
    store: &DynStore,
    service: &str,
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
) -> Option<u64> {
    if let Some(b) = before {
        let _ = store.observe_start(service, b).await;
    }
    store.observe_start(service, after?).await.ok()
}
