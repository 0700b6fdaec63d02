//! Reaching a service's `/health`: through the port its engine publishes (on the engine's
//! address, 127.0.0.1 for the local one), from inside the fleet network by container name and port. Whichever worked
//! last is tried first.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use crate::ContainerInfo;

/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A `/health` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub url: String,
    pub status: u16,
    /// The JSON body (Null when the body was not JSON).
    pub body: Value,
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(800))
            .timeout(PROBE_TIMEOUT)
            .no_proxy()
            .pool_max_idle_per_host(2)
            .build()
            .unwrap_or_default()
    })
}

fn preferred() -> &'static Mutex<HashMap<String, String>> {
    static P: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    P.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The preferred-URL key: container names repeat across engines.
fn key(info: &ContainerInfo) -> String {
    format!("{}/{}", info.host, info.container_name)
}

/// Base URLs to try for a container, the last one that worked first.
pub fn base_urls(info: &ContainerInfo) -> Vec<String> {
    let mut urls = Vec::new();
    if let Some(p) = info.host_port {
        urls.push(format!("http://{}:{p}", info.address));
    }
    if let Some(p) = info.container_port {
        urls.push(format!("http://{}:{p}", info.container_name));
    }
    if let Some(best) = preferred()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key(info))
        && let Some(i) = urls.iter().position(|u| u == best)
    {
        let u = urls.remove(i);
        urls.insert(0, u);
    }
    urls
}

/// GETs `path` on the first base URL that answers. Errors say every address tried.
pub async fn get(info: &ContainerInfo, path: &str) -> Result<(String, reqwest::Response), String> {
    let urls = base_urls(info);
    if urls.is_empty() {
        return Err(format!(
            "{} publishes no port and exposes none: cannot reach it over HTTP",
            info.name
        ));
    }
    let mut errors = Vec::new();
    for base in urls {
        let url = format!("{base}{path}");
        match client().get(&url).send().await {
            Ok(resp) => {
                preferred()
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key(info), base);
                return Ok((url, resp));
            }
            Err(e) => errors.push(format!("{url}: {}", describe(&e))),
        }
    }
    Err(errors.join("; "))
}

/// POSTs JSON to `path` on the first base URL that answers (with `token` as the bearer).
pub async fn post(
    info: &ContainerInfo,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> Result<(String, reqwest::Response), String> {
    let urls = base_urls(info);
    if urls.is_empty() {
        return Err(format!(
            "{} publishes no port and exposes none: cannot reach it over HTTP",
            info.name
        ));
    }
    let mut errors = Vec::new();
    for base in urls {
        let url = format!("{base}{path}");
        let mut req = client().post(&url).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(resp) => return Ok((url, resp)),
            // Only a connection failure means "try the next address": the request was not sent.
            Err(e) if e.is_connect() => errors.push(format!("{url}: {}", describe(&e))),
            Err(e) => return Err(format!("{url}: {}", describe(&e))),
        }
    }
    Err(errors.join("; "))
}

/// DELETEs `path` on the first base URL that answers.
pub async fn delete(
    info: &ContainerInfo,
    path: &str,
) -> Result<(String, reqwest::Response), String> {
    let mut errors = Vec::new();
    for base in base_urls(info) {
        let url = format!("{base}{path}");
        match client().delete(&url).send().await {
            Ok(resp) => return Ok((url, resp)),
            Err(e) if e.is_connect() => errors.push(format!("{url}: {}", describe(&e))),
            Err(e) => return Err(format!("{url}: {}", describe(&e))),
        }
    }
    Err(if errors.is_empty() {
        format!("{} has no reachable port", info.name)
    } else {
        errors.join("; ")
    })
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        e.to_string()
    }
}

/// The service's `/health`, parsed.
pub async fn probe_health(info: &ContainerInfo) -> Result<HealthReport, String> {
    let (url, resp) = get(info, "/health").await?;
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok(HealthReport { url, status, body })
}
