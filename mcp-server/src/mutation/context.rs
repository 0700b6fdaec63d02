//! What each step of the road hands a mutation: names to resolve (`TargetCx`), the
//! resolved targets to plan for (`PlanCx`), and for `apply` the fleet operations scoped to
//! those targets (`Ops`) and a progress channel to the client (`Progress`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use quantumstate_fleet::{
    ContainerDetail, FleetOps, FleetRead, Recreate, SwarmChange, SwarmService, Target,
};
use quantumstate_store::DynStore;
use tokio::sync::OnceCell;

use crate::caller::Caller;
use crate::error::{ToolError, ToolResult};
use crate::policy::Consent;
use crate::telemetry::Telemetry;

/// Resolving names to containers, each at most once per call.
pub struct TargetCx<'a> {
    service: Option<&'a str>,
    /// True when the name is a managed swarm service's.
    swarm: bool,
    reads: &'a dyn FleetRead,
    memo: OnceCell<ContainerDetail>,
    swarm_memo: OnceCell<SwarmService>,
}

impl<'a> TargetCx<'a> {
    pub(super) fn new(
        service: Option<&'a str>,
        swarm: bool,
        reads: &'a dyn FleetRead,
    ) -> TargetCx<'a> {
        TargetCx {
            service,
            swarm,
            reads,
            memo: OnceCell::new(),
            swarm_memo: OnceCell::new(),
        }
    }

    /// The swarm service the call names, looked up once (None for a container's name).
    /// Once looked up it is admitted with the targets: only it can be updated.
    pub async fn swarm_service(&self) -> ToolResult<Option<SwarmService>> {
        if !self.swarm {
            return Ok(None);
        }
        let name = self.service_name()?;
        self.swarm_memo
            .get_or_try_init(|| async {
                self.reads
                    .swarm_service(name)
                    .await
                    .map_err(ToolError::from)
            })
            .await
            .cloned()
            .map(Some)
    }

    /// The swarm service looked up, if any (the road admits it).
    pub(super) fn looked_up_swarm(&self) -> Option<SwarmService> {
        self.swarm_memo.get().cloned()
    }

    /// The targets of a swarm service: its running tasks' containers.
    pub async fn swarm_tasks(&self, svc: &SwarmService) -> ToolResult<Vec<ContainerDetail>> {
        self.reads.swarm_tasks(svc).await.map_err(ToolError::from)
    }

    /// The (checked) service the call names.
    pub fn service_name(&self) -> ToolResult<&'a str> {
        self.service
            .ok_or_else(|| ToolError::invalid("this call needs a service"))
    }

    /// The named service's container, inspected once.
    pub async fn service(&self) -> ToolResult<ContainerDetail> {
        let name = self.service_name()?;
        if self.swarm {
            return Err(ToolError::invalid(format!(
                "{name} is a swarm service: this tool acts on one container"
            ))
            .hint("restart_container (a rolling restart), deploy_version, rollback_deployment and scale_service act on swarm services"));
        }
        self.memo
            .get_or_try_init(|| async { self.reads.inspect(name).await.map_err(ToolError::from) })
            .await
            .cloned()
    }

    /// Another container by name (the service's own when it names that one).
    pub async fn resolve(&self, name: &str) -> ToolResult<ContainerDetail> {
        if self.service == Some(name) {
            return self.service().await;
        }
        self.reads.inspect(name).await.map_err(ToolError::from)
    }

    /// The fleet's read side, for choosing targets (listings, health).
    pub fn reads(&self) -> &'a dyn FleetRead {
        self.reads
    }
}

/// What a plan is made from.
pub struct PlanCx<'a> {
    pub service: Option<&'a str>,
    pub targets: &'a [ContainerDetail],
    /// The swarm service the call names, when it names one.
    pub swarm: Option<&'a SwarmService>,
    pub reads: &'a dyn FleetRead,
    pub store: &'a DynStore,
    pub caller: &'a Caller,
}

impl PlanCx<'_> {
    /// The first (usually only) target.
    pub fn target(&self) -> ToolResult<&ContainerDetail> {
        self.targets
            .first()
            .ok_or_else(|| ToolError::failed("the call resolved no container"))
    }
}

/// What `apply` works with.
pub struct ApplyCx<'a> {
    pub targets: &'a [ContainerDetail],
    /// The swarm service the call names, when it names one.
    pub swarm: Option<&'a SwarmService>,
    pub ops: Ops<'a>,
    pub reads: &'a dyn FleetRead,
    pub store: &'a DynStore,
    pub caller: &'a Caller,
    pub progress: &'a Progress,
    /// The services' fault-control token (`QS_FAULT_TOKEN`), for service-level faults.
    pub fault_token: Option<&'a str>,
}

impl ApplyCx<'_> {
    /// The first (usually only) target.
    pub fn target(&self) -> ToolResult<&ContainerDetail> {
        self.targets
            .first()
            .ok_or_else(|| ToolError::failed("the call resolved no container"))
    }
}

/// Fleet operations, on the admitted targets only.
pub struct Ops<'a> {
    fleet: &'a dyn FleetOps,
    allowed: &'a [Target],
    swarm: Option<&'a SwarmService>,
    telemetry: &'a Telemetry,
    fence: Option<&'a dyn Fence>,
    targets: &'a [ContainerDetail],
}

impl<'a> Ops<'a> {
    pub(super) fn new(
        fleet: &'a dyn FleetOps,
        allowed: &'a [Target],
        swarm: Option<&'a SwarmService>,
        telemetry: &'a Telemetry,
        fence: Option<&'a dyn Fence>,
        targets: &'a [ContainerDetail],
    ) -> Ops<'a> {
        Ops {
            fleet,
            allowed,
            swarm,
            telemetry,
            fence,
            targets,
        }
    }

    /// Before every side effect: the target was admitted, and the fence (if any) still
    /// lets this call act.
    async fn admitted(&self, t: &Target) -> ToolResult<()> {
        self.admitted_target(t)?;
        match self.fence {
            Some(f) => f.before_side_effect(self.targets).await,
            None => Ok(()),
        }
    }

    fn admitted_target(&self, t: &Target) -> ToolResult<()> {
        if self
            .allowed
            .iter()
            .any(|a| a.id == t.id && a.host == t.host)
        {
            return Ok(());
        }
        Err(ToolError::forbidden(format!(
            "{} was not admitted for this call; nothing was done to it",
            t.service
        )))
    }

    fn docker<T>(&self, r: quantumstate_fleet::FleetResult<T>) -> ToolResult<T> {
        r.map_err(|e| {
            self.telemetry.docker_error();
            ToolError::from(e)
        })
    }

    pub async fn restart(&self, t: &Target, grace: Duration) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.restart(t, grace).await)
    }

    pub async fn stop(&self, t: &Target, grace: Duration) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.stop(t, grace).await)
    }

    pub async fn start(&self, t: &Target) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.start(t).await)
    }

    pub async fn kill(&self, t: &Target) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.kill(t).await)
    }

    pub async fn pause(&self, t: &Target) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.pause(t).await)
    }

    pub async fn unpause(&self, t: &Target) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.unpause(t).await)
    }

    pub async fn set_memory_limit(&self, t: &Target, bytes: i64) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.set_memory_limit(t, bytes).await)
    }

    pub async fn disconnect(&self, t: &Target, network: &str) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.disconnect(t, network).await)
    }

    pub async fn connect(&self, t: &Target, network: &str, aliases: Vec<String>) -> ToolResult<()> {
        self.admitted(t).await?;
        self.docker(self.fleet.connect(t, network, aliases).await)
    }

    pub async fn recreate(&self, t: &Target, change: &Recreate) -> ToolResult<ContainerDetail> {
        self.admitted(t).await?;
        self.docker(self.fleet.recreate(t, change).await)
    }

    /// Asks swarm to roll out `change` on the admitted swarm service.
    pub async fn update_swarm(&self, svc: &SwarmService, change: &SwarmChange) -> ToolResult<()> {
        if !self
            .swarm
            .is_some_and(|a| a.id == svc.id && a.host == svc.host)
        {
            return Err(ToolError::forbidden(format!(
                "swarm service {} was not admitted for this call; nothing was done to it",
                svc.name
            )));
        }
        if let Some(f) = self.fence {
            f.before_side_effect(self.targets).await?;
        }
        self.docker(self.fleet.update_swarm(svc, change).await)
    }
}

/// The client a call came from, as the road sees it: where progress goes, and how its
/// user can be asked for approval (if at all).
#[derive(Clone, Default)]
pub struct Client {
    pub progress: Progress,
    pub consent: Option<Arc<dyn Consent>>,
    /// Checked before each side effect (the runner's claim on its action).
    pub fence: Option<Arc<dyn Fence>>,
}

/// What may stop a call between its side effects: the runner's claim, which another
/// runner takes over once the lease runs out. An error stops the call before it touches
/// anything more (what it did so far stays done and is reported).
#[async_trait::async_trait]
pub trait Fence: Send + Sync {
    /// Called before every fleet operation with the call's admitted targets.
    async fn before_side_effect(&self, targets: &[ContainerDetail]) -> ToolResult<()>;
}

impl Client {
    /// No client behind the call (the runner, the reaper, direct calls).
    pub fn none() -> Client {
        Client::default()
    }
}

type Sink = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// Where progress messages go (an MCP client's progress token, or nowhere).
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<Sink>,
}

impl Progress {
    /// Progress that goes nowhere (the runner, the reaper, direct calls).
    pub fn none() -> Progress {
        Progress::default()
    }

    pub fn to(sink: Sink) -> Progress {
        Progress { sink: Some(sink) }
    }

    pub async fn report(&self, message: String) {
        if let Some(s) = &self.sink {
            s(message).await;
        }
    }
}
