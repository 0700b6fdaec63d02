//! The `qs-service` binary: reads the environment, binds the port and runs the service;
//! `qs-service healthcheck` probes a running one (for Docker's HEALTHCHECK).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use quantumstate_service::{Config, healthcheck, shutdown};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: qs-service [healthcheck]

Runs one service of the QuantumState demo fleet, configured by env:
  SERVICE_NAME (required)  PORT (required)  SERVICE_VERSION (1.0.0)  ROLE (from SERVICE_NAME)
  DEPENDS_ON (comma-separated base URLs)  MEMORY_LIMIT_MB (else the cgroup)
  REGION (us-east-1)  DEFECTIVE_VERSIONS  LOAD_RPS (checkout, 0)  BIND_ADDR (127.0.0.1)

  healthcheck   GET http://127.0.0.1:$PORT/livez within 2 s; exit 0 when alive, 1 otherwise";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("healthcheck") => {
            return match healthcheck::run_from_env() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("qs-service healthcheck: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("qs-service: unknown argument {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    }

    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("qs-service: {e}");
            return ExitCode::from(2);
        }
    };
    // Two workers are plenty for a demo service and keep idle RSS small.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qs-service: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let addr = SocketAddr::new(config.bind_addr, config.port);
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("qs-service: cannot listen on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let token = CancellationToken::new();
        if let Err(e) = shutdown::cancel_on_signal(token.clone()) {
            eprintln!("qs-service: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
        match quantumstate_service::run(config, listener, token).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("qs-service: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // A DNS lookup stuck in the blocking pool must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}
