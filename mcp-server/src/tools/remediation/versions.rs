//! Deploying another version and rolling back: both recreate the container with a new
//! SERVICE_VERSION and record the deployment. A version the service itself lists as
//! defective (`DEFECTIVE_VERSIONS`) takes capacity away, so the road treats it as such;
//! each uses the service's restart budget, and onto the running version each is refused.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use quantumstate_fleet::{ContainerDetail, SwarmChange, SwarmService};

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
use crate::ops::{self, Deployed, swarm};

/// How long a deploy waits for the new container to answer.
const WAIT: Duration = Duration::from_secs(60);

fn operations(d: &ContainerDetail, to: &str, verb: &str) -> Vec<String> {
    let service = &d.info.name;
    vec![
        format!(
            "stop {service} (running {})",
            d.version.as_deref().unwrap_or("unknown version")
        ),
        format!(
            "{verb} {service} from the same image with SERVICE_VERSION={to}, same ports, labels, limits, networks"
        ),
        "start it, remove the old container, record the deployment".into(),
        format!("wait up to {} s until it answers", WAIT.as_secs()),
    ]
}

/// The plan of a deploy or rollback to `to`: it recreates the container, so it uses the
/// service's restart budget; onto the version already running it is refused as a no-op.
fn planned(d: &ContainerDetail, to: &str, verb: &str) -> ToolResult<Planned> {
    if d.version.as_deref() == Some(to) {
        return Err(ToolError::invalid(format!(
            "{} already runs {to}: recreating it would change nothing but restart it",
            d.info.name
        ))
        .hint("restart_container restarts it (within the restart budget); correlate_deployments shows its versions"));
    }
    Ok(Planned {
        operations: operations(d, to, verb),
        downtime_seconds: 3,
        disrupts: vec![d.info.name.clone()],
        takes_capacity: d.defective_versions().iter().any(|v| v == to),
    })
}

/// Deploys `version` (on a swarm service: rolled out by swarm, task by task).
pub struct Deploy {
    pub version: String,
    pub reason: String,
}

impl Deploy {
    fn change(&self, svc: &SwarmService) -> SwarmChange {
        SwarmChange::Version {
            to: self.version.clone(),
            from: svc.version.clone(),
        }
    }
}

#[async_trait]
impl Mutation for Deploy {
    type Output = Deployed;

    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        swarm::targets(cx).await
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        if let Some(svc) = cx.swarm {
            return swarm::plan(svc, cx.targets, &self.change(svc), WAIT);
        }
        planned(cx.target()?, &self.version, "create")
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Deployed> {
        if let Some(svc) = cx.swarm {
            let rolled = swarm::apply(cx, svc, &self.change(svc), WAIT).await?;
            return Ok(rolled.deployed(svc));
        }
        ops::deploy(cx, cx.target()?, &self.version, &self.reason, WAIT).await
    }

    fn summary(&self, d: &Deployed) -> String {
        format!("{:?} → {}", d.from_version, d.to_version)
    }
}

/// Rolls back to `to_version`, else to the version it ran before its last deployment.
pub struct Rollback {
    pub to_version: Option<String>,
    pub reason: String,
    resolved: OnceLock<String>,
}

impl Rollback {
    pub fn new(to_version: Option<&str>, reason: String) -> ToolResult<Rollback> {
        Ok(Rollback {
            to_version: to_version.map(ops::check_version).transpose()?,
            reason,
            resolved: OnceLock::new(),
        })
    }
}

#[async_trait]
impl Mutation for Rollback {
    type Output = Deployed;

    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        swarm::targets(cx).await
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        if let Some(svc) = cx.swarm {
            if let Some(v) = self
                .to_version
                .as_ref()
                .filter(|v| svc.previous_version.as_ref() != Some(*v))
            {
                return Err(ToolError::invalid(format!(
                    "swarm rolls {} back to its previous spec (version {}), not to {v}",
                    svc.name,
                    svc.previous_version.as_deref().unwrap_or("not recorded")
                ))
                .hint("call without to_version, or deploy_version to that version"));
            }
            return swarm::plan(svc, cx.targets, &SwarmChange::Rollback, WAIT);
        }
        let d = cx.target()?;
        let to = match &self.to_version {
            Some(v) => v.clone(),
            None => ops::rollback_target(cx.store, d).await?.1,
        };
        let p = planned(d, &to, "recreate")?;
        let _ = self.resolved.set(to);
        Ok(p)
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Deployed> {
        if let Some(svc) = cx.swarm {
            let rolled = swarm::apply(cx, svc, &SwarmChange::Rollback, WAIT).await?;
            return Ok(rolled.deployed(svc));
        }
        let to = self
            .resolved
            .get()
            .ok_or_else(|| ToolError::failed("rollback applied without a plan"))?;
        ops::deploy(cx, cx.target()?, to, &self.reason, WAIT).await
    }

    fn summary(&self, d: &Deployed) -> String {
        format!("rolled back {:?} → {}", d.from_version, d.to_version)
    }
}
