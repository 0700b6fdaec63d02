//! The records of QuantumState's nine collections, as stored and as returned by tools.
//! Field names follow seed 001 and the original runner so an existing index keeps working.

mod actions;
mod audit;
mod knowledge;
mod plans;
mod tasks;
mod telemetry;

pub use actions::*;
pub use audit::*;
pub use knowledge::*;
pub use plans::*;
pub use tasks::*;
pub use telemetry::*;

/// The nine collections, named as the original's Elasticsearch indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Metrics,
    Logs,
    Incidents,
    Decisions,
    Actions,
    Results,
    Runbooks,
    Deployments,
    Audit,
}

impl Collection {
    pub const ALL: [Collection; 9] = [
        Collection::Metrics,
        Collection::Logs,
        Collection::Incidents,
        Collection::Decisions,
        Collection::Actions,
        Collection::Results,
        Collection::Runbooks,
        Collection::Deployments,
        Collection::Audit,
    ];

    /// The collection's index name (SPEC "Store").
    pub fn name(self) -> &'static str {
        match self {
            Collection::Metrics => "metrics-quantumstate",
            Collection::Logs => "logs-quantumstate",
            Collection::Incidents => "incidents-quantumstate",
            Collection::Decisions => "agent-decisions-quantumstate",
            Collection::Actions => "remediation-actions-quantumstate",
            Collection::Results => "remediation-results-quantumstate",
            Collection::Runbooks => "runbooks-quantumstate",
            Collection::Deployments => "deployments-quantumstate",
            Collection::Audit => "audit-quantumstate",
        }
    }
}
