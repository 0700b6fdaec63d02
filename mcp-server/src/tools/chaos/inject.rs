//! Injecting one fault. Service faults go to the service's `/faults` (it ends them at
//! their TTL itself); container faults go through Docker and are recorded before acting,
//! so the reaper undoes them at their TTL even after this server dies mid-way. A swarm
//! service's tasks take pause and kill (`swarm`).

mod params;
mod swarm;

use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use quantumstate_fleet::{ContainerDetail, probe};
use quantumstate_store::FaultRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::InjectArgs;
use crate::error::{ErrorCode, ToolError, ToolResult};
use crate::faults::{CONTAINER_FAULTS, FAULT_KINDS, MAX_TTL, SERVICE_FAULTS};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
use crate::ops::{self, STOP_GRACE};
use crate::text::truncate;
use params::{check_params, service_fault_body};

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Injected {
    pub fault_id: String,
    pub service: String,
    pub kind: String,
    /// `service` (the service ends it) or `container` (QuantumState's reaper undoes it).
    pub level: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// What the service or Docker reported.
    pub detail: Value,
}

/// One validated fault.
pub struct Inject {
    args: InjectArgs,
    container_level: bool,
    /// How to undo a container fault, and the version a bad deploy deploys (from the plan).
    undo: OnceLock<(Value, Option<String>)>,
}

impl Inject {
    pub fn new(args: InjectArgs) -> ToolResult<Inject> {
        let ttl = args.ttl_seconds;
        if !(1..=MAX_TTL).contains(&ttl) {
            return Err(ToolError::invalid(format!(
                "ttl_seconds must be 1 to {MAX_TTL} (got {ttl})"
            ))
            .hint("every fault ends by itself; e.g. ttl_seconds: 300"));
        }
        let kind = args.kind.as_str();
        let container_level = if SERVICE_FAULTS.contains(&kind) {
            false
        } else if CONTAINER_FAULTS.contains(&kind) {
            true
        } else {
            return Err(
                ToolError::invalid(format!("unknown fault kind {:?}", truncate(kind, 40)))
                    .hint(format!("use one of: {}", FAULT_KINDS.join(", "))),
            );
        };
        check_params(&args)?;
        Ok(Inject {
            args,
            container_level,
            undo: OnceLock::new(),
        })
    }
}

/// How to undo a container fault, worked out before acting, and the version a bad deploy
/// deploys.
fn container_undo(d: &ContainerDetail, a: &InjectArgs) -> ToolResult<(Value, Option<String>)> {
    let target = &d.info.name;
    match a.kind.as_str() {
        "kill" | "cache_offline" => Ok((json!({"op": "start"}), None)),
        "pause" => Ok((json!({"op": "unpause"}), None)),
        "network_partition" => {
            let net = d
                .networks
                .iter()
                .find(|n| !["bridge", "host", "none"].contains(&n.as_str()))
                .cloned()
                .ok_or_else(|| {
                    ToolError::invalid(format!("{target} is on no user network to cut it from"))
                })?;
            let mut aliases = vec![d.info.container_name.clone()];
            if let Some(s) = d.info.labels.get("com.docker.compose.service")
                && !aliases.contains(s)
            {
                aliases.push(s.clone());
            }
            Ok((
                json!({"op": "connect", "network": net, "aliases": aliases}),
                None,
            ))
        }
        "bad_deploy" => {
            let version = match &a.version {
                Some(v) => ops::check_version(v)?,
                None => d.defective_versions().into_iter().next().ok_or_else(|| {
                    ToolError::invalid(format!("{target} declares no DEFECTIVE_VERSIONS"))
                        .hint("pass version: the defective version to deploy")
                })?,
            };
            let previous = d.version.clone().ok_or_else(|| {
                ToolError::invalid(format!(
                    "{target} has no SERVICE_VERSION, so a bad deploy could not be rolled back"
                ))
            })?;
            if previous == version {
                return Err(ToolError::invalid(format!(
                    "{target} already runs {version}"
                )));
            }
            Ok((
                json!({"op": "rollback", "to_version": previous}),
                Some(version),
            ))
        }
        other => Err(ToolError::invalid(format!(
            "unknown container fault {other:?}"
        ))),
    }
}

#[async_trait]
impl Mutation for Inject {
    type Output = Injected;

    /// cache_offline on a service that is not a cache acts on the cache it depends on.
    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        if let Some(svc) = cx.swarm_service().await? {
            return swarm::targets(self, cx, &svc).await;
        }
        swarm::only_for_swarm(self)?;
        let d = cx.service().await?;
        if self.args.kind != "cache_offline" || d.info.role == "cache" {
            return Ok(vec![d]);
        }
        for dep in ops::dependencies(cx.reads(), &d).await? {
            let c = cx.resolve(&dep).await?;
            if c.info.role == "cache" {
                return Ok(vec![c]);
            }
        }
        Err(ToolError::invalid(format!("{} is not a cache and uses none", d.info.name))
            .hint("cache_offline targets a container labelled quantumstate.role=cache, or a service that depends on one"))
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        if let Some(svc) = cx.swarm {
            return swarm::plan(self, cx, svc);
        }
        let d = cx.target()?;
        let (target, kind, ttl) = (&d.info.name, &self.args.kind, self.args.ttl_seconds);
        if !self.container_level {
            return Ok(Planned {
                operations: vec![format!(
                    "POST /faults on {target}: {kind} for {ttl} s (the service ends it itself)"
                )],
                ..Planned::default()
            });
        }
        let _ = self.undo.set(container_undo(d, &self.args)?);
        let down = matches!(
            kind.as_str(),
            "kill" | "pause" | "network_partition" | "cache_offline"
        );
        Ok(Planned {
            operations: vec![format!(
                "{kind} {target} through Docker; QuantumState undoes it after {ttl} s"
            )],
            downtime_seconds: if down { ttl as u64 } else { 0 },
            // Killing or stopping a container (and the restart that undoes it) is a restart:
            // it uses the same budget as restart_container.
            disrupts: if matches!(kind.as_str(), "kill" | "cache_offline" | "bad_deploy") {
                vec![target.clone()]
            } else {
                Vec::new()
            },
            takes_capacity: true,
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Injected> {
        if let Some(svc) = cx.swarm {
            return swarm::apply(self, cx, svc).await;
        }
        let d = cx.target()?;
        if self.container_level {
            self.apply_container(cx, d).await
        } else {
            self.apply_service(d, cx.fault_token).await
        }
    }

    fn summary(&self, r: &Injected) -> String {
        format!(
            "{} {} until {}",
            r.kind,
            r.fault_id,
            r.expires_at.format("%H:%M:%S")
        )
    }

    fn subject(&self, _service: Option<&str>, targets: &[ContainerDetail]) -> String {
        targets
            .first()
            .map(|t| t.info.name.clone())
            .unwrap_or_else(|| self.args.service.clone())
    }
}

impl Inject {
    /// The fault's record, with the undo its plan worked out (and a bad deploy's version).
    fn record(&self, service: &str) -> ToolResult<(FaultRecord, Option<String>)> {
        let (undo, version) = self
            .undo
            .get()
            .cloned()
            .ok_or_else(|| ToolError::failed("a container fault applied without a plan"))?;
        let now = Utc::now();
        let rec = FaultRecord {
            id: quantumstate_store::new_id("flt"),
            service: service.to_string(),
            kind: self.args.kind.clone(),
            started_at: now,
            expires_at: now + Duration::seconds(self.args.ttl_seconds),
            undo,
            state: "active".into(),
            detail: None,
        };
        Ok((rec, version))
    }

    async fn apply_service(
        &self,
        d: &ContainerDetail,
        token: Option<&str>,
    ) -> ToolResult<Injected> {
        let (now, target) = (Utc::now(), &d.info.name);
        let (url, resp) = probe::post(&d.info, "/faults", &service_fault_body(&self.args), token)
            .await
            .map_err(|e| ToolError::unavailable(format!("{target} did not answer: {e}")))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = body
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("refused");
            let field = body
                .pointer("/error/field")
                .and_then(Value::as_str)
                .map(|f| format!("{f}: "))
                .unwrap_or_default();
            let msg = format!(
                "{target} refused the fault ({status}): {field}{}",
                crate::text::truncate(msg, 300)
            );
            let err = if matches!(status.as_u16(), 401 | 403) {
                ToolError::forbidden(msg).hint("the fleet's services take faults only with their QS_FAULT_TOKEN: start quantumstate-mcp with the same QS_FAULT_TOKEN (scripts/demo.sh writes it to .env)")
            } else if status == reqwest::StatusCode::CONFLICT {
                ToolError::new(ErrorCode::Conflict, msg)
                    .hint("it runs as many faults as it allows: list_faults shows them, reset_faults ends them")
            } else {
                ToolError::invalid(msg)
            };
            return Err(err.details(json!({"url": url, "status": status.as_u16()})));
        }
        let time = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Ok(Injected {
            fault_id: body
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            service: target.clone(),
            kind: self.args.kind.clone(),
            level: "service".into(),
            started_at: time("started_at").unwrap_or(now),
            expires_at: time("expires_at")
                .unwrap_or(now + Duration::seconds(self.args.ttl_seconds)),
            detail: body,
        })
    }

    async fn apply_container(&self, cx: &ApplyCx<'_>, d: &ContainerDetail) -> ToolResult<Injected> {
        let (mut rec, version) = self.record(&d.info.name)?;
        let (now, undo) = (rec.started_at, rec.undo.clone());
        // Recorded before acting: if this process dies mid-way, the reaper still undoes it.
        cx.store.put_fault(&rec).await?;
        match self.act(cx, d, &undo, version).await {
            Ok(detail) => Ok(Injected {
                fault_id: rec.id,
                service: d.info.name.clone(),
                kind: self.args.kind.clone(),
                level: "container".into(),
                started_at: now,
                expires_at: rec.expires_at,
                detail,
            }),
            Err(e) => {
                rec.state = "failed".into();
                rec.detail = Some(format!("not applied: {}", e.message));
                cx.store.put_fault(&rec).await?;
                Err(e)
            }
        }
    }

    async fn act(
        &self,
        cx: &ApplyCx<'_>,
        d: &ContainerDetail,
        undo: &Value,
        version: Option<String>,
    ) -> ToolResult<Value> {
        let (t, name) = (d.target(), d.info.name.as_str());
        match self.args.kind.as_str() {
            "kill" => cx.ops.kill(&t).await.map(|_| json!({"killed": name})),
            "pause" => cx.ops.pause(&t).await.map(|_| json!({"paused": name})),
            "cache_offline" => cx
                .ops
                .stop(&t, STOP_GRACE)
                .await
                .map(|_| json!({"stopped": name})),
            "network_partition" => {
                let net = undo
                    .get("network")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                cx.ops.disconnect(&t, net).await?;
                Ok(json!({"disconnected_from": net}))
            }
            "bad_deploy" => {
                let v =
                    version.ok_or_else(|| ToolError::failed("a bad deploy without a version"))?;
                let wait = std::time::Duration::from_secs(30);
                let dep = ops::deploy(cx, d, &v, "chaos drill: bad_deploy", wait).await?;
                Ok(serde_json::to_value(&dep).unwrap_or(Value::Null))
            }
            other => Err(ToolError::invalid(format!(
                "unknown container fault {other:?}"
            ))),
        }
    }
}
