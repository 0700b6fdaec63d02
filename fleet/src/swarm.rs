//! Docker Swarm services as the fleet sees them: on an engine that is a swarm manager,
//! services labelled `quantumstate.managed=true`, with their replicas and their tasks per
//! node — and the changes swarm itself rolls out (`SwarmChange`): a forced update (rolling
//! restart), a new version, a replica count, or its own rollback to the previous spec.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

/// One task (replica) of a swarm service.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SwarmTask {
    pub id: String,
    /// The replica's slot (replicated services).
    pub slot: Option<i64>,
    /// The node's hostname (its id when the node is not known).
    pub node: String,
    /// Swarm's task state: new, pending, assigned, accepted, preparing, starting, running,
    /// complete, shutdown, failed, rejected, remove, orphaned.
    pub state: String,
    pub desired_state: String,
    pub container_id: Option<String>,
    /// Swarm's error or status message, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A managed swarm service.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SwarmService {
    /// Label `quantumstate.service`, else the service's name.
    pub name: String,
    /// The swarm manager's engine.
    pub host: String,
    pub id: String,
    pub image: String,
    /// SERVICE_VERSION in its task template, when set.
    pub version: Option<String>,
    /// `replicated` or `global`.
    pub mode: String,
    /// Replicas swarm wants running (`desired_tasks`).
    pub desired: u64,
    /// Replicas running now.
    pub running: u64,
    /// How many replicas an update replaces at a time (its update config; 1 by default).
    pub update_parallelism: u64,
    /// Seconds swarm waits between two batches of an update.
    pub update_delay_seconds: u64,
    /// `stop-first` (a replica stops before its replacement starts) or `start-first`.
    pub update_order: String,
    /// What swarm does when an update fails: pause, continue or rollback.
    pub update_failure_action: String,
    /// Label `quantumstate.previous_version`: the version before QuantumState's last
    /// deploy_version (swarm's rollback returns to that spec).
    pub previous_version: Option<String>,
    /// The last update swarm ran on it, if any.
    pub update_status: Option<UpdateStatus>,
    /// The first port it publishes (routing mesh or `mode=host`), which probes reach its
    /// tasks through on the host's address.
    pub published_port: Option<u16>,
    /// Tasks that are meant to run, by node.
    pub tasks_per_node: BTreeMap<String, u64>,
    pub tasks: Vec<SwarmTask>,
    pub labels: BTreeMap<String, String>,
}

/// Where a service's last update is, as swarm reports it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct UpdateStatus {
    /// updating, paused, completed, rollback_started, rollback_paused, rollback_completed.
    pub state: String,
    pub started_at: Option<String>,
    pub message: Option<String>,
}

impl UpdateStatus {
    /// True once swarm stopped working on it (done, paused or rolled back).
    pub fn settled(&self) -> bool {
        !matches!(self.state.as_str(), "updating" | "rollback_started" | "")
    }
}

/// A change swarm rolls out itself, honouring the service's update config.
#[derive(Debug, Clone, PartialEq)]
pub enum SwarmChange {
    /// Replace every task with the same spec (`docker service update --force`).
    Restart,
    /// Set SERVICE_VERSION to `to`, labelling the service with the version it ran (`from`).
    Version { to: String, from: Option<String> },
    /// The number of replicas wanted (replicated services only).
    Scale(u64),
    /// Swarm's own rollback to the spec before the last update.
    Rollback,
}

impl SwarmService {
    /// `host/name`: how a call names it when the bare name is not enough.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.host, self.name)
    }

    /// `healthy` when every desired replica runs, `degraded` when some do, `down` when
    /// none does (or none is desired).
    pub fn health(&self) -> &'static str {
        match (self.running, self.desired) {
            (0, _) => "down",
            (r, d) if r >= d => "healthy",
            _ => "degraded",
        }
    }
}
