//! The rows of a fleet over several engines (run `bench` with two or more
//! `--docker-host`): `list_services` across every engine, a restart's overhead on each
//! host over that engine's own restart, and what one engine that stops answering costs
//! the tools of the others (an endpoint that accepts connections and never answers),
//! against the same tool with every engine up.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::procs::percentiles;
use super::report::{BenchOpts, Report};
use crate::caller::Caller;
use crate::dispatch::Dispatcher;
use crate::mutation::Progress;
use quantumstate_fleet::{DockerFleet, FleetOps, FleetRead, HostSpec};

fn app(spec: &str, hosts: Vec<HostSpec>) -> Dispatcher {
    Dispatcher::new(super::reads::app(spec, hosts))
}

async fn timed(d: &Dispatcher, tool: &str, args: &Value, runs: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let _ = d.call(tool, args.clone(), Caller::cli()).await;
        out.push(t.elapsed());
    }
    out
}

pub(super) async fn section(r: &mut Report, spec: &str, o: &BenchOpts) {
    if o.docker_hosts.len() < 2 {
        r.notes.push(
            "multi-host rows skipped: give bench two or more --docker-host (scripts/second-engine.sh start gives host b)".into(),
        );
        return;
    }
    let names: Vec<String> = o.docker_hosts.iter().map(|h| h.name.clone()).collect();
    let d = app(spec, o.docker_hosts.clone());
    let listed = d.call("list_services", json!({}), Caller::cli()).await;
    let Ok(listed) = listed else {
        r.notes
            .push("multi-host rows skipped: list_services failed".into());
        return;
    };
    let runs = if o.quick { 20 } else { 100 };
    let lat = timed(&d, "list_services", &json!({}), runs).await;
    r.reads.push((
        format!(
            "list_services across {} engines (in process, {runs} runs)",
            names.len()
        ),
        percentiles(&lat),
    ));
    restarts(r, &d, &listed, o).await;
    let first = listed["services"].as_array().and_then(|l| {
        l.iter()
            .find(|s| s["host"] == names[0].as_str() && s["state"] == "running")
    });
    match first.and_then(|s| s["name"].as_str()) {
        Some(name) => unreachable_cost(r, spec, o, runs, name).await,
        None => r.notes.push(format!(
            "unreachable-host rows skipped: no running service on {}",
            names[0]
        )),
    }
}

/// On each host, its first running service: Docker's own restart, then ours.
async fn restarts(r: &mut Report, d: &Dispatcher, listed: &Value, o: &BenchOpts) {
    let runs = if o.quick { 3 } else { 20 };
    let services = listed["services"].as_array().cloned().unwrap_or_default();
    let mut per_host = serde_json::Map::new();
    for h in &o.docker_hosts {
        let Some(s) = services
            .iter()
            .find(|s| s["host"] == h.name.as_str() && s["state"] == "running")
        else {
            r.notes
                .push(format!("restart on host {}: no running service", h.name));
            continue;
        };
        let name = s["name"].as_str().unwrap_or_default().to_string();
        let bare = name.rsplit('/').next().unwrap_or(&name).to_string();
        let raw = DockerFleet::on(h.clone());
        let Ok(detail) = raw.inspect(&bare).await else {
            continue;
        };
        let handle = detail.target();
        let (mut docker, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            if raw.restart(&handle, crate::ops::STOP_GRACE).await.is_err() {
                break;
            }
            docker.push(t.elapsed());
            crate::ops::wait_ready(&raw, &handle, Duration::from_secs(30), &Progress::none()).await;
            let args = json!({"service": name, "wait_healthy": false});
            let t = Instant::now();
            if let Err(e) = d.call("restart_container", args, Caller::cli()).await {
                r.notes
                    .push(format!("restart on host {}: {}", h.name, e.message));
                break;
            }
            ours.push(t.elapsed());
            crate::ops::wait_ready(&raw, &handle, Duration::from_secs(30), &Progress::none()).await;
        }
        let (pd, po) = (percentiles(&docker), percentiles(&ours));
        r.reads.push((
            format!(
                "restart_container on host {} (in process, {} runs)",
                h.name, po.n
            ),
            po,
        ));
        per_host.insert(
            h.name.clone(),
            json!({"service": name, "docker_restart": pd, "restart_container": po,
                   "overhead_ms_p50": ((po.p50_ms - pd.p50_ms) * 10.0).round() / 10.0}),
        );
    }
    if let Value::Object(m) = &mut r.restart {
        m.insert("per_host".into(), Value::Object(per_host));
    } else {
        r.restart = json!({ "per_host": per_host });
    }
}

/// The engines plus one that accepts connections and never answers: the first
/// `list_services` (which finds it out), then every later call of the others' tools.
async fn unreachable_cost(r: &mut Report, spec: &str, o: &BenchOpts, runs: usize, other: &str) {
    let Ok(hung) = std::net::TcpListener::bind("127.0.0.1:0") else {
        return;
    };
    let Ok(addr) = hung.local_addr() else { return };
    let mut hosts = o.docker_hosts.clone();
    match HostSpec::parse(&format!("hung=tcp://{addr}")) {
        Ok(h) => hosts.push(h),
        Err(e) => return r.notes.push(format!("unreachable-host rows skipped: {e}")),
    }
    let d = app(spec, hosts);
    let t = Instant::now();
    let _ = d.call("list_services", json!({}), Caller::cli()).await;
    let first = t.elapsed();
    r.reads.push((
        "list_services, one engine hung: first call (in process, 1 run)".into(),
        percentiles(&[first]),
    ));
    let lat = timed(&d, "list_services", &json!({}), runs).await;
    r.reads.push((
        format!("list_services, one engine hung: later calls (in process, {runs} runs)"),
        percentiles(&lat),
    ));
    // A read on another host's service, with every engine up and then with one hung.
    let args = json!({"service": other});
    let up = app(spec, o.docker_hosts.clone());
    for (label, d) in [("all engines up", &up), ("one engine hung", &d)] {
        let lat = timed(d, "get_service_health", &args, runs).await;
        r.reads.push((
            format!("get_service_health {other}, {label} (in process, {runs} runs)"),
            percentiles(&lat),
        ));
    }
    drop(hung);
}
