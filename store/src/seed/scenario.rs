//! Seed 001's three failure scenarios as backdated metrics, logs and deployments.
//! Every document carries `"source": "scenario"`: it is a rehearsal, never a measurement,
//! and tools that read it say so.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::{Result, Store, new_id};

/// One of seed 001's scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// payment-service memory climbs 55 % → 89 % over 25 minutes.
    MemoryLeak,
    /// checkout-service errors jump 0.4 → 18/min within 3 minutes of a v3.5.0 deploy.
    DeploymentRollback,
    /// auth-service errors jump 0.3 → 28/min and latency 95 → 1200 ms when the cache goes.
    ErrorSpike,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [
        Scenario::MemoryLeak,
        Scenario::DeploymentRollback,
        Scenario::ErrorSpike,
    ];

    pub fn parse(s: &str) -> Option<Scenario> {
        match s {
            "memory-leak" => Some(Scenario::MemoryLeak),
            "deployment-rollback" => Some(Scenario::DeploymentRollback),
            "error-spike" => Some(Scenario::ErrorSpike),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::MemoryLeak => "memory-leak",
            Scenario::DeploymentRollback => "deployment-rollback",
            Scenario::ErrorSpike => "error-spike",
        }
    }

    pub fn service(self) -> &'static str {
        match self {
            Scenario::MemoryLeak => "payment-service",
            Scenario::DeploymentRollback => "checkout-service",
            Scenario::ErrorSpike => "auth-service",
        }
    }
}

/// What a scenario wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioReport {
    pub scenario: String,
    pub service: String,
    pub metrics_written: usize,
    pub logs_written: usize,
    pub deployments_written: usize,
    /// Earlier scenario documents for this service that were replaced.
    pub replaced: u64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A fixed-seed generator so a scenario is the same shape every time.
struct Jitter(u64);

impl Jitter {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

const STEP_SECS: i64 = 15;
/// Healthy minutes before the fault starts, enough for a 30-minute baseline.
const LEAD_MIN: i64 = 35;

struct Builder {
    service: &'static str,
    region: &'static str,
    metrics: Vec<Metric>,
    logs: Vec<LogLine>,
    jitter: Jitter,
    trace: u64,
}

impl Builder {
    fn metric(&mut self, t: DateTime<Utc>, mt: MetricType, value: f64) {
        self.metrics.push(Metric {
            timestamp: t,
            service: self.service.into(),
            region: self.region.into(),
            metric_type: mt,
            value: (value * 100.0).round() / 100.0,
            unit: mt.unit().into(),
            source: Some("scenario".into()),
        });
    }

    fn noisy(&mut self, base: f64, spread: f64) -> f64 {
        (base + self.jitter.next() * spread).max(0.0)
    }

    fn log(&mut self, t: DateTime<Utc>, level: Level, code: Option<&str>, message: String) {
        self.trace += 1;
        self.logs.push(LogLine {
            timestamp: t,
            service: self.service.into(),
            region: self.region.into(),
            level,
            message,
            trace_id: Some(format!("trace-{:06}", 400_000 + self.trace)),
            error_code: code.map(str::to_string),
            source: Some("scenario".into()),
        });
    }
}

/// Writes a scenario ending at `now`, replacing any earlier run of it.
pub async fn seed_scenario(
    store: &dyn Store,
    scenario: Scenario,
    now: DateTime<Utc>,
) -> Result<ScenarioReport> {
    let service = scenario.service();
    let replaced = store.delete_scenario_data(service).await?;
    let region = if service == "inventory-service" {
        "eu-west-1"
    } else {
        "us-east-1"
    };
    let mut b = Builder {
        service,
        region,
        metrics: Vec::new(),
        logs: Vec::new(),
        jitter: Jitter(0x5eed_0001 + scenario as u64),
        trace: 0,
    };
    let (fault_min, mut deployments) = match scenario {
        Scenario::MemoryLeak => (25, Vec::new()),
        Scenario::DeploymentRollback | Scenario::ErrorSpike => (10, Vec::new()),
    };
    let start = now - Duration::minutes(LEAD_MIN + fault_min);
    let fault_at = now - Duration::minutes(fault_min);
    let steps = (LEAD_MIN + fault_min) * 60 / STEP_SECS;
    let mut warned = [false; 3];
    for i in 0..=steps {
        let t = start + Duration::seconds(i * STEP_SECS);
        let into = (t - fault_at).num_seconds() as f64; // < 0 before the fault
        let frac = (into / (fault_min as f64 * 60.0)).clamp(0.0, 1.0);
        let (mut mem, mut err, mut lat) = (
            b.noisy(52.0, 2.0),
            b.noisy(0.35, 0.15),
            b.noisy(120.0, 20.0),
        );
        let cpu = b.noisy(32.0, 6.0);
        let mut rpm = b.noisy(820.0, 60.0);
        match scenario {
            Scenario::MemoryLeak if into >= 0.0 => {
                mem = 55.0 + 34.0 * frac + b.jitter.next() * 0.4;
                lat = 120.0 + 300.0 * frac * frac + b.jitter.next() * 15.0;
                for (k, (limit, level, text)) in [
                    (65.0, Level::Warn, "heap usage elevated"),
                    (
                        80.0,
                        Level::Error,
                        "heap critical, GC overhead limit approaching",
                    ),
                    (
                        87.0,
                        Level::Critical,
                        "heap approaching 90%, allocation failures imminent",
                    ),
                ]
                .into_iter()
                .enumerate()
                {
                    if mem >= limit && !warned[k] {
                        warned[k] = true;
                        b.log(
                            t,
                            level,
                            Some("HEAP_PRESSURE"),
                            format!("JVM {text}: {mem:.1}%"),
                        );
                    }
                }
            }
            Scenario::DeploymentRollback if into >= 0.0 => {
                if i * STEP_SECS == LEAD_MIN * 60 {
                    b.log(
                        t,
                        Level::Info,
                        None,
                        "Deployment v3.5.0 complete (from v3.4.2)".into(),
                    );
                    deployments.push(Deployment {
                        id: new_id("dep"),
                        service: service.into(),
                        from_version: Some("3.4.2".into()),
                        to_version: "3.5.0".into(),
                        image: "quantumstate/qs-service:scenario".into(),
                        at: t,
                        by: "scenario".into(),
                        reason: "seed 001 deployment-rollback scenario".into(),
                    });
                }
                let ramp = (into / 180.0).clamp(0.0, 1.0);
                err = 0.4 + 17.6 * ramp + b.jitter.next() * 0.8;
                if into >= 60.0 && (i % 2 == 0) {
                    b.log(
                        t,
                        Level::Error,
                        Some("INTERNAL_SERVER_ERROR"),
                        "java.lang.NullPointerException: cart.getItems() returned null at \
                         OrderService.placeOrder(OrderService.java:212)"
                            .into(),
                    );
                }
            }
            Scenario::ErrorSpike if into >= 0.0 => {
                err = 28.0 + b.jitter.next() * 2.0;
                lat = 1200.0 + b.jitter.next() * 80.0;
                rpm = b.noisy(640.0, 60.0);
                if i * STEP_SECS == LEAD_MIN * 60 {
                    b.log(
                        t,
                        Level::Critical,
                        Some("CACHE_OFFLINE"),
                        "Redis cluster node evicted: session cache OFFLINE".into(),
                    );
                } else if i % 2 == 0 {
                    b.log(
                        t,
                        Level::Error,
                        Some("REDIS_UNAVAILABLE"),
                        "session lookup failed: cache unreachable, falling back to database".into(),
                    );
                }
            }
            _ => {}
        }
        b.metric(t, MetricType::MemoryPercent, mem);
        b.metric(t, MetricType::CpuPercent, cpu);
        b.metric(t, MetricType::ErrorRate, err);
        b.metric(t, MetricType::RequestLatencyMs, lat);
        b.metric(t, MetricType::RequestsPerMin, rpm);
        b.metric(t, MetricType::Up, 1.0);
    }
    let metrics_written = store.put_metrics(&b.metrics).await?;
    let logs_written = store.put_logs(&b.logs).await?;
    for d in &deployments {
        store.put_deployment(d).await?;
    }
    Ok(ScenarioReport {
        scenario: scenario.as_str().into(),
        service: service.into(),
        metrics_written,
        logs_written,
        deployments_written: deployments.len(),
        replaced,
        from: start,
        to: now,
    })
}
