//! Anomaly maths: pure functions from a service's recent samples (and deployments and
//! error-log counts) to anomalies in SPEC's vocabulary, with the evidence behind each.
//!
//! No I/O here: tools gather the data, these functions judge it, tests feed recorded series.

use chrono::{DateTime, Duration, Utc};
use quantumstate_store::{AnomalyType, Deployment, LogCount, Point};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Seed 001's alarm levels.
pub const MEMORY_ALARM: f64 = 80.0;
pub const CPU_ALARM: f64 = 85.0;
pub const ERRORS_ALARM: f64 = 10.0;
pub const LATENCY_ALARM_MS: f64 = 1000.0;
/// "Critical approaching 90 %": what time-to-critical counts down to.
pub const MEMORY_CRITICAL: f64 = 90.0;
/// Upper ends of seed 001's healthy ranges: a deviation must also leave the healthy range.
pub const MEMORY_HEALTHY_MAX: f64 = 65.0;
pub const CPU_HEALTHY_MAX: f64 = 50.0;
pub const ERRORS_HEALTHY_MAX: f64 = 2.5;
pub const LATENCY_HEALTHY_MAX_MS: f64 = 400.0;

/// Recovery bars (SPEC "Analysis rules", verify_recovery).
pub const RECOVERY_MEMORY: f64 = 65.0;
pub const RECOVERY_ERRORS: f64 = 2.5;
pub const RECOVERY_LATENCY_MS: f64 = 400.0;

/// The baseline is the median of the 30 minutes before the last 2, from ≥ 10 samples.
pub const BASELINE_SPAN: Duration = Duration::minutes(30);
pub const RECENT_SPAN: Duration = Duration::minutes(2);
pub const BASELINE_MIN_SAMPLES: usize = 10;
/// How long before an error or latency jump a deployment still explains it.
pub const DEPLOY_LOOKBACK: Duration = Duration::minutes(30);

/// One service's data for one assessment.
#[derive(Debug, Clone, Default)]
pub struct ServiceData {
    pub service: String,
    pub now: Option<DateTime<Utc>>,
    /// Samples of the last 32 minutes, oldest first.
    pub memory: Vec<Point>,
    pub cpu: Vec<Point>,
    pub errors: Vec<Point>,
    pub latency: Vec<Point>,
    pub up: Vec<Point>,
    /// Deployments of this service in the last hour or so.
    pub deployments: Vec<Deployment>,
    /// ERROR and CRITICAL log counts of the last few minutes.
    pub error_logs: Vec<LogCount>,
    /// True when any of the samples came from `seed --scenario`.
    pub scenario: bool,
    /// Expected seconds between samples; None to infer from the data.
    pub interval_secs: Option<f64>,
}

/// What an assessment concludes about a service as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Healthy,
    Anomalous,
    /// No data, or none fresh: never reported healthy.
    Unknown,
}

/// How bad an anomaly is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Past the service's own baseline, below the alarm level.
    Warning,
    /// Past seed 001's alarm level, or down.
    Critical,
}

/// An error code seen in the service's logs, with its count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeCount {
    pub error_code: String,
    pub count: u64,
    pub last_message: String,
}

/// A deployment that may explain a jump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeployEvidence {
    pub from_version: Option<String>,
    pub to_version: String,
    pub at: DateTime<Utc>,
    /// Minutes between the deployment and the first abnormal sample.
    pub minutes_before_jump: f64,
    pub by: String,
}

/// The numbers behind an anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The metric that tripped (`memory_percent`, `error_rate`...).
    pub metric: String,
    pub current: f64,
    /// Median of the 30 minutes before the last 2, when there were ≥ 10 samples.
    pub baseline: Option<f64>,
    /// The alarm level for this metric.
    pub alarm_threshold: f64,
    /// When the metric first left its normal range in this episode.
    pub since: Option<DateTime<Utc>>,
    /// Least-squares slope over the episode, metric units per minute.
    pub slope_per_min: Option<f64>,
    /// Memory only: minutes until 90 % at the current slope.
    pub minutes_to_critical: Option<f64>,
    /// Samples the judgement rests on.
    pub samples: usize,
    pub error_codes: Vec<CodeCount>,
    pub deployment: Option<DeployEvidence>,
}

/// One anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Anomaly {
    pub service: String,
    pub anomaly_type: AnomalyType,
    pub severity: Severity,
    /// 0–100.
    pub confidence: u8,
    /// One sentence for a human.
    pub summary: String,
    pub evidence: Evidence,
    /// `measured`, or `scenario` when the data came from `seed --scenario`.
    pub source: String,
}

/// The verdict on one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub status: ServiceStatus,
    pub last_sample_at: Option<DateTime<Utc>>,
    /// Why the status is unknown, when it is.
    pub reason: Option<String>,
    pub anomalies: Vec<Anomaly>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Median of the values; None when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

/// Least-squares slope of the points in units per minute; None for < 2 points or no spread.
pub fn slope_per_min(points: &[Point]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let t0 = points[0].t;
    let xs: Vec<f64> = points
        .iter()
        .map(|p| (p.t - t0).num_milliseconds() as f64 / 60_000.0)
        .collect();
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|p| p.v).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, p) in xs.iter().zip(points) {
        sxy += (x - mx) * (p.v - my);
        sxx += (x - mx) * (x - mx);
    }
    if sxx < 1e-12 {
        return None;
    }
    Some(sxy / sxx)
}

/// Minutes until `critical` at `slope` per minute from `current`; None when not rising.
pub fn minutes_to(current: f64, critical: f64, slope: Option<f64>) -> Option<f64> {
    match slope {
        Some(s) if s > 1e-6 && current < critical => Some(round2((critical - current) / s)),
        Some(_) if current >= critical => Some(0.0),
        _ => None,
    }
}

/// The median of the baseline span (30 minutes ending 2 minutes ago), with ≥ 10 samples.
pub fn baseline(points: &[Point], now: DateTime<Utc>) -> Option<f64> {
    let end = now - RECENT_SPAN;
    let start = end - BASELINE_SPAN;
    let vals: Vec<f64> = points
        .iter()
        .filter(|p| p.t >= start && p.t < end)
        .map(|p| p.v)
        .collect();
    if vals.len() < BASELINE_MIN_SAMPLES {
        return None;
    }
    median(&vals)
}

/// Median spacing of the last samples in seconds.
pub fn infer_interval(points: &[Point]) -> Option<f64> {
    let tail = &points[points.len().saturating_sub(11)..];
    let gaps: Vec<f64> = tail
        .windows(2)
        .map(|w| (w[1].t - w[0].t).num_milliseconds() as f64 / 1000.0)
        .filter(|g| *g > 0.0)
        .collect();
    median(&gaps)
}

/// A rule for one metric: when is a value abnormal, given the baseline.
struct Rule {
    metric: &'static str,
    alarm: f64,
    healthy_max: f64,
    /// Abnormal when above baseline by this factor plus this margin (and past healthy_max).
    factor: f64,
    margin: f64,
}

impl Rule {
    fn abnormal(&self, v: f64, base: Option<f64>) -> Option<Severity> {
        if v > self.alarm {
            return Some(Severity::Critical);
        }
        match base {
            Some(b) if v > self.healthy_max && v > b * self.factor + self.margin => {
                Some(Severity::Warning)
            }
            _ => None,
        }
    }
}

const MEMORY_RULE: Rule = Rule {
    metric: "memory_percent",
    alarm: MEMORY_ALARM,
    healthy_max: 0.0,
    factor: 1.0,
    margin: 15.0,
};
const CPU_RULE: Rule = Rule {
    metric: "cpu_percent",
    alarm: CPU_ALARM,
    healthy_max: CPU_HEALTHY_MAX,
    factor: 1.0,
    margin: 30.0,
};
const ERROR_RULE: Rule = Rule {
    metric: "error_rate",
    alarm: ERRORS_ALARM,
    healthy_max: ERRORS_HEALTHY_MAX,
    factor: 3.0,
    margin: 1.0,
};
const LATENCY_RULE: Rule = Rule {
    metric: "request_latency_ms",
    alarm: LATENCY_ALARM_MS,
    healthy_max: LATENCY_HEALTHY_MAX_MS,
    factor: 2.0,
    margin: 0.0,
};

/// An episode: the current run of abnormal samples ending at the newest one.
struct Episode<'a> {
    severity: Severity,
    points: &'a [Point],
    current: f64,
    baseline: Option<f64>,
}

fn episode<'a>(rule: &Rule, points: &'a [Point], now: DateTime<Utc>) -> Option<Episode<'a>> {
    let last = points.last()?;
    let base = baseline(points, now);
    let severity = rule.abnormal(last.v, base)?;
    // Walk back while samples stay abnormal (at any severity).
    let mut start = points.len() - 1;
    while start > 0 && rule.abnormal(points[start - 1].v, base).is_some() {
        start -= 1;
    }
    Some(Episode {
        severity,
        points: &points[start..],
        current: last.v,
        baseline: base,
    })
}

/// Confidence from how far past the line a value is and how many samples agree.
fn confidence(current: f64, line: f64, samples: usize, severity: Severity) -> u8 {
    let excess = if line > 0.0 {
        ((current - line) / line).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let support = (samples.min(10) as f64) / 10.0;
    let base = match severity {
        Severity::Critical => 70.0,
        Severity::Warning => 50.0,
    };
    (base + 20.0 * excess + 9.0 * support)
        .round()
        .clamp(0.0, 99.0) as u8
}

fn codes(logs: &[LogCount]) -> Vec<CodeCount> {
    let mut out: Vec<CodeCount> = Vec::new();
    for l in logs {
        let Some(code) = &l.error_code else { continue };
        match out.iter_mut().find(|c| &c.error_code == code) {
            Some(c) => c.count += l.count,
            None => out.push(CodeCount {
                error_code: code.clone(),
                count: l.count,
                last_message: l.last_message.clone(),
            }),
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.error_code.cmp(&b.error_code)));
    out.truncate(5);
    out
}

fn deploy_before(deps: &[Deployment], jump: DateTime<Utc>) -> Option<DeployEvidence> {
    deps.iter()
        .filter(|d| d.at <= jump && jump - d.at <= DEPLOY_LOOKBACK)
        .max_by_key(|d| d.at)
        .map(|d| DeployEvidence {
            from_version: d.from_version.clone(),
            to_version: d.to_version.clone(),
            at: d.at,
            minutes_before_jump: round2((jump - d.at).num_milliseconds() as f64 / 60_000.0),
            by: d.by.clone(),
        })
}

fn evidence(rule: &Rule, ep: &Episode<'_>, slope: Option<f64>) -> Evidence {
    Evidence {
        metric: rule.metric.to_string(),
        current: round2(ep.current),
        baseline: ep.baseline.map(round2),
        alarm_threshold: rule.alarm,
        since: ep.points.first().map(|p| p.t),
        slope_per_min: slope.map(round2),
        minutes_to_critical: None,
        samples: ep.points.len(),
        error_codes: Vec::new(),
        deployment: None,
    }
}

/// Judges one service. `now` defaults to the newest sample's time.
pub fn assess(d: &ServiceData) -> Assessment {
    let last_sample_at = [&d.memory, &d.cpu, &d.errors, &d.latency, &d.up]
        .iter()
        .filter_map(|s| s.last().map(|p| p.t))
        .max();
    let Some(last) = last_sample_at else {
        return Assessment {
            status: ServiceStatus::Unknown,
            last_sample_at: None,
            reason: Some("no samples in the last 32 minutes: is the scraper running?".into()),
            anomalies: Vec::new(),
        };
    };
    let now = d.now.unwrap_or(last);
    let interval = d
        .interval_secs
        .or_else(|| infer_interval(&d.up))
        .or_else(|| infer_interval(&d.memory))
        .unwrap_or(5.0)
        .max(1.0);
    let age = (now - last).num_milliseconds() as f64 / 1000.0;
    if age > 3.0 * interval {
        return Assessment {
            status: ServiceStatus::Unknown,
            last_sample_at: Some(last),
            reason: Some(format!(
                "newest sample is {age:.0} s old (more than 3 scrape intervals of {interval:.0} s): data is stale"
            )),
            anomalies: Vec::new(),
        };
    }
    let source = if d.scenario { "scenario" } else { "measured" }.to_string();
    let mut out = Vec::new();

    // Down: the newest probe failed.
    if let Some(p) = d.up.last().filter(|p| p.v < 0.5) {
        let since =
            d.up.iter()
                .rev()
                .take_while(|q| q.v < 0.5)
                .last()
                .map(|q| q.t)
                .unwrap_or(p.t);
        let samples = d.up.iter().rev().take_while(|q| q.v < 0.5).count();
        out.push(Anomaly {
            service: d.service.clone(),
            anomaly_type: AnomalyType::ServiceDown,
            severity: Severity::Critical,
            confidence: (80 + 4 * samples.min(4)) as u8,
            summary: format!(
                "{} is not answering its health probe ({} failed probes in a row)",
                d.service, samples
            ),
            evidence: Evidence {
                metric: "up".into(),
                current: 0.0,
                baseline: None,
                alarm_threshold: 1.0,
                since: Some(since),
                slope_per_min: None,
                minutes_to_critical: None,
                samples,
                error_codes: codes(&d.error_logs),
                deployment: None,
            },
            source: source.clone(),
        });
        // Its /health figures are frozen at the last answer; judging them would mislead.
        return Assessment {
            status: ServiceStatus::Anomalous,
            last_sample_at: Some(last),
            reason: None,
            anomalies: out,
        };
    }

    if let Some(ep) = episode(&MEMORY_RULE, &d.memory, now) {
        let recent: Vec<Point> = d
            .memory
            .iter()
            .filter(|p| p.t >= now - RECENT_SPAN)
            .copied()
            .collect();
        let slope = slope_per_min(if ep.points.len() >= 3 {
            ep.points
        } else {
            &recent
        });
        let mut ev = evidence(&MEMORY_RULE, &ep, slope);
        ev.minutes_to_critical = minutes_to(ep.current, MEMORY_CRITICAL, slope);
        let rising = slope.is_some_and(|s| s > 0.05);
        let line = if ep.severity == Severity::Critical {
            MEMORY_ALARM
        } else {
            ep.baseline.unwrap_or(0.0) + 15.0
        };
        let mut conf = confidence(ep.current, line, ep.points.len(), ep.severity);
        if !rising {
            conf = conf.saturating_sub(20);
        }
        let ttc = ev
            .minutes_to_critical
            .map(|m| format!(", about {m:.1} min to {MEMORY_CRITICAL:.0} %"))
            .unwrap_or_default();
        let base = ev
            .baseline
            .map(|b| format!(" (baseline {b:.1} %)"))
            .unwrap_or_default();
        let trend = match slope {
            Some(s) => format!(", {s:+.2} %/min"),
            None => String::new(),
        };
        out.push(Anomaly {
            service: d.service.clone(),
            anomaly_type: AnomalyType::MemoryLeakProgressive,
            severity: ep.severity,
            confidence: conf,
            summary: format!(
                "{} memory at {:.1} %{base}{trend}{ttc}",
                d.service, ep.current
            ),
            evidence: ev,
            source: source.clone(),
        });
    }

    if let Some(ep) = episode(&ERROR_RULE, &d.errors, now) {
        let slope = slope_per_min(ep.points);
        let mut ev = evidence(&ERROR_RULE, &ep, slope);
        ev.error_codes = codes(&d.error_logs);
        let jump = ev.since.unwrap_or(now);
        ev.deployment = deploy_before(&d.deployments, jump);
        let kind = if ev.deployment.is_some() {
            AnomalyType::DeploymentRegression
        } else {
            AnomalyType::ErrorSpikeSudden
        };
        let line = if ep.severity == Severity::Critical {
            ERRORS_ALARM
        } else {
            ERRORS_HEALTHY_MAX
        };
        let mut conf = confidence(ep.current, line, ep.points.len(), ep.severity);
        if !ev.error_codes.is_empty() {
            conf = conf.saturating_add(5).min(99);
        }
        let top = ev
            .error_codes
            .first()
            .map(|c| format!(", mostly {} ({})", c.error_code, c.count))
            .unwrap_or_default();
        let dep = ev
            .deployment
            .as_ref()
            .map(|x| {
                format!(
                    ", {:.0} min after deploying {}",
                    x.minutes_before_jump, x.to_version
                )
            })
            .unwrap_or_default();
        out.push(Anomaly {
            service: d.service.clone(),
            anomaly_type: kind,
            severity: ep.severity,
            confidence: conf,
            summary: format!("{} errors at {:.1}/min{top}{dep}", d.service, ep.current),
            evidence: ev,
            source: source.clone(),
        });
    }

    if let Some(ep) = episode(&LATENCY_RULE, &d.latency, now) {
        let slope = slope_per_min(ep.points);
        let mut ev = evidence(&LATENCY_RULE, &ep, slope);
        let jump = ev.since.unwrap_or(now);
        ev.deployment = deploy_before(&d.deployments, jump);
        ev.error_codes = codes(&d.error_logs);
        // A deployment regression already reported through errors is not reported twice.
        let already = out
            .iter()
            .any(|a| a.anomaly_type == AnomalyType::DeploymentRegression);
        let kind = if ev.deployment.is_some() && !already {
            AnomalyType::DeploymentRegression
        } else {
            AnomalyType::LatencyDegradation
        };
        let line = if ep.severity == Severity::Critical {
            LATENCY_ALARM_MS
        } else {
            LATENCY_HEALTHY_MAX_MS
        };
        out.push(Anomaly {
            service: d.service.clone(),
            anomaly_type: kind,
            severity: ep.severity,
            confidence: confidence(ep.current, line, ep.points.len(), ep.severity),
            summary: format!("{} p95 latency at {:.0} ms", d.service, ep.current),
            evidence: ev,
            source: source.clone(),
        });
    }

    if let Some(ep) = episode(&CPU_RULE, &d.cpu, now) {
        let slope = slope_per_min(ep.points);
        let line = if ep.severity == Severity::Critical {
            CPU_ALARM
        } else {
            CPU_HEALTHY_MAX
        };
        out.push(Anomaly {
            service: d.service.clone(),
            anomaly_type: AnomalyType::CpuSaturation,
            severity: ep.severity,
            confidence: confidence(ep.current, line, ep.points.len(), ep.severity),
            summary: format!("{} CPU at {:.0} % of a core", d.service, ep.current),
            evidence: evidence(&CPU_RULE, &ep, slope),
            source: source.clone(),
        });
    }

    let status = if out.is_empty() {
        ServiceStatus::Healthy
    } else {
        ServiceStatus::Anomalous
    };
    Assessment {
        status,
        last_sample_at: Some(last),
        reason: None,
        anomalies: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap() + Duration::seconds(s)
    }

    /// `n` samples every `step` seconds ending at `end`, valued by `f(i)`.
    fn series(end: i64, step: i64, n: i64, f: impl Fn(i64) -> f64) -> Vec<Point> {
        (0..n)
            .map(|i| Point {
                t: t(end - (n - 1 - i) * step),
                v: f(i),
            })
            .collect()
    }

    fn healthy(end: i64) -> ServiceData {
        ServiceData {
            service: "payment-service".into(),
            now: Some(t(end)),
            memory: series(end, 5, 400, |i| 3.0 + (i % 3) as f64 * 0.1),
            cpu: series(end, 5, 400, |i| 1.0 + (i % 2) as f64),
            errors: series(end, 5, 400, |_| 0.0),
            latency: series(end, 5, 400, |i| 2.0 + (i % 4) as f64),
            up: series(end, 5, 400, |_| 1.0),
            interval_secs: Some(5.0),
            ..Default::default()
        }
    }

    #[test]
    fn an_idle_fleet_is_healthy() {
        let a = assess(&healthy(2000));
        assert_eq!(a.status, ServiceStatus::Healthy, "{:?}", a.anomalies);
        // Idle (far below seed 001's healthy ranges) is not an anomaly.
        let mut idle = healthy(2000);
        idle.cpu = series(2000, 5, 400, |_| 0.0);
        assert_eq!(assess(&idle).status, ServiceStatus::Healthy);
    }

    #[test]
    fn no_or_stale_data_is_unknown_never_healthy() {
        let a = assess(&ServiceData {
            service: "x".into(),
            ..Default::default()
        });
        assert_eq!(a.status, ServiceStatus::Unknown);
        let mut d = healthy(2000);
        d.now = Some(t(2000 + 16));
        let a = assess(&d);
        assert_eq!(a.status, ServiceStatus::Unknown);
        assert!(a.reason.unwrap().contains("stale"));
    }

    #[test]
    fn a_real_leak_is_progressive_with_time_to_critical() {
        // Seed 001's scenario: 55 % → 89 % over 25 minutes after a flat baseline.
        let mut d = healthy(3000);
        d.memory = series(3000, 15, 240, |i| {
            if i < 140 {
                52.0
            } else {
                55.0 + 34.0 * (i - 140) as f64 / 100.0
            }
        });
        d.memory.truncate(239);
        let a = assess(&ServiceData {
            now: Some(d.memory.last().unwrap().t),
            ..d
        });
        assert_eq!(a.status, ServiceStatus::Anomalous);
        let m = &a.anomalies[0];
        assert_eq!(m.anomaly_type, AnomalyType::MemoryLeakProgressive);
        assert_eq!(m.severity, Severity::Critical);
        let s = m.evidence.slope_per_min.unwrap();
        assert!((s - 1.36).abs() < 0.1, "slope {s}");
        let ttc = m.evidence.minutes_to_critical.unwrap();
        assert!(ttc > 0.0 && ttc < 2.0, "{ttc}");
        assert!(m.confidence >= 80);
    }

    #[test]
    fn a_fast_leak_without_baseline_trips_the_alarm() {
        // A fresh scraper (no baseline), RSS climbing 4 %/s.
        let mut d = healthy(100);
        d.memory = series(100, 1, 22, |i| 3.0 + 4.0 * i as f64);
        d.interval_secs = Some(1.0);
        d.up = series(100, 1, 22, |_| 1.0);
        let a = assess(&d);
        assert_eq!(a.anomalies.len(), 1, "{:?}", a.anomalies);
        assert_eq!(
            a.anomalies[0].anomaly_type,
            AnomalyType::MemoryLeakProgressive
        );
        assert!(a.anomalies[0].evidence.minutes_to_critical.unwrap() < 1.0);
    }

    #[test]
    fn error_spike_names_the_codes_and_a_deploy_makes_it_a_regression() {
        let mut d = healthy(2000);
        d.errors = series(2000, 5, 400, |i| if i >= 390 { 28.0 } else { 0.3 });
        d.error_logs = vec![LogCount {
            service: "auth-service".into(),
            level: quantumstate_store::Level::Critical,
            error_code: Some("CACHE_OFFLINE".into()),
            count: 40,
            last_at: t(2000),
            last_message: "session cache OFFLINE".into(),
        }];
        let a = assess(&d);
        let e = &a.anomalies[0];
        assert_eq!(e.anomaly_type, AnomalyType::ErrorSpikeSudden);
        assert_eq!(e.evidence.error_codes[0].error_code, "CACHE_OFFLINE");
        assert_eq!(e.evidence.baseline, Some(0.3));

        d.deployments = vec![Deployment {
            id: "d".into(),
            service: "payment-service".into(),
            from_version: Some("1.0.0".into()),
            to_version: "3.5.0".into(),
            image: "i".into(),
            at: t(2000 - 10 * 5 - 120),
            by: "stdio".into(),
            reason: "r".into(),
        }];
        let a = assess(&d);
        assert_eq!(
            a.anomalies[0].anomaly_type,
            AnomalyType::DeploymentRegression
        );
        assert!(
            a.anomalies[0]
                .evidence
                .deployment
                .as_ref()
                .unwrap()
                .minutes_before_jump
                > 1.9
        );
    }

    #[test]
    fn down_is_down() {
        let mut d = healthy(2000);
        d.up = series(2000, 5, 400, |i| if i >= 397 { 0.0 } else { 1.0 });
        let a = assess(&d);
        assert_eq!(a.anomalies.len(), 1);
        assert_eq!(a.anomalies[0].anomaly_type, AnomalyType::ServiceDown);
        assert_eq!(a.anomalies[0].evidence.samples, 3);
    }

    #[test]
    fn latency_and_cpu() {
        let mut d = healthy(2000);
        d.latency = series(2000, 5, 400, |i| if i >= 395 { 520.0 } else { 3.0 });
        d.cpu = series(2000, 5, 400, |i| if i >= 395 { 99.0 } else { 2.0 });
        let a = assess(&d);
        let kinds: Vec<_> = a.anomalies.iter().map(|a| a.anomaly_type).collect();
        assert_eq!(
            kinds,
            vec![AnomalyType::LatencyDegradation, AnomalyType::CpuSaturation]
        );
        assert_eq!(a.anomalies[0].severity, Severity::Warning);
        assert_eq!(a.anomalies[1].severity, Severity::Critical);
    }

    #[test]
    fn maths() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(minutes_to(80.0, 90.0, Some(2.0)), Some(5.0));
        assert_eq!(minutes_to(80.0, 90.0, Some(-1.0)), None);
        assert_eq!(minutes_to(95.0, 90.0, Some(1.0)), Some(0.0));
        let pts = series(100, 30, 5, |i| 10.0 + i as f64);
        assert!((slope_per_min(&pts).unwrap() - 2.0).abs() < 1e-9);
    }
}
