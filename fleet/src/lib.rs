//! `quantumstate-fleet`: what runs where. The managed containers of one or more Docker
//! engines, seen through two traits — `FleetRead` (list, inspect, stats, logs) and
//! `FleetOps` (restart, stop, kill, recreate ... on an already resolved `Target`).
//!
//! `DockerFleet` implements both with bollard for one engine; `Hosts` spreads them over
//! several (`connect` picks). Only containers labelled
//! `quantumstate.managed=true` are ever returned or touched; infra containers never.
//! The MCP server hands `FleetOps` out only through its mutation road, so a caller that
//! was not admitted has no way to reach an operation.

mod docker;
mod endpoint;
mod hosts;
mod model;
pub mod probe;
pub mod stats;
mod swarm;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub use docker::{ApiCall, DockerFleet};
pub use endpoint::{HostSpec, TlsFiles};
pub use hosts::{HOST_BOUND, HostStatus, Hosts};
pub use model::*;
pub use probe::{HealthReport, probe_health};
pub use stats::ContainerStats;
pub use swarm::{SwarmChange, SwarmService, SwarmTask, UpdateStatus};

/// The label that makes a container a target.
pub const MANAGED_LABEL: &str = "quantumstate.managed";
/// The label naming the service (else the container name is used).
pub const SERVICE_LABEL: &str = "quantumstate.service";
/// `service`, `cache`, or `infra` (the scraper and server: never targets).
pub const ROLE_LABEL: &str = "quantumstate.role";
/// Other names for a service, comma-separated (`payments,billing`): similarity search
/// reads them so "payments" finds payment-service.
pub const ALIASES_LABEL: &str = "quantumstate.aliases";
/// Set by deploy_version: the version the container ran before.
pub const PREVIOUS_VERSION_LABEL: &str = "quantumstate.previous_version";
/// Set by deploy_version: the version it runs now.
pub const VERSION_LABEL: &str = "quantumstate.version";
/// The region a service runs in (incidents and logs carry it).
pub const REGION_LABEL: &str = "quantumstate.region";
/// The name of the host when QuantumState has only one engine.
pub const LOCAL_HOST: &str = "local";

/// What can go wrong talking to Docker.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FleetError {
    #[error("Docker is unavailable: {0}")]
    Unavailable(String),
    #[error("no container named {0:?}")]
    NotFound(String),
    #[error("container {name:?} is not managed by QuantumState: {why}")]
    NotManaged { name: String, why: String },
    #[error("{name:?} runs on more than one host: say which ({})", choices.join(", "))]
    Ambiguous { name: String, choices: Vec<String> },
    #[error("{0}")]
    Failed(String),
}

pub type FleetResult<T> = Result<T, FleetError>;

/// The read side: what is running and how it is doing. Never changes anything.
#[async_trait]
pub trait FleetRead: Send + Sync + 'static {
    /// Managed containers, by service name (a fresh listing).
    async fn list(&self) -> FleetResult<Vec<ContainerInfo>>;
    /// As `list`, from a cache at most a few seconds old.
    async fn list_cached(&self) -> FleetResult<Vec<ContainerInfo>>;
    /// Inspects a managed container by service name (or container name).
    async fn inspect(&self, service: &str) -> FleetResult<ContainerDetail>;
    /// Inspects a container already resolved (one Docker call, no listing).
    async fn inspect_target(&self, target: &Target) -> FleetResult<ContainerDetail>;
    async fn stats(&self, service: &str) -> FleetResult<ContainerStats>;
    async fn logs(&self, service: &str, opts: LogOptions) -> FleetResult<Vec<RawLog>>;
    /// Follows a container's log from `since` (whole seconds: the caller drops lines at or
    /// before its own cursor). The stream ends when the container stops.
    async fn follow_logs(
        &self,
        service: &str,
        since: Option<DateTime<Utc>>,
    ) -> FleetResult<futures::stream::BoxStream<'static, FleetResult<RawLog>>>;
    /// A description of the Docker endpoint(s) for health output.
    fn describe(&self) -> String;
    /// Each engine and whether it answers (empty with one engine: its listing says it).
    fn hosts(&self) -> Vec<HostStatus> {
        Vec::new()
    }
    /// Managed Docker Swarm services on the engines that are swarm managers.
    async fn swarm_services(&self) -> FleetResult<Vec<SwarmService>> {
        Ok(Vec::new())
    }
    /// One managed swarm service, by name or `host/name`.
    async fn swarm_service(&self, name: &str) -> FleetResult<SwarmService> {
        let all = self.swarm_services().await?;
        let mut hits: Vec<SwarmService> = all
            .into_iter()
            .filter(|s| s.name == name || s.qualified() == name)
            .collect();
        match hits.len() {
            0 => Err(FleetError::NotFound(name.into())),
            1 => Ok(hits.remove(0)),
            _ => Err(FleetError::Ambiguous {
                name: name.into(),
                choices: hits.iter().map(SwarmService::qualified).collect(),
            }),
        }
    }
    /// The containers of a swarm service's running tasks on its engine, named after the
    /// service and carrying the service's labels where the container has none of its own.
    async fn swarm_tasks(&self, _svc: &SwarmService) -> FleetResult<Vec<ContainerDetail>> {
        Ok(Vec::new())
    }
}

/// The operations side: each acts on one resolved, admitted `Target` and makes exactly
/// one engine call (recreate: the few a swap takes). Nothing here checks permissions.
#[async_trait]
pub trait FleetOps: Send + Sync + 'static {
    async fn restart(&self, target: &Target, grace: Duration) -> FleetResult<()>;
    async fn stop(&self, target: &Target, grace: Duration) -> FleetResult<()>;
    async fn start(&self, target: &Target) -> FleetResult<()>;
    async fn kill(&self, target: &Target) -> FleetResult<()>;
    async fn pause(&self, target: &Target) -> FleetResult<()>;
    async fn unpause(&self, target: &Target) -> FleetResult<()>;
    /// Sets the memory limit (and swap with it, so the limit holds).
    async fn set_memory_limit(&self, target: &Target, bytes: i64) -> FleetResult<()>;
    async fn disconnect(&self, target: &Target, network: &str) -> FleetResult<()>;
    async fn connect(
        &self,
        target: &Target,
        network: &str,
        aliases: Vec<String>,
    ) -> FleetResult<()>;
    /// Recreates the container from the same image with a new SERVICE_VERSION, keeping its
    /// name, ports, labels, limits, health check, restart policy and networks.
    async fn recreate(&self, target: &Target, change: &Recreate) -> FleetResult<ContainerDetail>;
    /// Asks swarm to roll out `change` on a managed service (one inspect, one update).
    async fn update_swarm(&self, svc: &SwarmService, _change: &SwarmChange) -> FleetResult<()> {
        Err(FleetError::Failed(format!(
            "{} is a swarm service, and this fleet cannot update swarm services",
            svc.name
        )))
    }
}

/// Both sides of a fleet in one object (the server hands them out separately).
pub trait Fleet: FleetRead + FleetOps {}
impl<T: FleetRead + FleetOps> Fleet for T {}

/// The fleet of these engines: one engine directly, several through `Hosts`.
pub fn connect(mut specs: Vec<HostSpec>) -> std::sync::Arc<dyn Fleet> {
    if specs.len() <= 1 {
        let spec = specs.pop().unwrap_or_else(HostSpec::local);
        return std::sync::Arc::new(DockerFleet::on(spec));
    }
    std::sync::Arc::new(Hosts::new(specs))
}
