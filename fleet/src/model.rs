//! The fleet's records: a container as listed and as inspected, a resolved `Target` that
//! operations act on, log lines, and the change a recreate makes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{REGION_LABEL, ROLE_LABEL};

/// A managed container as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerInfo {
    /// The service name (label `quantumstate.service`, else the container name).
    pub name: String,
    pub container_name: String,
    /// Short container id (12 hex).
    pub id: String,
    /// The Docker engine it runs on (`local` with one engine).
    pub host: String,
    /// Where the engine's published ports are reached from here.
    #[serde(default = "loopback")]
    pub address: String,
    /// Set when its engine does not answer: why (the record is the last one listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    /// Docker state: running, exited, paused, restarting, created, dead.
    pub state: String,
    pub image: String,
    pub role: String,
    pub labels: BTreeMap<String, String>,
    /// The host port Docker publishes (on `address`) for the container's first exposed port.
    pub host_port: Option<u16>,
    /// The container's own port (from PORT in its env, else its first exposed port).
    pub container_port: Option<u16>,
}

fn loopback() -> String {
    "127.0.0.1".into()
}

impl ContainerInfo {
    /// The region from the `quantumstate.region` label, if the container has one.
    pub fn region(&self) -> Option<&str> {
        self.labels.get(REGION_LABEL).map(String::as_str)
    }

    /// The names people use for the service: the `quantumstate.aliases` label (a comma
    /// list, e.g. `payments,billing`) and its role when that says more than `service`
    /// (`cache`). Lower-cased, without blanks or duplicates.
    pub fn aliases(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let label = self.labels.get(crate::ALIASES_LABEL).map(String::as_str);
        let role = self.labels.get(ROLE_LABEL).map(String::as_str);
        let role = role.filter(|r| !matches!(*r, "service" | "infra"));
        for a in label.into_iter().flat_map(|l| l.split(',')).chain(role) {
            let a = a.trim().to_lowercase();
            if !a.is_empty() && a.len() <= 64 && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// True for a cache role (`quantumstate.role=cache`).
    pub fn is_cache(&self) -> bool {
        self.labels.get(ROLE_LABEL).map(String::as_str) == Some("cache")
    }
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

impl ContainerDetail {
    /// The value of `NAME=` in the container's environment.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(prefix.as_str()))
    }

    /// Host names from `DEPENDS_ON` (comma-separated base URLs), in order.
    pub fn depends_on_hosts(&self) -> Vec<String> {
        self.env_var("DEPENDS_ON")
            .unwrap_or("")
            .split(',')
            .filter_map(|u| {
                let u = u.trim();
                let rest = u.split("://").nth(1).unwrap_or(u);
                let host = rest.split(['/', ':']).next().unwrap_or("").trim();
                (!host.is_empty()).then(|| host.to_string())
            })
            .collect()
    }

    /// Versions the service itself declares defective (`DEFECTIVE_VERSIONS`).
    pub fn defective_versions(&self) -> Vec<String> {
        self.env_var("DEFECTIVE_VERSIONS")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The resolved handle operations act on.
    pub fn target(&self) -> Target {
        Target {
            host: self.info.host.clone(),
            service: self.info.name.clone(),
            container_name: self.info.container_name.clone(),
            id: self.info.id.clone(),
        }
    }
}

/// One container, resolved once: operations act on its id, never on a name looked up again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    pub host: String,
    pub service: String,
    pub container_name: String,
    /// Short container id.
    pub id: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(env: &[&str]) -> ContainerDetail {
        ContainerDetail {
            info: ContainerInfo {
                name: "auth-service".into(),
                container_name: "auth-service".into(),
                id: "abc".into(),
                host: "local".into(),
                address: loopback(),
                unreachable: None,
                state: "running".into(),
                image: "qs".into(),
                role: "service".into(),
                labels: BTreeMap::new(),
                host_port: None,
                container_port: None,
            },
            started_at: None,
            finished_at: None,
            docker_health: None,
            running: true,
            paused: false,
            exit_code: None,
            oom_killed: false,
            docker_restart_count: 0,
            version: None,
            memory_limit_bytes: None,
            networks: vec![],
            env: env.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn reads_dependencies_and_defects_from_the_environment() {
        let d = detail(&[
            "DEPENDS_ON=http://auth-cache:6379, payment-service:8001/x",
            "DEFECTIVE_VERSIONS=3.5.0, 4.0.0,",
        ]);
        assert_eq!(d.depends_on_hosts(), vec!["auth-cache", "payment-service"]);
        assert_eq!(d.defective_versions(), vec!["3.5.0", "4.0.0"]);
        assert!(detail(&[]).depends_on_hosts().is_empty());
    }
}
