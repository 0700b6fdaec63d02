//! The fleet at a glance: every managed service with its state, health (from its own
//! /health, else Docker's healthcheck), version, uptime, our restart count and where
//! each of its figures is read; managed swarm services with their replicas and tasks. What
//! `list_services` answers and the `quantumstate://fleet` resource shows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use quantumstate_fleet::{ContainerDetail, ContainerInfo, HostStatus, SwarmService, probe_health};
use quantumstate_store::MetricType;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::error::ToolResult;
use crate::tools::fleet::{ContainerState, ServiceHealth};

/// One managed service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceSummary {
    /// The service name; `host/name` when the name runs on more than one host.
    pub name: String,
    /// The Docker engine it runs on (`local` with one engine).
    pub host: String,
    /// Set when its host does not answer: why (the rest is its last listing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    pub container_id: String,
    /// Docker state: running, exited, paused, restarting, created, dead.
    pub state: String,
    /// healthy, degraded or unhealthy from the service's /health; else Docker's healthcheck
    /// status; `down` when not running; `unknown` when neither answers; `unreachable`
    /// when its host does not answer.
    pub health: String,
    pub version: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub uptime_seconds: Option<i64>,
    /// Restarts counted by QuantumState from start-time changes (Docker's own counter
    /// ignores `docker restart`).
    pub restart_count: Option<u64>,
    pub role: String,
    pub image: String,
    /// 127.0.0.1 port Docker publishes, when any.
    pub host_port: Option<u16>,
    /// Where the metric tools read each figure of this service: `store`, or Prometheus
    /// with the PromQL's origin (`prometheus (profile quantumstate)`, `prometheus
    /// (FILE:LINE)`, `prometheus (not mapped)`).
    pub figures_from: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceList {
    /// `store sqlite:...` or `prometheus http://...`: where figures are read.
    pub metrics_source: String,
    pub services: Vec<ServiceSummary>,
    pub truncated: bool,
    /// Each Docker engine and whether it answers (only with more than one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostStatus>,
    /// Managed Docker Swarm services, on engines that are swarm managers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub swarm_services: Vec<SwarmSummary>,
}

/// A swarm service with its health from its tasks: `healthy` when every desired replica
/// runs, `degraded` when some do, `down` when none does.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SwarmSummary {
    pub health: String,
    #[serde(flatten)]
    pub service: SwarmService,
}

async fn summary(app: &App, c: ContainerInfo) -> ServiceSummary {
    let detail = match c.unreachable {
        None => app.fleet().inspect(&c.name).await.ok(),
        Some(_) => None,
    };
    let restarts = match (&detail, app.store().await) {
        (Some(d), Ok(store)) => match d.started_at {
            Some(t) => store.observe_start(&c.name, t).await.ok(),
            None => None,
        },
        _ => None,
    };
    let health = match c.unreachable {
        None => health_word(app, &c, detail.as_ref()).await.0,
        Some(_) => "unreachable".into(),
    };
    let started_at = detail
        .as_ref()
        .and_then(|d| d.started_at)
        .filter(|_| c.state == "running" || c.state == "paused");
    ServiceSummary {
        name: c.name.clone(),
        host: c.host.clone(),
        unreachable: c.unreachable.clone(),
        container_id: c.id.clone(),
        state: detail
            .as_ref()
            .map(|d| d.info.state.clone())
            .unwrap_or(c.state.clone()),
        health,
        version: detail.as_ref().and_then(|d| d.version.clone()),
        started_at,
        uptime_seconds: started_at.map(|t| (Utc::now() - t).num_seconds().max(0)),
        restart_count: restarts,
        role: c.role,
        image: c.image,
        host_port: c.host_port,
        figures_from: MetricType::ALL
            .iter()
            .map(|mt| (mt.as_str().to_string(), app.metric_origin(&c.name, *mt)))
            .collect(),
    }
}

/// (health word, source, /health body, probe error) for a container.
pub async fn health_word(
    app: &App,
    c: &ContainerInfo,
    d: Option<&ContainerDetail>,
) -> (String, String, Option<Value>, Option<String>) {
    let _ = app;
    let running = d.map(|d| d.running).unwrap_or(c.state == "running");
    if !running {
        let word = if d.is_some_and(|d| d.paused) {
            "down (paused)"
        } else {
            "down"
        };
        return (word.into(), "docker".into(), None, None);
    }
    match probe_health(c).await {
        Ok(r) if r.body.get("status").and_then(Value::as_str).is_some() => {
            let s = r.body["status"].as_str().unwrap_or("unknown").to_string();
            (s, "service".into(), Some(r.body), None)
        }
        Ok(r) => {
            let word = d
                .and_then(|d| d.docker_health.clone())
                .unwrap_or_else(|| "unknown".into());
            (
                word,
                "docker_healthcheck".into(),
                None,
                Some(format!(
                    "{} answered {} without a health document",
                    r.url, r.status
                )),
            )
        }
        Err(e) => {
            let word = d
                .and_then(|d| d.docker_health.clone())
                .unwrap_or_else(|| "unknown".into());
            (word, "docker_healthcheck".into(), None, Some(e))
        }
    }
}

/// The fleet as `list_services` returns it (also the `quantumstate://fleet` resource).
pub async fn fleet_overview(app: &App) -> ToolResult<ServiceList> {
    let (list, truncated) = crate::text::cap(app.fleet().list().await?, crate::text::MAX_LIST);
    let (summaries, swarm) = tokio::join!(
        futures::future::join_all(list.into_iter().map(|c| summary(app, c))),
        app.fleet().swarm_services()
    );
    let swarm_services = swarm
        .unwrap_or_default()
        .into_iter()
        .map(|s| SwarmSummary {
            health: s.health().into(),
            service: s,
        })
        .collect();
    Ok(ServiceList {
        metrics_source: app.metrics_description(),
        services: summaries,
        truncated,
        hosts: app.fleet().hosts(),
        swarm_services,
    })
}

/// `get_service_health` of a swarm service: its replicas from swarm's task states, and
/// (when it publishes a port) its /health through that port on its host's address. A service whose
/// tasks do not all run is `degraded` or `down` whatever /health says.
pub async fn swarm_health(app: &App, name: &str) -> ToolResult<ServiceHealth> {
    let svc = app.fleet().swarm_service(name).await?;
    let tasks = app.fleet().swarm_tasks(&svc).await?;
    let d = tasks.first().ok_or_else(|| {
        crate::error::ToolError::unavailable(format!(
            "{} has no running task ({} of {} replicas run on host {})",
            svc.name, svc.running, svc.desired, svc.host
        ))
        .hint("list_services shows its tasks and their states; rollback_deployment or scale_service act on it")
    })?;
    let (mut status, mut source, health, probe_error) = health_word(app, &d.info, Some(d)).await;
    if svc.health() != "healthy" {
        (status, source) = (svc.health().into(), "swarm_tasks".into());
    }
    Ok(ServiceHealth {
        service: name.to_string(),
        status,
        health_source: source,
        container: ContainerState::of(d, None),
        health,
        probe_error,
    })
}
