//! Raising a cache's memory limit (`docker update`), only upward and within bounds (the
//! cache is the one named, else the fleet's only container labelled as a cache), and a
//! swarm service's replicas (`scale_service`), within 1 to `MAX_REPLICAS`.

use async_trait::async_trait;
use quantumstate_fleet::{ContainerDetail, SwarmChange};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
use crate::ops::{self, swarm};

#[derive(Debug, Serialize, JsonSchema)]
pub struct Scaled {
    pub service: String,
    pub previous_limit_mb: Option<i64>,
    pub new_limit_mb: i64,
}

/// Sets the cache's memory limit to `memory_mb`.
pub struct ScaleCache {
    pub memory_mb: i64,
}

fn mb(b: i64) -> i64 {
    b / (1024 * 1024)
}

#[async_trait]
impl Mutation for ScaleCache {
    type Output = Scaled;

    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        if cx.service_name().is_ok() {
            return Ok(vec![cx.service().await?]);
        }
        let caches: Vec<String> = cx
            .reads()
            .list_cached()
            .await?
            .into_iter()
            .filter(|c| c.is_cache())
            .map(|c| c.name)
            .collect();
        match caches.as_slice() {
            [one] => Ok(vec![cx.resolve(one).await?]),
            [] => Err(ToolError::invalid(
                "no managed container is labelled quantumstate.role=cache",
            )
            .hint("pass service: the cache container to scale")),
            many => Err(ToolError::invalid(format!(
                "several caches ({}); say which",
                many.join(", ")
            ))
            .hint("pass service")),
        }
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let d = cx.target()?;
        let (cur, _) = ops::cache_limit(d, self.memory_mb)?;
        Ok(Planned {
            operations: vec![format!(
                "docker update {} --memory {}m (from {})",
                d.info.name,
                self.memory_mb,
                cur.map(|c| format!("{}m", mb(c)))
                    .unwrap_or_else(|| "unlimited".into())
            )],
            ..Planned::default()
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Scaled> {
        let d = cx.target()?;
        let (cur, bytes) = ops::cache_limit(d, self.memory_mb)?;
        cx.ops.set_memory_limit(&d.target(), bytes).await?;
        Ok(Scaled {
            service: d.info.name.clone(),
            previous_limit_mb: cur.map(mb),
            new_limit_mb: self.memory_mb,
        })
    }

    fn summary(&self, s: &Scaled) -> String {
        format!("memory limit {} MB", s.new_limit_mb)
    }
}

/// Sets a swarm service's replicas (1 to `MAX_REPLICAS`); fewer takes capacity away.
pub struct ScaleService {
    pub replicas: u64,
    pub wait: std::time::Duration,
}

impl ScaleService {
    pub fn new(replicas: i64, wait: std::time::Duration) -> ToolResult<ScaleService> {
        let max = swarm::MAX_REPLICAS;
        if !(1..=max as i64).contains(&replicas) {
            return Err(ToolError::invalid(format!(
                "replicas must be 1 to {max} (got {replicas})"
            ))
            .hint("to take a service down entirely, use stop_container on a container service"));
        }
        Ok(ScaleService {
            replicas: replicas as u64,
            wait,
        })
    }
}

#[async_trait]
impl Mutation for ScaleService {
    type Output = swarm::Rolled;

    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        match cx.swarm_service().await? {
            Some(svc) => cx.swarm_tasks(&svc).await,
            None => Err(ToolError::invalid(format!(
                "{} is not a swarm service: scale_service sets a swarm service's replicas",
                cx.service_name()?
            ))
            .hint("list_services shows swarm_services; scale_cache raises a cache's memory")),
        }
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let svc = cx
            .swarm
            .ok_or_else(|| ToolError::failed("scale_service planned without its swarm service"))?;
        swarm::plan(
            svc,
            cx.targets,
            &SwarmChange::Scale(self.replicas),
            self.wait,
        )
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<swarm::Rolled> {
        let svc = cx
            .swarm
            .ok_or_else(|| ToolError::failed("scale_service applied without its swarm service"))?;
        swarm::apply(cx, svc, &SwarmChange::Scale(self.replicas), self.wait).await
    }

    fn summary(&self, r: &swarm::Rolled) -> String {
        format!(
            "scaled {} to {} replicas ({} running, {})",
            r.service, self.replicas, r.running, r.state
        )
    }
}
