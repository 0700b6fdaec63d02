//! A fleet across two Docker engines: the demo fleet on the local engine, and on host "b"
//! (a second engine in its own network namespace, `scripts/second-engine.sh`) a second
//! payment-service and a ledger-service. One server and one scraper cover both: names
//! that run on both hosts are qualified, list/stats/logs/restart/fault/audit work on each,
//! and engine b stopped mid-test leaves the local tools answering within 2 s, then comes
//! back without a restart. (Swarm services on b: `tests/swarm.rs`.)

use std::cell::RefCell;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use quantumstate_tests::qs::{Mcp, Scraper, TempStore};
use quantumstate_tests::stack::with_fleet;
use quantumstate_tests::{engine_b, poll_until};
use serde_json::{Value, json};

fn service<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

fn host_reachable(list: &Value, host: &str) -> Option<bool> {
    list["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["name"] == host)?["reachable"]
        .as_bool()
}

async fn faults_on(address: &str, port: u16) -> anyhow::Result<Value> {
    let url = format!("http://{address}:{port}/faults");
    let r = reqwest::Client::new()
        .get(&url)
        .bearer_auth(quantumstate_tests::FAULT_TOKEN)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    Ok(r.json().await?)
}

fn active(faults: &Value) -> usize {
    faults["faults"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_across_two_engines() {
    with_fleet(|_fleet| async move {
        engine_b::start().await?;
        engine_b::clear().await?;
        let outcome = across_two_engines().await;
        // Whatever happened: b answers again and holds no managed container.
        engine_b::start().await?;
        engine_b::clear().await?;
        outcome
    })
    .await;
}

async fn across_two_engines() -> anyhow::Result<()> {
    engine_b::run_service("payment-service", 8001, "payment").await?;
    engine_b::run_service("ledger-service", 8011, "inventory").await?;
    let store = TempStore::new()?;
    store.seed().await?;
    let hosts = engine_b::HOSTS.join(",");
    let scraper = Scraper::start_env(&store, &[("QS_DOCKER_HOSTS", &hosts)])?;
    let mcp = Mcp::start(&store, &engine_b::server_args()).await?;

    // Every service of both hosts, each with its host; the shared name qualified.
    let last = RefCell::new(Value::Null);
    let seen = poll_until(Duration::from_secs(60), Duration::from_secs(1), || {
        let (mcp, last) = (&mcp, &last);
        async move {
            let list = mcp.ok("list_services", json!({})).await.unwrap_or_default();
            let all = [
                "b/payment-service",
                "ledger-service",
                "local/payment-service",
            ]
            .iter()
            .all(|n| service(&list, n).is_some_and(|s| s["health"] == "healthy"));
            *last.borrow_mut() = list;
            all
        }
    })
    .await;
    let list = last.into_inner();
    ensure!(seen, "both hosts' services are listed healthy: {list}");
    ensure!(
        service(&list, "ledger-service").is_some_and(|s| s["host"] == "b"),
        "{list}"
    );
    ensure!(
        service(&list, "checkout-service").is_some_and(|s| s["host"] == "local"),
        "{list}"
    );
    ensure!(
        service(&list, "payment-service").is_none(),
        "the shared name is qualified: {list}"
    );
    ensure!(
        host_reachable(&list, "b") == Some(true) && host_reachable(&list, "local") == Some(true),
        "{list}"
    );

    // A bare name that runs on both hosts is refused with the choices.
    let err = mcp
        .call("container_stats", json!({"service": "payment-service"}))
        .await?;
    let text = err.as_ref().err().map(Value::to_string).unwrap_or_default();
    ensure!(
        text.contains("local/payment-service") && text.contains("b/payment-service"),
        "ambiguous names list the choices: {err:?}"
    );

    // Stats and logs on both hosts.
    for s in [
        "b/payment-service",
        "local/payment-service",
        "ledger-service",
    ] {
        let st = mcp.ok("container_stats", json!({"service": s})).await?;
        ensure!(st["service"] == s, "stats name the service as listed: {st}");
        ensure!(
            st["running"] == true && st["memory_used_bytes"].as_u64().unwrap_or(0) > 0,
            "{s}: {st}"
        );
    }
    let logs = mcp
        .ok(
            "container_logs",
            json!({"service": "ledger-service", "tail": 20}),
        )
        .await?;
    ensure!(
        logs["lines"].as_array().is_some_and(|l| !l.is_empty()),
        "b's logs: {logs}"
    );

    // The scraper polls b: its metrics reach the store.
    let scraped = poll_until(Duration::from_secs(30), Duration::from_secs(1), || {
        let mcp = &mcp;
        async move {
            mcp.ok("query_metrics", json!({"service": "ledger-service", "metric_type": "memory_percent", "window": "5m"}))
                .await
                .is_ok_and(|m| m["summary"]["count"].as_u64().unwrap_or(0) > 0)
        }
    })
    .await;
    ensure!(scraped, "ledger-service on b has scraped metrics");

    // Its plan names the host; the restart on b restarts b's container.
    let dry = mcp
        .ok(
            "restart_container",
            json!({"service": "ledger-service", "dry_run": true}),
        )
        .await?;
    ensure!(
        dry["plan"]["hosts"] == json!(["b"]),
        "the plan names host b: {dry}"
    );
    let before = engine_b::started_at("ledger-service").await?;
    mcp.ok("restart_container", json!({"service": "ledger-service"}))
        .await?;
    let after = engine_b::started_at("ledger-service").await?;
    ensure!(
        before != after,
        "b's ledger-service restarted ({before} → {after})"
    );

    // A fault on b/payment-service reaches b's container, not the local one.
    mcp.ok(
        "inject_fault",
        json!({"service": "b/payment-service", "kind": "latency", "ttl_seconds": 30, "added_ms": 50}),
    )
    .await?;
    let on_b = faults_on(engine_b::ADDRESS, 8001).await?;
    let on_local = faults_on("127.0.0.1", 8001).await?;
    ensure!(
        active(&on_b) == 1 && active(&on_local) == 0,
        "b: {on_b} local: {on_local}"
    );
    mcp.ok("reset_faults", json!({"service": "b/payment-service"}))
        .await?;

    // The audit names the host.
    let audit = mcp.ok("list_audit", json!({})).await?;
    let recs = audit["records"].as_array().cloned().unwrap_or_default();
    for tool in ["restart_container", "inject_fault"] {
        ensure!(
            recs.iter()
                .any(|r| r["tool"] == tool && r["outcome"] == "ok" && r["host"] == "b"),
            "{tool} on b is audited with its host: {audit}"
        );
    }

    // Engine b goes away: its services are unreachable with the reason, the local
    // ones keep answering within 2 s, operations on b fail at once naming it.
    engine_b::stop().await?;
    let t = Instant::now();
    let list = mcp.ok("list_services", json!({})).await?;
    let first = t.elapsed();
    ensure!(
        first < Duration::from_millis(2500),
        "list_services with b away took {first:?}"
    );
    let ledger = service(&list, "ledger-service").context("b's services stay listed")?;
    ensure!(
        ledger["health"] == "unreachable"
            && ledger["unreachable"]
                .as_str()
                .is_some_and(|r| r.contains("host b")),
        "{list}"
    );
    ensure!(host_reachable(&list, "b") == Some(false), "{list}");
    ensure!(
        service(&list, "checkout-service").is_some_and(|s| s["health"] == "healthy"),
        "{list}"
    );
    for _ in 0..3 {
        let t = Instant::now();
        mcp.ok(
            "container_stats",
            json!({"service": "local/payment-service"}),
        )
        .await?;
        mcp.ok("list_services", json!({})).await?;
        ensure!(
            t.elapsed() < Duration::from_secs(2),
            "local tools with b away took {:?}",
            t.elapsed()
        );
    }
    let refused = mcp
        .call("restart_container", json!({"service": "ledger-service"}))
        .await?;
    let why = refused
        .as_ref()
        .err()
        .map(Value::to_string)
        .unwrap_or_default();
    ensure!(
        why.contains("host b is unreachable"),
        "restart on b with b away: {refused:?}"
    );

    // b comes back: found again without restarting the server.
    engine_b::start().await?;
    let last = RefCell::new(Value::Null);
    let back = poll_until(Duration::from_secs(30), Duration::from_secs(1), || {
        let (mcp, last) = (&mcp, &last);
        async move {
            let list = mcp.ok("list_services", json!({})).await.unwrap_or_default();
            let ok = host_reachable(&list, "b") == Some(true)
                && service(&list, "ledger-service").is_some_and(|s| s["health"] == "healthy");
            *last.borrow_mut() = list;
            ok
        }
    })
    .await;
    let list = last.into_inner();
    ensure!(back, "engine b is back within 30 s: {list}");
    mcp.ok("container_stats", json!({"service": "ledger-service"}))
        .await?;

    mcp.stop().await;
    scraper.stop().await;
    Ok(())
}
