//! The HTTP router in-process with `tower::ServiceExt::oneshot` (no sockets): health,
//! the tool listing, and how `POST /api/tools/{name}` maps tool errors to status codes.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use quantumstate_mcp::config::{HttpConfig, Token};
use quantumstate_mcp::{App, Config};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8080";
const LEAK_QUERY: &str =
    r#"{"description":"payment service heap keeps growing, GC pauses, after deploy"}"#;

fn http_config() -> HttpConfig {
    HttpConfig {
        listen: HOST.parse().expect("address"),
        allowed_hosts: Vec::new(),
        allowed_origins: Vec::new(),
        console_actions: false,
        session_idle: Duration::from_secs(600),
        mutation_rate_per_min: 30,
        max_sessions: (1000, 200),
        alerts: Default::default(),
    }
}

/// The router over a fresh store in `dir`, Docker absent; `tweak` adjusts the config.
fn build(dir: &tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> (Router, App) {
    let db = dir.path().join("q.db");
    let mut config = Config::local(&format!("sqlite:{}", db.display()));
    config.services = "payment-service,checkout-service,auth-service,inventory-service,auth-cache"
        .split(',')
        .map(str::to_string)
        .collect();
    config.docker_hosts = vec![quantumstate_fleet::HostSpec::at(
        "unix:///nonexistent/docker.sock",
    )];
    config.http = Some(http_config());
    tweak(&mut config);
    let app = App::new(config, CancellationToken::new());
    let (router, _state) = quantumstate_mcp::http::router(app.clone(), http_config());
    (router, app)
}

async fn seeded_router(dir: &tempfile::TempDir) -> Router {
    let (router, app) = build(dir, |_| {});
    quantumstate_mcp::commands::seed(app, None)
        .await
        .expect("seed the store");
    router
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(router: &Router, req: Request<Body>) -> Reply {
    let resp = tokio::time::timeout(Duration::from_secs(30), router.clone().oneshot(req))
        .await
        .expect("answered within 30 s")
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 4 * 1024 * 1024)
        .await
        .expect("read body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        headers,
        body,
    }
}

fn post(tool: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(format!("/api/tools/{tool}"))
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .expect("request")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn healthz_reports_store_and_docker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (router, _) = build(&dir, |_| {});
    let r = send(&router, get("/healthz")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "ok", "{}", r.body);
    assert_eq!(r.body["store"], "ok", "{}", r.body);
    assert!(
        r.body["docker"]
            .as_str()
            .is_some_and(|d| d.starts_with("unavailable")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn lists_tools_with_schemas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (router, _) = build(&dir, |_| {});
    let r = send(&router, get("/api/tools")).await;
    assert_eq!(r.status, StatusCode::OK);
    let tools = r.body["tools"].as_array().expect("tools");
    assert!(
        tools.iter().any(|t| t["name"] == "find_similar_incidents"),
        "{}",
        r.body
    );
    assert!(tools.iter().all(|t| t["outputSchema"].is_object()));

    let (read_only, _) = build(&dir, |c| c.read_only = true);
    let r = send(&read_only, get("/api/tools")).await;
    let tools = r.body["tools"].as_array().expect("tools");
    assert!(!tools.is_empty());
    assert!(
        tools
            .iter()
            .all(|t| t["annotations"]["readOnlyHint"] == json!(true)),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn tool_calls_map_to_status_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = seeded_router(&dir).await;

    // 200: the structured result itself.
    let r = send(&router, post("find_similar_incidents", LEAK_QUERY)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["incidents"][0]["id"], "inc-seed-001", "{}", r.body);
    assert_eq!(r.body["incidents"][0]["mttr_seconds"], 2820);

    // An empty body means no arguments.
    let r = send(&router, post("list_incidents", "")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // 400: bad arguments, not-JSON, not-an-object, unknown fields. No Retry-After.
    for (tool, body) in [
        (
            "record_decision",
            r#"{"agent":"a","decision":"d","confidence":140,"service":"payment-service"}"#,
        ),
        ("find_similar_incidents", r#"{"description":""}"#),
        (
            "find_similar_incidents",
            r#"{"description":"heap","limit":10000}"#,
        ),
        (
            "find_similar_incidents",
            r#"{"description":"heap","service":"nope-service"}"#,
        ),
        ("find_similar_incidents", r#"{"description":"heap","x":1}"#),
        ("list_incidents", r#"{"window":"-5m"}"#),
        ("list_incidents", "[1]"),
        ("list_incidents", "{oops"),
    ] {
        let r = send(&router, post(tool, body)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{tool} {body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], "invalid_argument", "{}", r.body);
        assert!(
            r.headers.get(header::RETRY_AFTER).is_none(),
            "{tool} {body}: Retry-After on a 400"
        );
    }

    // 404: unknown tool.
    let r = send(&router, post("no_such_tool", "{}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unknown_tool");

    // 503: Docker absent.
    let r = send(&router, post("list_services", "{}")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unavailable");

    // 413: over 1 MiB.
    let big = format!(
        r#"{{"description":"{}"}}"#,
        "x".repeat(quantumstate_mcp::http::MAX_BODY)
    );
    let r = send(&router, post("find_similar_incidents", big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
}

#[tokio::test]
async fn host_and_origin_checks_refuse_with_403() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (router, _) = build(&dir, |_| {});
    let mut req = post("list_incidents", "{}");
    req.headers_mut()
        .insert(header::HOST, "evil.example".parse().expect("header"));
    let r = send(&router, req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "forbidden");

    let mut req = post("list_incidents", "{}");
    req.headers_mut().insert(
        header::ORIGIN,
        "http://evil.example".parse().expect("header"),
    );
    let r = send(&router, req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Our own origin is fine.
    let mut req = post("list_incidents", "{}");
    req.headers_mut().insert(
        header::ORIGIN,
        "http://127.0.0.1:8080".parse().expect("header"),
    );
    let r = send(&router, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // /healthz is behind the Host check too.
    let mut req = get("/healthz");
    req.headers_mut()
        .insert(header::HOST, "evil.example".parse().expect("header"));
    assert_eq!(send(&router, req).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn read_only_and_read_tokens_get_403_and_no_token_401() {
    let dir = tempfile::tempdir().expect("tempdir");
    let decision = r#"{"agent":"a","decision":"d","confidence":80,"service":"payment-service"}"#;

    let (read_only, _) = build(&dir, |c| c.read_only = true);
    let r = send(&read_only, post("record_decision", decision)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "forbidden");

    let (guarded, _) = build(&dir, |c| {
        c.tokens = vec![
            Token::parse("ops:0123456789abcdef").expect("token"),
            Token::parse("viewer:fedcba9876543210:read").expect("token"),
        ];
    });
    let r = send(&guarded, post("record_decision", decision)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unauthorized");
    assert!(r.headers.get(header::WWW_AUTHENTICATE).is_some());

    let with = |secret: &str| {
        let mut req = post("record_decision", decision);
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {secret}").parse().expect("header"),
        );
        req
    };
    let r = send(&guarded, with("wrong-secret-value")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = send(&guarded, with("fedcba9876543210")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = send(&guarded, with("0123456789abcdef")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["decision"]["confidence"], 80);

    // Health stays open without a token.
    assert_eq!(send(&guarded, get("/healthz")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn mutation_rate_limit_is_429_with_retry_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (router, _) = build(&dir, |c| {
        if let Some(h) = c.http.as_mut() {
            h.mutation_rate_per_min = 1;
        }
    });
    let decision = r#"{"agent":"a","decision":"d","confidence":80,"service":"payment-service"}"#;
    let r = send(&router, post("record_decision", decision)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send(&router, post("record_decision", decision)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    let retry = r
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("a numeric Retry-After on 429");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(r.body["error"]["retry_after_seconds"], retry);
    // Dry runs are not mutations and stay allowed.
    let dry = r#"{"agent":"a","decision":"d","confidence":80,"service":"payment-service","dry_run":true}"#;
    let r = send(&router, post("record_decision", dry)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
