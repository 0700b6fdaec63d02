//! The operator console in a real browser: headless Debian chromium driven by
//! playwright-core (console-test/), against the real fleet, the scraper at 1 s and
//! `quantumstate-mcp http --token ...` on a fresh store. The browser script signs in with
//! the token link, watches a leak and its restart (read-only console), or drills and
//! restarts from the page (--console-actions), or approves an agent's restart in Pending
//! approvals (--approval mutations); its screenshots land in
//! target/console-screenshots/ and their paths are printed for CI to keep.
//!
//! Needs `scripts/setup-browser.sh` (chromium and playwright-core); without them the tests
//! skip locally and fail under CI, like the Docker-backed ones.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use quantumstate_tests::qs::{HttpServer, Scraper, TempStore, bin};
use quantumstate_tests::{Fleet, SERVICES, docker_or_skip, poll_until, workspace_root};
use serde_json::{Value, json};
use tokio::process::Command;

const TOKEN_NAME: &str = "console-test";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Bound on one browser scenario (the script bounds each of its own waits too).
const BROWSER_WITHIN: Duration = Duration::from_secs(150);

fn console_test_dir() -> PathBuf {
    workspace_root().join("console-test")
}

/// True when chromium, node and playwright-core are installed; otherwise says how to get
/// them and skips, except under CI, where it fails.
fn browser_or_skip() -> bool {
    let missing: Vec<String> = [
        PathBuf::from(CHROMIUM),
        console_test_dir().join("node_modules/playwright-core/package.json"),
    ]
    .into_iter()
    .filter(|p| !p.exists())
    .map(|p| p.display().to_string())
    .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "missing {}: run scripts/setup-browser.sh",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("the browser test cannot run under CI: {why}");
    }
    eprintln!("skipping: {why}");
    false
}

/// A secret no other run shares (the token only lives as long as this test's server).
fn secret() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("console-{nanos:x}-{:x}", std::process::id())
}

async fn seed(store: &TempStore) -> anyhow::Result<()> {
    let out = Command::new(bin("quantumstate-mcp")?)
        .arg("seed")
        .env("QS_STORE", store.spec())
        .env("QS_EMBED_MODEL", store.no_model())
        .env("QS_LOG", "warn")
        .env_remove("QS_TOKEN")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .context("seed took longer than 60 s")??;
    if !out.status.success() {
        bail!("seed failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// A tool call with the bearer token, as a script makes it.
async fn call(port: u16, secret: &str, tool: &str, args: Value) -> anyhow::Result<Value> {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?
        .post(format!("http://127.0.0.1:{port}/api/tools/{tool}"))
        .bearer_auth(secret)
        .json(&args)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{tool}: HTTP {status}: {body}");
    }
    Ok(body)
}

/// True when every fleet service is listed under `list` with `key` equal to `want`.
fn all_are(list: &Value, key: &str, want: &str) -> bool {
    let items = list.as_array().cloned().unwrap_or_default();
    SERVICES.iter().all(|f| {
        items
            .iter()
            .any(|s| (s["service"] == f.name || s["name"] == f.name) && s[key] == want)
    })
}

/// Until every service calls itself healthy and detect_anomalies agrees on fresh data,
/// with no anomaly (a previous test's restart can leave a caller degraded for a minute).
async fn wait_fleet_judged_healthy(port: u16, secret: &str) -> anyhow::Result<()> {
    let within = Duration::from_secs(120);
    let ok = poll_until(within, Duration::from_secs(1), || async {
        let (Ok(list), Ok(judged)) = (
            call(port, secret, "list_services", json!({})).await,
            call(port, secret, "detect_anomalies", json!({})).await,
        ) else {
            return false;
        };
        all_are(&list["services"], "health", "healthy")
            && all_are(&judged["services"], "status", "healthy")
            && judged["anomalies"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    if !ok {
        bail!("the fleet was not healthy within {within:?}");
    }
    Ok(())
}

/// Runs console-test/console.test.mjs for one scenario; its output (the screenshot paths
/// among it) goes straight to the test's output.
async fn browse(
    port: u16,
    secret: &str,
    scenario: &str,
    shots: &Path,
    agent: Option<&str>,
) -> anyhow::Result<()> {
    let mut cmd = Command::new("node");
    if let Some(a) = agent {
        cmd.env("QS_AGENT_SECRET", a);
    }
    let mut child = cmd
        .arg("console.test.mjs")
        .current_dir(console_test_dir())
        .env("QS_URL", format!("http://127.0.0.1:{port}"))
        .env("QS_SECRET", secret)
        .env("QS_TOKEN_NAME", TOKEN_NAME)
        .env("QS_SCENARIO", scenario)
        .env("QS_SCREENSHOTS", shots)
        .env("QS_CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("run node (scripts/setup-browser.sh installs it)")?;
    let status = match tokio::time::timeout(BROWSER_WITHIN, child.wait()).await {
        Ok(s) => s?,
        Err(_) => {
            let _ = child.kill().await;
            bail!("the browser scenario {scenario} took longer than {BROWSER_WITHIN:?}");
        }
    };
    if !status.success() {
        bail!("the browser scenario {scenario} failed ({status}); see its output above");
    }
    Ok(())
}

/// Fleet and scraper up, a token-protected server on a fresh seeded store, then the
/// browser; the fleet is reset afterwards whatever happened. `scopes` are the console
/// token's (default: read+write); with `agent`, a second token (operate) asks for things.
async fn scenario(name: &str, scopes: Option<&str>, agent: bool, server_args: &[&str]) {
    if !docker_or_skip().await || !browser_or_skip() {
        return;
    }
    let fleet = Fleet::up().await.expect("the fleet comes up healthy");
    fleet.reset().await.expect("the fleet resets");
    let outcome = async {
        let store = TempStore::new()?;
        seed(&store).await?;
        let scraper = Scraper::start(&store)?;
        let secret = secret();
        let token = match scopes {
            Some(sc) => format!("{TOKEN_NAME}:{secret}:{sc}"),
            None => format!("{TOKEN_NAME}:{secret}"),
        };
        let agent_secret = format!("agent-{secret}");
        let agent_token = format!("agent:{agent_secret}:operate");
        let mut args = vec!["--token", token.as_str()];
        if agent {
            args.extend(["--token", agent_token.as_str()]);
        }
        args.extend_from_slice(server_args);
        let server = HttpServer::start(&store, &args).await?;
        let shots = workspace_root().join("target/console-screenshots");
        let result = async {
            wait_fleet_judged_healthy(server.port, &secret).await?;
            browse(
                server.port,
                &secret,
                name,
                &shots,
                agent.then_some(agent_secret.as_str()),
            )
            .await
        }
        .await;
        scraper.stop().await;
        server.kill9().await?;
        result
    }
    .await;
    let reset = fleet.reset().await;
    if let Err(e) = outcome {
        panic!("{e:#}");
    }
    reset.expect("the fleet resets after the test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_leak_and_the_restart_that_clears_it() {
    scenario("watch", None, false, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_actions_drill_and_restart_through_the_guard_and_audit() {
    scenario("actions", None, false, &["--console-actions"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_approves_in_the_console_and_the_agents_restart_runs_once() {
    scenario(
        "approve",
        Some("read+approve"),
        true,
        &["--approval", "mutations"],
    )
    .await;
}
