//! One hundred concurrent streamable-HTTP MCP sessions, twenty tool calls each, against
//! the real binary: no call fails, and every session is gone once its client closes it.

mod common;

use std::time::{Duration, Instant};

use common::{HttpServer, McpSession, Store, http_client};
use serde_json::{Value, json};

const SESSIONS: usize = 100;
const CALLS: usize = 20;

async fn sessions_open(server: &HttpServer) -> u64 {
    let r = http_client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    let v: Value = r.json().await.expect("healthz json");
    v["sessions"].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_sessions_of_twenty_calls_all_succeed_and_leave_no_session() {
    let store = Store::new();
    store.seed();
    let server = HttpServer::start(&store, &[]).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..SESSIONS {
        let url = server.url("/mcp");
        tasks.push(tokio::spawn(async move {
            let mut s = McpSession::at(url);
            s.open().await;
            let mut failures = Vec::new();
            for j in 0..CALLS {
                let (tool, args) = match j % 3 {
                    0 => ("list_incidents", json!({"limit": 3})),
                    1 => (
                        "find_similar_incidents",
                        json!({"description": "heap growing after deploy", "limit": 2}),
                    ),
                    _ => ("list_audit", json!({"limit": 1})),
                };
                let r = s
                    .request(
                        100 + j as i64,
                        "tools/call",
                        json!({"name": tool, "arguments": args}),
                    )
                    .await;
                if r["isError"] == true || r.get("structuredContent").is_none() {
                    failures.push(format!("session {i} call {j} {tool}: {r}"));
                }
            }
            let closed = s.close().await;
            (failures, closed)
        }));
    }
    let mut failures = Vec::new();
    let mut not_closed = 0;
    for t in tasks {
        let (f, closed) = tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .expect("bounded")
            .expect("task");
        failures.extend(f);
        if !closed {
            not_closed += 1;
        }
    }
    let took = started.elapsed();
    eprintln!(
        "{} calls over {SESSIONS} sessions in {:.2} s ({:.0} calls/s)",
        SESSIONS * CALLS,
        took.as_secs_f64(),
        (SESSIONS * CALLS) as f64 / took.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failed calls, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(not_closed, 0, "every DELETE /mcp succeeded");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = sessions_open(&server).await;
    while open != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        open = sessions_open(&server).await;
    }
    assert_eq!(open, 0, "no session leaked");
}
