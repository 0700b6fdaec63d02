//! One engine of several: its fleet, whether it answers (bounded by `HOST_BOUND`), the
//! last listing it gave, and the background check that brings it back.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{HOST_BOUND, RECHECK};
use crate::{ContainerInfo, DockerFleet, FleetError, FleetRead, FleetResult};

/// How one engine is doing, as `list_services` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct HostStatus {
    pub name: String,
    pub endpoint: String,
    pub reachable: bool,
    /// Why it is unreachable, and since when.
    pub reason: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub(super) struct Health {
    pub(super) down: Option<(DateTime<Utc>, String)>,
    /// The last listing it answered (returned, marked, while it is down).
    pub(super) last: Vec<ContainerInfo>,
    pub(super) checking: Option<Instant>,
}

pub(super) struct Engine {
    pub(super) name: String,
    pub(super) fleet: DockerFleet,
    pub(super) health: Mutex<Health>,
}

impl Engine {
    pub(super) fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn down(&self) -> Option<String> {
        self.health().down.as_ref().map(|(_, why)| why.clone())
    }

    /// Lists within the bound, recording the outcome.
    pub(super) async fn list(&self, cached: bool) -> FleetResult<Vec<ContainerInfo>> {
        let call = async {
            if cached {
                self.fleet.list_cached().await
            } else {
                self.fleet.list().await
            }
        };
        let got = match tokio::time::timeout(HOST_BOUND, call).await {
            Ok(r) => r,
            Err(_) => Err(FleetError::Unavailable(format!(
                "it did not list its containers within {} s",
                HOST_BOUND.as_secs()
            ))),
        };
        let mut h = self.health();
        match &got {
            Ok(list) => {
                h.down = None;
                h.last = list.clone();
            }
            Err(FleetError::Unavailable(why)) => {
                if h.down.is_none() {
                    tracing::warn!(host = %self.name, %why, "docker host unreachable");
                    h.down = Some((Utc::now(), why.clone()));
                }
            }
            Err(_) => {}
        }
        got
    }

    /// The listing to use now: the engine's, or (while it is down) its last one, marked.
    pub(super) async fn listing(self: &Arc<Self>, cached: bool) -> Vec<ContainerInfo> {
        if self.down().is_some() {
            self.recheck();
        } else {
            match self.list(cached).await {
                Ok(list) => return list,
                Err(FleetError::Unavailable(_)) => {} // down from now on
                Err(_) => return self.health().last.clone(),
            }
        }
        let h = self.health();
        let why = h.down.as_ref().map(|(_, w)| w.clone()).unwrap_or_default();
        h.last
            .iter()
            .cloned()
            .map(|mut c| {
                c.state = "unreachable".into();
                c.unreachable = Some(format!("host {} is unreachable: {why}", self.name));
                c
            })
            .collect()
    }

    /// Tries a down engine again in the background (one check in flight, every RECHECK).
    pub(super) fn recheck(self: &Arc<Self>) {
        {
            let mut h = self.health();
            if h.checking.is_some_and(|at| at.elapsed() < RECHECK) {
                return;
            }
            h.checking = Some(Instant::now());
        }
        let me = self.clone();
        tokio::spawn(async move {
            if me.list(false).await.is_ok() {
                tracing::info!(host = %me.name, "docker host reachable again");
            }
        });
    }

    pub(super) fn refuse(&self) -> FleetResult<()> {
        match self.down() {
            Some(why) => Err(FleetError::Unavailable(format!(
                "host {} is unreachable: {why}",
                self.name
            ))),
            None => Ok(()),
        }
    }
}
