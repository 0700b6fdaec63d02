//! Peers measured on the same machine in the same run: the Python Docker MCP servers from
//! PyPI (`docker-mcp`, `mcp-server-docker`) started through `uvx`, timed with the same raw
//! stdio client as ours: cold start to tools/list, a read call, a restart when offered.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::Command;

use super::procs::{Percentiles, StdioServer, percentiles};

/// One peer's figures (or why there are none).
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    pub name: String,
    pub cold_start_to_tools_list: Option<Percentiles>,
    pub tools: usize,
    pub read_tool: Option<String>,
    pub read_call: Option<Percentiles>,
    pub restart_tool: Option<String>,
    pub restart_ms: Option<f64>,
    pub note: Option<String>,
}

fn uvx() -> Command {
    let mut c = Command::new("uvx");
    c.env("UV_NO_PROGRESS", "1");
    c
}

async fn start(package: &str) -> Result<(StdioServer, Value, Duration), String> {
    let started = Instant::now();
    let mut cmd = uvx();
    cmd.arg(package);
    let mut s = StdioServer::spawn(cmd).map_err(|e| format!("cannot run uvx: {e}"))?;
    s.initialize(Duration::from_secs(120)).await?;
    let list = s
        .request(2, "tools/list", json!({}), Duration::from_secs(60))
        .await?;
    Ok((s, list, started.elapsed()))
}

fn find_tool(list: &Value, want: &[&str]) -> Option<String> {
    let names: Vec<String> = list["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    names.into_iter().find(|n| {
        let l = n.to_lowercase().replace('-', "_");
        want.iter().all(|w| l.contains(w))
    })
}

/// Measures one peer package; `runs` cold starts after one warm-up (which downloads it).
pub async fn measure(package: &str, runs: usize, restart_target: Option<&str>) -> Peer {
    let mut peer = Peer {
        name: package.to_string(),
        cold_start_to_tools_list: None,
        tools: 0,
        read_tool: None,
        read_call: None,
        restart_tool: None,
        restart_ms: None,
        note: None,
    };
    // Warm-up: uvx resolves and caches the package; not timed.
    match start(package).await {
        Ok((s, _, _)) => s.stop().await,
        Err(e) => {
            peer.note = Some(format!("could not start through uvx: {e}"));
            return peer;
        }
    }
    let mut cold = Vec::new();
    let mut last: Option<(StdioServer, Value)> = None;
    for _ in 0..runs {
        match start(package).await {
            Ok((s, list, took)) => {
                cold.push(took);
                if let Some((old, _)) = last.replace((s, list)) {
                    old.stop().await;
                }
            }
            Err(e) => {
                peer.note = Some(e);
                break;
            }
        }
    }
    if !cold.is_empty() {
        peer.cold_start_to_tools_list = Some(percentiles(&cold));
    }
    let Some((mut s, list)) = last else {
        return peer;
    };
    peer.tools = list["result"]["tools"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    peer.read_tool = find_tool(&list, &["list", "container"]);
    if let Some(tool) = peer.read_tool.clone() {
        let mut samples = Vec::new();
        for i in 0..20 {
            let t = Instant::now();
            match s
                .request(
                    100 + i,
                    "tools/call",
                    json!({"name": tool, "arguments": {}}),
                    Duration::from_secs(30),
                )
                .await
            {
                Ok(r) if r.get("error").is_none() => samples.push(t.elapsed()),
                Ok(r) => {
                    peer.note = Some(format!("{tool} failed: {}", r["error"]));
                    break;
                }
                Err(e) => {
                    peer.note = Some(e);
                    break;
                }
            }
        }
        if !samples.is_empty() {
            peer.read_call = Some(percentiles(&samples));
        }
    }
    peer.restart_tool =
        find_tool(&list, &["restart", "container"]).or_else(|| find_tool(&list, &["restart"]));
    match (&peer.restart_tool, restart_target) {
        (Some(tool), Some(target)) => {
            let t = Instant::now();
            let args = json!({"container_id": target, "container_name": target, "name": target, "id": target});
            match s
                .request(
                    500,
                    "tools/call",
                    json!({"name": tool, "arguments": args}),
                    Duration::from_secs(60),
                )
                .await
            {
                Ok(r) if r.get("error").is_none() && r["result"]["isError"] != true => {
                    peer.restart_ms =
                        Some((t.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0)
                }
                Ok(r) => peer.note = Some(format!("restart failed: {}", r)),
                Err(e) => peer.note = Some(e),
            }
        }
        (None, _) => {
            peer.note
                .get_or_insert_with(|| "offers no restart tool".into());
        }
        _ => {}
    }
    s.stop().await;
    peer
}
