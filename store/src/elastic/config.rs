//! Elasticsearch settings, read from the original's variables (`ELASTIC_URL`,
//! `ELASTIC_API_KEY`, `ELASTIC_CLOUD_ID`, ...) so an existing `.env` works unchanged.
//!
//! Secrets never leave this module in text form: `Debug` redacts them and
//! [`ElasticConfig::target`] is the address without credentials.

use std::fmt;
use std::time::Duration;

use elasticsearch::http::Url;
use elasticsearch::http::transport::CloudId;

use crate::StoreError;

/// Where the cluster is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `ELASTIC_URL`, credentials removed.
    Url(Url),
    /// `ELASTIC_CLOUD_ID` (the id is not a secret; the key is).
    Cloud(String),
}

/// How requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `ELASTIC_API_KEY`: the base64 `id:key` Kibana shows, or `id:key` itself.
    ApiKey(String),
    /// `ELASTIC_USERNAME` / `ELASTIC_PASSWORD`, or user info in `ELASTIC_URL`.
    Basic {
        user: String,
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
        }
    }
}

/// When a write becomes visible to searches (`refresh` on writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Wait until the next refresh makes it visible (default: read-your-writes, cheap).
    WaitFor,
    /// Refresh at once (tests, tiny clusters).
    Immediate,
    /// Do not wait (highest ingest rate; searches see writes within about a second).
    None,
}

impl Refresh {
    pub(crate) fn param(self) -> Option<&'static str> {
        match self {
            Refresh::WaitFor => Some("wait_for"),
            Refresh::Immediate => Some("true"),
            Refresh::None => None,
        }
    }
}

/// Bounded retries with exponential backoff for 429 and 502/503/504 answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The pause before attempt `n + 1` (n counts from 0).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(16)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            max: Duration::from_secs(3),
        }
    }
}

/// Everything the Elasticsearch backend needs to connect.
#[derive(Debug, Clone)]
pub struct ElasticConfig {
    pub target: Target,
    pub auth: Auth,
    /// Prepended to every index and template name (`ELASTIC_INDEX_PREFIX`), so tests and
    /// shared clusters can keep separate sets; empty by default (the original's names).
    pub index_prefix: String,
    /// Per request, connection included (`ELASTIC_TIMEOUT_SECS`, default 30).
    pub request_timeout: Duration,
    pub refresh: Refresh,
    pub retry: RetryPolicy,
    /// A PEM file of the CA that signed the cluster's certificate (`ELASTIC_CA_CERT`),
    /// for self-managed clusters with their own CA (e.g. the `http_ca.crt` of a default
    /// Elasticsearch 8 install); the system roots are used otherwise.
    pub ca_cert: Option<std::path::PathBuf>,
}

impl ElasticConfig {
    /// A configuration for `url` with no credentials and the defaults.
    pub fn new(url: &str) -> Result<ElasticConfig, StoreError> {
        let (url, auth) = parse_url(url)?;
        Ok(ElasticConfig {
            target: Target::Url(url),
            auth: auth.unwrap_or(Auth::None),
            index_prefix: String::new(),
            request_timeout: Duration::from_secs(30),
            refresh: Refresh::WaitFor,
            retry: RetryPolicy::default(),
            ca_cert: None,
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<ElasticConfig, StoreError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads settings through `var` (the environment in production, a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<ElasticConfig, StoreError> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let api_key = get("ELASTIC_API_KEY");
        let basic = match (get("ELASTIC_USERNAME"), get("ELASTIC_PASSWORD")) {
            (Some(user), Some(password)) => Some(Auth::Basic { user, password }),
            (Some(_), None) | (None, Some(_)) => {
                return Err(StoreError::Invalid(
                    "ELASTIC_USERNAME and ELASTIC_PASSWORD go together: set both or neither".into(),
                ));
            }
            (None, None) => None,
        };
        let explicit = api_key.map(Auth::ApiKey).or(basic);
        let mut cfg = if let Some(cloud) = get("ELASTIC_CLOUD_ID") {
            CloudId::parse(&cloud).map_err(|e| {
                StoreError::Invalid(format!("ELASTIC_CLOUD_ID is not a valid cloud id: {e}"))
            })?;
            if explicit.is_none() {
                return Err(StoreError::Invalid(
                    "ELASTIC_CLOUD_ID needs ELASTIC_API_KEY (or ELASTIC_USERNAME/ELASTIC_PASSWORD)"
                        .into(),
                ));
            }
            let mut c = ElasticConfig::new("http://localhost:9200")?;
            c.target = Target::Cloud(cloud);
            c
        } else if let Some(url) = get("ELASTIC_URL") {
            ElasticConfig::new(&url)?
        } else {
            return Err(StoreError::Invalid(
                "QS_STORE=elasticsearch needs ELASTIC_URL (plus ELASTIC_API_KEY or \
                 ELASTIC_USERNAME/ELASTIC_PASSWORD if the cluster is secured), or \
                 ELASTIC_CLOUD_ID with ELASTIC_API_KEY"
                    .into(),
            ));
        };
        if let Some(a) = explicit {
            cfg.auth = a;
        }
        if let Some(p) = get("ELASTIC_INDEX_PREFIX") {
            cfg.index_prefix = validate_prefix(&p)?;
        }
        if let Some(t) = get("ELASTIC_TIMEOUT_SECS") {
            let secs: u64 = t
                .parse()
                .ok()
                .filter(|s| (1..=600).contains(s))
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "ELASTIC_TIMEOUT_SECS={t:?} is not a number of seconds from 1 to 600"
                    ))
                })?;
            cfg.request_timeout = Duration::from_secs(secs);
        }
        cfg.ca_cert = get("ELASTIC_CA_CERT").map(std::path::PathBuf::from);
        if let Some(r) = get("ELASTIC_REFRESH") {
            cfg.refresh = match r.as_str() {
                "wait_for" => Refresh::WaitFor,
                "true" => Refresh::Immediate,
                "false" => Refresh::None,
                other => {
                    return Err(StoreError::Invalid(format!(
                        "ELASTIC_REFRESH={other:?}: use wait_for (default), true or false"
                    )));
                }
            };
        }
        Ok(cfg)
    }

    pub fn with_prefix(mut self, prefix: &str) -> Result<ElasticConfig, StoreError> {
        self.index_prefix = validate_prefix(prefix)?;
        Ok(self)
    }

    /// The cluster's address with no credentials, for messages and `describe()`.
    pub fn target(&self) -> String {
        match &self.target {
            Target::Url(u) => {
                let s = u.as_str();
                s.strip_suffix('/').unwrap_or(s).to_string()
            }
            Target::Cloud(id) => match CloudId::parse(id) {
                Ok(c) => {
                    let s = c.url.as_str();
                    format!("{} (cloud {})", s.strip_suffix('/').unwrap_or(s), c.name)
                }
                Err(_) => "cloud id (unparseable)".into(),
            },
        }
    }
}

/// Splits user info out of a URL so it never shows in messages.
fn parse_url(text: &str) -> Result<(Url, Option<Auth>), StoreError> {
    let mut url = Url::parse(text.trim()).map_err(|e| {
        StoreError::Invalid(format!(
            "ELASTIC_URL is not a URL ({e}); expected e.g. https://host:9200"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(StoreError::Invalid(format!(
            "ELASTIC_URL must start with http:// or https://, not {}:",
            url.scheme()
        )));
    }
    let auth = if url.username().is_empty() {
        None
    } else {
        let user = decode(url.username());
        let password = decode(url.password().unwrap_or(""));
        Some(Auth::Basic { user, password })
    };
    // Both setters only fail for URLs that cannot carry credentials (not http/https).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok((url, auth))
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Index names are lowercase and may not hold `\ / * ? " < > | , #`, spaces or `:`.
fn validate_prefix(p: &str) -> Result<String, StoreError> {
    let bad = p
        .chars()
        .any(|c| c.is_uppercase() || c.is_whitespace() || "\\/*?\"<>|,#:".contains(c))
        || p.starts_with(['_', '-', '+', '.'])
        || p.len() > 100;
    if bad {
        return Err(StoreError::Invalid(format!(
            "ELASTIC_INDEX_PREFIX={p:?} cannot start an index name: use lowercase letters, \
             digits, '-' or '_' (not first), e.g. qs-staging-"
        )));
    }
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn url_credentials_are_moved_out_of_the_url() {
        let c = ElasticConfig::from_vars(vars(&[("ELASTIC_URL", "https://bob:s%40cret@es:9243")]))
            .unwrap();
        assert_eq!(c.target(), "https://es:9243");
        assert_eq!(
            c.auth,
            Auth::Basic {
                user: "bob".into(),
                password: "s@cret".into()
            }
        );
        assert!(!format!("{c:?}").contains("cret"));
    }

    #[test]
    fn api_key_and_prefix_and_errors() {
        let c = ElasticConfig::from_vars(vars(&[
            ("ELASTIC_URL", "http://localhost:9200"),
            ("ELASTIC_API_KEY", "c2VjcmV0"),
            ("ELASTIC_INDEX_PREFIX", "qs-test-"),
        ]))
        .unwrap();
        assert_eq!(c.auth, Auth::ApiKey("c2VjcmV0".into()));
        assert_eq!(c.index_prefix, "qs-test-");
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
        assert!(ElasticConfig::from_vars(vars(&[])).is_err());
        assert!(ElasticConfig::from_vars(vars(&[("ELASTIC_URL", "ftp://x")])).is_err());
        assert!(
            ElasticConfig::from_vars(vars(&[
                ("ELASTIC_URL", "http://x:9200"),
                ("ELASTIC_INDEX_PREFIX", "Bad Prefix")
            ]))
            .is_err()
        );
        assert!(ElasticConfig::from_vars(vars(&[("ELASTIC_CLOUD_ID", "not-a-cloud-id")])).is_err());
    }
}
