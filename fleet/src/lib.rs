//! The Docker side of QuantumState behind one trait: listing managed containers, their
//! state, stats and logs, and the few operations remediation and chaos need.
//!
//! `DockerFleet` is the bollard implementation; tests substitute their own. Only containers
//! labelled `quantumstate.managed=true` are ever returned or touched.

mod docker;
pub mod probe;
mod stats;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use docker::DockerFleet;
pub use probe::{HealthReport, probe_health};
pub use stats::ContainerStats;

use crate::error::ToolError;

/// The label that makes a container a target.
pub const MANAGED_LABEL: &str = "quantumstate.managed";
/// The label naming the service (else the container name is used).
pub const SERVICE_LABEL: &str = "quantumstate.service";
/// `service`, `cache`, or `infra` (the scraper and server: never targets).
pub const ROLE_LABEL: &str = "quantumstate.role";
/// Set by deploy_version: the version the container ran before.
pub const PREVIOUS_VERSION_LABEL: &str = "quantumstate.previous_version";
/// Set by deploy_version: our restart count survives recreation.
pub const VERSION_LABEL: &str = "quantumstate.version";

/// What can go wrong talking to Docker.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FleetError {
    #[error("Docker is unavailable: {0}")]
    Unavailable(String),
    #[error("no container named {0:?}")]
    NotFound(String),
    #[error("container {name:?} is not managed by QuantumState: {why}")]
    NotManaged { name: String, why: String },
    #[error("{0}")]
    Failed(String),
}

impl From<FleetError> for ToolError {
    fn from(e: FleetError) -> ToolError {
        let msg = e.to_string();
        match e {
            FleetError::Unavailable(_) => ToolError::unavailable(msg).hint(
                "start the Docker daemon (or fix DOCKER_HOST / --docker-host and socket permissions); \
                 the server keeps running and recovers on its own",
            ),
            FleetError::NotFound(_) => ToolError::not_found(msg).hint("call list_services to see the fleet"),
            FleetError::NotManaged { .. } => ToolError::forbidden(msg).hint(
                "QuantumState only acts on containers labelled quantumstate.managed=true (and never on quantumstate.role=infra)",
            ),
            FleetError::Failed(_) => ToolError::failed(msg),
        }
    }
}

pub type FleetResult<T> = Result<T, FleetError>;

/// A managed container as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerInfo {
    /// The service name (label `quantumstate.service`, else the container name).
    pub name: String,
    pub container_name: String,
    /// Short container id (12 hex).
    pub id: String,
    /// Docker state: running, exited, paused, restarting, created, dead.
    pub state: String,
    pub image: String,
    pub role: String,
    pub labels: BTreeMap<String, String>,
    /// The host port Docker publishes on 127.0.0.1 for the container's first exposed port.
    pub host_port: Option<u16>,
    /// The container's own port (from PORT in its env, else its first exposed port).
    pub container_port: Option<u16>,
}

/// Details from `inspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerDetail {
    pub info: ContainerInfo,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Docker's healthcheck status (healthy, unhealthy, starting), if it has one.
    pub docker_health: Option<String>,
    pub running: bool,
    pub paused: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// Docker's own counter (it ignores `docker restart`: see our restart count instead).
    pub docker_restart_count: i64,
    /// SERVICE_VERSION from the environment.
    pub version: Option<String>,
    pub memory_limit_bytes: Option<i64>,
    /// Networks the container is attached to.
    pub networks: Vec<String>,
    pub env: Vec<String>,
}

/// One raw line from `docker logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawLog {
    /// Docker's timestamp (nanosecond precision), the resume point.
    pub at: DateTime<Utc>,
    pub stream: String,
    pub line: String,
}

/// Options for reading logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    pub tail: usize,
    pub since: Option<DateTime<Utc>>,
}

/// How `recreate` changes a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recreate {
    /// New SERVICE_VERSION.
    pub version: String,
    /// Extra labels to set (e.g. the previous version).
    pub labels: BTreeMap<String, String>,
}

/// The fleet: Docker, seen through QuantumState's guardrails.
#[async_trait]
pub trait Fleet: Send + Sync + 'static {
    /// Managed containers, by service name.
    async fn list(&self) -> FleetResult<Vec<ContainerInfo>>;
    /// As `list`, from a cache at most a few seconds old.
    async fn list_cached(&self) -> FleetResult<Vec<ContainerInfo>>;
    /// Inspects a managed container by service name.
    async fn inspect(&self, service: &str) -> FleetResult<ContainerDetail>;
    async fn stats(&self, service: &str) -> FleetResult<ContainerStats>;
    async fn logs(&self, service: &str, opts: LogOptions) -> FleetResult<Vec<RawLog>>;
    /// Follows a container's log from `since` (whole seconds: the caller drops lines at or
    /// before its own cursor). The stream ends when the container stops.
    async fn follow_logs(
        &self,
        service: &str,
        since: Option<DateTime<Utc>>,
    ) -> FleetResult<futures::stream::BoxStream<'static, FleetResult<RawLog>>>;
    async fn restart(&self, service: &str, timeout: Duration) -> FleetResult<()>;
    async fn stop(&self, service: &str, timeout: Duration) -> FleetResult<()>;
    async fn start(&self, service: &str) -> FleetResult<()>;
    async fn kill(&self, service: &str) -> FleetResult<()>;
    async fn pause(&self, service: &str) -> FleetResult<()>;
    async fn unpause(&self, service: &str) -> FleetResult<()>;
    /// Sets the memory limit (and swap to the same, so the limit holds).
    async fn set_memory_limit(&self, service: &str, bytes: i64) -> FleetResult<()>;
    async fn disconnect(&self, service: &str, network: &str) -> FleetResult<()>;
    async fn connect(&self, service: &str, network: &str, aliases: Vec<String>) -> FleetResult<()>;
    /// Recreates the container from the same image with a new SERVICE_VERSION, keeping its
    /// name, ports, labels, limits, health check, restart policy and networks.
    async fn recreate(&self, service: &str, change: &Recreate) -> FleetResult<ContainerDetail>;
    /// A description of the Docker endpoint for health output.
    fn describe(&self) -> String;
}
