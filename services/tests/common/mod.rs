//! Test helpers: start the real `qs-service` binary on a free loopback port, capture
//! its JSON log lines, talk to it over HTTP, and poll for conditions with a deadline.

#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The fault token every service under test holds (fault control needs it).
pub const FAULT_TOKEN: &str = "service-test-fault-token";

pub const BIN: &str = env!("CARGO_BIN_EXE_qs-service");

/// A port nothing listens on right now (bind to 0, read it, release it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` every `every` until it returns true or `timeout` passes.
pub async fn poll_until<F, Fut>(timeout: Duration, every: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// A running `qs-service`; killed on drop.
pub struct Service {
    child: Child,
    pub port: u16,
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
}

impl Service {
    /// Starts the binary with `vars` (plus PORT and BIND_ADDR) and waits until `/livez` answers.
    pub async fn start(vars: &[(&str, &str)]) -> Service {
        Service::start_on(free_port(), vars).await
    }

    /// Starts the service with `vars` on `port` (and the tests' fault token).
    pub async fn start_on(port: u16, vars: &[(&str, &str)]) -> Service {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PORT", port.to_string())
            .env("BIND_ADDR", "127.0.0.1")
            .env("QS_FAULT_TOKEN", FAULT_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn qs-service");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("log buffer").push(line);
            }
        });
        let service = Service {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            lines,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        };
        let up = poll_until(
            Duration::from_secs(10),
            Duration::from_millis(50),
            || async {
                service
                    .get("/livez")
                    .await
                    .map(|(s, _)| s == 200)
                    .unwrap_or(false)
            },
        )
        .await;
        assert!(up, "qs-service on port {port} did not come up");
        service
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, from /proc, in MiB.
    pub fn rss_mb(&self) -> f64 {
        let statm =
            std::fs::read_to_string(format!("/proc/{}/statm", self.pid())).unwrap_or_default();
        let pages: f64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0.0);
        pages * 4096.0 / (1024.0 * 1024.0)
    }

    /// The JSON log lines printed so far.
    pub fn logs(&self) -> Vec<Value> {
        self.lines
            .lock()
            .expect("log buffer")
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub async fn wait_for_log(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> bool {
        poll_until(timeout, Duration::from_millis(50), || async {
            self.logs().iter().any(&pred)
        })
        .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<(u16, Value)> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn post(&self, path: &str, body: &str) -> reqwest::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &str,
    ) -> reqwest::Result<(u16, Value)> {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .bearer_auth(FAULT_TOKEN)
            .body(body.to_owned())
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn health(&self) -> Value {
        self.get("/health").await.expect("GET /health").1
    }

    /// Sends SIGTERM and returns how long the process took to exit (None: still alive after `limit`).
    pub fn terminate(&mut self, limit: Duration) -> Option<(Duration, std::process::ExitStatus)> {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some((started.elapsed(), status));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
