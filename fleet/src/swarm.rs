//! Docker Swarm services as the fleet sees them: on an engine that is a swarm manager,
//! services labelled `quantumstate.managed=true`, with their replicas and their tasks per
//! node. Read side only for now.

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
    /// Tasks that are meant to run, by node.
    pub tasks_per_node: BTreeMap<String, u64>,
    pub tasks: Vec<SwarmTask>,
    pub labels: BTreeMap<String, String>,
}

impl SwarmService {
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
