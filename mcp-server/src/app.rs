//! The shared application handle every tool, route and background task holds: the
//! configuration, the store, the fleet's read side, the known service names, the
//! mutation road, telemetry and the shutdown tree. Cheap to clone.
//!
//! It hands out no fleet operation: those exist only on the road (`mutation`).

use std::sync::Arc;

use quantumstate_fleet::{Fleet, FleetOps, FleetRead};
use quantumstate_store::source::prometheus::Prometheus;
use quantumstate_store::source::{MetricsSource, StoreSource};
use quantumstate_store::{DynStore, StoreHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, MetricsConfig};
use crate::directory::Directory;
use crate::error::{ToolError, ToolResult};
use crate::mutation::Road;
use crate::telemetry::Telemetry;

/// The application handle.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    store: Arc<StoreHandle>,
    /// Prometheus when configured (`None`: the store's samples); an error if it could not
    /// be set up, said on every metric read rather than falling back to the store.
    prometheus: Result<Option<Arc<Prometheus>>, String>,
    reads: Arc<dyn FleetRead>,
    directory: Arc<Directory>,
    road: Road,
    telemetry: Telemetry,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl App {
    /// Builds the handle. Nothing here fails: a store or Docker that cannot be reached
    /// now is retried on use, and each tool says so clearly meanwhile.
    pub fn new(config: Config, shutdown: CancellationToken) -> App {
        let fleet = quantumstate_fleet::connect(config.docker_hosts.clone());
        App::with_fleet(config, fleet, shutdown)
    }

    /// As `new`, with a given fleet (tests pass one that logs its Docker calls).
    pub fn with_fleet(config: Config, fleet: Arc<dyn Fleet>, shutdown: CancellationToken) -> App {
        let config = Arc::new(config);
        // The model is only named here; it loads on the first search that needs it.
        let embedder = config
            .embed_model
            .clone()
            .map(|d| Arc::new(quantumstate_store::Embedder::new(d)));
        let store = Arc::new(StoreHandle::new(config.store.clone()).with_embedder(embedder));
        let reads: Arc<dyn FleetRead> = fleet.clone();
        let ops: Arc<dyn FleetOps> = fleet;
        let directory = Arc::new(Directory::new(
            &config.services,
            reads.clone(),
            store.clone(),
        ));
        let prometheus = match &config.metrics {
            MetricsConfig::Store => Ok(None),
            MetricsConfig::Prometheus {
                url,
                promql,
                timeout,
            } => Prometheus::new(url, *timeout, promql.clone())
                .map(|p| Some(Arc::new(p)))
                .map_err(|e| e.to_string()),
        };
        let telemetry = Telemetry::global();
        let road = Road::new(
            config.clone(),
            store.clone(),
            reads.clone(),
            ops,
            directory.clone(),
            telemetry.clone(),
        );
        App {
            inner: Arc::new(Inner {
                config,
                store,
                prometheus,
                reads,
                directory,
                road,
                telemetry,
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
        self.inner.store.get().await.map_err(ToolError::from)
    }

    /// Where metric figures are read: the configured Prometheus, or the store's samples.
    pub async fn metrics(&self) -> ToolResult<Arc<dyn MetricsSource>> {
        match &self.inner.prometheus {
            Ok(Some(p)) => Ok(p.clone()),
            Ok(None) => Ok(Arc::new(StoreSource(self.store().await?))),
            Err(e) => Err(ToolError::unavailable(e.clone())),
        }
    }

    /// Where the metric tools read one figure of one service: `store`, or
    /// `prometheus (profile quantumstate)` / `prometheus (FILE:LINE)` / `prometheus (not mapped)`.
    pub fn metric_origin(&self, service: &str, mt: quantumstate_store::MetricType) -> String {
        match &self.inner.prometheus {
            Ok(Some(p)) => p.origin(service, mt),
            Ok(None) => "store".into(),
            Err(_) => "prometheus (not set up)".into(),
        }
    }

    /// The metrics source's description (`store ...` or `prometheus URL`).
    pub fn metrics_description(&self) -> String {
        match &self.inner.prometheus {
            Ok(Some(p)) => format!("prometheus {}", p.url()),
            Ok(None) => format!("store {}", self.store_description()),
            Err(e) => format!("prometheus (not set up: {e})"),
        }
    }

    /// The fleet's read side (no operations: see `road`).
    pub fn fleet(&self) -> &Arc<dyn FleetRead> {
        &self.inner.reads
    }

    /// The one road every mutation takes.
    pub fn road(&self) -> &Road {
        &self.inner.road
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

    /// Every service name a tool may accept, sorted.
    pub async fn known_services(&self) -> Vec<String> {
        self.inner.directory.known().await
    }

    /// The managed containers Docker listed, by service name (cached, bounded).
    pub async fn listed_services(&self) -> Vec<String> {
        self.inner.directory.listed().await
    }

    /// The names people use for the listed services (labels and roles), for search.
    pub async fn service_aliases(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.inner.directory.aliases().await
    }

    /// The region of a service (its container's `quantumstate.region` label), or
    /// `unknown` when it has none or Docker cannot say.
    pub async fn region_of(&self, service: &str) -> String {
        self.inner
            .directory
            .region_of(service)
            .await
            .unwrap_or_else(|| "unknown".into())
    }

    /// Checks that `service` names a service we know; the error lists the known ones.
    pub async fn check_service(&self, service: &str) -> ToolResult<String> {
        self.inner.directory.check(service).await
    }

    /// True when a checked name is a managed swarm service's.
    pub async fn is_swarm(&self, service: &str) -> bool {
        self.inner.directory.swarm_check(service).await
    }
}
