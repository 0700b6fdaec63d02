//! The wheel (scripts/build-wheel.sh: maturin, `bin` bindings) run by `uvx` as a stdio
//! server, offline, from a fresh uv cache.

use std::path::Path;
use std::time::Duration;

use anyhow::ensure;
use quantumstate_tests::workspace_root;
use tokio::process::Command;

use crate::support::{Clients, check_report, expected_tools, fail, output, seeded_store};

/// Removes what cargo and nextest set for this test: cargo under maturin (build-wheel.sh)
/// must see the environment of a plain `cargo build`, or it may rebuild the binary.
pub fn plain_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let ours = k == "CARGO"
            || (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR")
            || k.starts_with("NEXTEST")
            || k.starts_with("RUSTC")
            || k == "RUST_TEST_THREADS";
        if ours {
            cmd.env_remove(&k);
        }
    }
}

/// Runs scripts/build-wheel.sh; the wheel's path.
pub async fn build_wheel() -> anyhow::Result<String> {
    let mut cmd = Command::new(workspace_root().join("scripts/build-wheel.sh"));
    plain_env(&mut cmd);
    let out = output(cmd, Duration::from_secs(100)).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "build-wheel.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wheel = stdout.lines().last().unwrap_or("").trim().to_string();
    ensure!(
        Path::new(&wheel).is_file() && wheel.ends_with(".whl"),
        "no wheel: {stdout}"
    );
    Ok(wheel)
}

#[tokio::test]
async fn uvx_runs_the_wheel_as_a_stdio_server_offline() {
    let Some(c) = Clients::find() else { return };
    let wheel = build_wheel().await.unwrap_or_else(|e| fail(e));
    let name = Path::new(&wheel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(
        name.starts_with(&format!(
            "quantumstate_mcp-{}-py3-none-",
            env!("CARGO_PKG_VERSION")
        )),
        "wheel name {name}"
    );
    let store = seeded_store().await.unwrap_or_else(|e| fail(e));
    let tools = expected_tools(&store)
        .await
        .unwrap_or_else(|e| fail(e))
        .len();
    // A fresh uv cache: the server comes from the wheel alone, with no index.
    let cache = tempfile::tempdir().unwrap_or_else(|e| fail(e.into()));
    let uvx = c.uvx.display().to_string();
    let (spec, cache_env) = (
        format!("QS_STORE={}", store.spec()),
        format!("UV_CACHE_DIR={}", cache.path().display()),
    );
    let report = c
        .drive(&[
            "stdio",
            "--env",
            &spec,
            "--env",
            "QS_LOG=warn",
            "--env",
            &cache_env,
            "--env",
            "UV_PYTHON_DOWNLOADS=never",
            "--",
            &uvx,
            "--offline",
            "--from",
            &wheel,
            "quantumstate-mcp",
            "stdio",
        ])
        .await
        .unwrap_or_else(|e| fail(e));
    check_report(&report, tools).unwrap_or_else(|e| fail(e));
}
