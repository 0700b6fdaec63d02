//! The tools: one `#[tool_router]` per toolset (one file each), combined here into the
//! router this server's policy allows, with the MCP annotations written from the
//! catalogue's declarations and compact schemas.

pub mod analysis;
pub mod args;
pub mod chaos;
pub mod fleet;
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
        if let Some(spec) = catalogue::spec(&route.attr.name) {
            route.attr.annotations = Some(annotations(spec));
        }
        if route.attr.name == "inject_fault" {
            chaos::offer_kinds(&mut route.attr, !cfg.disable_destructive);
        }
        schema::compact_schemas(&mut route.attr);
    }
    r
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
