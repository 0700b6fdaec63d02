//! Alerts end to end on the fleet, with a real Prometheus evaluating the shipped
//! `monitoring/rules.yml` and a real Alertmanager posting to `POST /api/alerts`: a memory
//! leak → MemoryHigh fires → an incident opens with detection's evidence and a runbook →
//! (`--on-alert queue`) the runner restarts the service through the road →
//! `verify_recovery` over Prometheus passes → the alert resolves → the incident is
//! resolved with its MTTR.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use quantumstate_tests::monitoring::{start_alertmanager, start_prometheus};
use quantumstate_tests::poll_until;
use quantumstate_tests::qs::{HttpServer, Mcp, TempStore, free_port};
use quantumstate_tests::stack::with_fleet;
use serde_json::{Value, json};

const TOKEN: &str = "e2e-alert-token-5d41402abc4b2a76";
const SERVICE: &str = "payment-service";

async fn ok(qs: &HttpServer, tool: &str, args: Value) -> anyhow::Result<Value> {
    let (status, v) = qs.call(tool, args.clone()).await?;
    ensure!(status == 200, "{tool} {args} → {status}: {v}");
    Ok(v)
}

/// The incident an alert opened on the service, once there is one.
async fn alert_incident(qs: &HttpServer, within: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let list = ok(
            qs,
            "list_incidents",
            json!({"service": SERVICE, "status": "open"}),
        )
        .await?;
        if let Some(i) = list["incidents"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["source"] == "alertmanager")
        {
            return Ok(i.clone());
        }
        if Instant::now() >= deadline {
            bail!("no incident from an alert within {within:?}: {list}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_alert_opens_an_incident_the_runner_fixes_and_the_resolution_closes() {
    with_fleet(|_fleet| async move {
        let dir = tempfile::tempdir()?;
        let (prom_port, am_port) = (free_port()?, free_port()?);
        let store = TempStore::new()?;
        store.seed().await?;
        let prom_url = format!("prometheus=http://127.0.0.1:{prom_port}");
        let qs = HttpServer::start(
            &store,
            &["--metrics-source", &prom_url, "--alert-token", TOKEN, "--on-alert", "queue"],
        )
        .await?;
        let webhook = format!("http://127.0.0.1:{}/api/alerts", qs.port);
        let _am = start_alertmanager(dir.path(), am_port, &webhook, TOKEN).await?;
        let _prom = start_prometheus(dir.path(), prom_port, Some(am_port)).await?;
        let args = json!({"service": SERVICE, "metric_type": "memory_percent", "window": "1m"});
        let scraped = poll_until(Duration::from_secs(60), Duration::from_secs(1), || async {
            matches!(qs.call("query_metrics", args.clone()).await,
                Ok((200, ref v)) if v["summary"]["count"].as_u64().unwrap_or(0) >= 3)
        })
        .await;
        ensure!(scraped, "Prometheus never had 3 memory points of {SERVICE}");

        // The leak: 20 MB/s up to 225 MB of a 256 MB limit (88 %, under the OOM killer).
        ok(&qs, "inject_fault", json!({"service": SERVICE, "kind": "memory_leak", "ttl_seconds": 300, "mb_per_second": 20, "max_mb": 225})).await?;
        let fault_at = Instant::now();
        let inc = alert_incident(&qs, Duration::from_secs(120)).await?;
        eprintln!("incident {} opened {:?} after the fault", inc["id"], fault_at.elapsed());
        let a = &inc["alert"];
        ensure!(a["alertname"] == "MemoryHigh" && a["type_from"] == "label", "{inc}");
        ensure!(inc["anomaly_type"] == "memory_leak_progressive", "{inc}");
        ensure!(inc["title"] == "payment-service memory above 80 %", "{inc}");
        ensure!(a["managed"] == true && a["labels"]["severity"] == "page", "{inc}");
        let found = a["evidence"]["anomalies"].as_array().into_iter().flatten().any(|x| {
            x["service"] == SERVICE && x["anomaly_type"] == "memory_leak_progressive"
        });
        ensure!(found, "detection over Prometheus saw the leak when the alert came: {}", a["evidence"]);
        ensure!(a["runbook"]["action"] == "restart_service", "{}", a["runbook"]);
        let exec = a["queued"].as_str().unwrap_or_default().to_string();
        ensure!(exec.starts_with("exec-"), "the runbook's action was queued: {}", a["queued"]);

        // The investigate prompt names the open alert.
        let mcp = Mcp::start(&store, &["--no-runner"]).await?;
        let prompt = mcp.prompt("investigate_incident", json!({"service": SERVICE})).await?;
        mcp.stop().await;
        let id = inc["id"].as_str().unwrap_or_default().to_string();
        ensure!(prompt.contains("MemoryHigh") && prompt.contains(&id), "{prompt}");

        // The runner restarts it through the road, on the alert's behalf.
        let done = poll_until(Duration::from_secs(120), Duration::from_secs(1), || async {
            matches!(qs.call("get_remediation_action", json!({"exec_id": exec})).await,
                Ok((200, ref v)) if v["action"]["status"] == "executed")
        })
        .await;
        let state = qs.call("get_remediation_action", json!({"exec_id": exec})).await?;
        ensure!(done, "the queued restart was executed: {state:?}");

        // Recovery as Prometheus measures it.
        let v = ok(&qs, "verify_recovery", json!({"service": SERVICE, "hold_seconds": 10, "timeout_seconds": 120})).await?;
        ensure!(v["passed"] == true, "{v}");

        // The alert resolves, and so does the incident, with its MTTR.
        let deadline = Instant::now() + Duration::from_secs(120);
        let closed = loop {
            let i = ok(&qs, "get_incident", json!({"id": id})).await?;
            if i["status"] == "resolved" {
                break i;
            }
            if Instant::now() >= deadline {
                bail!("the incident was not resolved by the alert: {i}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let t = |k: &str| {
            chrono::DateTime::parse_from_rfc3339(closed[k].as_str().unwrap_or_default())
                .context(k.to_string())
        };
        let mttr = (t("resolved_at")? - t("@timestamp")?).num_seconds();
        ensure!(mttr > 0 && closed["mttr_seconds"] == mttr, "{closed}");

        // Every step on the audit: the webhook's writes and queueing, the runner's restart.
        let audit = ok(&qs, "list_audit", json!({"limit": 200})).await?;
        let did = |who: &str, tool: &str| {
            audit["records"].as_array().into_iter().flatten().any(|r| {
                r["who"] == who && r["tool"] == tool && r["outcome"] == "ok"
            })
        };
        ensure!(did("alertmanager", "receive_alert"), "{audit}");
        ensure!(did("alertmanager", "remediate"), "{audit}");
        ensure!(did("runner:alertmanager", "restart_service"), "{audit}");
        Ok(())
    })
    .await;
}
