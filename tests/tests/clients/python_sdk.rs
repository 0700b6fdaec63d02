//! The official MCP Python SDK (PyPI `mcp`) over stdio and streamable HTTP, with both
//! lifecycles (2026-07-28 `server/discover`, and `initialize`), refused without a valid
//! token, and launching the server with only HOME and PATH as desktop apps do.

use std::time::Duration;

use quantumstate_tests::qs::{HttpServer, bin};
use tokio::process::Command;

use crate::support::{
    Clients, SECRET, TOKEN, check_report, expected_tools, fail, output, seeded_store,
};

#[tokio::test]
async fn python_sdk_over_stdio_with_discover_and_with_initialize() {
    let Some(c) = Clients::find() else { return };
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let tools = expected_tools(&store)
        .await
        .unwrap_or_else(|e| fail(e))
        .len();
    let exe = bin("quantumstate-mcp").unwrap_or_else(|e| fail(e));
    let (exe, spec) = (
        exe.display().to_string(),
        format!("QS_STORE={}", store.spec()),
    );
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let report = c
            .drive(&[
                "--mode",
                mode,
                "stdio",
                "--env",
                &spec,
                "--env",
                "QS_LOG=warn",
                "--",
                &exe,
                "stdio",
            ])
            .await
            .unwrap_or_else(|e| fail(e));
        check_report(&report, tools).unwrap_or_else(|e| fail(e));
        assert_eq!(report["protocol_version"], version, "{mode}: {report}");
    }
}

#[tokio::test]
async fn python_sdk_over_streamable_http_with_a_bearer_token() {
    let Some(c) = Clients::find() else { return };
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let tools = expected_tools(&store)
        .await
        .unwrap_or_else(|e| fail(e))
        .len();
    let server = HttpServer::start(&store, &["--token", TOKEN])
        .await
        .unwrap_or_else(|e| fail(e));
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let bearer = format!("Authorization: Bearer {SECRET}");
    for (mode, version) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let report = c
            .drive(&["--mode", mode, "http", &url, "--header", &bearer])
            .await
            .unwrap_or_else(|e| fail(e));
        check_report(&report, tools).unwrap_or_else(|e| fail(e));
        assert_eq!(report["protocol_version"], version, "{mode}: {report}");
    }
    // Refused clients fail at once and are told why, whichever lifecycle they use.
    let wrong = "Authorization: Bearer not-the-secret-at-all";
    for (mode, header, reason) in [
        ("auto", None, "needs a bearer token"),
        ("legacy", None, "needs a bearer token"),
        ("auto", Some(wrong), "not valid"),
        ("legacy", Some(wrong), "not valid"),
    ] {
        let mut args = vec!["--mode", mode, "--expect-refusal", reason, "http", &url];
        if let Some(h) = header {
            args.extend(["--header", h]);
        }
        let r = c.drive(&args).await.unwrap_or_else(|e| fail(e));
        assert_eq!(r["refused"], true, "{r}");
    }
}

#[tokio::test]
async fn python_sdk_stdio_server_with_only_home_and_path_uses_the_default_store() {
    let Some(c) = Clients::find() else { return };
    let home = tempfile::tempdir().unwrap_or_else(|e| fail(e.into()));
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let exe = bin("quantumstate-mcp").unwrap_or_else(|e| fail(e));
    // What a desktop app does: HOME and PATH, no QS_* at all, any working directory.
    let bare = |cmd: &mut Command| {
        cmd.env_clear()
            .env("HOME", home.path())
            .env("PATH", &path)
            .current_dir(home.path());
    };
    let mut seed = Command::new(&exe);
    seed.arg("seed");
    bare(&mut seed);
    let out = output(seed, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| fail(e));
    assert!(
        out.status.success(),
        "seed with defaults: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut drive = Command::new(&c.python);
    drive
        .arg(&c.driver)
        .args(["stdio", "--"])
        .arg(&exe)
        .arg("stdio");
    bare(&mut drive);
    let report = c
        .drive_cmd(drive, &["stdio with only HOME and PATH"])
        .await
        .unwrap_or_else(|e| fail(e));
    assert_eq!(report["server"], "quantumstate", "{report}");
    assert!(
        report["similar_incidents"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "the default store has the seed: {report}"
    );
    let db = home
        .path()
        .join(".local/share/quantumstate/quantumstate.db");
    assert!(db.exists(), "the default store is {}", db.display());
}
