//! The HTTP surface of the real binary: streamable MCP at `/mcp` driven with raw JSON-RPC
//! POSTs (reqwest; SSE `data:` lines parsed), the direct routes and their status codes,
//! tokens, read-only mode, Host/Origin checks, the body limit and `/metrics`.

mod common;

use common::{HttpServer, LEAK_QUERY, McpSession as Mcp, Store, http_client, tool_names};
use reqwest::StatusCode;
use serde_json::{Value, json};

const OPS: &str = "ops:0123456789abcdef";
const OPS_SECRET: &str = "0123456789abcdef";
const VIEWER: &str = "viewer:fedcba9876543210:read";
const VIEWER_SECRET: &str = "fedcba9876543210";

/// A direct call: status, Retry-After present, and the JSON body.
async fn direct(
    server: &HttpServer,
    tool: &str,
    body: impl Into<reqwest::Body>,
    bearer: Option<&str>,
) -> (StatusCode, bool, Value) {
    let mut req = http_client()
        .post(server.url(&format!("/api/tools/{tool}")))
        .header("content-type", "application/json")
        .body(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.expect("POST /api/tools");
    let status = r.status();
    let retry_after = r.headers().contains_key("retry-after");
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, retry_after, v)
}

async fn get(server: &HttpServer, path: &str, bearer: Option<&str>) -> (StatusCode, String) {
    let mut req = http_client().get(server.url(path));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let r = req.send().await.expect("GET");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

#[tokio::test]
async fn mcp_direct_route_and_cli_return_the_same_json() {
    let store = Store::new();
    store.seed();
    let server = HttpServer::start(&store, &[]).await;
    let mut mcp = Mcp::new(&server, None);

    let init = mcp.open().await;
    assert_eq!(init["serverInfo"]["name"], "quantumstate", "{init}");
    assert_eq!(init["protocolVersion"], "2025-11-25", "{init}");

    let listed = mcp.request(2, "tools/list", json!({})).await;
    let mcp_names = tool_names(&listed);
    assert!(mcp_names.iter().any(|n| n == "find_similar_incidents"));

    let arguments: Value = serde_json::from_str(LEAK_QUERY).expect("query");
    let called = mcp
        .request(
            3,
            "tools/call",
            json!({"name": "find_similar_incidents", "arguments": arguments}),
        )
        .await;
    assert_ne!(called["isError"], json!(true), "{called}");
    let over_mcp = called["structuredContent"].clone();
    assert_eq!(over_mcp["incidents"][0]["id"], "inc-seed-001", "{called}");
    assert_eq!(over_mcp["incidents"][0]["mttr_seconds"], 2820);

    let (status, _, over_route) = direct(&server, "find_similar_incidents", LEAK_QUERY, None).await;
    assert_eq!(status, StatusCode::OK, "{over_route}");
    assert_eq!(over_route, over_mcp, "/api/tools and /mcp differ");

    let over_cli = store.call_ok("find_similar_incidents", LEAK_QUERY);
    assert_eq!(over_cli, over_mcp, "CLI call and /mcp differ");

    let (status, body) = get(&server, "/api/tools", None).await;
    assert_eq!(status, StatusCode::OK);
    let route_names = tool_names(&serde_json::from_str(&body).expect("tools JSON"));
    let (mut a, mut b) = (route_names, mcp_names);
    a.sort();
    b.sort();
    assert_eq!(a, b, "GET /api/tools and tools/list differ");

    let (status, metrics) = get(&server, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("quantumstate_tool_calls_total")
                && l.contains("find_similar_incidents")),
        "no tool-call counter after calls:\n{metrics}"
    );
}

#[tokio::test]
async fn direct_routes_map_errors_to_status_codes() {
    let store = Store::new();
    store.seed();
    let server = HttpServer::start(&store, &[]).await;

    // 400: bad arguments, and a body that is not JSON. No Retry-After on either.
    let bad = json!({"agent": "tester", "decision": "roll back", "confidence": 140,
                     "service": "payment-service"});
    let (status, retry, body) = direct(&server, "record_decision", bad.to_string(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!retry, "no Retry-After on 400");
    assert_eq!(body["error"]["code"], "invalid_argument", "{body}");
    let (status, retry, body) = direct(&server, "find_similar_incidents", "{oops", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!retry);
    assert_eq!(body["error"]["code"], "invalid_argument", "{body}");

    // 404: unknown tool.
    let (status, _, body) = direct(&server, "no_such_tool", "{}", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "unknown_tool", "{body}");

    // 503: a fleet tool with Docker absent.
    let (status, _, body) = direct(&server, "list_services", "{}", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Docker is unavailable")),
        "{body}"
    );

    // 403: DNS rebinding (a foreign Host) and a cross-site Origin.
    let r = http_client()
        .post(server.url("/api/tools/find_similar_incidents"))
        .header("host", "evil.example")
        .body(LEAK_QUERY)
        .send()
        .await
        .expect("POST with a foreign Host");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http_client()
        .post(server.url("/api/tools/find_similar_incidents"))
        .header("origin", "http://evil.example")
        .body(LEAK_QUERY)
        .send()
        .await
        .expect("POST with a foreign Origin");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    // The same Origin check guards /mcp.
    let r = http_client()
        .post(server.url("/mcp"))
        .header("origin", "http://evil.example")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "evil", "version": "0"}}})
            .to_string(),
        )
        .send()
        .await
        .expect("POST /mcp with a foreign Origin");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // 413: a body over 1 MiB.
    let mut big = String::from(r#"{"description":""#);
    big.push_str(&"x".repeat(1024 * 1024 + 16));
    big.push_str(r#""}"#);
    let (status, _, _) = direct(&server, "find_similar_incidents", big, None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // The server is still fine after all that.
    let (status, _, body) = direct(&server, "find_similar_incidents", LEAK_QUERY, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn read_only_server_refuses_mutations_with_403() {
    let store = Store::new();
    let server = HttpServer::start(&store, &["--read-only"]).await;
    let decision = json!({"agent": "tester", "decision": "roll back", "confidence": 80,
                          "service": "payment-service"});
    let (status, _, body) = direct(&server, "record_decision", decision.to_string(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");

    let (status, body) = get(&server, "/api/tools", None).await;
    assert_eq!(status, StatusCode::OK);
    let names = tool_names(&serde_json::from_str(&body).expect("JSON"));
    assert!(!names.iter().any(|n| n == "record_decision"), "{names:?}");
    assert!(names.iter().any(|n| n == "list_decisions"), "{names:?}");

    let (status, _, body) = direct(&server, "list_decisions", "{}", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decisions"], json!([]), "{body}");
}

#[tokio::test]
async fn tokens_authenticate_and_read_tokens_cannot_mutate() {
    let store = Store::new();
    let server = HttpServer::start(&store, &["--token", OPS, "--token", VIEWER]).await;

    // /healthz stays open; everything else needs a valid bearer.
    let (status, _) = get(&server, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let r = http_client()
        .get(server.url("/api/tools"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let (status, _) = get(&server, "/api/tools", Some("not-the-secret")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(&server, "/api/tools", Some(OPS_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = direct(&server, "list_decisions", "{}", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let (status, _) = get(&server, "/metrics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // /mcp too.
    let mut anonymous = Mcp::new(&server, None);
    let (status, _) = anonymous
        .post(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "anon", "version": "0"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut ops = Mcp::new(&server, Some(OPS_SECRET));
    ops.open().await;
    let listed = ops.request(2, "tools/list", json!({})).await;
    assert!(tool_names(&listed).iter().any(|n| n == "record_decision"));

    // A read token is refused a mutation: 403, nothing written, the refusal audited.
    let decision = json!({"agent": "tester", "decision": "roll back", "confidence": 80,
                          "service": "payment-service"});
    let (status, _, body) = direct(
        &server,
        "record_decision",
        decision.to_string(),
        Some(VIEWER_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    let (status, _, body) = direct(&server, "list_decisions", "{}", Some(VIEWER_SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decisions"], json!([]), "a refused call wrote: {body}");
    let (status, _, audit) = direct(
        &server,
        "list_audit",
        r#"{"tool":"record_decision"}"#,
        Some(VIEWER_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let records = audit["records"].as_array().expect("records");
    assert!(
        records
            .iter()
            .any(|r| r["outcome"] == "refused" && r["who"] == "viewer"),
        "no refused record_decision by viewer: {audit}"
    );

    // The write token may; its name is the audit's "who".
    let (status, _, body) = direct(
        &server,
        "record_decision",
        decision.to_string(),
        Some(OPS_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, audit) = direct(
        &server,
        "list_audit",
        r#"{"tool":"record_decision","outcome":"ok"}"#,
        Some(OPS_SECRET),
    )
    .await;
    assert!(
        audit["records"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["who"] == "ops")),
        "{audit}"
    );
}

/// The sum of `quantumstate_tool_calls_total` samples for `tool` in a Prometheus text.
fn tool_calls(metrics: &str, tool: &str) -> f64 {
    let label = format!("tool=\"{tool}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("quantumstate_tool_calls_total{") && l.contains(&label))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_refused_call_is_counted_once_in_metrics() {
    let store = Store::new();
    let server = HttpServer::start(&store, &["--token", OPS, "--token", VIEWER]).await;
    let decision = json!({"agent": "tester", "decision": "roll back", "confidence": 80,
                          "service": "payment-service"});
    let (status, _, body) = direct(
        &server,
        "record_decision",
        decision.to_string(),
        Some(VIEWER_SECRET),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, metrics) = get(&server, "/metrics", Some(OPS_SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    let samples: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("quantumstate_tool_calls_total{"))
        .collect();
    assert_eq!(
        tool_calls(&metrics, "record_decision"),
        1.0,
        "one refused call must count once in quantumstate_tool_calls_total: {samples:#?}"
    );
}

/// A POST to `/mcp`: status and body text.
async fn post_mcp(server: &HttpServer, content_type: &str, body: &str) -> (StatusCode, String) {
    let r = http_client()
        .post(server.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", content_type)
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST /mcp");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

#[tokio::test]
async fn malformed_json_rpc_gets_a_json_rpc_parse_error_not_415() {
    let store = Store::new();
    let server = HttpServer::start(&store, &[]).await;
    for (body, code) in [
        ("{bad", -32700),
        ("[]", -32600),
        (r#"{"jsonrpc":"2.0"}"#, -32600),
    ] {
        let (status, text) = post_mcp(&server, "application/json", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        let v: Value = serde_json::from_str(&text).expect("a JSON-RPC error body");
        assert_eq!(v["jsonrpc"], "2.0", "{text}");
        assert_eq!(v["error"]["code"], code, "{body}: {text}");
        assert!(v["id"].is_null(), "{text}");
    }
    // A body that is not JSON at all keeps 415.
    let (status, text) = post_mcp(&server, "text/plain", "{}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    // And the server still opens sessions.
    let mut mcp = Mcp::new(&server, None);
    assert_eq!(mcp.open().await["serverInfo"]["name"], "quantumstate");
}
