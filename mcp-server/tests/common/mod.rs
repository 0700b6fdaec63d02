//! Shared helpers of the integration tests: the real binary with an isolated store and
//! no Docker, bounded process runs, and an HTTP server process killed when dropped.
//! Every wait here is a bounded poll for a condition.

#![allow(dead_code)] // each test crate uses a different subset

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_quantumstate-mcp");

/// A Docker endpoint that cannot exist, so fleet tools fail the same way on every machine.
pub const NO_DOCKER: &str = "unix:///nonexistent/docker.sock";

/// The demo fleet's service names, configured up front (no Docker answers in these tests).
pub const DEMO_SERVICES: &str =
    "payment-service,checkout-service,auth-service,inventory-service,auth-cache";

/// The query of issue 3's "done when".
pub const LEAK_QUERY: &str =
    r#"{"description":"payment service heap keeps growing, GC pauses, after deploy"}"#;

/// How long one CLI run may take before the test fails.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A fresh data directory for one test; deleted on drop.
pub struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    pub fn new() -> Store {
        Store {
            dir: tempfile::Builder::new()
                .prefix("qs-test-")
                .tempdir()
                .expect("create a temp dir"),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database file the default `sqlite` store creates under `QS_DATA_DIR`.
    pub fn db_file(&self) -> PathBuf {
        self.dir().join("quantumstate.db")
    }

    /// The binary with `args`, this store, no Docker and no inherited `QS_*` settings.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new(BIN);
        clean_env_std(&mut c);
        c.env("QS_DATA_DIR", self.dir())
            .env("QS_DOCKER_HOSTS", NO_DOCKER)
            .env("QS_SERVICES", DEMO_SERVICES)
            .args(args);
        c
    }

    /// The same for tokio (stdio clients).
    pub fn tokio_command<I, S>(&self, args: I) -> tokio::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = tokio::process::Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("QS_") {
                c.env_remove(k);
            }
        }
        c.env("QS_DATA_DIR", self.dir())
            .env("QS_DOCKER_HOSTS", NO_DOCKER)
            .env("QS_SERVICES", DEMO_SERVICES)
            .args(args)
            .kill_on_drop(true);
        c
    }

    /// Runs the binary with `args` to completion (bounded).
    pub fn run(&self, args: &[&str]) -> Run {
        run(&mut self.command(args), None)
    }

    /// Runs the binary with `args`, writing `stdin` to it.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run(&mut self.command(args), Some(stdin))
    }

    /// `seed`, asserted to succeed; returns its report.
    pub fn seed(&self) -> Value {
        let r = self.run(&["seed"]);
        assert_eq!(r.code, Some(0), "seed failed: {r:?}");
        r.json()
    }

    /// `call TOOL JSON`, asserted to succeed; returns the structured result.
    pub fn call_ok(&self, tool: &str, json: &str) -> Value {
        let r = self.run(&["call", tool, json]);
        assert_eq!(r.code, Some(0), "call {tool} {json} failed: {r:?}");
        r.json()
    }
}

/// Removes inherited `QS_*` variables so the machine's settings cannot leak into a test.
pub fn clean_env_std(c: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("QS_") {
            c.env_remove(k);
        }
    }
}

/// What a finished run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as exactly one JSON value (nothing before or after it but whitespace).
    pub fn json(&self) -> Value {
        single_json(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// Parses `text` as exactly one JSON value.
pub fn single_json(text: &str) -> Result<Value, String> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let first = match values.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(format!("not JSON: {e}")),
        None => return Err("no JSON value".into()),
    };
    match values.next() {
        None => Ok(first),
        Some(_) => Err("more than one JSON value".into()),
    }
}

/// Runs `cmd` to completion, polling its exit for at most `RUN_LIMIT`; kills it and
/// fails the test past that.
pub fn run(cmd: &mut Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn the binary");
    if let Some(text) = stdin {
        let mut w = child.stdin.take().expect("piped stdin");
        w.write_all(text.as_bytes()).expect("write stdin");
        drop(w); // EOF
    }
    let out = reader(child.stdout.take().expect("piped stdout"));
    let err = reader(child.stderr.take().expect("piped stderr"));
    let status = wait_bounded(&mut child, RUN_LIMIT);
    let stdout = out.join().expect("stdout reader");
    let stderr = err.join().expect("stderr reader");
    match status {
        Some(s) => Run {
            code: s.code(),
            stdout,
            stderr,
        },
        None => panic!(
            "{cmd:?} did not exit within {} s; stdout {stdout:?}, stderr {stderr:?}",
            RUN_LIMIT.as_secs()
        ),
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` to exit, at most `limit`; on timeout it is killed and None returned.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port that was free a moment ago (the server start retries on a lost race).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// An HTTP client with bounded timeouts that ignores proxies from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .no_proxy()
        .build()
        .expect("build reqwest client")
}

/// `quantumstate-mcp http` running on a free loopback port; killed on drop.
pub struct HttpServer {
    child: Child,
    pub port: u16,
    pub base: String,
    stderr_path: PathBuf,
}

impl HttpServer {
    /// Starts `http --listen 127.0.0.1:<free port>` plus `extra` on `store` and waits
    /// (bounded) until `/healthz` answers 200.
    pub async fn start(store: &Store, extra: &[&str]) -> HttpServer {
        Self::start_on(store, "127.0.0.1", extra).await
    }

    /// As `start`, listening on `ip` (health is polled through 127.0.0.1).
    pub async fn start_on(store: &Store, ip: &str, extra: &[&str]) -> HttpServer {
        let mut last_err = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let listen = format!("{ip}:{port}");
            let stderr_path = store.dir().join(format!("http-{port}-{attempt}.stderr"));
            let stderr = std::fs::File::create(&stderr_path).expect("create stderr file");
            let mut args = vec!["http", "--listen", listen.as_str()];
            args.extend_from_slice(extra);
            let child = store
                .command(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("spawn the http server");
            let mut server = HttpServer {
                child,
                port,
                base: format!("http://127.0.0.1:{port}"),
                stderr_path,
            };
            match server.wait_healthy(Duration::from_secs(30)).await {
                Ok(()) => return server,
                Err(e) => last_err = format!("{e}; stderr: {}", server.stderr()),
            }
        }
        panic!("the http server did not become healthy: {last_err}");
    }

    async fn wait_healthy(&mut self, limit: Duration) -> Result<(), String> {
        let client = http_client();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Err(format!("exited early with {s}"));
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("no healthy /healthz within {} s", limit.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's resident memory (VmRSS), MiB.
    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// What the server logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tool names of a `{"tools": [...]}` listing, in order.
pub fn tool_names(listing: &Value) -> Vec<String> {
    listing["tools"]
        .as_array()
        .expect("tools array")
        .iter()
        .map(|t| t["name"].as_str().expect("tool name").to_string())
        .collect()
}

/// A streamable-HTTP MCP session (protocol 2025-11-25, with `Mcp-Session-Id`).
pub struct McpSession {
    client: reqwest::Client,
    url: String,
    pub session: Option<String>,
    bearer: Option<String>,
}

impl McpSession {
    pub fn new(server: &HttpServer, bearer: Option<&str>) -> McpSession {
        McpSession {
            client: http_client(),
            url: server.url("/mcp"),
            session: None,
            bearer: bearer.map(str::to_string),
        }
    }

    /// A session on an `/mcp` URL, without a token.
    pub fn at(url: String) -> McpSession {
        McpSession {
            client: http_client(),
            url,
            session: None,
            bearer: None,
        }
    }

    /// DELETE /mcp: ends the session; true when the server accepted.
    pub async fn close(&mut self) -> bool {
        let Some(_) = &self.session else { return false };
        match self
            .client
            .delete(&self.url)
            .headers(self.headers())
            .send()
            .await
        {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    pub fn headers(&self) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "accept",
            reqwest::header::HeaderValue::from_static("application/json, text/event-stream"),
        );
        h.insert(
            "content-type",
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        if let Some(s) = &self.session {
            h.insert("mcp-session-id", s.parse().expect("session id header"));
            h.insert(
                "mcp-protocol-version",
                reqwest::header::HeaderValue::from_static("2025-11-25"),
            );
        }
        if let Some(b) = &self.bearer {
            h.insert(
                "authorization",
                format!("Bearer {b}").parse().expect("bearer header"),
            );
        }
        h
    }

    /// POSTs one message; returns the status and the JSON-RPC reply to `id` (if any).
    pub async fn post(&mut self, msg: Value) -> (reqwest::StatusCode, Option<Value>) {
        let r = self
            .client
            .post(&self.url)
            .headers(self.headers())
            .body(msg.to_string())
            .send()
            .await
            .expect("POST /mcp");
        let status = r.status();
        if let Some(s) = r.headers().get("mcp-session-id") {
            self.session = Some(s.to_str().expect("ascii session id").to_string());
        }
        let is_sse = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = r.text().await.expect("read the /mcp reply");
        let Some(id) = msg.get("id") else {
            return (status, None);
        };
        let replies: Vec<Value> = if is_sse {
            body.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| serde_json::from_str(d).expect("SSE data is JSON"))
                .collect()
        } else if body.trim().is_empty() {
            Vec::new()
        } else {
            vec![serde_json::from_str(&body).expect("JSON reply")]
        };
        (
            status,
            replies.into_iter().find(|v| v.get("id") == Some(id)),
        )
    }

    /// A request that must succeed; returns its `result`.
    pub async fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        let (status, reply) = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{method}: {reply:?}");
        let reply = reply.unwrap_or_else(|| panic!("{method}: no reply"));
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// initialize + notifications/initialized.
    pub async fn open(&mut self) -> Value {
        let init = self
            .request(
                1,
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "qs-http-test", "version": "0.0.0"}}),
            )
            .await;
        assert!(self.session.is_some(), "no Mcp-Session-Id after initialize");
        let (status, _) = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED);
        init
    }
}
