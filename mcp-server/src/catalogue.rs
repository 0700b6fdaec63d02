//! The one list of tools and what each may do: its toolset, its class (read, record,
//! operate, chaos), whether it can take capacity away, and whether the console may call
//! it. The router, `call`, `/api/tools`, the console and the mutation road all decide
//! from this table (through `policy::Policy`), and the MCP annotations are written from it.

/// What a tool does to the world, which decides who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Reads only.
    Read,
    /// Writes to the knowledge store only (incidents, decisions): needs a write scope.
    Record,
    /// Changes containers or the remediation queue: needs `operate`.
    Operate,
    /// Injects or ends faults: needs `chaos`.
    Chaos,
}

/// Whether a tool takes capacity away (stop, kill, pause, partition, cache offline, a
/// defective version): such calls are hidden or refused by `--disable-destructive` and
/// need a human's approval under `--approval destructive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Never,
    Always,
    /// Some operations do (which ones, the tool's plan says: fault kinds, versions).
    ByOperation,
}

/// One tool's declaration.
#[derive(Debug, Clone, Copy)]
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub toolset: &'static str,
    pub class: Class,
    /// MCP's destructiveHint: the tool may make changes that are not purely additive.
    pub destructive_hint: bool,
    pub idempotent: bool,
    pub capacity: Capacity,
    /// The console's buttons may call it (with `--console-actions`).
    pub console: bool,
    /// Listed and callable by clients; false for the runner's and reaper's own names.
    pub public: bool,
}

const fn read(name: &'static str, title: &'static str, toolset: &'static str) -> ToolSpec {
    ToolSpec {
        name,
        title,
        toolset,
        class: Class::Read,
        destructive_hint: false,
        idempotent: true,
        capacity: Capacity::Never,
        console: true,
        public: true,
    }
}

const fn change(
    name: &'static str,
    title: &'static str,
    toolset: &'static str,
    class: Class,
    destructive_hint: bool,
    capacity: Capacity,
) -> ToolSpec {
    ToolSpec {
        name,
        title,
        toolset,
        class,
        destructive_hint,
        idempotent: false,
        capacity,
        console: false,
        public: true,
    }
}

const fn idempotent(mut s: ToolSpec) -> ToolSpec {
    s.idempotent = true;
    s
}

const fn console(mut s: ToolSpec) -> ToolSpec {
    s.console = true;
    s
}

const fn internal(mut s: ToolSpec) -> ToolSpec {
    s.public = false;
    s
}

use Capacity::{Always, ByOperation, Never};
use Class::{Chaos, Operate, Record};

/// Every tool, in toolset order.
pub const TOOLS: &[ToolSpec] = &[
    read("list_services", "List services", "fleet"),
    read("get_service_health", "Get service health", "fleet"),
    read("container_stats", "Container stats", "fleet"),
    read("container_logs", "Container logs", "fleet"),
    read("query_metrics", "Query metrics", "metrics"),
    read("search_logs", "Search logs", "metrics"),
    read("detect_anomalies", "Detect anomalies", "analysis"),
    read("correlate_deployments", "Correlate deployments", "analysis"),
    read("verify_recovery", "Verify recovery", "analysis"),
    read("find_similar_incidents", "Find similar incidents", "memory"),
    read("find_relevant_runbook", "Find relevant runbook", "memory"),
    read("get_incident", "Get incident", "memory"),
    read("list_incidents", "List incidents", "memory"),
    change(
        "record_incident",
        "Record incident",
        "memory",
        Record,
        false,
        Never,
    ),
    change(
        "record_decision",
        "Record decision",
        "memory",
        Record,
        false,
        Never,
    ),
    read("list_decisions", "List decisions", "memory"),
    read("list_audit", "List audit", "memory"),
    console(change(
        "restart_container",
        "Restart container",
        "remediation",
        Operate,
        true,
        Never,
    )),
    idempotent(change(
        "stop_container",
        "Stop container",
        "remediation",
        Operate,
        true,
        Always,
    )),
    idempotent(change(
        "start_container",
        "Start container",
        "remediation",
        Operate,
        false,
        Never,
    )),
    change(
        "rollback_deployment",
        "Roll back deployment",
        "remediation",
        Operate,
        true,
        ByOperation,
    ),
    change(
        "deploy_version",
        "Deploy version",
        "remediation",
        Operate,
        true,
        ByOperation,
    ),
    change(
        "restart_dependency",
        "Restart dependency",
        "remediation",
        Operate,
        true,
        Never,
    ),
    idempotent(change(
        "scale_cache",
        "Scale cache",
        "remediation",
        Operate,
        false,
        Never,
    )),
    idempotent(change(
        "scale_service",
        "Scale swarm service",
        "remediation",
        Operate,
        true,
        ByOperation,
    )),
    change(
        "remediate",
        "Remediate (queue)",
        "remediation",
        Operate,
        true,
        ByOperation,
    ),
    read(
        "get_remediation_action",
        "Get remediation action",
        "remediation",
    ),
    console(change(
        "inject_fault",
        "Inject fault",
        "chaos",
        Chaos,
        true,
        ByOperation,
    )),
    read("list_faults", "List faults", "chaos"),
    console(idempotent(change(
        "reset_faults",
        "Reset faults",
        "chaos",
        Chaos,
        false,
        Never,
    ))),
    // The runner's and reaper's names for what they do (audited under these names).
    internal(change(
        "restart_service",
        "Restart service (runner)",
        "remediation",
        Operate,
        true,
        Never,
    )),
    internal(change(
        "receive_alert",
        "Receive alert (Alertmanager)",
        "memory",
        Record,
        false,
        Never,
    )),
    internal(change(
        "undo_fault",
        "Undo fault (reaper)",
        "chaos",
        Chaos,
        false,
        Never,
    )),
];

/// A tool's declaration by name (public or internal).
pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TOOLSETS;

    #[test]
    fn names_are_unique_and_toolsets_known() {
        let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
        assert!(TOOLS.iter().all(|t| TOOLSETS.contains(&t.toolset)));
        assert_eq!(TOOLS.iter().filter(|t| t.public).count(), 30);
    }
}
