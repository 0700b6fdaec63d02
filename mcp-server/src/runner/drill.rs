//! Crash drills for the runner: `QS_DRILL_RUNNER_PAUSE=STEP:MS` holds the runner for MS
//! milliseconds at one step of every action (`claimed`: after the claim; `intent`: after
//! the intent is recorded, before the first Docker call; `applied`: after the Docker
//! calls, before the result is written), so a drill can `kill -9` the server exactly
//! there and watch the next runner finish the action once. Unset, it costs nothing.

use std::sync::OnceLock;
use std::time::Duration;

/// A point in an action's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Claimed,
    Intent,
    Applied,
}

impl Step {
    fn parse(s: &str) -> Option<Step> {
        match s {
            "claimed" => Some(Step::Claimed),
            "intent" => Some(Step::Intent),
            "applied" => Some(Step::Applied),
            _ => None,
        }
    }
}

/// The configured pause, read once (a malformed value is reported and ignored).
fn configured() -> Option<(Step, Duration)> {
    static PAUSE: OnceLock<Option<(Step, Duration)>> = OnceLock::new();
    *PAUSE.get_or_init(|| {
        let raw = std::env::var("QS_DRILL_RUNNER_PAUSE").ok()?;
        let parsed = raw.split_once(':').and_then(|(step, ms)| {
            Some((Step::parse(step)?, Duration::from_millis(ms.parse().ok()?)))
        });
        match parsed {
            Some(p) => {
                tracing::warn!(pause = %raw, "crash drill: the runner pauses at this step of every action");
                Some(p)
            }
            None => {
                tracing::error!(value = %raw, "QS_DRILL_RUNNER_PAUSE must be claimed|intent|applied:MS; ignored");
                None
            }
        }
    })
}

/// Holds the runner at `step` when a drill asks for it.
pub async fn pause(step: Step) {
    if let Some((at, d)) = configured()
        && at == step
    {
        tracing::warn!(?step, ms = d.as_millis() as u64, "crash drill pause");
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse() {
        assert_eq!(Step::parse("intent"), Some(Step::Intent));
        assert_eq!(Step::parse("during"), None);
    }
}
