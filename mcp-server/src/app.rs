//! The shared application handle every tool, route and background task holds: the
//! configuration, the store, the fleet, telemetry and the shutdown tree. Cheap to clone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quantumstate_store::{DynStore, StoreSpec};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::error::{ToolError, ToolResult};
use crate::fleet::{DockerFleet, Fleet};
use crate::guard::Guard;
use crate::server::QsServer;
use crate::telemetry::Telemetry;
use rmcp::handler::server::router::tool::ToolRouter;

/// The five services of the demo fleet (SPEC "The fleet"), known even before Docker answers.
pub const DEMO_SERVICES: [&str; 5] = [
    "payment-service",
    "checkout-service",
    "auth-service",
    "inventory-service",
    "auth-cache",
];

/// The application handle.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: StoreHandle,
    fleet: Arc<dyn Fleet>,
    guard: Guard,
    tools: ToolRouter<QsServer>,
    telemetry: Telemetry,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl App {
    /// Builds the handle. Nothing here fails: a store or Docker that cannot be reached
    /// now is retried on use, and each tool says so clearly meanwhile.
    pub fn new(config: Config, shutdown: CancellationToken) -> App {
        let fleet: Arc<dyn Fleet> = Arc::new(DockerFleet::new(config.docker_host.clone()));
        App::with_fleet(config, fleet, shutdown)
    }

    /// As `new`, with a given fleet (tests use this to run without Docker).
    pub fn with_fleet(config: Config, fleet: Arc<dyn Fleet>, shutdown: CancellationToken) -> App {
        let store = StoreHandle::new(config.store.clone());
        let tools = crate::tools::router(&config);
        App {
            inner: Arc::new(Inner {
                config,
                store,
                fleet,
                guard: Guard::default(),
                tools,
                telemetry: Telemetry::global(),
                shutdown,
                tasks: TaskTracker::new(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store, opening it on first use (and again after a failed open).
    pub async fn store(&self) -> ToolResult<DynStore> {
        self.inner.store.get().await
    }

    pub fn fleet(&self) -> &Arc<dyn Fleet> {
        &self.inner.fleet
    }

    /// The gate every mutation passes.
    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// The tools this configuration exposes (built once; each session clones it).
    pub fn tool_router(&self) -> &ToolRouter<QsServer> {
        &self.inner.tools
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Where background tasks are spawned, so shutdown can wait for them.
    pub fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    /// The store's description for logs and health output (no secrets).
    pub fn store_description(&self) -> String {
        self.inner.store.describe()
    }

    /// Every service name a tool may accept: the demo fleet, managed containers Docker
    /// reports, and services the store has seen. Sorted, no duplicates.
    pub async fn known_services(&self) -> Vec<String> {
        let mut out: Vec<String> = DEMO_SERVICES.iter().map(|s| s.to_string()).collect();
        if let Ok(list) = self.fleet().list_cached().await {
            out.extend(list.into_iter().map(|c| c.name));
        }
        if let Ok(store) = self.store().await {
            let since = chrono::Utc::now() - chrono::Duration::days(30);
            if let Ok(svcs) = store.metric_services(since).await {
                out.extend(svcs.into_iter().map(|(s, _)| s));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Checks that `service` names a service we know; the error lists the known ones.
    pub async fn check_service(&self, service: &str) -> ToolResult<String> {
        let s = service.trim();
        if s.is_empty() {
            return Err(ToolError::invalid("service is empty")
                .hint("pass a container name such as payment-service"));
        }
        if s.len() > 128
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ToolError::invalid(format!(
                "service {:?} is not a container name (letters, digits, - _ . only)",
                truncate(s, 64)
            ))
            .hint("call list_services to see the fleet"));
        }
        let known = self.known_services().await;
        if known.iter().any(|k| k == s) {
            return Ok(s.to_string());
        }
        // A container that exists but is not ours is refused naming the label, not "unknown".
        if let Err(e @ crate::fleet::FleetError::NotManaged { .. }) = self.fleet().inspect(s).await
        {
            return Err(e.into());
        }
        Err(ToolError::invalid(format!("unknown service {s:?}"))
            .hint(format!("known services: {}", known.join(", "))))
    }
}

/// Shortens user text for error messages (on a character boundary).
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// Opens the store lazily and again after a failure, at most every few seconds.
/// Shared with the scraper, which must keep polling while the store is away.
pub struct StoreHandle {
    spec: Option<String>,
    state: Mutex<StoreState>,
}

struct StoreState {
    store: Option<DynStore>,
    last_attempt: Option<(Instant, ToolError)>,
}

const REOPEN_AFTER: Duration = Duration::from_secs(2);

impl StoreHandle {
    pub fn new(spec: Option<String>) -> StoreHandle {
        StoreHandle {
            spec,
            state: Mutex::new(StoreState {
                store: None,
                last_attempt: None,
            }),
        }
    }

    pub fn describe(&self) -> String {
        match StoreSpec::parse(self.spec.as_deref()) {
            Ok(StoreSpec::Sqlite(p)) => format!("sqlite:{}", p.display()),
            Ok(StoreSpec::Elasticsearch) => "elasticsearch".into(),
            Err(e) => format!("invalid ({e})"),
        }
    }

    pub async fn get(&self) -> ToolResult<DynStore> {
        let mut st = self.state.lock().await;
        if let Some(s) = &st.store {
            return Ok(s.clone());
        }
        if let Some((at, err)) = &st.last_attempt
            && at.elapsed() < REOPEN_AFTER
        {
            return Err(err.clone());
        }
        let spec = StoreSpec::parse(self.spec.as_deref()).map_err(ToolError::from)?;
        match quantumstate_store::open(&spec).await {
            Ok(s) => {
                st.store = Some(s.clone());
                st.last_attempt = None;
                Ok(s)
            }
            Err(e) => {
                let err = ToolError::from(e);
                st.last_attempt = Some((Instant::now(), err.clone()));
                Err(err)
            }
        }
    }
}
