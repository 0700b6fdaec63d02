//! The sections that need the demo fleet up: restart overhead over Docker's own restart
//! (through the same client library, outside QuantumState), the scraper's RSS against the
//! live fleet, and a service's RSS.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Command;

use super::procs::{self, percentiles, rss_mib, sibling};
use super::report::{BenchOpts, Report};
use crate::caller::Caller;
use crate::dispatch::Dispatcher;
use crate::mutation::Progress;
use quantumstate_fleet::{FleetOps, FleetRead, HostSpec};

pub(super) async fn fleet_section(r: &mut Report, spec: &str, o: &BenchOpts) {
    let app = super::reads::app(spec, o.docker_hosts.clone());
    // With several engines, named with its host (another may run a payment-service too).
    let target = match &o.docker_hosts[..] {
        [first, _, ..] => format!("{}/payment-service", first.name),
        _ => "payment-service".to_string(),
    };
    let target = target.as_str();
    // The baseline: Docker's own restart through the same client library, outside
    // QuantumState (no road, no audit) — what our restart is compared with.
    let first = o.docker_hosts.first().cloned();
    let raw = quantumstate_fleet::DockerFleet::on(first.unwrap_or_else(HostSpec::local));
    let Ok(detail) = raw.inspect("payment-service").await else {
        r.notes.push("restart overhead and fleet RSS skipped: Docker or the demo fleet is not up (run scripts/demo.sh)".into());
        return;
    };
    let handle = detail.target();
    let d = Dispatcher::new(app.clone());
    let runs = if o.quick { 3 } else { 20 };
    let (mut docker, mut ours, mut ours_wait) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        if let Err(e) = raw.restart(&handle, crate::ops::STOP_GRACE).await {
            r.notes.push(format!("docker restart failed: {e}"));
            return;
        }
        docker.push(t.elapsed());
        crate::ops::wait_ready(&raw, &handle, Duration::from_secs(30), &Progress::none()).await;
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
        crate::ops::wait_ready(&raw, &handle, Duration::from_secs(30), &Progress::none()).await;
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

pub(super) async fn service_rss(r: &mut Report) {
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
