//! One checked alert becomes one incident, on the mutation road (audited as
//! `receive_alert`, caller `alertmanager`): a firing alert opens it with the evidence
//! `detect_anomalies` finds and the best runbook, or updates the open one with the same
//! fingerprint; a resolved alert resolves it with its MTTR. The incident's id comes from
//! the fingerprint and `startsAt`, so a redelivered notification changes nothing.

use async_trait::async_trait;
use chrono::Utc;
use quantumstate_fleet::ContainerDetail;
use quantumstate_store::{
    AlertInfo, AlertRunbook, DynStore, Incident, IncidentFilter, SimilarQuery,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::classify::{anomaly_type, words};
use super::{Alert, OnAlert};
use crate::app::App;
use crate::caller::Caller;
use crate::error::ToolResult;
use crate::mutation::{ApplyCx, Client, Mutation, PlanCx, Planned, Request, TargetCx};
use crate::text::truncate;
use crate::tools::remediation::queue::Enqueue;

/// What one alert did.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub incident_id: String,
    pub fingerprint: String,
    pub service: String,
    /// `opened`, `updated`, `resolved`, `recorded_resolved` (a resolved alert never seen
    /// firing) or `unchanged` (a redelivery).
    pub outcome: &'static str,
    pub managed: bool,
    /// What `--on-alert queue` did, when it was asked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<String>,
}

/// Takes the alerts of one notification, in order.
pub async fn receive(
    app: &App,
    caller: &Caller,
    alerts: &[Alert],
    on: OnAlert,
) -> ToolResult<Vec<Received>> {
    let store = app.store().await?;
    let mut out = Vec::with_capacity(alerts.len());
    for a in alerts {
        out.push(one(app, &store, caller, a, on).await?);
    }
    Ok(out)
}

/// The id of the incident an alert opens: its fingerprint and start, to the millisecond.
pub fn incident_id(a: &Alert) -> String {
    format!("alert-{}-{}", a.fingerprint, a.starts_at.timestamp_millis())
}

async fn one(
    app: &App,
    store: &DynStore,
    caller: &Caller,
    a: &Alert,
    on: OnAlert,
) -> ToolResult<Received> {
    let raw = a.service.clone().unwrap_or_else(|| "unknown".into());
    let checked = app.check_service(&raw).await.ok();
    let managed = checked.is_some();
    let service = checked.unwrap_or(raw);
    let existing = find(store, a, &service).await?;
    let mut r = Received {
        incident_id: existing
            .as_ref()
            .map_or_else(|| incident_id(a), |i| i.id.clone()),
        fingerprint: a.fingerprint.clone(),
        service: service.clone(),
        outcome: "unchanged",
        managed,
        queued: None,
    };
    match (existing, a.firing) {
        (Some(mut inc), true) => {
            let Some(info) = inc.alert.as_mut() else {
                return Ok(r);
            };
            if inc.status == "open"
                && (info.labels != a.labels || info.annotations != a.annotations)
            {
                info.labels = a.labels.clone();
                info.annotations = a.annotations.clone();
                write(app, caller, a, inc, false).await?;
                r.outcome = "updated";
            }
        }
        (Some(mut inc), false) => {
            if inc.status == "open" {
                resolve(&mut inc, a);
                write(app, caller, a, inc, false).await?;
                r.outcome = "resolved";
            }
        }
        (None, firing) => {
            let mut inc = opened(app, store, a, &service, managed).await;
            if !firing {
                resolve(&mut inc, a);
            }
            let runbook = inc.alert.as_ref().and_then(|i| i.runbook.clone());
            if !write(app, caller, a, inc.clone(), true).await? {
                return Ok(r); // another delivery of the same alert got there first
            }
            r.outcome = if firing {
                "opened"
            } else {
                "recorded_resolved"
            };
            if firing && on == OnAlert::Queue {
                let said = queue(app, caller, &inc, managed, runbook.as_ref()).await;
                if let Some(info) = inc.alert.as_mut() {
                    info.queued = Some(said.clone());
                }
                if said.starts_with("exec-") {
                    inc.actions_taken = format!("queued {said} for the runner");
                }
                write(app, caller, a, inc, false).await?;
                r.queued = Some(said);
            }
        }
    }
    Ok(r)
}

/// Resolves `inc` at the alert's end (never before it opened), with its MTTR.
fn resolve(inc: &mut Incident, a: &Alert) {
    let at = a.ends_at.unwrap_or_else(Utc::now).max(inc.timestamp);
    inc.status = "resolved".into();
    inc.resolved_at = Some(at);
    inc.mttr_seconds = Some((at - inc.timestamp).num_seconds().max(0) as u64);
    if let Some(info) = inc.alert.as_mut() {
        info.ends_at = Some(at);
    }
}

/// The incident this alert belongs to: by id, else the open one with its fingerprint.
async fn find(store: &DynStore, a: &Alert, service: &str) -> ToolResult<Option<Incident>> {
    if let Some(i) = store.get_incident(&incident_id(a)).await? {
        return Ok(Some(i));
    }
    let open = store
        .list_incidents(&IncidentFilter {
            service: Some(service.to_string()),
            anomaly_type: None,
            status: Some("open".into()),
            since: None,
            limit: 200,
        })
        .await?;
    Ok(open.items.into_iter().find(|i| {
        i.alert
            .as_ref()
            .is_some_and(|x| x.fingerprint == a.fingerprint)
    }))
}

/// A new open incident for a firing alert, with what detection and the runbooks say.
async fn opened(app: &App, store: &DynStore, a: &Alert, service: &str, managed: bool) -> Incident {
    let (evidence, detected) = if !managed {
        let why = format!(
            "{service} is not a service QuantumState manages: nothing was measured and no action is queued"
        );
        (json!({"not_looked": why}), None)
    } else if !a.firing {
        (
            json!({"not_looked": "the alert had resolved when it arrived"}),
            None,
        )
    } else {
        match crate::tools::analysis::gather::detect(app, Some(service.to_string())).await {
            Ok(d) => {
                let first = d.anomalies.first().map(|x| x.anomaly_type);
                let v = serde_json::to_value(&d.anomalies).unwrap_or(Value::Null);
                (json!({"anomalies": v, "services": d.services}), first)
            }
            Err(e) => (json!({"error": e.message}), None),
        }
    };
    let (anomaly_type, type_from) = anomaly_type(a, detected);
    let summary = a.annotations.get("summary").cloned();
    let title = truncate(
        &summary
            .clone()
            .unwrap_or_else(|| format!("{} on {service}", a.alertname)),
        300,
    );
    let description = a
        .annotations
        .get("description")
        .cloned()
        .unwrap_or_default();
    let runbook = store
        .relevant_runbooks(&SimilarQuery {
            description: format!("{} {title} {description}", words(&a.alertname)),
            service: managed.then(|| service.to_string()),
            anomaly_type: Some(anomaly_type),
            limit: 1,
            aliases: app.service_aliases().await,
            ..SimilarQuery::default()
        })
        .await
        .ok()
        .and_then(|h| h.hits.into_iter().next())
        .map(|h| AlertRunbook {
            id: h.item.id,
            title: h.item.title,
            action: h.item.action,
            score: h.score,
        });
    Incident {
        id: incident_id(a),
        timestamp: a.starts_at,
        service: service.to_string(),
        region: app.region_of(service).await,
        anomaly_type,
        title,
        description: truncate(&description, 4000),
        root_cause: "not yet known: opened by an Alertmanager alert".into(),
        actions_taken: "none yet".into(),
        resolved_at: None,
        mttr_seconds: None,
        status: "open".into(),
        source: Some("alertmanager".into()),
        alert: Some(Box::new(AlertInfo {
            fingerprint: a.fingerprint.clone(),
            alertname: a.alertname.clone(),
            starts_at: a.starts_at,
            ends_at: None,
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            generator_url: a.generator_url.clone(),
            managed,
            type_from: type_from.into(),
            evidence,
            runbook,
            queued: None,
            received_at: Utc::now(),
        })),
        verified: None,
        runbook_id: None,
    }
}

/// Queues the runbook's action through the road (guard and approval policy apply); says
/// the exec_id, or why nothing was queued.
async fn queue(
    app: &App,
    caller: &Caller,
    inc: &Incident,
    managed: bool,
    runbook: Option<&AlertRunbook>,
) -> String {
    if !managed {
        return format!("nothing queued: {} is not managed", inc.service);
    }
    let Some(rb) = runbook else {
        return "nothing queued: no runbook matched".into();
    };
    let m = match Enqueue::new(rb.action, Some(inc.id.clone()), None, None) {
        Ok(m) => m,
        Err(e) => return format!("nothing queued: {} ({})", e.message, rb.id),
    };
    let echo = json!({"service": inc.service, "action": rb.action, "incident_id": inc.id, "runbook": rb.id});
    let req = Request::new("remediate", &echo, Some(&inc.service), false, None);
    match app.road().run(caller, req, &m, Client::none()).await {
        Ok(o) => o
            .result
            .map(|e| e.exec_id)
            .unwrap_or_else(|| "nothing queued".into()),
        Err(e) => format!("nothing queued: {}: {}", e.code.as_str(), e.message),
    }
}

/// Writes the incident on the road; `first` inserts only if absent. Returns whether it
/// was written.
async fn write(
    app: &App,
    caller: &Caller,
    a: &Alert,
    inc: Incident,
    first: bool,
) -> ToolResult<bool> {
    let echo = json!({
        "alertname": a.alertname, "fingerprint": a.fingerprint, "service": inc.service,
        "status": if a.firing { "firing" } else { "resolved" }, "incident_id": inc.id,
    });
    let req = Request::new("receive_alert", &echo, None, false, None);
    let out = app
        .road()
        .run(
            caller,
            req,
            &AlertWrite {
                incident: inc,
                first,
            },
            Client::none(),
        )
        .await?;
    Ok(out.result.unwrap_or(false))
}

/// Writes one alert's incident (no container is touched).
struct AlertWrite {
    incident: Incident,
    first: bool,
}

#[async_trait]
impl Mutation for AlertWrite {
    type Output = bool;

    async fn targets(&self, _cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        Ok(Vec::new())
    }

    async fn plan(&self, _cx: &PlanCx<'_>) -> ToolResult<Planned> {
        Ok(Planned {
            operations: vec![format!("write incident {}", self.incident.id)],
            ..Planned::default()
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<bool> {
        if self.first {
            Ok(cx.store.insert_incident_if_absent(&self.incident).await?)
        } else {
            cx.store.put_incident(&self.incident).await?;
            Ok(true)
        }
    }

    fn summary(&self, written: &bool) -> String {
        let verb = if *written { "wrote" } else { "found" };
        format!(
            "{verb} incident {} ({})",
            self.incident.id, self.incident.status
        )
    }

    fn subject(&self, _service: Option<&str>, _targets: &[ContainerDetail]) -> String {
        self.incident.service.clone()
    }
}
