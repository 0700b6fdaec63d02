//! Command line and environment: every flag is also a `QS_*` variable, loopback and
//! safe settings by default. Parsed once in `main`, then handed down as `Config`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::{ToolError, ToolResult};

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
    /// Measure cold start, read latency on 1 M samples, HTTP throughput, ingest, restart
    /// overhead and RSS; print a table and write JSON.
    Bench {
        /// Where the JSON report goes.
        #[arg(long, default_value = "target/bench/bench.json")]
        out: std::path::PathBuf,
        /// Metric samples to generate.
        #[arg(long, default_value_t = 1_000_000)]
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
        /// Also measure the Python Docker MCP servers (docker-mcp, mcp-server-docker) via uvx.
        #[arg(long)]
        peers: bool,
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
    /// Docker endpoint (unix:///var/run/docker.sock, tcp://...); default DOCKER_HOST or the local socket.
    #[arg(long, env = "QS_DOCKER_HOST", global = true)]
    pub docker_host: Option<String>,
    /// Expose no mutating tool at all.
    #[arg(long, env = "QS_READ_ONLY", global = true)]
    pub read_only: bool,
    /// Hide kill, stop, pause, partition and bad deploys; restarts and rollbacks stay.
    #[arg(long, env = "QS_DISABLE_DESTRUCTIVE", global = true)]
    pub disable_destructive: bool,
    /// Only these toolsets: fleet, metrics, analysis, memory, remediation, chaos.
    #[arg(long, env = "QS_TOOLSETS", global = true, value_delimiter = ',')]
    pub toolsets: Vec<String>,
    /// HTTP bearer token NAME:SECRET[:read|write] (repeatable; the name is the audit's "who").
    #[arg(long = "token", env = "QS_TOKEN", global = true, value_delimiter = ',')]
    pub tokens: Vec<String>,
    /// Every real mutation must quote the plan_id its dry run returned (within 5 minutes).
    #[arg(long, env = "QS_REQUIRE_PLAN", global = true)]
    pub require_plan: bool,
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
    #[arg(long, env = "QS_SESSION_IDLE_SECS", default_value_t = 600)]
    pub session_idle_secs: u64,
    /// Mutating calls allowed per client per minute.
    #[arg(long, env = "QS_MUTATION_RATE", default_value_t = 30)]
    pub mutation_rate_per_min: u32,
}

/// A token's rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// One configured bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub secret: String,
    pub access: Access,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .field("access", &self.access)
            .finish()
    }
}

impl Token {
    /// `NAME:SECRET[:read|write]`; write is the default.
    pub fn parse(text: &str) -> ToolResult<Token> {
        let bad = |why: &str| {
            ToolError::invalid(format!("--token {why}"))
                .hint("use NAME:SECRET or NAME:SECRET:read|write, e.g. ops:s3cr3t-value:write")
        };
        let mut parts = text.trim().splitn(3, ':');
        let name = parts.next().unwrap_or_default().trim();
        let secret = parts.next().ok_or_else(|| bad("needs NAME:SECRET"))?.trim();
        let access = match parts.next().map(str::trim) {
            None | Some("write") => Access::Write,
            Some("read") => Access::Read,
            Some(other) => {
                return Err(bad(&format!("access must be read or write, not {other:?}")));
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(bad("name must be letters, digits, - _ . or @"));
        }
        if secret.len() < 8 {
            return Err(bad("secret must be at least 8 characters"));
        }
        Ok(Token {
            name: name.into(),
            secret: secret.into(),
            access,
        })
    }
}

/// A restart budget: `max` restarts per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max: u32,
    pub window: Duration,
}

impl Budget {
    /// `3/300s`, `5/10m`.
    pub fn parse(text: &str) -> ToolResult<Budget> {
        let bad = || {
            ToolError::invalid(format!(
                "restart budget {text:?} is not like 3/300s (count/window)"
            ))
        };
        let (n, w) = text.trim().split_once('/').ok_or_else(bad)?;
        let max: u32 = n.trim().parse().map_err(|_| bad())?;
        let window = quantumstate_store::Window::parse(w.trim()).map_err(|_| bad())?;
        if max == 0 || max > 1000 {
            return Err(bad());
        }
        Ok(Budget {
            max,
            window: Duration::from_secs(window.secs() as u64),
        })
    }
}

pub const TOOLSETS: [&str; 6] = [
    "fleet",
    "metrics",
    "analysis",
    "memory",
    "remediation",
    "chaos",
];

/// The validated configuration every part of the server reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub store: Option<String>,
    pub docker_host: Option<String>,
    pub read_only: bool,
    pub disable_destructive: bool,
    /// Empty means all.
    pub toolsets: Vec<String>,
    pub tokens: Vec<Token>,
    pub require_plan: bool,
    pub restart_budget: Budget,
    pub run_runner: bool,
    pub runner_lease: Duration,
    pub scrape_interval: f64,
    /// Set when serving HTTP.
    pub http: Option<HttpConfig>,
}

/// Validated `http` options.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub console_actions: bool,
    pub session_idle: Duration,
    pub mutation_rate_per_min: u32,
}

impl Config {
    /// Checks the options and turns them into a `Config`; errors say which flag and why.
    pub fn from_opts(o: &Opts, http: Option<&HttpOpts>) -> ToolResult<Config> {
        let tokens = o
            .tokens
            .iter()
            .filter(|t| !t.trim().is_empty())
            .map(|t| Token::parse(t))
            .collect::<ToolResult<Vec<_>>>()?;
        let mut names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(ToolError::invalid(
                "two --token entries share a name; names identify callers in the audit",
            ));
        }
        let toolsets: Vec<String> = o
            .toolsets
            .iter()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(bad) = toolsets.iter().find(|t| !TOOLSETS.contains(&t.as_str())) {
            return Err(ToolError::invalid(format!(
                "unknown toolset {bad:?}: use {}",
                TOOLSETS.join(", ")
            )));
        }
        if !(2..=3600).contains(&o.runner_lease_secs) {
            return Err(ToolError::invalid("--runner-lease-secs must be 2 to 3600"));
        }
        if !(0.1..=3600.0).contains(&o.scrape_interval) {
            return Err(ToolError::invalid(
                "--scrape-interval must be 0.1 to 3600 seconds",
            ));
        }
        let http = match http {
            None => None,
            Some(h) => {
                let listen: SocketAddr = h.listen.parse().map_err(|_| {
                    ToolError::invalid(format!(
                        "--listen {:?} is not an address like 127.0.0.1:8080",
                        h.listen
                    ))
                })?;
                if !listen.ip().is_loopback() && tokens.is_empty() {
                    return Err(ToolError::forbidden(format!(
                        "refusing to listen on {listen} without a token: anyone who can reach it could restart your fleet"
                    ))
                    .hint("add --token NAME:SECRET (or QS_TOKEN), or listen on 127.0.0.1"));
                }
                if !(10..=86_400).contains(&h.session_idle_secs) {
                    return Err(ToolError::invalid(
                        "--session-idle-secs must be 10 to 86400",
                    ));
                }
                Some(HttpConfig {
                    listen,
                    allowed_hosts: h
                        .allowed_hosts
                        .iter()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    allowed_origins: h
                        .allowed_origins
                        .iter()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    console_actions: h.console_actions,
                    session_idle: Duration::from_secs(h.session_idle_secs),
                    mutation_rate_per_min: h.mutation_rate_per_min.max(1),
                })
            }
        };
        Ok(Config {
            store: o.store.clone(),
            docker_host: o.docker_host.clone(),
            read_only: o.read_only,
            disable_destructive: o.disable_destructive,
            toolsets,
            tokens,
            require_plan: o.require_plan,
            restart_budget: Budget::parse(&o.restart_budget)?,
            run_runner: !o.no_runner,
            runner_lease: Duration::from_secs(o.runner_lease_secs),
            scrape_interval: o.scrape_interval,
            http,
        })
    }

    /// A configuration for tests and in-process use: everything on, no tokens.
    pub fn local(store: &str) -> Config {
        Config {
            store: Some(store.to_string()),
            docker_host: None,
            read_only: false,
            disable_destructive: false,
            toolsets: Vec::new(),
            tokens: Vec::new(),
            require_plan: false,
            restart_budget: Budget {
                max: 3,
                window: Duration::from_secs(300),
            },
            run_runner: false,
            runner_lease: Duration::from_secs(60),
            scrape_interval: 5.0,
            http: None,
        }
    }

    pub fn toolset_enabled(&self, name: &str) -> bool {
        self.toolsets.is_empty() || self.toolsets.iter().any(|t| t == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse() {
        let t = Token::parse("ops:0123456789:read").unwrap();
        assert_eq!((t.name.as_str(), t.access), ("ops", Access::Read));
        assert_eq!(Token::parse("ci:abcdefghij").unwrap().access, Access::Write);
        assert!(Token::parse("nosecret").is_err());
        assert!(Token::parse("a:short").is_err());
        assert!(Token::parse("a b:0123456789").is_err());
        assert!(Token::parse("a:0123456789:admin").is_err());
        assert!(
            !format!("{t:?}").contains("0123456789"),
            "secrets never reach logs"
        );
    }

    #[test]
    fn budgets_parse() {
        assert_eq!(
            Budget::parse("3/300s").unwrap(),
            Budget {
                max: 3,
                window: Duration::from_secs(300)
            }
        );
        assert_eq!(
            Budget::parse("5/10m").unwrap().window,
            Duration::from_secs(600)
        );
        for bad in ["3", "x/300s", "0/300s", "3/-5m", "3/99y"] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let cli = Cli::parse_from(["quantumstate-mcp", "http", "--listen", "0.0.0.0:8080"]);
        let Some(Command::Http(h)) = &cli.command else {
            panic!()
        };
        let e = Config::from_opts(&cli.opts, Some(h)).unwrap_err();
        assert!(e.message.contains("without a token"));
        let cli = Cli::parse_from([
            "quantumstate-mcp",
            "http",
            "--listen",
            "0.0.0.0:8080",
            "--token",
            "ops:0123456789",
        ]);
        let Some(Command::Http(h)) = &cli.command else {
            panic!()
        };
        assert!(Config::from_opts(&cli.opts, Some(h)).is_ok());
    }
}
