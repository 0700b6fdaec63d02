//! The operations side on one engine: each acts on a resolved target's id (no listing)
//! with one engine call, bounded by the operation's own grace period plus a margin.

use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{
    ContainerUpdateBody, EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{
    KillContainerOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};

use super::convert::detail;
use super::{DockerFleet, QUICK};
use crate::{ContainerDetail, FleetOps, FleetResult, Recreate, Target};

/// What a stop or restart may take beyond its grace period before we call Docker hung.
const MARGIN: Duration = Duration::from_secs(15);
/// The longest grace period we pass to Docker.
const MAX_GRACE: u64 = 120;
/// Bound on a whole recreate (stop, rename, create, connect, start, remove).
const RECREATE: Duration = Duration::from_secs(90);

fn grace_secs(grace: Duration) -> (i32, Duration) {
    let t = grace.as_secs().min(MAX_GRACE);
    (t as i32, Duration::from_secs(t) + MARGIN)
}

#[async_trait]
impl FleetOps for DockerFleet {
    async fn restart(&self, target: &Target, grace: Duration) -> FleetResult<()> {
        let (t, limit) = grace_secs(grace);
        let id = target.id.clone();
        self.call("restart_container", limit, |d| async move {
            let o = RestartContainerOptionsBuilder::new().t(t).build();
            d.restart_container(&id, Some(o)).await
        })
        .await
    }

    async fn stop(&self, target: &Target, grace: Duration) -> FleetResult<()> {
        let (t, limit) = grace_secs(grace);
        let id = target.id.clone();
        self.call("stop_container", limit, |d| async move {
            let o = StopContainerOptionsBuilder::new().t(t).build();
            d.stop_container(&id, Some(o)).await
        })
        .await
    }

    async fn start(&self, target: &Target) -> FleetResult<()> {
        let id = target.id.clone();
        self.call("start_container", QUICK + MARGIN, |d| async move {
            d.start_container(&id, None).await
        })
        .await
    }

    async fn kill(&self, target: &Target) -> FleetResult<()> {
        let id = target.id.clone();
        self.call("kill_container", QUICK, |d| async move {
            let o = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
            d.kill_container(&id, Some(o)).await
        })
        .await
    }

    async fn pause(&self, target: &Target) -> FleetResult<()> {
        let id = target.id.clone();
        self.call("pause_container", QUICK, |d| async move {
            d.pause_container(&id).await
        })
        .await
    }

    async fn unpause(&self, target: &Target) -> FleetResult<()> {
        let id = target.id.clone();
        self.call("unpause_container", QUICK, |d| async move {
            d.unpause_container(&id).await
        })
        .await
    }

    async fn set_memory_limit(&self, target: &Target, bytes: i64) -> FleetResult<()> {
        // Swap travels with memory (cgroup v1 refuses a limit above the current swap limit);
        // twice the memory is what Docker sets on create.
        let body = ContainerUpdateBody {
            memory: Some(bytes),
            memory_swap: Some(bytes.saturating_mul(2)),
            ..Default::default()
        };
        let id = target.id.clone();
        self.call("update_container", QUICK, |d| async move {
            d.update_container(&id, body).await
        })
        .await
    }

    async fn disconnect(&self, target: &Target, network: &str) -> FleetResult<()> {
        let net = network.to_string();
        let container = target.id.clone();
        self.call("disconnect_network", QUICK, |d| async move {
            let req = NetworkDisconnectRequest {
                container,
                force: Some(true),
            };
            d.disconnect_network(&net, req).await
        })
        .await
    }

    async fn connect(
        &self,
        target: &Target,
        network: &str,
        aliases: Vec<String>,
    ) -> FleetResult<()> {
        let net = network.to_string();
        let container = target.id.clone();
        let endpoint_config = Some(EndpointSettings {
            aliases: (!aliases.is_empty()).then_some(aliases),
            ..Default::default()
        });
        self.call("connect_network", QUICK, |d| async move {
            let req = NetworkConnectRequest {
                container,
                endpoint_config,
            };
            d.connect_network(&net, req).await
        })
        .await
    }

    async fn update_swarm(
        &self,
        svc: &crate::SwarmService,
        change: &crate::SwarmChange,
    ) -> FleetResult<()> {
        self.update_service(svc, change).await
    }

    async fn recreate(&self, target: &Target, change: &Recreate) -> FleetResult<ContainerDetail> {
        let old = self.inspect_id(&target.id).await?;
        let change = change.clone();
        let new_id = self
            .call("recreate_container", RECREATE, |d| {
                super::recreate::recreate(d, old, change)
            })
            .await?;
        self.forget_listing();
        let i = self.inspect_id(&new_id).await?;
        let info = super::convert::summary_from_inspect(&self.spec, &i);
        Ok(detail(info, &i))
    }
}
