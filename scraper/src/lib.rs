//! `quantumstate-scraper`: every interval it reads each managed container's `/health` and
//! Docker stats into metric documents, follows the containers' JSON logs into log
//! documents, notices restarts and version changes, and writes it all to the store —
//! buffering (bounded, counted) while the store is away.
//!
//! `run` is the whole program; `main.rs` only parses arguments.

pub mod buffer;
pub mod counters;
pub mod logship;
pub mod poll;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quantumstate_fleet::FleetRead;
use quantumstate_store::Retention;
use quantumstate_store::StoreHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use buffer::Buffer;
pub use counters::Counters;

/// The scraper's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time between polls.
    pub interval: Duration,
    /// Where `/healthz` and `/metrics` are served (None: not served).
    pub listen: Option<SocketAddr>,
    /// `QS_STORE` syntax; None for the default file.
    pub store: Option<String>,
    /// Documents held while the store is unreachable; the oldest go first past this.
    pub buffer_max: usize,
    pub retention: Retention,
}

/// State shared by the poller, the log shippers and the HTTP endpoint.
pub struct Scraper {
    pub config: Config,
    pub fleet: Arc<dyn FleetRead>,
    pub store: StoreHandle,
    pub buffer: Buffer,
    pub counters: Counters,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// Wakes the flusher. Writes happen off the poll loop, so a slow or locked store
    /// never delays a measurement.
    pub flush_wanted: tokio::sync::Notify,
}

impl Scraper {
    pub fn new(
        config: Config,
        fleet: Arc<dyn FleetRead>,
        shutdown: CancellationToken,
    ) -> Arc<Scraper> {
        Arc::new(Scraper {
            store: StoreHandle::new(config.store.clone()),
            buffer: Buffer::new(config.buffer_max),
            counters: Counters::default(),
            config,
            fleet,
            shutdown,
            tasks: TaskTracker::new(),
            flush_wanted: tokio::sync::Notify::new(),
        })
    }

    /// Writes what the buffer holds; on failure it stays buffered for the next try.
    pub async fn flush(&self) -> bool {
        let store = match self.store.get().await {
            Ok(s) => s,
            Err(e) => {
                self.counters.store_error(&e.to_string());
                return false;
            }
        };
        self.buffer.flush(store.as_ref(), &self.counters).await
    }

    /// Flushes whenever the poll loop asks, until shutdown (`run` flushes once more after).
    async fn flusher(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.flush_wanted.notified() => {}
            }
            self.flush().await;
        }
    }
}

/// Runs until `shutdown`: the poll loop, one log follower per container, the HTTP endpoint.
/// On shutdown it makes a last attempt to flush the buffer.
pub async fn run(scraper: Arc<Scraper>, listener: Option<tokio::net::TcpListener>) {
    tracing::info!(
        interval_ms = scraper.config.interval.as_millis() as u64,
        store = %scraper.store.describe(),
        docker = %scraper.fleet.describe(),
        "qs-scraper started"
    );
    if let Some(l) = listener {
        scraper.tasks.spawn(serve::serve(scraper.clone(), l));
    }
    scraper.tasks.spawn(logship::supervise(scraper.clone()));
    scraper.tasks.spawn(scraper.clone().flusher());
    poll::run(scraper.clone()).await;
    scraper.tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), scraper.tasks.wait()).await;
    if !scraper.flush().await {
        tracing::warn!(
            buffered = scraper.buffer.len(),
            "shutting down with documents still buffered (store unavailable)"
        );
    }
    tracing::info!("qs-scraper stopped");
}
