//! The memory toolset: institutional memory. Similar past incidents and runbooks, the
//! incident record, agent decisions and the audit trail.

use chrono::Utc;
use quantumstate_store::{
    AuditFilter, DecisionFilter, Incident, IncidentFilter, Outcome, SimilarQuery,
};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

pub mod outcome;
pub mod records;
pub mod types;

use crate::error::{ToolError, ToolResult};
use crate::mutation::Request;
use crate::server::QsServer;
use crate::tools::args::{limit, opt_text, text, window};
use records::{
    Doc, IncidentEcho, Record, RecordDecisionArgs, RecordIncidentArgs, RecordedDecision,
    RecordedIncident,
};
use types::*;

// ---------- tools ----------

#[tool_router(router = memory_tools, vis = "pub(crate)")]
impl QsServer {
    /// Find past incidents like the one described, best match first, with what fixed them.
    #[tool(
        description = "Past incidents like a description, best first: score, root cause, the fix, MTTR and why each ranked. Use after detect_anomalies."
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
        let found = store
            .similar_incidents(&SimilarQuery {
                description,
                service,
                anomaly_type: a.anomaly_type,
                limit: limit + 1,
                aliases: self.app.service_aliases().await,
                ..SimilarQuery::default()
            })
            .await?;
        let mut hits = found.hits;
        let truncated = hits.len() > limit;
        hits.truncate(limit);
        Ok(Json(SimilarIncidents {
            retrieval: found.retrieval,
            incidents: hits
                .into_iter()
                .map(|h| {
                    let i = h.item;
                    IncidentMatch {
                        score: h.score,
                        why: h.why,
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
        description = "Runbooks for a situation, best first: symptoms, how to confirm, ordered steps naming tools, the remediation. Read one before remediating."
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
        let found = store
            .relevant_runbooks(&SimilarQuery {
                description,
                service,
                anomaly_type: a.anomaly_type,
                limit: limit + 1,
                aliases: self.app.service_aliases().await,
                ..SimilarQuery::default()
            })
            .await?;
        let mut hits = found.hits;
        let truncated = hits.len() > limit;
        hits.truncate(limit);
        Ok(Json(RelevantRunbooks {
            retrieval: found.retrieval,
            runbooks: hits
                .into_iter()
                .map(|h| RunbookMatch {
                    score: h.score,
                    why: h.why,
                    runbook: h.item,
                })
                .collect(),
            truncated,
        }))
    }

    #[tool(description = "One incident by id, in full.")]
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
        description = "Incidents newest first, filtered by service, anomaly_type, status and window."
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
                    "status must be open or resolved, not {:?}",
                    crate::text::truncate(other, 20)
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
        description = "Record an incident after a remediation so later searches find it (MTTR computed; `verified` from the server's own verify_recovery record; verified fixes rank higher)."
    )]
    pub async fn record_incident(
        &self,
        Parameters(a): Parameters<RecordIncidentArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RecordedIncident>, ToolError> {
        let service = self.app.check_service(&a.service).await?;
        let region = self.app.region_of(&service).await;
        let by = self.caller(&ctx)?.name;
        let mut incident = records::incident(&a, &service, &region, &by)?;
        let store = self.app.store().await?;
        if let Some(id) = &incident.runbook_id
            && store.get_runbook(id).await?.is_none()
        {
            return Err(ToolError::invalid(format!("no runbook with id {id:?}"))
                .hint("find_relevant_runbook shows the runbooks' ids"));
        }
        // Whether the fix worked is the server's own record, not the caller's claim.
        incident.verified = outcome::verified_since(&store, &service, incident.timestamp).await;
        let echo = IncidentEcho::of(&a);
        let req = Request::new("record_incident", &echo, Some(&service), a.dry_run, None);
        let doc = Record(Doc::Incident(incident.clone()));
        self.run_mutation(&ctx, req, &doc).await?;
        Ok(Json(RecordedIncident {
            incident,
            dry_run: a.dry_run,
        }))
    }

    #[tool(
        description = "Record a decision (what, why, confidence) about a service with its context, at each step, so the audit trail explains the actions."
    )]
    pub async fn record_decision(
        &self,
        Parameters(a): Parameters<RecordDecisionArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RecordedDecision>, ToolError> {
        let service = self.app.check_service(&a.service).await?;
        let decision = records::decision(&a, &service)?;
        let echo = serde_json::json!({
            "agent": decision.agent, "decision": decision.decision, "confidence": a.confidence,
            "service": service, "dry_run": a.dry_run,
        });
        let req = Request::new("record_decision", &echo, Some(&service), a.dry_run, None);
        let doc = Record(Doc::Decision(decision.clone()));
        self.run_mutation(&ctx, req, &doc).await?;
        Ok(Json(RecordedDecision {
            decision,
            dry_run: a.dry_run,
        }))
    }

    #[tool(description = "Agent decisions newest first, filtered by service, agent and window.")]
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
        description = "The audit trail of mutating calls (allowed, refused, dry run, real): who, arguments, outcome, duration."
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
                    "outcome must be started, ok, refused or error, not {:?}",
                    crate::text::truncate(o, 20)
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
        Ok(Json(AuditList::bounded(page.items, page.truncated)))
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
