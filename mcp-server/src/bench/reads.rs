//! The read rows: the seeded store (a day of samples, one a second for the fleet's 40
//! series at the default size, and six days before it at one a minute, so the 7 d row reads
//! seven days), the read tools measured through the production dispatch (the service-name
//! check included) with the configured Docker engines, and the same reads with Docker hung
//! (an endpoint that accepts connections and never answers), interleaved with the normal
//! ones.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use super::data;
use super::procs::percentiles;
use super::report::{BenchOpts, Report};
use crate::app::App;
use crate::caller::Caller;
use crate::config::{Budget, Config};
use crate::dispatch::Dispatcher;
use quantumstate_fleet::HostSpec;

/// An app on the bench's store and these engines, with a restart budget the restart rows
/// cannot exhaust.
pub(super) fn app(spec: &str, hosts: Vec<HostSpec>) -> App {
    let mut cfg = Config::local(spec);
    cfg.docker_hosts = hosts;
    cfg.restart_budget = Budget {
        max: 1000,
        window: Duration::from_secs(300),
    };
    App::new(cfg, tokio_util::sync::CancellationToken::new())
}

/// The reads measured, with their row labels.
fn reads() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "query_metrics 1 h, raw samples",
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "1h", "max_points": 60}),
        ),
        (
            "query_metrics 6 h, the longest raw window",
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "6h", "max_points": 360}),
        ),
        (
            "query_metrics 24 h, one-minute rollups",
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "24h", "max_points": 200}),
        ),
        (
            "query_metrics 7 d, one-minute rollups",
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent", "window": "7d", "max_points": 500}),
        ),
        (
            "search_logs 24 h, service + level",
            "search_logs",
            json!({"service": "auth-service", "level": "ERROR", "window": "24h", "limit": 50}),
        ),
        (
            "search_logs 24 h, full text",
            "search_logs",
            json!({"text": "upstream timeout", "window": "24h", "limit": 50}),
        ),
        (
            "find_similar_incidents, lexical",
            "find_similar_incidents",
            json!({"description": "payment service heap keeps growing, GC pauses, after deploy"}),
        ),
        (
            "detect_anomalies, whole fleet",
            "detect_anomalies",
            json!({}),
        ),
    ]
}

/// Fills the store; returns the dispatcher the other in-process rows use.
pub(super) async fn section(
    r: &mut Report,
    spec: &str,
    db: &std::path::Path,
    o: &BenchOpts,
    iters: usize,
) -> Result<Dispatcher, String> {
    eprintln!(
        "generating {} metric samples over a day, 6 days before at one a minute, and {} log lines (seed {}) into {}",
        o.metrics,
        o.logs,
        o.seed,
        db.display()
    );
    let store_app = app(spec, o.docker_hosts.clone());
    let store = store_app.store().await.map_err(|e| e.message)?;
    let now = Utc::now();
    let m = data::metrics(store.as_ref(), o.metrics, o.seed, now)
        .await
        .map_err(|e| e.to_string())?;
    let h = data::history(store.as_ref(), 6, o.seed, now)
        .await
        .map_err(|e| e.to_string())?;
    let l = data::logs(store.as_ref(), o.logs, o.seed, now)
        .await
        .map_err(|e| e.to_string())?;
    quantumstate_store::seed::seed(store.as_ref(), now)
        .await
        .map_err(|e| e.to_string())?;
    r.ingest = json!({"metrics": m, "history": h, "logs": l});
    let size = [db.to_path_buf(), db.with_extension("db-wal")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum::<u64>();
    r.store = json!({
        "backend": "sqlite",
        "metric_samples": m.documents + h.documents,
        "last_day_samples": m.documents,
        "older_samples_one_a_minute": h.documents,
        "log_lines": l.documents,
        "bytes": size,
    });

    let d = Dispatcher::new(store_app);
    let docker = match tokio::time::timeout(
        Duration::from_secs(5),
        d.call("list_services", json!({}), Caller::cli()),
    )
    .await
    {
        Ok(Ok(v)) if v["services"].as_array().is_some_and(|s| !s.is_empty()) => "Docker reachable",
        _ => {
            r.notes.push(
                "read rows: Docker was not reachable (no demo fleet): the service-name check read the store"
                    .into(),
            );
            "Docker not reachable"
        }
    };
    for (label, tool, args) in reads() {
        let lat = timed(&d, tool, &args, iters).await?;
        r.reads.push((
            format!("{label} (in process, {docker}, {iters} runs)"),
            percentiles(&lat),
        ));
    }
    hung(r, spec, &d, docker, iters).await?;
    Ok(d)
}

async fn timed(
    d: &Dispatcher,
    tool: &str,
    args: &Value,
    runs: usize,
) -> Result<Vec<Duration>, String> {
    let _ = d.call(tool, args.clone(), Caller::cli()).await; // warm caches
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        out.push(timed_once(d, tool, args).await?);
    }
    Ok(out)
}

/// `query_metrics` 1 h with Docker hung, interleaved call by call with the same read on the
/// configured engines.
async fn hung(
    r: &mut Report,
    spec: &str,
    normal: &Dispatcher,
    docker: &str,
    iters: usize,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sock = dir.path().join("hung-docker.sock");
    let listener = tokio::net::UnixListener::bind(&sock).map_err(|e| e.to_string())?;
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let host = HostSpec::parse(&format!("unix://{}", sock.display())).map_err(|e| e.to_string())?;
    let hung = Dispatcher::new(app(spec, vec![host]));
    let (tool, args) = (
        "query_metrics",
        json!({"service": "payment-service", "metric_type": "memory_percent", "window": "1h", "max_points": 60}),
    );
    let first = Instant::now();
    let _ = hung.call(tool, args.clone(), Caller::cli()).await;
    let first = first.elapsed();
    let (mut a, mut b) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for _ in 0..iters {
        a.push(timed_once(normal, tool, &args).await?);
        b.push(timed_once(&hung, tool, &args).await?);
    }
    r.reads.push((
        "query_metrics 1 h, Docker hung: first call (in process, 1 run)".into(),
        percentiles(&[first]),
    ));
    r.reads.push((
        format!("query_metrics 1 h, {docker}, interleaved (in process, {iters} runs)"),
        percentiles(&a),
    ));
    r.reads.push((
        format!("query_metrics 1 h, Docker hung, interleaved (in process, {iters} runs)"),
        percentiles(&b),
    ));
    holder.abort();
    Ok(())
}

async fn timed_once(d: &Dispatcher, tool: &str, args: &Value) -> Result<Duration, String> {
    let t = Instant::now();
    d.call(tool, args.clone(), Caller::cli())
        .await
        .map_err(|e| format!("{tool}: {}", e.message))?;
    Ok(t.elapsed())
}
