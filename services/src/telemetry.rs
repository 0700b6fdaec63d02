//! Real measurements behind `/health` and `/metrics`: the request window, process RSS
//! and CPU, and the memory limit they are judged against.

pub mod heap;
pub mod histogram;
pub mod sampler;
pub mod summary;
pub mod window;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::cgroup::{self, LimitSource, MemoryLimit};
use crate::process;
use window::{RequestWindow, WindowStats};

pub const MIB: f64 = 1024.0 * 1024.0;

/// Memory now, against the current limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryReading {
    pub rss_bytes: u64,
    pub limit_bytes: u64,
    pub percent: f64,
}

impl MemoryReading {
    pub fn new(rss_bytes: u64, limit_bytes: u64) -> MemoryReading {
        let percent = if limit_bytes == 0 {
            0.0
        } else {
            rss_bytes as f64 / limit_bytes as f64 * 100.0
        };
        MemoryReading {
            rss_bytes,
            limit_bytes,
            percent,
        }
    }

    pub fn rss_mb(&self) -> f64 {
        self.rss_bytes as f64 / MIB
    }

    pub fn limit_mb(&self) -> f64 {
        self.limit_bytes as f64 / MIB
    }
}

/// Shared telemetry state; lives in the app state behind an `Arc`.
pub struct Telemetry {
    started: Instant,
    window: Mutex<RequestWindow>,
    /// f64 bits of the last CPU sample (percent of one core).
    cpu_percent: AtomicU64,
    limit_bytes: AtomicU64,
    limit_source: Mutex<LimitSource>,
    env_limit_mb: Option<u64>,
}

impl Telemetry {
    pub fn new(env_limit_mb: Option<u64>) -> Telemetry {
        let limit = cgroup::detect(env_limit_mb);
        Telemetry {
            started: Instant::now(),
            window: Mutex::new(RequestWindow::default()),
            cpu_percent: AtomicU64::new(0f64.to_bits()),
            limit_bytes: AtomicU64::new(limit.bytes),
            limit_source: Mutex::new(limit.source),
            env_limit_mb,
        }
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn now_sec(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records one finished business request.
    pub fn record(&self, latency: Duration, error: bool) {
        let now = self.now_sec();
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(now, latency, error);
    }

    /// Business-request figures over the last `span_secs` seconds (at most 60).
    pub fn window(&self, span_secs: u64) -> WindowStats {
        let now = self.now_sec();
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stats(now, span_secs)
    }

    /// RSS read now from `/proc/self/statm`, against the last known limit.
    pub fn memory(&self) -> MemoryReading {
        MemoryReading::new(
            process::rss_bytes().unwrap_or(0),
            self.limit_bytes.load(Ordering::Relaxed),
        )
    }

    pub fn limit(&self) -> MemoryLimit {
        MemoryLimit {
            bytes: self.limit_bytes.load(Ordering::Relaxed),
            source: *self
                .limit_source
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Re-reads the cgroup limit (`docker update` can change it while we run).
    pub fn refresh_limit(&self) -> MemoryLimit {
        let limit = cgroup::detect(self.env_limit_mb);
        self.limit_bytes.store(limit.bytes, Ordering::Relaxed);
        *self
            .limit_source
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = limit.source;
        limit
    }

    pub fn cpu_percent(&self) -> f64 {
        f64::from_bits(self.cpu_percent.load(Ordering::Relaxed))
    }

    pub fn set_cpu_percent(&self, percent: f64) {
        self.cpu_percent.store(percent.to_bits(), Ordering::Relaxed);
    }
}
