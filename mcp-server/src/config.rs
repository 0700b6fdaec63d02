//! Command line and environment: every flag is also a `QS_*` variable, loopback and
//! safe settings by default. Parsed once in `main`, then handed down as `Config`.

use quantumstate_fleet::HostSpec;
use std::net::SocketAddr;
use std::time::Duration;

mod budget;
mod cli;
mod metrics;

pub use budget::Budget;
pub use cli::{Cli, Command, HttpOpts, Opts};
pub use metrics::MetricsConfig;

use crate::caller::Scopes;
use crate::error::{ToolError, ToolResult};

/// One configured bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub name: String,
    pub secret: String,
    pub scopes: Scopes,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .field("scopes", &self.scopes.names())
            .finish()
    }
}

impl Token {
    /// `NAME:SECRET[:SCOPES]`, SCOPES `read`, `write` (the default: operate+chaos) or
    /// scopes joined by `+` (`read`, `operate`, `chaos`, `approve`).
    pub fn parse(text: &str) -> ToolResult<Token> {
        let bad = |why: &str| {
            ToolError::invalid(format!("--token {why}")).hint(
                "use NAME:SECRET or NAME:SECRET:SCOPES (read, write, or operate+chaos+approve ...), e.g. ops:s3cr3t-value:write",
            )
        };
        let mut parts = text.trim().splitn(3, ':');
        let name = parts.next().unwrap_or_default().trim();
        let secret = parts.next().ok_or_else(|| bad("needs NAME:SECRET"))?.trim();
        let scopes = match parts.next().map(str::trim) {
            None => Scopes::WRITE,
            Some(s) => Scopes::parse(s).map_err(|e| bad(&e))?,
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
            scopes,
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

/// Which real calls need a human's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalMode {
    Off,
    /// Calls that take capacity away.
    Destructive,
    /// Every mutating call (records excepted).
    Mutations,
}

impl ApprovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::Off => "off",
            ApprovalMode::Destructive => "destructive",
            ApprovalMode::Mutations => "mutations",
        }
    }
}

/// The validated configuration every part of the server reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub store: Option<String>,
    /// The sentence model for hybrid incident and runbook search (`--embed-model`).
    /// None when there is no data directory to look under either.
    pub embed_model: Option<std::path::PathBuf>,
    /// Where the metric tools read their figures.
    pub metrics: MetricsConfig,
    pub docker_hosts: Vec<HostSpec>,
    /// Service names known from the start (`--services`).
    pub services: Vec<String>,
    pub read_only: bool,
    pub disable_destructive: bool,
    /// Empty means all.
    pub toolsets: Vec<String>,
    pub tokens: Vec<Token>,
    pub require_plan: bool,
    pub approval: ApprovalMode,
    /// How long plans stay valid.
    pub plan_ttl: Duration,
    /// The services' fault-control token.
    pub fault_token: Option<String>,
    /// How long audit records are kept.
    pub audit_retention: chrono::Duration,
    /// Whether a client's own confirmation counts as approval.
    pub trust_client_approval: bool,
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
    /// Open MCP sessions at most, in all and per caller.
    pub max_sessions: (usize, usize),
    pub alerts: crate::alerts::AlertsConfig,
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
        if !(1..=3650).contains(&o.audit_retention_days) {
            return Err(ToolError::invalid(format!(
                "--audit-retention-days must be 1 to 3650, not {}",
                o.audit_retention_days
            )));
        }
        if !(10..=86_400).contains(&o.plan_ttl) {
            return Err(ToolError::invalid("--plan-ttl must be 10 to 86400 seconds"));
        }
        let serving_http = http.is_some();
        let approval = match o.approval.as_deref() {
            Some("off") => ApprovalMode::Off,
            Some("mutations") => ApprovalMode::Mutations,
            Some("destructive") => ApprovalMode::Destructive,
            Some(other) => {
                return Err(ToolError::invalid(format!(
                    "--approval {other:?}: use off, destructive or mutations"
                )));
            }
            None if serving_http => ApprovalMode::Destructive,
            None => ApprovalMode::Off,
        };
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
                if h.max_sessions == 0 || h.max_sessions_per_token == 0 {
                    return Err(ToolError::invalid(
                        "--max-sessions and --max-sessions-per-token must be at least 1",
                    ));
                }
                Some(HttpConfig {
                    listen,
                    allowed_hosts: cli::cleaned(&h.allowed_hosts),
                    allowed_origins: cli::cleaned(&h.allowed_origins),
                    console_actions: h.console_actions,
                    session_idle: Duration::from_secs(h.session_idle_secs),
                    mutation_rate_per_min: h.mutation_rate_per_min.max(1),
                    max_sessions: (h.max_sessions, h.max_sessions_per_token),
                    alerts: crate::alerts::AlertsConfig::from_opts(h)?,
                })
            }
        };
        Ok(Config {
            store: o.store.clone(),
            embed_model: cli::embed_model_dir(o),
            metrics: MetricsConfig::from_opts(o)?,
            docker_hosts: HostSpec::parse_all(&o.docker_hosts).map_err(ToolError::invalid)?,
            services: cli::cleaned(&o.services),
            read_only: o.read_only,
            disable_destructive: o.disable_destructive,
            toolsets,
            tokens,
            require_plan: o.require_plan,
            approval,
            plan_ttl: Duration::from_secs(o.plan_ttl),
            fault_token: o.fault_token.clone().filter(|t| !t.trim().is_empty()),
            audit_retention: chrono::Duration::days(o.audit_retention_days.into()),
            trust_client_approval: o.trust_client_approval.unwrap_or(!serving_http),
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
            embed_model: None,
            metrics: MetricsConfig::Store,
            docker_hosts: vec![HostSpec::local()],
            services: Vec::new(),
            read_only: false,
            disable_destructive: false,
            toolsets: Vec::new(),
            tokens: Vec::new(),
            require_plan: false,
            approval: ApprovalMode::Off,
            plan_ttl: Duration::from_secs(600),
            fault_token: std::env::var("QS_FAULT_TOKEN").ok(),
            audit_retention: chrono::Duration::days(30),
            trust_client_approval: false,
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
    use clap::Parser;

    #[test]
    fn tokens_parse() {
        let t = Token::parse("ops:0123456789:read").unwrap();
        assert_eq!((t.name.as_str(), t.scopes), ("ops", Scopes::READ));
        assert_eq!(Token::parse("ci:abcdefghij").unwrap().scopes, Scopes::WRITE);
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
    fn a_secret_may_hold_commas_and_spaces_separate_tokens() {
        let cli = Cli::parse_from([
            "quantumstate-mcp",
            "--token",
            "ci:abc,def,ghij,klm",
            "--token",
            "ops:0123456789 lead:9876543210:read+approve",
        ]);
        let c = Config::from_opts(&cli.opts, None).unwrap();
        let got: Vec<(&str, bool)> = c
            .tokens
            .iter()
            .map(|t| (t.name.as_str(), t.secret == "abc,def,ghij,klm"))
            .collect();
        assert_eq!(got, [("ci", true), ("ops", false), ("lead", false)]);
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
