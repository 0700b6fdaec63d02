//! `quantumstate-mcp bench`: measures what SPEC's quality bars promise — stdio cold start,
//! the tools/list payload, read-tool latency on a store of a day of one-second samples
//! (3.46 M) and 100 k log lines, with Docker up and hung, HTTP throughput at 1/10/100
//! sessions, store ingest, restart overhead over Docker's own, RSS, `query_metrics` over a
//! real Prometheus and the alert webhook, recall — and, with `--peers`, the four peer MCP
//! servers on the same machine.
//! Prints a table and writes JSON. A benchmark, not a test: it reports, it does not assert.

mod data;
mod fleet;
mod hosts;
mod http;
mod peers;
mod procs;
mod prometheus;
mod reads;
mod recall;
mod report;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Command;

use procs::{StdioServer, percentiles};
pub use report::{BenchOpts, Report, Section, table};

fn machine() -> Value {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines().find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
    });
    json!({"cpus": cpus, "cpu": model, "version": env!("CARGO_PKG_VERSION")})
}

/// Runs every section it can; a section that cannot run says why in `notes`.
pub async fn run(o: BenchOpts) -> Result<Report, String> {
    let mut r = Report {
        machine: machine(),
        ..Report::default()
    };
    let dir = tempfile::Builder::new()
        .prefix("qs-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let db = dir.path().join("bench.db");
    let spec = format!("sqlite:{}", db.display());
    let iters = if o.quick { 40 } else { 200 };
    if o.only == Some(Section::Peers) {
        peers_section(&mut r, &spec, None, o.quick).await?;
        return write(&o, r);
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    if o.only == Some(Section::Http) {
        let cfg = crate::config::Config::local(&spec);
        let app = crate::app::App::new(cfg, tokio_util::sync::CancellationToken::new());
        let store = app.store().await.map_err(|e| e.message)?;
        quantumstate_store::seed::seed(store.as_ref(), chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        http::section(&mut r, &exe, &spec, o.embed_model.as_deref(), o.quick).await?;
        return write(&o, r);
    }
    if o.only == Some(Section::Recall) {
        recall::section(&mut r, o.embed_model.clone(), dir.path(), iters, 10_000).await;
        return write(&o, r);
    }

    // --- data, then the read tools through the production dispatch; Docker hung ---
    let d = reads::section(&mut r, &spec, &db, &o, iters).await?;
    if o.only == Some(Section::Reads) {
        return write(&o, r);
    }

    // --- tools/list payload ---
    let list = serde_json::to_string(&d.list()).unwrap_or_default();
    r.tools_list =
        json!({"tools": d.list().len(), "bytes": list.len(), "approx_tokens": list.len() / 4});

    // --- stdio cold start to the first tools/list reply (store configured) ---
    let runs = if o.quick { 10 } else { 30 };
    let mut cold = Vec::new();
    for _ in 0..runs {
        let mut cmd = Command::new(&exe);
        cmd.arg("stdio")
            .env("QS_STORE", &spec)
            .env("QS_LOG", "error")
            .env("QS_DOCKER_HOSTS", "unix:///nonexistent/qs.sock");
        let t = Instant::now();
        let mut s = StdioServer::spawn(cmd).map_err(|e| e.to_string())?;
        s.initialize(Duration::from_secs(10)).await?;
        s.request(2, "tools/list", json!({}), Duration::from_secs(10))
            .await?;
        cold.push(t.elapsed());
        s.stop().await;
    }
    r.cold_start = Some(percentiles(&cold));

    // --- HTTP: calls per second at 1, 10 and 100 sessions; server RSS idle and loaded ---
    http::section(&mut r, &exe, &spec, o.embed_model.as_deref(), o.quick).await?;

    // --- restart overhead and the fleet's RSS, when Docker and the demo fleet are up ---
    fleet::fleet_section(&mut r, &spec, &o).await;

    // --- several engines: listing all, restart per host, one engine hung ---
    hosts::section(&mut r, &spec, &o).await;

    // --- a real Prometheus holding a day of the fleet's samples; the alert webhook ---
    prometheus::section(&mut r, &exe, &spec, o.quick).await;

    // --- a service's RSS, idle and under load (a local qs-service) ---
    fleet::service_rss(&mut r).await;

    // --- recall: accuracy lexical vs hybrid, 10 k incidents with the model ---
    recall::section(&mut r, o.embed_model.clone(), dir.path(), iters, 10_000).await;

    if o.peers {
        let target = r
            .restart
            .get("container")
            .and_then(Value::as_str)
            .map(str::to_string);
        peers_section(&mut r, &spec, target.as_deref(), o.quick).await?;
    }
    write(&o, r)
}

/// This build and the four peers, interleaved (see `peers`); ours with the store configured.
async fn peers_section(
    r: &mut Report,
    spec: &str,
    restart_target: Option<&str>,
    quick: bool,
) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let spec = spec.to_string();
    let ours = Box::new(move || {
        let mut cmd = Command::new(&exe);
        cmd.arg("stdio")
            .env("QS_STORE", &spec)
            .env("QS_LOG", "error")
            .env("QS_DOCKER_HOSTS", "unix:///nonexistent/qs.sock");
        cmd
    });
    eprintln!(
        "peers: {} (interleaved with this build)",
        peers::peers_dir().display()
    );
    r.peers = peers::measure_all(ours, if quick { 3 } else { 11 }, restart_target).await;
    Ok(())
}

/// Writes the report's JSON to `--out` and hands the report back for the table.
fn write(o: &BenchOpts, r: Report) -> Result<Report, String> {
    let json = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
    if let Some(parent) = o.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&o.out, json).map_err(|e| format!("cannot write {}: {e}", o.out.display()))?;
    Ok(r)
}
