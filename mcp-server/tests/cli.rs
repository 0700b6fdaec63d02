//! The CLI surface, driven through the real binary: `seed`, `call`'s output contract
//! (stdout is exactly the structured result; errors are one JSON line on stderr and exit
//! 1), `tools`, `--read-only`, and `http`'s refusal to listen publicly without a token.

mod common;

use std::time::Duration;

use common::{LEAK_QUERY, Store, single_json};
use serde_json::{Value, json};

/// Asserts `r` is a failed `call`: exit 1, nothing on stdout, exactly one JSON line on
/// stderr of the form `{"error": {"code", "message", ...}}`. Returns the error object.
fn expect_call_error(r: &common::Run, code: &str) -> Value {
    assert_eq!(r.code, Some(1), "exit code: {r:?}");
    assert_eq!(r.stdout, "", "stdout must stay empty on error: {r:?}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr must be exactly one line: {:?}",
        r.stderr
    );
    let v = single_json(lines[0]).unwrap_or_else(|e| panic!("{e}: {:?}", r.stderr));
    let top = v.as_object().expect("an object");
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        ["error"],
        "only an error key: {v}"
    );
    let err = &v["error"];
    assert_eq!(err["code"], code, "{v}");
    let message = err["message"].as_str().expect("message is a string");
    assert!(!message.trim().is_empty(), "{v}");
    if let Some(h) = err.get("hint") {
        assert!(h.as_str().is_some_and(|h| !h.trim().is_empty()), "{v}");
    }
    err.clone()
}

#[test]
fn seed_reports_counts_and_is_idempotent() {
    let store = Store::new();
    let first = store.seed();
    let added = first["seed"]["incidents_added"]
        .as_u64()
        .expect("incidents_added");
    assert!(
        added >= 44,
        "seed 001's 4 incidents and at least 40 more: {first}"
    );
    assert_eq!(first["seed"]["runbooks_added"], 8, "{first}");
    assert!(
        store.db_file().exists(),
        "the store lives under QS_DATA_DIR"
    );

    let second = store.seed();
    assert_eq!(second["seed"]["incidents_added"], 0, "{second}");
    assert_eq!(second["seed"]["runbooks_added"], 0, "{second}");
    assert_eq!(second["seed"]["incidents_present"], added, "{second}");
    assert_eq!(second["seed"]["runbooks_present"], 8, "{second}");
}

#[test]
fn call_prints_exactly_the_structured_result() {
    let store = Store::new();
    store.seed();
    let r = store.run(&["call", "find_similar_incidents", LEAK_QUERY]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(
        r.stdout.trim_end().lines().count(),
        1,
        "one line on stdout: {:?}",
        r.stdout
    );
    let v = r.json();
    assert!(v.is_object(), "{v}");
    let first = &v["incidents"][0];
    assert_eq!(first["id"], "inc-seed-001", "{v}");
    assert_eq!(first["mttr_seconds"], 2820, "{v}");
    assert_eq!(first["service"], "payment-service", "{v}");
    assert_eq!(first["anomaly_type"], "memory_leak_progressive", "{v}");
    for key in ["score", "root_cause", "actions_taken", "@timestamp"] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(v["truncated"], json!(true), "5 of many matches: {v}");

    // The same call twice gives the same bytes: no run-to-run noise in results.
    let again = store.run(&["call", "find_similar_incidents", LEAK_QUERY]);
    assert_eq!(again.stdout, r.stdout);
}

#[test]
fn call_reads_arguments_from_stdin() {
    let store = Store::new();
    store.seed();
    let from_arg = store.call_ok("find_similar_incidents", LEAK_QUERY);
    let r = store.run_with_stdin(&["call", "find_similar_incidents", "-"], LEAK_QUERY);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.json(), from_arg);

    let bad = store.run_with_stdin(&["call", "find_similar_incidents", "-"], "{not json");
    expect_call_error(&bad, "invalid_argument");
}

#[test]
fn bad_arguments_are_one_json_error_line_and_exit_1() {
    let store = Store::new();
    store.seed();
    let decision = |confidence: i64| {
        json!({"agent": "tester", "decision": "roll back", "confidence": confidence,
               "service": "payment-service"})
        .to_string()
    };
    // (tool, arguments, a word the message must contain, whether a hint is expected)
    let cases: Vec<(&str, String, &str, bool)> = vec![
        ("record_decision", decision(140), "140", true),
        (
            "find_similar_incidents",
            json!({"description": ""}).to_string(),
            "description",
            true,
        ),
        (
            "find_similar_incidents",
            json!({"description": "heap growing", "limit": 10_000}).to_string(),
            "10000",
            true,
        ),
        (
            "find_similar_incidents",
            json!({"description": "heap growing", "service": "nope-service"}).to_string(),
            "nope-service",
            true,
        ),
        (
            "find_similar_incidents",
            json!({"description": "heap growing", "bogus": 1}).to_string(),
            "bogus",
            true,
        ),
        (
            "list_incidents",
            json!({"window": "-5m"}).to_string(),
            "-5m",
            false,
        ),
        ("list_incidents", "[1]".to_string(), "object", true),
        ("list_incidents", "{".to_string(), "JSON", true),
    ];
    for (tool, args, word, hinted) in cases {
        let r = store.run(&["call", tool, &args]);
        let err = expect_call_error(&r, "invalid_argument");
        let message = err["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(word),
            "{tool} {args}: message should name {word:?}: {err}"
        );
        if hinted {
            assert!(
                err.get("hint").is_some(),
                "{tool} {args}: expected a hint: {err}"
            );
        }
    }
    // The unknown service's hint lists the ones that exist.
    let r = store.run(&[
        "call",
        "find_similar_incidents",
        r#"{"description":"heap growing","service":"nope-service"}"#,
    ]);
    let err = expect_call_error(&r, "invalid_argument");
    assert!(
        err["hint"]
            .as_str()
            .is_some_and(|h| h.contains("payment-service")),
        "{err}"
    );
    // Nothing was written by the refused record_decision.
    let decisions = store.call_ok("list_decisions", "{}");
    assert_eq!(decisions["decisions"], json!([]), "{decisions}");
}

#[test]
fn unknown_tool_is_its_own_code() {
    let store = Store::new();
    let r = store.run(&["call", "no_such_tool", "{}"]);
    let err = expect_call_error(&r, "unknown_tool");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("no_such_tool")),
        "{err}"
    );
}

#[test]
fn fleet_tool_without_docker_says_docker_is_unavailable() {
    let store = Store::new();
    let r = store.run(&["call", "list_services", "{}"]);
    let err = expect_call_error(&r, "unavailable");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("Docker is unavailable")),
        "{err}"
    );
    assert!(err.get("hint").is_some(), "{err}");
}

#[test]
fn read_only_lists_only_read_tools_and_refuses_mutations() {
    let store = Store::new();
    let r = store.run(&["--read-only", "tools"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let listing = r.json();
    let tools = listing["tools"].as_array().expect("tools");
    assert!(!tools.is_empty());
    for t in tools {
        assert_eq!(
            t["annotations"]["readOnlyHint"],
            json!(true),
            "--read-only lists a tool that is not read-only: {}",
            t["name"]
        );
    }
    let names = common::tool_names(&listing);
    assert!(names.iter().any(|n| n == "find_similar_incidents"));
    assert!(!names.iter().any(|n| n == "record_decision"));

    let r = store.run(&[
        "--read-only",
        "call",
        "record_decision",
        r#"{"agent":"tester","decision":"roll back","confidence":80,"service":"payment-service"}"#,
    ]);
    expect_call_error(&r, "forbidden");
    // Without --read-only the same store accepts it: the refusal was the mode.
    let decisions = store.call_ok("list_decisions", "{}");
    assert_eq!(decisions["decisions"], json!([]), "{decisions}");
}

#[test]
fn tools_have_schemas_annotations_and_a_small_payload() {
    let store = Store::new();
    let r = store.run(&["tools"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let listing = r.json();
    let tools = listing["tools"].as_array().expect("tools");
    let names = common::tool_names(&listing);
    for expected in [
        "find_similar_incidents",
        "find_relevant_runbook",
        "get_incident",
        "list_incidents",
        "record_incident",
        "record_decision",
        "list_decisions",
        "list_audit",
        "list_services",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    for t in tools {
        let name = t["name"].as_str().unwrap_or("?");
        assert_eq!(t["inputSchema"]["type"], "object", "{name} inputSchema");
        assert!(
            t["outputSchema"].is_object(),
            "{name} has no outputSchema: {t}"
        );
        assert!(
            t["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} description"
        );
        for hint in [
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        ] {
            assert!(
                t["annotations"][hint].is_boolean(),
                "{name} lacks annotation {hint}: {}",
                t["annotations"]
            );
        }
    }
    // Its size is budgeted in tests/tool_budget.rs (bytes and BPE tokens).
}

#[test]
fn record_decision_is_listed_and_audited() {
    let store = Store::new();
    let recorded = store.call_ok(
        "record_decision",
        r#"{"agent":"tester","decision":"roll back payment-service to v2.0.9","confidence":80,
            "service":"payment-service","context":{"incident":"inc-seed-001"}}"#,
    );
    assert_eq!(recorded["dry_run"], false, "{recorded}");
    let id = recorded["decision"]["id"]
        .as_str()
        .expect("decision id")
        .to_string();

    let list = store.call_ok("list_decisions", r#"{"service":"payment-service"}"#);
    let decisions = list["decisions"].as_array().expect("decisions");
    assert_eq!(decisions.len(), 1, "{list}");
    assert_eq!(decisions[0]["id"], id.as_str());
    assert_eq!(decisions[0]["confidence"], 80);
    assert_eq!(decisions[0]["agent"], "tester");
    assert_eq!(decisions[0]["context"]["incident"], "inc-seed-001");

    let audit = store.call_ok("list_audit", r#"{"tool":"record_decision"}"#);
    let records = audit["records"].as_array().expect("records");
    assert!(
        records
            .iter()
            .any(|r| r["tool"] == "record_decision" && r["outcome"] == "ok" && r["who"] == "cli"),
        "no ok record_decision by cli in the audit: {audit}"
    );
}

#[test]
fn http_refuses_a_public_listen_without_a_token() {
    let store = Store::new();
    let r = store.run(&["http", "--listen", "0.0.0.0:0"]);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.code.is_some(), "exited by a signal: {r:?}");
    assert!(
        r.stderr.contains("without a token") && r.stderr.contains("--token"),
        "the message should say why and what to do: {:?}",
        r.stderr
    );
}

#[tokio::test]
async fn http_with_a_token_listens_publicly() {
    let store = Store::new();
    let server =
        common::HttpServer::start_on(&store, "0.0.0.0", &["--token", "ops:0123456789abcdef"]).await;
    // start_on returned only after /healthz answered 200; the API needs the token.
    let client = common::http_client();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        client.get(server.url("/api/tools")).send(),
    )
    .await
    .expect("bounded")
    .expect("request");
    assert_eq!(r.status(), 401);
    drop(server);
}
