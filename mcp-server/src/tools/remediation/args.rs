//! The arguments of the remediation tools: typed, documented (each field's doc is what
//! the model reads in the schema), and strict (unknown fields are refused).

use quantumstate_store::ActionKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartArgs {
    pub service: String,
    /// Wait until it answers healthy again (default true).
    #[serde(default)]
    pub wait_healthy: Option<bool>,
    /// How long to wait for health, 5–300 s (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// The plan_id of the matching dry run (required when the server runs with --require-plan).
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopStartArgs {
    pub service: String,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// The plan_id of the matching dry run.
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    pub service: String,
    /// The SERVICE_VERSION to run, e.g. 1.1.0.
    pub version: String,
    /// Why (recorded with the deployment).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    pub service: String,
    /// The version to return to; default the one it ran before the last deployment.
    #[serde(default)]
    pub to_version: Option<String>,
    /// Why (recorded with the deployment).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartDependencyArgs {
    /// The service whose dependency misbehaves, e.g. auth-service.
    pub service: String,
    /// Which dependency to restart (e.g. auth-cache); default its only one, or its only unhealthy one.
    #[serde(default)]
    pub dependency: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleCacheArgs {
    /// The new memory limit in MB, 64–2048, above the current one.
    pub memory_mb: i64,
    /// The cache container (default auth-cache).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleServiceArgs {
    /// The swarm service (list_services shows swarm_services).
    pub service: String,
    /// Replicas wanted, 1–20.
    pub replicas: i64,
    /// Seconds to wait until that many run, 5–300 (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediateArgs {
    pub service: String,
    /// What to run, as the tool of the same name would.
    pub action: ActionKind,
    /// The incident this remediates, if recorded.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// memory_mb for scale_cache.
    #[serde(default)]
    pub memory_mb: Option<i64>,
    /// to_version for rollback_deployment.
    #[serde(default)]
    pub to_version: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionArgs {
    /// The exec_id remediate returned.
    pub exec_id: String,
}
