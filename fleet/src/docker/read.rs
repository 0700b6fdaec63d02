//! The read side on one engine: listings (fresh or cached), inspections by name or by
//! resolved target, `docker stats` the way the CLI computes it, and logs (read or followed).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerInspectResponse, ContainerStatsResponse};
use bollard::query_parameters::{LogsOptionsBuilder, StatsOptionsBuilder};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::convert::{detail, docker_time, map_err};
use super::{DockerFleet, QUICK};
use crate::stats::{self, CpuSample};
use crate::{
    ContainerDetail, ContainerInfo, ContainerStats, FleetError, FleetRead, FleetResult, LogOptions,
    RawLog, Target,
};

/// The longest log read we return in one call.
const MAX_LOG_LINES: usize = 5_000;
/// Bound on reading a container's log once.
const LOG_READ: Duration = Duration::from_secs(10);

impl DockerFleet {
    /// Stats of one container (a managed one, or a swarm service's task).
    pub(super) async fn stats_of(&self, info: ContainerInfo) -> FleetResult<ContainerStats> {
        let now = self.one_shot(&info.id).await?;
        let fresh = CpuSample::of(&now, Instant::now());
        let prev = self
            .cpu
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&info.id)
            .cloned();
        // One-shot stats carry no previous sample on API 1.41: use ours, or take a second
        // sample half a second later.
        let (prev, cur, raw) = match (prev, fresh) {
            (Some(p), Some(c))
                if c.at.duration_since(p.at) < Duration::from_secs(60) && c.at > p.at =>
            {
                (Some(p), Some(c), now)
            }
            (_, Some(c)) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let again = self.one_shot(&info.id).await?;
                let c2 = CpuSample::of(&again, Instant::now());
                (Some(c), c2, again)
            }
            (_, None) => (None, None, now),
        };
        if let Some(c) = &cur {
            self.cpu
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(info.id.clone(), c.clone());
        }
        // Docker's stats of a paused container look like a running one's: ask its state.
        let i = self.inspect_id(&info.id).await?;
        let d = detail(info, &i);
        let mut out = stats::compute(&d.info, &raw, prev.as_ref(), cur.as_ref());
        out.paused = d.paused;
        out.running = d.running && out.running;
        Ok(out)
    }

    /// The log lines of one container by id.
    pub(super) async fn logs_of(&self, id: &str, opts: &LogOptions) -> FleetResult<Vec<RawLog>> {
        let tail = opts.tail.clamp(1, MAX_LOG_LINES);
        let since = since_secs(opts.since);
        let id = id.to_string();
        self.call("container_logs", LOG_READ, |d| async move {
            let o = LogsOptionsBuilder::new()
                .stdout(true)
                .stderr(true)
                .timestamps(true)
                .since(since)
                .tail(&tail.to_string())
                .build();
            let mut s = d.logs(&id, Some(o));
            let mut out = Vec::new();
            while let Some(item) = s.next().await {
                if let Some(line) = raw_line(&item?) {
                    out.push(line);
                }
                if out.len() >= MAX_LOG_LINES {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn inspect_id(&self, id: &str) -> FleetResult<ContainerInspectResponse> {
        let id = id.to_string();
        self.call("inspect_container", QUICK, |d| async move {
            d.inspect_container(&id, None).await
        })
        .await
    }

    async fn inspect_info(&self, info: ContainerInfo) -> FleetResult<ContainerDetail> {
        let i = self.inspect_id(&info.id).await?;
        let state = i
            .state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string().to_lowercase())
            .unwrap_or_else(|| info.state.clone());
        Ok(detail(ContainerInfo { state, ..info }, &i))
    }

    async fn one_shot(&self, id: &str) -> FleetResult<ContainerStatsResponse> {
        let id = id.to_string();
        self.call("container_stats", QUICK, |d| async move {
            let o = StatsOptionsBuilder::new()
                .stream(false)
                .one_shot(true)
                .build();
            match d.stats(&id, Some(o)).next().await {
                Some(r) => r,
                None => Err(DockerError::DockerResponseServerError {
                    status_code: 500,
                    message: "the daemon returned no stats".into(),
                }),
            }
        })
        .await
    }
}

/// One line of `docker logs --timestamps`, or None for a line without a timestamp.
fn raw_line(item: &LogOutput) -> Option<RawLog> {
    let stream = match item {
        LogOutput::StdErr { .. } => "stderr",
        _ => "stdout",
    };
    let text = String::from_utf8_lossy(item.as_ref()).to_string();
    let (ts, line) = text.split_once(' ').unwrap_or(("", text.as_str()));
    Some(RawLog {
        at: docker_time(Some(ts))?,
        stream: stream.into(),
        line: line.trim_end().to_string(),
    })
}

fn since_secs(t: Option<DateTime<Utc>>) -> i32 {
    t.map(|t| t.timestamp().clamp(0, i32::MAX as i64) as i32)
        .unwrap_or(0)
}

#[async_trait]
impl FleetRead for DockerFleet {
    async fn list(&self) -> FleetResult<Vec<ContainerInfo>> {
        self.list_managed().await
    }

    async fn list_cached(&self) -> FleetResult<Vec<ContainerInfo>> {
        match self.cached_listing() {
            Some(l) => Ok(l),
            None => self.list_managed().await,
        }
    }

    async fn inspect(&self, service: &str) -> FleetResult<ContainerDetail> {
        let info = self.resolve(service).await?;
        match self.inspect_info(info).await {
            // The cached listing named a container that has since been replaced.
            Err(FleetError::NotFound(_)) => {
                let info = self.resolve(service).await?;
                self.inspect_info(info).await
            }
            other => other,
        }
    }

    async fn inspect_target(&self, target: &Target) -> FleetResult<ContainerDetail> {
        let i = self.inspect_id(&target.id).await?;
        let info = super::convert::summary_from_inspect(&self.spec, &i);
        Ok(detail(info, &i))
    }

    async fn stats(&self, service: &str) -> FleetResult<ContainerStats> {
        match self.resolve(service).await {
            Ok(info) => self.stats_of(info).await,
            Err(FleetError::NotFound(_)) => self.swarm_stats(service).await,
            Err(e) => Err(e),
        }
    }

    async fn logs(&self, service: &str, opts: LogOptions) -> FleetResult<Vec<RawLog>> {
        match self.resolve(service).await {
            Ok(info) => self.logs_of(&info.id, &opts).await,
            Err(FleetError::NotFound(_)) => self.swarm_logs(service, &opts).await,
            Err(e) => Err(e),
        }
    }

    async fn follow_logs(
        &self,
        service: &str,
        since: Option<DateTime<Utc>>,
    ) -> FleetResult<futures::stream::BoxStream<'static, FleetResult<RawLog>>> {
        let info = self.resolve(service).await?;
        let d = self.docker().await?;
        let since = since_secs(since);
        let o = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .since(since)
            .tail(if since > 0 { "all" } else { "200" })
            .build();
        let stream = d.logs(&info.id, Some(o)).filter_map(|item| async move {
            match item {
                Err(e) => Some(Err(map_err(e))),
                Ok(out) => raw_line(&out).map(Ok),
            }
        });
        Ok(Box::pin(stream))
    }

    async fn swarm_services(&self) -> FleetResult<Vec<crate::SwarmService>> {
        self.list_swarm().await
    }

    async fn swarm_tasks(&self, svc: &crate::SwarmService) -> FleetResult<Vec<ContainerDetail>> {
        self.task_details(svc).await
    }

    fn describe(&self) -> String {
        self.spec
            .endpoint
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
    }
}
