//! The fleet on one real Docker engine through bollard: connects lazily (and again after
//! the daemon comes back), negotiates the API version, bounds every call by a timeout fit
//! for its operation, and resolves service names to managed containers only.
//!
//! Every engine call passes `DockerFleet::call`, which can keep a log of them (`ApiCall`)
//! so tests can count exactly what one tool call costs.

mod convert;
mod ops;
mod read;
mod recreate;
mod swarm;
mod swarm_ops;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::stats::CpuSample;
use crate::{ContainerInfo, FleetError, FleetResult, HostSpec, MANAGED_LABEL, ROLE_LABEL};
use convert::{connect, map_err, summary_to_info};

/// How long `list_cached` reuses a listing.
const LIST_TTL: Duration = Duration::from_secs(3);
/// Timeout of a listing or an inspect: a healthy daemon answers in milliseconds.
const QUICK: Duration = Duration::from_secs(5);
/// The most calls the call log keeps.
const MAX_LOGGED: usize = 10_000;

/// One engine API call, as the call log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    /// e.g. `list_containers`, `inspect_container`, `restart_container`.
    pub op: &'static str,
}

/// The bollard-backed fleet of one engine.
pub struct DockerFleet {
    spec: HostSpec,
    client: tokio::sync::Mutex<Option<Docker>>,
    cache: Mutex<Option<(Instant, Vec<ContainerInfo>)>>,
    cpu: Mutex<HashMap<String, CpuSample>>,
    log: Mutex<Option<Vec<ApiCall>>>,
}

impl DockerFleet {
    /// `endpoint`: `unix:///path`, `tcp://host:port`, a bare socket path, or None for
    /// `DOCKER_HOST` / the default socket. The host is named `local`.
    pub fn new(endpoint: Option<String>) -> DockerFleet {
        DockerFleet::on(HostSpec {
            endpoint: endpoint.filter(|h| !h.trim().is_empty()),
            ..HostSpec::local()
        })
    }

    /// The engine `spec` names (its name is the `host` of every container it lists).
    pub fn on(spec: HostSpec) -> DockerFleet {
        DockerFleet {
            spec,
            client: tokio::sync::Mutex::new(None),
            cache: Mutex::new(None),
            cpu: Mutex::new(HashMap::new()),
            log: Mutex::new(None),
        }
    }

    /// Starts keeping a log of every engine call (bounded), dropping any earlier one.
    pub fn record_calls(&self) {
        *self.log.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    }

    /// The calls logged since `record_calls` (or the last `take_calls`).
    pub fn take_calls(&self) -> Vec<ApiCall> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    async fn docker(&self) -> FleetResult<Docker> {
        let mut slot = self.client.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = connect(&self.spec).map_err(map_err)?;
        let d = tokio::time::timeout(QUICK, d.negotiate_version())
            .await
            .map_err(|_| {
                FleetError::Unavailable(format!(
                    "the Docker daemon did not answer within {} s",
                    QUICK.as_secs()
                ))
            })?
            .map_err(map_err)?;
        *slot = Some(d.clone());
        Ok(d)
    }

    /// Runs one engine call within `limit`, logging it; drops the client after a
    /// transport failure so the next call reconnects (the daemon may come back on a new
    /// socket), and the cached listing after a 404 (it may name a replaced container).
    async fn call<T, F, Fut>(&self, op: &'static str, limit: Duration, f: F) -> FleetResult<T>
    where
        F: FnOnce(Docker) -> Fut,
        Fut: std::future::Future<Output = Result<T, DockerError>>,
    {
        if let Some(log) = self.log.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
            && log.len() < MAX_LOGGED
        {
            log.push(ApiCall { op });
        }
        let d = self.docker().await?;
        let outcome = match tokio::time::timeout(limit, f(d)).await {
            Ok(r) => r.map_err(map_err),
            Err(_) => Err(FleetError::Unavailable(format!(
                "the Docker daemon did not answer {op} within {} s",
                limit.as_secs()
            ))),
        };
        if let Err(e) = &outcome {
            match e {
                FleetError::Unavailable(_) => *self.client.lock().await = None,
                FleetError::NotFound(_) => self.forget_listing(),
                _ => {}
            }
        }
        outcome
    }

    fn forget_listing(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn list_managed(&self) -> FleetResult<Vec<ContainerInfo>> {
        let filters = HashMap::from([("label", vec![format!("{MANAGED_LABEL}=true")])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .call("list_containers", QUICK, |d| async move {
                d.list_containers(Some(opts)).await
            })
            .await?;
        let mut out: Vec<ContainerInfo> = list
            .iter()
            .map(|c| summary_to_info(&self.spec, c))
            .filter(|c| c.role != "infra")
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), out.clone()));
        Ok(out)
    }

    fn cached_listing(&self) -> Option<Vec<ContainerInfo>> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() < LIST_TTL)
            .map(|(_, list)| list.clone())
    }

    /// The managed container a name refers to (service, container name or id prefix),
    /// from the cached listing when it is fresh; a container that exists but is not
    /// managed is refused naming the label.
    async fn resolve(&self, service: &str) -> FleetResult<ContainerInfo> {
        let list = match self.cached_listing() {
            Some(l) => l,
            None => self.list_managed().await?,
        };
        if let Some(c) = find(&list, service) {
            return Ok(c);
        }
        let name = service.to_string();
        let inspected = self
            .call("inspect_container", QUICK, |d| async move {
                d.inspect_container(&name, None).await
            })
            .await;
        match inspected {
            Ok(i) => {
                let labels = i
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default();
                if labels.get(MANAGED_LABEL).map(String::as_str) == Some("true")
                    && labels.get(ROLE_LABEL).map(String::as_str) != Some("infra")
                {
                    // Managed, but newer than the cached listing: list again.
                    let fresh = self.list_managed().await?;
                    let id = i.id.clone().unwrap_or_default();
                    if let Some(c) = fresh.iter().find(|c| id.starts_with(&c.id)) {
                        return Ok(c.clone());
                    }
                }
                let why = if labels.get(ROLE_LABEL).map(String::as_str) == Some("infra") {
                    format!(
                        "it is labelled {ROLE_LABEL}=infra (QuantumState's own containers are never targets)"
                    )
                } else {
                    format!("it lacks the label {MANAGED_LABEL}=true")
                };
                Err(FleetError::NotManaged {
                    name: service.into(),
                    why,
                })
            }
            Err(FleetError::NotFound(_)) => Err(FleetError::NotFound(service.into())),
            Err(e) => Err(e),
        }
    }
}

/// The container `name` names in a listing: its service name, its container name, or a
/// prefix (at least 4 hex digits) of its id.
fn find(list: &[ContainerInfo], name: &str) -> Option<ContainerInfo> {
    let by_id = name.len() >= 4 && name.chars().all(|c| c.is_ascii_hexdigit());
    list.iter()
        .find(|c| c.name == name || c.container_name == name)
        .or_else(|| {
            by_id
                .then(|| {
                    list.iter()
                        .find(|c| c.id.starts_with(name) || name.starts_with(c.id.as_str()))
                })
                .flatten()
        })
        .cloned()
}
