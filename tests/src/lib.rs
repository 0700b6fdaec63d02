//! quantumstate-tests: the end-to-end harness. Real containers through the Docker CLI
//! and docker-compose, real HTTP; every wait is a bounded poll.
//!
//! Tests that need Docker start with [`docker_or_skip`]: without a daemon they skip
//! locally, but fail in CI (`CI` set), where a skip would hide a broken setup.

pub mod api;
pub mod compose;
pub mod engine_b;
pub mod fleet;
pub mod monitoring;
pub mod qs;
pub mod stack;

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Command;

pub use fleet::{Fleet, SERVICES, ServiceInfo};

/// The fault token of the fleet under test: compose passes it to the services, and every
/// QuantumState process of the tests holds it.
pub const FAULT_TOKEN: &str = "qs-e2e-fault-token-0123456789";

/// Default bound on one docker CLI call.
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root (where docker-compose.yml lives).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Runs `program args` with a time limit; returns stdout, or an error carrying stderr.
pub async fn run(program: &str, args: &[&str], timeout: Duration) -> anyhow::Result<String> {
    run_env(program, args, &[], timeout).await
}

/// As [`run`], with `envs` added to the environment.
pub async fn run_env(
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    timeout: Duration,
) -> anyhow::Result<String> {
    let child = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .with_context(|| format!("{program} {} took longer than {timeout:?}", args.join(" ")))??;
    if !output.status.success() {
        bail!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// When Docker last started `container` (changes on every restart or recreation).
pub async fn started_at(container: &str) -> anyhow::Result<String> {
    started_at_on(&[], container).await
}

/// As [`started_at`], on the engine `engine` selects (`["-H", SOCKET]`; empty: the default).
pub async fn started_at_on(engine: &[&str], container: &str) -> anyhow::Result<String> {
    let mut args = engine.to_vec();
    args.extend(["inspect", "--format", "{{.State.StartedAt}}", container]);
    Ok(docker(&args).await?.trim().to_string())
}

/// `docker args`, bounded by [`DOCKER_TIMEOUT`].
pub async fn docker(args: &[&str]) -> anyhow::Result<String> {
    run("docker", args, DOCKER_TIMEOUT).await
}

/// True when a Docker daemon answers. Otherwise prints why and returns false — except
/// under CI (env `CI` set), where it panics: CI must fail, not skip.
pub async fn docker_or_skip() -> bool {
    match run(
        "docker",
        &["version", "--format", "{{.Server.Version}}"],
        Duration::from_secs(15),
    )
    .await
    {
        Ok(_) => true,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "Docker is unreachable and CI is set, so this fails instead of skipping: {e:#}"
                );
            }
            eprintln!("skipping: Docker is unreachable ({e:#})");
            false
        }
    }
}

/// Polls `check` every `every` until it returns true or `timeout` passes.
pub async fn poll_until<F, Fut>(timeout: Duration, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}
