//! `POST /api/alerts` on the real binary over a seeded SQLite store (Docker absent):
//! Alertmanager's payload opens an incident with evidence and a runbook, a redelivery
//! changes nothing, a resolved alert records the MTTR, a malformed payload is refused
//! whole, an unknown service is recorded with no action, and only the alert token opens
//! the door.

mod common;

use common::{HttpServer, Store, http_client};
use serde_json::{Value, json};

const TOKEN: &str = "am-secret,with a comma";

fn alert(status: &str, service: &str, name: &str, fp: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": "page"},
        "annotations": {"summary": format!("{service} memory above 80 %"), "description": "RSS keeps climbing"},
        "startsAt": "2026-12-04T06:00:00.250Z",
        "endsAt": if status == "resolved" { "2026-12-04T06:12:30.250Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": fp
    })
}

fn payload(alerts: Vec<Value>) -> Value {
    json!({
        "version": "4", "groupKey": "{}:{alertname=\"x\"}", "truncatedAlerts": 0,
        "status": alerts[0]["status"].clone(), "receiver": "quantumstate",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093", "alerts": alerts
    })
}

async fn post(qs: &HttpServer, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut r = http_client().post(qs.url("/api/alerts")).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.expect("post alerts");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn call(qs: &HttpServer, tool: &str, args: Value) -> Value {
    let resp = http_client()
        .post(qs.url(&format!("/api/tools/{tool}")))
        .json(&args)
        .send()
        .await
        .expect("call");
    assert_eq!(resp.status().as_u16(), 200, "{tool}");
    resp.json().await.expect("json")
}

async fn incidents(qs: &HttpServer, status: &str) -> Vec<Value> {
    let v = call(
        qs,
        "list_incidents",
        json!({"status": status, "limit": 200}),
    )
    .await;
    v["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i["source"] == "alertmanager")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_opens_updates_and_resolves_incidents_once() {
    let store = Store::new();
    store.seed();
    let qs = HttpServer::start(&store, &["--alert-token", TOKEN, "--on-alert", "queue"]).await;
    let fp = "3f1c2a9b8d7e6f50";
    let firing = payload(vec![alert("firing", "payment-service", "MemoryHigh", fp)]);

    // Only the alert token opens the door; nothing is written otherwise.
    assert_eq!(post(&qs, None, &firing).await.0, 401);
    assert_eq!(post(&qs, Some("wrong"), &firing).await.0, 401);
    assert!(incidents(&qs, "open").await.is_empty());

    // A malformed payload is refused whole: the good first alert is not written either.
    let mut bad = alert("firing", "checkout-service", "ErrorsHigh", "aa11");
    bad["startsAt"] = "not a time".into();
    let mixed = payload(vec![
        alert("firing", "auth-service", "LatencyHigh", "bb22"),
        bad,
    ]);
    let (status, e) = post(&qs, Some(TOKEN), &mixed).await;
    assert_eq!(status, 400, "{e}");
    let msg = e["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.starts_with("alerts[1]: startsAt"), "{e}");
    assert!(
        incidents(&qs, "open").await.is_empty(),
        "nothing of a refused payload"
    );

    // A firing alert opens one incident with evidence and the best runbook.
    let (status, r) = post(&qs, Some(TOKEN), &firing).await;
    assert_eq!(status, 200, "{r}");
    let got = &r["received"][0];
    assert_eq!(got["outcome"], "opened", "{r}");
    let id = format!("alert-{fp}-{}", 1_796_364_000_250_i64);
    assert_eq!(got["incident_id"], id.as_str(), "{r}");
    assert!(
        got["queued"]
            .as_str()
            .unwrap_or_default()
            .starts_with("nothing queued: "),
        "no Docker here, so the road refuses to queue (and says why): {r}"
    );
    let open = incidents(&qs, "open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let inc = &open[0];
    assert_eq!(inc["service"], "payment-service");
    assert_eq!(inc["anomaly_type"], "memory_leak_progressive", "{inc}");
    assert_eq!(inc["title"], "payment-service memory above 80 %");
    let a = &inc["alert"];
    assert_eq!(a["type_from"], "alertname", "{a}");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["managed"], true);
    assert!(a["evidence"]["services"].is_array(), "detection ran: {a}");
    assert_eq!(a["runbook"]["action"], "restart_service", "{a}");

    // Redelivered (Alertmanager retries, HA peers both send): nothing changes.
    let audit_before = call(
        &qs,
        "list_audit",
        json!({"tool": "receive_alert", "limit": 100}),
    )
    .await;
    for _ in 0..3 {
        let (status, r) = post(&qs, Some(TOKEN), &firing).await;
        assert_eq!(status, 200);
        assert_eq!(r["received"][0]["outcome"], "unchanged", "{r}");
    }
    let audit_after = call(
        &qs,
        "list_audit",
        json!({"tool": "receive_alert", "limit": 100}),
    )
    .await;
    assert_eq!(
        audit_before["records"], audit_after["records"],
        "redelivery writes nothing"
    );
    assert_eq!(incidents(&qs, "open").await.len(), 1);

    // The open one is updated when its annotations change.
    let mut changed = firing.clone();
    changed["alerts"][0]["annotations"]["description"] = "RSS at 91 %".into();
    let (_, r) = post(&qs, Some(TOKEN), &changed).await;
    assert_eq!(r["received"][0]["outcome"], "updated", "{r}");

    // Resolved: the incident is resolved with its MTTR (endsAt − startsAt); once.
    let resolved = payload(vec![alert("resolved", "payment-service", "MemoryHigh", fp)]);
    let (_, r) = post(&qs, Some(TOKEN), &resolved).await;
    assert_eq!(r["received"][0]["outcome"], "resolved", "{r}");
    let (_, r) = post(&qs, Some(TOKEN), &resolved).await;
    assert_eq!(r["received"][0]["outcome"], "unchanged", "{r}");
    let inc = call(&qs, "get_incident", json!({"id": id})).await;
    assert_eq!(inc["status"], "resolved", "{inc}");
    assert_eq!(inc["mttr_seconds"], 750, "{inc}");
    assert_eq!(inc["resolved_at"], "2026-12-04T06:12:30.250Z", "{inc}");

    // An unknown service: recorded, nothing measured, nothing queued.
    let other = payload(vec![alert("firing", "billing-ledger", "DiskFull", "cc33")]);
    let (status, r) = post(&qs, Some(TOKEN), &other).await;
    assert_eq!(status, 200, "{r}");
    let got = &r["received"][0];
    assert_eq!(got["managed"], false, "{r}");
    assert_eq!(
        got["queued"], "nothing queued: billing-ledger is not managed",
        "{r}"
    );
    let inc = call(&qs, "get_incident", json!({"id": got["incident_id"]})).await;
    assert_eq!(inc["alert"]["type_from"], "default", "{inc}");
    assert!(inc["alert"]["evidence"]["not_looked"].is_string(), "{inc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_alert_token_the_webhook_is_off() {
    let store = Store::new();
    let qs = HttpServer::start(&store, &[]).await;
    let (status, e) = post(
        &qs,
        Some("anything"),
        &payload(vec![alert("firing", "x", "Y", "dd44")]),
    )
    .await;
    assert_eq!(status, 404, "{e}");
    assert!(
        e["error"]["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("--alert-token"),
        "{e}"
    );
}
