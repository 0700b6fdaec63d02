//! QuantumState's own processes under test: a temporary store, the scraper (1 s interval),
//! the MCP server over stdio driven by a real MCP client (rmcp), and the HTTP server driven
//! through its direct routes. Every child is killed when its handle drops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::poll_until;

/// A release binary of this workspace, next to the running test (target/<triple>/release).
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    // .../release/deps/<test> → .../release/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no release dir")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is not built: run `cargo build --release --bins` (scripts/build-images.sh does)",
            path.display()
        );
    }
    Ok(path)
}

/// A throwaway store directory; removed on drop.
pub struct TempStore {
    pub dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> anyhow::Result<TempStore> {
        Ok(TempStore {
            dir: tempfile::tempdir()?,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("quantumstate.db")
    }

    /// Loads the seed incidents and runbooks with `quantumstate-mcp seed`.
    pub async fn seed(&self) -> anyhow::Result<()> {
        let exe = bin("quantumstate-mcp")?;
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            Command::new(exe)
                .arg("seed")
                .env("QS_STORE", self.spec())
                .env("QS_EMBED_MODEL", self.no_model())
                .env("QS_LOG", "warn")
                .kill_on_drop(true)
                .output(),
        )
        .await
        .context("seed timed out")??;
        if !out.status.success() {
            bail!("seed failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// `sqlite:<path>` for QS_STORE.
    pub fn spec(&self) -> String {
        format!("sqlite:{}", self.path().display())
    }

    /// QS_EMBED_MODEL for every child: a directory without a model, so these end-to-end
    /// servers search lexically and no test's server loads the 90 MB sentence model
    /// (hybrid search has its own tests: store/tests/hybrid.rs, mcp-server/tests/hybrid.rs).
    pub fn no_model(&self) -> PathBuf {
        self.dir.path().join("no-embedding-model")
    }
}

/// Environment every QuantumState child gets: the store, a 1 s scrape interval, quiet logs.
pub fn qs_env(cmd: &mut Command, store: &TempStore) {
    cmd.env("QS_STORE", store.spec())
        .env("QS_EMBED_MODEL", store.no_model())
        .env("QS_SCRAPE_INTERVAL", "1")
        .env("QS_LOG", "warn")
        .env("QS_FAULT_TOKEN", crate::FAULT_TOKEN)
        .env_remove("QS_TOKEN")
        .env_remove("QS_READ_ONLY")
        .stdin(Stdio::null())
        .kill_on_drop(true);
}

/// The scraper, polling every second into `store`.
pub struct Scraper {
    child: Child,
}

impl Scraper {
    pub fn start(store: &TempStore) -> anyhow::Result<Scraper> {
        Scraper::start_env(store, &[])
    }

    /// As `start`, with `envs` added (e.g. `QS_DOCKER_HOSTS`).
    pub fn start_env(store: &TempStore, envs: &[(&str, &str)]) -> anyhow::Result<Scraper> {
        let mut cmd = Command::new(bin("qs-scraper")?);
        qs_env(&mut cmd, store);
        cmd.envs(envs.iter().copied())
            .env("QS_SCRAPER_LISTEN", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Ok(Scraper {
            child: cmd.spawn().context("spawn qs-scraper")?,
        })
    }

    /// The scraper with its /healthz and /metrics on a free loopback port.
    pub fn start_listening(store: &TempStore) -> anyhow::Result<(Scraper, u16)> {
        let port = free_port()?;
        let mut cmd = Command::new(bin("qs-scraper")?);
        qs_env(&mut cmd, store);
        cmd.env("QS_SCRAPER_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Ok((
            Scraper {
                child: cmd.spawn().context("spawn qs-scraper")?,
            },
            port,
        ))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A tool result: the structured content, or the `{"error": ...}` body.
pub type ToolOutcome = Result<Value, Value>;

/// An MCP client session with `quantumstate-mcp stdio` (the runner and reaper run inside).
pub struct Mcp {
    client: RunningService<RoleClient, ()>,
}

impl Mcp {
    pub async fn start(store: &TempStore, extra_args: &[&str]) -> anyhow::Result<Mcp> {
        let exe = bin("quantumstate-mcp")?;
        let spec = store.spec();
        let no_model = store.no_model();
        let args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let transport = TokioChildProcess::new(Command::new(exe).configure(|c| {
            c.arg("stdio")
                .args(&args)
                .env("QS_STORE", &spec)
                .env("QS_EMBED_MODEL", &no_model)
                .env("QS_SCRAPE_INTERVAL", "1")
                .env("QS_LOG", "warn")
                .env("QS_FAULT_TOKEN", crate::FAULT_TOKEN)
                .env_remove("QS_TOKEN");
        }))
        .context("spawn quantumstate-mcp stdio")?;
        let client = tokio::time::timeout(Duration::from_secs(20), ().serve(transport))
            .await
            .context("MCP initialize timed out")?
            .context("MCP initialize")?;
        Ok(Mcp { client })
    }

    /// Calls a tool; Ok is structuredContent, Err the error envelope (or protocol error text).
    pub async fn call(&self, tool: &str, args: Value) -> anyhow::Result<ToolOutcome> {
        let obj: JsonObject = match args {
            Value::Object(m) => m,
            Value::Null => JsonObject::new(),
            other => bail!("arguments must be an object, not {other}"),
        };
        let fut = self
            .client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(obj));
        let r = match tokio::time::timeout(Duration::from_secs(180), fut).await {
            Err(_) => bail!("{tool} did not answer within 180 s"),
            Ok(Err(e)) => return Ok(Err(Value::String(format!("protocol error: {e}")))),
            Ok(Ok(r)) => r,
        };
        let content = r.structured_content.clone().unwrap_or(Value::Null);
        if r.is_error == Some(true) {
            Ok(Err(content))
        } else {
            Ok(Ok(content))
        }
    }

    /// Calls a tool that must succeed.
    pub async fn ok(&self, tool: &str, args: Value) -> anyhow::Result<Value> {
        match self.call(tool, args.clone()).await? {
            Ok(v) => Ok(v),
            Err(e) => bail!("{tool} {args} failed: {e}"),
        }
    }

    /// Gets a prompt; its result as JSON text (messages and description).
    pub async fn prompt(&self, name: &str, args: Value) -> anyhow::Result<String> {
        let Value::Object(obj) = args else {
            bail!("prompt arguments must be an object");
        };
        let fut = self
            .client
            .get_prompt(rmcp::model::GetPromptRequestParams::new(name).with_arguments(obj));
        let r = tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .context("the prompt did not come within 30 s")??;
        Ok(serde_json::to_string(&r)?)
    }

    pub async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}

/// `quantumstate-mcp http` on a free loopback port, driven through `/api/tools`.
pub struct HttpServer {
    child: Child,
    pub port: u16,
    http: reqwest::Client,
}

impl HttpServer {
    pub async fn start(store: &TempStore, extra_args: &[&str]) -> anyhow::Result<HttpServer> {
        HttpServer::start_env(store, extra_args, &[]).await
    }

    /// As `start`, with extra environment variables.
    pub async fn start_env(
        store: &TempStore,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<HttpServer> {
        let port = free_port()?;
        let mut cmd = Command::new(bin("quantumstate-mcp")?);
        qs_env(&mut cmd, store);
        cmd.envs(env.iter().copied());
        cmd.arg("http")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().context("spawn quantumstate-mcp http")?;
        let s = HttpServer {
            child,
            port,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(180))
                .build()?,
        };
        let up = poll_until(
            Duration::from_secs(20),
            Duration::from_millis(100),
            || async {
                s.http
                    .get(format!("http://127.0.0.1:{port}/healthz"))
                    .send()
                    .await
                    .is_ok()
            },
        )
        .await;
        if !up {
            bail!("quantumstate-mcp http did not answer /healthz within 20 s");
        }
        Ok(s)
    }

    pub async fn call(&self, tool: &str, args: Value) -> anyhow::Result<(u16, Value)> {
        let resp = self
            .http
            .post(format!("http://127.0.0.1:{}/api/tools/{tool}", self.port))
            .json(&args)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// SIGKILL: no shutdown path runs.
    pub async fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        let _ = self.child.wait().await;
        Ok(())
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
