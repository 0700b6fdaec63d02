//! The runner's claim as a fence: before its first side effect the runner records its
//! intent (when, which claim, the targets as they were) and from then on checks, before
//! every side effect, that the claim is still its own; a lost claim (a failed renewal,
//! another runner's claim) stops the action before it touches anything more.
//!
//! A later claim that finds an intent looks at the targets first: if they changed after
//! the intent (restarted, recreated, resized), the side effect happened and only the
//! bookkeeping is finished; else nothing was done and the action runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use quantumstate_fleet::{ContainerDetail, FleetError};
use serde_json::{Value, json};

use crate::app::App;
use crate::error::{ToolError, ToolResult};
use crate::mutation::Fence;

/// How long a later claim waits for a target that an interrupted operation left stopped
/// or missing (Docker finishes a restart or recreate its client did not wait for).
const SETTLE: Duration = Duration::from_secs(30);

/// One claim on one action.
pub struct ClaimFence {
    app: App,
    exec_id: String,
    claim_id: String,
    attempt: u32,
    /// Set when a renewal found the claim gone (or could not confirm it in time).
    lost: Arc<AtomicBool>,
    intended: AtomicBool,
}

impl ClaimFence {
    pub fn new(app: App, exec_id: &str, claim_id: &str, attempt: u32) -> ClaimFence {
        ClaimFence {
            app,
            exec_id: exec_id.into(),
            claim_id: claim_id.into(),
            attempt,
            lost: Arc::default(),
            intended: AtomicBool::new(false),
        }
    }

    /// The flag the lease keeper sets when the claim is lost.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }

    fn until(&self) -> DateTime<Utc> {
        let lease = self.app.config().runner_lease;
        Utc::now() + chrono::Duration::milliseconds(lease.as_millis() as i64)
    }

    fn lost_error(&self) -> ToolError {
        self.lost.store(true, Ordering::SeqCst);
        ToolError::failed(format!(
            "this runner no longer holds action {} (its lease ran out or another runner claimed it); stopped before the next change",
            self.exec_id
        ))
    }
}

#[async_trait::async_trait]
impl Fence for ClaimFence {
    async fn before_side_effect(&self, targets: &[ContainerDetail]) -> ToolResult<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(self.lost_error());
        }
        let store = self.app.store().await?;
        let held = if self.intended.load(Ordering::SeqCst) {
            store
                .renew_lease(&self.exec_id, &self.claim_id, self.until())
                .await?
        } else {
            let intent = intent(&self.claim_id, self.attempt, targets);
            let held = store
                .record_intent(&self.exec_id, &self.claim_id, self.until(), &intent)
                .await?;
            self.intended.store(held, Ordering::SeqCst);
            if held {
                super::drill::pause(super::drill::Step::Intent).await;
            }
            held
        };
        if held { Ok(()) } else { Err(self.lost_error()) }
    }
}

/// What is recorded before the first side effect.
fn intent(claim_id: &str, attempt: u32, targets: &[ContainerDetail]) -> Value {
    json!({
        "at": Utc::now(),
        "claim": claim_id,
        "attempt": attempt,
        "targets": targets.iter().map(fingerprint).collect::<Vec<_>>(),
    })
}

/// What an operation on a container changes: its id (recreate), its start and finish
/// times (restart, stop), its version and memory limit.
fn fingerprint(d: &ContainerDetail) -> Value {
    json!({
        "name": d.info.name,
        "id": d.info.id,
        "started_at": d.started_at,
        "finished_at": d.finished_at,
        "version": d.version,
        "memory_limit_bytes": d.memory_limit_bytes,
    })
}

/// What changed on the targets since an earlier claim's intent, if anything: `Some` says
/// the side effect happened (and how it shows), `None` that nothing was done. A target
/// that changed but is not running yet (an interrupted restart or recreate, which Docker
/// finishes without its client) is waited for, up to `SETTLE`.
pub async fn effect_of(app: &App, intent: &Value) -> ToolResult<Option<String>> {
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut seen = Vec::new();
    for before in intent["targets"].as_array().into_iter().flatten() {
        let name = before["name"].as_str().unwrap_or_default();
        loop {
            let now = match app.fleet().inspect(name).await {
                Ok(d) => d,
                Err(FleetError::NotFound(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(FleetError::NotFound(_)) => {
                    return Err(ToolError::failed(format!(
                        "{name} is gone since an earlier attempt began to act on it; not acting again"
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            let after = fingerprint(&now);
            let changed: Vec<&str> = CHANGES
                .into_iter()
                .filter(|k| before[*k] != after[*k])
                .collect();
            let settling = !changed.is_empty() && !now.running && !now.paused;
            if settling && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            if !changed.is_empty() {
                seen.push(format!(
                    "{name}: {} changed since the intent (started at {}, running {})",
                    changed.join(", "),
                    after["started_at"].as_str().unwrap_or("?"),
                    now.running
                ));
            }
            break;
        }
    }
    Ok((!seen.is_empty()).then(|| seen.join("; ")))
}

/// The fields of a fingerprint an operation changes.
const CHANGES: [&str; 5] = [
    "id",
    "started_at",
    "finished_at",
    "version",
    "memory_limit_bytes",
];
