//! `quantumstate-mcp bench`: measures what SPEC's quality bars promise — stdio cold start,
//! the tools/list payload, read-tool latency on a store of 1 M metric samples and 100 k log
//! lines, HTTP throughput at 1/10/100 sessions, store ingest, restart overhead over Docker's
//! own, and RSS — and, with `--peers`, the Python Docker MCP servers on the same machine.
//! Prints a table and writes JSON. A benchmark, not a test: it reports, it does not assert.

mod data;
mod peers;
mod procs;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::app::App;
use crate::config::{Budget, Config};
use crate::dispatch::Dispatcher;
use crate::guard::Caller;
use procs::{HttpSession, Percentiles, StdioServer, percentiles, rss_mib, sibling};

/// What `bench` was asked to do.
#[derive(Debug, Clone)]
pub struct BenchOpts {
    pub out: PathBuf,
    pub metrics: usize,
    pub logs: usize,
    pub quick: bool,
    pub peers: bool,
    pub seed: u64,
    pub docker_host: Option<String>,
}

/// The whole report (the JSON written to `--out`).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub machine: Value,
    pub store: Value,
    pub cold_start: Option<Percentiles>,
    pub tools_list: Value,
    pub reads: Vec<(String, Percentiles)>,
    pub ingest: Value,
    pub http: Vec<Value>,
    pub restart: Value,
    pub rss_mib: Value,
    pub peers: Vec<peers::Peer>,
    pub notes: Vec<String>,
}

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

    // --- data: 1 M metrics, 100 k logs, seed incidents; ingest measured ---
    eprintln!(
        "generating {} metric samples and {} log lines (seed {}) into {}",
        o.metrics,
        o.logs,
        o.seed,
        db.display()
    );
    let mut cfg = Config::local(&spec);
    cfg.docker_host = Some("unix:///nonexistent/quantumstate-bench.sock".into());
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
            .env("QS_DOCKER_HOST", "unix:///nonexistent/qs.sock");
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
    fleet_section(&mut r, &spec, &o).await;

    // --- a service's RSS, idle and under load (a local qs-service) ---
    service_rss(&mut r).await;

    if o.peers {
        let target = r
            .restart
            .get("container")
            .and_then(Value::as_str)
            .map(str::to_string);
        for p in ["docker-mcp", "mcp-server-docker"] {
            eprintln!("peer {p} (through uvx)");
            r.peers
                .push(peers::measure(p, if o.quick { 3 } else { 10 }, target.as_deref()).await);
        }
    }
    let json = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
    if let Some(parent) = o.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&o.out, json).map_err(|e| format!("cannot write {}: {e}", o.out.display()))?;
    Ok(r)
}

async fn http_section(
    r: &mut Report,
    exe: &PathBuf,
    spec: &str,
    quick: bool,
) -> Result<(), String> {
    let port = procs::free_port().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args([
            "http",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--no-runner",
        ])
        .env("QS_STORE", spec)
        .env("QS_LOG", "error")
        .env("QS_DOCKER_HOST", "unix:///nonexistent/qs.sock")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
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

async fn fleet_section(r: &mut Report, spec: &str, o: &BenchOpts) {
    let mut cfg = Config::local(spec);
    cfg.docker_host = o.docker_host.clone();
    cfg.restart_budget = Budget {
        max: 1000,
        window: Duration::from_secs(300),
    };
    let app = App::new(cfg, tokio_util::sync::CancellationToken::new());
    let target = "payment-service";
    if app.fleet().inspect(target).await.is_err() {
        r.notes.push("restart overhead and fleet RSS skipped: Docker or the demo fleet is not up (run scripts/demo.sh)".into());
        return;
    }
    let d = Dispatcher::new(app.clone());
    let runs = if o.quick { 3 } else { 5 };
    let (mut docker, mut ours, mut ours_wait) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        if let Err(e) = app.fleet().restart(target, crate::ops::STOP_GRACE).await {
            r.notes.push(format!("docker restart failed: {e}"));
            return;
        }
        docker.push(t.elapsed());
        crate::ops::wait_ready(&app, target, Duration::from_secs(30), |_| async {}).await;
        let t = Instant::now();
        if let Err(e) = d
            .call(
                "restart_container",
                json!({"service": target, "wait_healthy": false}),
                Caller::cli(),
            )
            .await
        {
            r.notes
                .push(format!("restart_container failed: {}", e.message));
            return;
        }
        ours.push(t.elapsed());
        crate::ops::wait_ready(&app, target, Duration::from_secs(30), |_| async {}).await;
        let t = Instant::now();
        let _ = d
            .call(
                "restart_container",
                json!({"service": target}),
                Caller::cli(),
            )
            .await;
        ours_wait.push(t.elapsed());
    }
    let (pd, po) = (percentiles(&docker), percentiles(&ours));
    r.restart = json!({
        "container": target,
        "docker_restart": pd,
        "restart_container": po,
        "overhead_ms_p50": ((po.p50_ms - pd.p50_ms) * 10.0).round() / 10.0,
        "restart_container_until_healthy": percentiles(&ours_wait),
    });
    // Scraper RSS against the live fleet at 1 s.
    if let Some(bin) = sibling("qs-scraper") {
        let child = Command::new(bin)
            .env("QS_STORE", spec)
            .env("QS_SCRAPE_INTERVAL", "1")
            .env("QS_SCRAPER_LISTEN", "off")
            .env("QS_LOG", "error")
            .kill_on_drop(true)
            .spawn();
        if let Ok(mut c) = child {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let early = c.id().and_then(rss_mib);
            tokio::time::sleep(Duration::from_secs(8)).await;
            let later = c.id().and_then(rss_mib);
            if let Value::Object(m) = &mut r.rss_mib {
                m.insert("scraper_after_2s".into(), json!(early));
                m.insert("scraper_after_10s_polling_fleet_at_1s".into(), json!(later));
            }
            let _ = c.kill().await;
        }
    }
}

async fn service_rss(r: &mut Report) {
    let Some(bin) = sibling("qs-service") else {
        r.notes
            .push("service RSS skipped: qs-service is not built".into());
        return;
    };
    let Ok(port) = procs::free_port() else { return };
    let Ok(mut c) = Command::new(bin)
        .env("SERVICE_NAME", "payment-service")
        .env("PORT", port.to_string())
        .env("MEMORY_LIMIT_MB", "256")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    else {
        return;
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_default();
    if !procs::wait_http(
        &client,
        &format!("http://127.0.0.1:{port}/livez"),
        Duration::from_secs(10),
    )
    .await
    {
        r.notes
            .push("service RSS skipped: qs-service did not start".into());
        return;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = c.id().and_then(rss_mib);
    let url = format!("http://127.0.0.1:{port}/pay");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let _ = client
                    .post(&url)
                    .json(&json!({"amount": 12.5}))
                    .send()
                    .await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let loaded = c.id().and_then(rss_mib);
    if let Value::Object(m) = &mut r.rss_mib {
        m.insert("service_idle".into(), json!(idle));
        m.insert("service_after_2000_requests".into(), json!(loaded));
    }
    let _ = c.kill().await;
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "–".into())
}

/// The human table.
pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    line(format!(
        "machine: {} CPUs, {}",
        r.machine["cpus"],
        r.machine["cpu"].as_str().unwrap_or("?")
    ));
    line(format!(
        "store: {} metric samples, {} log lines, {:.0} MB",
        r.store["metric_samples"],
        r.store["log_lines"],
        r.store["bytes"].as_f64().unwrap_or(0.0) / 1e6
    ));
    line(String::new());
    line(format!(
        "{:<46} {:>9} {:>9} {:>9}",
        "measure", "p50 ms", "p95 ms", "p99 ms"
    ));
    if let Some(c) = r.cold_start {
        line(format!(
            "{:<46} {:>9.2} {:>9.2} {:>9.2}",
            format!("stdio cold start → tools/list ({} runs)", c.n),
            c.p50_ms,
            c.p95_ms,
            c.p99_ms
        ));
    }
    for (name, p) in &r.reads {
        line(format!(
            "{:<46} {:>9.2} {:>9.2} {:>9.2}",
            name, p.p50_ms, p.p95_ms, p.p99_ms
        ));
    }
    for h in &r.http {
        line(format!(
            "{:<46} {:>9} {:>9} {:>9}",
            format!(
                "HTTP {} sessions: {} calls/s",
                h["sessions"], h["calls_per_second"]
            ),
            h["latency"]["p50_ms"],
            h["latency"]["p95_ms"],
            h["latency"]["p99_ms"]
        ));
    }
    if r.restart.is_object() {
        for k in [
            "docker_restart",
            "restart_container",
            "restart_container_until_healthy",
        ] {
            let p = &r.restart[k];
            line(format!(
                "{:<46} {:>9} {:>9} {:>9}",
                k, p["p50_ms"], p["p95_ms"], p["p99_ms"]
            ));
        }
        line(format!(
            "restart overhead over docker's own (p50): {} ms",
            r.restart["overhead_ms_p50"]
        ));
    }
    line(String::new());
    line(format!(
        "tools/list: {} tools, {} bytes ≈ {} tokens",
        r.tools_list["tools"], r.tools_list["bytes"], r.tools_list["approx_tokens"]
    ));
    for (k, v) in ["metrics", "logs"].iter().map(|k| (k, &r.ingest[k])) {
        line(format!(
            "ingest {k}: {:.0} docs/s (batches of {})",
            v["per_second"].as_f64().unwrap_or(0.0),
            v["batch"]
        ));
    }
    if let Value::Object(m) = &r.rss_mib {
        for (k, v) in m {
            line(format!("RSS {k}: {} MiB", fmt_opt(v.as_f64())));
        }
    }
    for p in &r.peers {
        line(format!(
            "peer {}: cold start p50 {} ms, read ({}) p50 {} ms, restart ({}) {} ms{}",
            p.name,
            fmt_opt(p.cold_start_to_tools_list.map(|c| c.p50_ms)),
            p.read_tool.as_deref().unwrap_or("none"),
            fmt_opt(p.read_call.map(|c| c.p50_ms)),
            p.restart_tool.as_deref().unwrap_or("none"),
            fmt_opt(p.restart_ms),
            p.note
                .as_ref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        ));
    }
    for n in &r.notes {
        line(format!("note: {n}"));
    }
    t
}
