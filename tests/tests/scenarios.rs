//! Seed 001's three scenarios, for real and through MCP tools alone (a real MCP client
//! over stdio): inject → detect → recall a similar incident and a runbook → remediate
//! (dry run, then with its plan) → verify_recovery → record, with every decision and
//! mutation in the audit trail.

use std::time::Duration;

use anyhow::{Context, ensure};
use quantumstate_tests::qs::Mcp;
use quantumstate_tests::stack::{of, wait_all_healthy, wait_anomalies, with_stack};
use serde_json::{Value, json};

/// Records an agent decision and returns its id.
async fn decide(
    mcp: &Mcp,
    agent: &str,
    service: &str,
    decision: String,
    confidence: u64,
    context: Value,
) -> anyhow::Result<String> {
    let d = mcp
        .ok("record_decision", json!({"agent": agent, "decision": decision, "confidence": confidence, "service": service, "context": context}))
        .await?;
    Ok(d["decision"]["id"].as_str().unwrap_or_default().to_string())
}

/// The archaeologist's step: the most similar past incident and the best runbook.
async fn recall(
    mcp: &Mcp,
    service: &str,
    kind: &str,
    description: &str,
) -> anyhow::Result<(Value, Value)> {
    let similar = mcp
        .ok("find_similar_incidents", json!({"description": description, "service": service, "anomaly_type": kind, "limit": 3}))
        .await?;
    let top = similar["incidents"][0].clone();
    ensure!(
        top["service"] == service && top["anomaly_type"] == kind,
        "a past {kind} on {service} ranks first: {similar}"
    );
    ensure!(
        top["mttr_seconds"].as_u64().is_some(),
        "with its MTTR: {top}"
    );
    let runbooks = mcp
        .ok("find_relevant_runbook", json!({"description": description, "service": service, "anomaly_type": kind, "limit": 3}))
        .await?;
    Ok((top, runbooks["runbooks"][0].clone()))
}

/// A mutating tool the careful way: dry run, read the plan, then the real call quoting it.
async fn act(mcp: &Mcp, tool: &str, mut args: Value) -> anyhow::Result<Value> {
    args["dry_run"] = json!(true);
    let dry = mcp.ok(tool, args.clone()).await?;
    let plan_id = dry["plan"]["plan_id"]
        .as_str()
        .context("a plan id")?
        .to_string();
    ensure!(
        !dry["plan"]["operations"]
            .as_array()
            .map(Vec::is_empty)
            .unwrap_or(true),
        "a plan with operations: {dry}"
    );
    args["dry_run"] = json!(false);
    args["plan_id"] = json!(plan_id);
    mcp.ok(tool, args).await
}

async fn verify(mcp: &Mcp, service: &str) -> anyhow::Result<Value> {
    let r = mcp
        .ok(
            "verify_recovery",
            json!({"service": service, "hold_seconds": 10, "timeout_seconds": 150}),
        )
        .await?;
    ensure!(r["passed"] == true, "{service} recovered: {r}");
    Ok(r)
}

/// The audit trail holds each of these tools, for real.
async fn audited(mcp: &Mcp, tools: &[&str]) -> anyhow::Result<()> {
    let audit = mcp.ok("list_audit", json!({"limit": 500})).await?;
    let recs = audit["records"].as_array().cloned().unwrap_or_default();
    for t in tools {
        ensure!(
            recs.iter()
                .any(|r| r["tool"] == *t && r["outcome"] == "ok" && r["dry_run"] == false),
            "{t} is in the audit trail: {}",
            Value::Array(recs.clone())
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_leak_on_payment_is_detected_recalled_restarted_and_verified() {
    with_stack(|st| async move {
        let mcp = &st.mcp;
        wait_all_healthy(mcp, Duration::from_secs(60)).await?;
        act(mcp, "inject_fault", json!({"service": "payment-service", "kind": "memory_leak", "ttl_seconds": 600, "mb_per_second": 20})).await?;
        let seen = wait_anomalies(mcp, Duration::from_secs(30), "the leak", |a| of(a, "payment-service", "memory_leak_progressive").is_some()).await?;
        let leak = of(&seen, "payment-service", "memory_leak_progressive").cloned().unwrap_or_default();
        decide(mcp, "cassandra", "payment-service", format!("Leak detected: {}", leak["summary"]), leak["confidence"].as_u64().unwrap_or(50), leak.clone()).await?;

        let deploys = mcp.ok("correlate_deployments", json!({"service": "payment-service", "window": "1h"})).await?;
        ensure!(deploys["deployments"].as_array().is_some_and(Vec::is_empty), "no deployment explains it: {deploys}");
        let (incident, runbook) = recall(mcp, "payment-service", "memory_leak_progressive", "payment-service heap memory keeps growing, HEAP_PRESSURE, no recent deploy").await?;
        eprintln!("similar: {} ({}); runbook: {} → {}", incident["id"], incident["title"], runbook["id"], runbook["action"]);
        decide(mcp, "archaeologist", "payment-service", format!("Like {}: no deploy, so restart per runbook {}", incident["id"], runbook["id"]), 85, json!({"incident": incident["id"], "runbook": runbook["id"]})).await?;

        let r = act(mcp, "restart_container", json!({"service": "payment-service"})).await?;
        ensure!(r["result"]["readiness"]["ready"] == true, "{r}");
        verify(mcp, "payment-service").await?;
        mcp.ok(
            "record_incident",
            json!({
                "service": "payment-service", "anomaly_type": "memory_leak_progressive",
                "title": "Drill: payment-service memory leak cleared by restart",
                "root_cause": "memory_leak fault injected for a drill",
                "actions_taken": "restart_container after a dry run; verify_recovery passed",
            }),
        )
        .await?;
        audited(mcp, &["inject_fault", "record_decision", "restart_container", "record_incident"]).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_deploy_of_checkout_is_rolled_back() {
    with_stack(|st| async move {
        let mcp = &st.mcp;
        wait_all_healthy(mcp, Duration::from_secs(60)).await?;
        // A few seconds of healthy samples before the release, for the before/after view.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let bad = act(mcp, "inject_fault", json!({"service": "checkout-service", "kind": "bad_deploy", "ttl_seconds": 900})).await?;
        ensure!(bad["result"]["detail"]["to_version"] == "3.5.0", "{bad}");
        let seen = wait_anomalies(mcp, Duration::from_secs(60), "the regression", |a| of(a, "checkout-service", "deployment_regression").is_some()).await?;
        let reg = of(&seen, "checkout-service", "deployment_regression").cloned().unwrap_or_default();
        ensure!(reg["evidence"]["deployment"]["to_version"] == "3.5.0", "the deploy is the evidence: {reg}");
        decide(mcp, "cassandra", "checkout-service", format!("Regression: {}", reg["summary"]), reg["confidence"].as_u64().unwrap_or(50), reg.clone()).await?;

        let corr = mcp.ok("correlate_deployments", json!({"service": "checkout-service", "window": "15m"})).await?;
        ensure!(corr["deployments"][0]["verdict"] == "regression", "{corr}");
        let errors = mcp.ok("search_logs", json!({"service": "checkout-service", "level": "ERROR", "window": "5m", "limit": 5})).await?;
        ensure!(errors["lines"].as_array().is_some_and(|l| !l.is_empty()), "errors are logged: {errors}");
        let (incident, runbook) = recall(mcp, "checkout-service", "deployment_regression", "checkout-service errors right after deploying v3.5.0, NullPointerException, UNHANDLED_EXCEPTION").await?;
        eprintln!("similar: {} ({}); runbook: {} → {}", incident["id"], incident["title"], runbook["id"], runbook["action"]);
        ensure!(runbook["action"] == "rollback_deployment", "the runbook says roll back: {runbook}");
        decide(mcp, "surgeon", "checkout-service", format!("Roll back 3.5.0 per {}", runbook["id"]), 90, json!({"incident": incident["id"]})).await?;

        let rb = act(mcp, "rollback_deployment", json!({"service": "checkout-service", "reason": "3.5.0 regression"})).await?;
        ensure!(rb["result"]["to_version"] == "1.0.0" && rb["result"]["from_version"] == "3.5.0", "{rb}");
        let h = mcp.ok("get_service_health", json!({"service": "checkout-service"})).await?;
        ensure!(h["container"]["version"] == "1.0.0", "back on 1.0.0: {h}");
        verify(mcp, "checkout-service").await?;
        mcp.ok(
            "record_incident",
            json!({
                "service": "checkout-service", "anomaly_type": "deployment_regression",
                "title": "Drill: checkout 3.5.0 regression rolled back",
                "root_cause": "defective release 3.5.0 (bad_deploy drill)",
                "actions_taken": "rollback_deployment to 1.0.0 after a dry run; verify_recovery passed",
            }),
        )
        .await?;
        audited(mcp, &["inject_fault", "record_decision", "rollback_deployment", "record_incident"]).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_errors_from_an_offline_cache_are_fixed_by_restarting_the_dependency() {
    with_stack(|st| async move {
        let mcp = &st.mcp;
        wait_all_healthy(mcp, Duration::from_secs(60)).await?;
        let off = act(mcp, "inject_fault", json!({"service": "auth-service", "kind": "cache_offline", "ttl_seconds": 900})).await?;
        ensure!(off["service"] == "auth-cache", "cache_offline targets the cache: {off}");
        let seen = wait_anomalies(mcp, Duration::from_secs(60), "the auth error spike", |a| {
            of(a, "auth-service", "error_spike_sudden").is_some_and(|x| {
                x["evidence"]["error_codes"].as_array().is_some_and(|c| {
                    c.iter().any(|c| c["error_code"] == "CACHE_OFFLINE" || c["error_code"] == "REDIS_UNAVAILABLE")
                })
            })
        })
        .await?;
        let spike = of(&seen, "auth-service", "error_spike_sudden").cloned().unwrap_or_default();
        decide(mcp, "cassandra", "auth-service", format!("Error spike: {}", spike["summary"]), spike["confidence"].as_u64().unwrap_or(50), spike.clone()).await?;

        let (incident, runbook) = recall(mcp, "auth-service", "error_spike_sudden", "auth-service login errors, session cache offline, CACHE_OFFLINE REDIS_UNAVAILABLE").await?;
        eprintln!("similar: {} ({}); runbook: {} → {}", incident["id"], incident["title"], runbook["id"], runbook["action"]);
        ensure!(runbook["action"] == "restart_dependency", "the runbook says restart the dependency: {runbook}");
        decide(mcp, "surgeon", "auth-service", format!("Restart auth-cache per {}", runbook["id"]), 90, json!({"incident": incident["id"]})).await?;

        let r = act(mcp, "restart_dependency", json!({"service": "auth-service"})).await?;
        ensure!(r["result"]["dependency"] == "auth-cache" && r["result"]["restart"]["readiness"]["ready"] == true, "{r}");
        verify(mcp, "auth-service").await?;
        mcp.ok(
            "record_incident",
            json!({
                "service": "auth-service", "anomaly_type": "error_spike_sudden",
                "title": "Drill: auth errors from an offline session cache",
                "root_cause": "auth-cache stopped (cache_offline drill)",
                "actions_taken": "restart_dependency auth-cache after a dry run; verify_recovery passed",
            }),
        )
        .await?;
        audited(mcp, &["inject_fault", "record_decision", "restart_dependency", "record_incident"]).await
    })
    .await;
}
