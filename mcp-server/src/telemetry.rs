//! The server's own metrics, each named once here (Prometheus text on `/metrics`), and
//! tracing setup (stderr only: in stdio mode stdout is the protocol).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const TOOL_CALLS: &str = "quantumstate_tool_calls_total";
const TOOL_SECONDS: &str = "quantumstate_tool_call_duration_seconds";
const SESSIONS: &str = "quantumstate_mcp_sessions";
const QUEUE_DEPTH: &str = "quantumstate_runner_queue_depth";
const RUNNER_ACTIONS: &str = "quantumstate_runner_actions_total";
const DOCKER_ERRORS: &str = "quantumstate_docker_errors_total";
const STORE_ERRORS: &str = "quantumstate_store_errors_total";
const HTTP_REFUSED: &str = "quantumstate_http_refused_total";

/// The process-wide metrics. Nothing is recorded until [`Telemetry::install`], which HTTP
/// serving calls (it exposes `/metrics`): a stdio server has no one to read them and skips
/// the recorder's start-up, whose clock calibration alone costs about 10 ms of the cold
/// start to `tools/list`.
#[derive(Clone, Default)]
pub struct Telemetry;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

impl Telemetry {
    /// The shared handle (the recorder may not be installed yet; see [`Telemetry::install`]).
    pub fn global() -> Telemetry {
        Telemetry
    }

    /// Installs the Prometheus recorder on the first call; later calls share it.
    pub fn install() {
        HANDLE.get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0,
                ])
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        });
    }

    /// Prometheus text exposition (empty before [`Telemetry::install`]).
    pub fn render(&self) -> String {
        HANDLE
            .get()
            .and_then(Option::as_ref)
            .map(|h| h.render())
            .unwrap_or_default()
    }

    pub fn tool_call(&self, tool: &str, outcome: &'static str, seconds: f64) {
        metrics::counter!(TOOL_CALLS, "tool" => tool.to_string(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!(TOOL_SECONDS, "tool" => tool.to_string()).record(seconds);
    }

    pub fn sessions(&self, n: usize) {
        metrics::gauge!(SESSIONS).set(n as f64);
    }

    pub fn queue_depth(&self, n: u64) {
        metrics::gauge!(QUEUE_DEPTH).set(n as f64);
    }

    pub fn runner_action(&self, action: &str, status: &'static str) {
        metrics::counter!(RUNNER_ACTIONS, "action" => action.to_string(), "status" => status)
            .increment(1);
    }

    pub fn docker_error(&self) {
        metrics::counter!(DOCKER_ERRORS).increment(1);
    }

    pub fn store_error(&self) {
        metrics::counter!(STORE_ERRORS).increment(1);
    }

    pub fn http_refused(&self, reason: &'static str) {
        metrics::counter!(HTTP_REFUSED, "reason" => reason).increment(1);
    }
}

fn describe() {
    metrics::describe_counter!(
        TOOL_CALLS,
        "Tool calls by tool and outcome (ok, error codes)"
    );
    metrics::describe_histogram!(TOOL_SECONDS, metrics::Unit::Seconds, "Tool call latency");
    metrics::describe_gauge!(SESSIONS, "Open MCP sessions over HTTP");
    metrics::describe_gauge!(QUEUE_DEPTH, "Remediation actions pending or executing");
    metrics::describe_counter!(
        RUNNER_ACTIONS,
        "Actions the runner finished, by action and status"
    );
    metrics::describe_counter!(DOCKER_ERRORS, "Docker API calls that failed");
    metrics::describe_counter!(STORE_ERRORS, "Store calls that failed");
    metrics::describe_counter!(
        HTTP_REFUSED,
        "HTTP requests refused before any tool ran, by reason"
    );
}

/// Sets up tracing to stderr once. `filter` is tracing's env-filter syntax.
pub fn init_tracing(filter: &str) {
    // rmcp logs every session start and end at info; that is noise on a CLI's stderr.
    let filter = if filter.contains("rmcp") {
        filter.to_string()
    } else {
        format!("{filter},rmcp=warn")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
