//! A real Prometheus (Debian's 2.42) and Alertmanager (0.25), both installed by
//! scripts/setup.sh, run as child processes on free loopback ports: Prometheus scrapes the
//! fleet's `/metrics` every second (each target labelled with its service) and, when given
//! an Alertmanager, evaluates the shipped `monitoring/rules.yml` every second.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{SERVICES, poll_until, workspace_root};

fn prometheus_config(dir: &Path, alertmanager: Option<u16>) -> anyhow::Result<PathBuf> {
    let mut targets = String::new();
    for s in SERVICES.iter().filter(|s| s.name != "auth-cache") {
        targets.push_str(&format!(
            "  - targets: ['127.0.0.1:{}']\n    labels: {{service: '{}'}}\n",
            s.port, s.name
        ));
    }
    let mut text = String::from("global: {scrape_interval: 1s, evaluation_interval: 1s}\n");
    if let Some(am) = alertmanager {
        let rules = workspace_root().join("monitoring/rules.yml");
        text.push_str(&format!(
            "rule_files: ['{}']\nalerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{am}']\n",
            rules.display()
        ));
    }
    text.push_str(&format!(
        "scrape_configs:\n- job_name: fleet\n  static_configs:\n{targets}"
    ));
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, text)?;
    Ok(path)
}

async fn ready(port: u16, what: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let up = poll_until(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            http.get(format!("http://127.0.0.1:{port}/-/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        },
    )
    .await;
    if !up {
        bail!("{what} on {port} was not ready within 30 s");
    }
    Ok(())
}

/// Prometheus on `port` with its data in `dir` (a restart on the same `dir` keeps it).
pub async fn start_prometheus(
    dir: &Path,
    port: u16,
    alertmanager: Option<u16>,
) -> anyhow::Result<Child> {
    let cfg = prometheus_config(dir, alertmanager)?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start prometheus (scripts/setup.sh installs Debian's package)")?;
    ready(port, "prometheus").await?;
    Ok(child)
}

/// Alertmanager on `port` sending every alert (and its resolution) to `webhook` with the
/// bearer `token`, grouping per alert and service, waiting 1 s.
pub async fn start_alertmanager(
    dir: &Path,
    port: u16,
    webhook: &str,
    token: &str,
) -> anyhow::Result<Child> {
    let token_file = dir.join("alert-token");
    std::fs::write(&token_file, token)?;
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        format!(
            "route:\n  receiver: qs\n  group_by: [alertname, service]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n- name: qs\n  webhook_configs:\n  - url: '{webhook}'\n    send_resolved: true\n    http_config:\n      authorization:\n        type: Bearer\n        credentials_file: '{}'\n",
            token_file.display()
        ),
    )?;
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start prometheus-alertmanager (scripts/setup.sh installs Debian's package)")?;
    ready(port, "alertmanager").await?;
    Ok(child)
}

/// `query_range` straight to Prometheus: the finite values of the first series.
pub async fn prom_range(
    port: u16,
    expr: &str,
    from: f64,
    to: f64,
    step: u64,
) -> anyhow::Result<Vec<f64>> {
    let r: Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/query_range"))
        .query(&[
            ("query", expr.to_string()),
            ("start", format!("{from:.3}")),
            ("end", format!("{to:.3}")),
            ("step", step.to_string()),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(r["data"]["result"][0]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p[1].as_str()?.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .collect())
}
