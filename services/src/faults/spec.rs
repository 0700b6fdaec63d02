//! Parsing and validating a `POST /faults` body into a typed fault, with errors that name
//! the field and say why (unknown kind, missing TTL, out of range, wrong type, unknown field).

mod fields;

use serde::Serialize;
use serde_json::Value;

use fields::{describe, integer, number};

use crate::telemetry::MemoryReading;

pub const MAX_TTL_SECONDS: u64 = 3600;
/// Share of the memory limit a leak stops at unless `allow_oom` (SPEC "Images and Docker").
pub const LEAK_CEILING_PERCENT: f64 = 90.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    MemoryLeak,
    CpuBurn,
    ErrorSpike,
    Latency,
    DependencyFailure,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::MemoryLeak,
        FaultKind::CpuBurn,
        FaultKind::ErrorSpike,
        FaultKind::Latency,
        FaultKind::DependencyFailure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::MemoryLeak => "memory_leak",
            FaultKind::CpuBurn => "cpu_burn",
            FaultKind::ErrorSpike => "error_spike",
            FaultKind::Latency => "latency",
            FaultKind::DependencyFailure => "dependency_failure",
        }
    }

    pub fn parse(s: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind's own parameters (besides `kind` and `ttl_seconds`).
    pub fn params(self) -> &'static [&'static str] {
        match self {
            FaultKind::MemoryLeak => &["mb_per_second", "max_mb", "allow_oom"],
            FaultKind::CpuBurn => &["threads"],
            FaultKind::ErrorSpike => &["error_share"],
            FaultKind::Latency => &["added_ms"],
            FaultKind::DependencyFailure => &["dependency"],
        }
    }
}

/// A kind's parameters, validated; defaults filled in except the leak cap, which depends
/// on memory at start time (see [`leak_cap_mb`]).
#[derive(Debug, Clone, PartialEq)]
pub enum FaultParams {
    MemoryLeak {
        mb_per_second: f64,
        max_mb: Option<f64>,
        allow_oom: bool,
    },
    CpuBurn {
        threads: u32,
    },
    ErrorSpike {
        error_share: f64,
    },
    Latency {
        added_ms: u64,
    },
    DependencyFailure {
        dependency: String,
    },
}

/// A valid fault request.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    pub ttl_seconds: u64,
    pub params: FaultParams,
}

impl FaultSpec {
    pub fn kind(&self) -> FaultKind {
        match self.params {
            FaultParams::MemoryLeak { .. } => FaultKind::MemoryLeak,
            FaultParams::CpuBurn { .. } => FaultKind::CpuBurn,
            FaultParams::ErrorSpike { .. } => FaultKind::ErrorSpike,
            FaultParams::Latency { .. } => FaultKind::Latency,
            FaultParams::DependencyFailure { .. } => FaultKind::DependencyFailure,
        }
    }
}

/// Whether the body could not be read at all (400) or a field is wrong (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorKind {
    Malformed,
    Invalid,
}

/// Names the offending field and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub kind: SpecErrorKind,
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        kind: SpecErrorKind::Invalid,
        field: field.to_owned(),
        message: message.into(),
    }
}

fn kinds_list() -> String {
    FaultKind::ALL.map(FaultKind::as_str).join(", ")
}

/// Parses a `POST /faults` body. `dependencies` are the names a `dependency_failure`
/// may target (this service's `DEPENDS_ON`).
pub fn parse(body: &[u8], dependencies: &[String]) -> Result<FaultSpec, SpecError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| SpecError {
        kind: SpecErrorKind::Malformed,
        field: "body".to_owned(),
        message: format!("is not valid JSON ({e}); send an object like {{\"kind\": \"latency\", \"ttl_seconds\": 60, \"added_ms\": 500}}"),
    })?;
    let Value::Object(body) = value else {
        return Err(SpecError {
            kind: SpecErrorKind::Malformed,
            field: "body".to_owned(),
            message: format!("must be a JSON object, got {}", describe(&value)),
        });
    };

    let kind = match body.get("kind") {
        None => {
            return Err(invalid(
                "kind",
                format!("is required; one of {}", kinds_list()),
            ));
        }
        Some(Value::String(s)) => FaultKind::parse(s).ok_or_else(|| {
            invalid(
                "kind",
                format!("unknown fault kind {s:?}; expected one of {}", kinds_list()),
            )
        })?,
        Some(other) => {
            return Err(invalid(
                "kind",
                format!(
                    "must be a string, one of {}; got {}",
                    kinds_list(),
                    describe(other)
                ),
            ));
        }
    };

    let ttl_seconds = integer(&body, "ttl_seconds", 1, MAX_TTL_SECONDS, " seconds")?.ok_or_else(|| {
        invalid(
            "ttl_seconds",
            format!("is required: every fault ends by itself; an integer from 1 to {MAX_TTL_SECONDS} seconds"),
        )
    })?;

    let mut unknown: Vec<&String> = body
        .keys()
        .filter(|k| *k != "kind" && *k != "ttl_seconds" && !kind.params().contains(&k.as_str()))
        .collect();
    unknown.sort();
    if let Some(field) = unknown.first() {
        let mut allowed = vec!["kind", "ttl_seconds"];
        allowed.extend_from_slice(kind.params());
        return Err(invalid(
            field,
            format!(
                "unknown field for kind {}; allowed fields: {}",
                kind.as_str(),
                allowed.join(", ")
            ),
        ));
    }

    let params = match kind {
        FaultKind::MemoryLeak => {
            let allow_oom = match body.get("allow_oom") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(invalid(
                        "allow_oom",
                        format!("must be true or false, got {}", describe(other)),
                    ));
                }
            };
            FaultParams::MemoryLeak {
                mb_per_second: number(&body, "mb_per_second", 1.0, 500.0, " MB/s")?.unwrap_or(10.0),
                max_mb: number(&body, "max_mb", 1.0, 100_000.0, " MB")?,
                allow_oom,
            }
        }
        FaultKind::CpuBurn => FaultParams::CpuBurn {
            // In range 1..=8, so the cast cannot truncate.
            threads: integer(&body, "threads", 1, 8, " threads")?.unwrap_or(1) as u32,
        },
        FaultKind::ErrorSpike => FaultParams::ErrorSpike {
            error_share: number(&body, "error_share", 0.0, 1.0, "")?.ok_or_else(|| {
                invalid(
                    "error_share",
                    "is required: the share of business requests to fail, from 0 to 1",
                )
            })?,
        },
        FaultKind::Latency => FaultParams::Latency {
            added_ms: integer(&body, "added_ms", 1, 30_000, " ms")?.ok_or_else(|| {
                invalid(
                    "added_ms",
                    "is required: milliseconds added to each business request, from 1 to 30000",
                )
            })?,
        },
        FaultKind::DependencyFailure => {
            let known = if dependencies.is_empty() {
                "this service has no dependencies (DEPENDS_ON is empty)".to_owned()
            } else {
                format!("one of {}", dependencies.join(", "))
            };
            let dependency = match body.get("dependency") {
                None => {
                    return Err(invalid("dependency", format!("is required: {known}")));
                }
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(invalid(
                        "dependency",
                        format!("must be a string, {known}; got {}", describe(other)),
                    ));
                }
            };
            if !dependencies.contains(&dependency) {
                return Err(invalid(
                    "dependency",
                    format!("unknown dependency {dependency:?}; {known}"),
                ));
            }
            FaultParams::DependencyFailure { dependency }
        }
    };
    Ok(FaultSpec {
        ttl_seconds,
        params,
    })
}

/// The leak's cap in MB. Without `allow_oom` it stops at 90 % of the memory limit, so a
/// drill never ends in a silent OOM kill; an explicit `max_mb` above that is lowered.
pub fn leak_cap_mb(
    max_mb: Option<f64>,
    allow_oom: bool,
    mem: &MemoryReading,
) -> Result<f64, SpecError> {
    if allow_oom {
        return Ok(max_mb.unwrap_or_else(|| mem.limit_mb().clamp(1.0, 100_000.0)));
    }
    let headroom = mem.limit_mb() * LEAK_CEILING_PERCENT / 100.0 - mem.rss_mb();
    if headroom < 1.0 {
        return Err(invalid(
            "max_mb",
            format!(
                "memory is already at {:.1}% of the {:.0} MB limit; a leak would pass {LEAK_CEILING_PERCENT}%. \
                 Pass allow_oom: true to go further",
                mem.percent,
                mem.limit_mb()
            ),
        ));
    }
    Ok(max_mb
        .map_or(headroom, |m| m.min(headroom))
        .floor()
        .max(1.0))
}

#[cfg(test)]
mod tests;
