//! The official MCP conformance scenarios (`@modelcontextprotocol/conformance server`)
//! against `quantumstate-mcp http`, judged against clients/conformance/expected-failures.yml.

use std::collections::BTreeMap;
use std::time::Duration;

use quantumstate_tests::qs::HttpServer;
use serde_json::Value;

use crate::support::{Clients, fail, seeded_store};

/// Scenarios of the active suite that must pass outright (no failure, no warning).
const MUST_PASS: &[&str] = &[
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
];

/// How an expected failure (clients/conformance/expected-failures.yml) must fail: the
/// scenario's fixture is missing, or the feature is not offered — nothing else.
fn expected_failure(error: &str) -> bool {
    error.contains("tool not found")
        || (error.contains("prompt 'test_") && error.contains("not found"))
        || error.contains("no resource \"test://")
        || error.contains("-32601: resources/subscribe")
        || error.contains("-32601: resources/unsubscribe")
}

#[tokio::test]
async fn official_conformance_scenarios_pass_over_http() {
    let Some(c) = Clients::find() else { return };
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let server = HttpServer::start(&store, &[])
        .await
        .unwrap_or_else(|e| fail(e));
    let results = tempfile::tempdir().unwrap_or_else(|e| fail(e.into()));
    let baseline = c.root.join("clients/conformance/expected-failures.yml");
    let args: Vec<String> = [
        "server".to_string(),
        "--url".into(),
        format!("http://127.0.0.1:{}/mcp", server.port),
        "--expected-failures".into(),
        baseline.display().to_string(),
        "-o".into(),
        results.path().display().to_string(),
    ]
    .into();
    let out = c
        .node(&c.conformance, &args, Duration::from_secs(100))
        .await
        .unwrap_or_else(|e| fail(e));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .find("=== SUMMARY ===")
        .map_or(stdout.as_ref(), |i| &stdout[i..]);
    eprintln!("{summary}");

    // Per scenario: the statuses of its checks, and the failures' messages.
    let mut seen: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for entry in std::fs::read_dir(results.path()).unwrap_or_else(|e| fail(e.into())) {
        let dir = entry.unwrap_or_else(|e| fail(e.into())).path();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // server-<scenario>-<timestamp like 2026-11-23T12-13-34-604Z, 24 characters>
        let scenario = name
            .strip_prefix("server-")
            .and_then(|s| s.get(..s.len().checked_sub(25)?))
            .unwrap_or(&name)
            .to_string();
        let checks: Vec<Value> = std::fs::read_to_string(dir.join("checks.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        seen.insert(
            scenario,
            checks
                .iter()
                .map(|c| {
                    (
                        c["status"].as_str().unwrap_or("").to_string(),
                        c["errorMessage"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
        );
    }
    for s in MUST_PASS {
        let checks = seen
            .get(*s)
            .unwrap_or_else(|| panic!("scenario {s} did not run:\n{summary}"));
        assert!(
            checks.iter().any(|(st, _)| st == "SUCCESS")
                && checks.iter().all(|(st, _)| st == "SUCCESS" || st == "INFO"),
            "{s} must pass: {checks:?}"
        );
    }
    for (s, checks) in &seen {
        for (status, error) in checks {
            if status == "FAILURE" || status == "WARNING" {
                assert!(
                    expected_failure(error),
                    "{s}: {status} for a reason other than a missing fixture: {error}"
                );
            }
        }
    }
    // The runner's own verdict against the baseline: no unexpected failure, no stale entry.
    assert!(
        out.status.success(),
        "conformance against the baseline failed ({}):\n{summary}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
