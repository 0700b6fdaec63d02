//! The store behaviour suite: one contract every backend must meet. Each check is an
//! async function over `&dyn Store`; `backend_suite!` runs them all against a backend.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use quantumstate_store::*;
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn metric(t: DateTime<Utc>, service: &str, mt: MetricType, v: f64) -> Metric {
    Metric::measured(t, service, "us-east-1", mt, v)
}

fn log(t: DateTime<Utc>, service: &str, level: Level, code: Option<&str>, msg: &str) -> LogLine {
    LogLine {
        timestamp: t,
        service: service.into(),
        region: "us-east-1".into(),
        level,
        message: msg.into(),
        trace_id: Some(format!("trace-{}", t.timestamp_millis())),
        error_code: code.map(str::to_string),
        source: None,
    }
}

fn action(exec_id: &str, at: DateTime<Utc>, status: ActionStatus) -> RemediationAction {
    RemediationAction {
        exec_id: exec_id.into(),
        timestamp: at,
        incident_id: Some("inc-1".into()),
        service: "payment-service".into(),
        action: "restart_service".into(),
        status,
        runner_started_at: None,
        runner_output: None,
        executed_at: None,
        requested_by: Some("test".into()),
        attempts: 0,
        runner_id: None,
        lease_until: None,
        params: serde_json::Value::Null,
        intent: None,
    }
}

fn claim(runner: &str, now: DateTime<Utc>) -> Claim {
    Claim {
        runner_id: runner.into(),
        now,
        lease: Duration::seconds(30),
        max_attempts: 2,
    }
}

pub async fn metrics_summary_and_series(s: &dyn Store) {
    // One sample a second for 20 minutes: value = 10 + 0.5 per minute.
    let docs: Vec<Metric> = (0..1200)
        .map(|i| {
            let t = t0() + Duration::seconds(i);
            metric(
                t,
                "payment-service",
                MetricType::MemoryPercent,
                10.0 + 0.5 * (i as f64 / 60.0),
            )
        })
        .collect();
    assert_eq!(s.put_metrics(&docs).await.unwrap(), 1200);
    let range = TimeRange {
        from: t0(),
        to: t0() + Duration::seconds(1199),
    };
    let q = MetricQuery {
        service: "payment-service".into(),
        metric_type: MetricType::MemoryPercent,
        range,
        aggregation: Aggregation::Avg,
        max_points: 10,
    };
    let r = s.query_metrics(&q).await.unwrap();
    let sm = &r.summary;
    assert_eq!(sm.count, 1200);
    assert!((sm.min.unwrap() - 10.0).abs() < 1e-9);
    assert!((sm.last.unwrap() - (10.0 + 0.5 * 1199.0 / 60.0)).abs() < 1e-9);
    assert_eq!(sm.last_at, Some(t0() + Duration::seconds(1199)));
    assert!(
        (sm.slope_per_min.unwrap() - 0.5).abs() < 1e-6,
        "{:?}",
        sm.slope_per_min
    );
    assert!((sm.avg.unwrap() - (10.0 + 0.5 * 599.5 / 60.0)).abs() < 1e-6);
    // nearest-rank p95 of 1200 evenly spaced values is the 1140th.
    assert!((sm.p95.unwrap() - (10.0 + 0.5 * 1139.0 / 60.0)).abs() < 1e-9);
    assert!(
        !r.points.is_empty() && r.points.len() <= 10,
        "{} points",
        r.points.len()
    );
    assert!(r.points.windows(2).all(|w| w[0].t < w[1].t));
    assert_eq!(r.resolution, Resolution::Raw);
    assert!(!r.includes_scenario_data);

    let max = s
        .query_metrics(&MetricQuery {
            aggregation: Aggregation::Max,
            max_points: 1,
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(max.points.len(), 1);
    assert!((max.points[0].v - sm.max.unwrap()).abs() < 1e-9);

    // A window past six hours reads the one-minute rollups and says so.
    let long = MetricQuery {
        range: TimeRange {
            from: t0() - Duration::hours(7),
            to: t0() + Duration::hours(1),
        },
        max_points: 100,
        ..q.clone()
    };
    let lr = s.query_metrics(&long).await.unwrap();
    assert_eq!(lr.resolution, Resolution::Rollup1m);
    assert_eq!(lr.summary.count, 1200);
    assert!((lr.summary.min.unwrap() - 10.0).abs() < 1e-9);
    assert!((lr.summary.max.unwrap() - sm.max.unwrap()).abs() < 1e-9);
    assert!((lr.summary.slope_per_min.unwrap() - 0.5).abs() < 0.01);
    assert!(lr.points.len() <= 100);

    // Unknown series: an empty summary, not an error.
    let none = s
        .query_metrics(&MetricQuery {
            service: "nope".into(),
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(none.summary.count, 0);
    assert!(none.points.is_empty());

    // Non-finite values are not measurements.
    let bad = vec![metric(t0(), "x", MetricType::CpuPercent, f64::NAN)];
    assert_eq!(s.put_metrics(&bad).await.unwrap(), 0);

    let samples = s
        .metric_samples("payment-service", MetricType::MemoryPercent, range, 5)
        .await
        .unwrap();
    assert_eq!(samples.len(), 5);
    assert_eq!(samples[4].t, t0() + Duration::seconds(1199));
    assert!(samples.windows(2).all(|w| w[0].t < w[1].t));

    let svcs = s.metric_services(t0()).await.unwrap();
    assert_eq!(
        svcs,
        vec![(
            "payment-service".to_string(),
            t0() + Duration::seconds(1199)
        )]
    );

    let too_many = s
        .query_metrics(&MetricQuery {
            max_points: MAX_POINTS + 1,
            ..q
        })
        .await
        .unwrap_err();
    assert!(matches!(too_many, StoreError::Invalid(_)));
}

pub async fn retention_drops_old_data(s: &dyn Store) {
    let old = t0() - Duration::hours(30);
    s.put_metrics(&[
        metric(old, "svc", MetricType::CpuPercent, 1.0),
        metric(t0(), "svc", MetricType::CpuPercent, 2.0),
    ])
    .await
    .unwrap();
    s.put_logs(&[log(
        t0() - Duration::days(8),
        "svc",
        Level::Info,
        None,
        "ancient",
    )])
    .await
    .unwrap();
    let r = s.apply_retention(t0(), Retention::default()).await.unwrap();
    assert_eq!(r.raw_metrics_deleted, 1);
    assert_eq!(r.logs_deleted, 1);
    // The rollup of the old sample is still there (30 days).
    let q = MetricQuery {
        service: "svc".into(),
        metric_type: MetricType::CpuPercent,
        range: TimeRange {
            from: old - Duration::hours(1),
            to: t0(),
        },
        aggregation: Aggregation::Avg,
        max_points: 0,
    };
    assert_eq!(s.query_metrics(&q).await.unwrap().summary.count, 2);
}

pub async fn logs_search_dedup_and_counts(s: &dyn Store) {
    let lines = vec![
        log(
            t0(),
            "auth-service",
            Level::Info,
            None,
            "login ok for user 42",
        ),
        log(
            t0() + Duration::seconds(1),
            "auth-service",
            Level::Critical,
            Some("CACHE_OFFLINE"),
            "session cache OFFLINE: connection refused",
        ),
        log(
            t0() + Duration::seconds(2),
            "auth-service",
            Level::Error,
            Some("REDIS_UNAVAILABLE"),
            "session lookup failed, cache unreachable",
        ),
        log(
            t0() + Duration::seconds(3),
            "auth-service",
            Level::Error,
            Some("REDIS_UNAVAILABLE"),
            "session lookup failed, cache unreachable",
        ),
        log(
            t0() + Duration::seconds(4),
            "payment-service",
            Level::Warn,
            Some("HEAP_PRESSURE"),
            "heap usage elevated: 71%",
        ),
    ];
    assert_eq!(s.put_logs(&lines).await.unwrap(), 5);
    // Shipping the same lines again stores nothing new.
    assert_eq!(s.put_logs(&lines).await.unwrap(), 0);

    let all = s
        .search_logs(&LogQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(!all.truncated);
    assert_eq!(all.items[0].service, "payment-service", "newest first");

    let errs = s
        .search_logs(&LogQuery {
            service: Some("auth-service".into()),
            min_level: Some(Level::Error),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(errs.items.len(), 2);
    assert!(errs.truncated);
    assert!(errs.items.iter().all(|l| l.level >= Level::Error));

    let text = s
        .search_logs(&LogQuery {
            text: Some("cache offline".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(text.items.len(), 1);
    assert_eq!(text.items[0].error_code.as_deref(), Some("CACHE_OFFLINE"));

    // Query syntax in user text is treated as words, never as FTS syntax.
    let hostile = s
        .search_logs(&LogQuery {
            text: Some("\"NEAR( OR * -- ' ;".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(hostile.items.is_empty());

    let code = s
        .search_logs(&LogQuery {
            error_code: Some("HEAP_PRESSURE".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(code.items.len(), 1);

    let counts = s
        .count_logs(
            Some("auth-service"),
            Level::Error,
            TimeRange {
                from: t0(),
                to: t0() + Duration::minutes(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(counts[0].error_code.as_deref(), Some("REDIS_UNAVAILABLE"));
    assert_eq!(counts[0].count, 2);
    assert_eq!(counts.len(), 2);
}

pub async fn incidents_and_similarity(s: &dyn Store) {
    let now = Utc::now();
    let first = seed::seed(s, now).await.unwrap();
    assert!(first.incidents_added >= 44);
    assert_eq!(first.runbooks_added, 8);
    let again = seed::seed(s, now + Duration::hours(1)).await.unwrap();
    assert_eq!(again.incidents_added, 0, "seeding twice changes nothing");
    assert_eq!(again.runbooks_added, 0);
    assert_eq!(again.incidents_present, first.incidents_added);

    let got = s.get_incident("inc-seed-001").await.unwrap().unwrap();
    assert_eq!(got.service, "payment-service");
    assert_eq!(got.mttr_seconds, Some(2820));
    assert!(s.get_incident("nope").await.unwrap().is_none());

    let hits = s
        .similar_incidents(&SimilarQuery {
            description: "payment service heap keeps growing, GC pauses, after deploy".into(),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .hits;
    assert_eq!(
        hits[0].item.id,
        "inc-seed-001",
        "{:#?}",
        hits.iter()
            .map(|h| (&h.item.id, h.score))
            .collect::<Vec<_>>()
    );
    assert!(hits.len() <= 5);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));

    let cache = s
        .similar_incidents(&SimilarQuery {
            description: "logins failing, session cache offline, REDIS_UNAVAILABLE".into(),
            service: Some("auth-service".into()),
            anomaly_type: Some(AnomalyType::ErrorSpikeSudden),
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .hits;
    assert_eq!(cache[0].item.id, "inc-seed-002");

    let listed = s
        .list_incidents(&IncidentFilter {
            service: Some("payment-service".into()),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    assert!(listed.truncated);
    assert!(listed.items[0].timestamp >= listed.items[1].timestamp);

    let mut mine = got.clone();
    mine.id = "inc-new".into();
    mine.title = "replaced".into();
    s.put_incident(&mine).await.unwrap();
    mine.title = "replaced twice".into();
    s.put_incident(&mine).await.unwrap();
    assert_eq!(
        s.get_incident("inc-new").await.unwrap().unwrap().title,
        "replaced twice"
    );
    // A replaced incident is found by its new words, once, and no longer by the old ones.
    mine.title = "zyxwvut quokka".into();
    s.put_incident(&mine).await.unwrap();
    mine.title = "plinth marmoset".into();
    s.put_incident(&mine).await.unwrap();
    let find = |w: &str| SimilarQuery {
        description: w.into(),
        limit: 50,
        ..SimilarQuery::default()
    };
    let by = |h: &Hits<Incident>| h.hits.iter().filter(|x| x.item.id == "inc-new").count();
    let new_words = s.similar_incidents(&find("plinth marmoset")).await.unwrap();
    assert_eq!(by(&new_words), 1, "the new text finds it once");
    let old_words = s.similar_incidents(&find("zyxwvut quokka")).await.unwrap();
    assert!(
        old_words
            .hits
            .iter()
            .all(|h| h.item.id != "inc-new" || h.why.lexical == 0.0),
        "the old words still match it lexically"
    );

    let rb = s
        .relevant_runbooks(&SimilarQuery {
            description: "auth errors, session cache offline".into(),
            service: Some("auth-service".into()),
            anomaly_type: Some(AnomalyType::ErrorSpikeSudden),
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .hits;
    assert_eq!(
        rb[0].item.action,
        ActionKind::RestartDependency,
        "{:?}",
        rb[0].item.id
    );
    assert_eq!(s.list_runbooks(100).await.unwrap().items.len(), 8);
    let id = rb[0].item.id.clone();
    assert_eq!(s.get_runbook(&id).await.unwrap().unwrap().id, id);
}

pub async fn decisions_deployments_audit(s: &dyn Store) {
    for i in 0..3 {
        s.put_decision(&Decision {
            id: format!("dec-{i}"),
            timestamp: t0() + Duration::seconds(i),
            agent: if i == 0 {
                "cassandra".into()
            } else {
                "surgeon".into()
            },
            decision: format!("decision {i}"),
            confidence: 90,
            service: "payment-service".into(),
            context: json!({"i": i}),
        })
        .await
        .unwrap();
    }
    let d = s
        .list_decisions(&DecisionFilter {
            agent: Some("surgeon".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        d.items.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        vec!["dec-2", "dec-1"]
    );

    s.put_deployment(&Deployment {
        id: "dep-1".into(),
        service: "checkout-service".into(),
        from_version: Some("3.4.2".into()),
        to_version: "3.5.0".into(),
        image: "qs-service:local".into(),
        at: t0(),
        by: "alice".into(),
        reason: "release".into(),
    })
    .await
    .unwrap();
    let deps = s
        .list_deployments(&DeploymentFilter {
            service: Some("checkout-service".into()),
            range: Some(TimeRange {
                from: t0() - Duration::minutes(30),
                to: t0() + Duration::minutes(1),
            }),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(deps.items.len(), 1);
    let outside = s
        .list_deployments(&DeploymentFilter {
            service: None,
            range: Some(TimeRange {
                from: t0() + Duration::minutes(1),
                to: t0() + Duration::minutes(2),
            }),
            limit: 10,
        })
        .await
        .unwrap();
    assert!(outside.items.is_empty());

    let mut rec = AuditRecord {
        id: "aud-1".into(),
        timestamp: t0(),
        who: "alice".into(),
        approved_by: None,
        tool: "restart_container".into(),
        arguments: json!({"service": "payment-service", "dry_run": true}),
        dry_run: true,
        outcome: Outcome::Started,
        service: Some("payment-service".into()),
        plan_id: Some("plan-abc".into()),
        host: None,
        detail: None,
        duration_ms: 0,
        repeats: None,
        first_seen: None,
    };
    s.put_audit(&rec).await.unwrap();
    rec.outcome = Outcome::Ok;
    rec.duration_ms = 12;
    s.put_audit(&rec).await.unwrap();
    let a = s
        .list_audit(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(a.items.len(), 1, "an outcome replaces the started record");
    assert_eq!(a.items[0].outcome, Outcome::Ok);
    let refused = s
        .list_audit(&AuditFilter {
            outcome: Some(Outcome::Refused),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(refused.items.is_empty());

    // Retention: older records go, newer ones (and their repeat counts) stay.
    let mut old = rec.clone();
    old.id = "aud-0".into();
    old.timestamp = t0() - Duration::days(40);
    s.put_audit(&old).await.unwrap();
    let mut folded = rec.clone();
    folded.id = "aud-2".into();
    folded.outcome = Outcome::Refused;
    folded.repeats = Some(7);
    folded.first_seen = Some(t0() - Duration::seconds(30));
    s.put_audit(&folded).await.unwrap();
    let gone = s
        .delete_audit_before(t0() - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(gone, 1);
    let left = s
        .list_audit(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = left.items.iter().map(|r| r.id.as_str()).collect();
    assert!(
        ids.contains(&"aud-1") && ids.contains(&"aud-2") && !ids.contains(&"aud-0"),
        "{ids:?}"
    );
    let f = left.items.iter().find(|r| r.id == "aud-2").unwrap();
    assert_eq!(
        (f.repeats, f.first_seen),
        (Some(7), Some(t0() - Duration::seconds(30)))
    );
}

pub async fn queue_claims_once(s: Arc<dyn Store>) {
    let now = t0();
    for i in 0..20 {
        s.enqueue_action(&action(
            &format!("act-{i:02}"),
            now + Duration::milliseconds(i),
            ActionStatus::Pending,
        ))
        .await
        .unwrap();
    }
    let dup = s
        .enqueue_action(&action("act-00", now, ActionStatus::Pending))
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup}");
    assert_eq!(s.queue_depth().await.unwrap(), 20);

    // Eight runners race for twenty actions: each is claimed exactly once.
    let mut tasks = Vec::new();
    for r in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(a) = s
                .claim_action(&claim(&format!("runner-{r}"), now))
                .await
                .unwrap()
            {
                got.push(a.exec_id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all.len(), 20);
    all.dedup();
    assert_eq!(all.len(), 20, "no action claimed twice");

    let a = s.get_action("act-00").await.unwrap().unwrap();
    assert_eq!(a.status, ActionStatus::Executing);
    assert!(a.runner_started_at.is_some());
    let holder = a.runner_id.clone().unwrap();
    let result = RemediationResult {
        exec_id: "act-00".into(),
        timestamp: now,
        incident_id: a.incident_id.clone(),
        service: a.service.clone(),
        action: a.action.clone(),
        status: ActionStatus::Executed,
        runner_started_at: a.runner_started_at,
        runner_output: Some("restarted".into()),
        executed_at: Some(now),
        docker_used: true,
    };
    assert!(!s.complete_action("someone-else", &result).await.unwrap());
    assert!(s.complete_action(&holder, &result).await.unwrap());
    assert!(
        !s.complete_action(&holder, &result).await.unwrap(),
        "completes once"
    );
    let done = s.get_action("act-00").await.unwrap().unwrap();
    assert_eq!(done.status, ActionStatus::Executed);
    assert_eq!(done.runner_output.as_deref(), Some("restarted"));
    assert!(s.get_result("act-00").await.unwrap().unwrap().docker_used);

    // Leases: after expiry an action is claimed again (attempt 2), then retired as failed.
    let later = now + Duration::seconds(31);
    let again = s
        .claim_action(&claim("runner-x", later))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.attempts, 2);
    assert!(
        s.renew_lease(&again.exec_id, "runner-x", later + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert!(
        !s.renew_lease(&again.exec_id, "runner-y", later)
            .await
            .unwrap()
    );
    // Only the holder records its intent; a later claim reads it back.
    let intent = serde_json::json!({"claim": "runner-x", "attempt": 2, "targets": [{"name": "payment-service"}]});
    assert!(
        !s.record_intent(&again.exec_id, "runner-y", later, &intent)
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_action(&again.exec_id).await.unwrap().unwrap().intent,
        None
    );
    assert!(
        s.record_intent(
            &again.exec_id,
            "runner-x",
            later + Duration::minutes(5),
            &intent
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.get_action(&again.exec_id).await.unwrap().unwrap().intent,
        Some(intent)
    );
    // Runner-x dies. Its action (attempt 2 of 2) is retired; the other eighteen get their
    // second attempt; once those leases run out too, everything is retired, none lost.
    let much_later = later + Duration::minutes(6);
    let mut second = 0;
    while let Some(a) = s
        .claim_action(&claim("runner-z", much_later))
        .await
        .unwrap()
    {
        assert_eq!(a.attempts, 2);
        assert_ne!(a.exec_id, again.exec_id);
        second += 1;
    }
    assert_eq!(second, 18);
    let mut failed = 0;
    let final_time = much_later + Duration::minutes(1);
    if let Some(a) = s
        .claim_action(&claim("runner-z", final_time))
        .await
        .unwrap()
    {
        panic!(
            "{} should have been retired, got attempt {}",
            a.exec_id, a.attempts
        );
    }
    for i in 1..20 {
        let a = s.get_action(&format!("act-{i:02}")).await.unwrap().unwrap();
        if a.status == ActionStatus::Failed {
            failed += 1;
            assert!(a.runner_output.unwrap().contains("abandoned"));
        }
    }
    assert_eq!(failed, 19);
    assert_eq!(s.queue_depth().await.unwrap(), 0);

    // The original agents' convention: `executing` with no runner_started_at is unclaimed.
    s.enqueue_action(&action("legacy-1", now, ActionStatus::Executing))
        .await
        .unwrap();
    let legacy = s
        .claim_action(&claim("runner-l", final_time))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(legacy.exec_id, "legacy-1");

    let listed = s
        .list_actions(&ActionFilter {
            status: Some(ActionStatus::Failed),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 5);
    assert!(listed.truncated);
}

pub async fn budgets_are_shared_and_expire(s: &dyn Store) {
    let w = Duration::seconds(300);
    let key = "restart:payment-service";
    for i in 0..3 {
        let d = s
            .take_budget(key, 3, w, t0() + Duration::seconds(i * 10))
            .await
            .unwrap();
        assert_eq!(
            d,
            BudgetDecision::Granted {
                used: i as u32 + 1,
                max: 3
            }
        );
    }
    let refused = s
        .take_budget(key, 3, w, t0() + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(
        refused,
        BudgetDecision::Exhausted {
            max: 3,
            retry_at: t0() + w
        }
    );
    assert_eq!(
        s.budget_used(key, w, t0() + Duration::seconds(60))
            .await
            .unwrap(),
        3
    );
    // Another key is independent.
    assert!(matches!(
        s.take_budget("restart:auth-service", 3, w, t0())
            .await
            .unwrap(),
        BudgetDecision::Granted { .. }
    ));
    let after = s
        .take_budget(key, 3, w, t0() + w + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(after, BudgetDecision::Granted { used: 3, max: 3 });
}

pub async fn faults_round_trip(s: &dyn Store) {
    let mut f = FaultRecord {
        id: "flt-1".into(),
        service: "auth-cache".into(),
        kind: "cache_offline".into(),
        started_at: t0(),
        expires_at: t0() + Duration::seconds(60),
        undo: json!({"op": "start"}),
        state: "active".into(),
        detail: None,
    };
    s.put_fault(&f).await.unwrap();
    assert_eq!(s.active_faults().await.unwrap().len(), 1);
    f.state = "undone".into();
    s.put_fault(&f).await.unwrap();
    assert!(s.active_faults().await.unwrap().is_empty());
    assert_eq!(s.get_fault("flt-1").await.unwrap().unwrap().state, "undone");
}

pub async fn plans_are_decided_once_and_used_once(s: &dyn Store) {
    let plan = |id: &str, status: PlanStatus, at: i64| PlanRecord {
        id: id.into(),
        created_at: t0() + Duration::seconds(at),
        expires_at: t0() + Duration::seconds(at + 600),
        tool: "stop_container".into(),
        arguments: json!({"service": "payment-service"}),
        service: Some("payment-service".into()),
        targets: vec![PlanTarget {
            host: "local".into(),
            service: "payment-service".into(),
            container_id: "0123456789ab".into(),
        }],
        requester: "agent".into(),
        operations: vec!["docker stop payment-service".into()],
        expected_downtime_seconds: 0,
        takes_capacity: true,
        status,
        decided_by: None,
        decided_at: None,
        note: None,
        used_at: None,
    };
    let p = plan("plan-1", PlanStatus::Pending, 0);
    s.put_plan(&p).await.unwrap();
    assert!(s.put_plan(&p).await.is_err(), "a plan id is issued once");
    s.put_plan(&plan("plan-2", PlanStatus::Issued, 1))
        .await
        .unwrap();
    assert_eq!(s.get_plan("plan-1").await.unwrap().as_ref(), Some(&p));
    assert!(s.get_plan("plan-nope").await.unwrap().is_none());

    let mut approved = p.clone();
    approved.status = PlanStatus::Approved;
    approved.decided_by = Some("lead".into());
    assert!(
        s.update_plan_if(&approved, PlanStatus::Pending)
            .await
            .unwrap()
    );
    let mut denied = p.clone();
    denied.status = PlanStatus::Denied;
    assert!(
        !s.update_plan_if(&denied, PlanStatus::Pending)
            .await
            .unwrap(),
        "a decided plan is not decided again"
    );
    let mut used = approved.clone();
    used.status = PlanStatus::Used;
    assert!(s.update_plan_if(&used, PlanStatus::Approved).await.unwrap());
    assert!(
        !s.update_plan_if(&used, PlanStatus::Approved).await.unwrap(),
        "a plan is used once"
    );
    let got = s.get_plan("plan-1").await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.decided_by.as_deref()),
        (PlanStatus::Used, Some("lead"))
    );

    let pending = s.list_plans(Some(PlanStatus::Pending), 10).await.unwrap();
    assert!(pending.items.is_empty());
    let all = s.list_plans(None, 10).await.unwrap();
    let ids: Vec<&str> = all.items.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["plan-2", "plan-1"], "newest first");
    let one = s.list_plans(None, 1).await.unwrap();
    assert!(one.truncated && one.items.len() == 1);
}

pub async fn tasks_round_trip_and_open_ones_are_listed(s: &dyn Store) {
    let task = |id: &str, status: TaskState, at: i64| TaskRecord {
        id: id.into(),
        created_at: t0() + Duration::seconds(at),
        updated_at: t0() + Duration::seconds(at),
        ttl_ms: 600_000,
        tool: "restart_container".into(),
        arguments: json!({"service": "payment-service"}),
        caller: "agent".into(),
        scopes: "read+operate".into(),
        surface: "http".into(),
        status,
        status_message: None,
        plan_id: Some("plan-1".into()),
        cancel_requested: false,
        started_acting: false,
        result: None,
        error: None,
    };
    s.put_task(&task("task-2", TaskState::InputRequired, 2))
        .await
        .unwrap();
    s.put_task(&task("task-1", TaskState::Working, 1))
        .await
        .unwrap();
    s.put_task(&task("task-3", TaskState::Completed, 3))
        .await
        .unwrap();
    let open: Vec<String> = s
        .open_tasks(10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(open, ["task-1", "task-2"], "open ones, oldest first");
    let mut done = task("task-1", TaskState::Completed, 1);
    done.result = Some(json!({"content": [], "isError": false}));
    s.put_task(&done).await.unwrap();
    assert_eq!(s.get_task("task-1").await.unwrap(), Some(done));
    assert_eq!(s.open_tasks(10).await.unwrap().len(), 1);
    assert!(s.get_task("task-nope").await.unwrap().is_none());
}

pub async fn restarts_are_counted_from_start_times(s: &dyn Store) {
    assert_eq!(s.observe_start("payment-service", t0()).await.unwrap(), 0);
    assert_eq!(
        s.observe_start("payment-service", t0()).await.unwrap(),
        0,
        "same start: no restart"
    );
    assert_eq!(
        s.observe_start("payment-service", t0() + Duration::seconds(5))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.observe_start("payment-service", t0() + Duration::seconds(1))
            .await
            .unwrap(),
        1,
        "an older view changes nothing"
    );
    assert_eq!(
        s.observe_start("payment-service", t0() + Duration::seconds(9))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.observe_start("auth-service", t0()).await.unwrap(), 0);
}

pub async fn scenarios_replace_and_are_marked(s: &dyn Store) {
    let now = t0();
    let a = seed::seed_scenario(s, seed::Scenario::MemoryLeak, now)
        .await
        .unwrap();
    let b = seed::seed_scenario(s, seed::Scenario::MemoryLeak, now)
        .await
        .unwrap();
    assert_eq!(a.metrics_written, b.metrics_written);
    assert!(b.replaced >= a.metrics_written as u64);
    let q = MetricQuery {
        service: "payment-service".into(),
        metric_type: MetricType::MemoryPercent,
        range: TimeRange {
            from: a.from,
            to: now,
        },
        aggregation: Aggregation::Max,
        max_points: 50,
    };
    let r = s.query_metrics(&q).await.unwrap();
    assert!(r.includes_scenario_data);
    assert_eq!(
        r.summary.count as usize,
        a.metrics_written / 6,
        "no duplicates after a re-run"
    );
    assert!(r.summary.max.unwrap() > 85.0 && r.summary.max.unwrap() < 90.0);
    let logs = s
        .search_logs(&LogQuery {
            error_code: Some("HEAP_PRESSURE".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(logs.items.len(), 3);
    assert!(
        logs.items
            .iter()
            .all(|l| l.source.as_deref() == Some("scenario"))
    );

    let d = seed::seed_scenario(s, seed::Scenario::DeploymentRollback, now)
        .await
        .unwrap();
    assert_eq!(d.deployments_written, 1);
    seed::seed_scenario(s, seed::Scenario::DeploymentRollback, now)
        .await
        .unwrap();
    let deps = s
        .list_deployments(&DeploymentFilter {
            service: Some("checkout-service".into()),
            range: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(deps.items.len(), 1);
    assert_eq!(deps.items[0].to_version, "3.5.0");
}

/// Runs every check against a fresh store from `$make`.
#[macro_export]
macro_rules! backend_suite {
    ($make:expr) => {
        #[tokio::test]
        async fn metrics() {
            let s = $make;
            metrics_summary_and_series(&*s).await;
        }
        #[tokio::test]
        async fn retention() {
            let s = $make;
            retention_drops_old_data(&*s).await;
        }
        #[tokio::test]
        async fn logs() {
            let s = $make;
            logs_search_dedup_and_counts(&*s).await;
        }
        #[tokio::test]
        async fn incidents() {
            let s = $make;
            incidents_and_similarity(&*s).await;
        }
        #[tokio::test]
        async fn records() {
            let s = $make;
            decisions_deployments_audit(&*s).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn queue() {
            let s = $make;
            queue_claims_once(s).await;
        }
        #[tokio::test]
        async fn budgets() {
            let s = $make;
            budgets_are_shared_and_expire(&*s).await;
        }
        #[tokio::test]
        async fn faults() {
            let s = $make;
            faults_round_trip(&*s).await;
        }
        #[tokio::test]
        async fn plans() {
            let s = $make;
            plans_are_decided_once_and_used_once(&*s).await;
        }
        #[tokio::test]
        async fn tasks() {
            let s = $make;
            tasks_round_trip_and_open_ones_are_listed(&*s).await;
        }
        #[tokio::test]
        async fn restarts() {
            let s = $make;
            restarts_are_counted_from_start_times(&*s).await;
        }
        #[tokio::test]
        async fn scenarios() {
            let s = $make;
            scenarios_replace_and_are_marked(&*s).await;
        }
    };
}

/// The suite on the Elasticsearch backend, through the local emulation of its API.
mod elasticsearch {
    use super::*;

    backend_suite!(support::emulator::Emulator::start().await.store());
}

/// The suite on a real cluster when `ELASTIC_URL` is set (each check under its own random
/// index prefix, deleted afterwards); without it these pass without running.
mod elasticsearch_live {
    use super::*;

    macro_rules! live {
        ($name:ident, |$s:ident| $body:expr) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(live) = support::live::Live::start().await else {
                    return;
                };
                let $s = live.store();
                $body.await;
                live.cleanup().await;
            }
        };
    }

    live!(metrics, |s| metrics_summary_and_series(&*s));
    live!(retention, |s| retention_drops_old_data(&*s));
    live!(logs, |s| logs_search_dedup_and_counts(&*s));
    live!(incidents, |s| incidents_and_similarity(&*s));
    live!(records, |s| decisions_deployments_audit(&*s));
    live!(queue, |s| queue_claims_once(s.clone()));
    live!(budgets, |s| budgets_are_shared_and_expire(&*s));
    live!(faults, |s| faults_round_trip(&*s));
    live!(plans, |s| plans_are_decided_once_and_used_once(&*s));
    live!(tasks, |s| tasks_round_trip_and_open_ones_are_listed(&*s));
    live!(restarts, |s| restarts_are_counted_from_start_times(&*s));
    live!(scenarios, |s| scenarios_replace_and_are_marked(&*s));
}

mod sqlite {
    use super::*;

    async fn fresh() -> Arc<dyn Store> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qs.db");
        // Keep the directory for the test's lifetime.
        std::mem::forget(dir);
        open(&StoreSpec::Sqlite(path)).await.unwrap()
    }

    backend_suite!(fresh().await);

    #[tokio::test]
    async fn two_handles_share_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qs.db");
        let a = open(&StoreSpec::Sqlite(path.clone())).await.unwrap();
        let b = open(&StoreSpec::Sqlite(path)).await.unwrap();
        a.put_metrics(&[metric(t0(), "s", MetricType::Up, 1.0)])
            .await
            .unwrap();
        let got = b.metric_services(t0()).await.unwrap();
        assert_eq!(got.len(), 1);
        // A budget taken through one handle counts in the other (separate processes share it).
        a.take_budget("k", 1, Duration::seconds(60), t0())
            .await
            .unwrap();
        assert!(matches!(
            b.take_budget("k", 1, Duration::seconds(60), t0())
                .await
                .unwrap(),
            BudgetDecision::Exhausted { .. }
        ));
    }

    #[tokio::test]
    async fn bad_files_are_clear_errors_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be.
        let e = open(&StoreSpec::Sqlite(dir.path().to_path_buf()))
            .await
            .err()
            .unwrap();
        assert!(
            e.to_string().contains(&dir.path().display().to_string()),
            "{e}"
        );

        // A file that is not a database.
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
        let e = open(&StoreSpec::Sqlite(junk.clone())).await.err().unwrap();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().contains("junk.db"), "{e}");
        assert_eq!(
            std::fs::read(&junk).unwrap(),
            vec![0x42u8; 8192],
            "the file is left untouched"
        );

        // A file from a newer schema is refused, not guessed at.
        let newer = dir.path().join("newer.db");
        {
            let c = rusqlite_conn(&newer);
            c.execute_batch("PRAGMA user_version = 999").unwrap();
        }
        let e = open(&StoreSpec::Sqlite(newer)).await.err().unwrap();
        assert!(e.to_string().contains("newer"), "{e}");
    }

    #[tokio::test]
    async fn a_locked_file_is_a_clear_error_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qs.db");
        let s = open(&StoreSpec::Sqlite(path.clone())).await.unwrap();
        // Another process holds the write lock.
        let holder = rusqlite_conn(&path);
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let started = std::time::Instant::now();
        let e = s
            .put_metrics(&[metric(t0(), "s", MetricType::Up, 1.0)])
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Locked { .. }), "{e:?}");
        assert!(e.to_string().contains("qs.db"));
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        holder.execute_batch("ROLLBACK").unwrap();
        assert_eq!(
            s.put_metrics(&[metric(t0(), "s", MetricType::Up, 1.0)])
                .await
                .unwrap(),
            1
        );
    }

    fn rusqlite_conn(p: &std::path::Path) -> rusqlite::Connection {
        rusqlite::Connection::open(p).unwrap()
    }
}
