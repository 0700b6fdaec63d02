//! Host "b": the second Docker engine `scripts/second-engine.sh` runs in its own network
//! namespace (10.99.0.2), with services of the fleet's image published on its address.

use std::time::Duration;

use crate::{FAULT_TOKEN, run, workspace_root};

/// Its socket.
pub const SOCK: &str = "unix:///run/qs-b.sock";
/// Where its published ports are reached from this host.
pub const ADDRESS: &str = "10.99.0.2";
/// The `--docker-host` values of a fleet over the local engine and b.
pub const HOSTS: [&str; 2] = [
    "local=unix:///var/run/docker.sock",
    "b=unix:///run/qs-b.sock?address=10.99.0.2",
];

/// The server's flags for that fleet.
pub fn server_args() -> [&'static str; 4] {
    ["--docker-host", HOSTS[0], "--docker-host", HOSTS[1]]
}

/// `docker -H b args`, bounded.
pub async fn docker(args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["-H", SOCK];
    all.extend_from_slice(args);
    run("docker", &all, Duration::from_secs(60)).await
}

async fn script(cmd: &str) -> anyhow::Result<String> {
    let path = workspace_root().join("scripts/second-engine.sh");
    let path = path.to_string_lossy().into_owned();
    run(&path, &[cmd], Duration::from_secs(120)).await
}

/// Starts engine b (idempotent) with our images loaded.
pub async fn start() -> anyhow::Result<()> {
    script("start").await.map(|_| ())
}

/// Starts engine b as a single-node swarm manager (idempotent).
pub async fn swarm() -> anyhow::Result<()> {
    script("swarm").await.map(|_| ())
}

/// Stops b's daemon, and with it its containers (restart policies bring them back).
pub async fn stop() -> anyhow::Result<()> {
    script("stop").await.map(|_| ())
}

/// Runs a managed service of the fleet's image on b, published on b's address.
pub async fn run_service(name: &str, port: u16, role: &str) -> anyhow::Result<()> {
    let _ = docker(&["rm", "-f", name]).await;
    let publish = format!("{ADDRESS}:{port}:{port}");
    let env = [
        format!("SERVICE_NAME={name}"),
        format!("PORT={port}"),
        format!("ROLE={role}"),
        "BIND_ADDR=0.0.0.0".into(),
        "SERVICE_VERSION=1.0.0".into(),
        "REGION=eu-west-1".into(),
        format!("QS_FAULT_TOKEN={FAULT_TOKEN}"),
    ];
    let labels = [
        "quantumstate.managed=true".to_string(),
        format!("quantumstate.service={name}"),
        "quantumstate.role=service".into(),
        "quantumstate.region=eu-west-1".into(),
    ];
    let mut args: Vec<String> = ["run", "-d", "--name", name, "--restart", "unless-stopped"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["-p".into(), publish, "--memory".into(), "256m".into()]);
    for e in env {
        args.extend(["-e".into(), e]);
    }
    for l in labels {
        args.extend(["-l".into(), l]);
    }
    args.push("quantumstate/qs-service:local".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    docker(&refs).await.map(|_| ())
}

/// Removes every managed container on b.
pub async fn clear() -> anyhow::Result<()> {
    let ids = docker(&["ps", "-aq", "--filter", "label=quantumstate.managed=true"]).await?;
    for id in ids.split_whitespace() {
        docker(&["rm", "-f", id]).await?;
    }
    Ok(())
}

/// When b last started `container`.
pub async fn started_at(container: &str) -> anyhow::Result<String> {
    crate::started_at_on(&["-H", SOCK], container).await
}
