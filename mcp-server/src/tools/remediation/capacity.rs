//! Raising a cache's memory limit (`docker update`), only upward and within bounds. The
//! cache is the one named, else the fleet's only container labelled as a cache.

use async_trait::async_trait;
use quantumstate_fleet::ContainerDetail;
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
use crate::ops;

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
