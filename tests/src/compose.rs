//! Running docker-compose on the root `docker-compose.yml`: Debian's `docker-compose`
//! 1.29 or the `docker compose` v2 plugin, whichever this machine has.

use std::time::Duration;

use anyhow::bail;

use crate::{run, run_env, workspace_root};

/// Bound on one compose command (an `up` that builds nothing, a `rm`).
const COMPOSE_TIMEOUT: Duration = Duration::from_secs(120);

/// `docker-compose` (1.29) or `docker compose` (v2), whichever works here.
#[derive(Debug, Clone)]
pub struct Compose {
    program: &'static str,
    prefix: Vec<&'static str>,
}

impl Compose {
    pub async fn detect() -> anyhow::Result<Compose> {
        let candidates = [
            Compose {
                program: "docker-compose",
                prefix: vec![],
            },
            Compose {
                program: "docker",
                prefix: vec!["compose"],
            },
        ];
        for c in candidates {
            let mut args = c.prefix.clone();
            args.push("version");
            if run(c.program, &args, Duration::from_secs(20)).await.is_ok() {
                return Ok(c);
            }
        }
        bail!("neither `docker-compose` nor `docker compose` works; install docker-compose")
    }

    pub async fn run(&self, project: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
        let file = workspace_root().join("docker-compose.yml");
        let file = file.to_string_lossy().into_owned();
        let mut full = self.prefix.clone();
        full.extend(["-f", file.as_str()]);
        if let Some(p) = project {
            full.extend(["-p", p]);
        }
        full.extend_from_slice(args);
        // The services take faults only with the tests' fault token.
        run_env(
            self.program,
            &full,
            &[("QS_FAULT_TOKEN", crate::FAULT_TOKEN)],
            COMPOSE_TIMEOUT,
        )
        .await
    }
}
