//! The demo fleet under test: brings up the five service containers of the root
//! docker-compose.yml, waits until Docker calls them healthy, resets them between tests.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::compose::Compose;
use crate::{docker, poll_until, run, workspace_root};

/// One service container of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    /// Container name, which is also its compose service name.
    pub name: &'static str,
    /// Port published on 127.0.0.1.
    pub port: u16,
}

/// The five managed service containers (SPEC "The fleet").
pub const SERVICES: [ServiceInfo; 5] = [
    ServiceInfo {
        name: "payment-service",
        port: 8001,
    },
    ServiceInfo {
        name: "checkout-service",
        port: 8002,
    },
    ServiceInfo {
        name: "auth-service",
        port: 8003,
    },
    ServiceInfo {
        name: "inventory-service",
        port: 8004,
    },
    ServiceInfo {
        name: "auth-cache",
        port: 6379,
    },
];

pub const IMAGE: &str = "quantumstate/qs-service:local";
/// Bound on the whole fleet turning healthy.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(90);
/// Bound on scripts/build-images.sh when the image is missing (a cold static build).
pub const BUILD_WITHIN: Duration = Duration::from_secs(30 * 60);
/// Bound on a reset fleet's one-minute error windows draining.
pub const DRAINED_WITHIN: Duration = Duration::from_secs(90);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Parses `docker stats` MemUsage ("12.5MiB / 256MiB") into MiB used.
pub fn parse_mem_usage(text: &str) -> Option<f64> {
    let used = text.split('/').next()?.trim();
    let split = used.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = used.split_at(split);
    let value: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim() {
        "B" => 1.0 / (1024.0 * 1024.0),
        "KiB" => 1.0 / 1024.0,
        "kB" => 1000.0 / (1024.0 * 1024.0),
        "MiB" => 1.0,
        "MB" => 1_000_000.0 / (1024.0 * 1024.0),
        "GiB" => 1024.0,
        "GB" => 1_000_000_000.0 / (1024.0 * 1024.0),
        _ => return None,
    };
    Some(value * factor)
}

/// A handle on the running fleet.
#[derive(Debug, Clone)]
pub struct Fleet {
    compose: Compose,
    project: Option<String>,
    http: reqwest::Client,
}

impl Fleet {
    /// Builds the image if it is missing, starts the five service containers
    /// (`up -d --no-build`) and waits until all are healthy.
    pub async fn up() -> anyhow::Result<Fleet> {
        let compose = Compose::detect().await?;
        if docker(&["image", "inspect", "--format", "{{.Id}}", IMAGE])
            .await
            .is_err()
        {
            eprintln!("{IMAGE} is missing: running scripts/build-images.sh");
            let script = workspace_root().join("scripts/build-images.sh");
            run("bash", &[&script.to_string_lossy()], BUILD_WITHIN).await?;
        }
        // Containers already created by a compose project keep it, so `up` finds them
        // instead of clashing on their fixed names; otherwise compose's default applies.
        let project = docker(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"com.docker.compose.project\"}}",
            SERVICES[0].name,
        ])
        .await
        .ok()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty() && p != "<no value>");
        let fleet = Fleet {
            compose,
            project,
            http: reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .no_proxy()
                .build()
                .context("HTTP client")?,
        };
        let mut args = vec!["up", "-d", "--no-build"];
        args.extend(SERVICES.iter().map(|s| s.name));
        fleet.compose.run(fleet.project.as_deref(), &args).await?;
        fleet.wait_healthy(HEALTHY_WITHIN).await?;
        Ok(fleet)
    }

    /// Docker's health status of each container ("" when it has none, "missing" when absent).
    pub async fn health_statuses(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for s in SERVICES {
            let status = docker(&[
                "inspect",
                "--format",
                "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
                s.name,
            ])
            .await
            .map(|t| t.trim().to_owned())
            .unwrap_or_else(|_| "missing".to_owned());
            out.push((s.name.to_owned(), status));
        }
        out
    }

    /// Waits until Docker reports all five containers healthy.
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let healthy = poll_until(timeout, Duration::from_secs(1), || async {
            self.health_statuses()
                .await
                .iter()
                .all(|(_, s)| s == "healthy")
        })
        .await;
        if !healthy {
            bail!(
                "the fleet was not healthy within {timeout:?}: {:?}",
                self.health_statuses().await
            );
        }
        Ok(())
    }

    /// Back to a clean fleet: every container running (started or unpaused), healthy,
    /// and with no active fault.
    pub async fn reset(&self) -> anyhow::Result<()> {
        // Drift a test may leave behind: another version deployed, a raised memory limit,
        // or a container cut from the fleet network. Compose recreates those from the file.
        for s in SERVICES {
            let fmt = "{{range .Config.Env}}{{println .}}{{end}}|{{.HostConfig.Memory}}|{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}";
            if let Ok(out) = docker(&["inspect", "--format", fmt, s.name]).await {
                let mut parts = out.split('|');
                let env = parts.next().unwrap_or("");
                let memory = parts.next().unwrap_or("").trim();
                let nets = parts.next().unwrap_or("");
                let drifted = !env.lines().any(|l| l.trim() == "SERVICE_VERSION=1.0.0")
                    || memory != "268435456"
                    || !nets.split_whitespace().any(|n| n == "quantumstate-fleet");
                if drifted {
                    self.compose
                        .run(
                            self.project.as_deref(),
                            &[
                                "up",
                                "-d",
                                "--no-build",
                                "--no-deps",
                                "--force-recreate",
                                s.name,
                            ],
                        )
                        .await?;
                }
            }
        }
        for s in SERVICES {
            let state = docker(&["inspect", "--format", "{{.State.Status}}", s.name]).await;
            match state.as_deref().map(str::trim) {
                Ok("running") => {}
                Ok("paused") => {
                    docker(&["unpause", s.name]).await?;
                }
                Ok(_) => {
                    docker(&["start", s.name]).await?;
                }
                Err(_) => {
                    self.compose
                        .run(self.project.as_deref(), &["up", "-d", "--no-build", s.name])
                        .await?;
                }
            }
        }
        self.wait_healthy(HEALTHY_WITHIN).await?;
        for s in SERVICES {
            let cleared = poll_until(
                Duration::from_secs(10),
                Duration::from_millis(250),
                || async {
                    matches!(
                        self.post_json(s.name, "/faults/reset", &Value::Null).await,
                        Ok((200, _))
                    )
                },
            )
            .await;
            if !cleared {
                bail!("POST /faults/reset on {} did not succeed", s.name);
            }
        }
        self.wait_drained(DRAINED_WITHIN).await
    }

    /// Waits until every service reports itself healthy with no error in its last
    /// minute. A service's error rate is a rolling one-minute window that outlives the
    /// fault that caused it; a test starting earlier would read the previous test's
    /// errors as its own baseline (correlate_deployments compares against it).
    pub async fn wait_drained(&self, within: Duration) -> anyhow::Result<()> {
        let last = std::cell::RefCell::new(Vec::new());
        let drained = poll_until(within, Duration::from_secs(1), || async {
            let mut seen = Vec::new();
            let mut ok = true;
            for s in SERVICES {
                let h = self.health(s.name).await.unwrap_or(Value::Null);
                ok &= h["status"] == "healthy" && h["error_rate"].as_f64() == Some(0.0);
                seen.push(format!(
                    "{} {} errors/min {}",
                    s.name, h["status"], h["error_rate"]
                ));
            }
            *last.borrow_mut() = seen;
            ok
        })
        .await;
        if !drained {
            bail!(
                "the fleet's last-minute errors did not drain within {within:?}: {:?}",
                last.into_inner()
            );
        }
        Ok(())
    }

    /// Stops and removes the five service containers (`compose rm -s -f`).
    pub async fn down(&self) -> anyhow::Result<()> {
        let mut args = vec!["rm", "-s", "-f"];
        args.extend(SERVICES.iter().map(|s| s.name));
        self.compose
            .run(self.project.as_deref(), &args)
            .await
            .map(|_| ())
    }

    pub fn service(name: &str) -> anyhow::Result<ServiceInfo> {
        SERVICES
            .into_iter()
            .find(|s| s.name == name)
            .with_context(|| format!("{name} is not a fleet service"))
    }

    /// `http://127.0.0.1:<published port><path>`.
    pub fn url(&self, service: &str, path: &str) -> anyhow::Result<String> {
        Ok(format!(
            "http://127.0.0.1:{}{path}",
            Fleet::service(service)?.port
        ))
    }

    pub async fn get_json(&self, service: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let resp = self.http.get(self.url(service, path)?).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// POSTs `body` (nothing when it is null) and returns status and JSON body.
    pub async fn post_json(
        &self,
        service: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .post(self.url(service, path)?)
            .bearer_auth(crate::FAULT_TOKEN);
        if !body.is_null() {
            req = req.json(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn health(&self, service: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get_json(service, "/health").await?;
        if status != 200 {
            bail!("GET /health on {service} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Memory used by a container per `docker stats --no-stream`, in MiB.
    pub async fn mem_usage_mib(&self, container: &str) -> anyhow::Result<f64> {
        let text = docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}",
            container,
        ])
        .await?;
        parse_mem_usage(&text).with_context(|| format!("unreadable docker stats MemUsage {text:?}"))
    }

    /// `docker logs` (stdout and stderr) since a unix timestamp.
    pub async fn logs_since(&self, container: &str, since_unix: u64) -> anyhow::Result<String> {
        let since = since_unix.to_string();
        let out = tokio::process::Command::new("docker")
            .args(["logs", "--since", &since, container])
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(crate::DOCKER_TIMEOUT, out).await??;
        if !out.status.success() {
            bail!(
                "docker logs {container} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_usage_units() {
        assert_eq!(parse_mem_usage("12.5MiB / 256MiB"), Some(12.5));
        assert_eq!(parse_mem_usage("1.2GiB / 2GiB"), Some(1.2 * 1024.0));
        assert_eq!(parse_mem_usage("512KiB / 256MiB"), Some(0.5));
        assert_eq!(parse_mem_usage("0B / 0B"), Some(0.0));
        assert_eq!(parse_mem_usage("--"), None);
    }

    #[test]
    fn fleet_names() {
        assert_eq!(
            Fleet::service("auth-cache").map(|s| s.port).ok(),
            Some(6379)
        );
        assert!(Fleet::service("postgres").is_err());
    }
}
