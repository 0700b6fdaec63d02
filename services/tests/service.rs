//! Integration tests of the real `qs-service` binary on loopback: real memory growth,
//! real failures, self-ending faults, dependency outages, health numbers and shutdown.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, Service, free_port, poll_until};
use serde_json::Value;

const POLL: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leak_grows_rss_and_reset_releases_it() {
    let svc = Service::start(&[
        ("SERVICE_NAME", "payment-service"),
        ("MEMORY_LIMIT_MB", "4096"),
    ])
    .await;
    let before = svc.rss_mb();
    let (status, fault) = svc
        .post(
            "/faults",
            r#"{"kind":"memory_leak","ttl_seconds":120,"mb_per_second":10}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{fault}");
    let grew = poll_until(Duration::from_secs(10), POLL, || async {
        svc.rss_mb() >= before + 50.0
    })
    .await;
    assert!(
        grew,
        "RSS went from {before:.1} MB to only {:.1} MB in 10 s",
        svc.rss_mb()
    );
    let h = svc.health().await;
    assert!(h["memory_rss_mb"].as_f64().unwrap() >= before + 50.0, "{h}");
    assert!(h["active_faults"][0]["leaked_mb"].as_u64().unwrap() >= 50);

    let (status, reset) = svc.post("/faults/reset", "").await.unwrap();
    assert_eq!((status, reset["ended"].as_u64()), (200, Some(1)));
    let dropped = poll_until(Duration::from_secs(5), POLL, || async {
        svc.rss_mb() < before + 10.0
    })
    .await;
    assert!(
        dropped,
        "RSS stayed at {:.1} MB after reset (was {before:.1})",
        svc.rss_mb()
    );
    assert!(
        svc.logs()
            .iter()
            .any(|l| l["message"].as_str().unwrap_or("").contains("releasing")),
        "a fault-end line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heap_pressure_lines_as_memory_climbs() {
    // A 100 MB limit: a leak to the 90 % ceiling passes 65 % and 80 % and 87 % quickly.
    let svc = Service::start(&[
        ("SERVICE_NAME", "payment-service"),
        ("MEMORY_LIMIT_MB", "100"),
    ])
    .await;
    let (status, fault) = svc
        .post(
            "/faults",
            r#"{"kind":"memory_leak","ttl_seconds":60,"mb_per_second":50}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{fault}");
    let cap = fault["params"]["max_mb"].as_f64().unwrap();
    assert!(cap < 90.0, "the default cap leaves the 90 % ceiling: {cap}");
    for level in ["WARN", "ERROR", "CRITICAL"] {
        let seen = svc
            .wait_for_log(Duration::from_secs(10), |l| {
                l["error_code"] == "HEAP_PRESSURE" && l["level"] == level
            })
            .await;
        assert!(seen, "no {level} HEAP_PRESSURE line");
    }
    let h = svc.health().await;
    let pct = h["memory_percent"].as_f64().unwrap();
    assert!(pct < 91.0, "the default cap stops near 90 %: {pct}");
    assert_ne!(h["status"], "healthy", "{h}");

    // With allow_oom the leak may pass 90 %: the service turns unhealthy and not ready.
    svc.post("/faults/reset", "").await.unwrap();
    let (status, fault) = svc
        .post(
            "/faults",
            r#"{"kind":"memory_leak","ttl_seconds":60,"mb_per_second":100,"max_mb":95,"allow_oom":true}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{fault}");
    let unready = poll_until(Duration::from_secs(10), POLL, || async {
        svc.get("/readyz")
            .await
            .map(|(s, _)| s == 503)
            .unwrap_or(false)
    })
    .await;
    assert!(unready, "{}", svc.health().await);
    assert_eq!(svc.health().await["status"], "unhealthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_spike_fails_about_half_of_pay_calls() {
    let svc = Service::start(&[("SERVICE_NAME", "payment-service")]).await;
    let (status, _) = svc
        .post(
            "/faults",
            r#"{"kind":"error_spike","ttl_seconds":60,"error_share":0.5}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    let mut failed = 0;
    for _ in 0..200 {
        let (status, body) = svc.post("/pay", r#"{"amount": 19.99}"#).await.unwrap();
        match status {
            200 => {}
            500 => {
                assert_eq!(body["error"]["error_code"], "INTERNAL_SERVER_ERROR");
                failed += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
    let h = svc.health().await;
    assert_eq!(h["requests_per_min"].as_f64(), Some(200.0));
    assert_eq!(h["error_rate"].as_f64(), Some(f64::from(failed)));
    assert_eq!(h["status"], "unhealthy");
    // Identical error lines are rate limited: far fewer lines than failures.
    let error_lines = svc
        .logs()
        .iter()
        .filter(|l| l["error_code"] == "INTERNAL_SERVER_ERROR")
        .count();
    assert!(
        error_lines < failed as usize,
        "{error_lines} lines for {failed} failures"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_ends_by_itself_at_its_ttl() {
    let svc = Service::start(&[("SERVICE_NAME", "inventory-service")]).await;
    let (status, fault) = svc
        .post(
            "/faults",
            r#"{"kind":"cpu_burn","ttl_seconds":2,"threads":1}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{fault}");
    let (_, list) = svc.get("/faults").await.unwrap();
    assert_eq!(list["faults"].as_array().map(Vec::len), Some(1));
    let ended = poll_until(Duration::from_secs(6), POLL, || async {
        svc.get("/faults")
            .await
            .map(|(_, l)| l["faults"].as_array().is_some_and(Vec::is_empty))
            .unwrap_or(false)
    })
    .await;
    assert!(ended, "the fault outlived its 2 s TTL");
    assert!(svc.logs().iter().any(|l| {
        l["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired at its TTL")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fault_bodies_name_the_field() {
    let svc = Service::start(&[
        ("SERVICE_NAME", "auth-service"),
        ("DEPENDS_ON", "http://auth-cache:6379"),
    ])
    .await;
    let cases = [
        ("{", 400, "body"),
        (r#"{"kind":"latency","added_ms":10}"#, 422, "ttl_seconds"),
        (r#"{"kind":"teleport","ttl_seconds":10}"#, 422, "kind"),
        (
            r#"{"kind":"latency","ttl_seconds":10,"added_ms":0}"#,
            422,
            "added_ms",
        ),
        (
            r#"{"kind":"latency","ttl_seconds":99999,"added_ms":10}"#,
            422,
            "ttl_seconds",
        ),
        (
            r#"{"kind":"cpu_burn","ttl_seconds":10,"threads":"two"}"#,
            422,
            "threads",
        ),
        (
            r#"{"kind":"error_spike","ttl_seconds":10,"error_share":0.5,"x":1}"#,
            422,
            "x",
        ),
        (
            r#"{"kind":"dependency_failure","ttl_seconds":10,"dependency":"db"}"#,
            422,
            "dependency",
        ),
    ];
    for (body, status, field) in cases {
        let (got, err) = svc.post("/faults", body).await.unwrap();
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        assert!(!err["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    let (_, list) = svc.get("/faults").await.unwrap();
    assert_eq!(list["faults"], Value::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_with_its_dependencies_down_says_upstream_unavailable() {
    let deps = format!(
        "payment-service=http://127.0.0.1:{},inventory-service=http://127.0.0.1:{},auth-service=http://127.0.0.1:{}",
        free_port(),
        free_port(),
        free_port()
    );
    let svc = Service::start(&[("SERVICE_NAME", "checkout-service"), ("DEPENDS_ON", &deps)]).await;
    let (status, body) = svc.post("/checkout", "{}").await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["error_code"], "UPSTREAM_UNAVAILABLE");
    assert!(
        svc.wait_for_log(Duration::from_secs(5), |l| l["error_code"]
            == "UPSTREAM_UNAVAILABLE")
            .await,
        "an UPSTREAM_UNAVAILABLE log line"
    );
    let degraded = poll_until(Duration::from_secs(6), POLL, || async {
        let h = svc.health().await;
        h["status"] != "healthy"
            && h["dependencies"]
                .as_array()
                .is_some_and(|d| d.len() == 3 && d.iter().all(|d| d["status"] == "down"))
    })
    .await;
    assert!(degraded, "{}", svc.health().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_flow_through_the_graph_and_a_cache_outage_is_cache_offline() {
    let cache_port = free_port();
    let cache = Service::start_on(cache_port, &[("SERVICE_NAME", "auth-cache")]).await;
    let cache_url = format!("auth-cache=http://127.0.0.1:{cache_port}");
    let auth =
        Service::start(&[("SERVICE_NAME", "auth-service"), ("DEPENDS_ON", &cache_url)]).await;
    let payment = Service::start(&[("SERVICE_NAME", "payment-service")]).await;
    let inventory = Service::start(&[
        ("SERVICE_NAME", "inventory-service"),
        ("REGION", "eu-west-1"),
    ])
    .await;
    let deps = format!(
        "payment-service={},inventory-service={},auth-service={}",
        payment.base, inventory.base, auth.base
    );
    let checkout =
        Service::start(&[("SERVICE_NAME", "checkout-service"), ("DEPENDS_ON", &deps)]).await;

    let r = checkout
        .http
        .post(format!("{}/checkout", checkout.base))
        .header("x-trace-id", "trace-e2e-1")
        .json(&serde_json::json!({"sku": "SKU-1001", "amount": 42.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-trace-id"], "trace-e2e-1");
    assert_eq!(r.status(), 200);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["status"], "placed", "{order}");
    assert!(order["payment_id"].as_str().unwrap().starts_with("pay-"));
    // Every service in the path saw the order.
    for svc in [&auth, &payment, &inventory, &cache] {
        assert_eq!(svc.health().await["requests_per_min"].as_f64(), Some(1.0));
    }

    // The cache goes away: logins fail with CACHE_OFFLINE and auth logs it CRITICAL.
    drop(cache);
    let (status, body) = auth.post("/login", r#"{"username":"ada"}"#).await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["error_code"], "CACHE_OFFLINE");
    assert!(
        auth.wait_for_log(Duration::from_secs(5), |l| {
            l["error_code"] == "CACHE_OFFLINE" && l["level"] == "CRITICAL"
        })
        .await
    );
    assert!(
        auth.logs()
            .iter()
            .any(|l| l["error_code"] == "REDIS_UNAVAILABLE")
    );
    // Checkout's order now fails upstream, with the trace id in auth's log line.
    let r = checkout
        .http
        .post(format!("{}/checkout", checkout.base))
        .header("x-trace-id", "trace-e2e-2")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert!(
        auth.wait_for_log(Duration::from_secs(2), |l| l["trace_id"] == "trace-e2e-2")
            .await,
        "auth logged the failed login with checkout's trace id"
    );

    // The cache comes back on the same port: logins recover.
    let _cache = Service::start_on(cache_port, &[("SERVICE_NAME", "auth-cache")]).await;
    let recovered = poll_until(Duration::from_secs(10), POLL, || async {
        auth.post("/login", "{}")
            .await
            .map(|(s, _)| s == 200)
            .unwrap_or(false)
    })
    .await;
    assert!(recovered, "logins did not recover");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_failure_fault_fails_calls_without_sending_them() {
    let cache = Service::start(&[("SERVICE_NAME", "auth-cache")]).await;
    let cache_url = format!("auth-cache={}", cache.base);
    let auth =
        Service::start(&[("SERVICE_NAME", "auth-service"), ("DEPENDS_ON", &cache_url)]).await;
    let (status, _) = auth
        .post(
            "/faults",
            r#"{"kind":"dependency_failure","ttl_seconds":30,"dependency":"auth-cache"}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    for _ in 0..5 {
        let (status, body) = auth.post("/login", "{}").await.unwrap();
        assert_eq!(
            (status, body["error"]["error_code"].as_str()),
            (503, Some("CACHE_OFFLINE"))
        );
    }
    assert_eq!(
        cache.health().await["requests_per_min"].as_f64(),
        Some(0.0),
        "nothing was sent"
    );
    let (_, h) = auth.get("/health").await.unwrap();
    assert_eq!(h["dependencies"][0]["status"], "down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_real_numbers() {
    let svc = Service::start(&[
        ("SERVICE_NAME", "payment-service"),
        ("REGION", "eu-west-1"),
        ("SERVICE_VERSION", "2.1.0"),
    ])
    .await;
    for _ in 0..10 {
        svc.post("/pay", r#"{"amount": 5}"#).await.unwrap();
    }
    let h = svc.health().await;
    assert_eq!(h["service"], "payment-service");
    assert_eq!(h["version"], "2.1.0");
    assert_eq!(h["region"], "eu-west-1");
    assert_eq!(h["role"], "payment");
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["requests_per_min"].as_f64(), Some(10.0));
    assert_eq!(h["error_rate"].as_f64(), Some(0.0));
    let p95 = h["request_latency_ms"].as_f64().unwrap();
    assert!(p95 > 0.0 && p95 < 100.0, "p95 {p95}");
    let rss = h["memory_rss_mb"].as_f64().unwrap();
    let proc_rss = svc.rss_mb();
    assert!(
        (rss - proc_rss).abs() < 2.0,
        "health says {rss} MB, /proc says {proc_rss} MB"
    );
    assert!(rss > 1.0 && rss < 15.0, "idle RSS {rss} MB");
    let pct = h["memory_percent"].as_f64().unwrap();
    let limit = h["memory_limit_mb"].as_f64().unwrap();
    assert!((pct - rss / limit * 100.0).abs() < 0.05, "{h}");
    assert!(h["uptime_seconds"].as_f64().unwrap() > 0.0);
    assert!(h["cpu_percent"].as_f64().unwrap() >= 0.0);
    for key in ["dependencies", "active_faults"] {
        assert!(h[key].is_array(), "{key}: {h}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_burn_shows_in_cpu_percent() {
    let svc = Service::start(&[("SERVICE_NAME", "inventory-service")]).await;
    let (status, _) = svc
        .post(
            "/faults",
            r#"{"kind":"cpu_burn","ttl_seconds":20,"threads":1}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    // One busy thread is ~100 % of a core; a loaded 2-core machine still gives it a fair share.
    let busy = poll_until(Duration::from_secs(8), POLL, || async {
        svc.health().await["cpu_percent"].as_f64().unwrap_or(0.0) > 30.0
    })
    .await;
    assert!(busy, "{}", svc.health().await);
    svc.post("/faults/reset", "").await.unwrap();
    let idle = poll_until(Duration::from_secs(5), POLL, || async {
        svc.health().await["cpu_percent"].as_f64().unwrap_or(100.0) < 20.0
    })
    .await;
    assert!(idle, "{}", svc.health().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_within_a_second() {
    let mut svc = Service::start(&[
        ("SERVICE_NAME", "checkout-service"),
        ("LOAD_RPS", "20"),
        (
            "DEPENDS_ON",
            &format!("payment-service=http://127.0.0.1:{}", free_port()),
        ),
    ])
    .await;
    // A request stuck in a long latency fault must not hold the exit.
    svc.post(
        "/faults",
        r#"{"kind":"latency","ttl_seconds":60,"added_ms":30000}"#,
    )
    .await
    .unwrap();
    let http = svc.http.clone();
    let url = format!("{}/checkout", svc.base);
    tokio::spawn(async move { http.post(url).body("{}").send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (took, status) = svc
        .terminate(Duration::from_secs(1))
        .expect("still running 1 s after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(
        svc.logs()
            .iter()
            .any(|l| l["message"].as_str().unwrap_or("").contains("stopped"))
    );
}

#[test]
fn bad_environment_exits_2_with_a_message() {
    let out = Command::new(BIN)
        .env_clear()
        .env("SERVICE_NAME", "payment-service")
        .env("PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PORT"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = Command::new(BIN)
        .env_clear()
        .env("PORT", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SERVICE_NAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_subcommand() {
    let svc = Service::start(&[("SERVICE_NAME", "payment-service")]).await;
    let ok = Command::new(BIN)
        .arg("healthcheck")
        .env_clear()
        .env("PORT", svc.port.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let down = Command::new(BIN)
        .arg("healthcheck")
        .env_clear()
        .env("PORT", free_port().to_string())
        .status()
        .unwrap();
    assert_eq!(down.code(), Some(1));
}
