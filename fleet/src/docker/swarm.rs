//! Swarm services on one engine: one call for the managed services (with their replica
//! counts), one for their tasks, one for the nodes' names. An engine that is not a swarm
//! manager has none.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{
    ListNodesOptions, ListServicesOptionsBuilder, ListTasksOptionsBuilder,
};

use super::{DockerFleet, QUICK};
use crate::{
    FleetError, FleetResult, MANAGED_LABEL, PREVIOUS_VERSION_LABEL, SERVICE_LABEL, SwarmService,
    SwarmTask, UpdateStatus,
};

fn not_a_manager(e: &FleetError) -> bool {
    let text = e.to_string();
    text.contains("not a swarm manager") || text.contains("This node is not")
}

impl DockerFleet {
    /// The managed swarm services of this engine (none unless it is a swarm manager).
    pub(super) async fn list_swarm(&self) -> FleetResult<Vec<SwarmService>> {
        let filters = HashMap::from([("label", vec![format!("{MANAGED_LABEL}=true")])]);
        let opts = ListServicesOptionsBuilder::new()
            .filters(&filters)
            .status(true)
            .build();
        let services = match self
            .call("list_services", QUICK, |d| async move {
                d.list_services(Some(opts)).await
            })
            .await
        {
            Ok(s) => s,
            Err(e) if not_a_manager(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = services.iter().filter_map(|s| s.id.clone()).collect();
        let tfilters = HashMap::from([("service", ids)]);
        let topts = ListTasksOptionsBuilder::new().filters(&tfilters).build();
        let tasks = self
            .call("list_tasks", QUICK, |d| async move {
                d.list_tasks(Some(topts)).await
            })
            .await?;
        let nodes: HashMap<String, String> = self
            .call("list_nodes", QUICK, |d| async move {
                d.list_nodes(None::<ListNodesOptions>).await
            })
            .await?
            .into_iter()
            .filter_map(|n| {
                let host = n.description.and_then(|d| d.hostname)?;
                Some((n.id?, host))
            })
            .collect();
        let mut out: Vec<SwarmService> = services
            .into_iter()
            .map(|s| {
                let id = s.id.clone().unwrap_or_default();
                let spec = s.spec.unwrap_or_default();
                let labels: BTreeMap<String, String> = spec
                    .labels
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let container = spec
                    .task_template
                    .as_ref()
                    .and_then(|t| t.container_spec.clone())
                    .unwrap_or_default();
                let mode = spec.mode.as_ref();
                let global = mode.is_some_and(|m| m.global.is_some());
                let status = s.service_status.unwrap_or_default();
                let update = spec.update_config.clone().unwrap_or_default();
                let update_status = s.update_status.map(|u| UpdateStatus {
                    state: u.state.map(|x| x.to_string()).unwrap_or_default(),
                    started_at: u.started_at,
                    message: u.message.filter(|m| !m.is_empty()),
                });
                let mine: Vec<SwarmTask> = tasks
                    .iter()
                    .filter(|t| t.service_id.as_deref() == Some(id.as_str()))
                    .filter(|t| {
                        t.desired_state.map(|d| d.to_string().to_lowercase())
                            == Some("running".into())
                    })
                    .map(|t| {
                        let node = t.node_id.clone().unwrap_or_default();
                        let st = t.status.clone().unwrap_or_default();
                        SwarmTask {
                            id: t.id.clone().unwrap_or_default(),
                            slot: t.slot,
                            node: nodes.get(&node).cloned().unwrap_or(node),
                            state: st
                                .state
                                .map(|s| s.to_string().to_lowercase())
                                .unwrap_or_else(|| "unknown".into()),
                            desired_state: "running".into(),
                            container_id: st
                                .container_status
                                .and_then(|c| c.container_id)
                                .map(|c| c.chars().take(12).collect()),
                            message: st.err.or(st.message).filter(|m| !m.is_empty()),
                        }
                    })
                    .collect();
                let mut per_node = BTreeMap::new();
                for t in &mine {
                    *per_node.entry(t.node.clone()).or_insert(0) += 1;
                }
                SwarmService {
                    name: labels
                        .get(SERVICE_LABEL)
                        .cloned()
                        .or(spec.name.clone())
                        .unwrap_or_else(|| id.clone()),
                    host: self.spec.name.clone(),
                    id: id.chars().take(12).collect(),
                    image: container
                        .image
                        .clone()
                        .map(|i| i.split('@').next().unwrap_or_default().to_string())
                        .unwrap_or_default(),
                    version: container
                        .env
                        .iter()
                        .flatten()
                        .find_map(|e| e.strip_prefix("SERVICE_VERSION=").map(str::to_string)),
                    mode: if global { "global" } else { "replicated" }.into(),
                    desired: status.desired_tasks.unwrap_or(0),
                    running: status.running_tasks.unwrap_or(0),
                    update_parallelism: update
                        .parallelism
                        .filter(|p| *p > 0)
                        .map_or(1, |p| p as u64),
                    update_delay_seconds: update
                        .delay
                        .map_or(0, |ns| (ns.max(0) as u64) / 1_000_000_000),
                    update_order: update
                        .order
                        .map(|o| o.to_string())
                        .filter(|o| !o.is_empty())
                        .unwrap_or_else(|| "stop-first".into()),
                    update_failure_action: update
                        .failure_action
                        .map(|o| o.to_string())
                        .filter(|o| !o.is_empty())
                        .unwrap_or_else(|| "pause".into()),
                    previous_version: labels.get(PREVIOUS_VERSION_LABEL).cloned(),
                    update_status,
                    published_port: s
                        .endpoint
                        .as_ref()
                        .and_then(|e| e.ports.as_ref())
                        .and_then(|p| p.iter().find_map(|p| p.published_port))
                        .and_then(|p| u16::try_from(p).ok()),
                    tasks_per_node: per_node,
                    tasks: mine,
                    labels,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
