//! The failure modes of the Elasticsearch backend, each from a hand-written fixture in
//! `tests/fixtures/elasticsearch/` built from Elasticsearch's documented error bodies:
//! bad API key (401), back-pressure (429, then success or exhaustion), request too large
//! (413), read-only cluster, red cluster, missing index, mapping conflicts, and a claim
//! lost to another runner (409). Each asserts a clear error naming the URL, never a secret.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use quantumstate_store::elastic::{Auth, ElasticStore};
use quantumstate_store::*;
use support::emulator::test_config;
use support::replay::Replay;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

async fn replay(name: &str) -> (Replay, ElasticStore) {
    let r = Replay::start(&[name]).await;
    let s = ElasticStore::new(&test_config(&r.url)).unwrap();
    (r, s)
}

fn lines() -> Vec<LogLine> {
    let line = |t: DateTime<Utc>, level, code: Option<&str>, msg: &str| LogLine {
        timestamp: t,
        service: "auth-service".into(),
        region: "us-east-1".into(),
        level,
        message: msg.into(),
        trace_id: Some(format!("trace-{}", t.timestamp())),
        error_code: code.map(str::to_string),
        source: None,
    };
    vec![
        line(
            t0(),
            Level::Critical,
            Some("CACHE_OFFLINE"),
            "session cache OFFLINE",
        ),
        line(t0() + Duration::seconds(1), Level::Info, None, "login ok"),
    ]
}

#[tokio::test]
async fn error_401_bad_api_key() {
    let r = Replay::start(&["error_401_bad_api_key"]).await;
    let mut cfg = test_config(&r.url);
    cfg.auth = Auth::ApiKey("qs-key:wrong-secret".into());
    let s = ElasticStore::new(&cfg).unwrap();
    let e = s.put_logs(&lines()).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Open { .. }), "{e:?}");
    assert!(
        msg.contains(&r.url) && msg.contains("401") && msg.contains("ELASTIC_API_KEY"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-secret"), "{msg}");
    assert!(!e.is_transient());
    r.finish();
}

#[tokio::test]
async fn error_429_then_success() {
    let (r, s) = replay("error_429_then_success").await;
    assert_eq!(s.put_logs(&lines()).await.unwrap(), 2);
    r.finish();
}

#[tokio::test]
async fn error_429_exhausted() {
    let (r, s) = replay("error_429_exhausted").await;
    let e = s.put_logs(&lines()).await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("429") && msg.contains("3 attempt(s)") && msg.contains(&r.url),
        "{msg}"
    );
    assert!(e.is_transient());
    r.finish();
}

#[tokio::test]
async fn error_413_split() {
    let (r, s) = replay("error_413_split").await;
    assert_eq!(s.put_logs(&lines()).await.unwrap(), 2);
    r.finish();
}

#[tokio::test]
async fn error_read_only() {
    let (r, s) = replay("error_read_only").await;
    let e = s.put_logs(&lines()).await.unwrap_err();
    assert!(matches!(e, StoreError::ReadOnly { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&r.url) && msg.contains("flood-stage"), "{msg}");
    r.finish();
}

#[tokio::test]
async fn error_mapping_conflict() {
    let (r, s) = replay("error_mapping_conflict").await;
    let e = s.put_logs(&lines()).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    let msg = e.to_string();
    for want in [
        "logs-quantumstate",
        "level: is text, QuantumState needs keyword",
        "service: is text, QuantumState needs keyword",
        "left unchanged",
        "ELASTIC_INDEX_PREFIX",
    ] {
        assert!(msg.contains(want), "{want:?} missing from {msg}");
    }
    r.finish();
}

#[tokio::test]
async fn error_mapper_parsing() {
    let (r, s) = replay("error_mapper_parsing").await;
    let m = Metric::measured(
        t0() + Duration::seconds(20),
        "payment-service",
        "us-east-1",
        MetricType::MemoryPercent,
        52.0,
    );
    let e = s.put_metrics(&[m]).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("metrics-quantumstate") && msg.contains("failed to parse field [value]"),
        "{msg}"
    );
    r.finish();
}

#[tokio::test]
async fn error_cluster_red() {
    let (r, s) = replay("error_cluster_red").await;
    let e = s.ping().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&r.url) && msg.contains("red") && msg.contains("primary shard is not active"),
        "{msg}"
    );
    r.finish();
}

#[tokio::test]
async fn error_missing_index() {
    let (r, s) = replay("error_missing_index").await;
    let e = s.ping().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    // The next call sets the index up again.
    s.ping().await.unwrap();
    r.finish();
}

#[tokio::test]
async fn claim_conflict_409() {
    let (r, s) = replay("claim_conflict_409").await;
    let claim = Claim {
        runner_id: "runner-a".into(),
        now: t0() + Duration::seconds(1),
        lease: Duration::seconds(30),
        max_attempts: 3,
    };
    let got = s.claim_action(&claim).await.unwrap().unwrap();
    assert_eq!(got.exec_id, "act-2", "act-1 went to another runner");
    r.finish();
}

#[tokio::test]
async fn similar_incidents_semantic() {
    let (r, s) = replay("similar_incidents_semantic").await;
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
    r.finish();
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let s = ElasticStore::new(&test_config(&url)).unwrap();
    let e = s.ping().await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&url) && msg.contains("ELASTIC_URL"), "{msg}");
}

#[tokio::test]
async fn describe_shows_no_secret() {
    let mut cfg = test_config("https://elastic:hunter2@es.example:9243")
        .with_prefix("qs-")
        .unwrap();
    cfg.auth = Auth::ApiKey("id:topsecret".into());
    let s = ElasticStore::new(&cfg).unwrap();
    let d = s.describe();
    assert_eq!(
        d,
        "elasticsearch:https://es.example:9243 (indices prefixed \"qs-\")"
    );
    assert!(!format!("{cfg:?}").contains("topsecret") && !format!("{cfg:?}").contains("hunter2"));
}

/// The replay is strict: a request the fixture does not hold fails the test.
#[tokio::test]
#[should_panic(expected = "requests did not match the fixtures")]
async fn replay_rejects_an_unrecorded_request() {
    let (r, s) = replay("take_budget").await;
    let _ = s
        .take_budget("restart:auth-service", 2, Duration::seconds(300), t0())
        .await;
    r.finish();
}
