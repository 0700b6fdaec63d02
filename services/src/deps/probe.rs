//! Background probe of every dependency's `/livez` every 2 s (bounded timeout), feeding
//! the `dependencies` list of `/health` and the outage log lines.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{Dependencies, describe_error};

pub const PROBE_EVERY: Duration = Duration::from_secs(2);
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Probes each dependency once, concurrently.
pub async fn probe_all(deps: &Dependencies) {
    let mut set = JoinSet::new();
    for (name, url) in deps.urls() {
        if deps.faults().fails_dependency(&name) {
            deps.observe(
                &name,
                Err("dependency_failure fault active".to_owned()),
                None,
            );
            continue;
        }
        let client = deps.client().clone();
        set.spawn(async move {
            let started = Instant::now();
            let outcome = match client
                .get(format!("{url}/livez"))
                .timeout(PROBE_TIMEOUT)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => Ok(started.elapsed()),
                Ok(r) => Err(format!("/livez answered {}", r.status())),
                Err(e) if e.is_timeout() => {
                    Err(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis()))
                }
                Err(e) => Err(describe_error(&e)),
            };
            (name, outcome)
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((name, outcome)) = joined {
            deps.observe(&name, outcome, None);
        }
    }
}

pub async fn run(deps: Dependencies, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = probe_all(&deps) => {}
        }
    }
}
