//! The active faults: starts them, lists them, and ends each one itself at its expiry
//! (a timer task per fault), so a fault never outlives its TTL whoever else is gone.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::burn::CpuBurn;
use super::leak::{Leak, LeakPlan};
use super::spec::{self, FaultKind, FaultParams, FaultSpec, SpecError};
use crate::log::Logger;
use crate::random;
use crate::telemetry::MemoryReading;

/// SPEC bound on concurrently active faults per service.
pub const MAX_ACTIVE: usize = 16;

/// Why a fault ended, for its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Expired,
    Deleted,
    Reset,
    Shutdown,
}

impl EndReason {
    fn describe(self) -> &'static str {
        match self {
            EndReason::Expired => "expired at its TTL",
            EndReason::Deleted => "stopped by DELETE /faults/{id}",
            EndReason::Reset => "stopped by POST /faults/reset",
            EndReason::Shutdown => "stopped at shutdown",
        }
    }
}

/// What an active fault does; dropping it undoes it.
#[derive(Debug)]
enum Effect {
    Leak(Leak),
    // Held only for its Drop, which stops the burn threads.
    #[allow(dead_code)]
    Burn(CpuBurn),
    ErrorShare(f64),
    AddedMs(u64),
    FailDependency(String),
}

#[derive(Debug)]
struct ActiveFault {
    id: String,
    kind: FaultKind,
    params: Value,
    started_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ttl_seconds: u64,
    effect: Effect,
    timer: CancellationToken,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ActiveFault {
    fn view(&self) -> FaultView {
        let left = (self.expires_at - Utc::now()).num_milliseconds().max(0) as u64;
        FaultView {
            id: self.id.clone(),
            kind: self.kind,
            params: self.params.clone(),
            started_at: rfc3339(self.started_at),
            expires_at: rfc3339(self.expires_at),
            seconds_left: left.div_ceil(1000),
            leaked_mb: match &self.effect {
                Effect::Leak(leak) => Some(leak.leaked_mb()),
                _ => None,
            },
        }
    }
}

/// A fault as shown by the API, `/health` and logs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FaultView {
    pub id: String,
    pub kind: FaultKind,
    pub params: Value,
    pub started_at: String,
    pub expires_at: String,
    pub seconds_left: u64,
    /// For `memory_leak`: MiB held right now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaked_mb: Option<u64>,
}

/// Combined effect of the active faults on one business request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestEffects {
    /// Probability the request fails (independent spikes combine: 1 − Π(1 − share)).
    pub error_share: f64,
    /// Delay added before handling (the largest active `added_ms`).
    pub added_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "at most {MAX_ACTIVE} faults may be active; DELETE /faults/{{id}} or POST /faults/reset first"
    )]
    TooMany,
    #[error(transparent)]
    Invalid(#[from] SpecError),
    #[error("could not start the fault's threads: {0}")]
    Spawn(#[from] std::io::Error),
}

/// Cheap clonable handle to the registry.
#[derive(Clone)]
pub struct FaultRegistry {
    active: Arc<Mutex<Vec<ActiveFault>>>,
    logger: Logger,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl FaultRegistry {
    pub fn new(logger: Logger, tracker: TaskTracker, shutdown: CancellationToken) -> FaultRegistry {
        FaultRegistry {
            active: Arc::new(Mutex::new(Vec::new())),
            logger,
            tracker,
            shutdown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveFault>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a fault; `mem` is memory now, used for the leak's default cap.
    /// Must run inside the tokio runtime (it spawns the expiry timer).
    pub fn start(&self, spec: FaultSpec, mem: &MemoryReading) -> Result<FaultView, StartError> {
        if self.lock().len() >= MAX_ACTIVE {
            return Err(StartError::TooMany);
        }
        let (effect, params) = match &spec.params {
            FaultParams::MemoryLeak {
                mb_per_second,
                max_mb,
                allow_oom,
            } => {
                let cap = spec::leak_cap_mb(*max_mb, *allow_oom, mem)?;
                let ceiling = (!allow_oom)
                    .then(|| (mem.limit_bytes as f64 * spec::LEAK_CEILING_PERCENT / 100.0) as u64);
                let leak = Leak::start(LeakPlan {
                    mb_per_second: *mb_per_second,
                    cap_mb: cap as u64,
                    stop_at_rss_bytes: ceiling,
                })?;
                let params =
                    json!({"mb_per_second": mb_per_second, "max_mb": cap, "allow_oom": allow_oom});
                (Effect::Leak(leak), params)
            }
            FaultParams::CpuBurn { threads } => (
                Effect::Burn(CpuBurn::start(*threads)?),
                json!({"threads": threads}),
            ),
            FaultParams::ErrorSpike { error_share } => (
                Effect::ErrorShare(*error_share),
                json!({"error_share": error_share}),
            ),
            FaultParams::Latency { added_ms } => {
                (Effect::AddedMs(*added_ms), json!({"added_ms": added_ms}))
            }
            FaultParams::DependencyFailure { dependency } => (
                Effect::FailDependency(dependency.clone()),
                json!({"dependency": dependency}),
            ),
        };
        let started_at = Utc::now();
        let ttl = Duration::from_secs(spec.ttl_seconds);
        let fault = ActiveFault {
            id: random::hex_id("fault-", 12),
            kind: spec.kind(),
            params,
            started_at,
            expires_at: started_at + ttl,
            ttl_seconds: spec.ttl_seconds,
            effect,
            timer: self.shutdown.child_token(),
        };
        let view = fault.view();
        let timer = fault.timer.clone();
        {
            let mut active = self.lock();
            if active.len() >= MAX_ACTIVE {
                // Lost a race with another start; the effect is undone as `fault` drops.
                return Err(StartError::TooMany);
            }
            active.push(fault);
        }
        let registry = self.clone();
        let id = view.id.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(ttl) => { registry.end(&id, EndReason::Expired); }
                _ = timer.cancelled() => {}
            }
        });
        self.logger.info(&format!(
            "Fault injection started: {} {} for {} s (id {}, expires {})",
            view.kind.as_str(),
            view.params,
            spec.ttl_seconds,
            view.id,
            view.expires_at
        ));
        Ok(view)
    }

    pub fn list(&self) -> Vec<FaultView> {
        self.lock().iter().map(ActiveFault::view).collect()
    }

    /// Ends one fault; `None` when no such fault is active.
    pub fn end(&self, id: &str, reason: EndReason) -> Option<FaultView> {
        let fault = {
            let mut active = self.lock();
            let pos = active.iter().position(|f| f.id == id)?;
            active.remove(pos)
        };
        Some(self.finish(fault, reason))
    }

    /// Ends every active fault.
    pub fn end_all(&self, reason: EndReason) -> Vec<FaultView> {
        let faults = std::mem::take(&mut *self.lock());
        faults.into_iter().map(|f| self.finish(f, reason)).collect()
    }

    fn finish(&self, fault: ActiveFault, reason: EndReason) -> FaultView {
        fault.timer.cancel();
        let view = fault.view();
        let released = match &fault.effect {
            Effect::Leak(leak) => format!(", releasing {} MB", leak.leaked_mb()),
            _ => String::new(),
        };
        // Dropping the fault undoes its effect (threads stop, memory is unmapped).
        drop(fault);
        self.logger.info(&format!(
            "Fault injection ended: {} {} {}{released}",
            view.kind.as_str(),
            view.id,
            reason.describe()
        ));
        view
    }

    /// What the active faults do to the next business request.
    pub fn effects(&self) -> RequestEffects {
        let active = self.lock();
        let mut survive = 1.0;
        let mut added_ms = 0;
        for fault in active.iter() {
            match fault.effect {
                Effect::ErrorShare(share) => survive *= 1.0 - share,
                Effect::AddedMs(ms) => added_ms = added_ms.max(ms),
                _ => {}
            }
        }
        RequestEffects {
            error_share: 1.0 - survive,
            added_ms,
        }
    }

    /// True while a `dependency_failure` fault targets `name`.
    pub fn fails_dependency(&self, name: &str) -> bool {
        self.lock()
            .iter()
            .any(|f| matches!(&f.effect, Effect::FailDependency(d) if d == name))
    }

    /// Active faults per kind, for `/metrics`.
    pub fn count_by_kind(&self) -> Vec<(FaultKind, usize)> {
        let active = self.lock();
        FaultKind::ALL
            .into_iter()
            .map(|k| (k, active.iter().filter(|f| f.kind == k).count()))
            .collect()
    }

    /// The TTL a fault was started with (for tests and logs).
    pub fn ttl_of(&self, id: &str) -> Option<u64> {
        self.lock()
            .iter()
            .find(|f| f.id == id)
            .map(|f| f.ttl_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::MemorySink;

    fn registry() -> (FaultRegistry, MemorySink) {
        let sink = MemorySink::default();
        let logger = Logger::with_sink("t", "r", Box::new(sink.clone()));
        (
            FaultRegistry::new(logger, TaskTracker::new(), CancellationToken::new()),
            sink,
        )
    }

    fn mem() -> MemoryReading {
        MemoryReading::new(10 << 20, 1 << 30)
    }

    fn spec(body: &str) -> FaultSpec {
        spec::parse(body.as_bytes(), &["auth-cache".to_owned()]).unwrap()
    }

    #[tokio::test]
    async fn expires_by_itself() {
        let (reg, sink) = registry();
        let view = reg
            .start(
                spec(r#"{"kind":"latency","ttl_seconds":1,"added_ms":50}"#),
                &mem(),
            )
            .unwrap();
        assert_eq!(reg.ttl_of(&view.id), Some(1));
        assert_eq!(reg.effects().added_ms, 50);
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(reg.list().is_empty());
        assert_eq!(reg.effects(), RequestEffects::default());
        let lines = sink.lines();
        assert!(lines.iter().any(|l| {
            l["message"]
                .as_str()
                .unwrap()
                .contains("expired at its TTL")
        }));
    }

    #[tokio::test]
    async fn effects_combine_and_reset_clears() {
        let (reg, _) = registry();
        reg.start(
            spec(r#"{"kind":"error_spike","ttl_seconds":60,"error_share":0.5}"#),
            &mem(),
        )
        .unwrap();
        reg.start(
            spec(r#"{"kind":"error_spike","ttl_seconds":60,"error_share":0.5}"#),
            &mem(),
        )
        .unwrap();
        reg.start(
            spec(r#"{"kind":"dependency_failure","ttl_seconds":60,"dependency":"auth-cache"}"#),
            &mem(),
        )
        .unwrap();
        assert!((reg.effects().error_share - 0.75).abs() < 1e-9);
        assert!(reg.fails_dependency("auth-cache"));
        assert_eq!(reg.end_all(EndReason::Reset).len(), 3);
        assert!(!reg.fails_dependency("auth-cache"));
        assert!(reg.end("nope", EndReason::Deleted).is_none());
    }

    #[tokio::test]
    async fn at_most_sixteen() {
        let (reg, _) = registry();
        for _ in 0..MAX_ACTIVE {
            reg.start(
                spec(r#"{"kind":"latency","ttl_seconds":60,"added_ms":1}"#),
                &mem(),
            )
            .unwrap();
        }
        let err = reg
            .start(
                spec(r#"{"kind":"latency","ttl_seconds":60,"added_ms":1}"#),
                &mem(),
            )
            .unwrap_err();
        assert!(matches!(err, StartError::TooMany));
    }
}
