//! The command line: subcommands and flags, each flag also a `QS_*` variable. Parsed in
//! `main`, checked into a `Config` by `Config::from_opts`.

use clap::{Args, Parser, Subcommand};

/// QuantumState: safe, audited MCP tools for running a container fleet.
#[derive(Debug, Parser)]
#[command(name = "quantumstate-mcp", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub opts: Opts,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// MCP over stdio (the default; what uvx and desktop clients run).
    Stdio,
    /// MCP over streamable HTTP at /mcp, direct tool routes at /api/tools, the console at /.
    Http(HttpOpts),
    /// List the tools this configuration exposes, as JSON.
    Tools,
    /// Call one tool in-process and print its structured result on stdout.
    Call {
        /// Tool name, e.g. find_similar_incidents.
        tool: String,
        /// Arguments as a JSON object; `-` reads them from stdin. Default `{}`.
        json: Option<String>,
    },
    /// Load the seed incidents and runbooks (idempotent), or a backdated scenario.
    Seed {
        /// Also write one of seed 001's scenarios: memory-leak, deployment-rollback, error-spike.
        #[arg(long)]
        scenario: Option<String>,
    },
    /// Run only the remediation runner.
    Runner,
    /// Approve (or deny) a plan waiting for a human's decision, on this host's store.
    Approve {
        /// The plan_id the dry run (or the refused call) returned.
        plan_id: String,
        /// Deny it instead.
        #[arg(long)]
        deny: bool,
        /// Why (kept with the decision).
        #[arg(long)]
        note: Option<String>,
    },
    /// Measure cold start, read latency on 1 M samples, HTTP throughput, ingest, restart
    /// overhead and RSS; print a table and write JSON.
    Bench {
        /// Where the JSON report goes.
        #[arg(long, default_value = "target/bench/bench.json")]
        out: std::path::PathBuf,
        /// Metric samples to generate over the last day (3,456,000: one a second for the
        /// fleet's 40 series); the six days before get one a minute.
        #[arg(long, default_value_t = 3_456_000)]
        metrics: usize,
        /// Log lines to generate.
        #[arg(long, default_value_t = 100_000)]
        logs: usize,
        /// The generator's seed (same seed and sizes, same data).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Fewer iterations (a smoke run).
        #[arg(long)]
        quick: bool,
        /// Also measure the four peer MCP servers scripts/setup-peers.sh installs (Python:
        /// docker-mcp, mcp-server-docker; Go: mcp-grafana, kubernetes-mcp-server), interleaved
        /// with this build, 11 rounds.
        #[arg(long)]
        peers: bool,
        /// Only one section: the store's read rows (with Docker hung), HTTP sessions, recall
        /// (lexical vs hybrid, 10 k incidents) or the peers.
        #[arg(long, value_enum)]
        only: Option<crate::bench::Section>,
    },
    /// Exit 0 when a server on --listen answers /healthz (for FROM scratch images).
    Healthcheck {
        #[arg(long, env = "QS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Where the data lives: sqlite:PATH (default $QS_DATA_DIR/quantumstate.db) or elasticsearch.
    #[arg(long, env = "QS_STORE", global = true)]
    pub store: Option<String>,
    /// Directory of the sentence model (all-MiniLM-L6-v2: config.json, tokenizer.json,
    /// model.safetensors) for hybrid incident and runbook search; loaded on the first
    /// search. Default $QS_DATA_DIR/models/all-MiniLM-L6-v2; without it, search is lexical.
    #[arg(long, env = "QS_EMBED_MODEL", global = true)]
    pub embed_model: Option<std::path::PathBuf>,
    /// Where metric figures are read: store (what the scraper wrote) or prometheus=URL.
    /// Logs, incidents, runbooks, audit and the queue stay in the store either way.
    #[arg(long, env = "QS_METRICS_SOURCE", global = true)]
    pub metrics_source: Option<String>,
    /// TOML file mapping metric types to PromQL per service (profiles and templates with
    /// {service}); default: QuantumState's own services plus cAdvisor's container metrics.
    #[arg(long, env = "QS_PROMQL", global = true)]
    pub promql: Option<std::path::PathBuf>,
    /// Milliseconds a Prometheus request may take before it is an `unavailable` error.
    #[arg(
        long,
        env = "QS_PROMETHEUS_TIMEOUT_MS",
        global = true,
        default_value_t = 5000
    )]
    pub prometheus_timeout_ms: u64,
    /// A Docker engine, NAME=ENDPOINT (repeatable; unix:///path, tcp://host:port with
    /// ?ca=&cert=&key= for TLS, &address= where its ports are reached); a bare ENDPOINT is
    /// host `local`. Default: DOCKER_HOST or the local socket.
    #[arg(
        long = "docker-host",
        env = "QS_DOCKER_HOSTS",
        global = true,
        value_delimiter = ','
    )]
    pub docker_hosts: Vec<String>,
    /// Service names accepted before Docker or the store has seen them (comma-separated),
    /// e.g. for a server that reaches the store but not yet the fleet.
    #[arg(
        long = "services",
        env = "QS_SERVICES",
        global = true,
        value_delimiter = ','
    )]
    pub services: Vec<String>,
    /// Expose no mutating tool at all.
    #[arg(long, env = "QS_READ_ONLY", global = true)]
    pub read_only: bool,
    /// Hide kill, stop, pause, partition and bad deploys; restarts and rollbacks stay.
    #[arg(long, env = "QS_DISABLE_DESTRUCTIVE", global = true)]
    pub disable_destructive: bool,
    /// Only these toolsets: fleet, metrics, analysis, memory, remediation, chaos.
    #[arg(long, env = "QS_TOOLSETS", global = true, value_delimiter = ',')]
    pub toolsets: Vec<String>,
    /// HTTP bearer token NAME:SECRET[:SCOPES] (repeatable; the name is the audit's "who").
    /// SCOPES: read, write (= operate+chaos, the default), or read, operate, chaos and
    /// approve joined by +. Several: repeat --token, or separate them by spaces in QS_TOKEN
    /// (a secret may hold commas).
    #[arg(long = "token", env = "QS_TOKEN", global = true, value_delimiter = ' ')]
    pub tokens: Vec<String>,
    /// Every real mutation must quote the plan_id its dry run returned (within --plan-ttl).
    #[arg(long, env = "QS_REQUIRE_PLAN", global = true)]
    pub require_plan: bool,
    /// Which real calls need a human's approval first: off, destructive (stop, kill, pause,
    /// partition, cache offline, bad deploys) or mutations (every mutating tool).
    /// Default: destructive over HTTP, off over stdio and the CLI.
    #[arg(long, env = "QS_APPROVAL", global = true, value_parser = ["off", "destructive", "mutations"])]
    pub approval: Option<String>,
    /// Seconds a plan (a dry run's, or one waiting for approval) stays valid.
    #[arg(long, env = "QS_PLAN_TTL", global = true, default_value_t = 600)]
    pub plan_ttl: u64,
    /// The token the fleet's services require for fault control (the demo writes it to .env).
    #[arg(long, env = "QS_FAULT_TOKEN", global = true, hide_env_values = true)]
    pub fault_token: Option<String>,
    /// Days the audit trail keeps its records (older ones are deleted hourly).
    #[arg(
        long,
        env = "QS_AUDIT_RETENTION_DAYS",
        global = true,
        default_value_t = 30
    )]
    pub audit_retention_days: u32,
    /// Count the client's own confirmation (its user answering an elicitation) as approval.
    /// Default: on over stdio (the human runs the client), off over HTTP.
    #[arg(long, env = "QS_TRUST_CLIENT_APPROVAL", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub trust_client_approval: Option<bool>,
    /// Restarts allowed per service per window, e.g. 3/300s.
    #[arg(
        long,
        env = "QS_RESTART_BUDGET",
        global = true,
        default_value = "3/300s"
    )]
    pub restart_budget: String,
    /// Do not run the remediation runner inside stdio/http.
    #[arg(long, env = "QS_NO_RUNNER", global = true)]
    pub no_runner: bool,
    /// Seconds a runner's claim on a queued action lasts without renewal; an action whose
    /// runner died is retried (or failed) after this.
    #[arg(
        long,
        env = "QS_RUNNER_LEASE_SECS",
        global = true,
        default_value_t = 60
    )]
    pub runner_lease_secs: u64,
    /// Expected scrape interval in seconds (data older than 3 intervals is stale).
    #[arg(long, env = "QS_SCRAPE_INTERVAL", global = true, default_value_t = 5.0)]
    pub scrape_interval: f64,
    /// Log filter for stderr (tracing syntax), e.g. info or quantumstate_mcp=debug.
    #[arg(long, env = "QS_LOG", global = true, default_value = "info")]
    pub log: String,
}

/// Options of `http`.
#[derive(Debug, Clone, Args)]
pub struct HttpOpts {
    /// Address to listen on. Anything but loopback requires a --token.
    #[arg(long, env = "QS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Extra Host header values accepted (DNS-rebinding protection), e.g. qs.internal:8080.
    #[arg(long, env = "QS_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Extra Origin values accepted for browser requests.
    #[arg(long, env = "QS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Let the console start drills and restarts (through the same guardrails and audit).
    #[arg(long, env = "QS_CONSOLE_ACTIONS")]
    pub console_actions: bool,
    /// Close MCP sessions idle for this many seconds.
    #[arg(long, env = "QS_SESSION_IDLE_SECS", default_value_t = 300)]
    pub session_idle_secs: u64,
    /// Open MCP sessions at most; a new one beyond it is 503 with Retry-After.
    #[arg(long, env = "QS_MAX_SESSIONS", default_value_t = 1000)]
    pub max_sessions: usize,
    /// Open MCP sessions per token (per caller) at most.
    #[arg(long, env = "QS_MAX_SESSIONS_PER_TOKEN", default_value_t = 200)]
    pub max_sessions_per_token: usize,
    /// The bearer secret Alertmanager sends to `POST /api/alerts` (its webhook_configs'
    /// http_config.authorization). Without it the webhook is off.
    #[arg(long, env = "QS_ALERT_TOKEN", hide_env_values = true)]
    pub alert_token: Option<String>,
    /// What a firing alert does beyond recording its incident: record (default) or queue
    /// (the best runbook's action goes to the runner, through the guard and approvals).
    #[arg(long, env = "QS_ON_ALERT", default_value = "record")]
    pub on_alert: String,
    /// Mutating calls allowed per client per minute.
    #[arg(long, env = "QS_MUTATION_RATE", default_value_t = 30)]
    pub mutation_rate_per_min: u32,
}

/// Trimmed, non-empty entries of a comma-separated list option.
pub fn cleaned(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The model directory: `--embed-model`, else under the data directory.
pub fn embed_model_dir(o: &Opts) -> Option<std::path::PathBuf> {
    if let Some(d) = o.embed_model.clone().filter(|d| !d.as_os_str().is_empty()) {
        return Some(d);
    }
    let data = quantumstate_store::data_dir().ok()?;
    Some(quantumstate_embed::dir_under(&data))
}
