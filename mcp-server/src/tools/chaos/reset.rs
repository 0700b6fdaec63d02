//! Ending faults before their TTL: the services' own (`POST /faults/reset`) and the
//! container faults QuantumState recorded, for one service or every managed one.

use async_trait::async_trait;
use quantumstate_fleet::{ContainerDetail, probe};
use quantumstate_store::FaultRecord;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

use crate::error::ToolResult;
use crate::faults;
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResetOut {
    /// One line per service: what was cleared, or why it could not be.
    pub services: Vec<String>,
    pub truncated: bool,
}

/// Ends every fault on the targets.
pub struct Reset;

async fn open_faults(
    cx_store: &quantumstate_store::DynStore,
    targets: &[ContainerDetail],
) -> ToolResult<Vec<FaultRecord>> {
    Ok(cx_store
        .active_faults()
        .await?
        .into_iter()
        .filter(|f| targets.iter().any(|t| t.info.name == f.service))
        .collect())
}

#[async_trait]
impl Mutation for Reset {
    type Output = ResetOut;

    /// The named service, else every managed container.
    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        if cx.service_name().is_ok() {
            return crate::ops::swarm::targets(cx).await;
        }
        let mut out = Vec::new();
        for c in cx.reads().list().await? {
            out.push(cx.resolve(&c.name).await?);
        }
        Ok(out)
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let mut operations: Vec<String> = cx
            .targets
            .iter()
            .map(|t| format!("POST /faults/reset on {}", t.info.name))
            .collect();
        for f in open_faults(cx.store, cx.targets).await? {
            operations.push(format!("undo {} on {} ({})", f.kind, f.service, f.id));
        }
        Ok(Planned {
            operations,
            ..Planned::default()
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<ResetOut> {
        let mut lines = Vec::new();
        for f in open_faults(cx.store, cx.targets).await? {
            match faults::undo(cx, &f).await {
                Ok(what) => lines.push(format!("{}: {what}", f.service)),
                Err(e) => lines.push(format!(
                    "{}: could not undo {} ({})",
                    f.service, f.kind, e.message
                )),
            }
        }
        for d in cx.targets.iter().filter(|d| d.running) {
            let c = &d.info;
            match probe::post(c, "/faults/reset", &json!({}), cx.fault_token).await {
                Ok((_, r)) if r.status().is_success() => {
                    lines.push(format!("{}: service faults cleared", c.name))
                }
                Ok((_, r)) => {
                    lines.push(format!("{}: /faults/reset answered {}", c.name, r.status()))
                }
                Err(e) => lines.push(format!("{}: not reachable ({e})", c.name)),
            }
        }
        let (services, truncated) = crate::text::cap(lines, crate::text::MAX_LIST);
        Ok(ResetOut {
            services,
            truncated,
        })
    }

    fn summary(&self, _out: &ResetOut) -> String {
        "reset".into()
    }
}
