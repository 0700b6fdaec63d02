//! MCP over stdio against the real binary: rmcp's client over a child process for the
//! whole capability set, and raw JSON-RPC lines for the 2026-07-28 `server/discover`
//! lifecycle and an older client's version negotiation.

#![allow(deprecated)] // rmcp marks logging/setLevel deprecated (SEP-2577); the SPEC requires it.

mod common;

use std::future::Future;
use std::process::Stdio;
use std::time::Duration;

use common::{LEAK_QUERY, NO_DOCKER, Store};
use rmcp::model::{
    CallToolRequestParams, ClientRequest, CustomRequest, ErrorCode, GetPromptRequestParams,
    JsonObject, LoggingLevel, ReadResourceRequestParams, SetLevelRequestParams,
};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceError, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The bound on any single exchange with the server.
const LIMIT: Duration = Duration::from_secs(30);

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {} s", LIMIT.as_secs()))
}

type Client = RunningService<RoleClient, ()>;

/// An rmcp client over `quantumstate-mcp stdio` on `store` (initialize handshake done).
async fn connect(store: &Store) -> Client {
    connect_with(store.tokio_command(["stdio"])).await
}

/// The same over a prepared `quantumstate-mcp stdio` command.
async fn connect_with(cmd: tokio::process::Command) -> Client {
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the stdio server");
    bounded("initialize", ().serve(transport))
        .await
        .expect("initialize handshake")
}

fn args(v: Value) -> JsonObject {
    v.as_object().expect("an object").clone()
}

async fn close(client: Client) {
    let _ = bounded("close", client.cancel()).await;
}

#[tokio::test]
async fn initialize_reports_name_and_capabilities() {
    let store = Store::new();
    let client = connect(&store).await;
    let info = client.peer_info().expect("server info after initialize");
    let info = serde_json::to_value(&*info).expect("serialize");
    assert_eq!(info["serverInfo"]["name"], "quantumstate", "{info}");
    for cap in ["tools", "prompts", "resources", "completions", "logging"] {
        assert!(
            info["capabilities"][cap].is_object(),
            "capability {cap} missing: {info}"
        );
    }
    assert!(
        info["instructions"].as_str().is_some_and(|s| !s.is_empty()),
        "{info}"
    );
    close(client).await;
}

#[tokio::test]
async fn tools_list_is_the_cli_tools_list() {
    let store = Store::new();
    let client = connect(&store).await;
    let tools = bounded("tools/list", client.list_all_tools())
        .await
        .expect("tools/list");
    let mcp_names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for t in &tools {
        assert!(t.output_schema.is_some(), "{} has no outputSchema", t.name);
        assert!(t.annotations.is_some(), "{} has no annotations", t.name);
    }
    let r = store.run(&["tools"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let mut cli_names = common::tool_names(&r.json());
    let mut sorted = mcp_names.clone();
    sorted.sort();
    cli_names.sort();
    assert_eq!(sorted, cli_names);
    assert!(mcp_names.iter().any(|n| n == "find_similar_incidents"));
    close(client).await;
}

#[tokio::test]
async fn tool_call_returns_what_the_cli_prints() {
    let store = Store::new();
    store.seed();
    let cli = store.call_ok("find_similar_incidents", LEAK_QUERY);
    let client = connect(&store).await;
    let arguments: Value = serde_json::from_str(LEAK_QUERY).expect("query json");
    let r = bounded(
        "tools/call",
        client.call_tool(
            CallToolRequestParams::new("find_similar_incidents").with_arguments(args(arguments)),
        ),
    )
    .await
    .expect("tools/call");
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let structured = r.structured_content.clone().expect("structuredContent");
    assert_eq!(structured["incidents"][0]["id"], "inc-seed-001");
    assert_eq!(structured["incidents"][0]["mttr_seconds"], 2820);
    assert_eq!(
        structured, cli,
        "stdio structuredContent and CLI call differ"
    );
    close(client).await;
}

#[tokio::test]
async fn tool_errors_are_is_error_with_a_structured_error() {
    let store = Store::new();
    let client = connect(&store).await;
    let r = bounded(
        "record_decision",
        client.call_tool(
            CallToolRequestParams::new("record_decision").with_arguments(args(
                json!({"agent": "tester", "decision": "roll back", "confidence": 140,
                   "service": "payment-service"}),
            )),
        ),
    )
    .await
    .expect("a tool error is a result, not a protocol error");
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let s = r.structured_content.clone().expect("structuredContent");
    assert_eq!(s["error"]["code"], "invalid_argument", "{s}");
    assert!(
        s["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("confidence")),
        "{s}"
    );
    let text = serde_json::to_string(&r.content).expect("serialize content");
    assert!(
        text.contains("confidence"),
        "the text block tells the model too: {text}"
    );

    // A fleet tool with Docker absent: a clear unavailable error, and the server stays up.
    let r = bounded(
        "list_services",
        client
            .call_tool(CallToolRequestParams::new("list_services").with_arguments(args(json!({})))),
    )
    .await
    .expect("tool error");
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let s = r.structured_content.clone().expect("structuredContent");
    assert_eq!(s["error"]["code"], "unavailable", "{s}");
    assert!(
        s["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Docker is unavailable")),
        "{s}"
    );
    bounded("tools/list after errors", client.list_all_tools())
        .await
        .expect("still serving");
    close(client).await;
}

#[tokio::test]
async fn prompts_list_and_get() {
    let store = Store::new();
    let client = connect(&store).await;
    let prompts = bounded("prompts/list", client.list_all_prompts())
        .await
        .expect("prompts/list");
    let prompts = serde_json::to_value(&prompts).expect("serialize");
    let names: Vec<&str> = prompts
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"investigate_incident"), "{prompts}");
    assert!(names.contains(&"run_chaos_drill"), "{prompts}");
    let investigate = prompts
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == "investigate_incident"))
        .expect("investigate_incident");
    assert!(
        investigate["arguments"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["name"] == "service")),
        "{investigate}"
    );

    let got = bounded(
        "prompts/get",
        client.get_prompt(
            GetPromptRequestParams::new("investigate_incident")
                .with_arguments(args(json!({"service": "payment-service"}))),
        ),
    )
    .await
    .expect("prompts/get");
    let got = serde_json::to_value(&got).expect("serialize");
    let messages = got["messages"].as_array().expect("messages");
    assert!(!messages.is_empty(), "{got}");
    let text = messages[0]["content"]["text"].as_str().unwrap_or_default();
    assert!(text.contains("payment-service"), "{got}");
    assert!(text.contains("detect_anomalies"), "{got}");
    close(client).await;
}

#[tokio::test]
async fn resources_and_templates() {
    let store = Store::new();
    store.seed();
    let client = connect(&store).await;
    let resources = bounded("resources/list", client.list_all_resources())
        .await
        .expect("resources/list");
    let uris: Vec<String> = resources.iter().map(|r| r.uri.clone()).collect();
    assert!(
        uris.iter().any(|u| u.starts_with("runbook://")),
        "no runbook resource: {uris:?}"
    );
    assert!(
        uris.iter().any(|u| u == "incident://inc-seed-001"),
        "no incident resource: {uris:?}"
    );

    for uri in ["incident://inc-seed-001".to_string(), first_runbook(&uris)] {
        let read = bounded(
            "resources/read",
            client.read_resource(ReadResourceRequestParams::new(uri.clone())),
        )
        .await
        .expect("resources/read");
        let read = serde_json::to_value(&read).expect("serialize");
        let content = &read["contents"][0];
        assert_eq!(content["uri"], uri.as_str(), "{read}");
        let doc: Value = serde_json::from_str(content["text"].as_str().expect("text contents"))
            .expect("the resource is JSON");
        let id = uri.split("://").nth(1).unwrap_or_default();
        assert_eq!(doc["id"], id, "{doc}");
    }

    let unknown = bounded(
        "resources/read unknown",
        client.read_resource(ReadResourceRequestParams::new(
            "incident://no-such-incident",
        )),
    )
    .await;
    assert!(
        matches!(unknown, Err(ServiceError::McpError(_))),
        "{unknown:?}"
    );

    let templates = bounded(
        "resources/templates/list",
        client.list_all_resource_templates(),
    )
    .await
    .expect("resources/templates/list");
    let templates: Vec<String> = templates.iter().map(|t| t.uri_template.clone()).collect();
    assert!(
        templates.iter().any(|t| t == "runbook://{id}"),
        "{templates:?}"
    );
    assert!(
        templates.iter().any(|t| t == "incident://{id}"),
        "{templates:?}"
    );
    close(client).await;
}

fn first_runbook(uris: &[String]) -> String {
    uris.iter()
        .find(|u| u.starts_with("runbook://"))
        .cloned()
        .expect("a runbook resource")
}

#[tokio::test]
async fn completion_logging_and_unknown_methods() {
    let store = Store::new();
    let client = connect(&store).await;
    let values = bounded(
        "completion/complete",
        client.complete_prompt_simple("investigate_incident", "service", "pay"),
    )
    .await
    .expect("completion/complete");
    assert!(values.iter().any(|v| v == "payment-service"), "{values:?}");
    assert!(values.iter().all(|v| v.starts_with("pay")), "{values:?}");

    bounded(
        "logging/setLevel",
        client
            .peer()
            .set_level(SetLevelRequestParams::new(LoggingLevel::Info)),
    )
    .await
    .expect("logging/setLevel accepted");

    let unknown = bounded(
        "unknown method",
        client
            .peer()
            .send_request(ClientRequest::CustomRequest(CustomRequest::new(
                "quantumstate/no-such-method",
                None,
            ))),
    )
    .await;
    match unknown {
        Err(ServiceError::McpError(e)) => assert_eq!(e.code, ErrorCode::METHOD_NOT_FOUND, "{e:?}"),
        other => panic!("expected a -32601 JSON-RPC error, got {other:?}"),
    }
    // The session survives it.
    bounded("tools/list", client.list_all_tools())
        .await
        .expect("still serving");
    close(client).await;
}

#[tokio::test]
async fn starts_with_only_path_and_home_like_a_desktop_client() {
    let home = tempfile::tempdir().expect("temp HOME");
    let mut cmd = tokio::process::Command::new(common::BIN).configure(|c| {
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .arg("stdio")
            .arg("--docker-host")
            .arg(NO_DOCKER)
            .kill_on_drop(true);
    });
    cmd.current_dir(home.path());
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let client = bounded("initialize", ().serve(transport))
        .await
        .expect("initialize");
    let tools = bounded("tools/list", client.list_all_tools())
        .await
        .expect("tools/list");
    assert!(!tools.is_empty());
    // A store call opens (and creates) the default store.
    let r = bounded(
        "list_incidents",
        client.call_tool(
            CallToolRequestParams::new("list_incidents").with_arguments(args(json!({}))),
        ),
    )
    .await
    .expect("list_incidents");
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let db = home
        .path()
        .join(".local/share/quantumstate/quantumstate.db");
    assert!(
        db.exists(),
        "the default store should be {}, under $HOME",
        db.display()
    );
    close(client).await;
}

/// A raw line-based JSON-RPC connection to `quantumstate-mcp stdio`.
struct Raw {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Raw {
    fn spawn(store: &Store) -> Raw {
        let mut child = store
            .tokio_command(["stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        Raw {
            _child: child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        }
    }

    async fn send(&mut self, msg: Value) {
        let mut line = msg.to_string();
        line.push('\n');
        bounded("write", self.stdin.write_all(line.as_bytes()))
            .await
            .expect("write to the server");
        bounded("flush", self.stdin.flush()).await.expect("flush");
    }

    /// The reply to request `id`, skipping notifications (bounded).
    async fn reply(&mut self, id: i64) -> Value {
        bounded("reply", async {
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .expect("read stdout")
                    .expect("the server closed stdout before replying");
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
                assert_eq!(v["jsonrpc"], "2.0", "{v}");
                if v["id"] == id {
                    return v;
                }
            }
        })
        .await
    }
}

fn meta_2026() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "qs-raw-test", "version": "0.0.0"}
    })
}

#[tokio::test]
async fn raw_server_discover_with_meta() {
    let store = Store::new();
    store.seed();
    let mut raw = Raw::spawn(&store);
    raw.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                    "params": {"_meta": meta_2026()}}),
    )
    .await;
    let r = raw.reply(1).await;
    let result = &r["result"];
    assert!(result.is_object(), "{r}");
    let versions: Vec<&str> = result["supportedVersions"]
        .as_array()
        .expect("supportedVersions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(versions.contains(&"2026-07-28"), "{r}");
    assert!(versions.contains(&"2025-06-18"), "{r}");
    for cap in ["tools", "prompts", "resources", "completions", "logging"] {
        assert!(result["capabilities"][cap].is_object(), "{cap}: {r}");
    }
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "quantumstate",
        "{r}"
    );

    // A per-request-_meta call after discover works without initialize.
    raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "get_incident", "arguments": {"id": "inc-seed-001"},
                               "_meta": meta_2026()}}))
        .await;
    let r = raw.reply(2).await;
    assert_eq!(
        r["result"]["structuredContent"]["id"], "inc-seed-001",
        "{r}"
    );

    // Unknown methods get an error reply, not silence.
    raw.send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "quantumstate/no-such-method",
                    "params": {"_meta": meta_2026()}}),
    )
    .await;
    let r = raw.reply(3).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
}

#[tokio::test]
async fn raw_initialize_negotiates_2025_06_18() {
    let store = Store::new();
    let mut raw = Raw::spawn(&store);
    raw.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "qs-raw-test", "version": "0.0.0"}
        }}),
    )
    .await;
    let r = raw.reply(1).await;
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18", "{r}");
    assert_eq!(r["result"]["serverInfo"]["name"], "quantumstate", "{r}");
    raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}))
        .await;
    let r = raw.reply(2).await;
    assert!(
        r["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty()),
        "{r}"
    );
    raw.send(json!({"jsonrpc": "2.0", "id": 3, "method": "foo/bar", "params": {}}))
        .await;
    let r = raw.reply(3).await;
    assert_eq!(r["error"]["code"], -32601, "{r}");
}

#[tokio::test]
async fn nothing_but_the_list_is_on_the_path_to_the_first_tools_list() {
    let store = Store::new();
    let db = store.db_file();
    // Without a list the server starts its background work after 1 s; a minute here, so a
    // slow machine cannot pass that mark before the check below.
    let mut cmd = store.tokio_command(["stdio"]);
    cmd.env("QS_START_AT_LATEST_MS", "60000");
    let client = connect_with(cmd).await;
    // The store (and the reaper, runner and router behind it) waits for the first list.
    assert!(
        !db.exists(),
        "the store was opened before any tools/list: {}",
        db.display()
    );
    let tools = bounded("tools/list", client.list_all_tools())
        .await
        .expect("tools/list");
    assert!(tools.len() >= 20, "{} tools", tools.len());
    // Then the background work starts: the store is opened without any call asking.
    let opened = async {
        while !db.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    bounded("the store opening after the list", opened).await;
    close(client).await;
}
