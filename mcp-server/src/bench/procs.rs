//! Measuring other processes: spawning the workspace's binaries, a raw stdio JSON-RPC
//! client (also used on the peer servers), a streamable-HTTP session, RSS from /proc, and
//! percentiles.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A binary next to this one (the workspace's release directory).
pub fn sibling(name: &str) -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.parent()?.join(name);
    p.exists().then_some(p)
}

/// Resident set size of a process, MiB (from /proc/<pid>/status).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// p50/p95/p99 and the mean of samples in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

pub fn percentiles(samples: &[Duration]) -> Percentiles {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| -> f64 {
        if ms.is_empty() {
            return 0.0;
        }
        let rank = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
        (ms[rank - 1] * 100.0).round() / 100.0
    };
    let mean = if ms.is_empty() {
        0.0
    } else {
        ms.iter().sum::<f64>() / ms.len() as f64
    };
    Percentiles {
        n: ms.len(),
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        mean_ms: (mean * 100.0).round() / 100.0,
    }
}

/// A stdio MCP server under test, spoken to in raw JSON-RPC lines.
pub struct StdioServer {
    pub child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// The last lines it wrote to stderr, to say why when it exits early.
    last_stderr: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

impl StdioServer {
    pub fn spawn(mut cmd: Command) -> std::io::Result<StdioServer> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let last_stderr = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::<
            String,
        >::new()));
        if let Some(err) = child.stderr.take() {
            let keep = last_stderr.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut k = keep.lock().unwrap_or_else(|p| p.into_inner());
                    if k.len() == 3 {
                        k.pop_front();
                    }
                    k.push_back(crate::text::truncate(line.trim(), 300));
                }
            });
        }
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        Ok(StdioServer {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            last_stderr,
        })
    }

    pub async fn send(&mut self, msg: &Value) -> std::io::Result<()> {
        self.stdin.write_all(format!("{msg}\n").as_bytes()).await?;
        self.stdin.flush().await
    }

    /// Sends a request and waits (bounded) for the reply with its id.
    pub async fn request(
        &mut self,
        id: i64,
        method: &str,
        params: Value,
        limit: Duration,
    ) -> Result<Value, String> {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.lines.next_line()).await {
                Err(_) => return Err(format!("{method}: no reply within {limit:?}")),
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(None)) => {
                    // Let the stderr reader catch up with the exit.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let said = self
                        .last_stderr
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" / ");
                    return Err(format!(
                        "{method}: the server closed stdout; stderr: {said}"
                    ));
                }
                Ok(Ok(Some(line))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v.get("id") == Some(&json!(id))
                    {
                        return Ok(v);
                    }
                }
            }
        }
    }

    /// initialize + notifications/initialized.
    pub async fn initialize(&mut self, limit: Duration) -> Result<Value, String> {
        let init = self
            .request(
                1,
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "quantumstate-bench", "version": "1"}}),
                limit,
            )
            .await?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await
            .map_err(|e| e.to_string())?;
        Ok(init)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A streamable-HTTP MCP session (2025-06-18, `Mcp-Session-Id`).
pub struct HttpSession {
    client: reqwest::Client,
    url: String,
    session: Option<String>,
}

impl HttpSession {
    pub fn new(client: reqwest::Client, url: String) -> HttpSession {
        HttpSession {
            client,
            url,
            session: None,
        }
    }

    pub async fn post(&mut self, msg: Value) -> Result<Option<Value>, String> {
        let mut req = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(msg.to_string());
        if let Some(s) = &self.session {
            req = req
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        if let Some(s) = r
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            self.session = Some(s.to_string());
        }
        if !r.status().is_success() {
            return Err(format!("HTTP {}", r.status()));
        }
        let id = msg.get("id").cloned();
        let body = r.text().await.map_err(|e| e.to_string())?;
        let Some(id) = id else { return Ok(None) };
        Ok(body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .chain(std::iter::once(body.as_str()))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v.get("id") == Some(&id)))
    }

    pub async fn open(&mut self) -> Result<(), String> {
        self.post(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "quantumstate-bench", "version": "1"}}}))
            .await?
            .ok_or("no initialize reply")?;
        self.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(())
    }

    /// One tools/call; Err when it failed in any way.
    pub async fn call(&mut self, id: i64, tool: &str, args: Value) -> Result<(), String> {
        let r = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}}))
            .await?
            .ok_or("no reply")?;
        if r.get("error").is_some() || r["result"]["isError"] == true {
            return Err(format!("{tool} failed: {r}"));
        }
        Ok(())
    }

    pub async fn close(&mut self) {
        if let Some(s) = &self.session {
            let _ = self
                .client
                .delete(&self.url)
                .header("mcp-session-id", s)
                .send()
                .await;
        }
    }
}

pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `url` until it answers (bounded).
pub async fn wait_http(client: &reqwest::Client, url: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// `exe http` on 127.0.0.1:`port` over the store `spec`, with no runner, no Docker and
/// quiet logs, output discarded: the server the HTTP rows measure. Callers add their flags.
pub fn http_server(exe: &std::path::Path, spec: &str, port: u16) -> Command {
    let mut c = Command::new(exe);
    c.args([
        "http",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--no-runner",
    ])
    .env("QS_STORE", spec)
    .env("QS_LOG", "error")
    .env("QS_DOCKER_HOSTS", "unix:///nonexistent/qs.sock")
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .kill_on_drop(true);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = percentiles(&s);
        assert_eq!((p.p50_ms, p.p95_ms, p.p99_ms), (50.0, 95.0, 99.0));
        assert_eq!(percentiles(&[]).n, 0);
    }
}
