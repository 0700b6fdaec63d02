//! Service configuration read from the environment (SPEC "qs-service": `SERVICE_NAME`,
//! `PORT`, `DEPENDS_ON`, ...), validated up front so a bad value is a clear message, never a panic.

mod depends_on;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

pub use depends_on::{DependencyConfig, parse_depends_on};

/// At most this many entries in `DEPENDS_ON`: the probe loop and the health report stay small.
pub const MAX_DEPENDENCIES: usize = 16;
/// Highest accepted `LOAD_RPS`: the generator is for steady demo traffic, not load tests.
pub const MAX_LOAD_RPS: f64 = 1000.0;

/// What a `qs-service` process does for the fleet; chooses its business routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Payment,
    Checkout,
    Auth,
    Inventory,
    Cache,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Payment,
        Role::Checkout,
        Role::Auth,
        Role::Inventory,
        Role::Cache,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Payment => "payment",
            Role::Checkout => "checkout",
            Role::Auth => "auth",
            Role::Inventory => "inventory",
            Role::Cache => "cache",
        }
    }

    /// Parses an explicit `ROLE` value.
    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// Derives the role from a service or host name: `payment-service` → payment,
    /// `auth-cache` → cache (anything naming a cache or redis is the cache role).
    pub fn from_name(name: &str) -> Option<Role> {
        let name = name.to_ascii_lowercase();
        if name.contains("cache") || name.contains("redis") {
            return Some(Role::Cache);
        }
        Role::ALL
            .into_iter()
            .filter(|r| *r != Role::Cache)
            .find(|r| name.starts_with(r.as_str()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub service_name: String,
    pub port: u16,
    pub bind_addr: IpAddr,
    pub version: String,
    pub depends_on: Vec<DependencyConfig>,
    /// `MEMORY_LIMIT_MB` when set; otherwise the limit is read from the cgroup.
    pub memory_limit_mb: Option<u64>,
    pub region: String,
    pub defective_versions: Vec<String>,
    pub load_rps: f64,
    pub role: Role,
    /// `QS_FAULT_TOKEN`: the bearer token fault control requires; without one, fault
    /// control is off (faults come only through QuantumState, which holds the token).
    pub fault_token: Option<String>,
}

/// A bad or missing environment variable; the binary prints it and exits 2.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{var} is required: {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // An empty variable counts as unset, like most shells and compose files expect.
        let get = |key: &str| get(key).filter(|v| !v.trim().is_empty());

        let service_name = get("SERVICE_NAME").ok_or(ConfigError::Missing {
            var: "SERVICE_NAME",
            hint: "the container name this service answers as, e.g. payment-service",
        })?;
        let service_name = service_name.trim().to_owned();
        if service_name.len() > 63 || !service_name.chars().all(is_name_char) {
            return Err(invalid(
                "SERVICE_NAME",
                &service_name,
                "use 1-63 letters, digits, '-', '_' or '.'",
            ));
        }

        let port_raw = get("PORT").ok_or(ConfigError::Missing {
            var: "PORT",
            hint: "the TCP port to listen on, 1-65535",
        })?;
        let port = match port_raw.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(invalid(
                    "PORT",
                    &port_raw,
                    "expected an integer from 1 to 65535",
                ));
            }
        };

        let bind_addr = match get("BIND_ADDR") {
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(raw) => raw.trim().parse().map_err(|_| {
                invalid("BIND_ADDR", &raw, "expected an IP address such as 0.0.0.0")
            })?,
        };

        let version = get("SERVICE_VERSION").unwrap_or_else(|| "1.0.0".to_owned());
        let version = version.trim().to_owned();
        if version.len() > 64 || version.chars().any(char::is_whitespace) {
            return Err(invalid(
                "SERVICE_VERSION",
                &version,
                "at most 64 characters, no spaces",
            ));
        }

        let depends_on = match get("DEPENDS_ON") {
            None => Vec::new(),
            Some(raw) => parse_depends_on(&raw)?,
        };

        let memory_limit_mb = match get("MEMORY_LIMIT_MB") {
            None => None,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(mb) if (1..=10_000_000).contains(&mb) => Some(mb),
                _ => {
                    return Err(invalid(
                        "MEMORY_LIMIT_MB",
                        &raw,
                        "expected an integer number of MiB from 1 to 10000000",
                    ));
                }
            },
        };

        let region = get("REGION").unwrap_or_else(|| "us-east-1".to_owned());
        let region = region.trim().to_owned();
        if region.len() > 32 || !region.chars().all(is_name_char) {
            return Err(invalid(
                "REGION",
                &region,
                "use up to 32 letters, digits, '-', '_' or '.'",
            ));
        }

        let defective_versions = get("DEFECTIVE_VERSIONS")
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();

        let role = match get("ROLE") {
            Some(raw) => Role::parse(&raw).ok_or_else(|| {
                invalid(
                    "ROLE",
                    &raw,
                    "expected one of payment, checkout, auth, inventory, cache",
                )
            })?,
            None => Role::from_name(&service_name).ok_or(ConfigError::Missing {
                var: "ROLE",
                hint: "SERVICE_NAME does not start with payment, checkout, auth or inventory \
                       nor name a cache; set ROLE to one of payment, checkout, auth, inventory, cache",
            })?,
        };

        let load_rps = match get("LOAD_RPS") {
            None => 0.0,
            Some(raw) => match raw.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=MAX_LOAD_RPS).contains(&v) => v,
                _ => {
                    return Err(invalid(
                        "LOAD_RPS",
                        &raw,
                        format!(
                            "expected a number of requests per second from 0 to {MAX_LOAD_RPS}"
                        ),
                    ));
                }
            },
        };
        if load_rps > 0.0 && role != Role::Checkout {
            return Err(invalid(
                "LOAD_RPS",
                &load_rps.to_string(),
                format!("the load generator only runs in the checkout role, this is {role}"),
            ));
        }

        let fault_token = match get("QS_FAULT_TOKEN").map(|t| t.trim().to_owned()) {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) if t.len() < 16 || t.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(invalid(
                    "QS_FAULT_TOKEN",
                    "(hidden)",
                    "expected at least 16 characters, no spaces",
                ));
            }
            Some(t) => Some(t),
        };
        Ok(Config {
            fault_token,
            service_name,
            port,
            bind_addr,
            version,
            depends_on,
            memory_limit_mb,
            region,
            defective_versions,
            load_rps,
            role,
        })
    }

    /// True when this release is one of `DEFECTIVE_VERSIONS` (a bad deploy).
    pub fn is_defective(&self) -> bool {
        self.defective_versions.contains(&self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_derived_role() {
        let c = config(&[("SERVICE_NAME", "payment-service"), ("PORT", "8001")]).unwrap();
        assert_eq!(c.role, Role::Payment);
        assert_eq!(c.version, "1.0.0");
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.load_rps, 0.0);
        assert!(c.depends_on.is_empty());
        assert!(!c.is_defective());
        let cache = config(&[("SERVICE_NAME", "auth-cache"), ("PORT", "6379")]).unwrap();
        assert_eq!(cache.role, Role::Cache);
        let auth = config(&[("SERVICE_NAME", "auth-service"), ("PORT", "8003")]).unwrap();
        assert_eq!(auth.role, Role::Auth);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("SERVICE_NAME", "payment-service"), ("PORT", "abc")]).unwrap_err();
        assert!(
            err.to_string().starts_with("PORT=\"abc\" is invalid"),
            "{err}"
        );
        let err = config(&[("PORT", "1")]).unwrap_err();
        assert!(
            err.to_string().starts_with("SERVICE_NAME is required"),
            "{err}"
        );
        let err = config(&[("SERVICE_NAME", "weird"), ("PORT", "1")]).unwrap_err();
        assert!(err.to_string().starts_with("ROLE is required"), "{err}");
        let err = config(&[
            ("SERVICE_NAME", "payment-service"),
            ("PORT", "1"),
            ("DEPENDS_ON", "payment-service:8001"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
        let err = config(&[
            ("SERVICE_NAME", "payment-service"),
            ("PORT", "1"),
            ("LOAD_RPS", "5"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("checkout"), "{err}");
        let err = config(&[
            ("SERVICE_NAME", "payment-service"),
            ("PORT", "1"),
            ("MEMORY_LIMIT_MB", "-3"),
        ])
        .unwrap_err();
        assert!(err.to_string().starts_with("MEMORY_LIMIT_MB"), "{err}");
    }

    #[test]
    fn defective_versions() {
        let c = config(&[
            ("SERVICE_NAME", "checkout-service"),
            ("PORT", "8002"),
            ("SERVICE_VERSION", "3.5.0"),
            ("DEFECTIVE_VERSIONS", "3.4.9, 3.5.0"),
            ("LOAD_RPS", "2.5"),
        ])
        .unwrap();
        assert!(c.is_defective());
        assert_eq!(c.load_rps, 2.5);
    }
}
