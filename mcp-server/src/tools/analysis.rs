//! The analysis toolset: anomalies judged from the stored series (see `crate::analysis`
//! for the rules), deployments next to what the metrics did around them, and the
//! recovery check that closes every remediation.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use quantumstate_store::{Deployment, DeploymentFilter, MetricType, TimeRange};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::{self, Anomaly, ServiceStatus};
use crate::error::{ErrorCode, ToolError};
use crate::server::QsServer;
use crate::tools::args::{limit, window};
use crate::tools::memory::outcome;

pub(crate) mod gather;

use gather::{before_after, curve, detect, judge};

/// Samples read per metric for one assessment (32 minutes at 1 s is 1,920).
const MAX_SAMPLES: usize = 4_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectArgs {
    /// Only this service; default every service with data or a container.
    #[serde(default)]
    pub service: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceVerdict {
    pub service: String,
    /// healthy, anomalous, or unknown (no fresh data: never assumed healthy).
    pub status: ServiceStatus,
    pub last_sample_at: Option<DateTime<Utc>>,
    /// Why the status is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Detection {
    /// One verdict per service checked, by name.
    pub services: Vec<ServiceVerdict>,
    /// Anomalies, most severe and confident first.
    pub anomalies: Vec<Anomaly>,
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrelateArgs {
    /// Only this service's deployments.
    #[serde(default)]
    pub service: Option<String>,
    /// How far back to look for deployments, like 1h (1s to 30d). Default 1h.
    #[serde(default)]
    pub window: Option<String>,
    /// At most this many deployments, newest first, 1–50 (default 10).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A metric just before and just after a deployment.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BeforeAfter {
    pub metric: MetricType,
    /// Mean over the 10 minutes before.
    pub before_avg: Option<f64>,
    /// Mean over up to 10 minutes after.
    pub after_avg: Option<f64>,
    pub after_max: Option<f64>,
    pub before_samples: u64,
    pub after_samples: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Correlation {
    pub deployment: Deployment,
    pub metrics: Vec<BeforeAfter>,
    /// regression (errors or latency jumped after it), no_change, or insufficient_data.
    pub verdict: String,
    pub explanation: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Correlations {
    /// Newest first.
    pub deployments: Vec<Correlation>,
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyArgs {
    pub service: String,
    /// How long the recovered state must hold, 5–600 s (default 30).
    #[serde(default)]
    pub hold_seconds: Option<i64>,
    /// How long to wait in all for a hold to complete, up to 900 s (default hold + 60).
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
}

/// One sample time of the recovery curve.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CurvePoint {
    pub t: DateTime<Utc>,
    pub up: Option<f64>,
    pub memory_percent: Option<f64>,
    pub error_rate: Option<f64>,
    pub request_latency_ms: Option<f64>,
    /// True when this sample meets every bar.
    pub ok: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Recovery {
    pub service: String,
    pub passed: bool,
    /// Seconds the bars held, ending at the newest sample.
    pub held_seconds: f64,
    pub samples: usize,
    /// memory < 65 %, errors < 2.5/min, p95 latency < 400 ms, and up.
    pub thresholds: String,
    /// The measured curve over the hold, oldest first.
    pub points: Vec<CurvePoint>,
    pub truncated: bool,
}

const THRESHOLDS: &str =
    "memory_percent < 65, error_rate < 2.5/min, request_latency_ms < 400, up = 1";

#[tool_router(router = analysis_tools, vis = "pub(crate)")]
impl QsServer {
    #[tool(
        description = "Judge the fleet or one service from stored metrics: alarm thresholds, jumps from its 30-minute baseline, services down; each anomaly with type, confidence and evidence. No fresh data: unknown, never healthy. Start investigations here."
    )]
    pub async fn detect_anomalies(
        &self,
        Parameters(a): Parameters<DetectArgs>,
    ) -> Result<Json<Detection>, ToolError> {
        let only = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        Ok(Json(detect(&self.app, only).await?))
    }

    #[tool(
        description = "Recent deployments with each service's errors, p95 latency and memory 10 min before and after, and a verdict. Use when an anomaly may follow a release."
    )]
    pub async fn correlate_deployments(
        &self,
        Parameters(a): Parameters<CorrelateArgs>,
    ) -> Result<Json<Correlations>, ToolError> {
        let service = match a.service.as_deref() {
            Some(s) => Some(self.app.check_service(s).await?),
            None => None,
        };
        let w = window(a.window.as_deref(), "1h")?;
        let limit = limit(a.limit, 10, 50, "limit")?;
        let now = Utc::now();
        let store = self.app.store().await?;
        let source = self.app.metrics().await?;
        let page = store
            .list_deployments(&DeploymentFilter {
                service,
                range: Some(w.range_ending(now)),
                limit,
            })
            .await?;
        let mut out = Vec::new();
        for d in page.items {
            let mut metrics = Vec::new();
            for mt in [
                MetricType::ErrorRate,
                MetricType::RequestLatencyMs,
                MetricType::MemoryPercent,
            ] {
                metrics.push(before_after(&*source, &d.service, mt, d.at, now).await?);
            }
            let (verdict, explanation) = judge(&metrics);
            out.push(Correlation {
                deployment: d,
                metrics,
                verdict,
                explanation,
            });
        }
        Ok(Json(Correlations {
            deployments: out,
            truncated: page.truncated,
        }))
    }

    #[tool(
        description = "After a remediation: waits until the service holds recovered (memory < 65 %, errors < 2.5/min, p95 < 400 ms, answering) for hold_seconds, on samples taken after the call began. Fails with the measured curve."
    )]
    pub async fn verify_recovery(
        &self,
        Parameters(a): Parameters<VerifyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Recovery>, ToolError> {
        let service = self.app.check_service(&a.service).await?;
        let hold = match a.hold_seconds {
            None => 30,
            Some(h) if (5..=600).contains(&h) => h,
            Some(h) => {
                return Err(ToolError::invalid(format!(
                    "hold_seconds must be 5 to 600 (got {h})"
                )));
            }
        };
        let timeout = match a.timeout_seconds {
            None => (hold + 60).min(900),
            Some(t) if (hold..=900).contains(&t) => t,
            Some(t) => {
                return Err(ToolError::invalid(format!(
                    "timeout_seconds must be {hold} (the hold) to 900 (got {t})"
                )));
            }
        };
        let source = self.app.metrics().await?;
        let start = Utc::now();
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(timeout as u64);
        let poll = StdDuration::from_secs_f64(self.app.config().scrape_interval.clamp(0.5, 5.0));
        let mut last_points: Vec<CurvePoint>;
        let mut polls = 0u32;
        loop {
            let now = Utc::now();
            // Read a little more than the hold, so a run of good samples can span all of it.
            let margin = Duration::milliseconds(
                (3_000.0 * self.app.config().scrape_interval.max(1.0)) as i64,
            );
            let range = TimeRange {
                from: now - Duration::seconds(hold) - margin,
                to: now,
            };
            let read = |mt| source.metric_samples(&service, mt, range, MAX_SAMPLES);
            let (up, mem, err, lat) = tokio::try_join!(
                read(MetricType::Up),
                read(MetricType::MemoryPercent),
                read(MetricType::ErrorRate),
                read(MetricType::RequestLatencyMs)
            )?;
            let points = curve(&up, &mem, &err, &lat);
            // The compliant run ending at the newest sample, measured since the call began:
            // good samples from before it (say, before the restart) prove nothing.
            let run: Vec<&CurvePoint> = points
                .iter()
                .rev()
                .take_while(|p| p.ok && p.t >= start)
                .collect();
            let held = match (run.last(), run.first()) {
                (Some(first), Some(last)) => (last.t - first.t).num_milliseconds() as f64 / 1000.0,
                _ => 0.0,
            };
            let fresh = points.last().is_some_and(|p| {
                (now - p.t).num_milliseconds() as f64 / 1000.0
                    <= 3.0 * self.app.config().scrape_interval.max(1.0)
            });
            // The run must cover the hold (within one sample spacing) and be made of fresh samples.
            let spacing = analysis::infer_interval(&up).unwrap_or(1.0);
            let passed = fresh && run.len() >= 3 && held + spacing >= hold as f64;
            polls += 1;
            let elapsed = (now - start).num_seconds() as f64;
            self.progress(
                &ctx,
                elapsed.min(timeout as f64),
                Some(timeout as f64),
                format!(
                    "{service}: bars held for {held:.0} s of {hold} s over {} samples",
                    run.len()
                ),
            )
            .await;
            if passed {
                let who = self.caller(&ctx).map(|c| c.name).unwrap_or_default();
                let detail = format!("passed: held {held:.0} s of {hold} s");
                outcome::note(&self.app, &who, &service, true, detail).await;
                return Ok(Json(Recovery {
                    service,
                    passed: true,
                    held_seconds: (held * 10.0).round() / 10.0,
                    samples: points.len(),
                    thresholds: THRESHOLDS.into(),
                    points,
                    truncated: false,
                }));
            }
            last_points = points;
            if tokio::time::Instant::now() + poll > deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = ctx.ct.cancelled() => return Err(ToolError::failed("cancelled by the client")),
            }
        }
        let bad: Vec<String> = last_points
            .iter()
            .filter(|p| !p.ok)
            .take(5)
            .map(|p| {
                format!(
                    "{}: up {:?}, memory {:?} %, errors {:?}/min, p95 {:?} ms",
                    p.t.format("%H:%M:%S"),
                    p.up,
                    p.memory_percent,
                    p.error_rate,
                    p.request_latency_ms
                )
            })
            .collect();
        let unmeasured = !last_points.is_empty()
            && last_points
                .iter()
                .filter(|p| p.t >= start)
                .all(|p| p.request_latency_ms.is_none());
        let why = if last_points.is_empty() {
            "no samples arrived during the hold (is the scraper running?)".to_string()
        } else if last_points.len() < 3 {
            format!(
                "only {} samples in the last {hold} s; at least 3 are needed",
                last_points.len()
            )
        } else if bad.is_empty() {
            "the samples met the bars but did not yet span the hold".to_string()
        } else {
            format!("bars not met at {}", bad.join("; "))
        };
        let body = serde_json::json!({
            "service": service,
            "thresholds": THRESHOLDS,
            "hold_seconds": hold,
            "polls": polls,
            "points": last_points,
        });
        let who = self.caller(&ctx).map(|c| c.name).unwrap_or_default();
        outcome::note(&self.app, &who, &service, false, format!("failed: {why}")).await;
        if unmeasured {
            return Err(ToolError::new(ErrorCode::InsufficientEvidence, format!("{service}: no request latency was measured since this call began, so recovery cannot be judged (a service that serves no requests reports no p95)"))
                .hint("send it traffic (or wait for its callers) and verify again; a missing figure is not a pass")
                .details(body));
        }
        Err(ToolError::new(ErrorCode::CheckFailed, format!("{service} did not hold recovery for {hold} s within {timeout} s: {why}"))
            .hint("read the curve: remediation may not have fixed the cause; check detect_anomalies and search_logs before acting again")
            .details(body))
    }
}
