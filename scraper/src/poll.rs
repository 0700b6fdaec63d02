//! One poll round per interval: each managed container's `/health` and Docker stats become
//! metric documents (`up` = 0 and an ERROR log when it does not answer), restarts are
//! counted, and version changes made outside QuantumState's tools become deployments.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use quantumstate_fleet::{ContainerDetail, ContainerInfo, probe_health};
use quantumstate_store::{
    Deployment, DeploymentFilter, Level, LogLine, Metric, MetricType, TimeRange,
};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::Scraper;

/// How often a still-down service gets another ERROR log line.
const DOWN_REMINDER: chrono::Duration = chrono::Duration::seconds(30);
/// How long a poll round waits to record a container start.
const START_WRITE_WITHIN: Duration = Duration::from_millis(250);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// What the poller remembers about a service between rounds.
#[derive(Debug, Clone, Default)]
struct Seen {
    container_id: String,
    version: Option<String>,
    /// Whether it ever answered our `/health` (else Docker's healthcheck stands in).
    speaks_health: bool,
    /// When it was last reported down (to remind, not to spam).
    down_logged: Option<DateTime<Utc>>,
    /// The start time last written with `observe_start` (each start is written once).
    start_recorded: Option<DateTime<Utc>>,
}

/// The documents one container produced this round.
#[derive(Default)]
struct Round {
    metrics: Vec<Metric>,
    logs: Vec<LogLine>,
    deployments: Vec<Deployment>,
}

fn region_of(d: &ContainerDetail, body: Option<&Value>) -> String {
    body.and_then(|b| b.get("region"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            d.env
                .iter()
                .find_map(|e| e.strip_prefix("REGION=").map(str::to_string))
        })
        .or_else(|| d.info.labels.get("quantumstate.region").cloned())
        .unwrap_or_else(|| "unknown".into())
}

fn log(
    t: DateTime<Utc>,
    service: &str,
    region: &str,
    level: Level,
    code: &str,
    message: String,
) -> LogLine {
    LogLine {
        timestamp: t,
        service: service.into(),
        region: region.into(),
        level,
        message,
        trace_id: None,
        error_code: Some(code.into()),
        source: None,
    }
}

/// Polls one container.
async fn poll_one(
    s: &Scraper,
    c: &ContainerInfo,
    seen: &Mutex<HashMap<String, Seen>>,
    now: DateTime<Utc>,
) -> Round {
    let mut r = Round::default();
    let name = c.name.as_str();
    let d = match s.fleet.inspect(name).await {
        Ok(d) => d,
        Err(e) => {
            s.counters.docker_error(&e.to_string());
            return r;
        }
    };
    let mut state = seen.lock().await.get(name).cloned().unwrap_or_default();
    // Restarts and version changes. A new start is written once, and never holds the
    // round up for long: a busy store gets it again next round.
    if let Some(t) = d.started_at
        && state.start_recorded != Some(t)
        && let Ok(store) = s.store.get().await
        && let Ok(Ok(_)) =
            tokio::time::timeout(START_WRITE_WITHIN, store.observe_start(name, t)).await
    {
        state.start_recorded = Some(t);
    }
    if !state.container_id.is_empty()
        && (state.container_id != d.info.id || state.version != d.version)
        && let Some(dep) = outside_deployment(s, &d, &state, now).await
    {
        r.deployments.push(dep);
    }
    state.container_id = d.info.id.clone();
    state.version = d.version.clone();

    let put = |r: &mut Round, region: &str, mt: MetricType, v: f64| {
        r.metrics.push(Metric::measured(now, name, region, mt, v))
    };
    let mut answered = false;
    let mut region = region_of(&d, None);
    if d.running {
        match probe_health(&d.info).await {
            Ok(rep) if rep.body.get("status").is_some() => {
                answered = true;
                state.speaks_health = true;
                region = region_of(&d, Some(&rep.body));
                for mt in [
                    MetricType::MemoryPercent,
                    MetricType::CpuPercent,
                    MetricType::ErrorRate,
                    MetricType::RequestLatencyMs,
                    MetricType::RequestsPerMin,
                ] {
                    if let Some(v) = rep.body.get(mt.as_str()).and_then(Value::as_f64) {
                        put(&mut r, &region, mt, v);
                    }
                }
            }
            Ok(rep) => {
                s.counters.probe_failure();
                if state.speaks_health {
                    r.logs.push(log(
                        now,
                        name,
                        &region,
                        Level::Error,
                        "HEALTH_CHECK_FAILED",
                        format!(
                            "{} answered {} without a health document",
                            rep.url, rep.status
                        ),
                    ));
                }
            }
            Err(e) => {
                s.counters.probe_failure();
                if state.speaks_health || d.docker_health.is_none() {
                    r.logs.push(log(
                        now,
                        name,
                        &region,
                        Level::Error,
                        "HEALTH_CHECK_FAILED",
                        format!("health probe got no answer: {e}"),
                    ));
                }
            }
        }
        match s.fleet.stats(name).await {
            Ok(st) => {
                if let Some(v) = st.memory_percent {
                    put(&mut r, &region, MetricType::ContainerMemoryPercent, v);
                }
                if let Some(v) = st.cpu_percent {
                    put(&mut r, &region, MetricType::ContainerCpuPercent, v);
                }
            }
            Err(e) => s.counters.docker_error(&e.to_string()),
        }
    }
    // A container that never served our /health is judged by Docker's healthcheck.
    let up = if state.speaks_health {
        answered
    } else {
        d.running && d.docker_health.as_deref().is_none_or(|h| h == "healthy")
    };
    put(&mut r, &region, MetricType::Up, if up { 1.0 } else { 0.0 });
    if up {
        state.down_logged = None;
    } else if state.down_logged.is_none_or(|t| now - t >= DOWN_REMINDER) {
        state.down_logged = Some(now);
        let why = if d.paused {
            "container is paused".to_string()
        } else if !d.running {
            format!(
                "container is {} (exit code {}{})",
                d.info.state,
                d.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into()),
                if d.oom_killed { ", OOM-killed" } else { "" }
            )
        } else {
            "container runs but does not answer its health probe".to_string()
        };
        r.logs.push(log(
            now,
            name,
            &region,
            Level::Error,
            "SERVICE_DOWN",
            format!("{name} is down: {why}"),
        ));
    }
    seen.lock().await.insert(name.to_string(), state);
    r
}

/// A deployment record for a version change or recreation we did not make ourselves.
async fn outside_deployment(
    s: &Scraper,
    d: &ContainerDetail,
    before: &Seen,
    now: DateTime<Utc>,
) -> Option<Deployment> {
    let to = d.version.clone().unwrap_or_else(|| "unknown".into());
    // Our own deploy tools record their deployments; do not count those twice.
    if let Ok(store) = s.store.get().await
        && let Ok(page) = store
            .list_deployments(&DeploymentFilter {
                service: Some(d.info.name.clone()),
                range: Some(TimeRange {
                    from: now - chrono::Duration::minutes(10),
                    to: now + chrono::Duration::minutes(1),
                }),
                limit: 20,
            })
            .await
        && page.items.iter().any(|x| x.to_version == to)
    {
        return None;
    }
    let changed = before.version.as_deref() != Some(to.as_str());
    Some(Deployment {
        id: quantumstate_store::new_id("dep"),
        service: d.info.name.clone(),
        from_version: before.version.clone(),
        to_version: to,
        image: d.info.image.clone(),
        at: d.started_at.unwrap_or(now),
        by: "scraper".into(),
        reason: if changed {
            "version change seen by the scraper (made outside QuantumState's tools)".into()
        } else {
            "container recreated outside QuantumState's tools (same version)".into()
        },
    })
}

/// Polls every interval until shutdown.
pub async fn run(s: Arc<Scraper>) {
    let seen: Mutex<HashMap<String, Seen>> = Mutex::new(HashMap::new());
    let mut tick = tokio::time::interval(s.config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_retention = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = s.shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        match s.fleet.list().await {
            Ok(list) => {
                let rounds =
                    futures::future::join_all(list.iter().map(|c| poll_one(&s, c, &seen, now)))
                        .await;
                for r in rounds {
                    s.buffer.push(r.metrics, r.logs, r.deployments, &s.counters);
                }
                seen.lock()
                    .await
                    .retain(|k, _| list.iter().any(|c| &c.name == k));
            }
            Err(e) => s.counters.docker_error(&e.to_string()),
        }
        s.counters.poll();
        s.flush_wanted.notify_one();
        if last_retention.elapsed() >= RETENTION_EVERY {
            last_retention = tokio::time::Instant::now();
            if let Ok(store) = s.store.get().await {
                match store.apply_retention(Utc::now(), s.config.retention).await {
                    Ok(r) => tracing::info!(?r, "retention applied"),
                    Err(e) => tracing::warn!(error = %e, "retention failed"),
                }
            }
        }
    }
}
