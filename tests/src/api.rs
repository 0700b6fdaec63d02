//! The HTTP API of a `quantumstate-mcp http` under test, as one token or another: the
//! direct routes (status and JSON body) and single stateless MCP requests (protocol
//! 2026-07-28, declaring the Tasks extension).

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::qs::HttpServer;

/// The HTTP API of one server, as a given token.
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn of(s: &HttpServer) -> anyhow::Result<Api> {
        Ok(Api {
            base: format!("http://127.0.0.1:{}", s.port),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()?,
        })
    }

    async fn answer(r: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
        let r = r.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        Api::answer(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, key: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        Api::answer(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(key),
        )
        .await
    }

    pub async fn tool(&self, key: &str, tool: &str, args: Value) -> anyhow::Result<(u16, Value)> {
        self.post(key, &format!("/api/tools/{tool}"), args).await
    }

    /// One stateless MCP request (protocol 2026-07-28) from a client that declares the
    /// Tasks extension; the JSON-RPC result (an error is a failure).
    pub async fn mcp(
        &self,
        key: &str,
        method: &str,
        name: &str,
        mut params: Value,
    ) -> anyhow::Result<Value> {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
        });
        let mut r = self
            .http
            .post(format!("{}/mcp", self.base))
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", method);
        if !name.is_empty() {
            r = r.header("mcp-name", name);
        }
        let r = r
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await?;
        let text = r.text().await?;
        // A JSON body, or server-sent events whose data line is the response.
        let body = text
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap_or(&text);
        let v: Value =
            serde_json::from_str(body.trim()).with_context(|| format!("{method}: {text}"))?;
        if v.get("error").is_some() {
            bail!("{method}: {v}");
        }
        Ok(v["result"].clone())
    }
}
