//! The HTTP rows: calls per second and latency at 1, 10 and 100 concurrent MCP sessions
//! over streamable HTTP (the load generator in this process, the server a child process on
//! loopback, searching lexically so the rows measure the transport, dispatch and store),
//! then one row with the sentence model on and every description new (each call embeds
//! its query), and the server's RSS idle and after the load.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Child;

use super::procs::{self, HttpSession, percentiles, rss_mib};
use super::report::Report;

/// A server on a free loopback port, answering `/healthz`, with the sentence model in
/// `model` (None: lexical search).
async fn server(
    exe: &std::path::Path,
    spec: &str,
    model: Option<&std::path::Path>,
    client: &reqwest::Client,
) -> Result<(Child, String), String> {
    let port = procs::free_port().map_err(|e| e.to_string())?;
    let mut cmd = procs::http_server(exe, spec, port);
    let none = std::path::Path::new("/nonexistent/quantumstate-bench-lexical");
    cmd.env("QS_EMBED_MODEL", model.unwrap_or(none));
    let child = cmd.spawn().map_err(|e| e.to_string())?;
    let health = format!("http://127.0.0.1:{port}/healthz");
    if !procs::wait_http(client, &health, Duration::from_secs(10)).await {
        return Err("the HTTP server did not start".into());
    }
    Ok((child, format!("http://127.0.0.1:{port}/mcp")))
}

/// `sessions` sessions at once, each opening, making `per` calls from `call(session, i)`
/// back to back, and closing; one row of the report.
async fn load(
    client: &reqwest::Client,
    url: &str,
    sessions: usize,
    per: usize,
    call: fn(usize, usize) -> (&'static str, Value),
) -> Value {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut sess = HttpSession::new(client, url);
            sess.open().await?;
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let (tool, args) = call(s, i);
                let t = Instant::now();
                sess.call(10 + i as i64, tool, args).await?;
                lat.push(t.elapsed());
            }
            sess.close().await;
            Ok::<Vec<Duration>, String>(lat)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0usize;
    for t in tasks {
        match t.await {
            Ok(Ok(l)) => all.extend(l),
            _ => failed += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    json!({
        "sessions": sessions,
        "calls": all.len(),
        "failed_sessions": failed,
        "calls_per_second": (all.len() as f64 / secs).round(),
        "latency": percentiles(&all),
    })
}

/// Half `list_incidents`, half `find_similar_incidents` with the session's description.
fn mixed(s: usize, i: usize) -> (&'static str, Value) {
    if i.is_multiple_of(2) {
        ("list_incidents", json!({"limit": 5}))
    } else {
        (
            "find_similar_incidents",
            json!({"description": format!("session {s} heap growing"), "limit": 3}),
        )
    }
}

/// `find_similar_incidents` with a description no call used before.
fn fresh_similar(s: usize, i: usize) -> (&'static str, Value) {
    (
        "find_similar_incidents",
        json!({"description": format!("checkout {s} requests failing after release {i}.{s}"), "limit": 3}),
    )
}

pub(super) async fn section(
    r: &mut Report,
    exe: &std::path::Path,
    spec: &str,
    model: Option<&std::path::Path>,
    quick: bool,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(200)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let (mut child, url) = server(exe, spec, None, &client).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().unwrap_or(0);
    let idle = rss_mib(pid);
    let total_calls = if quick { 400 } else { 2000 };
    for sessions in [1usize, 10, 100] {
        // At 100 sessions, 50 calls each: the opening burst is a small part of the run.
        let per = (total_calls / sessions).max(if quick { 10 } else { 50 });
        let mut row = load(&client, &url, sessions, per, mixed).await;
        row["mix"] = json!("list_incidents + find_similar_incidents, lexical");
        r.http.push(row);
    }
    let loaded = rss_mib(pid);
    let _ = child.kill().await;
    r.rss_mib = json!({"server_idle": idle, "server_after_http_load": loaded});

    // The model's cost over HTTP: every call embeds a description it has not seen.
    let Some(model) = model.filter(|m| m.join("model.safetensors").is_file()) else {
        r.notes
            .push("hybrid HTTP row skipped: no sentence model (scripts/setup-model.sh)".into());
        return Ok(());
    };
    let (mut child, url) = server(exe, spec, Some(model), &client).await?;
    // Untimed: the first search loads the model and embeds documents written without it.
    let warm = |_, _| {
        (
            "find_similar_incidents",
            json!({"description": "warm-up: load the model", "limit": 3}),
        )
    };
    let _ = load(&client, &url, 1, 1, warm).await;
    let mut row = load(&client, &url, 10, if quick { 5 } else { 20 }, fresh_similar).await;
    row["mix"] = json!("find_similar_incidents, hybrid, every description new");
    if row["calls"] != 0 {
        r.http.push(row);
    }
    let _ = child.kill().await;
    Ok(())
}
