//! What the client tests share: where the pinned clients live (scripts/setup-clients.sh
//! puts them under clients/), a seeded temporary store, bounded child processes, and the
//! Python SDK driver (clients/python/qs_client.py) that stands in for the MCP apps.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use quantumstate_tests::qs::{TempStore, bin};
use quantumstate_tests::workspace_root;
use serde_json::Value;
use tokio::process::Command;

/// Fails the test with the whole error chain.
pub fn fail(e: anyhow::Error) -> ! {
    panic!("{e:#}")
}

/// A write token for HTTP servers under test, and its secret.
pub const TOKEN: &str = "demo:quantumstate-test-secret-0123";
pub const SECRET: &str = "quantumstate-test-secret-0123";

/// The pinned third-party clients.
pub struct Clients {
    pub root: PathBuf,
    pub python: PathBuf,
    pub driver: PathBuf,
    pub uvx: PathBuf,
    pub node_bin: PathBuf,
    pub node: PathBuf,
    pub inspector: PathBuf,
    pub conformance: PathBuf,
}

impl Clients {
    /// The installed clients; `None` (a skip) when they are missing, except under CI
    /// (`CI` set), where a missing client fails the test.
    pub fn find() -> Option<Clients> {
        let root = workspace_root();
        let c = root.join("clients");
        let node_bin = c.join("node_modules/.bin");
        let found = Clients {
            python: c.join(".venv/bin/python"),
            driver: c.join("python/qs_client.py"),
            uvx: c.join(".venv/bin/uvx"),
            node: node_bin.join("node"),
            inspector: c.join(
                "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
            ),
            conformance: c.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"),
            node_bin,
            root,
        };
        let missing: Vec<&Path> = [
            &found.python,
            &found.driver,
            &found.uvx,
            &found.node,
            &found.inspector,
            &found.conformance,
        ]
        .into_iter()
        .map(PathBuf::as_path)
        .filter(|p| !p.exists())
        .collect();
        if missing.is_empty() {
            return Some(found);
        }
        let why = format!(
            "the pinned MCP clients are not installed ({}): run scripts/setup-clients.sh",
            missing
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if std::env::var_os("CI").is_some() {
            panic!("{why} (CI is set, so this fails instead of skipping)");
        }
        eprintln!("skipping: {why}");
        None
    }

    /// PATH with the pinned clients first: `node` (the Inspector's scripts run it) and
    /// `uvx`, as on the machine of a user who installed them.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        let venv_bin = self.uvx.parent().unwrap_or(Path::new("."));
        format!("{}:{}:{rest}", self.node_bin.display(), venv_bin.display())
    }

    /// `python qs_client.py ARGS`: the report it prints, or an error with its stderr.
    pub async fn drive(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.driver)
            .args(args)
            .env("PATH", self.path_env());
        self.drive_cmd(cmd, args).await
    }

    /// Runs a prepared driver command (e.g. with a cleared environment).
    pub async fn drive_cmd(&self, mut cmd: Command, what: &[&str]) -> anyhow::Result<Value> {
        cmd.env("PYTHONWARNINGS", "ignore");
        let out = output(cmd, Duration::from_secs(100)).await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!(
                "the Python SDK client failed ({}) for {what:?}:\n{stderr}\n{stdout}",
                out.status
            );
        }
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        serde_json::from_str(last)
            .with_context(|| format!("the client's report is not JSON: {stdout}\n{stderr}"))
    }

    /// The pinned node running `script ARGS` (bounded); its output, whatever the status.
    pub async fn node(
        &self,
        script: &Path,
        args: &[String],
        within: Duration,
    ) -> anyhow::Result<Output> {
        let mut cmd = Command::new(&self.node);
        cmd.arg(script).args(args).env("PATH", self.path_env());
        output(cmd, within).await
    }
}

/// Runs `cmd` to completion within `within` (killed after), stdin closed.
pub async fn output(mut cmd: Command, within: Duration) -> anyhow::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let what = format!("{:?}", cmd.as_std());
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    tokio::time::timeout(within, child.wait_with_output())
        .await
        .with_context(|| format!("{what} took longer than {within:?}"))?
        .with_context(|| format!("{what} failed to run"))
}

/// A temporary store with the seed incidents and runbooks.
pub async fn seeded_store() -> anyhow::Result<TempStore> {
    let store = TempStore::new()?;
    let mut cmd = Command::new(bin("quantumstate-mcp")?);
    cmd.arg("seed")
        .env("QS_STORE", store.spec())
        .env("QS_EMBED_MODEL", store.no_model())
        .env("QS_LOG", "warn");
    let out = output(cmd, Duration::from_secs(60)).await?;
    ensure!(
        out.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(store)
}

/// The names of a `{"tools": [...]}` listing, sorted.
pub fn tool_names(listing: &Value) -> Vec<String> {
    let mut names: Vec<String> = listing["tools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `quantumstate-mcp tools`: the tool names this build exposes with default flags.
pub async fn expected_tools(store: &TempStore) -> anyhow::Result<Vec<String>> {
    let mut cmd = Command::new(bin("quantumstate-mcp")?);
    cmd.arg("tools")
        .env("QS_STORE", store.spec())
        .env("QS_EMBED_MODEL", store.no_model())
        .env("QS_LOG", "warn");
    let out = output(cmd, Duration::from_secs(30)).await?;
    ensure!(out.status.success(), "quantumstate-mcp tools failed");
    Ok(tool_names(&serde_json::from_slice(&out.stdout)?))
}

/// A report from the driver must come from our server, with every tool listed.
pub fn check_report(report: &Value, tools: usize) -> anyhow::Result<()> {
    ensure!(report["server"] == "quantumstate", "server name: {report}");
    ensure!(report["tools"] == tools, "tool count: {report}");
    ensure!(
        report["similar_incidents"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "read tool result: {report}"
    );
    ensure!(report["dry_run"] == "nothing written", "dry run: {report}");
    ensure!(
        report["resource_read"]
            .as_str()
            .is_some_and(|u| u.starts_with("runbook://")),
        "resource: {report}"
    );
    ensure!(
        report["prompt"] == "investigate_incident",
        "prompt: {report}"
    );
    Ok(())
}
