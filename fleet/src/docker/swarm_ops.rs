//! Acting on a swarm service of one engine: its task containers (for targets, logs and
//! stats), and the updates swarm rolls out itself — one inspect for the current spec and
//! its version index, then one update carrying the changed spec (or swarm's rollback).

use bollard::models::ServiceSpecModeReplicated;
use bollard::query_parameters::UpdateServiceOptions;

use super::convert::detail;
use super::{DockerFleet, QUICK};
use crate::{
    ContainerDetail, ContainerStats, FleetError, FleetResult, LogOptions, PREVIOUS_VERSION_LABEL,
    RawLog, SwarmChange, SwarmService,
};

impl DockerFleet {
    /// The containers of `svc`'s tasks that run on this engine.
    pub(super) async fn task_details(
        &self,
        svc: &SwarmService,
    ) -> FleetResult<Vec<ContainerDetail>> {
        let mut out = Vec::new();
        for id in svc.tasks.iter().filter_map(|t| t.container_id.as_deref()) {
            let i = match self.inspect_id(id).await {
                Ok(i) => i,
                // A task on another node, or one swarm removed since the listing.
                Err(FleetError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let mut info = super::convert::summary_from_inspect(&self.spec, &i);
            info.name = svc.name.clone();
            info.host_port = svc.published_port.or(info.host_port);
            for (k, v) in &svc.labels {
                info.labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            out.push(detail(info, &i));
        }
        Ok(out)
    }

    /// Asks swarm to roll out `change` on `svc`.
    pub(super) async fn update_service(
        &self,
        svc: &SwarmService,
        change: &SwarmChange,
    ) -> FleetResult<()> {
        let id = svc.id.clone();
        let current = self
            .call("inspect_service", QUICK, |d| async move {
                d.inspect_service(&id, None).await
            })
            .await?;
        let version = current
            .version
            .and_then(|v| v.index)
            .ok_or_else(|| FleetError::Failed(format!("{} has no spec version", svc.name)))?;
        let mut spec = current.spec.unwrap_or_default();
        let mut rollback = None;
        match change {
            SwarmChange::Restart => {
                let task = spec.task_template.get_or_insert_with(Default::default);
                task.force_update = Some(task.force_update.unwrap_or(0) + 1);
            }
            SwarmChange::Version { to, from } => {
                let task = spec.task_template.get_or_insert_with(Default::default);
                let container = task.container_spec.get_or_insert_with(Default::default);
                let env = container.env.get_or_insert_with(Vec::new);
                env.retain(|e| !e.starts_with("SERVICE_VERSION="));
                env.push(format!("SERVICE_VERSION={to}"));
                let labels = spec.labels.get_or_insert_with(Default::default);
                match from {
                    Some(f) => labels.insert(PREVIOUS_VERSION_LABEL.into(), f.clone()),
                    None => labels.remove(PREVIOUS_VERSION_LABEL),
                };
            }
            SwarmChange::Scale(n) => {
                let mode = spec.mode.get_or_insert_with(Default::default);
                if mode.global.is_some() {
                    return Err(FleetError::Failed(format!(
                        "{} is a global service: it runs one task per node and cannot be scaled",
                        svc.name
                    )));
                }
                mode.replicated = Some(ServiceSpecModeReplicated {
                    replicas: Some(*n as i64),
                });
            }
            SwarmChange::Rollback => rollback = Some("previous".to_string()),
        }
        let opts = UpdateServiceOptions {
            version: i32::try_from(version).map_err(|_| {
                FleetError::Failed(format!(
                    "{}: spec version {version} is out of range",
                    svc.name
                ))
            })?,
            rollback,
            ..Default::default()
        };
        let id = svc.id.clone();
        self.call("update_service", QUICK, |d| async move {
            d.update_service(&id, spec, opts, None).await
        })
        .await
        .map(|_| ())
    }
}

impl DockerFleet {
    async fn swarm_named(&self, name: &str) -> FleetResult<SwarmService> {
        self.list_swarm()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| FleetError::NotFound(name.into()))
    }

    /// `docker stats` of a swarm service: the sum over its running tasks.
    pub(super) async fn swarm_stats(&self, name: &str) -> FleetResult<ContainerStats> {
        let svc = self.swarm_named(name).await?;
        let mut parts = Vec::new();
        for d in self.task_details(&svc).await? {
            parts.push(self.stats_of(d.info).await?);
        }
        Ok(crate::stats::sum(&svc.name, &parts))
    }

    /// The log lines of a swarm service's running tasks, merged in time order (the last
    /// `tail` of them).
    pub(super) async fn swarm_logs(
        &self,
        name: &str,
        opts: &LogOptions,
    ) -> FleetResult<Vec<RawLog>> {
        let svc = self.swarm_named(name).await?;
        let mut all = Vec::new();
        for t in svc.tasks.iter().filter_map(|t| t.container_id.as_deref()) {
            match self.logs_of(t, opts).await {
                Ok(lines) => all.extend(lines),
                Err(FleetError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        all.sort_by_key(|l| l.at);
        let keep = opts.tail.max(1);
        if all.len() > keep {
            all.drain(..all.len() - keep);
        }
        Ok(all)
    }
}
