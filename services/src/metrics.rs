//! `GET /metrics`: the health figures and request counters in Prometheus text, through
//! the `metrics` facade and a recorder owned by this service (no global state).

use std::time::Duration;

use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
    with_local_recorder,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::config::Config;
use crate::faults::FaultKind;
use crate::health::{HealthReport, Status};

/// Every metric name, defined once.
pub mod names {
    pub const REQUESTS_TOTAL: &str = "quantumstate_service_requests_total";
    pub const REQUEST_ERRORS_TOTAL: &str = "quantumstate_service_request_errors_total";
    pub const REQUEST_MILLISECONDS_TOTAL: &str = "quantumstate_service_request_milliseconds_total";
    /// The OpenTelemetry name, so Prometheus computes p95 as it does for real services.
    pub const REQUEST_DURATION_SECONDS: &str = "http_server_request_duration_seconds";
    pub const FAULTS_STARTED_TOTAL: &str = "quantumstate_service_faults_started_total";
    pub const UPTIME_SECONDS: &str = "quantumstate_service_uptime_seconds";
    pub const MEMORY_PERCENT: &str = "quantumstate_service_memory_percent";
    pub const MEMORY_RSS_BYTES: &str = "quantumstate_service_memory_rss_bytes";
    pub const MEMORY_LIMIT_BYTES: &str = "quantumstate_service_memory_limit_bytes";
    pub const CPU_PERCENT: &str = "quantumstate_service_cpu_percent";
    pub const ERROR_RATE: &str = "quantumstate_service_error_rate_per_min";
    pub const LATENCY_P95_MS: &str = "quantumstate_service_request_latency_p95_ms";
    pub const REQUESTS_PER_MIN: &str = "quantumstate_service_requests_per_min";
    pub const HEALTH_STATUS: &str = "quantumstate_service_health_status";
    pub const DEPENDENCY_UP: &str = "quantumstate_service_dependency_up";
    pub const ACTIVE_FAULTS: &str = "quantumstate_service_active_faults";
}

const MIB: f64 = 1024.0 * 1024.0;

/// Request-duration histogram buckets, seconds (5 ms to 10 s).
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Metrics {
    pub fn new(config: &Config) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .add_global_label("service", config.service_name.clone())
            .add_global_label("role", config.role.as_str())
            .add_global_label("region", config.region.clone())
            .add_global_label("version", config.version.clone())
            .set_buckets_for_metric(
                Matcher::Full(names::REQUEST_DURATION_SECONDS.into()),
                &DURATION_BUCKETS,
            )
            // Refused only for an empty list; DURATION_BUCKETS is a non-empty constant.
            .expect("request-duration buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        with_local_recorder(&recorder, || {
            describe_counter!(
                names::REQUESTS_TOTAL,
                "Business requests served, by route and status"
            );
            describe_counter!(
                names::REQUEST_ERRORS_TOTAL,
                "Business requests that failed with a 5xx"
            );
            describe_counter!(
                names::REQUEST_MILLISECONDS_TOTAL,
                "Total milliseconds spent serving business requests"
            );
            describe_histogram!(
                names::REQUEST_DURATION_SECONDS,
                metrics::Unit::Seconds,
                "Business request duration, by route and status"
            );
            describe_counter!(names::FAULTS_STARTED_TOTAL, "Faults injected, by kind");
            describe_gauge!(names::UPTIME_SECONDS, "Seconds since the process started");
            describe_gauge!(
                names::MEMORY_PERCENT,
                "Resident memory as a percent of the memory limit"
            );
            describe_gauge!(names::MEMORY_RSS_BYTES, "Resident set size of the process");
            describe_gauge!(
                names::MEMORY_LIMIT_BYTES,
                "Memory limit (cgroup, MEMORY_LIMIT_MB or host)"
            );
            describe_gauge!(
                names::CPU_PERCENT,
                "CPU use over the last second, percent of one core"
            );
            describe_gauge!(
                names::ERROR_RATE,
                "Business 5xx per minute over the last 60 s"
            );
            describe_gauge!(
                names::LATENCY_P95_MS,
                "p95 business request latency over the last 60 s"
            );
            describe_gauge!(
                names::REQUESTS_PER_MIN,
                "Business requests per minute over the last 60 s"
            );
            describe_gauge!(names::HEALTH_STATUS, "0 healthy, 1 degraded, 2 unhealthy");
            describe_gauge!(
                names::DEPENDENCY_UP,
                "1 when the dependency answered its last probe"
            );
            describe_gauge!(names::ACTIVE_FAULTS, "Active injected faults, by kind");
        });
        Metrics { recorder, handle }
    }

    /// Counts one finished business request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, latency: Duration) {
        with_local_recorder(&self.recorder, || {
            counter!(
                names::REQUESTS_TOTAL,
                "method" => method.to_owned(),
                "route" => route.to_owned(),
                "status" => status.to_string()
            )
            .increment(1);
            if status >= 500 {
                counter!(names::REQUEST_ERRORS_TOTAL, "route" => route.to_owned()).increment(1);
            }
            counter!(names::REQUEST_MILLISECONDS_TOTAL, "route" => route.to_owned())
                .increment(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX));
            histogram!(
                names::REQUEST_DURATION_SECONDS,
                "route" => route.to_owned(),
                "status" => status.to_string()
            )
            .record(latency.as_secs_f64());
        });
    }

    pub fn fault_started(&self, kind: FaultKind) {
        with_local_recorder(&self.recorder, || {
            counter!(names::FAULTS_STARTED_TOTAL, "kind" => kind.as_str()).increment(1);
        });
    }

    /// Sets the gauges from a fresh health report and renders the exposition text.
    pub fn render(&self, health: &HealthReport, faults: &[(FaultKind, usize)]) -> String {
        with_local_recorder(&self.recorder, || {
            gauge!(names::UPTIME_SECONDS).set(health.uptime_seconds);
            gauge!(names::MEMORY_PERCENT).set(health.memory_percent);
            gauge!(names::MEMORY_RSS_BYTES).set(health.memory_rss_mb * MIB);
            gauge!(names::MEMORY_LIMIT_BYTES).set(health.memory_limit_mb * MIB);
            gauge!(names::CPU_PERCENT).set(health.cpu_percent);
            gauge!(names::ERROR_RATE).set(health.error_rate);
            // NaN, as a summary's quantile with no observations: no requests, no p95.
            gauge!(names::LATENCY_P95_MS).set(health.request_latency_ms.unwrap_or(f64::NAN));
            gauge!(names::REQUESTS_PER_MIN).set(health.requests_per_min);
            gauge!(names::HEALTH_STATUS).set(match health.status {
                Status::Healthy => 0.0,
                Status::Degraded => 1.0,
                Status::Unhealthy => 2.0,
            });
            for dep in &health.dependencies {
                gauge!(names::DEPENDENCY_UP, "dependency" => dep.name.clone())
                    .set(if dep.status == "up" { 1.0 } else { 0.0 });
            }
            for (kind, count) in faults {
                gauge!(names::ACTIVE_FAULTS, "kind" => kind.as_str()).set(*count as f64);
            }
        });
        self.handle.render()
    }
}
