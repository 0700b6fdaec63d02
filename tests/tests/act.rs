//! Act safely, end to end on real containers: restarts that really restart (and count),
//! a leak cleared by a restart, dry runs that change nothing, the restart budget, the
//! managed-label allowlist, faults that end at their TTL (even after a `kill -9` of the
//! server), and the runner executing a queued action written the original agents' way.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use chrono::Utc;
use quantumstate_fleet::DockerFleet;
use quantumstate_mcp::{App, Caller, Config, Dispatcher};
use quantumstate_store::{ActionStatus, RemediationAction, StoreSpec};
use quantumstate_tests::qs::{HttpServer, TempStore};
use quantumstate_tests::stack::{with_fleet, with_stack};
use quantumstate_tests::{docker, poll_until, started_at};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

async fn state(container: &str) -> anyhow::Result<String> {
    Ok(
        docker(&["inspect", "--format", "{{.State.Status}}", container])
            .await?
            .trim()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_really_restarts_counts_and_clears_a_leak() {
    with_stack(|st| async move {
        let before_leak = st.fleet.mem_usage_mib("payment-service").await?;
        st.mcp
            .ok("inject_fault", json!({"service": "payment-service", "kind": "memory_leak", "ttl_seconds": 300, "mb_per_second": 20, "max_mb": 120}))
            .await?;
        let grown = poll_until(Duration::from_secs(20), Duration::from_secs(1), || async {
            st.fleet.mem_usage_mib("payment-service").await.is_ok_and(|m| m > before_leak + 60.0)
        })
        .await;
        ensure!(grown, "the leak grows RSS by 60 MiB");
        let leaked = st.fleet.mem_usage_mib("payment-service").await?;

        // A dry run changes nothing and returns a plan.
        let t0 = started_at("payment-service").await?;
        let dry = st.mcp.ok("restart_container", json!({"service": "payment-service", "dry_run": true})).await?;
        ensure!(dry["dry_run"] == true && dry["plan"]["plan_id"].as_str().is_some_and(|p| p.starts_with("plan-")), "{dry}");
        ensure!(dry["plan"]["containers"] == json!(["payment-service"]), "{dry}");
        ensure!(started_at("payment-service").await? == t0, "the dry run restarted nothing");

        let r = st.mcp.ok("restart_container", json!({"service": "payment-service"})).await?;
        let res = &r["result"];
        ensure!(res["readiness"]["ready"] == true && res["readiness"]["health"] == "healthy", "{r}");
        ensure!(res["started_at_after"] != res["started_at_before"], "a new start time: {r}");
        ensure!(started_at("payment-service").await? != t0, "Docker agrees it restarted");
        ensure!(res["restart_count"] == 1, "our own count went 0 → 1 (Docker's ignores docker restart): {r}");
        let after = st.fleet.mem_usage_mib("payment-service").await?;
        eprintln!("RSS: {before_leak:.1} MiB before the leak, {leaked:.1} MiB leaked, {after:.1} MiB after the restart");
        ensure!(after < leaked - 50.0, "the restart released the leak: {leaked:.1} → {after:.1} MiB");

        let services = st.mcp.ok("list_services", json!({})).await?;
        let pay = services["services"].as_array().into_iter().flatten().find(|s| s["name"] == "payment-service").cloned();
        ensure!(pay.as_ref().is_some_and(|p| p["restart_count"] == 1), "list_services shows it: {pay:?}");

        let audit = st.mcp.ok("list_audit", json!({"tool": "restart_container"})).await?;
        let recs = audit["records"].as_array().cloned().unwrap_or_default();
        ensure!(recs.iter().any(|r| r["dry_run"] == true && r["outcome"] == "ok"), "the dry run is audited: {audit}");
        ensure!(recs.iter().any(|r| r["dry_run"] == false && r["outcome"] == "ok" && r["who"] == "stdio"), "the restart is audited: {audit}");
        Ok(())
    })
    .await;
}

/// One `restart_container` costs at most one listing and one inspection before Docker
/// restarts the container; after it, only the health polls (inspections) follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_restart_costs_one_list_and_one_inspect_before_the_restart() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        let fleet = Arc::new(DockerFleet::new(None));
        let app = App::with_fleet(
            Config::local(&store.spec()),
            fleet.clone(),
            CancellationToken::new(),
        );
        let calls = Dispatcher::new(app);
        fleet.record_calls();
        let r = calls
            .call(
                "restart_container",
                json!({"service": "payment-service"}),
                Caller::cli(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ensure!(r["result"]["readiness"]["ready"] == true, "{r}");
        let log: Vec<&str> = fleet.take_calls().iter().map(|c| c.op).collect();
        let at = log
            .iter()
            .position(|op| *op == "restart_container")
            .context("no restart call")?;
        let (before, after) = (&log[..at], &log[at + 1..]);
        let count = |ops: &[&str], op: &str| ops.iter().filter(|o| **o == op).count();
        eprintln!("Docker calls for one restart: {log:?}");
        ensure!(
            count(before, "list_containers") <= 1,
            "at most one list before: {log:?}"
        );
        ensure!(
            count(before, "inspect_container") <= 1,
            "at most one inspect before: {log:?}"
        );
        ensure!(
            before.len() == count(before, "list_containers") + count(before, "inspect_container"),
            "{log:?}"
        );
        ensure!(count(&log, "restart_container") == 1, "{log:?}");
        ensure!(
            after.iter().all(|op| *op == "inspect_container"),
            "only health polls after: {log:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_restart_in_300s_is_refused_with_when_to_retry() {
    with_stack(|st| async move {
        for i in 1..=3 {
            st.mcp
                .ok(
                    "restart_container",
                    json!({"service": "inventory-service", "wait_healthy": false}),
                )
                .await
                .with_context(|| format!("restart {i}"))?;
        }
        let t = started_at("inventory-service").await?;
        let e = st
            .mcp
            .call("restart_container", json!({"service": "inventory-service"}))
            .await?
            .expect_err("refused");
        ensure!(e["error"]["code"] == "rate_limited", "{e}");
        ensure!(
            e["error"]["retry_after_seconds"]
                .as_u64()
                .is_some_and(|s| s > 0 && s <= 300),
            "{e}"
        );
        ensure!(
            e["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("allowed again at"),
            "{e}"
        );
        ensure!(
            started_at("inventory-service").await? == t,
            "the refused restart did nothing"
        );
        // Dry runs are not counted.
        st.mcp
            .ok(
                "restart_container",
                json!({"service": "inventory-service", "dry_run": true}),
            )
            .await?;
        let audit = st
            .mcp
            .ok(
                "list_audit",
                json!({"tool": "restart_container", "outcome": "refused"}),
            )
            .await?;
        ensure!(
            audit["records"].as_array().map(Vec::len) == Some(1),
            "the refusal is audited: {audit}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_without_the_managed_label_is_refused() {
    with_stack(|st| async move {
        let name = "qs-test-unmanaged";
        let _ = docker(&["rm", "-f", name]).await;
        docker(&[
            "run",
            "-d",
            "--name",
            name,
            "-e",
            "SERVICE_NAME=unmanaged",
            "-e",
            "ROLE=inventory",
            "-e",
            "PORT=9999",
            "quantumstate/qs-service:local",
        ])
        .await?;
        let t = started_at(name).await?;
        let outcome = async {
            let e = st
                .mcp
                .call("restart_container", json!({"service": name}))
                .await?
                .expect_err("refused");
            ensure!(e["error"]["code"] == "forbidden", "{e}");
            ensure!(
                e["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("quantumstate.managed"),
                "the refusal names the label: {e}"
            );
            let e = st
                .mcp
                .call("stop_container", json!({"service": name}))
                .await?
                .expect_err("refused");
            ensure!(e["error"]["code"] == "forbidden", "{e}");
            ensure!(
                state(name).await? == "running" && started_at(name).await? == t,
                "nothing happened to it"
            );
            let audit = st
                .mcp
                .ok("list_audit", json!({"outcome": "refused"}))
                .await?;
            ensure!(
                audit["records"].as_array().map(Vec::len).unwrap_or(0) >= 2,
                "refusals are audited: {audit}"
            );
            Ok(())
        }
        .await;
        let _ = docker(&["rm", "-f", name]).await;
        outcome
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_fault_with_a_5s_ttl_is_undone_by_itself() {
    with_stack(|st| async move {
        let r = st
            .mcp
            .ok(
                "inject_fault",
                json!({"service": "inventory-service", "kind": "pause", "ttl_seconds": 8}),
            )
            .await?;
        ensure!(r["result"]["level"] == "container", "{r}");
        ensure!(state("inventory-service").await? == "paused", "paused now");
        let listed = st
            .mcp
            .ok("list_faults", json!({"service": "inventory-service"}))
            .await?;
        ensure!(
            listed["faults"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x["kind"] == "pause")),
            "{listed}"
        );
        // A paused container is said to be paused, and the service's own faults, which
        // cannot be asked for, are said to be missing.
        ensure!(
            listed["unreachable"]
                .as_array()
                .is_some_and(|u| u.iter().any(|x| x["service"] == "inventory-service"
                    && x["reason"].as_str().unwrap_or("").contains("paused"))),
            "{listed}"
        );
        let stats = st
            .mcp
            .ok("container_stats", json!({"service": "inventory-service"}))
            .await?;
        ensure!(
            stats["paused"] == true && stats["running"] == false,
            "{stats}"
        );
        let undone = poll_until(
            Duration::from_secs(20),
            Duration::from_millis(500),
            || async {
                state("inventory-service")
                    .await
                    .is_ok_and(|s| s == "running")
            },
        )
        .await;
        ensure!(undone, "the reaper unpaused it after 8 s");
        let audit = st
            .mcp
            .ok("list_audit", json!({"tool": "undo_fault"}))
            .await?;
        ensure!(
            audit["records"].as_array().is_some_and(|r| r
                .iter()
                .any(|x| x["who"] == "reaper" && x["outcome"] == "ok")),
            "{audit}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_next_read_only_server_undoes_an_expired_container_fault() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        // Approvals are tested on their own; here the kill is the drill's premise.
        let server = HttpServer::start(&store, &["--approval", "off"]).await?;
        let (code, body) = server
            .call(
                "inject_fault",
                json!({"service": "inventory-service", "kind": "kill", "ttl_seconds": 5}),
            )
            .await?;
        ensure!(code == 200, "{code} {body}");
        ensure!(state("inventory-service").await? == "exited", "killed");
        server.kill9().await?;
        // Past the TTL with no server running: nobody undoes it.
        tokio::time::sleep(Duration::from_secs(7)).await;
        ensure!(
            state("inventory-service").await? == "exited",
            "still down while no server runs"
        );
        // The next server is read-only: its reaper still ends the expired fault.
        let server = HttpServer::start(&store, &["--read-only"]).await?;
        let back = poll_until(
            Duration::from_secs(30),
            Duration::from_millis(500),
            || async {
                state("inventory-service")
                    .await
                    .is_ok_and(|s| s == "running")
            },
        )
        .await;
        ensure!(
            back,
            "the restarted (read-only) server's reaper started it again"
        );
        let (_, audit) = server
            .call("list_audit", json!({"tool": "undo_fault"}))
            .await?;
        ensure!(
            audit["records"].as_array().is_some_and(|r| !r.is_empty()),
            "{audit}"
        );
        let (_, faults) = server
            .call("list_faults", json!({"service": "inventory-service"}))
            .await?;
        ensure!(
            faults["faults"]
                .as_array()
                .is_some_and(|f| f.iter().all(|x| x["level"] != "container")),
            "no open container fault: {faults}"
        );
        server.kill9().await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_executes_an_action_queued_the_original_way_within_2s() {
    with_stack(|st| async move {
        let store = quantumstate_store::open(&StoreSpec::Sqlite(st.store.path())).await?;
        let t0 = started_at("payment-service").await?;
        // The original agents hand over with status "executing" and no runner_started_at.
        let action = RemediationAction {
            exec_id: "exec-original-1".into(),
            timestamp: Utc::now(),
            incident_id: Some("inc-seed-001".into()),
            service: "payment-service".into(),
            action: "restart_service".into(),
            status: ActionStatus::Executing,
            runner_started_at: None,
            runner_output: None,
            executed_at: None,
            requested_by: Some("surgeon".into()),
            attempts: 0,
            runner_id: None,
            lease_until: None,
            params: Value::Null,
            intent: None,
        };
        store.enqueue_action(&action).await?;
        let claimed = poll_until(
            Duration::from_secs(2),
            Duration::from_millis(100),
            || async {
                store
                    .get_action("exec-original-1")
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|a| a.runner_started_at.is_some())
            },
        )
        .await;
        ensure!(claimed, "claimed by the runner within 2 s");
        let done = poll_until(
            Duration::from_secs(60),
            Duration::from_millis(250),
            || async {
                store
                    .get_action("exec-original-1")
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|a| a.status == ActionStatus::Executed)
            },
        )
        .await;
        let a = store
            .get_action("exec-original-1")
            .await?
            .context("action")?;
        ensure!(done, "executed: {a:?}");
        let result = store
            .get_result("exec-original-1")
            .await?
            .context("a result document")?;
        ensure!(
            result.docker_used && result.status == ActionStatus::Executed,
            "{result:?}"
        );
        ensure!(
            started_at("payment-service").await? != t0,
            "the container really restarted"
        );
        let state = st
            .mcp
            .ok(
                "get_remediation_action",
                json!({"exec_id": "exec-original-1"}),
            )
            .await?;
        ensure!(
            state["action"]["status"] == "executed" && state["result"]["docker_used"] == true,
            "{state}"
        );
        let audit = st
            .mcp
            .ok("list_audit", json!({"who": "runner:surgeon"}))
            .await?;
        ensure!(
            audit["records"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x["outcome"] == "ok")),
            "{audit}"
        );
        Ok(())
    })
    .await;
}
