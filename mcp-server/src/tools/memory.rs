//! The memory toolset: institutional memory. Similar past incidents and runbooks, the
//! incident record, agent decisions and the audit trail.

use chrono::{DateTime, Utc};
use quantumstate_store::{
    AnomalyType, AuditFilter, AuditRecord, Decision, DecisionFilter, Incident, IncidentFilter,
    Outcome, Runbook, SimilarQuery,
};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{limit, opt_text, text, timestamp, window};
use crate::error::{ToolError, ToolResult};
use crate::guard::{Caller, Kind, Request};
use crate::server::QsServer;

// ---------- arguments ----------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindSimilarArgs {
    /// What is happening, in words: symptoms, error codes, recent changes.
    /// E.g. "payment-service heap keeps growing after a deploy, GC pauses".
    pub description: String,
    /// Rank this service's incidents first (a container name such as payment-service).
    #[serde(default)]
    pub service: Option<String>,
    /// Rank incidents of this type first.
    #[serde(default)]
    pub anomaly_type: Option<AnomalyType>,
    /// How many to return, 1–50 (default 5).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindRunbookArgs {
    /// The situation in words (symptoms, error codes, whether a deploy happened).
    pub description: String,
    /// The affected service; runbooks for it (and generic ones) rank first.
    #[serde(default)]
    pub service: Option<String>,
    /// The anomaly type, if known (from detect_anomalies).
    #[serde(default)]
    pub anomaly_type: Option<AnomalyType>,
    /// How many to return, 1–8 (default 3).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetIncidentArgs {
    /// The incident id, e.g. inc-seed-001.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListIncidentsArgs {
    /// Only this service.
    #[serde(default)]
    pub service: Option<String>,
    /// Only this type.
    #[serde(default)]
    pub anomaly_type: Option<AnomalyType>,
    /// `open` or `resolved`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only incidents that started within this window, like 7d (1s to 30d). Default: all.
    #[serde(default)]
    pub window: Option<String>,
    /// At most this many, newest first, 1–200 (default 20).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordIncidentArgs {
    /// The affected service.
    pub service: String,
    pub anomaly_type: AnomalyType,
    /// A one-line title, as for a pager.
    pub title: String,
    /// What was observed.
    #[serde(default)]
    pub description: Option<String>,
    /// The cause, as far as it is known.
    pub root_cause: String,
    /// What was done (tools called, versions rolled back to...).
    pub actions_taken: String,
    /// `resolved` (default) or `open`.
    #[serde(default)]
    pub status: Option<String>,
    /// When it started (RFC 3339). Default: now.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it was resolved (RFC 3339). Default: now, for resolved incidents.
    #[serde(default)]
    pub resolved_at: Option<String>,
    /// Return what would be written without writing it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordDecisionArgs {
    /// Which agent decided (e.g. cassandra, archaeologist, surgeon, or your own name).
    pub agent: String,
    /// What was decided and why, in plain words.
    pub decision: String,
    /// Confidence 0–100.
    pub confidence: i64,
    /// The service the decision is about.
    pub service: String,
    /// The input the decision rested on (anomaly, incident ids...), as a JSON object.
    #[serde(default)]
    pub context: Option<Value>,
    /// Return what would be written without writing it.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDecisionsArgs {
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    /// Only decisions within this window, like 1h (1s to 30d). Default: all.
    #[serde(default)]
    pub window: Option<String>,
    /// At most this many, newest first, 1–200 (default 20).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAuditArgs {
    #[serde(default)]
    pub service: Option<String>,
    /// Only calls of this tool.
    #[serde(default)]
    pub tool: Option<String>,
    /// Only this caller (token name, stdio, cli, runner:..., reaper).
    #[serde(default)]
    pub who: Option<String>,
    /// started, ok, refused or error.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Only records within this window, like 1h (1s to 30d). Default: all.
    #[serde(default)]
    pub window: Option<String>,
    /// At most this many, newest first, 1–500 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

// ---------- results ----------

/// A past incident with its similarity score.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentMatch {
    /// 0–1, higher is closer (text similarity plus service and type matches).
    pub score: f64,
    pub id: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub service: String,
    pub anomaly_type: AnomalyType,
    pub title: String,
    pub root_cause: String,
    pub actions_taken: String,
    pub mttr_seconds: Option<u64>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub status: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SimilarIncidents {
    /// Best match first.
    pub incidents: Vec<IncidentMatch>,
    /// True when more incidents matched than `limit`.
    pub truncated: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunbookMatch {
    /// 0–1, higher is more relevant.
    pub score: f64,
    #[serde(flatten)]
    pub runbook: Runbook,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RelevantRunbooks {
    /// Most relevant first.
    pub runbooks: Vec<RunbookMatch>,
    pub truncated: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentList {
    /// Newest first.
    pub incidents: Vec<Incident>,
    pub truncated: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordedIncident {
    pub incident: Incident,
    /// True when nothing was written.
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RecordedDecision {
    pub decision: Decision,
    pub dry_run: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DecisionList {
    pub decisions: Vec<Decision>,
    pub truncated: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditList {
    /// Newest first.
    pub records: Vec<AuditRecord>,
    pub truncated: bool,
}

// ---------- tools ----------

#[tool_router(router = memory_tools, vis = "pub(crate)")]
impl QsServer {
    /// Find past incidents like the one described, best match first, with what fixed them.
    #[tool(
        description = "Find past incidents similar to a description, ranked best first, each with its score (0-1), root cause, the actions that fixed it and its MTTR. Use it after detect_anomalies to learn what worked before; then call find_relevant_runbook. Pass the service and anomaly_type when known: they rank matching incidents first.",
        annotations(
            title = "Find similar incidents",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn find_similar_incidents(
        &self,
        Parameters(a): Parameters<FindSimilarArgs>,
    ) -> Result<Json<SimilarIncidents>, ToolError> {
        let description = text(&a.description, "description", 2000)?;
        let service = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let limit = limit(a.limit, 5, 50, "limit")?;
        searchable(&description)?;
        let store = self.app.store().await?;
        let mut hits = store
            .similar_incidents(&SimilarQuery {
                description,
                service,
                anomaly_type: a.anomaly_type,
                limit: limit + 1,
            })
            .await?;
        let truncated = hits.len() > limit;
        hits.truncate(limit);
        Ok(Json(SimilarIncidents {
            incidents: hits
                .into_iter()
                .map(|h| {
                    let i = h.item;
                    IncidentMatch {
                        score: h.score,
                        id: i.id,
                        timestamp: i.timestamp,
                        service: i.service,
                        anomaly_type: i.anomaly_type,
                        title: i.title,
                        root_cause: i.root_cause,
                        actions_taken: i.actions_taken,
                        mttr_seconds: i.mttr_seconds,
                        resolved_at: i.resolved_at,
                        status: i.status,
                    }
                })
                .collect(),
            truncated,
        }))
    }

    #[tool(
        description = "Find the runbooks that fit a situation, most relevant first: symptoms, how to confirm the diagnosis, the ordered steps (naming the tools to call) and the remediation it ends in. Use it after find_similar_incidents and before any remediation.",
        annotations(
            title = "Find relevant runbook",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn find_relevant_runbook(
        &self,
        Parameters(a): Parameters<FindRunbookArgs>,
    ) -> Result<Json<RelevantRunbooks>, ToolError> {
        let description = text(&a.description, "description", 2000)?;
        let service = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let limit = limit(a.limit, 3, 8, "limit")?;
        searchable(&description)?;
        let store = self.app.store().await?;
        let mut hits = store
            .relevant_runbooks(&SimilarQuery {
                description,
                service,
                anomaly_type: a.anomaly_type,
                limit: limit + 1,
            })
            .await?;
        let truncated = hits.len() > limit;
        hits.truncate(limit);
        Ok(Json(RelevantRunbooks {
            runbooks: hits
                .into_iter()
                .map(|h| RunbookMatch {
                    score: h.score,
                    runbook: h.item,
                })
                .collect(),
            truncated,
        }))
    }

    #[tool(
        description = "Get one incident by id (as returned by find_similar_incidents or list_incidents), with its full description, root cause, actions and MTTR.",
        annotations(
            title = "Get incident",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_incident(
        &self,
        Parameters(a): Parameters<GetIncidentArgs>,
    ) -> Result<Json<Incident>, ToolError> {
        let id = text(&a.id, "id", 200)?;
        let store = self.app.store().await?;
        store.get_incident(&id).await?.map(Json).ok_or_else(|| {
            ToolError::not_found(format!("no incident with id {id:?}"))
                .hint("list_incidents or find_similar_incidents show the ids")
        })
    }

    #[tool(
        description = "List incidents newest first, filtered by service, anomaly_type, status (open/resolved) and a window such as 7d. Bounded by limit; says when truncated.",
        annotations(
            title = "List incidents",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn list_incidents(
        &self,
        Parameters(a): Parameters<ListIncidentsArgs>,
    ) -> Result<Json<IncidentList>, ToolError> {
        let service = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let status = match a.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s @ ("open" | "resolved")) => Some(s.to_string()),
            Some(other) => {
                return Err(ToolError::invalid(format!(
                    "status must be open or resolved, not {other:?}"
                )));
            }
        };
        let since = match a.window.as_deref() {
            Some(w) => Some(Utc::now() - window(Some(w), "7d")?.duration()),
            None => None,
        };
        let limit = limit(a.limit, 20, 200, "limit")?;
        let store = self.app.store().await?;
        let page = store
            .list_incidents(&IncidentFilter {
                service,
                anomaly_type: a.anomaly_type,
                status,
                since,
                limit,
            })
            .await?;
        Ok(Json(IncidentList {
            incidents: page.items,
            truncated: page.truncated,
        }))
    }

    #[tool(
        description = "Record an incident (usually after remediation and a passing verify_recovery) so later searches find it: service, anomaly_type, title, root_cause, actions_taken, start and resolution times (MTTR is computed). dry_run returns the document without writing it.",
        annotations(
            title = "Record incident",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn record_incident(
        &self,
        Parameters(a): Parameters<RecordIncidentArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RecordedIncident>, ToolError> {
        let args = serde_json::to_value(ArgsEcho::incident(&a)).unwrap_or(Value::Null);
        let service = self.app.check_service(&a.service).await?;
        let title = text(&a.title, "title", 300)?;
        let root_cause = text(&a.root_cause, "root_cause", 4000)?;
        let actions_taken = text(&a.actions_taken, "actions_taken", 4000)?;
        let description =
            opt_text(a.description.as_deref(), "description", 4000)?.unwrap_or_default();
        let status = match a.status.as_deref().map(str::trim) {
            None | Some("") | Some("resolved") => "resolved",
            Some("open") => "open",
            Some(other) => {
                return Err(ToolError::invalid(format!(
                    "status must be open or resolved, not {other:?}"
                )));
            }
        };
        let now = Utc::now();
        let started = match a.started_at.as_deref() {
            Some(s) => timestamp(s, "started_at")?,
            None => now,
        };
        let resolved = match (status, a.resolved_at.as_deref()) {
            ("open", Some(_)) => {
                return Err(ToolError::invalid("an open incident has no resolved_at"));
            }
            ("open", None) => None,
            (_, Some(s)) => Some(timestamp(s, "resolved_at")?),
            (_, None) => Some(now),
        };
        if let Some(r) = resolved
            && r < started
        {
            return Err(ToolError::invalid("resolved_at is before started_at"));
        }
        let region = if service == "inventory-service" {
            "eu-west-1"
        } else {
            "us-east-1"
        };
        let incident = Incident {
            id: quantumstate_store::new_id("inc"),
            timestamp: started,
            service: service.clone(),
            region: region.into(),
            anomaly_type: a.anomaly_type,
            title,
            description,
            root_cause,
            actions_taken,
            resolved_at: resolved,
            mttr_seconds: resolved.map(|r| (r - started).num_seconds().max(0) as u64),
            status: status.into(),
            source: Some(Caller::from_ctx(&ctx).name),
        };
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &Caller::from_ctx(&ctx),
                Request {
                    tool: "record_incident",
                    arguments: args,
                    service: Some(service),
                    targets: Vec::new(),
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: None,
                    kind: Kind::Record,
                },
            )
            .await?;
        let result: ToolResult<()> = if a.dry_run {
            Ok(())
        } else {
            let store = self.app.store().await?;
            store.put_incident(&incident).await.map_err(ToolError::from)
        };
        ticket
            .finish(&result, Some(format!("incident {}", incident.id)))
            .await;
        result?;
        Ok(Json(RecordedIncident {
            incident,
            dry_run: a.dry_run,
        }))
    }

    #[tool(
        description = "Record an agent's decision (what was decided, why, with confidence 0-100) about a service, with the context it rested on. Do this at each step of an investigation so the audit trail explains the actions.",
        annotations(
            title = "Record decision",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn record_decision(
        &self,
        Parameters(a): Parameters<RecordDecisionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RecordedDecision>, ToolError> {
        let agent = text(&a.agent, "agent", 100)?;
        let decision_text = text(&a.decision, "decision", 4000)?;
        if !(0..=100).contains(&a.confidence) {
            return Err(ToolError::invalid(format!(
                "confidence must be 0 to 100 (got {})",
                a.confidence
            ))
            .hint("give a whole-number percentage"));
        }
        let service = self.app.check_service(&a.service).await?;
        let context = match a.context.clone() {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(v @ Value::Object(_)) => v,
            Some(_) => return Err(ToolError::invalid("context must be a JSON object")),
        };
        if serde_json::to_string(&context)
            .map(|s| s.len())
            .unwrap_or(0)
            > 32 * 1024
        {
            return Err(ToolError::invalid(
                "context is larger than 32 KiB; keep ids and key numbers only",
            ));
        }
        let decision = Decision {
            id: quantumstate_store::new_id("dec"),
            timestamp: Utc::now(),
            agent,
            decision: decision_text,
            confidence: a.confidence as u8,
            service: service.clone(),
            context,
        };
        let args = serde_json::json!({
            "agent": decision.agent, "decision": decision.decision, "confidence": a.confidence,
            "service": service, "dry_run": a.dry_run,
        });
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &Caller::from_ctx(&ctx),
                Request {
                    tool: "record_decision",
                    arguments: args,
                    service: Some(service),
                    targets: Vec::new(),
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: None,
                    kind: Kind::Record,
                },
            )
            .await?;
        let result: ToolResult<()> = if a.dry_run {
            Ok(())
        } else {
            let store = self.app.store().await?;
            store.put_decision(&decision).await.map_err(ToolError::from)
        };
        ticket
            .finish(&result, Some(format!("decision {}", decision.id)))
            .await;
        result?;
        Ok(Json(RecordedDecision {
            decision,
            dry_run: a.dry_run,
        }))
    }

    #[tool(
        description = "List agent decisions newest first, filtered by service, agent and window (e.g. 1h). Bounded by limit; says when truncated.",
        annotations(
            title = "List decisions",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn list_decisions(
        &self,
        Parameters(a): Parameters<ListDecisionsArgs>,
    ) -> Result<Json<DecisionList>, ToolError> {
        let service = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let agent = opt_text(a.agent.as_deref(), "agent", 100)?;
        let since = match a.window.as_deref() {
            Some(w) => Some(Utc::now() - window(Some(w), "1h")?.duration()),
            None => None,
        };
        let limit = limit(a.limit, 20, 200, "limit")?;
        let store = self.app.store().await?;
        let page = store
            .list_decisions(&DecisionFilter {
                service,
                agent,
                since,
                limit,
            })
            .await?;
        Ok(Json(DecisionList {
            decisions: page.items,
            truncated: page.truncated,
        }))
    }

    #[tool(
        description = "Read the audit trail: every mutating call (allowed, refused, dry run or real) with who made it, the arguments, the outcome and how long it took. Filter by service, tool, who, outcome and window.",
        annotations(
            title = "List audit",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn list_audit(
        &self,
        Parameters(a): Parameters<ListAuditArgs>,
    ) -> Result<Json<AuditList>, ToolError> {
        let service = opt_text(a.service.as_deref(), "service", 128)?;
        let tool = opt_text(a.tool.as_deref(), "tool", 64)?;
        let who = opt_text(a.who.as_deref(), "who", 128)?;
        let outcome = match a.outcome.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(o) => Some(Outcome::parse(o).ok_or_else(|| {
                ToolError::invalid(format!(
                    "outcome must be started, ok, refused or error, not {o:?}"
                ))
            })?),
        };
        let since = match a.window.as_deref() {
            Some(w) => Some(Utc::now() - window(Some(w), "1h")?.duration()),
            None => None,
        };
        let limit = limit(a.limit, 50, 500, "limit")?;
        let store = self.app.store().await?;
        let page = store
            .list_audit(&AuditFilter {
                service,
                tool,
                who,
                outcome,
                since,
                limit,
            })
            .await?;
        Ok(Json(AuditList {
            records: page.items,
            truncated: page.truncated,
        }))
    }
}

/// A description must contain at least one word worth searching for.
fn searchable(description: &str) -> ToolResult<()> {
    let has_word = description
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.chars().count() >= 3);
    if has_word {
        Ok(())
    } else {
        Err(ToolError::invalid("description has no searchable words")
            .hint("describe the symptoms, e.g. \"auth-service errors, session cache offline\""))
    }
}

/// The arguments of a call as audited (long texts shortened).
#[derive(Serialize)]
struct ArgsEcho {
    service: String,
    anomaly_type: AnomalyType,
    title: String,
    status: Option<String>,
    dry_run: bool,
}

impl ArgsEcho {
    fn incident(a: &RecordIncidentArgs) -> ArgsEcho {
        ArgsEcho {
            service: a.service.clone(),
            anomaly_type: a.anomaly_type,
            title: crate::app::truncate(&a.title, 200),
            status: a.status.clone(),
            dry_run: a.dry_run,
        }
    }
}
