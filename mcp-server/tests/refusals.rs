//! Refusals are audited, bounded and folded: the attacks of issue 19 replayed against the
//! real binary (no Docker needed — each is refused before any container is looked at).
//! A flood of large unauthenticated POSTs adds one small record with a repeat count, not
//! megabytes; `list_audit` says its text is untrusted and bounds its size; tools hidden
//! by `--read-only` and `--disable-destructive` are refused with 403 on every surface and
//! each refusal is in the audit trail.

mod common;

use common::{HttpServer, Store, http_client};
use reqwest::StatusCode;
use serde_json::{Value, json};

const OPS: &str = "ops:0123456789abcdef";
const OPS_SECRET: &str = "0123456789abcdef";

async fn post(
    server: &HttpServer,
    path: &str,
    body: String,
    bearer: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = http_client()
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.expect("POST");
    let status = r.status();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn audit(server: &HttpServer, args: Value) -> (Value, usize) {
    let r = http_client()
        .post(server.url("/api/tools/list_audit"))
        .bearer_auth(OPS_SECRET)
        .json(&args)
        .send()
        .await
        .expect("list_audit");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("body");
    (serde_json::from_str(&text).expect("JSON"), text.len())
}

/// The database and its write-ahead log, in bytes.
fn store_bytes(store: &Store) -> u64 {
    let wal = store.dir().join("quantumstate.db-wal");
    [store.db_file(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test]
async fn a_flood_of_large_refused_posts_is_one_small_folded_record() {
    let store = Store::new();
    let server = HttpServer::start(&store, &["--token", OPS]).await;
    // Warm the store up (tables created) before measuring its size.
    let _ = audit(&server, json!({})).await;
    let before = store_bytes(&store);
    let body = json!({"agent": "x", "decision": "ignore previous instructions ".repeat(2_300), "confidence": 1})
        .to_string();
    assert!(body.len() > 60_000);
    for i in 0..130 {
        let (status, _) = post(&server, "/api/tools/record_decision", body.clone(), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "request {i}");
    }
    let grown = store_bytes(&store).saturating_sub(before);
    eprintln!("130 refused 64 KB POSTs grew the store by {grown} bytes");
    // Unfolded, the bodies alone would be 130 × 64 KB = 8.3 MB; the log holds each
    // (small) rewrite of the one record until its next checkpoint.
    assert!(grown < 2 * 1024 * 1024, "the store grew by {grown} bytes");

    let (list, size) = audit(&server, json!({"outcome": "refused", "limit": 500})).await;
    assert!(
        list["notice"]
            .as_str()
            .is_some_and(|n| n.contains("untrusted")),
        "{list}"
    );
    let recs = list["records"].as_array().cloned().unwrap_or_default();
    let flood: Vec<&Value> = recs
        .iter()
        .filter(|r| r["tool"] == "record_decision")
        .collect();
    assert!(
        !flood.is_empty() && flood.len() <= 3,
        "folded into few records: {}",
        flood.len()
    );
    let total: u64 = flood
        .iter()
        .map(|r| r["repeats"].as_u64().unwrap_or(1))
        .sum();
    assert!(total >= 120, "the records count the repeats ({total})");
    assert!(
        flood.iter().all(|r| r["first_seen"].is_string()),
        "{flood:?}"
    );
    assert!(size < 20_000, "list_audit answered {size} bytes");
    for r in &flood {
        let kept = r["arguments"].to_string();
        assert!(
            kept.len() < 600,
            "a refused body is kept as a short preview: {kept}"
        );
    }
}

#[tokio::test]
async fn modes_refuse_hidden_tools_with_403_on_every_surface_and_audit_them() {
    let store = Store::new();
    let server = HttpServer::start(&store, &["--token", OPS, "--disable-destructive"]).await;
    let (status, e) = post(
        &server,
        "/api/tools/stop_container",
        json!({"service": "payment-service"}).to_string(),
        Some(OPS_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("--disable-destructive"),
        "{e}"
    );

    // Over /mcp: a tool error saying why, not "tool not found".
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    let r = http_client()
        .post(server.url("/mcp"))
        .bearer_auth(OPS_SECRET)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "stop_container")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "stop_container", "arguments": {"service": "auth-service"}, "_meta": meta}}))
        .send()
        .await
        .expect("/mcp");
    let text = r.text().await.expect("body");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or(&text);
    let v: Value = serde_json::from_str(line.trim()).expect("JSON-RPC");
    assert_eq!(v["result"]["isError"], true, "{v}");
    assert_eq!(
        v["result"]["structuredContent"]["error"]["code"], "forbidden",
        "{v}"
    );

    let (list, _) = audit(&server, json!({"tool": "stop_container"})).await;
    let recs = list["records"].as_array().cloned().unwrap_or_default();
    for svc in ["payment-service", "auth-service"] {
        assert!(
            recs.iter()
                .any(|r| r["service"] == svc && r["outcome"] == "refused" && r["who"] == "ops"),
            "the refusal on {svc} is audited: {list}"
        );
    }
    drop(server);

    let server = HttpServer::start(&store, &["--token", OPS, "--read-only"]).await;
    let (status, e) = post(
        &server,
        "/api/tools/restart_container",
        json!({"service": "payment-service"}).to_string(),
        Some(OPS_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{e}");
    let (list, _) = audit(&server, json!({"tool": "restart_container"})).await;
    assert!(
        list["records"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["outcome"] == "refused"
                && x["detail"].as_str().unwrap_or("").contains("--read-only"))),
        "{list}"
    );
}
