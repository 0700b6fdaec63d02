//! Judging one service: each metric's rule (alarm line, or a deviation from its own
//! baseline that also leaves the healthy range), the current abnormal episode, its
//! confidence and evidence, and the anomaly type it adds up to.

use chrono::{DateTime, Utc};
use quantumstate_store::{AnomalyType, Deployment, LogCount, Point};

use super::*;

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
                last_message: crate::text::untrusted(&l.last_message, 300),
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
