//! The command line, run: one function per command — stdio and HTTP serving (with the
//! runner and reaper in the background), `tools`, `call`, `seed`, `runner`, `bench` and
//! `healthcheck` — and `run`, which picks one.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use quantumstate_store::Verdict;
use quantumstate_store::seed::{self, Scenario};
use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::caller::{Caller, Scopes, Surface};
use crate::config::{Cli, Command, Config, HttpConfig};
use crate::dispatch::Dispatcher;
use crate::error::{ToolError, ToolResult};
use crate::server::QsServer;
use crate::tasks::Tasks;
use crate::{reaper, runner};

/// When a stdio server starts its background work if no `tools/list` came first
/// (`QS_START_AT_LATEST_MS` overrides it, for tests on loaded machines).
fn start_at_latest() -> Duration {
    std::env::var("QS_START_AT_LATEST_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

/// How long shutdown waits for background tasks.
const DRAIN: Duration = Duration::from_secs(5);

/// Starts the reaper (always: expired faults end even when only a read-only server is up)
/// and the runner (unless disabled or read-only).
fn start_background(app: &App) {
    // Opening the store now means the first tool call does not wait for it.
    let warm = app.clone();
    app.tasks().spawn(async move {
        if let Err(e) = warm.store().await {
            tracing::warn!(error = %e.message, "store not available yet; tools will say so and it will be retried");
        }
    });
    app.tasks().spawn(reaper::run(app.clone()));
    if app.config().run_runner && !app.config().read_only {
        app.tasks().spawn(runner::run(app.clone()));
    }
}

async fn drain(app: &App) {
    app.shutdown().cancel();
    app.tasks().close();
    if tokio::time::timeout(DRAIN, app.tasks().wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within {} s", DRAIN.as_secs());
    }
}

/// MCP over stdio until the client closes stdin or a signal arrives.
pub async fn stdio(app: App) -> Result<(), String> {
    // The first tools/list is answered from the compiled list, with nothing competing for
    // the two cores: the store, reaper, runner, task resume and the router start once it
    // is answered (a call before then opens and builds what it needs itself).
    let tools = crate::server::Routes::lazy(app.config());
    let dispatcher = Dispatcher::over(app.clone(), tools.clone());
    let tasks = Tasks::new(app.clone(), Arc::new(dispatcher));
    let (starter, listed, resume) = (app.clone(), tools.clone(), tasks.clone());
    app.tasks().spawn(async move {
        let first = async {
            tokio::select! {
                _ = listed.first_listed() => {}
                _ = tokio::time::sleep(start_at_latest()) => {}
            }
            // Then a moment for the reply to be written and read.
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        tokio::select! {
            _ = first => {}
            _ = starter.shutdown().cancelled() => return,
        }
        if starter.shutdown().is_cancelled() {
            return;
        }
        start_background(&starter);
        listed.warm();
        resume.resume_in_background();
    });
    let server = QsServer::with_routes(app.clone(), tools, Some(Caller::stdio())).with_tasks(tasks);
    let running = server
        .serve_with_ct(rmcp::transport::stdio_pipes(), app.shutdown().child_token())
        .await
        .map_err(|e| format!("the MCP session did not start: {e}"))?;
    let reason = running.waiting().await;
    tracing::info!(?reason, "stdio session ended");
    drain(&app).await;
    Ok(())
}

/// MCP and the direct routes over HTTP until a signal arrives.
pub async fn http(app: App, cfg: HttpConfig) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    start_background(&app);
    tracing::info!(
        "quantumstate-mcp listening on http://{addr} (console at /, MCP at /mcp, tools at /api/tools, health at /healthz); store {}; tokens {}",
        app.store_description(),
        if app.config().tokens.is_empty() {
            "none (loopback only)"
        } else {
            "required"
        }
    );
    let result = crate::http::serve(app.clone(), cfg, listener).await;
    drain(&app).await;
    result.map_err(|e| format!("HTTP server failed: {e}"))
}

/// `tools`: the exposed tools as JSON, like `GET /api/tools`.
pub async fn tools(app: App) -> String {
    let d = Dispatcher::new(app);
    json!({ "tools": d.list() }).to_string()
}

/// `call`: the tool's structured result, or its error.
pub async fn call(app: App, tool: &str, json_arg: Option<&str>) -> Result<Value, ToolError> {
    let text = match json_arg {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .take(crate::http::MAX_BODY as u64 + 1)
                .read_to_string(&mut s)
                .map_err(|e| {
                    ToolError::invalid(format!("cannot read arguments from stdin: {e}"))
                })?;
            s
        }
        Some(s) => s.to_string(),
        None => "{}".to_string(),
    };
    let args: Value = if text.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&text).map_err(|e| {
            ToolError::invalid(format!("arguments are not valid JSON: {e}"))
                .hint(format!("e.g. quantumstate-mcp call {tool} '{{}}'"))
        })?
    };
    let d = Dispatcher::new(app);
    d.call(tool, args, Caller::cli()).await
}

/// `seed [--scenario NAME]`.
pub async fn seed(app: App, scenario: Option<&str>) -> ToolResult<Value> {
    let scenario = match scenario {
        None => None,
        Some(s) => Some(Scenario::parse(s.trim()).ok_or_else(|| {
            ToolError::invalid(format!("unknown scenario {s:?}"))
                .hint("use memory-leak, deployment-rollback or error-spike")
        })?),
    };
    let store = app.store().await?;
    let now = Utc::now();
    let report = seed::seed(store.as_ref(), now).await?;
    let mut out = json!({ "store": app.store_description(), "seed": report });
    if let Some(sc) = scenario {
        let r = seed::seed_scenario(store.as_ref(), sc, now).await?;
        out["scenario"] = serde_json::to_value(r).unwrap_or(Value::Null);
    }
    Ok(out)
}

/// The operator at this host, as the approver `cli:<user>`.
fn host_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            let status = std::fs::read_to_string("/proc/self/status").ok()?;
            let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
            Some(format!("uid{}", uid.split_whitespace().next()?))
        })
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{}", user.trim())
}

/// `approve PLAN_ID [--deny] [--note ...]`: decides on a pending plan in this host's store.
pub async fn approve(
    app: App,
    plan_id: &str,
    deny: bool,
    note: Option<String>,
) -> ToolResult<Value> {
    let approver = Caller {
        name: host_user(),
        scopes: Scopes::WRITE.union(Scopes::APPROVE),
        surface: Surface::Cli,
    };
    let verdict = if deny {
        Verdict::Deny
    } else {
        Verdict::Approve
    };
    let id = plan_id.trim();
    let plan = app.road().decide(&approver, id, verdict, note).await?;
    Ok(json!({"plan": plan}))
}

/// `runner`: the remediation runner (and reaper) alone, until a signal arrives.
pub async fn runner_only(app: App) {
    if app.config().read_only {
        tracing::warn!("--read-only: the runner would be refused every action; not starting it");
        return;
    }
    app.tasks().spawn(reaper::run(app.clone()));
    app.tasks().spawn(runner::run(app.clone()));
    app.shutdown().cancelled().await;
    drain(&app).await;
}

/// `healthcheck`: 0 when `/healthz` on `listen` answers 200 (for FROM scratch images).
pub async fn healthcheck(listen: &str) -> bool {
    let addr = listen
        .replace("0.0.0.0", "127.0.0.1")
        .replace("[::]", "[::1]");
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
    else {
        return false;
    };
    matches!(client.get(format!("http://{addr}/healthz")).send().await, Ok(r) if r.status().is_success())
}

/// Runs the command line: checks the options, then the one command asked for.
pub async fn run(cli: Cli, shutdown: CancellationToken) -> ExitCode {
    let http_opts = match &cli.command {
        Some(Command::Http(h)) => Some(h),
        _ => None,
    };
    if let Some(Command::Healthcheck { listen }) = &cli.command {
        return if healthcheck(listen).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let config = match Config::from_opts(&cli.opts, http_opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("quantumstate-mcp: {}", e.to_text());
            return ExitCode::from(2);
        }
    };
    let http_cfg = config.http.clone();
    let app = App::new(config, shutdown);
    match cli.command {
        None | Some(Command::Stdio) => done(stdio(app).await),
        Some(Command::Http(_)) => match http_cfg {
            Some(cfg) => done(http(app, cfg).await),
            None => ExitCode::from(2),
        },
        Some(Command::Tools) => {
            print_line(&tools(app).await);
            ExitCode::SUCCESS
        }
        Some(Command::Call { tool, json }) => match call(app, &tool, json.as_deref()).await {
            Ok(v) => {
                print_line(&v.to_string());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}", e.to_json());
                ExitCode::FAILURE
            }
        },
        Some(Command::Seed { scenario }) => match seed(app, scenario.as_deref()).await {
            Ok(v) => {
                print_line(&v.to_string());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}", e.to_json());
                ExitCode::FAILURE
            }
        },
        Some(Command::Approve {
            plan_id,
            deny,
            note,
        }) => match approve(app, &plan_id, deny, note).await {
            Ok(v) => {
                print_line(&v.to_string());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}", e.to_json());
                ExitCode::FAILURE
            }
        },
        Some(Command::Runner) => {
            runner_only(app).await;
            ExitCode::SUCCESS
        }
        Some(Command::Bench {
            out,
            metrics,
            logs,
            seed,
            quick,
            peers,
            only,
        }) => {
            let opts = crate::bench::BenchOpts {
                out: out.clone(),
                metrics,
                logs,
                quick,
                peers,
                only,
                seed,
                docker_hosts: app.config().docker_hosts.clone(),
                embed_model: app.config().embed_model.clone(),
            };
            match crate::bench::run(opts).await {
                Ok(r) => {
                    print_line(&crate::bench::table(&r));
                    eprintln!("report written to {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("quantumstate-mcp bench: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Healthcheck { .. }) => ExitCode::SUCCESS,
    }
}

/// Writes one line to stdout; a reader that went away (a closed pipe) is not an error.
fn print_line(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}").and_then(|_| out.flush());
}

fn done(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quantumstate-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}
