//! The console's routes in-process with `tower::ServiceExt::oneshot`: signing in with
//! `/?token=` (an HttpOnly cookie, then a redirect), 401 pages without a token, ETags and
//! 304s on the page, its assets and read-tool results, the CSP, and the console gate on
//! mutations (403 without --console-actions, audited like any refusal).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use quantumstate_mcp::config::{HttpConfig, Token};
use quantumstate_mcp::http::csrf_for_secret;
use quantumstate_mcp::{App, Config};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:8080";
const SECRET: &str = "0123456789abcdef";
const READ_SECRET: &str = "fedcba9876543210";
const DECISION: &str = r#"{"agent":"console-test","decision":"restart it","confidence":50,"service":"payment-service"}"#;

fn http_config(console_actions: bool) -> HttpConfig {
    HttpConfig {
        listen: HOST.parse().expect("address"),
        allowed_hosts: Vec::new(),
        allowed_origins: Vec::new(),
        console_actions,
        session_idle: Duration::from_secs(600),
        mutation_rate_per_min: 30,
        max_sessions: (1000, 200),
        alerts: Default::default(),
    }
}

/// The router over a fresh store in `dir` (seeded), Docker absent, with or without tokens.
async fn build(dir: &tempfile::TempDir, tokens: bool, console_actions: bool) -> Router {
    let db = dir.path().join("q.db");
    let mut config = Config::local(&format!("sqlite:{}", db.display()));
    config.services = "payment-service,checkout-service,auth-service,inventory-service,auth-cache"
        .split(',')
        .map(str::to_string)
        .collect();
    config.docker_hosts = vec![quantumstate_fleet::HostSpec::at(
        "unix:///nonexistent/docker.sock",
    )];
    config.http = Some(http_config(console_actions));
    if tokens {
        config.tokens = vec![
            Token::parse(&format!("ops:{SECRET}")).expect("token"),
            Token::parse(&format!("viewer:{READ_SECRET}:read")).expect("token"),
        ];
    }
    let app = App::new(config, CancellationToken::new());
    quantumstate_mcp::commands::seed(app.clone(), None)
        .await
        .expect("seed the store");
    quantumstate_mcp::http::router(app, http_config(console_actions)).0
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn send(router: &Router, req: Request<Body>) -> Reply {
    let resp = tokio::time::timeout(Duration::from_secs(30), router.clone().oneshot(req))
        .await
        .expect("answered within 30 s")
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 8 * 1024 * 1024)
        .await
        .expect("read body");
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str) -> axum::http::request::Builder {
    Request::get(path).header(header::HOST, HOST)
}

/// GET `path` with the console's cookie for the test token.
async fn signed_in(router: &Router, path: &str) -> Reply {
    send(
        router,
        get(path)
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .body(Body::empty())
            .expect("req"),
    )
    .await
}

fn tool(name: &str) -> axum::http::request::Builder {
    Request::post(format!("/console/api/tools/{name}"))
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
}

/// The same tool as a script calls it: `/api/tools`, bearer token only.
fn script_tool(name: &str) -> axum::http::request::Builder {
    Request::post(format!("/api/tools/{name}"))
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
}

fn cookie(secret: &str) -> String {
    format!("theme=dark; qs_token={secret}")
}

fn assert_console_headers(r: &Reply) {
    let csp = r.header(header::CONTENT_SECURITY_POLICY);
    assert!(csp.starts_with("default-src 'self'"), "CSP: {csp:?}");
    for directive in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(r.header(header::REFERRER_POLICY), "no-referrer");
}

#[tokio::test]
async fn without_a_token_the_page_is_a_401_that_says_how_to_sign_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, false).await;

    let r = send(&router, get("/").body(Body::empty()).expect("req")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert!(r.text.contains("/?token=SECRET"), "{}", r.text);
    assert!(!r.text.contains(SECRET));
    assert!(r.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(r.header(header::CACHE_CONTROL), "no-store");
    assert_console_headers(&r);

    // A wrong token in the link: 401, nothing remembered.
    let r = send(
        &router,
        get("/?token=not-the-secret")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("not valid"), "{}", r.text);
    assert!(r.headers.get(header::SET_COOKIE).is_none());

    // A stale cookie: 401, and the cookie is cleared.
    let r = send(
        &router,
        get("/")
            .header(header::COOKIE, cookie("stale-secret-value"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("no longer accepted"), "{}", r.text);
    assert!(
        r.header(header::SET_COOKIE).contains("Max-Age=0"),
        "{:?}",
        r.headers
    );

    // The data routes stay JSON 401s.
    let r = send(
        &router,
        tool("list_incidents").body(Body::from("{}")).expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "unauthorized", "{}", r.text);
}

#[tokio::test]
async fn the_token_link_sets_an_httponly_cookie_and_redirects_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, false).await;

    let r = send(
        &router,
        get(&format!("/?token={SECRET}"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header(header::LOCATION), "/");
    assert_eq!(r.header(header::CACHE_CONTROL), "no-store");
    let set = r.header(header::SET_COOKIE);
    assert!(set.starts_with(&format!("qs_token={SECRET};")), "{set}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "cookie lacks {attr}: {set}");
    }

    // The cookie (among others) opens the page, which names the caller and has no inline code.
    let r = signed_in(&router, "/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert!(
        r.text.contains(r#"<meta name="qs-caller" content="ops">"#),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(r#"<meta name="qs-actions" content="">"#),
        "read-only console"
    );
    assert!(
        !r.text.contains(" onclick=") && !r.text.contains("<script>"),
        "no inline script"
    );
    assert_console_headers(&r);

    // So does a bearer token; and the cookie then calls tools like any client.
    let r = send(
        &router,
        get("/")
            .header(header::AUTHORIZATION, format!("Bearer {READ_SECRET}"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains(r#"content="viewer""#));
    let r = send(
        &router,
        tool("list_incidents")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .body(Body::from(r#"{"limit":3}"#))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["incidents"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn page_and_assets_revalidate_with_etags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, false).await;

    let page = signed_in(&router, "/").await;
    let tag = page.header(header::ETAG).to_string();
    assert!(tag.starts_with('"'), "ETag {tag:?}");
    let r = send(
        &router,
        get("/")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header(header::IF_NONE_MATCH, &tag)
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.text.is_empty());

    // Assets are code, not data: served without a token, with their own ETags.
    for (file, mime) in [
        ("app.js", "text/javascript"),
        ("chart.js", "text/javascript"),
        ("console.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = send(
            &router,
            get(&format!("/console/{file}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{file}");
        assert!(
            r.header(header::CONTENT_TYPE).starts_with(mime),
            "{file}: {:?}",
            r.headers
        );
        assert_console_headers(&r);
        let tag = r.header(header::ETAG).to_string();
        let again = send(
            &router,
            get(&format!("/console/{file}"))
                .header(header::IF_NONE_MATCH, &tag)
                .body(Body::empty())
                .expect("req"),
        )
        .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{file}");
    }
    let r = send(
        &router,
        get("/console/../../etc/passwd")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    // Only the embedded files exist; a path with more segments is no console route at all.
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED),
        "{}",
        r.status
    );
    let r = send(
        &router,
        get("/console/secrets.js").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn read_tool_results_carry_etags_and_polls_get_304() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, false).await;
    let call = |etag: Option<&str>, body: &'static str| {
        let mut b = tool("list_incidents")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header("x-quantumstate-console", "1");
        if let Some(t) = etag {
            b = b.header(header::IF_NONE_MATCH, t);
        }
        b.body(Body::from(body)).expect("req")
    };
    let first = send(&router, call(None, r#"{"limit":5}"#)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let tag = first.header(header::ETAG).to_string();
    assert!(!tag.is_empty(), "{:?}", first.headers);

    let again = send(&router, call(Some(&tag), r#"{"limit":5}"#)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.text.is_empty());
    assert_eq!(again.header(header::ETAG), tag);

    // Other arguments, other result: a full answer with another tag.
    let other = send(&router, call(Some(&tag), r#"{"limit":2}"#)).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_ne!(other.header(header::ETAG), tag);

    // Errors and mutations carry no ETag (a mutation is never answered 304).
    let bad = send(&router, call(Some(&tag), r#"{"limit":0}"#)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.headers.get(header::ETAG).is_none());
    let r = send(
        &router,
        script_tool("record_decision")
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .header(header::IF_NONE_MATCH, "*")
            .body(Body::from(DECISION))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers.get(header::ETAG).is_none());
}

#[tokio::test]
async fn console_mutations_are_refused_without_console_actions_and_audited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, false).await;

    // On the console's routes, by bearer or by the console's cookie: 403, with the flag named.
    for req in [
        tool("record_decision")
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .header("x-quantumstate-console", "1"),
        tool("record_decision")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET)),
        tool("inject_fault")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header("x-quantumstate-console", "1"),
    ] {
        let body = if req
            .uri_ref()
            .is_some_and(|u| u.path().ends_with("inject_fault"))
        {
            r#"{"service":"payment-service","kind":"memory_leak","ttl_seconds":60}"#
        } else {
            DECISION
        };
        let r = send(&router, req.body(Body::from(body)).expect("req")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let e = r.json();
        assert_eq!(e["error"]["code"], "forbidden", "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("--console-actions"),
            "{e}"
        );
    }

    // Reads from the console pass; so does the same mutation from a script with a bearer token.
    let r = send(
        &router,
        tool("list_decisions")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header("x-quantumstate-console", "1")
            .body(Body::from("{}"))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = send(
        &router,
        script_tool("record_decision")
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .body(Body::from(DECISION))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Every refusal is in the audit trail under the token's name.
    let r = send(
        &router,
        script_tool("list_audit")
            .header(header::AUTHORIZATION, format!("Bearer {SECRET}"))
            .body(Body::from(r#"{"outcome":"refused"}"#))
            .expect("req"),
    )
    .await;
    let records = r.json()["records"].as_array().cloned().unwrap_or_default();
    // The two identical record_decision refusals fold into one record that counts both.
    let total: u64 = records
        .iter()
        .map(|x| x["repeats"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(total, 3, "{}", r.text);
    assert!(records.iter().all(|x| x["who"] == "ops"), "{}", r.text);
    assert!(
        records
            .iter()
            .any(|x| x["tool"] == "inject_fault" && x["service"] == "payment-service"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn with_console_actions_the_page_may_drill_and_restart_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, true).await;

    let r = signed_in(&router, "/").await;
    assert!(
        r.text.contains(
            r#"<meta name="qs-actions" content="inject_fault,reset_faults,restart_container">"#
        ),
        "{}",
        r.text
    );
    // A read token sees no buttons.
    let r = send(
        &router,
        get("/")
            .header(header::COOKIE, cookie(READ_SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(READ_SECRET))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert!(
        r.text.contains(r#"<meta name="qs-actions" content="">"#),
        "{}",
        r.text
    );

    // A drill passes the console gate and reaches the tool (which then finds no Docker here).
    let r = send(
        &router,
        tool("inject_fault")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header("x-quantumstate-console", "1")
            .body(Body::from(
                r#"{"service":"payment-service","kind":"memory_leak","ttl_seconds":60}"#,
            ))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);

    // Other mutations stay closed to the page.
    let r = send(
        &router,
        tool("record_decision")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header("x-quantumstate-console", "1")
            .body(Body::from(DECISION))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("drills and restarts only"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn host_and_origin_checks_cover_the_console() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, true, false).await;
    let r = send(
        &router,
        Request::get("/")
            .header(header::HOST, "evil.example:8080")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &router,
        tool("list_incidents")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header(header::ORIGIN, "http://evil.example")
            .body(Body::from("{}"))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = send(
        &router,
        tool("list_incidents")
            .header(header::COOKIE, cookie(SECRET))
            .header("x-quantumstate-csrf", csrf_for_secret(SECRET))
            .header(header::ORIGIN, format!("http://{HOST}"))
            .body(Body::from("{}"))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn without_tokens_the_page_is_open_on_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = build(&dir, false, false).await;
    let r = send(&router, get("/").body(Body::empty()).expect("req")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains(r#"content="local""#));
    let r = send(
        &router,
        get("/?token=anything-at-all")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header(header::LOCATION), "/");
    assert!(r.headers.get(header::SET_COOKIE).is_none());
}
