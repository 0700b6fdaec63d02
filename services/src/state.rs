//! The shared application state: one cheap `Clone` handle over config, log, telemetry,
//! faults, dependencies, the cache role's session store, metrics and the shutdown tree.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::deps::Dependencies;
use crate::faults::FaultRegistry;
use crate::log::Logger;
use crate::metrics::Metrics;
use crate::sessions::SessionStore;
use crate::telemetry::Telemetry;

/// Connect timeout for every outgoing call: a dead peer is refused or silent fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Total timeout of one dependency call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("could not build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

struct Inner {
    config: Config,
    logger: Logger,
    telemetry: Arc<Telemetry>,
    faults: FaultRegistry,
    deps: Dependencies,
    sessions: SessionStore,
    metrics: Metrics,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl AppState {
    pub fn new(
        config: Config,
        logger: Logger,
        shutdown: CancellationToken,
    ) -> Result<AppState, StateError> {
        let tracker = TaskTracker::new();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(4)
            .no_proxy()
            .build()?;
        let faults = FaultRegistry::new(logger.clone(), tracker.clone(), shutdown.clone());
        let deps = Dependencies::new(
            &config.depends_on,
            client,
            CALL_TIMEOUT,
            faults.clone(),
            logger.clone(),
        );
        Ok(AppState {
            inner: Arc::new(Inner {
                telemetry: Arc::new(Telemetry::new(config.memory_limit_mb)),
                metrics: Metrics::new(&config),
                sessions: SessionStore::default(),
                config,
                logger,
                faults,
                deps,
                shutdown,
                tracker,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn logger(&self) -> &Logger {
        &self.inner.logger
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.telemetry
    }

    pub fn faults(&self) -> &FaultRegistry {
        &self.inner.faults
    }

    pub fn deps(&self) -> &Dependencies {
        &self.inner.deps
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.inner.sessions
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }
}
