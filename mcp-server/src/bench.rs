//! `quantumstate-mcp bench`: measures what SPEC's quality bars promise — stdio cold start,
//! the tools/list payload, read-tool latency on a store of 1 M metric samples and 100 k log
//! lines, HTTP throughput at 1/10/100 sessions, store ingest, restart overhead over Docker's
//! own, RSS, `query_metrics` over a real Prometheus and the alert webhook — and, with `--peers`, the Python Docker MCP servers on the same machine.
//! Prints a table and writes JSON. A benchmark, not a test: it reports, it does not assert.

mod data;
mod fleet;
mod hosts;
mod peers;
mod procs;
mod prometheus;
mod recall;
mod report;

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::app::App;
use crate::caller::Caller;
use crate::config::{Budget, Config};
use crate::dispatch::Dispatcher;
use procs::{HttpSession, StdioServer, percentiles, rss_mib};
pub use report::{BenchOpts, Report, table};

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
    if o.peers_only {
        peers_section(&mut r, &spec, None, o.quick).await?;
        return write(&o, r);
    }
    if o.recall_only {
        recall::section(&mut r, o.embed_model.clone(), dir.path(), iters, 10_000).await;
        return write(&o, r);
    }

    // --- data: 1 M metrics, 100 k logs, seed incidents; ingest measured ---
    eprintln!(
        "generating {} metric samples and {} log lines (seed {}) into {}",
        o.metrics,
        o.logs,
        o.seed,
        db.display()
    );
    let mut cfg = Config::local(&spec);
    cfg.docker_hosts = vec![quantumstate_fleet::HostSpec::at(
        "unix:///nonexistent/quantumstate-bench.sock",
    )];
    cfg.restart_budget = Budget {
        max: 1000,
        window: Duration::from_secs(300),
    };
    let store_app = App::new(cfg.clone(), tokio_util::sync::CancellationToken::new());
    let store = store_app.store().await.map_err(|e| e.message)?;
    let now = Utc::now();
    let m = data::metrics(store.as_ref(), o.metrics, o.seed, now)
        .await
        .map_err(|e| e.to_string())?;
    let l = data::logs(store.as_ref(), o.logs, o.seed, now)
        .await
        .map_err(|e| e.to_string())?;
    quantumstate_store::seed::seed(store.as_ref(), now)
        .await
        .map_err(|e| e.to_string())?;
    r.ingest = json!({"metrics": m, "logs": l});
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.path().join("bench.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    r.store = json!({"backend": "sqlite", "metric_samples": m.documents, "log_lines": l.documents, "bytes": size});

    // --- read tools, in process through the same dispatch as MCP and /api (no Docker) ---
    let d = Dispatcher::new(store_app.clone());
    let reads: Vec<(&str, Value)> = vec![
        (
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "1h", "max_points": 60}),
        ),
        (
            "query_metrics",
            // The longest window answered from raw samples (longer ones read rollups).
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "6h", "max_points": 360}),
        ),
        (
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "24h", "max_points": 200}),
        ),
        (
            "query_metrics",
            // The console's longest view.
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "7d", "max_points": 500}),
        ),
        (
            "search_logs",
            json!({"service": "auth-service", "level": "ERROR", "window": "24h", "limit": 50}),
        ),
        (
            "search_logs",
            json!({"text": "upstream timeout", "window": "24h", "limit": 50}),
        ),
        (
            "find_similar_incidents",
            json!({"description": "payment service heap keeps growing, GC pauses, after deploy"}),
        ),
        ("detect_anomalies", json!({})),
    ];
    for (tool, args) in reads {
        let label = [
            Some(tool.to_string()),
            args.get("window")
                .and_then(Value::as_str)
                .map(str::to_string),
            args.get("text")
                .and_then(Value::as_str)
                .map(|t| format!("\"{t}\"")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let _ = d.call(tool, args.clone(), Caller::cli()).await; // warm caches
        let mut samples = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t = Instant::now();
            d.call(tool, args.clone(), Caller::cli())
                .await
                .map_err(|e| format!("{tool}: {}", e.message))?;
            samples.push(t.elapsed());
        }
        r.reads
            .push((label.trim().to_string(), percentiles(&samples)));
    }

    // --- tools/list payload ---
    let list = serde_json::to_string(&d.list()).unwrap_or_default();
    r.tools_list =
        json!({"tools": d.list().len(), "bytes": list.len(), "approx_tokens": list.len() / 4});

    // --- stdio cold start to the first tools/list reply (store opened) ---
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
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
    http_section(&mut r, &exe, &spec, o.quick).await?;

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

async fn http_section(
    r: &mut Report,
    exe: &std::path::Path,
    spec: &str,
    quick: bool,
) -> Result<(), String> {
    let port = procs::free_port().map_err(|e| e.to_string())?;
    let mut child = procs::http_server(exe, spec, port)
        .spawn()
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(200)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    if !procs::wait_http(
        &client,
        &format!("http://127.0.0.1:{port}/healthz"),
        Duration::from_secs(10),
    )
    .await
    {
        return Err("the HTTP server did not start".into());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().unwrap_or(0);
    let idle = rss_mib(pid);
    let url = format!("http://127.0.0.1:{port}/mcp");
    let total_calls = if quick { 400 } else { 2000 };
    for sessions in [1usize, 10, 100] {
        let per = (total_calls / sessions).max(5);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for s in 0..sessions {
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut sess = HttpSession::new(client, url);
                sess.open().await?;
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let t = Instant::now();
                    let (tool, args) = if i % 2 == 0 {
                        ("list_incidents", json!({"limit": 5}))
                    } else {
                        (
                            "find_similar_incidents",
                            json!({"description": format!("session {s} heap growing"), "limit": 3}),
                        )
                    };
                    sess.call(10 + i as i64, tool, args).await?;
                    lat.push(t.elapsed());
                }
                sess.close().await;
                Ok::<Vec<Duration>, String>(lat)
            }));
        }
        let mut all = Vec::new();
        let mut failed = 0usize;
        for t in tasks {
            match t.await {
                Ok(Ok(l)) => all.extend(l),
                _ => failed += 1,
            }
        }
        let secs = started.elapsed().as_secs_f64();
        r.http.push(json!({
            "sessions": sessions,
            "calls": all.len(),
            "failed_sessions": failed,
            "calls_per_second": (all.len() as f64 / secs).round(),
            "latency": percentiles(&all),
        }));
    }
    let loaded = rss_mib(pid);
    r.rss_mib = json!({"server_idle": idle, "server_after_http_load": loaded});
    let _ = child.kill().await;
    Ok(())
}
