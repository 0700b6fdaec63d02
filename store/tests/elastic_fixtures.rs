//! Named operations of the Elasticsearch backend against strict recorded exchanges, one
//! fixture file per operation (`tests/fixtures/elasticsearch/<name>.json`): every request
//! must match the fixture's method, path with query string and JSON body exactly.
//!
//! The fixtures are snapshots of the emulator (`tests/support/emulator`), not recordings
//! of a real cluster: they pin what this backend sends and how it reads the answers.
//! `QS_RECORD_FIXTURES=1` rewrites them from the emulator (after the `prep` step, which is
//! not recorded); a fixture that changed fails its test (review the diff, then run again
//! without the variable), so recording never turns a failing comparison into a pass, and
//! it is refused under CI.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use quantumstate_store::elastic::ElasticStore;
use quantumstate_store::*;
use serde_json::{Value, json};
use support::emulator::{Emulator, test_config};
use support::replay::{Replay, fixture_dir};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// Runs `op` against the replay of its fixture, or records the fixture from the emulator.
macro_rules! case {
    ($name:ident, $prep:expr, $op:expr) => {
        #[tokio::test]
        async fn $name() {
            let name = stringify!($name);
            if std::env::var("QS_RECORD_FIXTURES").is_ok() {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "QS_RECORD_FIXTURES is refused under CI: fixtures are compared there, never rewritten"
                );
                let emu = Emulator::start().await;
                $prep(&*emu.store()).await;
                emu.state.lock().unwrap().log.clear();
                $op(&*emu.store()).await;
                write_fixture(name, &emu);
                return;
            }
            let r = Replay::start(&[name]).await;
            let s: Arc<dyn Store> = Arc::new(ElasticStore::new(&test_config(&r.url)).unwrap());
            $op(&*s).await;
            r.finish();
        }
    };
}

fn write_fixture(name: &str, emu: &Emulator) {
    let path = fixture_dir().join(format!("{name}.json"));
    let old: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let desc = old["description"]
        .as_str()
        .unwrap_or("TODO: say what this exchange shows");
    let exchanges = Value::Array(emu.state.lock().unwrap().log.clone());
    // operation, description, exchanges: in reading order, not sorted.
    let text = format!(
        "{{\n  \"operation\": {},\n  \"description\": {},\n  \"exchanges\": {}\n}}\n",
        json!(name),
        json!(desc),
        serde_json::to_string_pretty(&exchanges)
            .unwrap()
            .replace('\n', "\n  ")
    );
    std::fs::write(&path, text).unwrap();
    assert_eq!(
        old["exchanges"],
        exchanges,
        "{name}: the exchanges changed and the fixture was rewritten; review `git diff {}` and run again without QS_RECORD_FIXTURES",
        path.display()
    );
}

async fn nothing(_: &dyn Store) {}

fn metric(t: DateTime<Utc>, v: f64) -> Metric {
    Metric::measured(
        t,
        "payment-service",
        "us-east-1",
        MetricType::MemoryPercent,
        v,
    )
}

fn log(t: DateTime<Utc>, level: Level, code: Option<&str>, msg: &str) -> LogLine {
    LogLine {
        timestamp: t,
        service: "auth-service".into(),
        region: "us-east-1".into(),
        level,
        message: msg.into(),
        trace_id: Some(format!("trace-{}", t.timestamp())),
        error_code: code.map(str::to_string),
        source: None,
    }
}

async fn put_logs_op(s: &dyn Store) {
    let a = log(
        t0(),
        Level::Critical,
        Some("CACHE_OFFLINE"),
        "session cache OFFLINE",
    );
    let b = log(t0() + Duration::seconds(1), Level::Info, None, "login ok");
    // The third line repeats the first: refused with 409, counted as already stored.
    assert_eq!(s.put_logs(&[a.clone(), b, a]).await.unwrap(), 2);
}
case!(put_logs_fresh_cluster, nothing, put_logs_op);

async fn prep_metrics(s: &dyn Store) {
    s.put_metrics(&[metric(t0(), 50.0)]).await.unwrap();
}
async fn put_metrics_op(s: &dyn Store) {
    let docs = [
        metric(t0(), 50.0), // already stored: 409, not counted, rollup untouched
        metric(t0() + Duration::seconds(20), 52.0),
        metric(t0() + Duration::seconds(40), 51.0),
        metric(t0() + Duration::seconds(70), 55.5),
    ];
    assert_eq!(s.put_metrics(&docs).await.unwrap(), 3);
}
case!(put_metrics, prep_metrics, put_metrics_op);

async fn prep_series(s: &dyn Store) {
    let docs: Vec<Metric> = (0..40)
        .map(|i| metric(t0() + Duration::seconds(15 * i), 50.0 + i as f64 * 0.25))
        .collect();
    s.put_metrics(&docs).await.unwrap();
}
fn series_query(minutes: i64, agg: Aggregation) -> MetricQuery {
    MetricQuery {
        service: "payment-service".into(),
        metric_type: MetricType::MemoryPercent,
        range: TimeRange {
            from: t0() + Duration::minutes(10) - Duration::minutes(minutes),
            to: t0() + Duration::minutes(10),
        },
        aggregation: agg,
        max_points: 4,
    }
}
async fn query_metrics_raw_op(s: &dyn Store) {
    let r = s
        .query_metrics(&series_query(10, Aggregation::Max))
        .await
        .unwrap();
    assert_eq!(r.resolution, Resolution::Raw);
    assert_eq!(r.summary.count, 40);
    assert_eq!(r.summary.min, Some(50.0));
    assert_eq!(r.summary.last, Some(59.75));
    assert_eq!(r.summary.p95, Some(59.25));
    assert!((r.summary.slope_per_min.unwrap() - 1.0).abs() < 1e-9);
    assert!(!r.points.is_empty() && r.points.len() <= 4);
}
case!(query_metrics_raw, prep_series, query_metrics_raw_op);

async fn query_metrics_rollup_op(s: &dyn Store) {
    let r = s
        .query_metrics(&series_query(8 * 60, Aggregation::Avg))
        .await
        .unwrap();
    assert_eq!(r.resolution, Resolution::Rollup1m);
    assert_eq!(r.summary.count, 40);
    assert_eq!(r.summary.max, Some(59.75));
    assert!(r.points.len() <= 4);
}
case!(query_metrics_rollup, prep_series, query_metrics_rollup_op);

async fn prep_logs(s: &dyn Store) {
    s.put_logs(&[
        log(t0(), Level::Info, None, "login ok for user 42"),
        log(
            t0() + Duration::seconds(1),
            Level::Critical,
            Some("CACHE_OFFLINE"),
            "session cache OFFLINE: connection refused",
        ),
        log(
            t0() + Duration::seconds(2),
            Level::Error,
            Some("REDIS_UNAVAILABLE"),
            "session lookup failed, cache unreachable",
        ),
    ])
    .await
    .unwrap();
}
async fn search_logs_op(s: &dyn Store) {
    let p = s
        .search_logs(&LogQuery {
            service: Some("auth-service".into()),
            min_level: Some(Level::Error),
            text: Some("the cache OFFLINE".into()),
            range: Some(TimeRange {
                from: t0(),
                to: t0() + Duration::minutes(1),
            }),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(p.items.len(), 1);
    assert_eq!(p.items[0].error_code.as_deref(), Some("CACHE_OFFLINE"));
    assert!(!p.truncated);
}
case!(search_logs, prep_logs, search_logs_op);

async fn count_logs_op(s: &dyn Store) {
    let c = s
        .count_logs(
            None,
            Level::Warn,
            TimeRange {
                from: t0(),
                to: t0() + Duration::minutes(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].level, Level::Critical);
    assert_eq!(
        c[0].last_message,
        "session cache OFFLINE: connection refused"
    );
}
case!(count_logs, prep_logs, count_logs_op);

fn incident(id: &str, service: &str, anomaly: AnomalyType, title: &str, cause: &str) -> Incident {
    Incident {
        id: id.into(),
        timestamp: t0() - Duration::days(7),
        service: service.into(),
        region: "us-east-1".into(),
        anomaly_type: anomaly,
        title: title.into(),
        description: String::new(),
        root_cause: cause.into(),
        actions_taken: "rolled back".into(),
        resolved_at: Some(t0() - Duration::days(7) + Duration::minutes(47)),
        mttr_seconds: Some(2820),
        status: "resolved".into(),
        source: Some("seed".into()),
        alert: None,
        verified: None,
        runbook_id: None,
    }
}
async fn prep_incidents(s: &dyn Store) {
    for i in [
        incident(
            "inc-1",
            "payment-service",
            AnomalyType::MemoryLeakProgressive,
            "payment-service heap growing after deploy",
            "a buffer never released",
        ),
        incident(
            "inc-2",
            "auth-service",
            AnomalyType::ErrorSpikeSudden,
            "auth-service errors: session cache offline",
            "auth-cache went away",
        ),
        incident(
            "inc-3",
            "checkout-service",
            AnomalyType::DeploymentRegression,
            "checkout null pointer after deploy",
            "a null cart",
        ),
    ] {
        assert!(s.insert_incident_if_absent(&i).await.unwrap());
    }
}
async fn similar_incidents_op(s: &dyn Store) {
    let hits = s
        .similar_incidents(&SimilarQuery {
            description: "payment heap keeps growing after a deploy".into(),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .hits;
    assert_eq!(hits[0].item.id, "inc-1");
    assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
    assert_eq!(hits[0].score, (hits[0].score * 1000.0).round() / 1000.0);
}
case!(similar_incidents, prep_incidents, similar_incidents_op);

fn action(id: &str, ms: i64) -> RemediationAction {
    RemediationAction {
        exec_id: id.into(),
        timestamp: t0() + Duration::milliseconds(ms),
        incident_id: Some("inc-1".into()),
        service: "payment-service".into(),
        action: "restart_service".into(),
        status: ActionStatus::Pending,
        runner_started_at: None,
        runner_output: None,
        executed_at: None,
        requested_by: Some("stdio".into()),
        attempts: 0,
        runner_id: None,
        lease_until: None,
        params: Value::Null,
        intent: None,
    }
}
fn claim(now: DateTime<Utc>) -> Claim {
    Claim {
        runner_id: "runner-a".into(),
        now,
        lease: Duration::seconds(30),
        max_attempts: 3,
    }
}
async fn prep_queue(s: &dyn Store) {
    s.enqueue_action(&action("act-1", 0)).await.unwrap();
    s.enqueue_action(&action("act-2", 1)).await.unwrap();
}
async fn claim_action_op(s: &dyn Store) {
    let a = s
        .claim_action(&claim(t0() + Duration::seconds(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.exec_id, "act-1");
    assert_eq!(a.attempts, 1);
    assert_eq!(a.lease_until, Some(t0() + Duration::seconds(31)));
}
case!(claim_action, prep_queue, claim_action_op);

async fn enqueue_duplicate_op(s: &dyn Store) {
    let e = s.enqueue_action(&action("act-1", 0)).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
}
case!(enqueue_duplicate, prep_queue, enqueue_duplicate_op);

async fn prep_claimed(s: &dyn Store) {
    prep_queue(s).await;
    s.claim_action(&claim(t0() + Duration::seconds(1)))
        .await
        .unwrap()
        .unwrap();
}
async fn complete_action_op(s: &dyn Store) {
    let r = RemediationResult {
        exec_id: "act-1".into(),
        timestamp: t0() + Duration::seconds(9),
        incident_id: Some("inc-1".into()),
        service: "payment-service".into(),
        action: "restart_service".into(),
        status: ActionStatus::Executed,
        runner_started_at: Some(t0() + Duration::seconds(1)),
        runner_output: Some("restarted payment-service".into()),
        executed_at: Some(t0() + Duration::seconds(9)),
        docker_used: true,
    };
    assert!(
        !s.complete_action("runner-b", &r).await.unwrap(),
        "not the holder"
    );
    assert!(s.complete_action("runner-a", &r).await.unwrap());
}
case!(complete_action, prep_claimed, complete_action_op);

async fn take_budget_op(s: &dyn Store) {
    let w = Duration::seconds(300);
    let take = |t| s.take_budget("restart:payment-service", 2, w, t);
    assert_eq!(
        take(t0()).await.unwrap(),
        BudgetDecision::Granted { used: 1, max: 2 }
    );
    assert_eq!(
        take(t0() + Duration::seconds(5)).await.unwrap(),
        BudgetDecision::Granted { used: 2, max: 2 }
    );
    assert_eq!(
        take(t0() + Duration::seconds(9)).await.unwrap(),
        BudgetDecision::Exhausted {
            max: 2,
            retry_at: t0() + w
        }
    );
}
case!(take_budget, nothing, take_budget_op);

async fn prep_scenario(s: &dyn Store) {
    let mut docs = vec![
        metric(t0(), 50.0),
        metric(t0() + Duration::seconds(30), 70.0),
    ];
    docs[1].source = Some("scenario".into());
    s.put_metrics(&docs).await.unwrap();
    let mut l = log(
        t0(),
        Level::Error,
        Some("HEAP_PRESSURE"),
        "JVM heap critical",
    );
    l.service = "payment-service".into();
    l.source = Some("scenario".into());
    s.put_logs(&[l]).await.unwrap();
}
async fn delete_scenario_op(s: &dyn Store) {
    assert_eq!(s.delete_scenario_data("payment-service").await.unwrap(), 2);
}
case!(delete_scenario_data, prep_scenario, delete_scenario_op);

async fn apply_retention_op(s: &dyn Store) {
    let r = s
        .apply_retention(t0() + Duration::hours(25), Retention::default())
        .await
        .unwrap();
    assert_eq!(r.raw_metrics_deleted, 2);
    assert_eq!(r.rollups_deleted, 0);
}
case!(apply_retention, prep_scenario, apply_retention_op);
