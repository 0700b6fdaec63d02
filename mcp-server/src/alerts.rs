//! Alertmanager's webhook (payload version 4) as QuantumState takes it: the whole payload
//! is checked before anything is written (a malformed one is refused with the reason),
//! then each alert opens, updates or resolves one incident (`intake`), and with
//! `--on-alert queue` a matching runbook's action is queued on the mutation road.

mod classify;
pub mod intake;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ToolError, ToolResult};
use crate::text::truncate;

/// The most alerts one notification may carry (Alertmanager's `max_alerts` is lower in
/// any sane config; a larger payload is refused, not cut).
pub const MAX_ALERTS: usize = 500;
/// The most labels or annotations one alert may carry.
const MAX_PAIRS: usize = 64;
/// The longest label or annotation value kept.
const MAX_VALUE: usize = 2000;

/// Labels that may name the service, first match wins.
pub const SERVICE_LABELS: [&str; 5] = ["service", "app", "container", "container_name", "job"];

/// What the server does when an alert opens an incident.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnAlert {
    /// Record the incident with its evidence and runbook; act on nothing.
    #[default]
    Record,
    /// Also queue the runbook's action for the runner, through the road.
    Queue,
}

impl OnAlert {
    pub fn parse(s: &str) -> ToolResult<OnAlert> {
        match s.trim() {
            "" | "record" => Ok(OnAlert::Record),
            "queue" => Ok(OnAlert::Queue),
            other => Err(ToolError::invalid(format!(
                "--on-alert must be record or queue, not {:?}",
                truncate(other, 40)
            ))),
        }
    }
}

/// The webhook's settings (`--alert-token`, `--on-alert`).
#[derive(Debug, Clone, Default)]
pub struct AlertsConfig {
    /// The bearer secret Alertmanager sends; without one the webhook is off.
    pub token: Option<String>,
    pub on_alert: OnAlert,
}

impl AlertsConfig {
    /// From `--alert-token` and `--on-alert`.
    pub fn from_opts(h: &crate::config::HttpOpts) -> ToolResult<AlertsConfig> {
        Ok(AlertsConfig {
            token: h.alert_token.clone().filter(|t| !t.trim().is_empty()),
            on_alert: OnAlert::parse(&h.on_alert)?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    version: String,
    #[serde(default)]
    status: Option<String>,
    alerts: Vec<RawAlert>,
    // The rest (receiver, groupKey, groupLabels, commonLabels, externalURL ...) is
    // Alertmanager's and not needed per alert.
    #[serde(flatten)]
    _rest: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    status: String,
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: String,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
    fingerprint: String,
}

/// One alert of a notification, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub firing: bool,
    pub fingerprint: String,
    pub alertname: String,
    /// The service named by the first of `SERVICE_LABELS` present, if any.
    pub service: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    /// Set on resolved alerts (Alertmanager sends the zero time while firing).
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: Option<String>,
}

/// Checks a whole notification; the first problem found is the error, naming the alert.
pub fn parse(body: &[u8]) -> ToolResult<Vec<Alert>> {
    let p: Payload = serde_json::from_slice(body).map_err(|e| {
        ToolError::invalid(format!(
            "the body is not an Alertmanager webhook payload: {}",
            truncate(&e.to_string(), 300)
        ))
        .hint("point Alertmanager's webhook_configs url at /api/alerts (payload version 4)")
    })?;
    if p.version != "4" {
        return Err(ToolError::invalid(format!(
            "payload version {:?} is not supported; Alertmanager sends version 4",
            truncate(&p.version, 20)
        )));
    }
    if let Some(s) = p.status.as_deref()
        && !matches!(s, "firing" | "resolved")
    {
        return Err(ToolError::invalid(format!(
            "status {:?} must be firing or resolved",
            truncate(s, 20)
        )));
    }
    if p.alerts.is_empty() {
        return Err(ToolError::invalid("the payload holds no alerts"));
    }
    if p.alerts.len() > MAX_ALERTS {
        return Err(ToolError::invalid(format!(
            "the payload holds {} alerts; at most {MAX_ALERTS} are taken at once",
            p.alerts.len()
        ))
        .hint("set max_alerts in Alertmanager's webhook_configs"));
    }
    p.alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| check(a).map_err(|e| e.prefixed(&format!("alerts[{i}]: "))))
        .collect()
}

fn check(a: RawAlert) -> ToolResult<Alert> {
    let firing = match a.status.as_str() {
        "firing" => true,
        "resolved" => false,
        other => {
            return Err(ToolError::invalid(format!(
                "status {:?} must be firing or resolved",
                truncate(other, 20)
            )));
        }
    };
    let fingerprint = a.fingerprint.trim();
    if fingerprint.is_empty()
        || fingerprint.len() > 64
        || !fingerprint.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ToolError::invalid(format!(
            "fingerprint {:?} is not Alertmanager's (1 to 64 letters and digits)",
            truncate(fingerprint, 70)
        )));
    }
    for (what, map) in [("labels", &a.labels), ("annotations", &a.annotations)] {
        if map.len() > MAX_PAIRS {
            return Err(ToolError::invalid(format!(
                "{} {what}; at most {MAX_PAIRS} are taken",
                map.len()
            )));
        }
    }
    let alertname = a
        .labels
        .get("alertname")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ToolError::invalid("the alert has no alertname label"))?
        .to_string();
    let starts_at = time(&a.starts_at, "startsAt")?
        .ok_or_else(|| ToolError::invalid("startsAt is the zero time"))?;
    let ends_at = match a.ends_at.as_deref() {
        Some(s) if !firing => time(s, "endsAt")?,
        _ => None,
    };
    if let Some(e) = ends_at
        && e < starts_at
    {
        return Err(ToolError::invalid("endsAt is before startsAt"));
    }
    let service = SERVICE_LABELS
        .iter()
        .find_map(|k| a.labels.get(*k))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let bound = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter()
            .map(|(k, v)| (truncate(&k, 200), truncate(&v, MAX_VALUE)))
            .collect()
    };
    Ok(Alert {
        firing,
        fingerprint: fingerprint.to_ascii_lowercase(),
        alertname: truncate(&alertname, 200),
        service: service.map(|s| truncate(&s, 200)),
        labels: bound(a.labels),
        annotations: bound(a.annotations),
        starts_at,
        ends_at,
        generator_url: a.generator_url.map(|u| truncate(&u, 1000)),
    })
}

/// An RFC 3339 time; the Go zero time (`0001-01-01T00:00:00Z`) is None.
fn time(s: &str, field: &str) -> ToolResult<Option<DateTime<Utc>>> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| {
            ToolError::invalid(format!(
                "{field} {:?} is not an RFC 3339 time: {e}",
                truncate(s, 40)
            ))
        })?
        .with_timezone(&Utc);
    Ok((t.timestamp() > 0).then_some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(alerts: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": "4", "status": "firing", "receiver": "qs", "groupKey": "{}:{}",
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "alerts": alerts
        }))
        .unwrap_or_default()
    }

    fn alert() -> Value {
        serde_json::json!({
            "status": "firing",
            "labels": {"alertname": "MemoryHigh", "service": "payment-service", "severity": "page"},
            "annotations": {"summary": "memory above 80 %"},
            "startsAt": "2026-12-04T06:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom:9090/graph", "fingerprint": "A1b2c3d4e5f60718"
        })
    }

    #[test]
    fn a_real_alertmanager_payload_is_taken() {
        let a = parse(&payload(serde_json::json!([alert()]))).expect("parses");
        assert_eq!(a.len(), 1);
        assert!(a[0].firing);
        assert_eq!(a[0].service.as_deref(), Some("payment-service"));
        assert_eq!(a[0].fingerprint, "a1b2c3d4e5f60718");
        assert_eq!(a[0].ends_at, None, "the zero time while firing is no end");
    }

    #[test]
    fn every_malformed_payload_names_its_problem() {
        let mut no_name = alert();
        no_name["labels"] = serde_json::json!({"service": "x"});
        let mut bad_time = alert();
        bad_time["startsAt"] = "yesterday".into();
        let mut bad_status = alert();
        bad_status["status"] = "pending".into();
        let mut bad_print = alert();
        bad_print["fingerprint"] = "../../etc".into();
        let mut backwards = alert();
        backwards["status"] = "resolved".into();
        backwards["endsAt"] = "2026-12-04T05:00:00Z".into();
        for (body, words) in [
            (b"not json".to_vec(), "not an Alertmanager webhook payload"),
            (payload(serde_json::json!([])), "no alerts"),
            (
                payload(serde_json::json!([alert(), no_name])),
                "alerts[1]: the alert has no alertname",
            ),
            (
                payload(serde_json::json!([bad_time])),
                "startsAt \"yesterday\"",
            ),
            (
                payload(serde_json::json!([bad_status])),
                "must be firing or resolved",
            ),
            (payload(serde_json::json!([bad_print])), "fingerprint"),
            (
                payload(serde_json::json!([backwards])),
                "endsAt is before startsAt",
            ),
            (
                br#"{"version":"3","alerts":[]}"#.to_vec(),
                "version \"3\" is not supported",
            ),
        ] {
            let e = parse(&body).expect_err("refused");
            assert!(e.message.contains(words), "{words}: {}", e.message);
        }
    }
}
