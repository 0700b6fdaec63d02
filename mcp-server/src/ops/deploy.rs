//! Versions: recreating a container with another SERVICE_VERSION (deploy and rollback
//! alike), recording the deployment, and finding the version a rollback returns to.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use quantumstate_fleet::{ContainerDetail, PREVIOUS_VERSION_LABEL, Recreate, VERSION_LABEL};
use quantumstate_store::{Deployment, DeploymentFilter, DynStore};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Readiness, wait_ready};
use crate::error::{ToolError, ToolResult};
use crate::mutation::ApplyCx;
use crate::text::truncate;

/// Checks a version string: 1–32 of letters, digits, `.`, `-`, `_`, `+`.
pub fn check_version(v: &str) -> ToolResult<String> {
    let v = v.trim();
    if v.is_empty()
        || v.len() > 32
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c))
    {
        return Err(ToolError::invalid(format!(
            "version {:?} is not like 1.2.3 (letters, digits, . - _ +; at most 32)",
            truncate(v, 40)
        )));
    }
    Ok(v.to_string())
}

/// What a deploy or rollback did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployed {
    pub service: String,
    pub from_version: Option<String>,
    pub to_version: String,
    pub container_id: String,
    pub deployment_id: String,
    pub readiness: Readiness,
    /// A swarm service's rollout: what swarm did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<super::swarm::Rolled>,
}

/// Recreates the container with `version`, records the deployment, waits until ready.
pub async fn deploy(
    cx: &ApplyCx<'_>,
    before: &ContainerDetail,
    version: &str,
    reason: &str,
    wait: Duration,
) -> ToolResult<Deployed> {
    let service = before.info.name.clone();
    let from = before.version.clone();
    let mut labels = BTreeMap::new();
    labels.insert(VERSION_LABEL.to_string(), version.to_string());
    if let Some(f) = &from {
        labels.insert(PREVIOUS_VERSION_LABEL.to_string(), f.clone());
    }
    let change = Recreate {
        version: version.into(),
        labels,
    };
    let after = cx.ops.recreate(&before.target(), &change).await?;
    let dep = Deployment {
        id: quantumstate_store::new_id("dep"),
        service: service.clone(),
        from_version: from.clone(),
        to_version: version.into(),
        image: after.info.image.clone(),
        at: Utc::now(),
        by: cx.caller.name.clone(),
        reason: reason.into(),
    };
    cx.store.put_deployment(&dep).await?;
    let readiness = wait_ready(cx.reads, &after.target(), wait, cx.progress).await;
    Ok(Deployed {
        service,
        from_version: from,
        to_version: version.into(),
        container_id: after.info.id,
        deployment_id: dep.id,
        readiness,
        rolling: None,
    })
}

/// The version a rollback returns to: the container's recorded previous version, else
/// the `from_version` of its latest deployment record. Returns (running, target).
pub async fn rollback_target(
    store: &DynStore,
    d: &ContainerDetail,
) -> ToolResult<(Option<String>, String)> {
    if let Some(prev) = d
        .info
        .labels
        .get(PREVIOUS_VERSION_LABEL)
        .filter(|p| Some(*p) != d.version.as_ref())
    {
        return Ok((d.version.clone(), prev.clone()));
    }
    let deps = store
        .list_deployments(&DeploymentFilter {
            service: Some(d.info.name.clone()),
            range: None,
            limit: 20,
        })
        .await?;
    let found = deps
        .items
        .iter()
        .find(|x| Some(&x.to_version) == d.version.as_ref())
        .and_then(|x| x.from_version.clone());
    match found {
        Some(v) => Ok((d.version.clone(), v)),
        None => Err(ToolError::invalid(format!(
            "{} runs {} and no previous version is recorded for it",
            d.info.name,
            d.version.as_deref().unwrap_or("an unknown version")
        ))
        .hint("pass to_version explicitly, or use deploy_version")),
    }
}
