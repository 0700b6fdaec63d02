//! `--metrics-source store|prometheus=URL` and `--promql FILE`: where the metric tools
//! read their figures, checked at start (a PromQL template that does not parse is refused
//! here, naming its file and line).

use std::path::Path;
use std::time::Duration;

use quantumstate_store::source::promql::PromQl;

use crate::error::{ToolError, ToolResult};

/// Where figures come from.
#[derive(Debug, Clone)]
pub enum MetricsConfig {
    /// The store's samples (what the scraper wrote).
    Store,
    /// The user's Prometheus.
    Prometheus {
        url: String,
        promql: PromQl,
        timeout: Duration,
    },
}

impl MetricsConfig {
    /// From `--metrics-source`, `--promql` and `--prometheus-timeout-ms`.
    pub fn from_opts(o: &super::Opts) -> ToolResult<MetricsConfig> {
        MetricsConfig::parse(
            o.metrics_source.as_deref(),
            o.promql.as_deref(),
            o.prometheus_timeout_ms,
        )
    }

    /// Parses the two options together.
    pub fn parse(
        source: Option<&str>,
        promql: Option<&Path>,
        timeout_ms: u64,
    ) -> ToolResult<MetricsConfig> {
        let source = source
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or("store");
        let map = || match promql {
            Some(p) => PromQl::load(p).map_err(|e| ToolError::invalid(format!("--promql {e}"))),
            None => Ok(PromQl::default()),
        };
        if source == "store" {
            if let Some(p) = promql {
                return Err(ToolError::invalid(format!(
                    "--promql {} needs --metrics-source prometheus=URL",
                    p.display()
                )));
            }
            return Ok(MetricsConfig::Store);
        }
        let Some(url) = source.strip_prefix("prometheus=") else {
            return Err(ToolError::invalid(format!(
                "--metrics-source {source:?}: use store or prometheus=URL (e.g. prometheus=http://127.0.0.1:9090)"
            )));
        };
        let url = url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(ToolError::invalid(format!(
                "--metrics-source prometheus={url}: the URL must start with http:// or https://"
            )));
        }
        if !(100..=60_000).contains(&timeout_ms) {
            return Err(ToolError::invalid(
                "--prometheus-timeout-ms must be 100 to 60000",
            ));
        }
        Ok(MetricsConfig::Prometheus {
            url: url.to_string(),
            promql: map()?,
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_bad_ones_say_why() {
        assert!(matches!(
            MetricsConfig::parse(None, None, 5000),
            Ok(MetricsConfig::Store)
        ));
        let p = MetricsConfig::parse(Some("prometheus=http://127.0.0.1:9090/"), None, 5000);
        assert!(
            matches!(&p, Ok(MetricsConfig::Prometheus { url, .. }) if url == "http://127.0.0.1:9090"),
            "{p:?}"
        );
        let e = MetricsConfig::parse(Some("prom"), None, 5000).unwrap_err();
        assert!(e.to_string().contains("prometheus=URL"), "{e}");
        let e = MetricsConfig::parse(Some("prometheus=127.0.0.1:9090"), None, 5000).unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.toml");
        std::fs::write(&f, "[metrics]\n\nup = 'max(up{service=\"{service}\"'\n").unwrap();
        let e = MetricsConfig::parse(Some("prometheus=http://h:9090"), Some(&f), 5000).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{}:3", f.display())) && msg.contains("does not parse"),
            "{msg}"
        );
        let e = MetricsConfig::parse(Some("store"), Some(&f), 5000).unwrap_err();
        assert!(e.to_string().contains("needs --metrics-source"), "{e}");
    }
}
