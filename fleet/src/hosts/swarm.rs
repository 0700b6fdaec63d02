//! Swarm services across engines: each answering engine that is a swarm manager is asked
//! for its managed services, each within `HOST_BOUND`; one that does not answer in time
//! contributes none (its containers are reported unreachable by the listing).

use std::sync::Arc;

use super::engine::Engine;
use super::{HOST_BOUND, Hosts};
use crate::{FleetRead, SwarmService};

impl Hosts {
    pub(super) async fn gather_swarm(&self) -> Vec<SwarmService> {
        let up: Vec<&Arc<Engine>> = self.engines.iter().filter(|e| e.down().is_none()).collect();
        let each = up.iter().map(|e| async move {
            tokio::time::timeout(HOST_BOUND, e.fleet.swarm_services())
                .await
                .unwrap_or_else(|_| Ok(Vec::new()))
                .unwrap_or_default()
        });
        futures::future::join_all(each)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}
