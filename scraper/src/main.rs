//! `qs-scraper`: parses arguments and runs `quantumstate_scraper::run` until SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use quantumstate_fleet::HostSpec;
use quantumstate_scraper::{Config, Scraper};
use quantumstate_store::Retention;
use tokio_util::sync::CancellationToken;

/// Polls the QuantumState fleet (health, Docker stats, logs) into the store.
#[derive(Debug, Parser)]
#[command(name = "qs-scraper", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Seconds between polls.
    #[arg(long, env = "QS_SCRAPE_INTERVAL", default_value_t = 5.0, global = true)]
    interval: f64,
    /// Address of /healthz and /metrics; `off` to serve none.
    #[arg(
        long,
        env = "QS_SCRAPER_LISTEN",
        default_value = "127.0.0.1:9464",
        global = true
    )]
    listen: String,
    /// sqlite:PATH or elasticsearch (default $QS_DATA_DIR/quantumstate.db).
    #[arg(long, env = "QS_STORE", global = true)]
    store: Option<String>,
    /// Docker engines, NAME=ENDPOINT (repeatable, as quantumstate-mcp's --docker-host);
    /// default DOCKER_HOST or the local socket.
    #[arg(
        long = "docker-host",
        env = "QS_DOCKER_HOSTS",
        global = true,
        value_delimiter = ','
    )]
    docker_hosts: Vec<String>,
    /// Documents held while the store is unreachable.
    #[arg(
        long,
        env = "QS_SCRAPER_BUFFER",
        default_value_t = 100_000,
        global = true
    )]
    buffer_max: usize,
    /// Hours of raw metrics kept (older windows read one-minute rollups).
    #[arg(
        long,
        env = "QS_RETENTION_RAW_HOURS",
        default_value_t = 24,
        global = true
    )]
    retention_raw_hours: i64,
    /// Days of one-minute rollups kept.
    #[arg(
        long,
        env = "QS_RETENTION_ROLLUP_DAYS",
        default_value_t = 30,
        global = true
    )]
    retention_rollup_days: i64,
    /// Log filter (tracing syntax).
    #[arg(long, env = "QS_LOG", default_value = "info", global = true)]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Exit 0 when the scraper on --listen answers /healthz (for FROM scratch images).
    Healthcheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qs-scraper: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let listen: Option<SocketAddr> = match cli.listen.as_str() {
        "off" | "" => None,
        l => match l.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                eprintln!(
                    "qs-scraper: --listen {l:?} is not an address like 127.0.0.1:9464 (or off)"
                );
                return ExitCode::from(2);
            }
        },
    };
    if let Some(Cmd::Healthcheck) = cli.command {
        let Some(addr) = listen else {
            return ExitCode::FAILURE;
        };
        let url = format!(
            "http://{}/healthz",
            addr.to_string().replace("0.0.0.0", "127.0.0.1")
        );
        let ok = match reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
        {
            Ok(c) => matches!(c.get(url).send().await, Ok(r) if r.status().is_success()),
            Err(_) => false,
        };
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    if !(0.1..=3600.0).contains(&cli.interval) {
        eprintln!("qs-scraper: --interval must be 0.1 to 3600 seconds");
        return ExitCode::from(2);
    }
    if !(1..=24 * 30).contains(&cli.retention_raw_hours)
        || !(1..=3650).contains(&cli.retention_rollup_days)
    {
        eprintln!("qs-scraper: retention out of range (raw 1..720 hours, rollups 1..3650 days)");
        return ExitCode::from(2);
    }
    let listener = match listen {
        Some(a) => match tokio::net::TcpListener::bind(a).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("qs-scraper: cannot listen on {a}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let config = Config {
        interval: Duration::from_secs_f64(cli.interval),
        listen,
        store: cli.store,
        buffer_max: cli.buffer_max.max(100),
        retention: Retention {
            raw: chrono::Duration::hours(cli.retention_raw_hours),
            rollups: chrono::Duration::days(cli.retention_rollup_days),
            logs: chrono::Duration::days(7),
        },
    };
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        s.cancel();
    });
    let hosts = match HostSpec::parse_all(&cli.docker_hosts) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("qs-scraper: {e}");
            return ExitCode::from(2);
        }
    };
    let fleet = quantumstate_fleet::connect(hosts);
    let scraper = Scraper::new(config, fleet, shutdown);
    quantumstate_scraper::run(scraper, listener).await;
    ExitCode::SUCCESS
}

/// Logs to stderr only, plain text, filtered by `--log`.
fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
