//! A Docker daemon that accepts connections and never answers (a hung engine): tools that
//! read only the store answer at once, a name no one knows is refused within the short
//! lookup bound, and a fleet tool gives up with `unavailable` at its own timeout.

mod common;

use std::time::{Duration, Instant};

use common::{HttpServer, Store, http_client};
use serde_json::{Value, json};

/// Accepts on `path` and holds every connection open without a byte of answer.
fn hung_docker(path: &std::path::Path) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::UnixListener::bind(path).expect("bind the hung socket");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    })
}

async fn timed(server: &HttpServer, tool: &str, args: Value) -> (u16, Value, Duration) {
    let t = Instant::now();
    let r = http_client()
        .post(server.url(&format!("/api/tools/{tool}")))
        .json(&args)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(Value::Null);
    (status, v, t.elapsed())
}

#[tokio::test]
async fn a_hung_docker_daemon_stalls_no_store_read() {
    let store = Store::new();
    store.seed();
    let sock = store.dir().join("hung-docker.sock");
    let hung = hung_docker(&sock);
    let host = format!("unix://{}", sock.display());
    let server = HttpServer::start(&store, &["--docker-host", &host]).await;

    let reads = [
        (
            "query_metrics",
            json!({"service": "payment-service", "metric_type": "memory_percent"}),
        ),
        ("search_logs", json!({"service": "payment-service"})),
        (
            "find_similar_incidents",
            json!({"description": "payment memory grows until OOM"}),
        ),
        ("detect_anomalies", json!({"service": "payment-service"})),
    ];
    for (tool, args) in reads {
        let (status, v, took) = timed(&server, tool, args).await;
        assert_eq!(status, 200, "{tool}: {v}");
        assert!(
            took < Duration::from_millis(1500),
            "{tool} took {took:?} with Docker hung"
        );
    }
    // A name nobody knows: refused after the short lookup bound, not Docker's timeout.
    let (status, v, took) = timed(
        &server,
        "query_metrics",
        json!({"service": "nosuch-service", "metric_type": "memory_percent"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_argument")),
        "{v}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "unknown name took {took:?}"
    );
    // A fleet tool needs Docker: unavailable at its own bound.
    let (status, v, took) = timed(
        &server,
        "container_stats",
        json!({"service": "payment-service"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{v}"
    );
    assert!(
        took < Duration::from_secs(15),
        "container_stats took {took:?}"
    );
    hung.abort();
}
