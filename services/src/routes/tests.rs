//! Router tests through `oneshot`: response shapes, role routing, fault control and the
//! rule that faults never touch the operational endpoints.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::app;
use crate::config::Config;
use crate::log::{Logger, MemorySink};
use crate::state::AppState;

const FAULT_TOKEN: &str = "test-fault-token-0123";

fn setup(vars: &[(&str, &str)]) -> (Router, AppState, MemorySink) {
    let mut map: HashMap<String, String> = [
        ("PORT", "1"),
        ("MEMORY_LIMIT_MB", "4096"),
        ("QS_FAULT_TOKEN", FAULT_TOKEN),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in vars {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_lookup(|k| map.get(k).cloned()).unwrap();
    let sink = MemorySink::default();
    let logger = Logger::with_sink(&config.service_name, &config.region, Box::new(sink.clone()));
    let state = AppState::new(config, logger, CancellationToken::new()).unwrap();
    (app(state.clone()), state, sink)
}

async fn call(app: &Router, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("x-trace-id", "trace-test")
        .header("authorization", format!("Bearer {FAULT_TOKEN}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(app, req).await
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn health_has_every_field() {
    let (app, _, _) = setup(&[("SERVICE_NAME", "payment-service")]);
    let (status, h) = call(&app, "GET", "/health", "").await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "service",
        "version",
        "status",
        "uptime_seconds",
        "memory_percent",
        "memory_rss_mb",
        "cpu_percent",
        "error_rate",
        "request_latency_ms",
        "requests_per_min",
        "dependencies",
        "active_faults",
        "region",
        "role",
        "memory_limit_mb",
    ] {
        assert!(h.get(field).is_some(), "missing {field}: {h}");
    }
    assert_eq!(h["status"], "healthy");
    assert!(
        h["request_latency_ms"].is_null(),
        "no requests served yet: no p95, not 0 ms: {h}"
    );
    assert_eq!(h["memory_limit_mb"], 4096.0);
    assert!(h["memory_rss_mb"].as_f64().unwrap() > 0.0);
    let (status, _) = call(&app, "GET", "/livez", "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) = call(&app, "GET", "/readyz", "").await;
    assert_eq!((status, r["ready"].as_bool()), (StatusCode::OK, Some(true)));
}

#[tokio::test]
async fn business_requests_are_counted_and_wrong_roles_are_404() {
    let (app, _, _) = setup(&[("SERVICE_NAME", "payment-service")]);
    for _ in 0..3 {
        let (status, body) = call(&app, "POST", "/pay", r#"{"amount": 12.5}"#).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["trace_id"], "trace-test");
    }
    let (status, body) = call(&app, "POST", "/pay", r#"{"amount": -1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["error_code"], "INVALID_REQUEST");
    let (status, body) = call(&app, "POST", "/login", "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("auth role"),
        "{body}"
    );
    // Health probes do not count: 4 business requests, the 404 and /health are not.
    call(&app, "GET", "/health", "").await;
    let (_, h) = call(&app, "GET", "/health", "").await;
    assert_eq!(h["requests_per_min"], 4.0);
    assert_eq!(h["error_rate"], 0.0);
}

#[tokio::test]
async fn fault_lifecycle() {
    let (app, _, sink) = setup(&[("SERVICE_NAME", "payment-service")]);
    let (status, body) = call(
        &app,
        "POST",
        "/faults",
        r#"{"kind":"latency","ttl_seconds":60}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "added_ms");
    let (status, body) = call(&app, "POST", "/faults", "{oops").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "body");

    let (status, fault) = call(
        &app,
        "POST",
        "/faults",
        r#"{"kind":"error_spike","ttl_seconds":60,"error_share":1.0}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{fault}");
    let id = fault["id"].as_str().unwrap().to_owned();
    for key in ["kind", "params", "started_at", "expires_at"] {
        assert!(fault.get(key).is_some(), "{key} missing in {fault}");
    }
    let (status, body) = call(&app, "POST", "/pay", r#"{"amount": 1}"#).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["error_code"], "INTERNAL_SERVER_ERROR");
    // Fault control and health are untouched by the spike.
    let (status, list) = call(&app, "GET", "/faults", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["faults"].as_array().unwrap().len(), 1);
    let (status, h) = call(&app, "GET", "/health", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["error_rate"], 1.0);
    assert_eq!(h["active_faults"][0]["id"], id.as_str());
    assert!(
        sink.lines()
            .iter()
            .any(|l| l["error_code"] == "INTERNAL_SERVER_ERROR"
                && l["trace_id"] == "trace-test"
                && l["level"] == "ERROR")
    );

    let (status, _) = call(&app, "DELETE", &format!("/faults/{id}"), "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&app, "DELETE", &format!("/faults/{id}"), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["field"], "id");
    let (status, _) = call(&app, "POST", "/pay", r#"{"amount": 1}"#).await;
    assert_eq!(status, StatusCode::OK);

    call(
        &app,
        "POST",
        "/faults",
        r#"{"kind":"latency","ttl_seconds":60,"added_ms":5}"#,
    )
    .await;
    let (_, reset) = call(&app, "POST", "/faults/reset", "").await;
    assert_eq!(reset["ended"], 1);
}

#[tokio::test]
async fn latency_fault_slows_business_routes_only() {
    let (app, _, sink) = setup(&[("SERVICE_NAME", "inventory-service")]);
    let (status, _) = call(
        &app,
        "POST",
        "/faults",
        r#"{"kind":"latency","ttl_seconds":60,"added_ms":1100}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let started = Instant::now();
    for path in ["/health", "/livez", "/readyz", "/metrics", "/faults"] {
        call(&app, "GET", path, "").await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "ops slowed: {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let (status, body) = call(&app, "GET", "/stock/SKU-1", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(1100));
    assert!(
        sink.lines()
            .iter()
            .any(|l| l["error_code"] == "LATENCY_SLO_BREACH" && l["level"] == "WARN")
    );
    let (_, h) = call(&app, "GET", "/health", "").await;
    assert_eq!(h["status"], "degraded", "p95 above 1000 ms: {h}");
}

#[tokio::test]
async fn defective_release_fails_a_share_with_a_stack_head() {
    let (app, _, sink) = setup(&[
        ("SERVICE_NAME", "checkout-service"),
        ("SERVICE_VERSION", "3.5.0"),
        ("DEFECTIVE_VERSIONS", "3.5.0"),
    ]);
    let mut failed = 0;
    for _ in 0..200 {
        let (status, _) = call(&app, "POST", "/checkout", "{}").await;
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            failed += 1;
        }
    }
    // ~30 % fail with the defect; the rest fail 503 because no dependencies are configured.
    assert!((30..=90).contains(&failed), "{failed} of 200");
    let lines = sink.lines();
    let npe = lines
        .iter()
        .find(|l| l["error_code"] == "UNHANDLED_EXCEPTION")
        .expect("an UNHANDLED_EXCEPTION line");
    assert_eq!(npe["level"], "ERROR");
    assert!(
        npe["message"]
            .as_str()
            .unwrap()
            .contains("java.lang.NullPointerException")
    );
}

#[tokio::test]
async fn cache_role_stores_sessions() {
    let (app, state, _) = setup(&[("SERVICE_NAME", "auth-cache")]);
    let (status, _) = call(&app, "PUT", "/sessions/sess-1", r#"{"username":"ada"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&app, "GET", "/sessions/sess-1", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["session"]["username"], "ada");
    let (status, body) = call(&app, "GET", "/sessions/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["error_code"], "SESSION_NOT_FOUND");
    assert_eq!(state.sessions().len(), 1);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let (app, _, _) = setup(&[("SERVICE_NAME", "payment-service")]);
    call(&app, "POST", "/pay", r#"{"amount": 3}"#).await;
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for name in [
        crate::metrics::names::REQUESTS_TOTAL,
        crate::metrics::names::MEMORY_PERCENT,
        crate::metrics::names::REQUESTS_PER_MIN,
        crate::metrics::names::HEALTH_STATUS,
    ] {
        assert!(
            text.contains(&format!("# TYPE {name}")),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.contains(r#"route="/pay",status="200"} 1"#), "{text}");
    // A histogram (not a summary), so Prometheus computes p95 across scrapes.
    let h = crate::metrics::names::REQUEST_DURATION_SECONDS;
    assert!(text.contains(&format!("# TYPE {h} histogram")), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with(&format!("{h}_bucket"))
            && l.contains(r#"le="0.005""#)
            && l.contains(r#"route="/pay""#)),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with(&format!("{h}_count"))
            && l.contains(r#"service="payment-service""#)
            && l.ends_with(" 1")),
        "{text}"
    );
}

#[tokio::test]
async fn fault_control_takes_only_the_token_json_and_no_browser() {
    let spec = r#"{"kind":"latency","ttl_seconds":10,"added_ms":1}"#;
    let req = |token: Option<&str>, ctype: &str, origin: Option<&str>| {
        let mut b = Request::builder()
            .method("POST")
            .uri("/faults")
            .header("content-type", ctype);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(Body::from(spec)).unwrap()
    };
    let (app, _, _) = setup(&[("SERVICE_NAME", "inventory-service")]);
    let cases = [
        (None, "application/json", None, StatusCode::UNAUTHORIZED),
        (
            Some("wrong-token-0123456789"),
            "application/json",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(FAULT_TOKEN),
            "text/plain",
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some(FAULT_TOKEN),
            "application/json",
            Some("https://evil.example"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (token, ctype, origin, want) in cases {
        let (status, body) = send(&app, req(token, ctype, origin)).await;
        assert_eq!(status, want, "{token:?} {ctype} {origin:?}: {body}");
    }
    let (_, list) = call(&app, "GET", "/faults", "").await;
    assert_eq!(list["faults"], serde_json::json!([]), "nothing started");
    let (status, _) = send(&app, req(Some(FAULT_TOKEN), "application/json", None)).await;
    assert_eq!(status, StatusCode::CREATED);

    // Without a token configured, fault control is off altogether.
    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("PORT".into(), "1".into());
    map.insert("SERVICE_NAME".into(), "inventory-service".into());
    let config = Config::from_lookup(|k| map.get(k).cloned()).unwrap();
    let logger = Logger::with_sink(
        &config.service_name,
        &config.region,
        Box::new(MemorySink::default()),
    );
    let state = AppState::new(config, logger, CancellationToken::new()).unwrap();
    let (status, body) = send(
        &app_of(state),
        req(Some(FAULT_TOKEN), "application/json", None),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("QS_FAULT_TOKEN"),
        "{body}"
    );
}

fn app_of(state: AppState) -> Router {
    app(state)
}
