//! The Prometheus rows of `bench`: a real Prometheus (Debian's) holding a day of 5 s
//! samples for the fleet's four services, backfilled with `promtool tsdb
//! create-blocks-from openmetrics`; `query_metrics` 1 h and 24 h through it (in process,
//! through the same dispatch as MCP), and the time from Alertmanager's POST to the
//! incident written (over HTTP, the server's whole webhook path including detection over
//! Prometheus and the runbook lookup).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::procs::{free_port, percentiles, wait_http};
use super::report::Report;
use crate::app::App;
use crate::caller::Caller;
use crate::config::{Config, MetricsConfig};
use crate::dispatch::Dispatcher;

const SERVICES: [&str; 4] = [
    "payment-service",
    "checkout-service",
    "auth-service",
    "inventory-service",
];
const STEP: i64 = 5;
const DAY: i64 = 86_400;
const BUCKETS: [(&str, f64); 12] = [
    ("0.005", 0.20),
    ("0.01", 0.45),
    ("0.025", 0.75),
    ("0.05", 0.90),
    ("0.1", 0.97),
    ("0.25", 0.99),
    ("0.5", 0.995),
    ("1", 0.999),
    ("2.5", 1.0),
    ("5", 1.0),
    ("10", 1.0),
    ("+Inf", 1.0),
];
const TOKEN: &str = "bench-alert-token";

/// Runs the section, or says in `notes` why it could not.
pub async fn section(r: &mut Report, exe: &Path, spec: &str, quick: bool) {
    if let Err(e) = run(r, exe, spec, quick).await {
        r.notes.push(format!("Prometheus rows not run: {e}"));
    }
}

async fn run(r: &mut Report, exe: &Path, spec: &str, quick: bool) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("qs-bench-prom-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let om = dir.path().join("day.om");
    let end = Utc::now().timestamp() - 60;
    let samples = write_day(&om, end).map_err(|e| format!("writing {}: {e}", om.display()))?;
    let data = dir.path().join("data");
    eprintln!("backfilling Prometheus with {samples} samples (a day at 5 s, 4 services)");
    let t = Instant::now();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&data)
        .output()
        .await
        .map_err(|e| format!("promtool (scripts/setup.sh installs Debian's prometheus): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "promtool failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let backfill_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&om);
    let port = free_port().map_err(|e| e.to_string())?;
    let _prom = start(dir.path(), &data, port).await?;
    let url = format!("http://127.0.0.1:{port}");

    let mut cfg = Config::local(spec);
    cfg.docker_hosts = vec![quantumstate_fleet::HostSpec::at(
        "unix:///nonexistent/quantumstate-bench.sock",
    )];
    cfg.services = SERVICES.iter().map(|s| s.to_string()).collect();
    cfg.metrics = MetricsConfig::parse(Some(&format!("prometheus={url}")), None, 5000)
        .map_err(|e| e.message)?;
    let app = App::new(cfg, tokio_util::sync::CancellationToken::new());
    let d = Dispatcher::new(app);
    let runs = if quick { 40 } else { 200 };
    let mut read_points = serde_json::Map::new();
    for (window, points) in [("1h", 60), ("24h", 200)] {
        let args = json!({"service": "payment-service", "metric_type": "memory_percent", "window": window, "max_points": points});
        let first = d
            .call("query_metrics", args.clone(), Caller::cli())
            .await
            .map_err(|e| format!("query_metrics {window}: {}", e.message))?;
        let count = first["summary"]["count"].as_u64().unwrap_or(0);
        let mut lat = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            d.call("query_metrics", args.clone(), Caller::cli())
                .await
                .map_err(|e| format!("query_metrics {window}: {}", e.message))?;
            lat.push(t.elapsed());
        }
        read_points.insert(window.into(), count.into());
        r.reads.push((
            format!("query_metrics {window}, Prometheus (in process, {runs} runs)"),
            percentiles(&lat),
        ));
    }
    let alerts = alert_latency(exe, spec, &url, if quick { 10 } else { 30 }).await?;
    r.reads.push((
        format!("alert → incident (HTTP, {} runs)", alerts.n),
        alerts,
    ));
    r.prometheus = json!({
        "url": url, "services": SERVICES.len(), "step_seconds": STEP, "samples": samples,
        "backfill_seconds": (backfill_s * 10.0).round() / 10.0,
        "points_read": read_points,
        "version": version().await,
    });
    Ok(())
}

/// A day of 5 s samples ending at `end` (unix seconds) in OpenMetrics text: memory and CPU
/// gauges, `up`, request and error counters and the request-duration histogram.
fn write_day(path: &Path, end: i64) -> std::io::Result<u64> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let start = end - DAY;
    let mut n = 0u64;
    let times = || (start..=end).step_by(STEP as usize);
    let wave = |t: i64, i: usize| ((t as f64 / 3600.0) + i as f64).sin();
    for (name, base) in [
        ("quantumstate_service_memory_percent", 45.0),
        ("quantumstate_service_cpu_percent", 20.0),
    ] {
        writeln!(w, "# TYPE {name} gauge")?;
        for (i, s) in SERVICES.iter().enumerate() {
            for t in times() {
                writeln!(
                    w,
                    "{name}{{service=\"{s}\"}} {:.3} {t}",
                    base + 8.0 * wave(t, i)
                )?;
                n += 1;
            }
        }
    }
    writeln!(w, "# TYPE up gauge")?;
    for s in SERVICES {
        for t in times() {
            writeln!(w, "up{{service=\"{s}\"}} 1 {t}")?;
            n += 1;
        }
    }
    for (name, per_step) in [
        ("quantumstate_service_requests", 25.0),
        ("quantumstate_service_request_errors", 0.05),
    ] {
        writeln!(w, "# TYPE {name} counter")?;
        for s in SERVICES {
            for (k, t) in times().enumerate() {
                writeln!(
                    w,
                    "{name}_total{{service=\"{s}\"}} {:.2} {t}",
                    per_step * k as f64
                )?;
                n += 1;
            }
        }
    }
    let h = "http_server_request_duration_seconds";
    writeln!(w, "# TYPE {h} histogram")?;
    for s in SERVICES {
        for (k, t) in times().enumerate() {
            let total = 25.0 * k as f64;
            for (le, share) in BUCKETS {
                writeln!(
                    w,
                    "{h}_bucket{{service=\"{s}\",le=\"{le}\"}} {:.0} {t}",
                    total * share
                )?;
            }
            writeln!(w, "{h}_count{{service=\"{s}\"}} {total:.0} {t}")?;
            writeln!(w, "{h}_sum{{service=\"{s}\"}} {:.3} {t}", total * 0.012)?;
            n += BUCKETS.len() as u64 + 2;
        }
    }
    writeln!(w, "# EOF")?;
    w.flush()?;
    Ok(n)
}

async fn start(dir: &Path, data: &Path, port: u16) -> Result<Child, String> {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global: {scrape_interval: 5s}\n").map_err(|e| e.to_string())?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=30d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("prometheus: {e}"))?;
    let ready = wait_http(
        &client()?,
        &format!("http://127.0.0.1:{port}/-/ready"),
        Duration::from_secs(60),
    )
    .await;
    if !ready {
        return Err("Prometheus was not ready within 60 s".into());
    }
    Ok(child)
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

async fn version() -> Value {
    match Command::new("prometheus").arg("--version").output().await {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .into(),
        Err(_) => Value::Null,
    }
}

/// POSTs `runs` firing alerts (each a new fingerprint) and times each answer: the
/// incident is written when it comes.
async fn alert_latency(
    exe: &Path,
    spec: &str,
    prom: &str,
    runs: usize,
) -> Result<super::procs::Percentiles, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut child = super::procs::http_server(exe, spec, port)
        .args([
            "--alert-token",
            TOKEN,
            "--metrics-source",
            &format!("prometheus={prom}"),
        ])
        .env("QS_SERVICES", SERVICES.join(","))
        .spawn()
        .map_err(|e| e.to_string())?;
    let http = client()?;
    let base = format!("http://127.0.0.1:{port}");
    if !wait_http(&http, &format!("{base}/healthz"), Duration::from_secs(10)).await {
        return Err("the HTTP server did not start".into());
    }
    let mut lat = Vec::with_capacity(runs);
    for i in 0..runs {
        let body = json!({
            "version": "4", "status": "firing", "receiver": "bench", "groupKey": "{}",
            "alerts": [{
                "status": "firing",
                "labels": {"alertname": "MemoryHigh", "service": SERVICES[i % 4], "anomaly_type": "memory_leak_progressive"},
                "annotations": {"summary": "memory above 80 %"},
                "startsAt": Utc::now().to_rfc3339(), "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": format!("{:016x}", 0xbe00_0000_u64 + i as u64)
            }]
        });
        let t = Instant::now();
        let resp = http
            .post(format!("{base}/api/alerts"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        lat.push(t.elapsed());
        if !status.is_success() || v["received"][0]["outcome"] != "opened" {
            let _ = child.kill().await;
            return Err(format!("the webhook answered {status}: {v}"));
        }
    }
    let _ = child.kill().await;
    Ok(percentiles(&lat))
}
