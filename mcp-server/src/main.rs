//! `quantumstate-mcp`: parses arguments, sets up logging (stderr only) and signals, and
//! hands over to `quantumstate_mcp::commands`.

use std::process::ExitCode;

use clap::Parser;
use quantumstate_mcp::commands;
use quantumstate_mcp::config::Cli;
use quantumstate_mcp::telemetry::init_tracing;
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
    let code = rt.block_on(async {
        let shutdown = CancellationToken::new();
        spawn_signal_handler(shutdown.clone());
        commands::run(cli, shutdown).await
    });
    // stdin may still be blocked in a read on the blocking pool; do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    code
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
