//! Reading what the analysis judges: one service's recent series, error counts and
//! deployments from the store (`gather`), detection over the fleet, a metric before and
//! after a deployment, and the recovery curve.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use quantumstate_store::source::MetricsSource;
use quantumstate_store::{
    Aggregation, DeploymentFilter, DynStore, Level, MetricQuery, MetricType, Point, TimeRange,
};

use super::{BeforeAfter, CurvePoint, Detection, MAX_SAMPLES, ServiceVerdict};
use crate::analysis::{self, ServiceData};
use crate::app::App;
use crate::error::ToolResult;

/// Everything `crate::analysis::assess` needs about one service: figures from the metrics
/// source, deployments and error logs from the store.
pub(super) async fn gather(
    app: &App,
    store: &DynStore,
    source: &Arc<dyn MetricsSource>,
    service: &str,
    now: DateTime<Utc>,
) -> ToolResult<ServiceData> {
    let range = TimeRange {
        from: now - analysis::BASELINE_SPAN - analysis::RECENT_SPAN,
        to: now,
    };
    let read = |mt: MetricType| {
        let source = source.clone();
        let svc = service.to_string();
        async move { source.metric_samples(&svc, mt, range, MAX_SAMPLES).await }
    };
    let (memory, cpu, errors, latency, up) = tokio::try_join!(
        read(MetricType::MemoryPercent),
        read(MetricType::CpuPercent),
        read(MetricType::ErrorRate),
        read(MetricType::RequestLatencyMs),
        read(MetricType::Up),
    )?;
    let scenario = source
        .query_metrics(&MetricQuery {
            service: service.into(),
            metric_type: MetricType::Up,
            range,
            aggregation: Aggregation::Avg,
            max_points: 0,
        })
        .await?
        .includes_scenario_data;
    let deployments = store
        .list_deployments(&DeploymentFilter {
            service: Some(service.into()),
            range: Some(TimeRange {
                from: now - Duration::minutes(90),
                to: now,
            }),
            limit: 20,
        })
        .await?
        .items;
    let error_logs = store
        .count_logs(
            Some(service),
            Level::Error,
            TimeRange {
                from: now - Duration::minutes(5),
                to: now,
            },
        )
        .await?;
    let interval = analysis::infer_interval(&up).unwrap_or(app.config().scrape_interval);
    Ok(ServiceData {
        service: service.into(),
        now: Some(now),
        memory,
        cpu,
        errors,
        latency,
        up,
        deployments,
        error_logs,
        scenario,
        interval_secs: Some(interval),
    })
}

/// Detection over the given services (or all known ones).
pub(crate) async fn detect(app: &App, only: Option<String>) -> ToolResult<Detection> {
    let store = app.store().await?;
    let source = app.metrics().await?;
    let now = Utc::now();
    let services: Vec<String> = match only {
        Some(s) => vec![s],
        None => {
            let mut v: Vec<String> = source
                .metric_services(now - analysis::BASELINE_SPAN - analysis::RECENT_SPAN)
                .await?
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            // Containers without any data are listed too (as unknown), when Docker answers.
            v.extend(app.listed_services().await);
            v.sort();
            v.dedup();
            v
        }
    };
    // Two services' reads at a time (one per core): they overlap, without queueing every
    // read of the fleet ahead of other sessions' calls.
    let (store_ref, source_ref) = (&store, &source);
    let gathered: Vec<ServiceData> = futures::stream::iter(services.clone())
        .map(|svc| async move { gather(app, store_ref, source_ref, &svc, now).await })
        .buffered(2)
        .try_collect()
        .await?;
    let mut verdicts = Vec::new();
    let mut anomalies = Vec::new();
    for (svc, data) in services.into_iter().zip(gathered) {
        let a = analysis::assess(&data);
        verdicts.push(ServiceVerdict {
            service: svc,
            status: a.status,
            last_sample_at: a.last_sample_at,
            reason: a.reason,
        });
        anomalies.extend(a.anomalies);
    }
    anomalies.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.confidence.cmp(&a.confidence))
            .then(a.service.cmp(&b.service))
            .then(a.anomaly_type.cmp(&b.anomaly_type))
    });
    let truncated = anomalies.len() > 50;
    anomalies.truncate(50);
    Ok(Detection {
        services: verdicts,
        anomalies,
        truncated,
    })
}

pub(super) async fn before_after(
    source: &dyn MetricsSource,
    service: &str,
    mt: MetricType,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ToolResult<BeforeAfter> {
    let q = |from, to| MetricQuery {
        service: service.into(),
        metric_type: mt,
        range: TimeRange { from, to },
        aggregation: Aggregation::Avg,
        max_points: 0,
    };
    let before = source
        .query_metrics(&q(
            at - Duration::minutes(10),
            at - Duration::milliseconds(1),
        ))
        .await?
        .summary;
    let after = source
        .query_metrics(&q(at, (at + Duration::minutes(10)).min(now)))
        .await?
        .summary;
    let r = |x: Option<f64>| x.map(|v| (v * 100.0).round() / 100.0);
    Ok(BeforeAfter {
        metric: mt,
        before_avg: r(before.avg),
        after_avg: r(after.avg),
        after_max: r(after.max),
        before_samples: before.count,
        after_samples: after.count,
    })
}

pub(super) fn judge(m: &[BeforeAfter]) -> (String, String) {
    let enough = m
        .iter()
        .all(|x| x.before_samples >= 3 && x.after_samples >= 3);
    let mut findings = Vec::new();
    for x in m {
        let (Some(b), Some(a), Some(mx)) = (x.before_avg, x.after_avg, x.after_max) else {
            continue;
        };
        match x.metric {
            MetricType::ErrorRate if mx > analysis::ERRORS_HEALTHY_MAX.max(3.0 * b + 1.0) => {
                findings.push(format!(
                    "errors rose from {b:.1}/min to {a:.1}/min on average (peak {mx:.1})"
                ))
            }
            MetricType::RequestLatencyMs if a > analysis::LATENCY_HEALTHY_MAX_MS.max(2.0 * b) => {
                findings.push(format!("p95 latency rose from {b:.0} ms to {a:.0} ms"))
            }
            MetricType::MemoryPercent if a > b + 15.0 => {
                findings.push(format!("memory rose from {b:.1} % to {a:.1} %"))
            }
            _ => {}
        }
    }
    if !findings.is_empty() {
        (
            "regression".into(),
            format!("after this deployment {}", findings.join("; ")),
        )
    } else if !enough {
        (
            "insufficient_data".into(),
            "fewer than 3 samples before or after the deployment".into(),
        )
    } else {
        (
            "no_change".into(),
            "errors, latency and memory stayed within their pre-deployment range".into(),
        )
    }
}

/// A curve point per `up` sample, with the nearest other metrics at that time. A point
/// meets the bars only with a latency measured from served requests: no requests is no
/// evidence, never a fast p95.
pub(super) fn curve(up: &[Point], mem: &[Point], err: &[Point], lat: &[Point]) -> Vec<CurvePoint> {
    let near = |s: &[Point], t: DateTime<Utc>| -> Option<f64> {
        s.iter()
            .filter(|p| (p.t - t).num_milliseconds().abs() <= 1_500)
            .min_by_key(|p| (p.t - t).num_milliseconds().abs())
            .map(|p| p.v)
    };
    up.iter()
        .map(|u| {
            let (m, e, l) = (near(mem, u.t), near(err, u.t), near(lat, u.t));
            let ok = u.v >= 0.5
                && m.is_none_or(|v| v < analysis::RECOVERY_MEMORY)
                && e.is_none_or(|v| v < analysis::RECOVERY_ERRORS)
                && l.is_some_and(|v| v < analysis::RECOVERY_LATENCY_MS)
                && (m.is_some() || e.is_some());
            CurvePoint {
                t: u.t,
                up: Some(u.v),
                memory_percent: m,
                error_rate: e,
                request_latency_ms: l,
                ok,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(s: i64, v: f64) -> Point {
        Point {
            t: DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap(),
            v,
        }
    }

    #[test]
    fn the_curve_marks_each_sample() {
        let up = vec![pt(0, 0.0), pt(1, 1.0), pt(2, 1.0)];
        let mem = vec![pt(0, 3.0), pt(1, 70.0), pt(2, 4.0)];
        let err = vec![pt(1, 0.0), pt(2, 0.0)];
        let lat = vec![pt(1, 20.0), pt(2, 25.0)];
        let c = curve(&up, &mem, &err, &lat);
        assert_eq!(
            c.iter().map(|p| p.ok).collect::<Vec<_>>(),
            vec![false, false, true]
        );
        // Without a latency sample (no requests served) no point counts.
        let c = curve(&up, &mem, &err, &[]);
        assert!(c.iter().all(|p| !p.ok), "{c:?}");
    }

    #[test]
    fn a_deploy_followed_by_errors_is_a_regression() {
        let m = vec![BeforeAfter {
            metric: MetricType::ErrorRate,
            before_avg: Some(0.4),
            after_avg: Some(12.0),
            after_max: Some(18.0),
            before_samples: 40,
            after_samples: 40,
        }];
        assert_eq!(judge(&m).0, "regression");
        let quiet = vec![BeforeAfter {
            after_avg: Some(0.5),
            after_max: Some(0.9),
            ..m.into_iter().next().unwrap()
        }];
        assert_eq!(judge(&quiet).0, "no_change");
    }
}
