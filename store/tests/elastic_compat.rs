//! Compatibility with the original pipeline's indices: documents in the exact shapes of
//! seed 001 (metrics, logs, incidents, agent decisions) and of the original runner's
//! action and result documents, written by "another writer" (straight into the emulated
//! index, with its own ids) are read by our store, and what our store writes keeps those
//! shapes. An action the original agents left `executing` with no `runner_started_at`
//! is claimed and completed by our runner without losing the agents' own fields.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use quantumstate_store::*;
use serde_json::{Value, json};
use support::emulator::{Emulator, docs};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Writes a document as another client would (`POST /{index}/_doc` with its own id).
fn foreign(emu: &Emulator, index: &str, id: &str, doc: Value) {
    let mut st = emu.state.lock().unwrap();
    let (status, body) = docs::write(&mut st, index, id, doc, true, None);
    assert_eq!(status, 201, "{body}");
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The indices exist with our mappings, as after any first use.
async fn prepared() -> (Emulator, std::sync::Arc<dyn Store>) {
    let emu = Emulator::start().await;
    let s = emu.store();
    let t = Utc.with_ymd_and_hms(2026, 2, 13, 14, 0, 0).unwrap();
    s.metric_services(t).await.unwrap();
    s.search_logs(&LogQuery {
        limit: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    s.list_incidents(&IncidentFilter {
        limit: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    s.list_decisions(&DecisionFilter {
        limit: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    s.queue_depth().await.unwrap();
    s.get_result("none").await.unwrap();
    (emu, s)
}

#[tokio::test]
async fn seed_001_documents_read_and_write_in_their_shapes() {
    let (emu, s) = prepared().await;
    let metric = json!({"@timestamp": "2026-02-13T14:32:00Z", "service": "payment-service",
        "region": "us-east-1", "metric_type": "memory_percent", "value": 74.3, "unit": "percent"});
    let log = json!({"@timestamp": "2026-02-13T14:45:00Z", "service": "payment-service",
        "region": "us-east-1", "level": "ERROR",
        "message": "JVM heap critical: 87.2% — GC overhead limit approaching",
        "trace_id": "trace-482910", "error_code": "HEAP_PRESSURE"});
    let incident = json!({"@timestamp": "2026-01-30T14:00:00Z", "service": "payment-service",
        "region": "us-east-1", "anomaly_type": "memory_leak_progressive",
        "root_cause": "Connection pool leak introduced in v2.1.0",
        "actions_taken": "Rolled back to v2.0.9", "resolved_at": "2026-01-30T14:47:00Z",
        "mttr_seconds": 2820, "status": "resolved"});
    let decision = json!({"@timestamp": "2026-02-13T14:48:00Z", "agent": "cassandra",
        "decision": "Memory leak detected on payment-service. Current: 87%, baseline: 52%. Rate: +1.3%/min. Time to critical: ~10 minutes. Confidence: 94%.",
        "confidence": 94, "service": "payment-service",
        "context": {"anomaly_type": "memory_leak_progressive", "region": "us-east-1"}});
    foreign(&emu, "metrics-quantumstate", "Vx1a", metric.clone());
    foreign(&emu, "logs-quantumstate", "Vx1b", log.clone());
    foreign(&emu, "incidents-quantumstate", "Vx1c", incident.clone());
    foreign(
        &emu,
        "agent-decisions-quantumstate",
        "Vx1d",
        decision.clone(),
    );

    // Read through the store.
    let q = MetricQuery {
        service: "payment-service".into(),
        metric_type: MetricType::MemoryPercent,
        range: TimeRange {
            from: at("2026-02-13T14:30:00Z"),
            to: at("2026-02-13T14:35:00Z"),
        },
        aggregation: Aggregation::Avg,
        max_points: 5,
    };
    let r = s.query_metrics(&q).await.unwrap();
    assert_eq!((r.summary.count, r.summary.last), (1, Some(74.3)));
    let logs = s
        .search_logs(&LogQuery {
            error_code: Some("HEAP_PRESSURE".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(logs.items.len(), 1);
    assert_eq!(serde_json::to_value(&logs.items[0]).unwrap(), log);
    let inc = s.get_incident("Vx1c").await.unwrap().unwrap();
    assert_eq!((inc.id.as_str(), inc.mttr_seconds), ("Vx1c", Some(2820)));
    assert_eq!(inc.title, "memory leak progressive on payment-service");
    let hits = s
        .similar_incidents(&SimilarQuery {
            description: "connection pool leak after v2.1.0".into(),
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .hits;
    assert_eq!(hits[0].item.id, "Vx1c");
    let dec = s
        .list_decisions(&DecisionFilter {
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (dec.items[0].id.as_str(), dec.items[0].confidence),
        ("Vx1d", 94)
    );
    assert_eq!(dec.items[0].context, decision["context"]);

    // Written by the store: the seed's fields, names and values, as they were.
    let m: Metric = serde_json::from_value(metric.clone()).unwrap();
    let mut m2 = m.clone();
    m2.timestamp = m.timestamp + Duration::minutes(1);
    s.put_metrics(&[m2]).await.unwrap();
    let written = emu
        .all("metrics-quantumstate")
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v["@timestamp"] != metric["@timestamp"])
        .unwrap();
    assert_eq!(keys(&written), keys(&metric));
    assert_eq!(written["value"], json!(74.3));
    let mut l: LogLine = serde_json::from_value(log.clone()).unwrap();
    l.trace_id = Some("trace-482911".into());
    assert_eq!(s.put_logs(&[l]).await.unwrap(), 1);
    let ours = emu
        .all("logs-quantumstate")
        .into_iter()
        .find(|(id, _)| id != "Vx1b")
        .unwrap()
        .1;
    assert_eq!(keys(&ours), keys(&log));
    let mut d2 = dec.items[0].clone();
    d2.id = "dec-ours".into();
    s.put_decision(&d2).await.unwrap();
    let ours = emu
        .source("agent-decisions-quantumstate", "dec-ours")
        .unwrap();
    for k in keys(&decision) {
        assert_eq!(ours[&k], decision[&k], "{k}");
    }
    s.put_incident(&inc).await.unwrap();
    let ours = emu.source("incidents-quantumstate", "Vx1c").unwrap();
    for k in keys(&incident) {
        assert_eq!(ours[&k].is_null(), incident[&k].is_null(), "{k}");
    }
}

#[tokio::test]
async fn the_original_agents_actions_are_claimed_and_completed() {
    let (emu, s) = prepared().await;
    let original = json!({"@timestamp": "2026-02-13T14:49:00Z", "exec_id": "exec-7f3a",
        "incident_id": "INC-20260213-001", "service": "payment-service",
        "action": "rollback_deployment", "status": "executing", "runner_started_at": null,
        "runner_output": null, "executed_at": null, "agent": "surgeon"});
    foreign(
        &emu,
        "remediation-actions-quantumstate",
        "qR2x9ZcBv",
        original.clone(),
    );
    let now = at("2026-02-13T14:49:05Z");
    let claim = Claim {
        runner_id: "qs-runner".into(),
        now,
        lease: Duration::seconds(30),
        max_attempts: 3,
    };
    let a = s.claim_action(&claim).await.unwrap().unwrap();
    assert_eq!(
        (a.exec_id.as_str(), a.action.as_str()),
        ("exec-7f3a", "rollback_deployment")
    );
    assert!(
        s.claim_action(&claim).await.unwrap().is_none(),
        "claimed once"
    );

    let raw = emu
        .source("remediation-actions-quantumstate", "qR2x9ZcBv")
        .unwrap();
    assert_eq!(
        raw["agent"],
        json!("surgeon"),
        "the agents' own fields are kept"
    );
    assert_eq!(raw["status"], json!("executing"));
    assert!(raw["runner_started_at"].is_string());

    let result = RemediationResult {
        exec_id: "exec-7f3a".into(),
        timestamp: now + Duration::seconds(20),
        incident_id: a.incident_id.clone(),
        service: a.service.clone(),
        action: a.action.clone(),
        status: ActionStatus::Executed,
        runner_started_at: a.runner_started_at,
        runner_output: Some("rolled back payment-service to 2.0.9".into()),
        executed_at: Some(now + Duration::seconds(20)),
        docker_used: true,
    };
    assert!(s.complete_action("qs-runner", &result).await.unwrap());
    let raw = emu
        .source("remediation-actions-quantumstate", "qR2x9ZcBv")
        .unwrap();
    assert_eq!(raw["status"], json!("executed"));
    assert!(raw["executed_at"].is_string() && raw["runner_output"].is_string());
    let res = emu
        .source("remediation-results-quantumstate", "exec-7f3a")
        .unwrap();
    let want = [
        "@timestamp",
        "action",
        "docker_used",
        "exec_id",
        "executed_at",
        "incident_id",
        "runner_output",
        "runner_started_at",
        "service",
        "status",
    ];
    assert_eq!(keys(&res), want);
    assert_eq!(
        s.get_action("exec-7f3a").await.unwrap().unwrap().status,
        ActionStatus::Executed
    );

    // A result the original runner wrote (its own id) is found by exec_id.
    let mut theirs = res.clone();
    theirs["exec_id"] = json!("exec-orig");
    theirs["docker_used"] = json!(false);
    foreign(
        &emu,
        "remediation-results-quantumstate",
        "b8Lk2ZcBv",
        theirs,
    );
    assert!(
        !s.get_result("exec-orig")
            .await
            .unwrap()
            .unwrap()
            .docker_used
    );
}

/// An original index created by another writer, with keyword fields and no analyzer of
/// ours: the store adds the fields it lacks with a built-in analyzer (a real cluster, like
/// the emulator, refuses a mapping naming `qs_words` there).
#[tokio::test]
async fn fields_added_to_an_original_index_use_only_built_in_analyzers() {
    let emu = Emulator::start().await;
    {
        let mut st = emu.state.lock().unwrap();
        let original = json!({"mappings": {"properties": {
            "id": {"type": "keyword"}, "service": {"type": "keyword"},
            "title": {"type": "text"}, "@timestamp": {"type": "date"}
        }}});
        let (status, body) = docs::create_index(&mut st, "incidents-quantumstate", &original);
        assert_eq!(status, 200, "{body}");
        // Our analyzer is refused on it, as on a cluster.
        let ours = json!({"properties": {"x": {"type": "text", "analyzer": "qs_words"}}});
        assert_eq!(
            support::emulator::fields::unknown_analyzer(
                &ours,
                &st.indices["incidents-quantumstate"].settings
            ),
            Some("qs_words".to_string())
        );
    }
    let s = emu.store();
    s.list_incidents(&IncidentFilter {
        limit: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let m = emu.state.lock().unwrap().indices["incidents-quantumstate"]
        .mappings
        .clone();
    let props = &m["properties"];
    assert!(
        props.get("anomaly_type").is_some(),
        "the missing field was added: {m}"
    );
    assert!(!m.to_string().contains("qs_words"), "{m}");
    assert_eq!(
        props["service"]["type"], "keyword",
        "existing fields untouched: {m}"
    );
}

/// A bulk whose samples were stored but whose rollup update was refused: sent again (as
/// the scraper does after an error), the minute's rollup counts every sample once; sent a
/// third time, nothing changes.
#[tokio::test]
async fn a_batch_sent_again_after_its_rollup_failed_completes_the_minute_once() {
    let (emu, s) = prepared().await;
    let t = at("2026-02-13T14:05:00Z");
    let batch: Vec<Metric> = (0..6)
        .map(|i| {
            Metric::measured(
                t + Duration::seconds(10 * i),
                "payment-service",
                "us-east-1",
                MetricType::MemoryPercent,
                40.0 + i as f64,
            )
        })
        .collect();
    emu.state.lock().unwrap().refuse_bulk_updates = true;
    let e = s.put_metrics(&batch).await.unwrap_err();
    assert!(e.to_string().contains("429"), "{e}");
    emu.state.lock().unwrap().refuse_bulk_updates = false;
    let rollups = "quantumstate-internal-metric-rollups";
    assert!(
        emu.all(rollups).is_empty(),
        "the refused update wrote nothing"
    );
    assert_eq!(
        emu.all("metrics-quantumstate").len(),
        6,
        "the samples were stored"
    );

    assert_eq!(s.put_metrics(&batch).await.unwrap(), 0, "no sample is new");
    let check = |emu: &Emulator| {
        let all = emu.all(rollups);
        assert_eq!(all.len(), 1, "{all:?}");
        let r = &all[0].1;
        assert_eq!(r["n"], 6, "{r}");
        assert_eq!(r["vsum"].as_f64(), Some(255.0), "{r}");
        assert_eq!(r["vmin"].as_f64(), Some(40.0), "{r}");
        assert_eq!(r["vmax"].as_f64(), Some(45.0), "{r}");
        assert_eq!(r["vlast"].as_f64(), Some(45.0), "{r}");
    };
    check(&emu);
    // A mixed batch: three samples already counted and one new.
    let mut more = batch[3..].to_vec();
    more.push(Metric::measured(
        t + Duration::seconds(55),
        "payment-service",
        "us-east-1",
        MetricType::MemoryPercent,
        50.0,
    ));
    assert_eq!(s.put_metrics(&more).await.unwrap(), 1);
    let all = emu.all(rollups);
    assert_eq!(all[0].1["n"], 7, "{}", all[0].1);
    assert_eq!(all[0].1["vsum"].as_f64(), Some(305.0));
    s.put_metrics(&more).await.unwrap();
    assert_eq!(
        emu.all(rollups)[0].1["n"],
        7,
        "a third send changes nothing"
    );
}

/// The emulator refuses a URL parameter the cluster does not know, so a typo in what the
/// backend sends fails every test that goes through it.
#[tokio::test]
async fn an_unknown_url_parameter_is_refused_as_a_cluster_refuses_it() {
    let emu = Emulator::start().await;
    let http = reqwest::Client::new();
    let bad = http
        .post(format!("{}/_bulk?refesh=true", emu.url))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(
        body["error"]["reason"], "request [/_bulk] contains unrecognized parameter: [refesh]",
        "{body}"
    );
    let good = http
        .get(format!("{}/some-index/_doc/x?realtime=true", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 404, "a known parameter passes to the API");
}
