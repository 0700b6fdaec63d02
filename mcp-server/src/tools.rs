//! The tools: one `#[tool_router]` per toolset (one file each), combined here into the
//! router this server's policy allows, with the MCP annotations written from the
//! catalogue's declarations and compact schemas; `listing` serves the same list without
//! building the router.

pub mod analysis;
pub mod args;
pub mod chaos;
pub mod fleet;
pub mod listing;
pub mod memory;
pub mod metrics;
pub mod remediation;
mod schema;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::ToolAnnotations;

use crate::catalogue;
use crate::config::Config;
use crate::policy::Policy;
use crate::server::QsServer;

/// Every tool of every toolset, before the policy filters them.
pub fn all() -> ToolRouter<QsServer> {
    QsServer::fleet_tools()
        + QsServer::metrics_tools()
        + QsServer::analysis_tools()
        + QsServer::memory_tools()
        + QsServer::remediation_tools()
        + QsServer::chaos_tools()
}

/// The tools this configuration exposes, annotated from the catalogue.
pub fn router(cfg: &Config) -> ToolRouter<QsServer> {
    let policy = Policy::new(cfg);
    let mut r = all();
    let hidden: Vec<String> = r
        .list_all()
        .iter()
        .map(|t| t.name.to_string())
        .filter(|n| !policy.visible(n))
        .collect();
    for name in hidden {
        r.remove_route(&name);
    }
    for route in r.map.values_mut() {
        dress(&mut route.attr, !cfg.disable_destructive);
    }
    r
}

/// Every tool as `tools/list` shows it when nothing is hidden (what `list.json` holds).
pub fn full_listing() -> Vec<rmcp::model::Tool> {
    let mut r = all();
    for route in r.map.values_mut() {
        dress(&mut route.attr, true);
    }
    r.list_all()
}

/// A tool's listing as served: annotations from the catalogue, the fault kinds this
/// server offers, compact schemas.
fn dress(tool: &mut rmcp::model::Tool, container_faults: bool) {
    if let Some(spec) = catalogue::spec(&tool.name) {
        tool.annotations = Some(annotations(spec));
    }
    if tool.name == "inject_fault" {
        chaos::offer_kinds(tool, container_faults);
    }
    schema::compact_schemas(tool);
}

fn annotations(spec: &catalogue::ToolSpec) -> ToolAnnotations {
    ToolAnnotations::with_title(spec.title)
        .read_only(spec.class == catalogue::Class::Read)
        .destructive(spec.destructive_hint)
        .idempotent(spec.idempotent)
        .open_world(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_declared_and_every_public_declaration_is_a_tool() {
        let tools = all().list_all();
        for t in &tools {
            let spec = catalogue::spec(&t.name).unwrap_or_else(|| panic!("{} undeclared", t.name));
            assert!(spec.public, "{}", t.name);
        }
        let public = catalogue::TOOLS.iter().filter(|t| t.public).count();
        assert_eq!(tools.len(), public);
    }
}
