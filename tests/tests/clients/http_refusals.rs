//! HTTP refusals with real requests: no token, a wrong token, a foreign Host or Origin,
//! an oversized body — on the direct route and on /mcp, each refused with its status,
//! nothing run (no decision written) and an audit record of the attempt.

use std::time::Duration;

use quantumstate_tests::qs::HttpServer;
use serde_json::{Value, json};

use crate::support::{Clients, SECRET, TOKEN, fail, seeded_store};

/// A refused request: what is wrong with it, its extra headers, the status it gets and
/// the audit's "who".
type Refusal<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str);

/// One POST (reqwest): status and body.
async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> anyhow::Result<(u16, String)> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut req = client.post(url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

#[tokio::test]
async fn refused_http_requests_run_nothing_and_are_audited() {
    if Clients::find().is_none() {
        return;
    }
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let server = HttpServer::start(&store, &["--token", TOKEN])
        .await
        .unwrap_or_else(|e| fail(e));
    let base = format!("http://127.0.0.1:{}", server.port);
    let bearer = format!("Bearer {SECRET}");
    // A real (not dry-run) mutation: it writes a decision when it is let through.
    let args = json!({"agent": "intruder", "decision": "written by a refused request",
                      "confidence": 99, "service": "payment-service"});
    let rpc = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "record_decision", "arguments": args,
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}});
    let mcp_headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "record_decision"),
    ];
    let oversized = format!(
        "{{\"agent\": \"{}\", \"decision\": \"d\", \"confidence\": 1, \"service\": \"payment-service\"}}",
        "a".repeat(1100 * 1024)
    );
    let oversized_rpc = rpc
        .to_string()
        .replace("\"intruder\"", &format!("\"{}\"", "a".repeat(1100 * 1024)));
    let cases: [Refusal; 5] = [
        ("no token", &[], 401, "anonymous"),
        (
            "wrong token",
            &[("authorization", "Bearer not-the-secret-at-all")],
            401,
            "anonymous",
        ),
        (
            "bad Host",
            &[("authorization", bearer.as_str()), ("host", "evil.example")],
            403,
            "demo",
        ),
        (
            "bad Origin",
            &[
                ("authorization", bearer.as_str()),
                ("origin", "http://evil.example"),
            ],
            403,
            "demo",
        ),
        (
            "oversized",
            &[("authorization", bearer.as_str())],
            413,
            "demo",
        ),
    ];
    let mut expected_audit = Vec::new();
    for (case, extra, status, who) in cases {
        let (direct, mcp) = if case == "oversized" {
            (oversized.clone(), oversized_rpc.clone())
        } else {
            (args.to_string(), rpc.to_string())
        };
        let url = format!("{base}/api/tools/record_decision");
        let (got, body) = post(&url, extra, direct).await.unwrap_or_else(|e| fail(e));
        assert_eq!(got, status, "{case} on the direct route: {body}");
        let mut headers: Vec<(&str, &str)> = mcp_headers.to_vec();
        headers.extend_from_slice(extra);
        let (got, body) = post(&format!("{base}/mcp"), &headers, mcp)
            .await
            .unwrap_or_else(|e| fail(e));
        assert_eq!(got, status, "{case} on /mcp: {body}");
        let direct = format!("HTTP {status} on POST /api/tools/record_decision");
        expected_audit.push(("record_decision", direct, who));
        // An oversized body is not read, so its record names the route, not the tool.
        let (tool, route) = if status == 413 {
            ("/mcp", "POST /mcp:")
        } else {
            ("record_decision", "POST /mcp (tools/call)")
        };
        expected_audit.push((tool, format!("HTTP {status} on {route}"), who));
    }

    // Nothing ran: no decision was written.
    let auth = [("authorization", bearer.as_str())];
    let list = |tool: &'static str, body: Value| {
        let (base, auth) = (base.clone(), auth);
        async move {
            let (status, text) = post(&format!("{base}/api/tools/{tool}"), &auth, body.to_string())
                .await
                .unwrap_or_else(|e| fail(e));
            assert_eq!(status, 200, "{tool}: {text}");
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| fail(e.into()))
        }
    };
    let decisions = list("list_decisions", json!({})).await;
    assert_eq!(
        decisions["decisions"],
        json!([]),
        "a refused request wrote: {decisions}"
    );

    // Each refusal is in the audit trail, with who and the tool it tried.
    let audit = list("list_audit", json!({"outcome": "refused", "limit": 100})).await;
    let records = audit["records"].as_array().cloned().unwrap_or_default();
    for (tool, detail, who) in &expected_audit {
        assert!(
            records.iter().any(|r| r["tool"] == *tool
                && r["who"] == *who
                && r["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(detail.as_str()))),
            "no refused {tool} by {who} with {detail:?}: {audit}"
        );
    }
    // Identical refusals within a minute fold into one record that counts them.
    let counted: u64 = records
        .iter()
        .map(|r| r["repeats"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(
        counted as usize,
        expected_audit.len(),
        "every refusal is counted once: {audit}"
    );

    // The same request with the token goes through: the refusals were what stopped it.
    let (status, text) = post(
        &format!("{base}/api/tools/record_decision"),
        &auth,
        args.to_string(),
    )
    .await
    .unwrap_or_else(|e| fail(e));
    assert_eq!(status, 200, "{text}");
    let decisions = list("list_decisions", json!({})).await;
    assert_eq!(
        decisions["decisions"].as_array().map(Vec::len),
        Some(1),
        "{decisions}"
    );
}
