//! Which PromQL answers each metric type of each service: built-in profiles (our own
//! services, the conventional names real services export, cAdvisor's container metrics)
//! and a TOML file (`--promql FILE`) that picks profiles and overrides templates, per
//! service or for all. Templates name the service as `{service}`. Every template is parsed
//! as PromQL when the file is read: one that does not parse is refused with its file and
//! line, before the server starts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::model::MetricType;
use crate::{Result, StoreError};

/// p95 from the OpenTelemetry request-duration histogram (ours and real services').
const LATENCY_P95: &str = r#"1000 * histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket{service="{service}"}[1m])))"#;
/// Prometheus's own scrape health of the service's target.
const UP: &str = r#"max(up{service="{service}"})"#;

/// Our own services (`qs-service`): gauges of their health figures, counters, and the
/// request-duration histogram (p95 computed by Prometheus, as for real services).
const QUANTUMSTATE: &[(MetricType, &str)] = &[
    (
        MetricType::MemoryPercent,
        r#"max(quantumstate_service_memory_percent{service="{service}"})"#,
    ),
    (
        MetricType::CpuPercent,
        r#"max(quantumstate_service_cpu_percent{service="{service}"})"#,
    ),
    (
        MetricType::ErrorRate,
        r#"60 * (sum(rate(quantumstate_service_request_errors_total{service="{service}"}[1m])) or 0 * sum(rate(quantumstate_service_requests_total{service="{service}"}[1m])))"#,
    ),
    (MetricType::RequestLatencyMs, LATENCY_P95),
    (
        MetricType::RequestsPerMin,
        r#"60 * sum(rate(quantumstate_service_requests_total{service="{service}"}[1m]))"#,
    ),
    (MetricType::Up, UP),
];

/// The names client libraries and exporters use (`process_*`, `http_requests_total` with
/// a `status` label, the OpenTelemetry request-duration histogram).
const CONVENTIONAL: &[(MetricType, &str)] = &[
    (
        MetricType::CpuPercent,
        r#"100 * sum(rate(process_cpu_seconds_total{service="{service}"}[1m]))"#,
    ),
    (
        MetricType::ErrorRate,
        r#"60 * (sum(rate(http_requests_total{service="{service}",status=~"5.."}[1m])) or 0 * sum(rate(http_requests_total{service="{service}"}[1m])))"#,
    ),
    (MetricType::RequestLatencyMs, LATENCY_P95),
    (
        MetricType::RequestsPerMin,
        r#"60 * sum(rate(http_requests_total{service="{service}"}[1m]))"#,
    ),
    (MetricType::Up, UP),
];

/// cAdvisor's container metrics, the container named as the service.
const CADVISOR: &[(MetricType, &str)] = &[
    (
        MetricType::ContainerMemoryPercent,
        r#"100 * max(container_memory_working_set_bytes{name="{service}"}) / max(container_spec_memory_limit_bytes{name="{service}"} > 0)"#,
    ),
    (
        MetricType::ContainerCpuPercent,
        r#"100 * sum(rate(container_cpu_usage_seconds_total{name="{service}"}[1m]))"#,
    ),
];

/// The built-in profiles by name.
pub const PROFILES: [&str; 3] = ["quantumstate", "conventional", "cadvisor"];

fn profile(name: &str) -> Option<&'static [(MetricType, &'static str)]> {
    match name {
        "quantumstate" => Some(QUANTUMSTATE),
        "conventional" => Some(CONVENTIONAL),
        "cadvisor" => Some(CADVISOR),
        _ => None,
    }
}

/// Where one template came from, for `list_services` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub expr: String,
    /// `profile quantumstate` or `FILE:LINE`.
    pub origin: String,
}

/// The whole mapping, ready to render.
#[derive(Debug, Clone)]
pub struct PromQl {
    /// The label whose values name services.
    pub service_label: String,
    /// Series whose `service_label` lists the services (`up` by default).
    pub services: String,
    /// Seconds between evaluated points (the scrape interval).
    pub step_seconds: u64,
    defaults: BTreeMap<MetricType, Template>,
    per_service: BTreeMap<String, BTreeMap<MetricType, Template>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    service_label: Option<String>,
    services: Option<Spanned<String>>,
    step_seconds: Option<u64>,
    profiles: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    metrics: BTreeMap<String, Spanned<String>>,
    /// Per service: `profiles = [...]` and metric templates, side by side.
    #[serde(default)]
    service: BTreeMap<String, BTreeMap<String, Spanned<toml::Value>>>,
}

impl Default for PromQl {
    fn default() -> PromQl {
        PromQl {
            service_label: "service".into(),
            services: "up".into(),
            step_seconds: 5,
            defaults: from_profiles(&["quantumstate", "cadvisor"]),
            per_service: BTreeMap::new(),
        }
    }
}

fn from_profiles<S: AsRef<str>>(names: &[S]) -> BTreeMap<MetricType, Template> {
    let mut out = BTreeMap::new();
    for n in names {
        for (mt, expr) in profile(n.as_ref()).unwrap_or_default() {
            out.insert(
                *mt,
                Template {
                    expr: (*expr).into(),
                    origin: format!("profile {}", n.as_ref()),
                },
            );
        }
    }
    out
}

impl PromQl {
    /// Reads and checks a mapping file.
    pub fn load(path: &Path) -> Result<PromQl> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StoreError::Invalid(format!("{}: {e}", path.display())))?;
        PromQl::parse(&text, &path.display().to_string())
    }

    /// Parses a mapping from TOML text; `name` is used in errors.
    pub fn parse(text: &str, name: &str) -> Result<PromQl> {
        let at = |span: std::ops::Range<usize>| {
            format!(
                "{name}:{}",
                text[..span.start.min(text.len())].matches('\n').count() + 1
            )
        };
        let spec: FileSpec = toml::from_str(text).map_err(|e| {
            let line = e.span().map(&at).unwrap_or_else(|| name.to_string());
            StoreError::Invalid(format!("{line}: {}", e.message()))
        })?;
        let mut out = PromQl::default();
        if let Some(l) = spec.service_label {
            out.service_label = l;
        }
        if let Some(s) = spec.services {
            check(s.get_ref(), &at(s.span()))?;
            out.services = s.into_inner();
        }
        if let Some(s) = spec.step_seconds {
            if !(1..=3600).contains(&s) {
                return Err(StoreError::Invalid(format!(
                    "{name}: step_seconds {s} must be 1 to 3600"
                )));
            }
            out.step_seconds = s;
        }
        let profiles = |p: &Spanned<Vec<String>>| -> Result<BTreeMap<MetricType, Template>> {
            for n in p.get_ref() {
                if profile(n).is_none() {
                    return Err(StoreError::Invalid(format!(
                        "{}: unknown profile {n:?} (profiles: {})",
                        at(p.span()),
                        PROFILES.join(", ")
                    )));
                }
            }
            Ok(from_profiles(p.get_ref()))
        };
        if let Some(p) = &spec.profiles {
            out.defaults = profiles(p)?;
        }
        overlay(&mut out.defaults, &spec.metrics, &at)?;
        for (svc, table) in &spec.service {
            let mut m = out.defaults.clone();
            let mut metrics = BTreeMap::new();
            for (k, v) in table {
                let line = at(v.span());
                match (k.as_str(), v.get_ref()) {
                    ("profiles", toml::Value::Array(a)) => {
                        let names: Option<Vec<String>> =
                            a.iter().map(|n| n.as_str().map(str::to_string)).collect();
                        let Some(names) = names else {
                            return Err(StoreError::Invalid(format!(
                                "{line}: profiles is a list of names"
                            )));
                        };
                        m = profiles(&Spanned::new(v.span(), names))?;
                    }
                    (_, toml::Value::String(t)) => {
                        metrics.insert(k.clone(), Spanned::new(v.span(), t.clone()));
                    }
                    _ => {
                        return Err(StoreError::Invalid(format!(
                            "{line}: {k} must be a PromQL string (or profiles, a list)"
                        )));
                    }
                }
            }
            overlay(&mut m, &metrics, &at)?;
            out.per_service.insert(svc.clone(), m);
        }
        Ok(out)
    }

    /// The PromQL for one figure of one service, or `None` when nothing maps it.
    pub fn render(&self, service: &str, mt: MetricType) -> Option<Template> {
        let t = self
            .per_service
            .get(service)
            .unwrap_or(&self.defaults)
            .get(&mt)?;
        Some(Template {
            expr: t.expr.replace("{service}", &escape(service)),
            origin: t.origin.clone(),
        })
    }
}

fn overlay(
    into: &mut BTreeMap<MetricType, Template>,
    metrics: &BTreeMap<String, Spanned<String>>,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<()> {
    for (k, v) in metrics {
        let line = at(v.span());
        let Some(mt) = MetricType::parse(k) else {
            let known: Vec<&str> = MetricType::ALL.iter().map(|m| m.as_str()).collect();
            return Err(StoreError::Invalid(format!(
                "{line}: {k:?} is no metric type (types: {})",
                known.join(", ")
            )));
        };
        check(v.get_ref(), &line)?;
        into.insert(
            mt,
            Template {
                expr: v.get_ref().clone(),
                origin: line,
            },
        );
    }
    Ok(())
}

/// Parses a template as PromQL with a sample service name in place.
fn check(expr: &str, line: &str) -> Result<()> {
    let sample = expr.replace("{service}", "payment-service");
    let placeholder = sample.match_indices('{').find_map(|(i, _)| {
        let rest = &sample[i + 1..];
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        (word.starts_with(|c: char| c.is_alphabetic()) && rest[word.len()..].starts_with('}'))
            .then_some(word)
    });
    if let Some(p) = placeholder {
        return Err(StoreError::Invalid(format!(
            "{line}: unknown placeholder {{{p}}} (only {{service}})"
        )));
    }
    promql_parser::parser::parse(&sample)
        .map(|_| ())
        .map_err(|e| StoreError::Invalid(format!("{line}: the PromQL does not parse: {e}")))
}

/// A service name inside a double-quoted PromQL string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_parses() {
        for name in PROFILES {
            for (mt, expr) in profile(name).unwrap_or_default() {
                check(expr, name).unwrap_or_else(|e| panic!("{name} {mt:?}: {e}"));
            }
        }
    }

    #[test]
    fn a_file_overrides_per_service_and_names_its_bad_line() {
        let text = "profiles = [\"conventional\"]\n\n[service.\"payment-service\"]\nprofiles = [\"quantumstate\"]\nup = 'max(probe_success{job=\"{service}\"})'\n";
        let p = PromQl::parse(text, "m.toml").unwrap();
        let up = p.render("payment-service", MetricType::Up).unwrap();
        assert_eq!(up.expr, r#"max(probe_success{job="payment-service"})"#);
        assert_eq!(up.origin, "m.toml:5");
        let mem = p
            .render("payment-service", MetricType::MemoryPercent)
            .unwrap();
        assert_eq!(mem.origin, "profile quantumstate");
        assert!(
            p.render("auth-service", MetricType::MemoryPercent)
                .is_none()
        );
        let cpu = p.render("auth-service", MetricType::CpuPercent).unwrap();
        assert!(
            cpu.expr
                .contains("process_cpu_seconds_total{service=\"auth-service\"}")
        );

        let bad = "[metrics]\ncpu_percent = 'rate(x[1m]'\n";
        let e = PromQl::parse(bad, "m.toml").unwrap_err().to_string();
        assert!(
            e.contains("m.toml:2") && e.contains("does not parse"),
            "{e}"
        );
        let e = PromQl::parse("[metrics]\nmemroy = 'up'\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml:2") && e.contains("memroy"), "{e}");
        let e = PromQl::parse("profiles = [\"nope\"]\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.toml:1") && e.contains("unknown profile"),
            "{e}"
        );
        let e = PromQl::parse("[metrics]\nup = 'up{job=\"{svc}\"}'\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("placeholder {svc}"), "{e}");
        let e = PromQl::parse("bogus = 1\n", "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml:1"), "{e}");
    }

    #[test]
    fn service_names_are_escaped_in_strings() {
        let p = PromQl::default();
        let t = p.render("a\"b", MetricType::Up).unwrap();
        assert_eq!(t.expr, r#"max(up{service="a\"b"})"#);
    }
}
