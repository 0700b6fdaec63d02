//! MCP sessions are capped: 6,000 `initialize` requests on loopback open at most
//! `--max-sessions`, the rest are 503 with Retry-After, memory stays bounded and the
//! server keeps answering; a caller's own cap leaves room for other callers.

mod common;

use std::time::{Duration, Instant};

use common::{HttpServer, Store, http_client};
use serde_json::json;

const OPS: &str = "ops:0123456789abcdef";
const OPS_SECRET: &str = "0123456789abcdef";
const CI_TOKEN: &str = "ci:fedcba9876543210";
const CI_SECRET: &str = "fedcba9876543210";

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "flood", "version": "0"}}})
    .to_string()
}

/// One `initialize`: its status and whether it carried Retry-After.
async fn open(c: &reqwest::Client, server: &HttpServer, secret: &str) -> (u16, bool) {
    let r = c
        .post(server.url("/mcp"))
        .bearer_auth(secret)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(initialize())
        .send()
        .await
        .expect("POST /mcp");
    (r.status().as_u16(), r.headers().contains_key("retry-after"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_thousand_initializes_open_at_most_the_cap_and_memory_stays_bounded() {
    let store = Store::new();
    let server = HttpServer::start(
        &store,
        &[
            "--token",
            OPS,
            "--token",
            CI_TOKEN,
            "--max-sessions",
            "1000",
            "--max-sessions-per-token",
            "900",
        ],
    )
    .await;
    let c = http_client();
    let began = Instant::now();
    let (mut ok, mut busy, mut other) = (0, 0, 0);
    let mut attempts = 0;
    // 6,000 attempts, 16 at a time, bounded in time too.
    while attempts < 6000 && began.elapsed() < Duration::from_secs(240) {
        let batch: Vec<_> = (0..16).map(|_| open(&c, &server, OPS_SECRET)).collect();
        for (status, retry) in futures::future::join_all(batch).await {
            match status {
                200 => ok += 1,
                503 if retry => busy += 1,
                _ => other += 1,
            }
        }
        attempts += 16;
    }
    let rss = server.rss_mib();
    eprintln!(
        "{attempts} attempts in {:.1} s: {ok} opened, {busy} refused (503), {other} other; RSS {rss:.0} MiB",
        began.elapsed().as_secs_f64()
    );
    assert!(attempts >= 6000, "all attempts ran in time");
    assert_eq!(ok, 900, "the per-token cap holds");
    assert_eq!(other, 0, "every refusal is 503 with Retry-After");
    assert!(rss > 0.0 && rss < 200.0, "RSS {rss:.0} MiB");
    // Another token still gets sessions, up to the server's cap.
    let mut ci_ok = 0;
    for _ in 0..120 {
        if open(&c, &server, CI_SECRET).await.0 == 200 {
            ci_ok += 1;
        }
    }
    assert_eq!(
        ci_ok, 100,
        "the other caller fills the server's cap of 1000, then 503"
    );
    // The server keeps answering.
    let r = c
        .get(server.url("/api/tools"))
        .bearer_auth(OPS_SECRET)
        .send()
        .await
        .expect("GET /api/tools");
    assert_eq!(r.status().as_u16(), 200);
}
