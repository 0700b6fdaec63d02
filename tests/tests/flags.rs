//! The guard flags on the real fleet: `--require-plan` (no plan, another service's plan,
//! another tool's, a second use, an expired plan, a failed dry run: all refused, nothing
//! restarted; the matching plan runs once) and `--toolsets` (the narrowed catalogue on
//! `/api/tools`, MCP `tools/list` and the `tools` command; a tool outside it refused).

use std::time::Duration;

use anyhow::ensure;
use quantumstate_tests::api::Api;
use quantumstate_tests::qs::{HttpServer, TempStore, bin};
use quantumstate_tests::stack::with_fleet;
use quantumstate_tests::{run, started_at};
use serde_json::{Value, json};

const OPS: &str = "ops:ops-secret-0123456789";
const KEY: &str = "ops-secret-0123456789";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_plan_binds_each_plan_to_one_matching_call_and_toolsets_narrow_every_surface() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        let server = HttpServer::start(
            &store,
            &[
                "--token",
                OPS,
                "--approval",
                "off",
                "--require-plan",
                "--plan-ttl",
                "10",
                "--restart-budget",
                "10/300s",
            ],
        )
        .await?;
        let api = Api::of(&server)?;
        let svc = "inventory-service";
        let t0 = started_at(svc).await?;
        let restart = |service: &str, plan: Option<&str>| {
            let mut a = json!({"service": service, "dry_run": plan.is_none()});
            if let Some(p) = plan {
                a["plan_id"] = json!(p);
            }
            a
        };
        // No plan: refused.
        let (st, e) = api
            .tool(
                KEY,
                "restart_container",
                json!({"service": svc, "dry_run": false}),
            )
            .await?;
        ensure!(
            st == 403
                && e["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("--require-plan"),
            "{st} {e}"
        );
        // A failed dry run (an unknown service) issues no plan.
        let (st, e) = api
            .tool(KEY, "restart_container", restart("nosuch-service", None))
            .await?;
        ensure!(st == 400 && e["plan"].is_null(), "{st} {e}");
        // A plan for inventory-service does not serve payment-service, nor another tool.
        let (st, dry) = api
            .tool(KEY, "restart_container", restart(svc, None))
            .await?;
        ensure!(st == 200, "{st} {dry}");
        let plan = dry["plan"]["plan_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (st, e) = api
            .tool(
                KEY,
                "restart_container",
                restart("payment-service", Some(&plan)),
            )
            .await?;
        ensure!(
            st == 409 && code(&e) == "plan_mismatch",
            "other arguments: {st} {e}"
        );
        let (st, e) = api
            .tool(
                KEY,
                "stop_container",
                json!({"service": svc, "dry_run": false, "plan_id": plan}),
            )
            .await?;
        ensure!(
            st == 409 && code(&e) == "plan_mismatch",
            "another tool: {st} {e}"
        );
        ensure!(started_at(svc).await? == t0, "nothing restarted yet");
        // The matching call runs once; a second use is refused.
        let (st, r) = api
            .tool(KEY, "restart_container", restart(svc, Some(&plan)))
            .await?;
        ensure!(st == 200, "the matching call runs: {st} {r}");
        let t1 = started_at(svc).await?;
        ensure!(t1 != t0, "it restarted");
        let (st, e) = api
            .tool(KEY, "restart_container", restart(svc, Some(&plan)))
            .await?;
        ensure!(st == 409 && code(&e) == "plan_used", "reuse: {st} {e}");
        // An expired plan.
        let (_, dry) = api
            .tool(KEY, "restart_container", restart(svc, None))
            .await?;
        let old = dry["plan"]["plan_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        tokio::time::sleep(Duration::from_secs(11)).await;
        let (st, e) = api
            .tool(KEY, "restart_container", restart(svc, Some(&old)))
            .await?;
        ensure!(st == 410 && code(&e) == "plan_expired", "expired: {st} {e}");
        ensure!(started_at(svc).await? == t1, "one restart in all");
        let (_, audit) = api
            .tool(
                KEY,
                "list_audit",
                json!({"tool": "restart_container", "outcome": "refused"}),
            )
            .await?;
        ensure!(
            audit["records"].as_array().map_or(0, Vec::len) >= 4,
            "the refusals are audited: {audit}"
        );
        server.kill9().await?;

        // --toolsets fleet,metrics: the same narrowed catalogue everywhere.
        let narrowed = ["--token", OPS, "--toolsets", "fleet,metrics"];
        let server = HttpServer::start(&store, &narrowed).await?;
        let api = Api::of(&server)?;
        let names = |v: &Value, key: &str| -> Vec<String> {
            let mut n: Vec<String> = v[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect();
            n.sort();
            n
        };
        let (_, listed) = api.get(KEY, "/api/tools").await?;
        let direct = names(&listed, "tools");
        let over_mcp = names(&api.mcp(KEY, "tools/list", "", json!({})).await?, "tools");
        let cli = run(
            bin("quantumstate-mcp")?.to_str().unwrap_or_default(),
            &["--toolsets", "fleet,metrics", "tools"],
            Duration::from_secs(30),
        )
        .await?;
        let cli: Value = serde_json::from_str(&cli)?;
        let cli = names(&cli, "tools");
        ensure!(
            direct.contains(&"list_services".to_string())
                && direct.contains(&"query_metrics".to_string()),
            "{direct:?}"
        );
        ensure!(
            !direct.iter().any(|n| n == "restart_container"
                || n == "inject_fault"
                || n == "detect_anomalies"),
            "{direct:?}"
        );
        ensure!(
            direct == over_mcp && direct == cli,
            "one catalogue: /api {direct:?}, mcp {over_mcp:?}, cli {cli:?}"
        );
        let (st, e) = api
            .tool(
                KEY,
                "restart_container",
                json!({"service": svc, "dry_run": true}),
            )
            .await?;
        ensure!(
            st == 404 && code(&e) == "unknown_tool",
            "outside the toolsets: {st} {e}"
        );
        server.kill9().await?;
        Ok(())
    })
    .await;
}
