//! The scraper's own counters, named once, exposed on `/metrics` (Prometheus text) and
//! summarised on `/healthz`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Process-wide counters (atomics: every task updates them).
#[derive(Default)]
pub struct Counters {
    polls: AtomicU64,
    metrics_written: AtomicU64,
    logs_written: AtomicU64,
    buffered: AtomicU64,
    dropped: AtomicU64,
    store_errors: AtomicU64,
    docker_errors: AtomicU64,
    probe_failures: AtomicU64,
    last_poll: Mutex<Option<DateTime<Utc>>>,
    last_store_error: Mutex<Option<String>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub polls: u64,
    pub metrics_written: u64,
    pub logs_written: u64,
    pub buffered: u64,
    pub dropped: u64,
    pub store_errors: u64,
    pub docker_errors: u64,
    pub probe_failures: u64,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_store_error: Option<String>,
}

impl Counters {
    pub fn poll(&self) {
        self.polls.fetch_add(1, Ordering::Relaxed);
        *self.last_poll.lock().unwrap_or_else(|p| p.into_inner()) = Some(Utc::now());
    }

    pub fn written(&self, metrics: u64, logs: u64) {
        self.metrics_written.fetch_add(metrics, Ordering::Relaxed);
        self.logs_written.fetch_add(logs, Ordering::Relaxed);
        if metrics + logs > 0 {
            *self
                .last_store_error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    pub fn buffered(&self, n: usize) {
        self.buffered.store(n as u64, Ordering::Relaxed);
    }

    pub fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn store_error(&self, why: &str) {
        let n = self.store_errors.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(30) {
            tracing::warn!(error = why, "store unavailable; buffering");
        }
        *self
            .last_store_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
    }

    pub fn docker_error(&self, why: &str) {
        let n = self.docker_errors.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(30) {
            tracing::warn!(error = why, "Docker unavailable; retrying");
        }
    }

    pub fn probe_failure(&self) {
        self.probe_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            polls: g(&self.polls),
            metrics_written: g(&self.metrics_written),
            logs_written: g(&self.logs_written),
            buffered: g(&self.buffered),
            dropped: g(&self.dropped),
            store_errors: g(&self.store_errors),
            docker_errors: g(&self.docker_errors),
            probe_failures: g(&self.probe_failures),
            last_poll_at: *self.last_poll.lock().unwrap_or_else(|p| p.into_inner()),
            last_store_error: self
                .last_store_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let s = self.snapshot();
        let mut out = String::new();
        let mut put = |name: &str, kind: &str, help: &str, v: u64| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        };
        put(
            "quantumstate_scraper_polls_total",
            "counter",
            "Poll rounds completed",
            s.polls,
        );
        put(
            "quantumstate_scraper_metrics_written_total",
            "counter",
            "Metric documents written to the store",
            s.metrics_written,
        );
        put(
            "quantumstate_scraper_logs_written_total",
            "counter",
            "Log lines written to the store (before deduplication)",
            s.logs_written,
        );
        put(
            "quantumstate_scraper_buffered",
            "gauge",
            "Documents waiting for the store",
            s.buffered,
        );
        put(
            "quantumstate_scraper_dropped_total",
            "counter",
            "Documents dropped because the buffer was full",
            s.dropped,
        );
        put(
            "quantumstate_scraper_store_errors_total",
            "counter",
            "Failed store writes",
            s.store_errors,
        );
        put(
            "quantumstate_scraper_docker_errors_total",
            "counter",
            "Failed Docker calls",
            s.docker_errors,
        );
        put(
            "quantumstate_scraper_probe_failures_total",
            "counter",
            "Health probes that got no answer",
            s.probe_failures,
        );
        out
    }
}
