//! `Fleet` on a real Docker daemon through bollard: connects lazily (and again after the
//! daemon comes back), negotiates the API version, and resolves service names to managed
//! containers only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ContainerUpdateBody,
    EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RenameContainerOptions,
    RestartContainerOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::stats::{self, CpuSample};
use super::*;

/// How long `list_cached` reuses a listing.
const LIST_TTL: Duration = Duration::from_secs(3);
/// Client timeout for one Docker call: longer than any stop/restart grace period we use.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest log read we return in one call.
const MAX_LOG_LINES: usize = 5_000;

/// The bollard-backed fleet.
pub struct DockerFleet {
    host: Option<String>,
    client: tokio::sync::Mutex<Option<Docker>>,
    cache: Mutex<Option<(Instant, Vec<ContainerInfo>)>>,
    cpu: Mutex<HashMap<String, CpuSample>>,
}

impl DockerFleet {
    /// `host`: `unix:///path`, `tcp://host:port`, a bare socket path, or None for
    /// `DOCKER_HOST` / the default socket.
    pub fn new(host: Option<String>) -> DockerFleet {
        DockerFleet {
            host: host.filter(|h| !h.trim().is_empty()),
            client: tokio::sync::Mutex::new(None),
            cache: Mutex::new(None),
            cpu: Mutex::new(HashMap::new()),
        }
    }

    async fn docker(&self) -> FleetResult<Docker> {
        let mut slot = self.client.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = connect(self.host.as_deref()).map_err(map_err)?;
        let d = tokio::time::timeout(Duration::from_secs(5), d.negotiate_version())
            .await
            .map_err(|_| {
                FleetError::Unavailable("the Docker daemon did not answer within 5 s".into())
            })?
            .map_err(map_err)?;
        *slot = Some(d.clone());
        Ok(d)
    }

    /// Runs a Docker call, dropping the client after a transport failure so the next call
    /// reconnects (the daemon may come back on a new socket).
    async fn call<T, F, Fut>(&self, f: F) -> FleetResult<T>
    where
        F: FnOnce(Docker) -> Fut,
        Fut: std::future::Future<Output = Result<T, DockerError>>,
    {
        let d = self.docker().await?;
        match f(d).await {
            Ok(v) => Ok(v),
            Err(e) => {
                let err = map_err(e);
                match err {
                    FleetError::Unavailable(_) => *self.client.lock().await = None,
                    // The cached listing may name a container that was replaced.
                    FleetError::NotFound(_) => {
                        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None
                    }
                    _ => {}
                }
                Err(err)
            }
        }
    }

    async fn list_managed(&self) -> FleetResult<Vec<ContainerInfo>> {
        let filters = HashMap::from([("label", vec![format!("{MANAGED_LABEL}=true")])]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .call(|d| async move { d.list_containers(Some(opts)).await })
            .await?;
        let mut out: Vec<ContainerInfo> = list
            .iter()
            .map(summary_to_info)
            .filter(|c| c.role != "infra")
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), out.clone()));
        Ok(out)
    }

    /// The managed container a service name refers to; a container that exists but is not
    /// managed is refused naming the label.
    async fn resolve(&self, service: &str) -> FleetResult<ContainerInfo> {
        let list = self.list_managed().await?;
        if let Some(c) = list
            .into_iter()
            .find(|c| c.name == service || c.container_name == service)
        {
            return Ok(c);
        }
        let name = service.to_string();
        match self
            .call(|d| async move { d.inspect_container(&name, None).await })
            .await
        {
            Ok(i) => {
                let labels = i
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default();
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

    async fn inspect_id(&self, id: &str) -> FleetResult<ContainerInspectResponse> {
        let id = id.to_string();
        self.call(|d| async move { d.inspect_container(&id, None).await })
            .await
    }

    async fn one_shot(&self, id: &str) -> FleetResult<bollard::models::ContainerStatsResponse> {
        let id = id.to_string();
        self.call(|d| async move {
            let o = StatsOptionsBuilder::new()
                .stream(false)
                .one_shot(true)
                .build();
            match d.stats(&id, Some(o)).next().await {
                Some(r) => r,
                None => Err(DockerError::DockerResponseServerError {
                    status_code: 500,
                    message: "the daemon returned no stats".into(),
                }),
            }
        })
        .await
    }
}

fn connect(host: Option<&str>) -> Result<Docker, DockerError> {
    let d = match host {
        Some(h) if h.starts_with("tcp://") || h.starts_with("http://") => {
            Docker::connect_with_http(h, CALL_TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION)?
        }
        Some(h) => {
            let path = h.strip_prefix("unix://").unwrap_or(h);
            Docker::connect_with_socket(path, CALL_TIMEOUT.as_secs(), bollard::API_DEFAULT_VERSION)?
        }
        None => match std::env::var("DOCKER_HOST") {
            Ok(h) if !h.is_empty() => Docker::connect_with_defaults()?,
            _ => Docker::connect_with_socket(
                "/var/run/docker.sock",
                CALL_TIMEOUT.as_secs(),
                bollard::API_DEFAULT_VERSION,
            )?,
        },
    };
    Ok(d.with_timeout(CALL_TIMEOUT))
}

/// Docker errors in words an operator acts on.
fn map_err(e: DockerError) -> FleetError {
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

fn summary_to_info(c: &ContainerSummary) -> ContainerInfo {
    let container_name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let labels: BTreeMap<String, String> =
        c.labels.clone().unwrap_or_default().into_iter().collect();
    let name = labels
        .get(SERVICE_LABEL)
        .cloned()
        .unwrap_or_else(|| container_name.clone());
    let role = labels
        .get(ROLE_LABEL)
        .cloned()
        .unwrap_or_else(|| "service".into());
    let ports = c.ports.clone().unwrap_or_default();
    let published = ports
        .iter()
        .filter(|p| p.public_port.is_some())
        .min_by_key(|p| (p.ip.as_deref() != Some("127.0.0.1"), p.private_port));
    let container_port = published
        .map(|p| p.private_port)
        .or_else(|| ports.iter().map(|p| p.private_port).min());
    ContainerInfo {
        name,
        container_name,
        id: c.id.as_deref().unwrap_or("").chars().take(12).collect(),
        state: c
            .state
            .map(|s| s.to_string().to_lowercase())
            .unwrap_or_else(|| "unknown".into()),
        image: c.image.clone().unwrap_or_default(),
        role,
        labels,
        host_port: published.and_then(|p| p.public_port),
        container_port,
    }
}

fn docker_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let s = s?;
    if s.starts_with("0001-") {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn detail(info: ContainerInfo, i: &ContainerInspectResponse) -> ContainerDetail {
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

#[async_trait]
impl Fleet for DockerFleet {
    async fn list(&self) -> FleetResult<Vec<ContainerInfo>> {
        self.list_managed().await
    }

    async fn list_cached(&self) -> FleetResult<Vec<ContainerInfo>> {
        if let Some((at, list)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && at.elapsed() < LIST_TTL
        {
            return Ok(list.clone());
        }
        self.list_managed().await
    }

    async fn inspect(&self, service: &str) -> FleetResult<ContainerDetail> {
        let info = self.resolve(service).await?;
        let i = self.inspect_id(&info.id).await?;
        let state = i
            .state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string().to_lowercase())
            .unwrap_or_else(|| info.state.clone());
        Ok(detail(ContainerInfo { state, ..info }, &i))
    }

    async fn stats(&self, service: &str) -> FleetResult<ContainerStats> {
        let info = self.resolve(service).await?;
        let now = self.one_shot(&info.id).await?;
        let fresh = CpuSample::of(&now, Instant::now());
        let prev = self
            .cpu
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&info.id)
            .cloned();
        // One-shot stats carry no previous sample on API 1.41: use ours, or take a second
        // sample half a second later.
        let (prev, cur, raw) = match (prev, fresh) {
            (Some(p), Some(c))
                if c.at.duration_since(p.at) < Duration::from_secs(60) && c.at > p.at =>
            {
                (Some(p), Some(c), now)
            }
            (_, Some(c)) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let again = self.one_shot(&info.id).await?;
                let c2 = CpuSample::of(&again, Instant::now());
                (Some(c), c2, again)
            }
            (_, None) => (None, None, now),
        };
        if let Some(c) = &cur {
            self.cpu
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(info.id.clone(), c.clone());
        }
        Ok(stats::compute(&info, &raw, prev.as_ref(), cur.as_ref()))
    }

    async fn logs(&self, service: &str, opts: LogOptions) -> FleetResult<Vec<RawLog>> {
        let info = self.resolve(service).await?;
        let tail = opts.tail.clamp(1, MAX_LOG_LINES);
        let since = opts
            .since
            .map(|t| t.timestamp().clamp(0, i32::MAX as i64) as i32)
            .unwrap_or(0);
        let id = info.id.clone();
        self.call(|d| async move {
            let o = LogsOptionsBuilder::new()
                .stdout(true)
                .stderr(true)
                .timestamps(true)
                .since(since)
                .tail(&tail.to_string())
                .build();
            let mut s = d.logs(&id, Some(o));
            let mut out = Vec::new();
            while let Some(item) = s.next().await {
                let item = item?;
                let stream = match &item {
                    bollard::container::LogOutput::StdErr { .. } => "stderr",
                    _ => "stdout",
                };
                let text = String::from_utf8_lossy(item.as_ref()).to_string();
                let (ts, line) = text.split_once(' ').unwrap_or(("", text.as_str()));
                let Some(at) = docker_time(Some(ts)) else {
                    continue;
                };
                out.push(RawLog {
                    at,
                    stream: stream.into(),
                    line: line.trim_end().to_string(),
                });
                if out.len() >= MAX_LOG_LINES {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn follow_logs(
        &self,
        service: &str,
        since: Option<DateTime<Utc>>,
    ) -> FleetResult<futures::stream::BoxStream<'static, FleetResult<RawLog>>> {
        let info = self.resolve(service).await?;
        let d = self.docker().await?;
        let since = since
            .map(|t| t.timestamp().clamp(0, i32::MAX as i64) as i32)
            .unwrap_or(0);
        let o = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .since(since)
            .tail(if since > 0 { "all" } else { "200" })
            .build();
        let stream = d.logs(&info.id, Some(o)).filter_map(|item| async move {
            match item {
                Err(e) => Some(Err(map_err(e))),
                Ok(out) => {
                    let stream = match &out {
                        bollard::container::LogOutput::StdErr { .. } => "stderr",
                        _ => "stdout",
                    };
                    let text = String::from_utf8_lossy(out.as_ref()).to_string();
                    let (ts, line) = text.split_once(' ').unwrap_or(("", text.as_str()));
                    let at = docker_time(Some(ts))?;
                    Some(Ok(RawLog {
                        at,
                        stream: stream.into(),
                        line: line.trim_end().to_string(),
                    }))
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn restart(&self, service: &str, timeout: Duration) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        let t = timeout.as_secs().min(120) as i32;
        self.call(|d| async move {
            d.restart_container(
                &info.id,
                Some(RestartContainerOptionsBuilder::new().t(t).build()),
            )
            .await
        })
        .await
    }

    async fn stop(&self, service: &str, timeout: Duration) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        let t = timeout.as_secs().min(120) as i32;
        self.call(|d| async move {
            d.stop_container(
                &info.id,
                Some(StopContainerOptionsBuilder::new().t(t).build()),
            )
            .await
        })
        .await
    }

    async fn start(&self, service: &str) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        self.call(|d| async move { d.start_container(&info.id, None).await })
            .await
    }

    async fn kill(&self, service: &str) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        self.call(|d| async move {
            d.kill_container(
                &info.id,
                Some(KillContainerOptionsBuilder::new().signal("SIGKILL").build()),
            )
            .await
        })
        .await
    }

    async fn pause(&self, service: &str) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        self.call(|d| async move { d.pause_container(&info.id).await })
            .await
    }

    async fn unpause(&self, service: &str) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        self.call(|d| async move { d.unpause_container(&info.id).await })
            .await
    }

    async fn set_memory_limit(&self, service: &str, bytes: i64) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        // Swap travels with memory (cgroup v1 refuses a limit above the current swap limit);
        // twice the memory is what Docker sets on create.
        let body = ContainerUpdateBody {
            memory: Some(bytes),
            memory_swap: Some(bytes.saturating_mul(2)),
            ..Default::default()
        };
        self.call(|d| async move { d.update_container(&info.id, body).await })
            .await
    }

    async fn disconnect(&self, service: &str, network: &str) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        let net = network.to_string();
        self.call(|d| async move {
            d.disconnect_network(
                &net,
                NetworkDisconnectRequest {
                    container: info.id.clone(),
                    force: Some(true),
                },
            )
            .await
        })
        .await
    }

    async fn connect(&self, service: &str, network: &str, aliases: Vec<String>) -> FleetResult<()> {
        let info = self.resolve(service).await?;
        let net = network.to_string();
        let ep = EndpointSettings {
            aliases: (!aliases.is_empty()).then_some(aliases),
            ..Default::default()
        };
        self.call(|d| async move {
            d.connect_network(
                &net,
                NetworkConnectRequest {
                    container: info.id.clone(),
                    endpoint_config: Some(ep),
                },
            )
            .await
        })
        .await
    }

    async fn recreate(&self, service: &str, change: &Recreate) -> FleetResult<ContainerDetail> {
        let info = self.resolve(service).await?;
        let old = self.inspect_id(&info.id).await?;
        let new_id = self.call(|d| recreate(d, old, change.clone())).await?;
        let i = self.inspect_id(&new_id).await?;
        let state = i
            .state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string().to_lowercase())
            .unwrap_or_default();
        let labels: BTreeMap<String, String> = i
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
            .into_iter()
            .collect();
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(detail(
            ContainerInfo {
                id: new_id.chars().take(12).collect(),
                state,
                labels,
                ..info
            },
            &i,
        ))
    }

    fn describe(&self) -> String {
        self.host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
    }
}

/// Stops the old container, creates its twin with the change, and swaps them; on any
/// failure puts the old one back. Returns the new container's id.
async fn recreate(
    d: Docker,
    old: ContainerInspectResponse,
    change: Recreate,
) -> Result<String, DockerError> {
    let old_id = old.id.clone().unwrap_or_default();
    let short: String = old_id.chars().take(12).collect();
    let name = old
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let c = old.config.clone().unwrap_or_default();
    let hc = old.host_config.clone().unwrap_or_default();
    let mut eps: Vec<(String, EndpointSettings)> = old
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(net, ep)| {
            let aliases: Vec<String> = ep
                .aliases
                .unwrap_or_default()
                .into_iter()
                .filter(|a| *a != short)
                .collect();
            (
                net,
                EndpointSettings {
                    aliases: (!aliases.is_empty()).then_some(aliases),
                    ipam_config: ep.ipam_config,
                    links: ep.links,
                    driver_opts: ep.driver_opts,
                    ..Default::default()
                },
            )
        })
        .collect();
    let primary = hc.network_mode.clone().unwrap_or_default();
    eps.sort_by_key(|(n, _)| (*n != primary, n.clone()));
    let mut env: Vec<String> = c
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.starts_with("SERVICE_VERSION="))
        .collect();
    env.push(format!("SERVICE_VERSION={}", change.version));
    let mut labels = c.labels.clone().unwrap_or_default();
    labels.extend(change.labels.clone());
    let body = ContainerCreateBody {
        hostname: None,
        domainname: c.domainname,
        user: c.user,
        attach_stdin: c.attach_stdin,
        attach_stdout: c.attach_stdout,
        attach_stderr: c.attach_stderr,
        exposed_ports: c.exposed_ports,
        tty: c.tty,
        open_stdin: c.open_stdin,
        stdin_once: c.stdin_once,
        env: Some(env),
        cmd: c.cmd,
        healthcheck: c.healthcheck,
        args_escaped: c.args_escaped,
        image: c.image,
        volumes: c.volumes,
        working_dir: c.working_dir,
        entrypoint: c.entrypoint,
        network_disabled: c.network_disabled,
        on_build: c.on_build,
        labels: Some(labels),
        stop_signal: c.stop_signal,
        stop_timeout: c.stop_timeout,
        shell: c.shell,
        host_config: Some(hc),
        // API < 1.44 takes one endpoint at create; the others are connected before start.
        networking_config: eps.first().cloned().map(|(n, ep)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n, ep)])),
        }),
    };
    let was_running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
    d.stop_container(
        &old_id,
        Some(StopContainerOptionsBuilder::new().t(10).build()),
    )
    .await?;
    let tmp = format!("{name}-replaced-{short}");
    d.rename_container(&old_id, RenameContainerOptions { name: tmp.clone() })
        .await?;
    let attempt: Result<String, DockerError> = async {
        let new = d
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await?;
        for (net, ep) in eps.into_iter().skip(1) {
            d.connect_network(
                &net,
                NetworkConnectRequest {
                    container: new.id.clone(),
                    endpoint_config: Some(ep),
                },
            )
            .await?;
        }
        d.start_container(&new.id, None).await?;
        Ok(new.id)
    }
    .await;
    match attempt {
        Ok(id) => {
            d.remove_container(
                &old_id,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await?;
            Ok(id)
        }
        Err(e) => {
            let _ = d
                .remove_container(
                    &name,
                    Some(RemoveContainerOptionsBuilder::new().force(true).build()),
                )
                .await;
            d.rename_container(&old_id, RenameContainerOptions { name: name.clone() })
                .await?;
            if was_running {
                d.start_container(&old_id, None).await?;
            }
            Err(e)
        }
    }
}
