//! The fleet across several Docker engines (`--docker-host NAME=ENDPOINT`, repeatable),
//! behind the same `FleetRead` and `FleetOps` as one engine.
//!
//! Every listing covers all hosts, each engine bounded by `HOST_BOUND`. A service name
//! that runs on one host stays bare; one that runs on two is `host/name` in every result
//! and must be qualified (the error lists the choices). An engine that does not answer is
//! marked unreachable: its last listed containers are returned with the reason, calls
//! that target it fail at once naming it, and a background check (at most one in flight,
//! every `RECHECK`) brings it back without a restart. Operations go to the target's host.

mod engine;
mod names;
mod swarm;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::{
    ContainerDetail, ContainerInfo, ContainerStats, DockerFleet, FleetError, FleetOps, FleetRead,
    FleetResult, HostSpec, LogOptions, RawLog, Recreate, SwarmChange, SwarmService, Target,
};
use engine::Engine;
use names::{Resolved, qualify};

pub use engine::HostStatus;

/// The longest one engine may take to list before it is called unreachable.
pub const HOST_BOUND: Duration = Duration::from_secs(2);
/// How often an unreachable engine is tried again in the background.
const RECHECK: Duration = Duration::from_secs(3);

/// Several engines as one fleet.
pub struct Hosts {
    engines: Vec<Arc<Engine>>,
    /// Bare names that run on more than one host (named `host/name` everywhere).
    shared: Mutex<BTreeSet<String>>,
}

impl Hosts {
    pub fn new(specs: Vec<HostSpec>) -> Hosts {
        Hosts {
            engines: specs
                .into_iter()
                .map(|s| {
                    Arc::new(Engine {
                        name: s.name.clone(),
                        fleet: DockerFleet::on(s),
                        health: Mutex::default(),
                    })
                })
                .collect(),
            shared: Mutex::default(),
        }
    }

    fn engine(&self, host: &str) -> FleetResult<&Arc<Engine>> {
        self.engines.iter().find(|e| e.name == host).ok_or_else(|| {
            FleetError::NotFound(format!(
                "host {host:?} (hosts: {})",
                self.engines
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    async fn gather(&self, cached: bool) -> FleetResult<Vec<ContainerInfo>> {
        let lists = futures::future::join_all(self.engines.iter().map(|e| e.listing(cached))).await;
        if self.engines.iter().all(|e| e.down().is_some()) {
            let why: Vec<String> = self
                .engines
                .iter()
                .map(|e| format!("{}: {}", e.name, e.down().unwrap_or_default()))
                .collect();
            return Err(FleetError::Unavailable(format!(
                "no Docker host answers ({})",
                why.join("; ")
            )));
        }
        let all: Vec<ContainerInfo> = lists.into_iter().flatten().collect();
        let shared = names::shared(&all);
        let mut out: Vec<ContainerInfo> = all.into_iter().map(|c| qualify(c, &shared)).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        *self.shared.lock().unwrap_or_else(|p| p.into_inner()) = shared;
        Ok(out)
    }

    fn named(&self, c: ContainerInfo) -> ContainerInfo {
        qualify(c, &self.shared.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn named_detail(&self, mut d: ContainerDetail) -> ContainerDetail {
        d.info = self.named(d.info);
        d
    }

    /// The engine and bare name `service` refers to.
    async fn resolve(&self, service: &str) -> FleetResult<(&Arc<Engine>, String)> {
        if let Some((host, bare)) = service.split_once('/') {
            let e = self.engine(host)?;
            e.refuse()?;
            return Ok((e, bare.to_string()));
        }
        let mut list = self.gather(true).await?;
        for fresh in [false, true] {
            match names::find(&list, service) {
                Resolved::One(host) => {
                    let e = self.engine(&host)?;
                    e.refuse()?;
                    return Ok((e, service.to_string()));
                }
                Resolved::Many(choices) => {
                    return Err(FleetError::Ambiguous {
                        name: service.into(),
                        choices,
                    });
                }
                Resolved::None if !fresh => list = self.gather(false).await?,
                Resolved::None => {}
            }
        }
        // A swarm service (its tasks' logs and stats are read on its manager's engine).
        if let Ok(svc) = self.swarm_service(service).await {
            let e = self.engine(&svc.host)?;
            return Ok((e, svc.name));
        }
        // Not listed anywhere: ask each answering engine, so a container that exists but
        // is not managed is refused naming the label.
        for e in self.engines.iter().filter(|e| e.down().is_none()) {
            match e.fleet.inspect(service).await {
                Err(FleetError::NotFound(_)) | Err(FleetError::Unavailable(_)) => {}
                Ok(_) => return Ok((e, service.to_string())),
                Err(other) => return Err(other),
            }
        }
        Err(FleetError::NotFound(service.into()))
    }

    fn target_engine(&self, target: &Target) -> FleetResult<&Arc<Engine>> {
        let e = self.engine(&target.host)?;
        e.refuse()?;
        Ok(e)
    }
}

#[async_trait]
impl FleetRead for Hosts {
    async fn list(&self) -> FleetResult<Vec<ContainerInfo>> {
        self.gather(false).await
    }

    async fn list_cached(&self) -> FleetResult<Vec<ContainerInfo>> {
        self.gather(true).await
    }

    async fn inspect(&self, service: &str) -> FleetResult<ContainerDetail> {
        let (e, bare) = self.resolve(service).await?;
        Ok(self.named_detail(e.fleet.inspect(&bare).await?))
    }

    async fn inspect_target(&self, target: &Target) -> FleetResult<ContainerDetail> {
        let e = self.target_engine(target)?;
        Ok(self.named_detail(e.fleet.inspect_target(target).await?))
    }

    async fn stats(&self, service: &str) -> FleetResult<ContainerStats> {
        let (e, bare) = self.resolve(service).await?;
        let mut st = e.fleet.stats(&bare).await?;
        if self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&bare)
        {
            st.service = format!("{}/{bare}", e.name);
        }
        Ok(st)
    }

    async fn logs(&self, service: &str, opts: LogOptions) -> FleetResult<Vec<RawLog>> {
        let (e, bare) = self.resolve(service).await?;
        e.fleet.logs(&bare, opts).await
    }

    async fn follow_logs(
        &self,
        service: &str,
        since: Option<DateTime<Utc>>,
    ) -> FleetResult<BoxStream<'static, FleetResult<RawLog>>> {
        let (e, bare) = self.resolve(service).await?;
        e.fleet.follow_logs(&bare, since).await
    }

    fn describe(&self) -> String {
        self.engines
            .iter()
            .map(|e| format!("{}={}", e.name, e.fleet.describe()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn swarm_services(&self) -> FleetResult<Vec<SwarmService>> {
        Ok(self.gather_swarm().await)
    }

    async fn swarm_tasks(&self, svc: &SwarmService) -> FleetResult<Vec<ContainerDetail>> {
        let e = self.engine(&svc.host)?;
        e.refuse()?;
        e.fleet.swarm_tasks(svc).await
    }

    fn hosts(&self) -> Vec<HostStatus> {
        self.engines
            .iter()
            .map(|e| {
                let h = e.health();
                HostStatus {
                    name: e.name.clone(),
                    endpoint: e.fleet.describe(),
                    reachable: h.down.is_none(),
                    reason: h.down.as_ref().map(|(_, w)| w.clone()),
                    since: h.down.as_ref().map(|(t, _)| *t),
                }
            })
            .collect()
    }
}

#[async_trait]
impl FleetOps for Hosts {
    async fn restart(&self, target: &Target, grace: Duration) -> FleetResult<()> {
        self.target_engine(target)?
            .fleet
            .restart(target, grace)
            .await
    }
    async fn stop(&self, target: &Target, grace: Duration) -> FleetResult<()> {
        self.target_engine(target)?.fleet.stop(target, grace).await
    }
    async fn start(&self, target: &Target) -> FleetResult<()> {
        self.target_engine(target)?.fleet.start(target).await
    }
    async fn kill(&self, target: &Target) -> FleetResult<()> {
        self.target_engine(target)?.fleet.kill(target).await
    }
    async fn pause(&self, target: &Target) -> FleetResult<()> {
        self.target_engine(target)?.fleet.pause(target).await
    }
    async fn unpause(&self, target: &Target) -> FleetResult<()> {
        self.target_engine(target)?.fleet.unpause(target).await
    }
    async fn set_memory_limit(&self, target: &Target, bytes: i64) -> FleetResult<()> {
        let e = self.target_engine(target)?;
        e.fleet.set_memory_limit(target, bytes).await
    }
    async fn disconnect(&self, target: &Target, network: &str) -> FleetResult<()> {
        self.target_engine(target)?
            .fleet
            .disconnect(target, network)
            .await
    }
    async fn connect(
        &self,
        target: &Target,
        network: &str,
        aliases: Vec<String>,
    ) -> FleetResult<()> {
        let e = self.target_engine(target)?;
        e.fleet.connect(target, network, aliases).await
    }
    async fn recreate(&self, target: &Target, change: &Recreate) -> FleetResult<ContainerDetail> {
        let e = self.target_engine(target)?;
        Ok(self.named_detail(e.fleet.recreate(target, change).await?))
    }
    async fn update_swarm(&self, svc: &SwarmService, change: &SwarmChange) -> FleetResult<()> {
        let e = self.engine(&svc.host)?;
        e.refuse()?;
        e.fleet.update_swarm(svc, change).await
    }
}
