//! Docker Swarm services on host "b" (a second engine in its own network namespace, a
//! single-node swarm manager: `scripts/second-engine.sh swarm`), through the tools:
//! a managed 2-replica service is listed with its replicas and tasks; `restart_container`
//! on it is a rolling restart that keeps a replica running at every sample; deploy_version
//! and swarm's rollback change and restore its version; `scale_service` goes 2→3→2; its
//! logs and stats come from its tasks; a fault pauses one task (the reaper unpauses it)
//! or kills all (swarm replaces them); swarm's own scale is followed.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, ensure};
use quantumstate_tests::qs::{Mcp, TempStore};
use quantumstate_tests::{engine_b, poll_until};
use serde_json::{Value, json};

const NAME: &str = "web-service";

fn swarm_service<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["swarm_services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

/// Polls `list_services` until `check` holds for the swarm service `name` (bounded).
async fn until_swarm(
    mcp: &Mcp,
    name: &str,
    within: Duration,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let last = RefCell::new(Value::Null);
    let ok = poll_until(within, Duration::from_secs(1), || {
        let last = &last;
        let check = &check;
        async move {
            let list = mcp.ok("list_services", json!({})).await.unwrap_or_default();
            let ok = swarm_service(&list, name).is_some_and(check);
            *last.borrow_mut() = list;
            ok
        }
    })
    .await;
    let list = last.into_inner();
    ensure!(
        ok,
        "swarm service {name} not as expected within {within:?}: {list}"
    );
    Ok(list)
}

/// The running containers of the service's tasks on b, by `docker ps` (not our tools).
async fn running_tasks() -> anyhow::Result<Vec<String>> {
    let label = format!("label=com.docker.swarm.service.name={NAME}");
    let out =
        engine_b::docker(&["ps", "-q", "--filter", &label, "--filter", "status=running"]).await?;
    Ok(out.split_whitespace().map(str::to_string).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_service_is_listed_rolled_restarted_rolled_back_and_scaled() {
    if !quantumstate_tests::docker_or_skip().await {
        return;
    }
    engine_b::swarm().await.expect("engine b runs a swarm");
    let _ = engine_b::docker(&["service", "rm", NAME]).await;
    let outcome = drive().await;
    let _ = engine_b::docker(&["service", "rm", NAME]).await;
    outcome.expect("the swarm service is driven through the tools");
}

async fn create() -> anyhow::Result<()> {
    engine_b::docker(&[
        "service",
        "create",
        "-d",
        "--no-resolve-image",
        "--name",
        NAME,
        "--label",
        "quantumstate.managed=true",
        "--label",
        &format!("quantumstate.service={NAME}"),
        "--replicas",
        "2",
        "--stop-grace-period",
        "3s",
        "-e",
        "ROLE=payment",
        "-e",
        &format!("SERVICE_NAME={NAME}"),
        "-e",
        "PORT=8021",
        "-e",
        "BIND_ADDR=0.0.0.0",
        "-e",
        "SERVICE_VERSION=1.0.0",
        "quantumstate/qs-service:local",
    ])
    .await
    .map(|_| ())
}

/// A one-replica service publishing its port on the node (`mode=host`: swarm's routing
/// mesh needs IPVS, which these machines' kernels lack): `get_service_health` reads its
/// /health there.
async fn health_through_the_published_port(mcp: &Mcp) -> anyhow::Result<()> {
    let name = "probe-service";
    let _ = engine_b::docker(&["service", "rm", name]).await;
    engine_b::docker(&[
        "service",
        "create",
        "-d",
        "--no-resolve-image",
        "--name",
        name,
        "--label",
        "quantumstate.managed=true",
        "--publish",
        "mode=host,published=8031,target=8031",
        "-e",
        "ROLE=payment",
        "-e",
        &format!("SERVICE_NAME={name}"),
        "-e",
        "PORT=8031",
        "-e",
        "BIND_ADDR=0.0.0.0",
        "-e",
        "SERVICE_VERSION=1.0.0",
        "quantumstate/qs-service:local",
    ])
    .await?;
    let outcome = async {
        let list = until_swarm(mcp, name, Duration::from_secs(60), |s| s["running"] == 1).await?;
        let svc = swarm_service(&list, name).context("listed")?;
        ensure!(svc["published_port"] == 8031, "{svc}");
        let h = mcp
            .ok("get_service_health", json!({"service": name}))
            .await?;
        ensure!(
            h["status"] == "healthy"
                && h["health_source"] == "service"
                && h["health"]["status"] == "healthy"
                && h["container"]["running"] == true,
            "its /health answered through the published port: {h}"
        );
        Ok(())
    }
    .await;
    let _ = engine_b::docker(&["service", "rm", name]).await;
    outcome
}

async fn drive() -> anyhow::Result<()> {
    create().await?;
    let store = TempStore::new()?;
    // Restart, deploy, rollback and kill each use the service's restart budget: room for all.
    let mut args = engine_b::server_args().to_vec();
    args.extend(["--restart-budget", "10/300s"]);
    let mcp = Mcp::start(&store, &args).await?;
    listed(&mcp).await?;
    health_through_the_published_port(&mcp).await?;
    rolling_restart(&mcp).await?;
    versions(&mcp).await?;
    scale(&mcp).await?;
    tasks_read(&mcp).await?;
    faults(&mcp).await?;
    refusals(&mcp).await?;
    // Swarm's own scale is followed: one replica wanted, one running.
    engine_b::docker(&["service", "scale", "-d", &format!("{NAME}=1")]).await?;
    until_swarm(&mcp, NAME, Duration::from_secs(60), |s| {
        s["desired"] == 1
            && s["running"] == 1
            && s["tasks"].as_array().is_some_and(|t| t.len() == 1)
    })
    .await?;
    let audit = mcp
        .ok("list_audit", json!({"tool": "scale_service"}))
        .await?;
    let recs = audit["records"].as_array().cloned().unwrap_or_default();
    ensure!(
        recs.iter()
            .any(|r| r["dry_run"] == false && r["outcome"] == "ok" && r["host"] == "b"),
        "scale_service is audited with its host: {audit}"
    );
    mcp.stop().await;
    Ok(())
}

async fn listed(mcp: &Mcp) -> anyhow::Result<()> {
    let list = until_swarm(mcp, NAME, Duration::from_secs(120), |s| {
        s["running"] == 2 && s["desired"] == 2
    })
    .await?;
    let web = swarm_service(&list, NAME).context("listed")?;
    ensure!(
        web["health"] == "healthy" && web["host"] == "b" && web["version"] == "1.0.0",
        "{web}"
    );
    ensure!(
        web["mode"] == "replicated"
            && web["update_parallelism"] == 1
            && web["update_order"] == "stop-first",
        "{web}"
    );
    let tasks = web["tasks"].as_array().cloned().unwrap_or_default();
    ensure!(
        tasks.len() == 2
            && tasks
                .iter()
                .all(|t| t["state"] == "running" && t["container_id"].is_string()),
        "{web}"
    );
    let per_node: u64 = web["tasks_per_node"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    ensure!(
        per_node == 2,
        "tasks per node add up to the replicas: {web}"
    );
    Ok(())
}

/// A rolling restart replaces both tasks while `docker ps` on b, sampled every 100 ms,
/// never finds fewer than one running.
async fn rolling_restart(mcp: &Mcp) -> anyhow::Result<()> {
    let plan = mcp
        .ok(
            "restart_container",
            json!({"service": NAME, "dry_run": true}),
        )
        .await?;
    let ops = plan["plan"]["operations"].to_string();
    ensure!(
        ops.contains("service update --force")
            && ops.contains("1 of 2 replicas at a time")
            && ops.contains("at least 1 of 2 replicas serve throughout"),
        "the plan says how many at a time and the capacity kept: {plan}"
    );
    ensure!(
        plan["plan"]["hosts"].to_string().contains("\"b\""),
        "{plan}"
    );
    let before = running_tasks().await?;
    ensure!(before.len() == 2, "two tasks run before: {before:?}");
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
            while !stop.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
                if let Ok(r) = running_tasks().await {
                    samples.push(r.len());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            samples
        })
    };
    let r = mcp
        .ok(
            "restart_container",
            json!({"service": NAME, "timeout_seconds": 120}),
        )
        .await;
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.await?;
    let r = r?;
    let rolled = &r["result"]["rolling"];
    eprintln!("rolling restart: {rolled}; running tasks sampled: {samples:?}");
    ensure!(
        rolled["state"] == "completed" && rolled["ready"] == true && rolled["running"] == 2,
        "the rolling restart completed: {r}"
    );
    ensure!(rolled["min_running_seen"].as_u64() >= Some(1), "{r}");
    ensure!(samples.len() >= 10, "sampled while it rolled: {samples:?}");
    ensure!(
        samples.iter().all(|n| *n >= 1),
        "a replica ran at every sample: {samples:?}"
    );
    let after = running_tasks().await?;
    ensure!(
        after.len() == 2 && after.iter().all(|id| !before.contains(id)),
        "both tasks were replaced: {before:?} → {after:?}"
    );
    Ok(())
}

/// deploy_version rolls 1.1.0 out; rollback_deployment is swarm's rollback to 1.0.0.
async fn versions(mcp: &Mcp) -> anyhow::Result<()> {
    let d = mcp
        .ok(
            "deploy_version",
            json!({"service": NAME, "version": "1.1.0"}),
        )
        .await?;
    ensure!(
        d["result"]["to_version"] == "1.1.0"
            && d["result"]["from_version"] == "1.0.0"
            && d["result"]["rolling"]["state"] == "completed",
        "{d}"
    );
    until_swarm(mcp, NAME, Duration::from_secs(30), |s| {
        s["version"] == "1.1.0" && s["previous_version"] == "1.0.0" && s["running"] == 2
    })
    .await?;
    let plan = mcp
        .ok(
            "rollback_deployment",
            json!({"service": NAME, "dry_run": true}),
        )
        .await?;
    ensure!(
        plan["plan"]["operations"]
            .to_string()
            .contains("previous spec (version 1.0.0)"),
        "{plan}"
    );
    let r = mcp
        .ok("rollback_deployment", json!({"service": NAME}))
        .await?;
    ensure!(
        r["result"]["rolling"]["state"] == "rollback_completed"
            && r["result"]["to_version"] == "1.0.0",
        "swarm rolled back: {r}"
    );
    until_swarm(mcp, NAME, Duration::from_secs(30), |s| {
        s["version"] == "1.0.0" && s["running"] == 2
    })
    .await?;
    Ok(())
}

async fn scale(mcp: &Mcp) -> anyhow::Result<()> {
    for n in [3, 2] {
        let r = mcp
            .ok("scale_service", json!({"service": NAME, "replicas": n}))
            .await?;
        let rolled = &r["result"];
        ensure!(
            rolled["state"] == "scaled" && rolled["running"] == n && rolled["ready"] == true,
            "scaled to {n}: {r}"
        );
        ensure!(
            running_tasks().await?.len() == n as usize,
            "docker ps agrees"
        );
    }
    Ok(())
}

async fn tasks_read(mcp: &Mcp) -> anyhow::Result<()> {
    let stats = mcp.ok("container_stats", json!({"service": NAME})).await?;
    ensure!(
        stats["running"] == true
            && stats["container_id"]
                .as_str()
                .is_some_and(|c| c.split(',').count() == 2),
        "stats sum the two tasks: {stats}"
    );
    let logs = mcp
        .ok("container_logs", json!({"service": NAME, "tail": 50}))
        .await?;
    ensure!(
        logs.to_string().contains(NAME),
        "the tasks' log lines are read: {logs}"
    );
    Ok(())
}

async fn paused_tasks() -> anyhow::Result<usize> {
    let label = format!("label=com.docker.swarm.service.name={NAME}");
    let out =
        engine_b::docker(&["ps", "-q", "--filter", &label, "--filter", "status=paused"]).await?;
    Ok(out.split_whitespace().count())
}

/// Pausing one task leaves the other serving, and the reaper unpauses it at the TTL;
/// killing all of them makes swarm replace both.
async fn faults(mcp: &Mcp) -> anyhow::Result<()> {
    let f = mcp
        .ok(
            "inject_fault",
            json!({"service": NAME, "kind": "pause", "ttl_seconds": 4}),
        )
        .await?;
    ensure!(
        f["result"]["detail"]["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 1),
        "{f}"
    );
    ensure!(paused_tasks().await? == 1, "one task is paused: {f}");
    ensure!(running_tasks().await?.len() == 1, "the other still runs");
    let unpaused = poll_until(
        Duration::from_secs(30),
        Duration::from_millis(500),
        || async { paused_tasks().await.ok() == Some(0) },
    )
    .await;
    ensure!(unpaused, "the reaper unpaused the task at its TTL");
    let before = running_tasks().await?;
    let k = mcp
        .ok(
            "inject_fault",
            json!({"service": NAME, "kind": "kill", "ttl_seconds": 60, "tasks": "all"}),
        )
        .await?;
    ensure!(
        k["result"]["detail"]["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 2),
        "{k}"
    );
    let replaced = poll_until(Duration::from_secs(60), Duration::from_secs(1), || async {
        running_tasks()
            .await
            .is_ok_and(|r| r.len() == 2 && r.iter().all(|id| !before.contains(id)))
    })
    .await;
    ensure!(replaced, "swarm replaced both killed tasks");
    until_swarm(mcp, NAME, Duration::from_secs(30), |s| s["running"] == 2).await?;
    Ok(())
}

async fn refusals(mcp: &Mcp) -> anyhow::Result<()> {
    for (tool, args, says) in [
        (
            "scale_service",
            json!({"service": NAME, "replicas": 0}),
            "1 to 20",
        ),
        (
            "scale_service",
            json!({"service": NAME, "replicas": 21}),
            "1 to 20",
        ),
        (
            "scale_service",
            json!({"service": NAME, "replicas": 2}),
            "already wants 2",
        ),
        ("stop_container", json!({"service": NAME}), "swarm service"),
        (
            "inject_fault",
            json!({"service": NAME, "kind": "latency", "ttl_seconds": 5}),
            "pause or kill",
        ),
        (
            "inject_fault",
            json!({"service": NAME, "kind": "pause", "ttl_seconds": 5, "tasks": "some"}),
            "one or all",
        ),
        (
            "rollback_deployment",
            json!({"service": NAME, "to_version": "0.9.0"}),
            "previous spec",
        ),
    ] {
        let e = mcp
            .call(tool, args.clone())
            .await?
            .err()
            .with_context(|| format!("{tool} {args} is refused"))?;
        ensure!(e.to_string().contains(says), "{tool} {args}: {e}");
    }
    Ok(())
}
