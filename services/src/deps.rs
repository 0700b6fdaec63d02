//! This service's dependencies (`DEPENDS_ON`): real HTTP calls that honour
//! `dependency_failure` faults, and up/down state with the log lines an outage produces.

pub mod call;
pub mod probe;

pub use call::{CallError, describe_error};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::{DependencyConfig, Role};
use crate::faults::FaultRegistry;
use crate::log::{Level, Logger};
use crate::trace::TraceId;

#[derive(Debug, Default)]
struct DepState {
    /// `None` until the first probe or call.
    up: Option<bool>,
    latency_ms: f64,
    checked_at: Option<DateTime<Utc>>,
    down_since: Option<Instant>,
    error: Option<String>,
}

#[derive(Debug)]
struct Dependency {
    name: String,
    url: String,
    role: Option<Role>,
    state: Mutex<DepState>,
}

impl Dependency {
    fn is_cache(&self) -> bool {
        self.role == Some(Role::Cache)
    }
}

/// One dependency in `/health`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DependencyView {
    pub name: String,
    pub url: String,
    /// `up` or `down`; never checked yet counts as down.
    pub status: &'static str,
    pub latency_ms: f64,
    pub checked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Inner {
    list: Vec<Dependency>,
    client: reqwest::Client,
    call_timeout: Duration,
    faults: FaultRegistry,
    logger: Logger,
}

/// Cheap clonable handle to the dependency set.
#[derive(Clone)]
pub struct Dependencies {
    inner: Arc<Inner>,
}

impl Dependencies {
    pub fn new(
        configs: &[DependencyConfig],
        client: reqwest::Client,
        call_timeout: Duration,
        faults: FaultRegistry,
        logger: Logger,
    ) -> Dependencies {
        let list = configs
            .iter()
            .map(|c| Dependency {
                name: c.name.clone(),
                url: c.url.clone(),
                role: Role::from_name(&c.name),
                state: Mutex::new(DepState::default()),
            })
            .collect();
        Dependencies {
            inner: Arc::new(Inner {
                list,
                client,
                call_timeout,
                faults,
                logger,
            }),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.inner.list.iter().map(|d| d.name.clone()).collect()
    }

    /// The dependency that plays `role` (its name starts with the role, or names a cache).
    pub fn name_for_role(&self, role: Role) -> Option<String> {
        self.inner
            .list
            .iter()
            .find(|d| d.role == Some(role))
            .map(|d| d.name.clone())
    }

    fn get(&self, name: &str) -> Option<&Dependency> {
        self.inner.list.iter().find(|d| d.name == name)
    }

    pub fn report(&self) -> Vec<DependencyView> {
        self.inner
            .list
            .iter()
            .map(|d| {
                let s = d.state.lock().unwrap_or_else(PoisonError::into_inner);
                DependencyView {
                    name: d.name.clone(),
                    url: d.url.clone(),
                    status: if s.up == Some(true) { "up" } else { "down" },
                    latency_ms: (s.latency_ms * 100.0).round() / 100.0,
                    checked_at: s
                        .checked_at
                        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
                    error: s.error.clone(),
                }
            })
            .collect()
    }

    pub fn any_down(&self) -> bool {
        self.inner
            .list
            .iter()
            .any(|d| d.state.lock().unwrap_or_else(PoisonError::into_inner).up != Some(true))
    }

    /// Records a probe or call outcome and logs the transitions an operator needs to see.
    pub fn observe(&self, name: &str, outcome: Result<Duration, String>, trace: Option<&TraceId>) {
        let Some(dep) = self.get(name) else { return };
        let trace = trace.map(TraceId::as_str);
        let mut s = dep.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.checked_at = Some(Utc::now());
        match outcome {
            Ok(latency) => {
                s.latency_ms = latency.as_secs_f64() * 1000.0;
                s.error = None;
                let was_down = s.up == Some(false);
                s.up = Some(true);
                if was_down {
                    let after = s.down_since.take().map_or(0, |t| t.elapsed().as_secs());
                    drop(s);
                    let what = if dep.is_cache() {
                        "Session cache"
                    } else {
                        "Dependency"
                    };
                    self.inner.logger.event(
                        Level::Info,
                        None,
                        trace,
                        &format!(
                            "{what} {name} is reachable again after {after} s ({})",
                            dep.url
                        ),
                    );
                }
            }
            Err(reason) => {
                let was_up = s.up != Some(false);
                s.up = Some(false);
                s.error = Some(reason.clone());
                if was_up {
                    s.down_since = Some(Instant::now());
                    drop(s);
                    if dep.is_cache() {
                        self.inner.logger.event(
                            Level::Critical,
                            Some("CACHE_OFFLINE"),
                            trace,
                            &format!(
                                "Session cache {name} OFFLINE ({}: {reason}) — REDIS_UNAVAILABLE, \
                                 logins fail until it is back",
                                dep.url
                            ),
                        );
                    } else {
                        self.inner.logger.event(
                            Level::Error,
                            Some("UPSTREAM_UNAVAILABLE"),
                            trace,
                            &format!("Dependency {name} unavailable ({}: {reason})", dep.url),
                        );
                    }
                }
            }
        }
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    pub(crate) fn faults(&self) -> &FaultRegistry {
        &self.inner.faults
    }

    pub(crate) fn urls(&self) -> Vec<(String, String)> {
        self.inner
            .list
            .iter()
            .map(|d| (d.name.clone(), d.url.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::MemorySink;
    use reqwest::Method;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;

    fn deps() -> (Dependencies, MemorySink) {
        let sink = MemorySink::default();
        let logger = Logger::with_sink("auth-service", "r", Box::new(sink.clone()));
        let faults =
            FaultRegistry::new(logger.clone(), TaskTracker::new(), CancellationToken::new());
        let configs =
            crate::config::parse_depends_on("http://auth-cache:6379,http://payment-service:8001")
                .unwrap();
        let client = reqwest::Client::new();
        (
            Dependencies::new(&configs, client, Duration::from_secs(1), faults, logger),
            sink,
        )
    }

    #[test]
    fn transitions_log_once() {
        let (d, sink) = deps();
        assert!(d.any_down(), "unchecked counts as down");
        d.observe("auth-cache", Ok(Duration::from_millis(2)), None);
        d.observe("payment-service", Ok(Duration::from_millis(2)), None);
        assert!(!d.any_down());
        assert!(sink.lines().is_empty(), "first up is not news");
        d.observe("auth-cache", Err("connection refused".into()), None);
        d.observe("auth-cache", Err("connection refused".into()), None);
        d.observe("payment-service", Err("timed out".into()), None);
        let lines = sink.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["level"], "CRITICAL");
        assert_eq!(lines[0]["error_code"], "CACHE_OFFLINE");
        assert_eq!(lines[1]["error_code"], "UPSTREAM_UNAVAILABLE");
        d.observe("auth-cache", Ok(Duration::from_millis(1)), None);
        assert!(
            sink.lines()[2]["message"]
                .as_str()
                .unwrap()
                .contains("reachable again")
        );
        let report = d.report();
        assert_eq!(report[0].status, "up");
        assert_eq!(report[1].status, "down");
        assert_eq!(
            d.name_for_role(Role::Payment).as_deref(),
            Some("payment-service")
        );
        assert_eq!(d.name_for_role(Role::Cache).as_deref(), Some("auth-cache"));
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable() {
        let sink = MemorySink::default();
        let logger = Logger::with_sink("checkout-service", "r", Box::new(sink.clone()));
        let faults =
            FaultRegistry::new(logger.clone(), TaskTracker::new(), CancellationToken::new());
        // Bind then drop a listener: nothing listens on that port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let configs =
            crate::config::parse_depends_on(&format!("payment-service=http://127.0.0.1:{port}"))
                .unwrap();
        let d = Dependencies::new(
            &configs,
            reqwest::Client::new(),
            Duration::from_secs(1),
            faults,
            logger,
        );
        let err = d
            .call(
                "payment-service",
                Method::POST,
                "/pay",
                None,
                &TraceId("trace-x".into()),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Unreachable { .. }), "{err:?}");
        let lines = sink.lines();
        assert_eq!(lines[0]["error_code"], "UPSTREAM_UNAVAILABLE");
        assert_eq!(lines[0]["trace_id"], "trace-x");
    }
}
