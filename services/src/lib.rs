//! qs-service: the fault-injectable microservice of the QuantumState fleet. One binary
//! plays payment, checkout, auth, inventory or the session cache, chosen by env.
//!
//! Everything it reports is measured, and every fault is real: a leak maps and touches
//! memory, a CPU burn spins threads, an error spike fails real requests. `main` parses
//! the environment and calls [`run`].

pub mod business;
pub mod cgroup;
pub mod config;
pub mod deps;
pub mod error;
pub mod faults;
pub mod health;
pub mod healthcheck;
pub mod loadgen;
pub mod log;
pub mod metrics;
pub mod process;
pub mod random;
pub mod routes;
pub mod sessions;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod trace;

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, ConfigError, Role};
use faults::EndReason;
use log::Logger;
use state::{AppState, StateError};

/// How long in-flight requests get after a shutdown signal before we stop anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);
/// How long background tasks get to finish after the server stopped.
pub const TASK_DRAIN: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Runs the service on `listener` until `shutdown` is cancelled, logging to stdout.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let logger = Logger::stdout(&config.service_name, &config.region);
    run_with_logger(config, listener, shutdown, logger).await
}

/// [`run`] with a chosen log sink.
pub async fn run_with_logger(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
    logger: Logger,
) -> Result<(), RunError> {
    let local = listener.local_addr()?;
    let state = AppState::new(config, logger.clone(), shutdown.clone())?;
    log_startup(&state, local);

    let tracker = state.tracker().clone();
    tracker.spawn(telemetry::sampler::run(
        state.telemetry().clone(),
        logger.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(telemetry::summary::run(
        state.telemetry().clone(),
        logger.clone(),
        shutdown.clone(),
    ));
    if !state.config().depends_on.is_empty() {
        tracker.spawn(deps::probe::run(state.deps().clone(), shutdown.clone()));
    }
    if state.config().load_rps > 0.0 {
        tracker.spawn(loadgen::run(
            state.deps().client().clone(),
            loadgen::target(local),
            state.config().load_rps,
            tracker.clone(),
            shutdown.clone(),
        ));
    }

    let app = routes::app(state.clone());
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    let finished = tokio::select! {
        served = &mut server => { served?; true }
        _ = shutdown.cancelled() => false,
    };
    let began = Instant::now();
    if !finished {
        // In-flight requests get a short grace; whatever is still running after it is dropped.
        if let Ok(served) = tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
            served?;
        }
    }
    shutdown.cancel();
    state.faults().end_all(EndReason::Shutdown);
    tracker.close();
    let _ = tokio::time::timeout(TASK_DRAIN, tracker.wait()).await;
    logger.info(&format!(
        "{} stopped: shutdown took {} ms",
        state.config().service_name,
        began.elapsed().as_millis()
    ));
    Ok(())
}

fn log_startup(state: &AppState, local: std::net::SocketAddr) {
    let c = state.config();
    let limit = state.telemetry().limit();
    let deps = if c.depends_on.is_empty() {
        "none".to_owned()
    } else {
        c.depends_on
            .iter()
            .map(|d| format!("{} ({})", d.name, d.url))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let load = if c.load_rps > 0.0 {
        format!(", load generator {} orders/s", c.load_rps)
    } else {
        String::new()
    };
    state.logger().info(&format!(
        "{} v{} deployment complete: role {}, region {}, listening on {local}, memory limit {:.0} MB ({}), depends on {deps}{load}",
        c.service_name,
        c.version,
        c.role,
        c.region,
        limit.bytes as f64 / telemetry::MIB,
        limit.source
    ));
}
