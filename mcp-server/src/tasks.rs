//! Long tool calls as tasks (the MCP Tasks extension, `io.modelcontextprotocol/tasks`):
//! a client that declares the extension gets a task id at once for a mutating call or
//! `verify_recovery`, then polls `tasks/get` and may `tasks/cancel`. A task that must wait
//! for a human's approval waits on its plan; its state lives in the store, so a task
//! still waiting survives a server restart (one that had begun to act is marked failed,
//! never run twice).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quantumstate_store::{DynStore, PlanStatus, TaskRecord, TaskState};
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::caller::{Caller, Scopes, Surface};
use crate::catalogue::{self, Class};
use crate::error::{ErrorCode, ToolError, ToolResult};

/// How long a task is kept.
const TTL_MS: u64 = 3_600_000;
/// How often a waiting task looks at its plan again.
const POLL: Duration = Duration::from_millis(500);
/// The suggested polling interval for clients.
pub const CLIENT_POLL_MS: u64 = 1_000;

/// Calls a tool in-process as a caller (the dispatcher).
#[async_trait]
pub trait Calls: Send + Sync {
    async fn call(&self, tool: &str, args: Value, caller: Caller) -> Result<Value, ToolError>;
}

/// The tasks of this process.
pub struct Tasks {
    app: App,
    calls: Arc<dyn Calls>,
    running: Mutex<HashMap<String, CancellationToken>>,
    /// When this server began: tasks created since are its own, never resumed.
    began: chrono::DateTime<Utc>,
}

/// Tools whose calls may run as tasks: every mutation, and the recovery check.
pub fn eligible(tool: &str) -> bool {
    tool == "verify_recovery"
        || catalogue::spec(tool)
            .is_some_and(|t| t.public && matches!(t.class, Class::Operate | Class::Chaos))
}

fn surface_name(s: Surface) -> &'static str {
    match s {
        Surface::Stdio => "stdio",
        Surface::Http => "http",
        Surface::Cli => "cli",
        Surface::Console => "console",
        Surface::Runner => "runner",
        Surface::Reaper => "reaper",
        Surface::Webhook => "webhook",
    }
}

fn caller_of(t: &TaskRecord) -> Caller {
    let surface = match t.surface.as_str() {
        "stdio" => Surface::Stdio,
        "cli" => Surface::Cli,
        "console" => Surface::Console,
        _ => Surface::Http,
    };
    Caller {
        name: t.caller.clone(),
        scopes: Scopes::parse(&t.scopes).unwrap_or(Scopes::READ),
        surface,
    }
}

/// The `CallToolResult` a task completes with, as JSON.
fn result_json(r: Result<Value, ToolError>) -> Value {
    let out = match r {
        Ok(v) => {
            let mut c = CallToolResult::success(vec![ContentBlock::text(v.to_string())]);
            c.structured_content = Some(v);
            c
        }
        Err(e) => match e.into_call_tool_result() {
            Ok(rmcp::model::CallToolResponse::Complete(c)) => c,
            _ => CallToolResult::error(vec![ContentBlock::text("the tool failed")]),
        },
    };
    serde_json::to_value(out).unwrap_or(Value::Null)
}

impl Tasks {
    pub fn new(app: App, calls: Arc<dyn Calls>) -> Arc<Tasks> {
        Arc::new(Tasks {
            app,
            calls,
            running: Mutex::new(HashMap::new()),
            began: Utc::now(),
        })
    }

    async fn store(&self) -> ToolResult<DynStore> {
        self.app.store().await
    }

    /// Writes the task, keeping a cancellation another request recorded meanwhile.
    async fn save(&self, t: &mut TaskRecord) -> ToolResult<()> {
        let store = self.store().await?;
        if let Ok(Some(cur)) = store.get_task(&t.id).await
            && cur.cancel_requested
        {
            t.cancel_requested = true;
        }
        t.updated_at = Utc::now();
        store.put_task(t).await.map_err(ToolError::from)
    }

    /// Records a new task for `tool` and starts it; returns its first state.
    pub async fn start(
        self: &Arc<Self>,
        tool: &str,
        args: Value,
        caller: &Caller,
    ) -> ToolResult<TaskRecord> {
        let now = Utc::now();
        let mut t = TaskRecord {
            id: quantumstate_store::new_id("task"),
            created_at: now,
            updated_at: now,
            ttl_ms: TTL_MS,
            tool: tool.to_string(),
            arguments: args,
            caller: caller.name.clone(),
            scopes: caller.scopes.names(),
            surface: surface_name(caller.surface).into(),
            status: TaskState::Working,
            status_message: Some(format!("{tool} started")),
            plan_id: None,
            cancel_requested: false,
            started_acting: false,
            result: None,
            error: None,
        };
        self.save(&mut t).await?;
        self.spawn(t.clone());
        Ok(t)
    }

    fn spawn(self: &Arc<Self>, t: TaskRecord) {
        let token = self.app.shutdown().child_token();
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(t.id.clone(), token.clone());
        let me = self.clone();
        self.app.tasks().spawn(async move {
            let id = t.id.clone();
            if let Err(e) = me.drive(t, token).await {
                tracing::warn!(task = %id, error = %e.message, "a task could not record its state");
            }
            me.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
    }

    /// Runs the call; waits on its plan while an approver decides; records the end.
    async fn drive(&self, mut t: TaskRecord, stop: CancellationToken) -> ToolResult<()> {
        let caller = caller_of(&t);
        loop {
            if self.cancelled(&t).await {
                return self
                    .finish(&mut t, TaskState::Cancelled, None, "cancelled")
                    .await;
            }
            if t.plan_id.is_some() {
                match self.wait_for_decision(&mut t, &stop).await? {
                    Some(end) => {
                        return self
                            .finish(
                                &mut t,
                                TaskState::Completed,
                                Some(result_json(Err(end))),
                                "ended",
                            )
                            .await;
                    }
                    None if self.cancelled(&t).await => {
                        return self
                            .finish(&mut t, TaskState::Cancelled, None, "cancelled")
                            .await;
                    }
                    None => {}
                }
            }
            let mut args = t.arguments.clone();
            if let (Some(id), Value::Object(m)) = (&t.plan_id, &mut args) {
                m.insert("plan_id".into(), id.clone().into());
            }
            t.started_acting = true;
            t.status_message = Some(format!("{} running", t.tool));
            self.save(&mut t).await?;
            if t.cancel_requested {
                t.started_acting = false;
                return self
                    .finish(&mut t, TaskState::Cancelled, None, "cancelled")
                    .await;
            }
            let r = self.calls.call(&t.tool, args, caller.clone()).await;
            match r {
                Err(e) if e.code == ErrorCode::ApprovalRequired && t.plan_id.is_none() => {
                    let Some(id) = e
                        .details
                        .as_ref()
                        .and_then(|d| d.get("plan_id"))
                        .and_then(Value::as_str)
                    else {
                        return self
                            .finish(
                                &mut t,
                                TaskState::Completed,
                                Some(result_json(Err(e))),
                                "refused",
                            )
                            .await;
                    };
                    t.plan_id = Some(id.to_string());
                    t.started_acting = false;
                    t.status_message = Some(format!(
                        "waiting for a human to approve plan {id} (quantumstate-mcp approve {id}, POST /api/approvals/{id} or the console)"
                    ));
                    self.save(&mut t).await?;
                }
                other => {
                    let word = if other.is_ok() { "done" } else { "failed" };
                    return self
                        .finish(&mut t, TaskState::Completed, Some(result_json(other)), word)
                        .await;
                }
            }
        }
    }

    /// Waits until the plan is approved (None: go on), or ends otherwise (Some(why)).
    async fn wait_for_decision(
        &self,
        t: &mut TaskRecord,
        stop: &CancellationToken,
    ) -> ToolResult<Option<ToolError>> {
        let Some(id) = t.plan_id.clone() else {
            return Ok(None);
        };
        loop {
            let plan = self.store().await?.get_plan(&id).await?;
            let now = Utc::now();
            match plan {
                None => {
                    return Ok(Some(ToolError::new(
                        ErrorCode::PlanMismatch,
                        format!("plan {id} is gone"),
                    )));
                }
                Some(p) if p.status == PlanStatus::Approved => return Ok(None),
                Some(p) if p.status == PlanStatus::Denied => {
                    return Ok(Some(ToolError::new(
                        ErrorCode::ApprovalDenied,
                        format!(
                            "plan {id} was denied by {}; nothing was changed",
                            p.decided_by.unwrap_or_default()
                        ),
                    )));
                }
                Some(p) if now > p.expires_at => {
                    return Ok(Some(ToolError::new(
                        ErrorCode::PlanExpired,
                        format!("plan {id} expired before anyone approved it; nothing was changed"),
                    )));
                }
                Some(p) if p.status != PlanStatus::Pending => {
                    return Ok(Some(ToolError::new(
                        ErrorCode::PlanUsed,
                        format!("plan {id} is {}", p.status.as_str()),
                    )));
                }
                Some(_) => {}
            }
            if self.cancelled(t).await {
                return Ok(None);
            }
            tokio::select! {
                _ = stop.cancelled() => return Err(ToolError::unavailable("the server is shutting down; the task will wait again after a restart")),
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn cancelled(&self, t: &TaskRecord) -> bool {
        match self.store().await {
            Ok(s) => s
                .get_task(&t.id)
                .await
                .ok()
                .flatten()
                .is_some_and(|x| x.cancel_requested),
            Err(_) => false,
        }
    }

    async fn finish(
        &self,
        t: &mut TaskRecord,
        state: TaskState,
        result: Option<Value>,
        word: &str,
    ) -> ToolResult<()> {
        t.status = state;
        t.result = result;
        t.status_message = Some(format!("{} {word}", t.tool));
        self.save(t).await
    }

    /// The task `id`, if `caller` started it.
    pub async fn get(&self, id: &str, caller: &Caller) -> ToolResult<TaskRecord> {
        let t = self.store().await?.get_task(id).await?;
        match t {
            Some(t) if t.caller == caller.name => Ok(t),
            _ => Err(ToolError::not_found(format!(
                "no task {:?} of yours",
                crate::text::truncate(id, 80)
            ))),
        }
    }

    /// Asks task `id` to stop at its next step (a waiting task stops at once).
    pub async fn cancel(&self, id: &str, caller: &Caller) -> ToolResult<()> {
        let mut t = self.get(id, caller).await?;
        if t.status.is_terminal() {
            return Ok(());
        }
        t.cancel_requested = true;
        if !t.started_acting {
            t.status = TaskState::Cancelled;
            t.status_message = Some(format!("{} cancelled before it acted", t.tool));
        }
        self.save(&mut t).await
    }

    /// Picks up tasks a previous server left, in the background (not on the start-up path).
    pub fn resume_in_background(self: &Arc<Self>) {
        let me = self.clone();
        self.app.tasks().spawn(async move { me.resume().await });
    }

    /// After a restart: tasks still waiting on a plan wait again; tasks that had begun
    /// to act are marked failed (what they did is in the audit trail).
    pub async fn resume(self: &Arc<Self>) {
        let Ok(store) = self.store().await else {
            return;
        };
        let Ok(open) = store.open_tasks(500).await else {
            return;
        };
        for mut t in open {
            // This server's own tasks are running (or finishing) here; resume only what a
            // previous server left.
            if t.created_at >= self.began
                || self
                    .running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(&t.id)
            {
                continue;
            }
            if t.started_acting {
                t.status = TaskState::Failed;
                t.error = Some(
                    json!({"code": -32603, "message": "the server stopped while this call ran; see list_audit for what it did"}),
                );
                t.status_message = Some("interrupted by a server restart".into());
                let _ = self.save(&mut t).await;
            } else {
                self.spawn(t);
            }
        }
    }
}
