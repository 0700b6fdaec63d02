//! Writing to the knowledge store: incidents and agent decisions. Both are mutations on
//! the road (audited, refused to read-only callers) that touch no container.

use async_trait::async_trait;
use chrono::Utc;
use quantumstate_fleet::ContainerDetail;
use quantumstate_store::{AnomalyType, Decision, Incident};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
use crate::text::truncate;
use crate::tools::args::{opt_text, text, timestamp};

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
    /// The runbook followed (an id from find_relevant_runbook), if one was.
    #[serde(default)]
    pub runbook_id: Option<String>,
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
    pub service: String,
    /// The input the decision rested on (anomaly, incident ids...), as a JSON object.
    #[serde(default)]
    pub context: Option<Value>,
    /// Return what would be written without writing it.
    #[serde(default)]
    pub dry_run: bool,
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

/// The arguments of record_incident as audited (long texts shortened).
#[derive(Serialize)]
pub struct IncidentEcho {
    service: String,
    anomaly_type: AnomalyType,
    title: String,
    status: Option<String>,
    dry_run: bool,
}

impl IncidentEcho {
    pub fn of(a: &RecordIncidentArgs) -> IncidentEcho {
        IncidentEcho {
            service: a.service.clone(),
            anomaly_type: a.anomaly_type,
            title: truncate(&a.title, 200),
            status: a.status.clone(),
            dry_run: a.dry_run,
        }
    }
}

/// The incident the arguments describe, for a checked `service` in `region`.
pub fn incident(
    a: &RecordIncidentArgs,
    service: &str,
    region: &str,
    by: &str,
) -> ToolResult<Incident> {
    let title = text(&a.title, "title", 300)?;
    let root_cause = text(&a.root_cause, "root_cause", 4000)?;
    let actions_taken = text(&a.actions_taken, "actions_taken", 4000)?;
    let description = opt_text(a.description.as_deref(), "description", 4000)?.unwrap_or_default();
    let status = match a.status.as_deref().map(str::trim) {
        None | Some("") | Some("resolved") => "resolved",
        Some("open") => "open",
        Some(other) => {
            return Err(ToolError::invalid(format!(
                "status must be open or resolved, not {:?}",
                crate::text::truncate(other, 20)
            )));
        }
    };
    let now = Utc::now();
    let started = match a.started_at.as_deref() {
        Some(s) => timestamp(s, "started_at")?,
        None => now,
    };
    let resolved = match (status, a.resolved_at.as_deref()) {
        ("open", Some(_)) => return Err(ToolError::invalid("an open incident has no resolved_at")),
        ("open", None) => None,
        (_, Some(s)) => Some(timestamp(s, "resolved_at")?),
        (_, None) => Some(now),
    };
    if let Some(r) = resolved
        && r < started
    {
        return Err(ToolError::invalid("resolved_at is before started_at"));
    }
    Ok(Incident {
        id: quantumstate_store::new_id("inc"),
        timestamp: started,
        service: service.to_string(),
        region: region.to_string(),
        anomaly_type: a.anomaly_type,
        title,
        description,
        root_cause,
        actions_taken,
        resolved_at: resolved,
        mttr_seconds: resolved.map(|r| (r - started).num_seconds().max(0) as u64),
        status: status.into(),
        source: Some(by.to_string()),
        alert: None,
        verified: None,
        runbook_id: opt_text(a.runbook_id.as_deref(), "runbook_id", 200)?,
    })
}

/// The decision the arguments describe, for a checked `service`.
pub fn decision(a: &RecordDecisionArgs, service: &str) -> ToolResult<Decision> {
    let agent = text(&a.agent, "agent", 100)?;
    let decision = text(&a.decision, "decision", 4000)?;
    if !(0..=100).contains(&a.confidence) {
        return Err(ToolError::invalid(format!(
            "confidence must be 0 to 100 (got {})",
            a.confidence
        ))
        .hint("give a whole-number percentage"));
    }
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
    Ok(Decision {
        id: quantumstate_store::new_id("dec"),
        timestamp: Utc::now(),
        agent,
        decision,
        confidence: a.confidence as u8,
        service: service.to_string(),
        context,
    })
}

/// A document to write.
pub enum Doc {
    Incident(Incident),
    Decision(Decision),
}

/// Writes one document (a dry run returns it without writing).
pub struct Record(pub Doc);

#[async_trait]
impl Mutation for Record {
    type Output = ();

    async fn targets(&self, _cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        Ok(Vec::new())
    }

    async fn plan(&self, _cx: &PlanCx<'_>) -> ToolResult<Planned> {
        Ok(Planned::default())
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<()> {
        match &self.0 {
            Doc::Incident(i) => cx.store.put_incident(i).await?,
            Doc::Decision(d) => cx.store.put_decision(d).await?,
        }
        Ok(())
    }

    fn summary(&self, _out: &()) -> String {
        match &self.0 {
            Doc::Incident(i) => format!("incident {}", i.id),
            Doc::Decision(d) => format!("decision {}", d.id),
        }
    }
}
