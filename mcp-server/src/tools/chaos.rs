//! The chaos toolset: real faults for drills (`inject`), the faults now active, and
//! ending them early (`reset`). Every fault has a TTL and ends by itself.

pub mod inject;
pub mod reset;

use chrono::{DateTime, Utc};
use quantumstate_fleet::probe;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ToolError;
use crate::faults::{FAULT_KINDS, SERVICE_FAULTS};
use crate::mutation::{Outcome, Request};
use crate::server::QsServer;
use inject::{Inject, Injected};
use reset::{Reset, ResetOut};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectArgs {
    /// The service to break (cache_offline: the cache, or a service using it).
    pub service: String,
    /// The first five are run by the service, the rest done through Docker.
    pub kind: String,
    /// The fault ends by itself after this many seconds, 1–3600.
    pub ttl_seconds: i64,
    /// memory_leak: MB allocated per second (1–500, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mb_per_second: Option<f64>,
    /// memory_leak: stop at this many MB (default 90 % of the limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mb: Option<f64>,
    /// memory_leak: may pass 90 % of the limit (risking an OOM kill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_oom: Option<bool>,
    /// cpu_burn: busy threads, 1–8 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<i64>,
    /// error_spike: share of requests failing with 5xx, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_share: Option<f64>,
    /// latency: ms added to requests, 1–30000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_ms: Option<i64>,
    /// dependency_failure: the dependency whose calls fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// bad_deploy: the version (default the first of DEFECTIVE_VERSIONS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Swarm, pause or kill: `one` task (default) or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFaultsArgs {
    /// Only this service.
    #[serde(default)]
    pub service: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FaultOut {
    pub fault_id: String,
    pub service: String,
    pub kind: String,
    pub level: String,
    pub started_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub params: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FaultList {
    pub faults: Vec<FaultOut>,
    pub truncated: bool,
    /// Services whose faults could not be read, and why (paused, stopped, not answering):
    /// their faults are not in `faults`.
    pub unreachable: Vec<NotAsked>,
}

/// A service whose own faults could not be asked for.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotAsked {
    pub service: String,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetArgs {
    /// Only this service; default every managed service.
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

/// Offers the fault kinds this server accepts as the schema's `enum` for `kind`: every
/// kind, or (with --disable-destructive) only the service faults, which take no capacity.
pub fn offer_kinds(tool: &mut rmcp::model::Tool, container_faults: bool) {
    let kinds: Vec<&str> = if container_faults {
        FAULT_KINDS.to_vec()
    } else {
        SERVICE_FAULTS.to_vec()
    };
    let mut schema = (*tool.input_schema).clone();
    if let Some(kind) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("kind"))
        .and_then(Value::as_object_mut)
    {
        kind.insert("enum".into(), serde_json::json!(kinds));
    }
    tool.input_schema = std::sync::Arc::new(schema);
}

#[tool_router(router = chaos_tools, vis = "pub(crate)")]
impl QsServer {
    #[tool(
        description = "Inject a real fault for a drill; it ends by itself after ttl_seconds. Arguments named after a kind (memory_leak: ...) apply to that kind only. Then watch detect_anomalies."
    )]
    pub async fn inject_fault(
        &self,
        Parameters(a): Parameters<InjectArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Injected>>, ToolError> {
        let req = Request::new(
            "inject_fault",
            &a,
            Some(&a.service),
            a.dry_run,
            a.plan_id.as_deref(),
        );
        self.mutate(&ctx, req, Inject::new(a)?).await
    }

    #[tool(
        description = "Active faults (run by the services, or container faults QuantumState will undo), each with its expiry."
    )]
    pub async fn list_faults(
        &self,
        Parameters(a): Parameters<ListFaultsArgs>,
    ) -> Result<Json<FaultList>, ToolError> {
        let only = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let mut faults = Vec::new();
        let mut unreachable = Vec::new();
        let list = self.app.fleet().list().await?;
        for c in list
            .iter()
            .filter(|c| only.as_ref().is_none_or(|o| *o == c.name))
        {
            if c.state != "running" {
                unreachable.push(NotAsked {
                    service: c.name.clone(),
                    reason: format!("the container is {}", c.state),
                });
                continue;
            }
            match probe::get(c, "/faults").await {
                Ok((_, resp)) if resp.status().is_success() => {
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    let items = body
                        .get("faults")
                        .and_then(Value::as_array)
                        .cloned()
                        .or_else(|| body.as_array().cloned())
                        .unwrap_or_default();
                    for f in items {
                        let t = |k: &str| {
                            f.get(k)
                                .and_then(Value::as_str)
                                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                                .map(|t| t.with_timezone(&Utc))
                        };
                        faults.push(FaultOut {
                            fault_id: f
                                .get("id")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                            service: c.name.clone(),
                            kind: f
                                .get("kind")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .into(),
                            level: "service".into(),
                            started_at: t("started_at"),
                            expires_at: t("expires_at"),
                            params: f.get("params").cloned().unwrap_or(Value::Null),
                        });
                    }
                }
                Ok((url, resp)) => unreachable.push(NotAsked {
                    service: c.name.clone(),
                    reason: format!("{url} answered {}", resp.status()),
                }),
                Err(e) => unreachable.push(NotAsked {
                    service: c.name.clone(),
                    reason: e,
                }),
            }
        }
        let store = self.app.store().await?;
        for f in store.active_faults().await? {
            if only.as_ref().is_some_and(|o| *o != f.service) {
                continue;
            }
            faults.push(FaultOut {
                fault_id: f.id,
                service: f.service,
                kind: f.kind,
                level: "container".into(),
                started_at: Some(f.started_at),
                expires_at: Some(f.expires_at),
                params: f.undo,
            });
        }
        faults.sort_by(|a, b| {
            a.service
                .cmp(&b.service)
                .then(a.expires_at.cmp(&b.expires_at))
                .then(a.fault_id.cmp(&b.fault_id))
        });
        let truncated = faults.len() > 200;
        faults.truncate(200);
        Ok(Json(FaultList {
            faults,
            truncated,
            unreachable,
        }))
    }

    #[tool(description = "End faults now instead of at their TTL: one service or all.")]
    pub async fn reset_faults(
        &self,
        Parameters(a): Parameters<ResetArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<ResetOut>>, ToolError> {
        let req = Request::new(
            "reset_faults",
            &a,
            a.service.as_deref(),
            a.dry_run,
            a.plan_id.as_deref(),
        );
        self.mutate(&ctx, req, Reset).await
    }
}
