//! `quantumstate-mcp`: parses arguments, sets up logging (stderr only) and signals, and
//! hands over to `quantumstate_mcp::commands`.

use std::process::ExitCode;

use clap::Parser;
use quantumstate_mcp::config::{Cli, Command, Config};
use quantumstate_mcp::telemetry::init_tracing;
use quantumstate_mcp::{App, commands};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.opts.log);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quantumstate-mcp: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = rt.block_on(run(cli));
    // stdin may still be blocked in a read on the blocking pool; do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

async fn run(cli: Cli) -> ExitCode {
    let http_opts = match &cli.command {
        Some(Command::Http(h)) => Some(h),
        _ => None,
    };
    if let Some(Command::Healthcheck { listen }) = &cli.command {
        return if commands::healthcheck(listen).await {
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
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone());
    let http_cfg = config.http.clone();
    let app = App::new(config, shutdown);
    match cli.command {
        None | Some(Command::Stdio) => done(commands::stdio(app).await),
        Some(Command::Http(_)) => match http_cfg {
            Some(cfg) => done(commands::http(app, cfg).await),
            None => ExitCode::from(2),
        },
        Some(Command::Tools) => {
            print_line(&commands::tools(app).await);
            ExitCode::SUCCESS
        }
        Some(Command::Call { tool, json }) => {
            match commands::call(app, &tool, json.as_deref()).await {
                Ok(v) => {
                    print_line(&v.to_string());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{}", e.to_json());
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Seed { scenario }) => match commands::seed(app, scenario.as_deref()).await {
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
            commands::runner_only(app).await;
            ExitCode::SUCCESS
        }
        Some(Command::Bench {
            out,
            metrics,
            logs,
            seed,
            quick,
            peers,
        }) => {
            let opts = quantumstate_mcp::bench::BenchOpts {
                out: out.clone(),
                metrics,
                logs,
                quick,
                peers,
                seed,
                docker_host: app.config().docker_host.clone(),
            };
            match quantumstate_mcp::bench::run(opts).await {
                Ok(r) => {
                    print_line(&quantumstate_mcp::bench::table(&r));
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

/// Ctrl-C or SIGTERM cancels the tree; a second signal exits at once.
fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        token.cancel();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        std::process::exit(130);
    });
}
