//! A stored task as the Tasks extension shows it: `Task` (for `CreateTaskResult`) and
//! `DetailedTask` with its result or error (for `tasks/get`).

use quantumstate_store::{TaskRecord, TaskState};
use rmcp::model::{DetailedTask, JsonObject, Task, TaskPayload, TaskStatus};

use crate::tasks::CLIENT_POLL_MS;

fn status(s: TaskState) -> TaskStatus {
    match s {
        TaskState::Working => TaskStatus::Working,
        TaskState::InputRequired => TaskStatus::InputRequired,
        TaskState::Completed => TaskStatus::Completed,
        TaskState::Failed => TaskStatus::Failed,
        TaskState::Cancelled => TaskStatus::Cancelled,
    }
}

pub fn task(t: &TaskRecord) -> Task {
    let mut out = Task::new(
        t.id.clone(),
        status(t.status),
        t.created_at.to_rfc3339(),
        t.updated_at.to_rfc3339(),
    )
    .with_ttl_ms(t.ttl_ms)
    .with_poll_interval_ms(CLIENT_POLL_MS);
    if let Some(m) = &t.status_message {
        out = out.with_status_message(m.clone());
    }
    out
}

fn object(v: &Option<serde_json::Value>) -> JsonObject {
    v.as_ref()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

pub fn detailed(t: &TaskRecord) -> DetailedTask {
    let payload = match t.status {
        TaskState::Working => TaskPayload::Working,
        TaskState::InputRequired => TaskPayload::InputRequired {
            input_requests: Default::default(),
        },
        TaskState::Completed => TaskPayload::Completed {
            result: object(&t.result),
        },
        TaskState::Failed => TaskPayload::Failed {
            error: object(&t.error),
        },
        TaskState::Cancelled => TaskPayload::Cancelled,
    };
    DetailedTask::new(task(t), payload)
}
