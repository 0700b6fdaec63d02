//! What kind of failure an alert reports, and its name as words for full-text matching.

use quantumstate_store::AnomalyType;

use super::Alert;

/// The failure type: the rule's own `anomaly_type` label, else the alert's name, else
/// what detection found, else `error_spike_sudden` (and `type_from` says which).
pub(super) fn anomaly_type(
    a: &Alert,
    detected: Option<AnomalyType>,
) -> (AnomalyType, &'static str) {
    if let Some(t) = a
        .labels
        .get("anomaly_type")
        .and_then(|s| AnomalyType::parse(s))
    {
        return (t, "label");
    }
    let name = a.alertname.to_ascii_lowercase();
    let by_name = [
        (
            ["memory", "oom", "heap"],
            AnomalyType::MemoryLeakProgressive,
        ),
        (["cpu", "throttl", "saturat"], AnomalyType::CpuSaturation),
        (
            ["latency", "slow", "duration"],
            AnomalyType::LatencyDegradation,
        ),
        (
            ["deploy", "regression", "rollout"],
            AnomalyType::DeploymentRegression,
        ),
        (["down", "unreachable", "absent"], AnomalyType::ServiceDown),
        (["error", "5xx", "fail"], AnomalyType::ErrorSpikeSudden),
    ];
    if let Some((_, t)) = by_name
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| name.contains(k)))
    {
        return (*t, "alertname");
    }
    match detected {
        Some(t) => (t, "detection"),
        None => (AnomalyType::ErrorSpikeSudden, "default"),
    }
}

/// `HighMemoryUsage` → `High Memory Usage` (for full-text matching).
pub(super) fn words(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 8);
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            s.push(' ');
        }
        s.push(if c == '_' { ' ' } else { c });
    }
    s
}
