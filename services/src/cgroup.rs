//! The memory limit `memory_percent` is measured against: `MEMORY_LIMIT_MB`, else the
//! cgroup v1 or v2 limit, else (unlimited) the host's MemTotal.

use std::fmt;
use std::path::Path;

pub const CGROUP_V1_LIMIT: &str = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
pub const CGROUP_V2_MAX: &str = "/sys/fs/cgroup/memory.max";
pub const MEMINFO: &str = "/proc/meminfo";

/// cgroup v1 writes "unlimited" as a page-rounded `i64::MAX`; anything this large is no limit.
const V1_UNLIMITED_FLOOR: u64 = 1 << 62;

/// A limit read from one cgroup file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLimit {
    Bytes(u64),
    Unlimited,
}

/// Where the effective limit came from, reported in the startup log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    Env,
    CgroupV1,
    CgroupV2,
    HostMemTotal,
    /// Nothing could be read; a fixed 1 GiB keeps `memory_percent` a number.
    Fallback,
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitSource::Env => "MEMORY_LIMIT_MB",
            LimitSource::CgroupV1 => "cgroup v1",
            LimitSource::CgroupV2 => "cgroup v2",
            LimitSource::HostMemTotal => "host MemTotal (no cgroup limit)",
            LimitSource::Fallback => "fallback 1 GiB (no cgroup or meminfo readable)",
        })
    }
}

/// The limit in bytes and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    pub bytes: u64,
    pub source: LimitSource,
}

const FALLBACK_BYTES: u64 = 1 << 30;

/// Parses `memory.limit_in_bytes` (v1): a byte count, huge when unlimited.
pub fn parse_v1_limit(text: &str) -> Option<CgroupLimit> {
    let bytes: u64 = text.trim().parse().ok()?;
    Some(if bytes >= V1_UNLIMITED_FLOOR {
        CgroupLimit::Unlimited
    } else {
        CgroupLimit::Bytes(bytes)
    })
}

/// Parses `memory.max` (v2): a byte count or the word `max`.
pub fn parse_v2_max(text: &str) -> Option<CgroupLimit> {
    let text = text.trim();
    if text == "max" {
        return Some(CgroupLimit::Unlimited);
    }
    text.parse().ok().map(CgroupLimit::Bytes)
}

/// Parses MemTotal out of `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => value.checked_mul(1024),
        Some(_) => None,
    }
}

/// Picks the effective limit from what could be read. A cgroup limit above the host's
/// memory is no real limit either (the kernel would never let RSS reach it).
pub fn effective_limit(
    env_mb: Option<u64>,
    v1: Option<CgroupLimit>,
    v2: Option<CgroupLimit>,
    host_total: Option<u64>,
) -> MemoryLimit {
    if let Some(mb) = env_mb {
        return MemoryLimit {
            bytes: mb.saturating_mul(1024 * 1024),
            source: LimitSource::Env,
        };
    }
    let cgroup = match (v2, v1) {
        (Some(CgroupLimit::Bytes(b)), _) => Some((b, LimitSource::CgroupV2)),
        (_, Some(CgroupLimit::Bytes(b))) => Some((b, LimitSource::CgroupV1)),
        _ => None,
    };
    match (cgroup, host_total) {
        (Some((bytes, source)), Some(host)) if bytes > 0 && bytes < host => {
            MemoryLimit { bytes, source }
        }
        (Some((bytes, source)), None) if bytes > 0 => MemoryLimit { bytes, source },
        (_, Some(host)) if host > 0 => MemoryLimit {
            bytes: host,
            source: LimitSource::HostMemTotal,
        },
        _ => MemoryLimit {
            bytes: FALLBACK_BYTES,
            source: LimitSource::Fallback,
        },
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(path)).ok()
}

/// Reads the limit now. Called every second, because `docker update` can change it live.
pub fn detect(env_mb: Option<u64>) -> MemoryLimit {
    if env_mb.is_some() {
        return effective_limit(env_mb, None, None, None);
    }
    effective_limit(
        None,
        read(CGROUP_V1_LIMIT).as_deref().and_then(parse_v1_limit),
        read(CGROUP_V2_MAX).as_deref().and_then(parse_v2_max),
        read(MEMINFO).as_deref().and_then(parse_meminfo_total),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn v1_formats() {
        assert_eq!(
            parse_v1_limit("268435456\n"),
            Some(CgroupLimit::Bytes(256 * MIB))
        );
        assert_eq!(
            parse_v1_limit("9223372036854771712\n"),
            Some(CgroupLimit::Unlimited)
        );
        assert_eq!(parse_v1_limit("garbage"), None);
    }

    #[test]
    fn v2_formats() {
        assert_eq!(parse_v2_max("max\n"), Some(CgroupLimit::Unlimited));
        assert_eq!(
            parse_v2_max("536870912\n"),
            Some(CgroupLimit::Bytes(512 * MIB))
        );
        assert_eq!(parse_v2_max(""), None);
    }

    #[test]
    fn meminfo() {
        let text = "MemTotal:       24684304 kB\nMemFree:        20000000 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(24_684_304 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn precedence() {
        let host = Some(16 * 1024 * MIB);
        let l = effective_limit(Some(300), Some(CgroupLimit::Bytes(MIB)), None, host);
        assert_eq!((l.bytes, l.source), (300 * MIB, LimitSource::Env));
        let l = effective_limit(None, Some(CgroupLimit::Bytes(256 * MIB)), None, host);
        assert_eq!((l.bytes, l.source), (256 * MIB, LimitSource::CgroupV1));
        let l = effective_limit(
            None,
            Some(CgroupLimit::Unlimited),
            Some(CgroupLimit::Bytes(128 * MIB)),
            host,
        );
        assert_eq!((l.bytes, l.source), (128 * MIB, LimitSource::CgroupV2));
        let l = effective_limit(None, None, Some(CgroupLimit::Unlimited), host);
        assert_eq!(l.source, LimitSource::HostMemTotal);
        // A limit above the host's memory is not a real limit.
        let l = effective_limit(None, Some(CgroupLimit::Bytes(u64::MAX >> 3)), None, host);
        assert_eq!(l.source, LimitSource::HostMemTotal);
        let l = effective_limit(None, None, None, None);
        assert_eq!(l.source, LimitSource::Fallback);
    }
}
