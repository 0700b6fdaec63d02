//! Container statistics computed the way `docker stats` computes them: CPU from the
//! deltas of container and system CPU time, memory as usage minus inactive page cache
//! (cgroup v1 `total_inactive_file`, v2 `inactive_file`).

use std::time::Instant;

use bollard::models::ContainerStatsResponse;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ContainerInfo;

/// One CPU reading, kept between calls because one-shot stats carry no previous sample.
#[derive(Debug, Clone)]
pub struct CpuSample {
    pub at: Instant,
    pub container_ns: u64,
    pub system_ns: u64,
    pub online_cpus: u64,
}

impl CpuSample {
    pub fn of(s: &ContainerStatsResponse, at: Instant) -> Option<CpuSample> {
        let cpu = s.cpu_stats.as_ref()?;
        let usage = cpu.cpu_usage.as_ref()?;
        let online = match cpu.online_cpus {
            Some(n) if n > 0 => u64::from(n),
            _ => usage
                .percpu_usage
                .as_ref()
                .map(|v| v.len() as u64)
                .filter(|n| *n > 0)
                .unwrap_or(1),
        };
        Some(CpuSample {
            at,
            container_ns: usage.total_usage?,
            system_ns: cpu.system_cpu_usage?,
            online_cpus: online,
        })
    }
}

/// `docker stats` for one container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerStats {
    pub service: String,
    pub container_id: String,
    /// Running and not paused.
    pub running: bool,
    /// Frozen by `docker pause` (its memory still shows; it serves nothing).
    pub paused: bool,
    /// Percent of one CPU (100 = one core busy), as `docker stats` shows it.
    pub cpu_percent: Option<f64>,
    pub online_cpus: Option<u64>,
    /// Memory in use minus inactive page cache, bytes.
    pub memory_used_bytes: Option<u64>,
    /// The container's memory limit (host memory when unlimited), bytes.
    pub memory_limit_bytes: Option<u64>,
    pub memory_percent: Option<f64>,
    pub network_rx_bytes: Option<u64>,
    pub network_tx_bytes: Option<u64>,
    pub pids: Option<u64>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// CPU percent between two samples: container time over system time, times CPUs.
pub fn cpu_percent(prev: &CpuSample, cur: &CpuSample) -> Option<f64> {
    let cpu = cur.container_ns.checked_sub(prev.container_ns)? as f64;
    let sys = cur.system_ns.checked_sub(prev.system_ns)? as f64;
    (sys > 0.0).then(|| round2(cpu / sys * cur.online_cpus as f64 * 100.0))
}

/// (used, limit) bytes: usage minus inactive file cache.
pub fn memory(s: &ContainerStatsResponse) -> Option<(u64, u64)> {
    let m = s.memory_stats.as_ref()?;
    let usage = m.usage?;
    let st = m.stats.as_ref();
    let cache = st
        .and_then(|st| {
            st.get("total_inactive_file")
                .filter(|v| **v < usage)
                .or_else(|| st.get("inactive_file").filter(|v| **v < usage))
        })
        .copied()
        .unwrap_or(0);
    Some((usage - cache, m.limit.unwrap_or(0)))
}

pub fn compute(
    info: &ContainerInfo,
    raw: &ContainerStatsResponse,
    prev: Option<&CpuSample>,
    cur: Option<&CpuSample>,
) -> ContainerStats {
    let mem = memory(raw);
    let (rx, tx) = raw
        .networks
        .as_ref()
        .map(|n| {
            n.values().fold((0u64, 0u64), |(r, t), s| {
                (r + s.rx_bytes.unwrap_or(0), t + s.tx_bytes.unwrap_or(0))
            })
        })
        .map_or((None, None), |(r, t)| (Some(r), Some(t)));
    ContainerStats {
        service: info.name.clone(),
        container_id: info.id.clone(),
        running: mem.is_some(),
        paused: false,
        cpu_percent: match (prev, cur) {
            (Some(p), Some(c)) => cpu_percent(p, c),
            _ => None,
        },
        online_cpus: cur.map(|c| c.online_cpus),
        memory_used_bytes: mem.map(|m| m.0),
        memory_limit_bytes: mem.map(|m| m.1).filter(|l| *l > 0),
        memory_percent: mem.and_then(|(u, l)| (l > 0).then(|| round2(u as f64 / l as f64 * 100.0))),
        network_rx_bytes: rx,
        network_tx_bytes: tx,
        pids: raw.pids_stats.as_ref().and_then(|p| p.current),
    }
}

/// The stats of a swarm service: the sum over its tasks' containers (CPU, memory, network,
/// pids), `container_id` listing them; running when every task runs.
pub fn sum(service: &str, parts: &[ContainerStats]) -> ContainerStats {
    fn total<F: Fn(&ContainerStats) -> Option<u64>>(parts: &[ContainerStats], f: F) -> Option<u64> {
        parts.iter().map(f).sum()
    }
    let used = total(parts, |p| p.memory_used_bytes);
    let limit = total(parts, |p| p.memory_limit_bytes);
    ContainerStats {
        service: service.to_string(),
        container_id: parts
            .iter()
            .map(|p| p.container_id.as_str())
            .collect::<Vec<_>>()
            .join(","),
        running: !parts.is_empty() && parts.iter().all(|p| p.running),
        paused: parts.iter().any(|p| p.paused),
        cpu_percent: parts
            .iter()
            .map(|p| p.cpu_percent)
            .sum::<Option<f64>>()
            .map(round2),
        online_cpus: parts.iter().filter_map(|p| p.online_cpus).max(),
        memory_used_bytes: used,
        memory_limit_bytes: limit,
        memory_percent: match (used, limit) {
            (Some(u), Some(l)) if l > 0 => Some(round2(u as f64 / l as f64 * 100.0)),
            _ => None,
        },
        network_rx_bytes: total(parts, |p| p.network_rx_bytes),
        network_tx_bytes: total(parts, |p| p.network_tx_bytes),
        pids: total(parts, |p| p.pids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_matches_docker_stats_arithmetic() {
        // The reading from bollard.md: 1.0056e9 ns of CPU over 1.99e9 ns of system time on 2 CPUs.
        let at = Instant::now();
        let p = CpuSample {
            at,
            container_ns: 6_253_307_945,
            system_ns: 1_450_270_000_000,
            online_cpus: 2,
        };
        let c = CpuSample {
            at,
            container_ns: 7_258_921_593,
            system_ns: 1_452_260_000_000,
            online_cpus: 2,
        };
        assert_eq!(cpu_percent(&p, &c), Some(101.07));
        assert_eq!(cpu_percent(&c, &p), None);
    }

    #[test]
    fn a_swarm_service_sums_its_tasks() {
        let task = |id: &str, cpu: f64, mem: u64| ContainerStats {
            service: "web".into(),
            container_id: id.into(),
            running: true,
            paused: false,
            cpu_percent: Some(cpu),
            online_cpus: Some(2),
            memory_used_bytes: Some(mem),
            memory_limit_bytes: Some(1000),
            memory_percent: None,
            network_rx_bytes: Some(1),
            network_tx_bytes: Some(2),
            pids: Some(3),
        };
        let s = sum("web", &[task("a", 1.5, 100), task("b", 2.25, 300)]);
        assert_eq!(s.container_id, "a,b");
        assert_eq!(s.cpu_percent, Some(3.75));
        assert_eq!(s.memory_used_bytes, Some(400));
        assert_eq!(s.memory_percent, Some(20.0));
        assert_eq!((s.pids, s.network_tx_bytes), (Some(6), Some(4)));
        assert!(s.running);
        assert!(!sum("web", &[]).running);
    }
}
