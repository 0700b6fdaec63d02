//! The guards a hostile session got around (issue 19), replayed on real containers: with
//! the restart budget spent, stop, kill and bad-deploy faults, deploys and rollbacks are
//! refused too (one budget per service), the services take fault writes only with the
//! fault token (JSON, no browser Origin), a deploy onto the running version is a no-op
//! refused, the service's fault cap comes back as 409 `conflict`, and
//! `--disable-destructive` refuses deploys and rollbacks to a defective version. Nothing
//! restarts, and every refusal is audited.

use anyhow::ensure;
use quantumstate_tests::api::Api;
use quantumstate_tests::qs::{HttpServer, TempStore};
use quantumstate_tests::stack::with_fleet;
use quantumstate_tests::{FAULT_TOKEN, started_at};
use serde_json::{Value, json};

const OPS: &str = "ops:ops-secret-0123456789";
const KEY: &str = "ops-secret-0123456789";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_budget_for_every_restart_no_op_deploys_and_destructive_deploys_are_refused() {
    with_fleet(|fleet| async move {
        // The services take faults only from a holder of the fault token: none, a
        // browser's cross-origin text/plain POST and a wrong token are all refused.
        let http = reqwest::Client::builder().no_proxy().build()?;
        let url = fleet.url("inventory-service", "/faults")?;
        let spike = r#"{"kind":"latency","ttl_seconds":10,"added_ms":1}"#;
        let tries = [
            (http.post(&url).header("content-type", "application/json"), 401),
            (http.post(&url).header("origin", "https://evil.example").header("content-type", "text/plain").bearer_auth(FAULT_TOKEN), 403),
            (http.post(&url).header("content-type", "text/plain").bearer_auth(FAULT_TOKEN), 415),
            (http.post(&url).header("content-type", "application/json").bearer_auth("not-the-fault-token"), 401),
            (http.post(fleet.url("inventory-service", "/faults/reset")?), 401),
        ];
        for (req, want) in tries {
            let st = req.body(spike).send().await?.status().as_u16();
            ensure!(st == want, "a fault write without the token answered {st}, not {want}");
        }
        let (_, faults) = fleet.get_json("inventory-service", "/faults").await?;
        ensure!(faults["faults"] == json!([]), "no fault started: {faults}");

        let store = TempStore::new()?;
        let server = HttpServer::start(
            &store,
            &["--token", OPS, "--approval", "off", "--restart-budget", "1/300s"],
        )
        .await?;
        let api = Api::of(&server)?;
        let svc = "inventory-service";
        let t0 = started_at(svc).await?;
        let (st, r) = api.tool(KEY, "restart_container", json!({"service": svc})).await?;
        ensure!(st == 200, "{st} {r}");
        let t1 = started_at(svc).await?;
        ensure!(t1 != t0, "the one restart the budget allows ran");

        // The budget is spent: every other way of restarting it is refused as well.
        let attempts = [
            ("restart_container", json!({"service": svc})),
            ("stop_container", json!({"service": svc})),
            ("inject_fault", json!({"service": svc, "kind": "kill", "ttl_seconds": 10})),
            ("inject_fault", json!({"service": svc, "kind": "bad_deploy", "ttl_seconds": 30})),
        ];
        for (tool, args) in &attempts {
            let (st, e) = api.tool(KEY, tool, args.clone()).await?;
            ensure!(st == 429 && code(&e) == "rate_limited", "{tool} {args}: {st} {e}");
        }
        // Deploying or rolling back onto the running version is a restart in disguise.
        for (tool, args) in [
            ("deploy_version", json!({"service": svc, "version": "1.0.0"})),
            ("rollback_deployment", json!({"service": svc, "to_version": "1.0.0"})),
        ] {
            let (st, e) = api.tool(KEY, tool, args.clone()).await?;
            ensure!(st == 400 && e["error"]["message"].as_str().unwrap_or("").contains("already runs 1.0.0"), "{tool}: {st} {e}");
        }
        ensure!(started_at(svc).await? == t1, "nothing else restarted it");

        // The service's own fault cap is a conflict, not a bad argument.
        for i in 0..16 {
            let (st, body) = fleet
                .post_json("payment-service", "/faults", &json!({"kind": "latency", "ttl_seconds": 60, "added_ms": 1}))
                .await?;
            ensure!(st == 201, "fault {i}: {st} {body}");
        }
        let (st, e) = api
            .tool(KEY, "inject_fault", json!({"service": "payment-service", "kind": "latency", "ttl_seconds": 30, "added_ms": 1}))
            .await?;
        ensure!(st == 409 && code(&e) == "conflict", "{st} {e}");

        let (_, audit) = api.tool(KEY, "list_audit", json!({"outcome": "refused", "limit": 100})).await?;
        let recs = audit["records"].as_array().cloned().unwrap_or_default();
        for tool in ["restart_container", "stop_container", "inject_fault", "deploy_version", "rollback_deployment"] {
            ensure!(recs.iter().any(|r| r["tool"] == tool && r["service"] == svc), "the refused {tool} is audited: {audit}");
        }
        server.kill9().await?;

        // --disable-destructive: no deploy or rollback to a defective version.
        let server = HttpServer::start(&store, &["--token", OPS, "--approval", "off", "--disable-destructive"]).await?;
        let api = Api::of(&server)?;
        let svc = "checkout-service";
        let t0 = started_at(svc).await?;
        for (tool, args) in [
            ("deploy_version", json!({"service": svc, "version": "3.5.0"})),
            ("rollback_deployment", json!({"service": svc, "to_version": "3.5.0"})),
        ] {
            let (st, e) = api.tool(KEY, tool, args.clone()).await?;
            ensure!(st == 403 && e["error"]["message"].as_str().unwrap_or("").contains("--disable-destructive"), "{tool}: {st} {e}");
        }
        let (st, e) = api.tool(KEY, "inject_fault", json!({"service": svc, "kind": "bad_deploy", "ttl_seconds": 30})).await?;
        ensure!(st == 400 || st == 403, "a bad deploy fault is refused: {st} {e}");
        ensure!(started_at(svc).await? == t0, "checkout-service was not touched");
        let (_, audit) = api.tool(KEY, "list_audit", json!({"outcome": "refused", "service": svc})).await?;
        let recs = audit["records"].as_array().cloned().unwrap_or_default();
        for tool in ["deploy_version", "rollback_deployment"] {
            ensure!(recs.iter().any(|r| r["tool"] == tool && r["detail"].as_str().unwrap_or("").contains("--disable-destructive")), "{tool}: {audit}");
        }

        // A managed container's own ID prefix names it (it is not "lacking the label").
        let id = quantumstate_tests::docker(&["inspect", "--format", "{{.Id}}", svc]).await?;
        let (st, stats) = api.tool(KEY, "container_stats", json!({"service": &id.trim()[..12]})).await?;
        ensure!(st == 200 && stats["service"] == svc, "an ID prefix resolves to {svc}: {st} {stats}");
        Ok(())
    })
    .await;
}
