//! The one door to the cluster: every request goes through [`Es::send`], which applies the
//! timeout, retries 429 and 502/503/504 with bounded backoff, and maps failures to errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::Method;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use elasticsearch::http::transport::{
    CloudConnectionPool, SingleNodeConnectionPool, TransportBuilder,
};
use serde_json::Value;

use super::config::{Auth, ElasticConfig, Refresh, RetryPolicy, Target};
use super::errors;
use crate::StoreError;

/// A request body: none, one JSON document, or newline-delimited JSON for `_bulk`.
pub(crate) enum Body {
    Empty,
    Json(Value),
    NdJson(String),
}

/// What index setup learnt about an index (see `setup`), kept per index name.
#[derive(Debug, Default)]
pub(crate) struct Ready {
    /// `semantic_text` fields the cluster has on it (queried when present, never created).
    pub semantic: Vec<String>,
}

/// A status and its parsed body (`Null` when empty, a string when not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
}

/// A cheap handle on the client and what every request needs to know.
pub(crate) struct Es {
    client: Elasticsearch,
    pub target: String,
    timeout: Duration,
    retry: RetryPolicy,
    refresh: Refresh,
    pub prefix: String,
    /// Indices checked (or created) in this process, by name.
    pub ready: Mutex<HashMap<String, Arc<Ready>>>,
}

impl Es {
    pub fn new(cfg: &ElasticConfig) -> Result<Es, StoreError> {
        let bad = |e: String| StoreError::Invalid(format!("Elasticsearch client: {e}"));
        let builder = match &cfg.target {
            Target::Url(u) => TransportBuilder::new(SingleNodeConnectionPool::new(u.clone())),
            Target::Cloud(id) => {
                TransportBuilder::new(CloudConnectionPool::new(id).map_err(|e| bad(e.to_string()))?)
            }
        };
        let builder = match &cfg.auth {
            Auth::None => builder,
            Auth::ApiKey(k) => builder.auth(api_key(k)),
            Auth::Basic { user, password } => {
                builder.auth(Credentials::Basic(user.clone(), password.clone()))
            }
        };
        let builder = match &cfg.ca_cert {
            None => builder,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    bad(format!(
                        "cannot read ELASTIC_CA_CERT {}: {e}",
                        path.display()
                    ))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    bad(format!(
                        "ELASTIC_CA_CERT {} is not a PEM certificate: {e}",
                        path.display()
                    ))
                })?;
                builder.cert_validation(CertificateValidation::Full(cert))
            }
        };
        let transport = builder
            .timeout(cfg.request_timeout)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Es {
            client: Elasticsearch::new(transport),
            target: cfg.target(),
            timeout: cfg.request_timeout,
            retry: cfg.retry,
            refresh: cfg.refresh,
            prefix: cfg.index_prefix.clone(),
            ready: Mutex::new(HashMap::new()),
        })
    }

    /// The `refresh` query parameter writes carry, if any.
    pub fn refresh(&self) -> Option<(&'static str, &'static str)> {
        self.refresh.param().map(|v| ("refresh", v))
    }

    /// `refresh=true` for APIs that take only a boolean (`_delete_by_query`).
    pub fn refresh_bool(&self) -> Option<(&'static str, &'static str)> {
        self.refresh.param().map(|_| ("refresh", "true"))
    }

    /// Sends one request. 2xx answers and the statuses in `expect` come back as a
    /// `Reply`; anything else becomes an error after bounded retries of 429/502/503/504.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: &Body,
        expect: &[u16],
    ) -> Result<Reply, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reply = self.once(method, path, query, body).await?;
            let (ty, _) = errors::type_and_reason(&reply.body);
            let retryable = matches!(reply.status, 429 | 502 | 503 | 504)
                && ty != "cluster_block_exception"
                && !expect.contains(&reply.status);
            if retryable && attempt < self.retry.attempts {
                tracing::debug!(
                    path,
                    status = reply.status,
                    attempt,
                    "elasticsearch busy; backing off"
                );
                tokio::time::sleep(self.retry.backoff(attempt - 1)).await;
                continue;
            }
            if (200..300).contains(&reply.status) || expect.contains(&reply.status) {
                return Ok(reply);
            }
            if ty == "index_not_found_exception" {
                self.forget_indices();
            }
            return Err(errors::classify(
                &self.target,
                path,
                reply.status,
                &reply.body,
                attempt,
            ));
        }
    }

    /// Sends a JSON request expecting success.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Value,
    ) -> Result<Value, StoreError> {
        Ok(self
            .send(method, path, query, &Body::Json(body), &[])
            .await?
            .body)
    }

    /// The backoff the retry policy gives attempt `n` (bulk item retries use it too).
    pub fn backoff(&self, n: u32) -> Option<Duration> {
        (n + 1 < self.retry.attempts).then(|| self.retry.backoff(n))
    }

    /// Forgets which indices were checked, so the next call sets them up again.
    pub fn forget_indices(&self) {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    async fn once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: &Body,
    ) -> Result<Reply, StoreError> {
        let mut headers = HeaderMap::new();
        let payload = match body {
            Body::Empty => None,
            Body::Json(v) => Some(v.to_string()),
            Body::NdJson(s) => {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-ndjson"),
                );
                Some(s.clone())
            }
        };
        let q = (!query.is_empty()).then_some(query);
        let resp = self
            .client
            .send(method, path, headers, q, payload, Some(self.timeout))
            .await
            .map_err(|e| errors::transport(&self.target, self.timeout, &e))?;
        let status = resp.status_code().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| errors::transport(&self.target, self.timeout, &e))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply { status, body })
    }
}

/// `id:key` is sent encoded; anything else is taken as the already-encoded form Kibana shows.
fn api_key(k: &str) -> Credentials {
    match k.split_once(':') {
        Some((id, key)) => Credentials::ApiKey(id.to_string(), key.to_string()),
        None => Credentials::EncodedApiKey(k.to_string()),
    }
}

/// Percent-encodes a document id for a path segment.
pub(crate) fn enc(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
