//! `mcp_config.json` and the README's "Clients" snippets, as a new user pastes them: the
//! checkout path and the port substituted, the Python SDK standing in for Claude Desktop
//! and Claude Code (a `claude` shell function registers and connects), curl for real.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, ensure};
use quantumstate_tests::qs::{HttpServer, bin};
use quantumstate_tests::workspace_root;
use serde_json::Value;
use tokio::process::Command;

use crate::support::{
    Clients, SECRET, TOKEN, check_report, expected_tools, fail, output, seeded_store,
};
use crate::wheel::{build_wheel, plain_env};

/// A directory laid out like a checkout for the pasted snippets: the real `target` and
/// `dist`, its own `data/quantumstate.db` (seeded) and `.env` (with [`TOKEN`]).
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    async fn new() -> anyhow::Result<Checkout> {
        let dir = tempfile::tempdir()?;
        let root = workspace_root();
        let exe = bin("quantumstate-mcp")?;
        // target/<triple>/release of this build, wherever CARGO_TARGET_DIR put it.
        let target = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .context("the binary is not in target/<triple>/release")?;
        std::os::unix::fs::symlink(target, dir.path().join("target"))?;
        std::os::unix::fs::symlink(root.join("dist"), dir.path().join("dist"))?;
        std::fs::create_dir(dir.path().join("data"))?;
        std::fs::write(dir.path().join(".env"), format!("QS_TOKEN={TOKEN}\n"))?;
        let mut seed = Command::new(&exe);
        seed.arg("seed")
            .env(
                "QS_STORE",
                format!("sqlite:{}/data/quantumstate.db", dir.path().display()),
            )
            .env("QS_LOG", "warn");
        let out = output(seed, Duration::from_secs(60)).await?;
        ensure!(
            out.status.success(),
            "seed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(Checkout { dir })
    }

    fn path(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// What a new user changes: the checkout path, and the port when 8080 is taken.
    fn localize(&self, text: &str, port: u16) -> String {
        text.replace("/ABSOLUTE/PATH/quantumstate", &self.path())
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
            .replace("YOUR_TOKEN_SECRET", SECRET)
    }
}

/// Runs every server of an `mcpServers` config through the Python SDK (the app's part).
async fn run_config(
    c: &Clients,
    checkout: &Checkout,
    text: &str,
    port: u16,
    tools: usize,
) -> anyhow::Result<Vec<String>> {
    let local = checkout.localize(text, port);
    let parsed: Value = serde_json::from_str(&local).context("the config is not JSON")?;
    let servers: BTreeMap<String, Value> =
        serde_json::from_value(parsed["mcpServers"].clone()).context("no mcpServers")?;
    let file = checkout.dir.path().join("config.json");
    std::fs::write(&file, &local)?;
    let mut ran = Vec::new();
    for name in servers.keys() {
        let report = c
            .drive(&["config", &file.display().to_string(), name])
            .await
            .with_context(|| format!("server {name:?}"))?;
        check_report(&report, tools).with_context(|| format!("server {name:?}"))?;
        ran.push(format!(
            "{name} ({})",
            report["transport"].as_str().unwrap_or("?")
        ));
    }
    Ok(ran)
}

#[tokio::test]
async fn mcp_config_json_entries_work_as_pasted() {
    let Some(c) = Clients::find() else { return };
    build_wheel().await.unwrap_or_else(|e| fail(e));
    let checkout = Checkout::new().await.unwrap_or_else(|e| fail(e));
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let tools = expected_tools(&store)
        .await
        .unwrap_or_else(|e| fail(e))
        .len();
    let server = HttpServer::start(&store, &["--token", TOKEN])
        .await
        .unwrap_or_else(|e| fail(e));
    let text = std::fs::read_to_string(workspace_root().join("mcp_config.json"))
        .unwrap_or_else(|e| fail(e.into()));
    let ran = run_config(&c, &checkout, &text, server.port, tools)
        .await
        .unwrap_or_else(|e| fail(e));
    assert_eq!(
        ran,
        [
            "quantumstate (stdio)",
            "quantumstate-binary (stdio)",
            "quantumstate-http (http)"
        ],
        "the uvx, binary and HTTP entries"
    );
}

/// The fenced blocks of the README's "## Clients" section: (info string, body).
fn readme_blocks() -> anyhow::Result<Vec<(String, String)>> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md"))?;
    let start = readme
        .find("\n## Clients\n")
        .context("README has no ## Clients section")?;
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push((info.trim().to_string(), body.join("\n")));
        }
    }
    Ok(blocks)
}

#[tokio::test]
async fn readme_client_snippets_work_as_pasted() {
    let Some(c) = Clients::find() else { return };
    // The uvx block builds the wheel too; building it first keeps that step quick.
    build_wheel().await.unwrap_or_else(|e| fail(e));
    let checkout = Checkout::new().await.unwrap_or_else(|e| fail(e));
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let tools = expected_tools(&store)
        .await
        .unwrap_or_else(|e| fail(e))
        .len();
    let server = HttpServer::start(&store, &["--token", TOKEN])
        .await
        .unwrap_or_else(|e| fail(e));
    let blocks = readme_blocks().unwrap_or_else(|e| fail(e));
    let (mut configs, mut registered, mut replies) = (0, 0, Vec::<Value>::new());
    for (info, body) in &blocks {
        let started = std::time::Instant::now();
        match info.as_str() {
            "json" => {
                run_config(&c, &checkout, body, server.port, tools)
                    .await
                    .unwrap_or_else(|e| fail(e));
                configs += 1;
            }
            "bash" => {
                // Pasted into a shell in the checkout. `claude` is the Python SDK standing
                // in for Claude Code: it connects to what `claude mcp add` registers.
                // `scripts/` is the real one (build-wheel.sh writes the real dist/).
                let script = format!(
                    "set -euo pipefail\n\
                     claude() {{ {py:?} {driver:?} claude-add -- claude \"$@\"; }}\n\
                     curl() {{ command curl --fail-with-body -w '\\n' \"$@\"; }}\n{body}\n",
                    py = c.python,
                    driver = c.driver,
                    body = checkout.localize(body, server.port).replace(
                        "scripts/",
                        &format!("{}/scripts/", workspace_root().display())
                    ),
                );
                let mut cmd = Command::new("bash");
                plain_env(&mut cmd);
                cmd.arg("-c")
                    .arg(&script)
                    .current_dir(checkout.dir.path())
                    .env("PATH", c.path_env())
                    .env("PYTHONWARNINGS", "ignore");
                let out = output(cmd, Duration::from_secs(100))
                    .await
                    .unwrap_or_else(|e| fail(e));
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "README block failed ({}):\n{body}\n--- stdout\n{stdout}\n--- stderr\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                registered += body.matches("claude mcp add").count();
                for line in stdout.lines() {
                    let json = line.strip_prefix("data: ").unwrap_or(line);
                    if let Ok(v) = serde_json::from_str::<Value>(json) {
                        replies.push(v);
                    }
                }
            }
            other => panic!("README Clients block with an unexpected info string {other:?}"),
        }
        let first = body.lines().next().unwrap_or("");
        eprintln!(
            "README {info} block ({first}…) passed in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    assert_eq!(configs, 1, "the Claude Desktop config");
    assert_eq!(registered, 3, "claude mcp add: stdio, HTTP, uvx");
    let reports: Vec<&Value> = replies
        .iter()
        .filter(|v| v.get("server").is_some())
        .collect();
    assert_eq!(
        reports.len(),
        registered,
        "one client report per `claude mcp add`: {replies:?}"
    );
    for r in reports {
        check_report(r, tools).unwrap_or_else(|e| fail(e));
    }
    assert!(
        replies
            .iter()
            .any(|v| v["incidents"].as_array().is_some_and(|a| a.len() == 1)),
        "the direct-route curl: {replies:?}"
    );
    assert!(
        replies
            .iter()
            .any(|v| v["result"]["tools"].as_array().map(Vec::len) == Some(tools)),
        "the /mcp curl: {replies:?}"
    );
    assert!(
        !replies.iter().any(|v| v.get("error").is_some()),
        "no curl got an error: {replies:?}"
    );
}
