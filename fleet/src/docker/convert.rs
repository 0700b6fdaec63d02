//! Translating between bollard and the fleet's records: connecting to an endpoint,
//! Docker errors in an operator's words, listings and inspections as `ContainerInfo` and
//! `ContainerDetail`.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use chrono::{DateTime, Utc};

use crate::{ContainerDetail, ContainerInfo, FleetError, HostSpec, ROLE_LABEL, SERVICE_LABEL};

/// The client's own timeout: longer than any single call's bound in `DockerFleet::call`.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) fn connect(spec: &HostSpec) -> Result<Docker, DockerError> {
    let secs = CALL_TIMEOUT.as_secs();
    let version = bollard::API_DEFAULT_VERSION;
    let d = match (spec.endpoint.as_deref(), &spec.tls) {
        (Some(h), Some(tls)) => {
            Docker::connect_with_ssl(h, &tls.key, &tls.cert, &tls.ca, secs, version)?
        }
        (Some(h), None) if h.starts_with("tcp://") || h.starts_with("http://") => {
            Docker::connect_with_http(h, secs, version)?
        }
        (Some(h), None) => {
            Docker::connect_with_socket(h.strip_prefix("unix://").unwrap_or(h), secs, version)?
        }
        (None, _) => match std::env::var("DOCKER_HOST") {
            Ok(h) if !h.is_empty() => Docker::connect_with_defaults()?,
            _ => Docker::connect_with_socket("/var/run/docker.sock", secs, version)?,
        },
    };
    Ok(d.with_timeout(CALL_TIMEOUT))
}

/// Docker errors in words an operator acts on.
pub(super) fn map_err(e: DockerError) -> FleetError {
    let mut kind = None;
    let mut src = std::error::Error::source(&e);
    while let Some(x) = src {
        if let Some(io) = x.downcast_ref::<std::io::Error>() {
            kind = Some(io.kind());
        }
        src = x.source();
    }
    match &e {
        DockerError::SocketNotFoundError(p) => {
            FleetError::Unavailable(format!("the Docker socket {p} does not exist (is the daemon running?)"))
        }
        DockerError::HyperLegacyError { .. } | DockerError::IOError { .. } => FleetError::Unavailable(match kind {
            Some(std::io::ErrorKind::PermissionDenied) => {
                "permission denied on the Docker socket (run as a user in the docker group, or mount the socket)".into()
            }
            Some(std::io::ErrorKind::ConnectionRefused) => "the Docker daemon is not listening (stopped or crashed)".into(),
            Some(std::io::ErrorKind::NotFound) => "the Docker socket disappeared (daemon stopped?)".into(),
            _ => format!("cannot talk to the Docker daemon: {e}"),
        }),
        DockerError::RequestTimeoutError => FleetError::Unavailable("the Docker daemon did not answer in time".into()),
        DockerError::DockerResponseServerError { status_code: 404, message } => FleetError::NotFound(message.clone()),
        DockerError::DockerResponseServerError { status_code, message } => {
            FleetError::Failed(format!("Docker refused ({status_code}): {message}"))
        }
        other => FleetError::Failed(format!("Docker error: {other}")),
    }
}

/// A port as listed: the container's port and where Docker publishes it, if anywhere.
struct Port {
    private: u16,
    public: Option<u16>,
    ip: Option<String>,
}

/// The record of a managed container, from what a listing or an inspection tells.
fn info_from(
    host: &HostSpec,
    container_name: String,
    id: &str,
    state: String,
    image: String,
    labels: BTreeMap<String, String>,
    ports: &[Port],
) -> ContainerInfo {
    let name = labels
        .get(SERVICE_LABEL)
        .cloned()
        .unwrap_or_else(|| container_name.clone());
    let role = labels
        .get(ROLE_LABEL)
        .cloned()
        .unwrap_or_else(|| "service".into());
    let published = ports
        .iter()
        .filter(|p| p.public.is_some())
        .min_by_key(|p| (p.ip.as_deref() != Some("127.0.0.1"), p.private));
    let container_port = published
        .map(|p| p.private)
        .or_else(|| ports.iter().map(|p| p.private).min());
    ContainerInfo {
        name,
        container_name,
        id: id.chars().take(12).collect(),
        host: host.name.clone(),
        address: host.address.clone(),
        unreachable: None,
        state,
        image,
        role,
        labels,
        host_port: published.and_then(|p| p.public),
        container_port,
    }
}

pub(super) fn summary_to_info(host: &HostSpec, c: &ContainerSummary) -> ContainerInfo {
    let container_name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let ports: Vec<Port> = c
        .ports
        .iter()
        .flatten()
        .map(|p| Port {
            private: p.private_port,
            public: p.public_port,
            ip: p.ip.clone(),
        })
        .collect();
    info_from(
        host,
        container_name,
        c.id.as_deref().unwrap_or(""),
        c.state
            .map(|s| s.to_string().to_lowercase())
            .unwrap_or_else(|| "unknown".into()),
        c.image.clone().unwrap_or_default(),
        c.labels.clone().unwrap_or_default().into_iter().collect(),
        &ports,
    )
}

/// The listing record of an inspected container (its ports as Docker publishes them now).
pub(super) fn summary_from_inspect(host: &HostSpec, i: &ContainerInspectResponse) -> ContainerInfo {
    let mut ports = Vec::new();
    let map = i.network_settings.as_ref().and_then(|n| n.ports.as_ref());
    for (spec, bindings) in map.into_iter().flatten() {
        let Some(private) = spec.split('/').next().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let bound: Vec<_> = bindings.iter().flatten().collect();
        if bound.is_empty() {
            ports.push(Port {
                private,
                public: None,
                ip: None,
            });
        }
        for b in bound {
            ports.push(Port {
                private,
                public: b.host_port.as_deref().and_then(|p| p.parse().ok()),
                ip: b.host_ip.clone(),
            });
        }
    }
    let config = i.config.clone().unwrap_or_default();
    info_from(
        host,
        i.name
            .clone()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        i.id.as_deref().unwrap_or(""),
        i.state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string().to_lowercase())
            .unwrap_or_else(|| "unknown".into()),
        config.image.unwrap_or_default(),
        config.labels.unwrap_or_default().into_iter().collect(),
        &ports,
    )
}

pub(super) fn docker_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?;
    if s.starts_with("0001-") {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub(super) fn detail(info: ContainerInfo, i: &ContainerInspectResponse) -> ContainerDetail {
    let st = i.state.clone().unwrap_or_default();
    let env = i
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default();
    let version = env
        .iter()
        .find_map(|e| e.strip_prefix("SERVICE_VERSION=").map(str::to_string));
    let mut networks: Vec<String> = i
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    let container_port = env
        .iter()
        .find_map(|e| e.strip_prefix("PORT=").and_then(|p| p.parse().ok()))
        .or(info.container_port);
    ContainerDetail {
        info: ContainerInfo {
            container_port,
            ..info
        },
        started_at: docker_time(st.started_at.as_deref()),
        finished_at: docker_time(st.finished_at.as_deref()),
        docker_health: st
            .health
            .as_ref()
            .and_then(|h| h.status)
            .map(|s| s.to_string().to_lowercase()),
        running: st.running.unwrap_or(false) && !st.paused.unwrap_or(false),
        paused: st.paused.unwrap_or(false),
        exit_code: st.exit_code,
        oom_killed: st.oom_killed.unwrap_or(false),
        docker_restart_count: i.restart_count.unwrap_or(0),
        version,
        memory_limit_bytes: i
            .host_config
            .as_ref()
            .and_then(|h| h.memory)
            .filter(|m| *m > 0),
        networks,
        env,
    }
}
