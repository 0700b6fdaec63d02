//! Hostile input, by property: every tool gets arbitrary arguments — wrong types, huge and
//! unicode strings, negative and enormous numbers, path and label tricks in service names,
//! unknown fields — and must answer with a result or a clear tool error, never a panic.
//! Then malformed JSON-RPC over stdio must not take the server down.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use quantumstate_mcp::caller::Caller;
use quantumstate_mcp::config::Config;
use quantumstate_mcp::{App, Dispatcher, ErrorCode};
use serde_json::{Map, Value, json};

/// Values that have broken servers before.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("   ".to_string()),
        Just("../../../../etc/passwd".to_string()),
        Just("payment-service; docker rm -f $(docker ps -q)".to_string()),
        Just("payment-service,quantumstate.managed=true".to_string()),
        Just("quantumstate-mcp".to_string()),
        Just("qs-scraper".to_string()),
        Just("-5m".to_string()),
        Just("99999999999999999999d".to_string()),
        Just("\u{0}\u{1}\u{7f}".to_string()),
        Just("支付服务 🔥 \u{202e}evil".to_string()),
        Just("\" OR 1=1 --".to_string()),
        Just("NEAR(a b) * ^ \"".to_string()),
        Just("a".repeat(200_000)),
        Just("payment-service".to_string()),
        Just("auth-cache".to_string()),
        "\\PC{0,40}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(-1.0f64),
            Just(1e308),
            Just(0.5),
            Just(-0.0),
            any::<f64>()
        ]
        .prop_map(|f| {
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }),
        nasty_string().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

struct Env {
    rt: tokio::runtime::Runtime,
    dispatcher: Dispatcher,
    tools: Vec<(String, Vec<String>)>,
    _store: common::Store,
}

/// One seeded store and dispatcher for every case (Docker deliberately absent).
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let store = common::Store::new();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut cfg = Config::local(&format!("sqlite:{}", store.db_file().display()));
        cfg.services = common::DEMO_SERVICES
            .split(',')
            .map(str::to_string)
            .collect();
        cfg.docker_hosts = vec![quantumstate_fleet::HostSpec::at(common::NO_DOCKER)];
        let (dispatcher, tools) = rt.block_on(async {
            let app = App::new(cfg, tokio_util::sync::CancellationToken::new());
            let s = app.store().await.unwrap();
            quantumstate_store::seed::seed(s.as_ref(), chrono::Utc::now())
                .await
                .unwrap();
            let d = Dispatcher::new(app);
            let tools = d
                .list()
                .into_iter()
                .map(|t| {
                    let props = t
                        .input_schema
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default();
                    (t.name.to_string(), props)
                })
                .collect();
            (d, tools)
        });
        Env {
            rt,
            dispatcher,
            tools,
            _store: store,
        }
    })
}

/// Arguments built from a tool's own field names (so values reach the checks behind
/// deserialisation) plus, sometimes, fields it does not have.
fn arguments() -> impl Strategy<Value = (usize, Value)> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec((any::<prop::sample::Index>(), value()), 0..6),
        any::<bool>(),
        value(),
    )
        .prop_map(|(tool, fields, stray, stray_value)| {
            let env = env();
            let i = tool.index(env.tools.len());
            let props = &env.tools[i].1;
            let mut m = Map::new();
            for (k, v) in fields {
                if !props.is_empty() {
                    m.insert(props[k.index(props.len())].clone(), v);
                }
            }
            if stray {
                m.insert("not_a_field".into(), stray_value);
            }
            (i, Value::Object(m))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_tool_answers_hostile_arguments_without_panicking((i, args) in arguments()) {
        let env = env();
        let name = env.tools[i].0.clone();
        let out = env.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), env.dispatcher.call(&name, args.clone(), Caller::cli())).await
        });
        let out = out.unwrap_or_else(|_| panic!("{name} did not answer within 30 s for {args}"));
        if let Err(e) = out {
            prop_assert!(!e.message.trim().is_empty(), "{name}: an empty error message for {args}");
            prop_assert!(e.message.len() < 4_000, "{name}: error echoes too much input ({} bytes)", e.message.len());
            prop_assert!(e.code != ErrorCode::UnknownTool, "{name} is a known tool");
        }
    }

    #[test]
    fn non_object_arguments_are_refused_clearly(i in any::<prop::sample::Index>(), v in leaf()) {
        let env = env();
        let name = env.tools[i.index(env.tools.len())].0.clone();
        prop_assume!(!v.is_null());
        let out = env.rt.block_on(env.dispatcher.call(&name, v.clone(), Caller::cli()));
        let e = out.expect_err("a non-object is refused");
        prop_assert_eq!(e.code, ErrorCode::InvalidArgument);
        prop_assert!(e.message.contains("JSON object"), "{}", e.message);
    }
}

#[test]
fn huge_and_tricky_strings_get_specific_errors() {
    let env = env();
    let call = |tool: &str, args: Value| {
        env.rt
            .block_on(env.dispatcher.call(tool, args, Caller::cli()))
    };
    let e = call(
        "find_similar_incidents",
        json!({"description": "x".repeat(1_000_000)}),
    )
    .unwrap_err();
    assert!(e.message.contains("limit is 2000"), "{}", e.message);
    let e = call(
        "query_metrics",
        json!({"service": "../../etc/passwd", "metric_type": "up"}),
    )
    .unwrap_err();
    assert!(e.message.contains("not a container name"), "{}", e.message);
    let e = call("list_incidents", json!({"window": "-5m"})).unwrap_err();
    assert!(e.message.contains("window"), "{}", e.message);
    let e = call(
        "record_decision",
        json!({"agent": "a", "decision": "d", "confidence": -1, "service": "payment-service"}),
    )
    .unwrap_err();
    assert!(e.message.contains("0 to 100"), "{}", e.message);
    let e = call(
        "inject_fault",
        json!({"service": "payment-service", "kind": "memory_leak", "ttl_seconds": 0}),
    )
    .unwrap_err();
    assert!(e.message.contains("ttl_seconds"), "{}", e.message);
    let e = call("search_logs", json!({"text": "\" OR NEAR(", "limit": 5})).unwrap();
    assert!(e["lines"].is_array());
}

/// Garbage lines on stdin are not allowed to kill the server: a valid request afterwards
/// is still answered.
#[test]
fn malformed_json_rpc_over_stdio_leaves_the_server_answering() {
    let store = common::Store::new();
    let mut child = store
        .command(["stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let send = |stdin: &mut std::process::ChildStdin, s: &str| {
        stdin.write_all(s.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    );
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    for junk in [
        "not json at all",
        "{",
        r#"{"jsonrpc":"2.0","id":2}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":"nope"}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_incident","arguments":[1,2]}}"#,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"\u0000"}}"#,
        &format!(
            r#"{{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{{"name":"list_incidents","arguments":{{"service":"{}"}}}}}}"#,
            "z".repeat(100_000)
        ),
        "[]",
        "\u{feff}\u{0}",
    ] {
        send(&mut stdin, junk);
    }
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","id":99,"method":"tools/list"}"#,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut answered = false;
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["id"] == 99
                {
                    answered = v["result"]["tools"]
                        .as_array()
                        .is_some_and(|t| !t.is_empty());
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    assert!(alive, "the server survived the garbage");
    assert!(answered, "tools/list after the garbage was answered");
}
