//! What the server itself knows about whether a fix worked: every `verify_recovery` that
//! finishes leaves an audit record (passed or failed, with what held), and
//! `record_incident` marks an incident verified from those records — never from the
//! caller's say-so. Verified incidents, and runbooks with verified fixes, rank higher.

use chrono::{DateTime, Utc};
use quantumstate_store::{AuditFilter, AuditRecord, DynStore, Outcome};

use crate::app::App;

/// The tool name the records carry.
const TOOL: &str = "verify_recovery";

/// Leaves the outcome of a verification in the audit trail (best effort: a store that
/// cannot write is logged, the verification's answer stands).
pub async fn note(app: &App, who: &str, service: &str, passed: bool, detail: String) {
    let Ok(store) = app.store().await else {
        return;
    };
    let rec = AuditRecord {
        id: quantumstate_store::new_id("aud"),
        timestamp: Utc::now(),
        who: who.to_string(),
        approved_by: None,
        tool: TOOL.into(),
        arguments: serde_json::json!({ "service": service }),
        dry_run: false,
        outcome: if passed { Outcome::Ok } else { Outcome::Error },
        service: Some(service.to_string()),
        host: None,
        plan_id: None,
        detail: Some(detail),
        duration_ms: 0,
        repeats: None,
        first_seen: None,
    };
    if let Err(e) = store.put_audit(&rec).await {
        tracing::warn!(%service, error = %e, "could not record the verification's outcome");
    }
}

/// Whether the service's recovery was verified since `since`: true when a verification
/// passed, false when verifications ran and none passed, None when none ran.
pub async fn verified_since(store: &DynStore, service: &str, since: DateTime<Utc>) -> Option<bool> {
    let page = store
        .list_audit(&AuditFilter {
            service: Some(service.to_string()),
            tool: Some(TOOL.into()),
            since: Some(since),
            limit: 50,
            ..AuditFilter::default()
        })
        .await
        .ok()?;
    if page
        .items
        .iter()
        .any(|r| r.outcome == Outcome::Ok && !r.dry_run)
    {
        Some(true)
    } else if page.items.is_empty() {
        None
    } else {
        Some(false)
    }
}
