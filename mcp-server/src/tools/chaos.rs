//! The chaos toolset: real faults for drills. Service-level faults go to the service's
//! `/faults` (the service ends them at their TTL itself); container-level faults go through
//! Docker and are recorded so the reaper undoes them at their TTL, even after a restart of
//! this server.

use chrono::{DateTime, Duration, Utc};
use quantumstate_store::FaultRecord;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::remediation::Mutation;
use crate::app::App;
use crate::error::{ToolError, ToolResult};
use crate::fleet::probe;
use crate::guard::{Caller, Kind, Request};
use crate::ops;
use crate::reaper;
use crate::server::QsServer;

/// Faults the service itself runs.
pub const SERVICE_FAULTS: [&str; 5] = [
    "memory_leak",
    "cpu_burn",
    "error_spike",
    "latency",
    "dependency_failure",
];
/// Faults done to the container through Docker.
pub const CONTAINER_FAULTS: [&str; 5] = [
    "kill",
    "pause",
    "network_partition",
    "cache_offline",
    "bad_deploy",
];
/// Every fault kind, for completions.
pub const FAULT_KINDS: [&str; 10] = [
    "memory_leak",
    "cpu_burn",
    "error_spike",
    "latency",
    "dependency_failure",
    "kill",
    "pause",
    "network_partition",
    "cache_offline",
    "bad_deploy",
];
pub const MAX_TTL: i64 = 3600;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectArgs {
    /// The service to break, e.g. payment-service (for cache_offline: auth-cache or a service that uses it).
    pub service: String,
    /// memory_leak, cpu_burn, error_spike, latency, dependency_failure (run by the service), or
    /// kill, pause, network_partition, cache_offline, bad_deploy (done through Docker).
    pub kind: String,
    /// Required: the fault ends by itself after this many seconds, 1–3600.
    pub ttl_seconds: i64,
    /// memory_leak: MB allocated per second (1–500, default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mb_per_second: Option<f64>,
    /// memory_leak: stop growing at this many MB (default 90 % of the container's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mb: Option<f64>,
    /// memory_leak: allow growing past 90 % of the limit (the kernel may then OOM-kill it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_oom: Option<bool>,
    /// cpu_burn: busy threads, 1–8 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<i64>,
    /// error_spike: share of business requests that fail with 5xx, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_share: Option<f64>,
    /// latency: milliseconds added to business requests, 1–30000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_ms: Option<i64>,
    /// dependency_failure: the dependency whose calls fail (e.g. payment-service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency: Option<String>,
    /// bad_deploy: the defective version to deploy (default the first of the container's DEFECTIVE_VERSIONS, else 3.5.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
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
    /// Services whose faults could not be read (not running, not answering).
    pub unreachable: Vec<String>,
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

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResetOut {
    /// One line per service: what was cleared, or why it could not be.
    pub services: Vec<String>,
    pub truncated: bool,
}

/// The service-level fault body the service's `/faults` expects.
fn service_fault_body(a: &InjectArgs, ttl: i64) -> Value {
    let mut b = json!({"kind": a.kind, "ttl_seconds": ttl});
    let m = b.as_object_mut().expect("json! object literal");
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("mb_per_second", a.mb_per_second.map(Value::from));
    put("max_mb", a.max_mb.map(Value::from));
    put("allow_oom", a.allow_oom.map(Value::from));
    put("threads", a.threads.map(Value::from));
    put("error_share", a.error_share.map(Value::from));
    put("added_ms", a.added_ms.map(Value::from));
    put("dependency", a.dependency.clone().map(Value::from));
    b
}

/// Parameters that only some kinds take must not be passed to others.
fn check_params(a: &InjectArgs) -> ToolResult<()> {
    let given: Vec<(&str, bool)> = vec![
        ("mb_per_second", a.mb_per_second.is_some()),
        ("max_mb", a.max_mb.is_some()),
        ("allow_oom", a.allow_oom.is_some()),
        ("threads", a.threads.is_some()),
        ("error_share", a.error_share.is_some()),
        ("added_ms", a.added_ms.is_some()),
        ("dependency", a.dependency.is_some()),
        ("version", a.version.is_some()),
    ];
    let allowed: &[&str] = match a.kind.as_str() {
        "memory_leak" => &["mb_per_second", "max_mb", "allow_oom"],
        "cpu_burn" => &["threads"],
        "error_spike" => &["error_share"],
        "latency" => &["added_ms"],
        "dependency_failure" => &["dependency"],
        "bad_deploy" => &["version"],
        _ => &[],
    };
    if let Some((p, _)) = given.iter().find(|(p, set)| *set && !allowed.contains(p)) {
        return Err(
            ToolError::invalid(format!("{p} does not apply to a {} fault", a.kind)).hint(
                if allowed.is_empty() {
                    format!("{} takes no parameters besides ttl_seconds", a.kind)
                } else {
                    format!("{} takes: {}", a.kind, allowed.join(", "))
                },
            ),
        );
    }
    Ok(())
}

/// The container a container-level fault acts on.
async fn fault_target(app: &App, service: &str, kind: &str) -> ToolResult<String> {
    if kind != "cache_offline" {
        return Ok(service.to_string());
    }
    let d = app.fleet().inspect(service).await?;
    if d.info.role == "cache" {
        return Ok(service.to_string());
    }
    let deps = ops::dependencies(app, service).await?;
    for dep in deps {
        if app
            .fleet()
            .inspect(&dep)
            .await
            .is_ok_and(|x| x.info.role == "cache")
        {
            return Ok(dep);
        }
    }
    Err(
        ToolError::invalid(format!("{service} is not a cache and uses none"))
            .hint("cache_offline targets auth-cache (or auth-service, which uses it)"),
    )
}

/// How to undo a container-level fault, worked out (and recorded) before acting, so a
/// crash between recording and acting still leaves the reaper what it needs.
async fn container_undo(
    app: &App,
    target: &str,
    a: &InjectArgs,
) -> ToolResult<(Value, Option<String>)> {
    let d = app.fleet().inspect(target).await?;
    match a.kind.as_str() {
        "kill" | "cache_offline" => Ok((json!({"op": "start"}), None)),
        "pause" => Ok((json!({"op": "unpause"}), None)),
        "network_partition" => {
            let nets: Vec<String> = d
                .networks
                .iter()
                .filter(|n| !["bridge", "host", "none"].contains(&n.as_str()))
                .cloned()
                .collect();
            let Some(net) = nets.first().cloned() else {
                return Err(ToolError::invalid(format!(
                    "{target} is on no user network to cut it from"
                )));
            };
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
                None => d
                    .env
                    .iter()
                    .find_map(|e| e.strip_prefix("DEFECTIVE_VERSIONS="))
                    .and_then(|v| {
                        v.split(',')
                            .map(str::trim)
                            .find(|s| !s.is_empty())
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "3.5.0".into()),
            };
            let previous = d.version.clone().unwrap_or_else(|| "1.0.0".into());
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

/// Does a container-level fault now; returns what Docker reported.
async fn apply_container_fault(
    app: &App,
    target: &str,
    a: &InjectArgs,
    undo: &Value,
    version: Option<String>,
    by: &str,
) -> ToolResult<Value> {
    let f = app.fleet();
    match a.kind.as_str() {
        "kill" => f
            .kill(target)
            .await
            .map(|_| json!({"killed": target}))
            .map_err(Into::into),
        "pause" => f
            .pause(target)
            .await
            .map(|_| json!({"paused": target}))
            .map_err(Into::into),
        "cache_offline" => f
            .stop(target, ops::STOP_GRACE)
            .await
            .map(|_| json!({"stopped": target}))
            .map_err(Into::into),
        "network_partition" => {
            let net = undo
                .get("network")
                .and_then(Value::as_str)
                .unwrap_or_default();
            f.disconnect(target, net).await?;
            Ok(json!({"disconnected_from": net}))
        }
        "bad_deploy" => {
            let v = version.unwrap_or_else(|| "3.5.0".into());
            let dep = ops::deploy(
                app,
                target,
                &v,
                by,
                "chaos drill: bad_deploy",
                std::time::Duration::from_secs(30),
                |_| async {},
            )
            .await?;
            Ok(serde_json::to_value(&dep).unwrap_or(Value::Null))
        }
        other => Err(ToolError::invalid(format!(
            "unknown container fault {other:?}"
        ))),
    }
}

#[tool_router(router = chaos_tools, vis = "pub(crate)")]
impl QsServer {
    #[tool(
        description = "Inject a real fault for a drill, with a required ttl_seconds (1-3600) after which it ends by itself. Service faults: memory_leak (mb_per_second, max_mb, allow_oom), cpu_burn (threads), error_spike (error_share), latency (added_ms), dependency_failure (dependency). Container faults through Docker: kill, pause, network_partition, cache_offline (stops auth-cache), bad_deploy (deploys a defective version; undone by rollback at the TTL). Dry run first. Then watch detect_anomalies.",
        annotations(
            title = "Inject fault",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn inject_fault(
        &self,
        Parameters(a): Parameters<InjectArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Injected>>, ToolError> {
        let service = self
            .target(
                &ctx,
                "inject_fault",
                &serde_json::to_value(&a).unwrap_or(Value::Null),
                &a.service,
            )
            .await?;
        let ttl = a.ttl_seconds;
        if !(1..=MAX_TTL).contains(&ttl) {
            return Err(ToolError::invalid(format!(
                "ttl_seconds must be 1 to {MAX_TTL} (got {ttl})"
            ))
            .hint("every fault ends by itself; e.g. ttl_seconds: 300"));
        }
        let level = if SERVICE_FAULTS.contains(&a.kind.as_str()) {
            "service"
        } else if CONTAINER_FAULTS.contains(&a.kind.as_str()) {
            "container"
        } else {
            return Err(ToolError::invalid(format!(
                "unknown fault kind {:?}",
                crate::app::truncate(&a.kind, 40)
            ))
            .hint(format!("use one of: {}", FAULT_KINDS.join(", "))));
        };
        check_params(&a)?;
        let target = fault_target(&self.app, &service, &a.kind).await?;
        let caller = Caller::from_ctx(&ctx);
        let kind = if level == "container" {
            Kind::Destructive
        } else {
            Kind::Operate
        };
        let req = Request {
            tool: "inject_fault",
            arguments: serde_json::to_value(&a).unwrap_or(Value::Null),
            service: Some(target.clone()),
            targets: vec![target.clone()],
            restarts: Vec::new(),
            dry_run: a.dry_run,
            plan_id: a.plan_id.clone(),
            kind,
        };
        if !a.dry_run && kind == Kind::Destructive {
            self.confirm(
                &ctx,
                a.plan_id.as_deref(),
                &format!("{} {target} for {ttl} s", a.kind),
            )
            .await?;
        }
        let ticket = self.app.guard().admit(&self.app, &caller, req).await?;
        if a.dry_run {
            let op = if level == "service" {
                format!(
                    "POST /faults on {target}: {} for {ttl} s (the service ends it itself)",
                    a.kind
                )
            } else {
                format!(
                    "{} {target} through Docker; QuantumState undoes it after {ttl} s",
                    a.kind
                )
            };
            let downtime = if matches!(
                a.kind.as_str(),
                "kill" | "pause" | "network_partition" | "cache_offline"
            ) {
                ttl as u64
            } else {
                0
            };
            let plan = ticket.plan(vec![target.clone()], vec![op], downtime);
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(target, plan)));
        }
        let now = Utc::now();
        let result: ToolResult<Injected> = async {
            if level == "service" {
                let d = self.app.fleet().inspect(&target).await?;
                let (url, resp) = probe::post(&d.info, "/faults", &service_fault_body(&a, ttl))
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
                    return Err(ToolError::invalid(format!(
                        "{target} refused the fault ({status}): {field}{msg}"
                    ))
                    .details(json!({"url": url, "body": body})));
                }
                let parse = |k: &str| {
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
                    kind: a.kind.clone(),
                    level: "service".into(),
                    started_at: parse("started_at").unwrap_or(now),
                    expires_at: parse("expires_at").unwrap_or(now + Duration::seconds(ttl)),
                    detail: body,
                })
            } else {
                let store = self.app.store().await?;
                let (undo, version) = container_undo(&self.app, &target, &a).await?;
                let id = quantumstate_store::new_id("flt");
                // Recorded before acting: if this process dies mid-way, the reaper still undoes it.
                let mut rec = FaultRecord {
                    id: id.clone(),
                    service: target.clone(),
                    kind: a.kind.clone(),
                    started_at: now,
                    expires_at: now + Duration::seconds(ttl),
                    undo: undo.clone(),
                    state: "active".into(),
                    detail: None,
                };
                store.put_fault(&rec).await?;
                match apply_container_fault(&self.app, &target, &a, &undo, version, &caller.name)
                    .await
                {
                    Ok(detail) => Ok(Injected {
                        fault_id: id,
                        service: target.clone(),
                        kind: a.kind.clone(),
                        level: "container".into(),
                        started_at: now,
                        expires_at: rec.expires_at,
                        detail,
                    }),
                    Err(e) => {
                        rec.state = "failed".into();
                        rec.detail = Some(format!("not applied: {}", e.message));
                        store.put_fault(&rec).await?;
                        Err(e)
                    }
                }
            }
        }
        .await;
        ticket
            .finish(
                &result,
                result.as_ref().ok().map(|r| {
                    format!(
                        "{} {} until {}",
                        r.kind,
                        r.fault_id,
                        r.expires_at.format("%H:%M:%S")
                    )
                }),
            )
            .await;
        Ok(Json(Mutation::done(target, result?)))
    }

    #[tool(
        description = "List active faults: those the services are running (from their /faults) and container faults QuantumState will undo, each with its expiry.",
        annotations(
            title = "List faults",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
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
                _ => unreachable.push(c.name.clone()),
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

    #[tool(
        description = "End faults now instead of at their TTL: the services' own faults (POST /faults/reset) and container faults (restart, unpause, reconnect, roll back). One service or all.",
        annotations(
            title = "Reset faults",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn reset_faults(
        &self,
        Parameters(a): Parameters<ResetArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<ResetOut>>, ToolError> {
        let only = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let list = self.app.fleet().list().await?;
        let targets: Vec<String> = list
            .iter()
            .filter(|c| only.as_ref().is_none_or(|o| *o == c.name))
            .map(|c| c.name.clone())
            .collect();
        let label = only.clone().unwrap_or_else(|| "all".into());
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "reset_faults",
                    arguments: serde_json::to_value(&a).unwrap_or(Value::Null),
                    service: only.clone(),
                    targets: targets.clone(),
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        let store = self.app.store().await?;
        let open: Vec<FaultRecord> = store
            .active_faults()
            .await?
            .into_iter()
            .filter(|f| targets.contains(&f.service))
            .collect();
        if a.dry_run {
            let mut ops: Vec<String> = targets
                .iter()
                .map(|t| format!("POST /faults/reset on {t}"))
                .collect();
            ops.extend(
                open.iter()
                    .map(|f| format!("undo {} on {} ({})", f.kind, f.service, f.id)),
            );
            let plan = ticket.plan(targets.clone(), ops, 0);
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(label, plan)));
        }
        let mut lines = Vec::new();
        for f in &open {
            match reaper::undo(&self.app, f, "reset_faults").await {
                Ok(what) => lines.push(format!("{}: {what}", f.service)),
                Err(e) => lines.push(format!(
                    "{}: could not undo {} ({})",
                    f.service, f.kind, e.message
                )),
            }
        }
        for c in list.iter().filter(|c| targets.contains(&c.name)) {
            if c.state != "running" {
                continue;
            }
            match probe::post(c, "/faults/reset", &json!({})).await {
                Ok((_, r)) if r.status().is_success() => {
                    lines.push(format!("{}: service faults cleared", c.name))
                }
                Ok((_, r)) => {
                    lines.push(format!("{}: /faults/reset answered {}", c.name, r.status()))
                }
                Err(e) => lines.push(format!("{}: not reachable ({e})", c.name)),
            }
        }
        let result: ToolResult<ResetOut> = Ok(ResetOut {
            services: lines,
            truncated: false,
        });
        ticket.finish(&result, Some(format!("reset {label}"))).await;
        Ok(Json(Mutation::done(label, result?)))
    }
}
