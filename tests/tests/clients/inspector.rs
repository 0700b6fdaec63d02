//! The MCP Inspector CLI (`@modelcontextprotocol/inspector --cli`, on the pinned Node):
//! tools/list, tools/call, prompts/get and resources over stdio, tools/list over HTTP.

use std::time::Duration;

use anyhow::{Context, ensure};
use quantumstate_tests::qs::{HttpServer, bin};
use serde_json::Value;

use crate::support::{Clients, SECRET, TOKEN, expected_tools, fail, seeded_store, tool_names};

/// The Inspector CLI's JSON output for one `--method` call.
async fn inspect(c: &Clients, target: &[String], method: &[&str]) -> anyhow::Result<Value> {
    let mut args: Vec<String> = vec!["--cli".into()];
    args.extend(target.iter().cloned());
    args.extend(method.iter().map(|s| s.to_string()));
    let out = c.node(&c.inspector, &args, Duration::from_secs(60)).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "inspector {method:?} failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).with_context(|| format!("inspector output: {stdout}"))
}

#[tokio::test]
async fn inspector_cli_lists_and_calls_tools_over_stdio_and_http() {
    let Some(c) = Clients::find() else { return };
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let expected = expected_tools(&store).await.unwrap_or_else(|e| fail(e));
    let exe = bin("quantumstate-mcp").unwrap_or_else(|e| fail(e));
    let stdio: Vec<String> = vec![
        "-e".into(),
        format!("QS_STORE={}", store.spec()),
        "-e".into(),
        "QS_LOG=warn".into(),
        exe.display().to_string(),
        "stdio".into(),
    ];
    let listed = inspect(&c, &stdio, &["--method", "tools/list"])
        .await
        .unwrap_or_else(|e| fail(e));
    assert_eq!(tool_names(&listed), expected, "tools/list over stdio");

    let called = inspect(
        &c,
        &stdio,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "find_similar_incidents",
            "--tool-arg",
            "description=heap keeps growing after a deploy",
            "limit=2",
        ],
    )
    .await
    .unwrap_or_else(|e| fail(e));
    let incidents = called["structuredContent"]["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        called["isError"] != true && incidents.len() == 2,
        "tools/call: {called}"
    );

    let prompt = inspect(
        &c,
        &stdio,
        &[
            "--method",
            "prompts/get",
            "--prompt-name",
            "investigate_incident",
            "--prompt-args",
            "service=payment-service",
        ],
    )
    .await
    .unwrap_or_else(|e| fail(e));
    assert!(
        prompt.to_string().contains("payment-service"),
        "prompts/get: {prompt}"
    );
    let runbooks = inspect(&c, &stdio, &["--method", "resources/list"])
        .await
        .unwrap_or_else(|e| fail(e));
    let uri = runbooks["resources"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .filter_map(|r| r["uri"].as_str())
                .find(|u| u.starts_with("runbook://"))
        })
        .unwrap_or_else(|| panic!("no runbook in resources/list: {runbooks}"))
        .to_string();
    let read = inspect(&c, &stdio, &["--method", "resources/read", "--uri", &uri])
        .await
        .unwrap_or_else(|e| fail(e));
    assert!(
        read["contents"][0]["text"].is_string(),
        "resources/read: {read}"
    );

    // The same listing over streamable HTTP with a bearer token.
    let server = HttpServer::start(&store, &["--token", TOKEN])
        .await
        .unwrap_or_else(|e| fail(e));
    let http: Vec<String> = vec![
        format!("http://127.0.0.1:{}/mcp", server.port),
        "--transport".into(),
        "http".into(),
        "--header".into(),
        format!("Authorization: Bearer {SECRET}"),
    ];
    let listed = inspect(&c, &http, &["--method", "tools/list"])
        .await
        .unwrap_or_else(|e| fail(e));
    assert_eq!(tool_names(&listed), expected, "tools/list over HTTP");
}
