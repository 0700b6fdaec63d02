//! The service names tools accept: those configured (`--services`), managed containers
//! and swarm services Docker listed, and services the store knows (metrics of the last 30 days, incidents). Checking a name reads a cache;
//! only a name not seen yet waits, and then on Docker and the store for a short bound,
//! so a hung Docker daemon never stalls a read tool.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quantumstate_fleet::{FleetError, FleetRead};
use quantumstate_store::{IncidentFilter, StoreHandle};

use crate::error::{ToolError, ToolResult};
use crate::text::truncate;

/// How long the store's knowledge is reused before it is read again.
const STORE_TTL: Duration = Duration::from_secs(30);
/// How long Docker's listing is reused (it changes when containers come and go).
const DOCKER_TTL: Duration = Duration::from_secs(3);
/// The longest a name check waits on Docker or on the store.
const LOOKUP_BOUND: Duration = Duration::from_millis(300);

#[derive(Default)]
struct Known {
    docker: Option<(Instant, BTreeSet<String>)>,
    /// Managed swarm services, by name and by `host/name` (read only for a name that is
    /// no container's, so a container's call costs no swarm lookup).
    swarm: Option<(Instant, BTreeSet<String>)>,
    stored: Option<(Instant, BTreeSet<String>)>,
    /// Aliases of the listed containers' services (from their labels and roles).
    aliases: BTreeMap<String, Vec<String>>,
}

/// The known services, cached.
pub struct Directory {
    /// Names configured up front (`--services`).
    configured: BTreeSet<String>,
    reads: Arc<dyn FleetRead>,
    store: Arc<StoreHandle>,
    known: Mutex<Known>,
}

impl Directory {
    pub fn new(
        configured: &[String],
        reads: Arc<dyn FleetRead>,
        store: Arc<StoreHandle>,
    ) -> Directory {
        Directory {
            configured: configured.iter().cloned().collect(),
            reads,
            store,
            known: Mutex::new(Known::default()),
        }
    }

    fn cached(&self, name: &str) -> bool {
        let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let has = |s: &Option<(Instant, BTreeSet<String>)>| {
            s.as_ref().is_some_and(|(_, n)| n.contains(name))
        };
        self.configured.contains(name) || has(&k.docker) || has(&k.stored) || has(&k.swarm)
    }

    fn is_swarm(&self, name: &str) -> bool {
        let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        k.swarm.as_ref().is_some_and(|(_, n)| n.contains(name))
    }

    /// True when a checked `name` is a managed swarm service's. A name Docker listed as a
    /// container's costs nothing; another one reads the swarm services (cached, bounded).
    pub async fn swarm_check(&self, name: &str) -> bool {
        let listed = {
            let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
            k.docker.as_ref().is_some_and(|(_, n)| n.contains(name))
        };
        if listed {
            return false;
        }
        self.refresh_swarm().await;
        self.is_swarm(name)
    }

    /// Reads the managed swarm services again when their list is stale (bounded).
    async fn refresh_swarm(&self) {
        let stale = {
            let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
            k.swarm
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= DOCKER_TTL)
        };
        if !stale {
            return;
        }
        if let Ok(Ok(list)) = tokio::time::timeout(LOOKUP_BOUND, self.reads.swarm_services()).await
        {
            let names = list
                .iter()
                .flat_map(|s| [s.name.clone(), s.qualified()])
                .collect();
            let mut k = self.known.lock().unwrap_or_else(|p| p.into_inner());
            k.swarm = Some((Instant::now(), names));
        }
    }

    /// Reads both sources again where their cache is stale (each bounded in time).
    async fn refresh(&self) {
        let (docker_stale, store_stale) = {
            let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let stale = |s: &Option<(Instant, BTreeSet<String>)>, ttl| {
                s.as_ref().is_none_or(|(at, _)| at.elapsed() >= ttl)
            };
            (stale(&k.docker, DOCKER_TTL), stale(&k.stored, STORE_TTL))
        };
        let docker = async {
            if !docker_stale {
                return None;
            }
            match tokio::time::timeout(LOOKUP_BOUND, self.reads.list_cached()).await {
                Ok(Ok(list)) => Some(list),
                _ => None,
            }
        };
        let stored = async {
            if !store_stale {
                return None;
            }
            tokio::time::timeout(LOOKUP_BOUND, self.stored_names())
                .await
                .ok()
                .flatten()
        };
        let (docker, stored) = tokio::join!(docker, stored);
        let mut k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = docker {
            k.aliases = list
                .iter()
                .map(|c| (c.name.clone(), c.aliases()))
                .filter(|(_, a)| !a.is_empty())
                .collect();
            k.docker = Some((Instant::now(), list.into_iter().map(|c| c.name).collect()));
        }
        if let Some(s) = stored {
            k.stored = Some((Instant::now(), s));
        }
    }

    async fn stored_names(&self) -> Option<BTreeSet<String>> {
        let store = self.store.get().await.ok()?;
        let since = chrono::Utc::now() - chrono::Duration::days(30);
        let mut out: BTreeSet<String> = store
            .metric_services(since)
            .await
            .ok()?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let filter = IncidentFilter {
            limit: 500,
            ..Default::default()
        };
        if let Ok(page) = store.list_incidents(&filter).await {
            out.extend(page.items.into_iter().map(|i| i.service));
        }
        Some(out)
    }

    /// Every service name a tool may accept, sorted.
    pub async fn known(&self) -> Vec<String> {
        self.refresh().await;
        let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: BTreeSet<String> = self.configured.clone();
        for (_, names) in [&k.docker, &k.stored].into_iter().flatten() {
            all.extend(names.iter().cloned());
        }
        if let Some((_, names)) = &k.swarm {
            all.extend(names.iter().filter(|n| !n.contains('/')).cloned());
        }
        all.into_iter().collect()
    }

    /// The service names of the managed containers Docker listed (cached; empty when
    /// Docker did not answer within the bound).
    pub async fn listed(&self) -> Vec<String> {
        self.refresh().await;
        let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        k.docker
            .as_ref()
            .map(|(_, n)| n.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The names people use for each listed service (`quantumstate.aliases` and role), for
    /// similarity search (cached like the names; empty while Docker does not answer).
    pub async fn aliases(&self) -> BTreeMap<String, Vec<String>> {
        self.refresh().await;
        let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        k.aliases.clone()
    }

    /// The region label of a service's container, if Docker listed it (bounded wait).
    pub async fn region_of(&self, service: &str) -> Option<String> {
        let list = tokio::time::timeout(LOOKUP_BOUND, self.reads.list_cached())
            .await
            .ok()?
            .ok()?;
        list.into_iter()
            .find(|c| c.name == service)
            .and_then(|c| c.region().map(str::to_string))
    }

    /// Checks that `service` names a service we know; the error lists the known ones.
    pub async fn check(&self, service: &str) -> ToolResult<String> {
        let s = service.trim();
        if s.is_empty() {
            return Err(ToolError::invalid("service is empty")
                .hint("pass a container name such as payment-service"));
        }
        if s.len() > 128
            || s.matches('/').count() > 1
            || s.starts_with('/')
            || s.ends_with('/')
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            return Err(ToolError::invalid(format!(
                "service {:?} is not a container name (letters, digits, - _ . only, or HOST/NAME)",
                truncate(s, 64)
            ))
            .hint("call list_services to see the fleet"));
        }
        if self.cached(s) {
            return Ok(s.to_string());
        }
        let mut known = self.known().await;
        if known.iter().any(|k| k == s) {
            return Ok(s.to_string());
        }
        // Not a container's name, nor one the store knows: a swarm service's?
        self.refresh_swarm().await;
        if self.is_swarm(s) {
            return Ok(s.to_string());
        }
        known = self.known().await;
        // A managed container named by its id (prefix) is that service; one that exists
        // but is not ours is refused naming the label, not "unknown".
        match tokio::time::timeout(LOOKUP_BOUND, self.reads.inspect(s)).await {
            Ok(Ok(d)) => return Ok(d.info.name),
            Ok(Err(e @ (FleetError::NotManaged { .. } | FleetError::Ambiguous { .. }))) => {
                return Err(e.into());
            }
            _ => {}
        }
        Err(ToolError::invalid(format!("unknown service {s:?}"))
            .hint(format!("known services: {}", known.join(", "))))
    }
}
