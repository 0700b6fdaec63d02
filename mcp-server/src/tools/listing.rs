//! `tools/list` without building the router. Building it runs schemars over every
//! tool's argument and output types and compacts the result: milliseconds a client
//! waits for at every start. The compacted list of every tool is compiled into the
//! binary (`list.json`, checked against the code by a test that can rewrite it), and
//! a configuration's list is that one, filtered by its policy; the router itself is
//! built off the reply's path (see `server::Routes`).

use rmcp::model::Tool;

use super::chaos;
use crate::config::Config;
use crate::policy::Policy;

/// `full_listing()` as JSON, written by `QS_BLESS=1 cargo test -p quantumstate-mcp --lib listing`.
pub const LIST_JSON: &str = include_str!("list.json");

/// The tools `cfg` exposes, as `tools::router(cfg).list_all()` lists them.
pub fn listing(cfg: &Config) -> Vec<Tool> {
    let all: Vec<Tool> = match serde_json::from_str(LIST_JSON) {
        Ok(all) => all,
        // Only a broken build gets here (the test parses it); the router still knows.
        Err(_) => return super::router(cfg).list_all(),
    };
    let policy = Policy::new(cfg);
    all.into_iter()
        .filter(|t| policy.visible(&t.name))
        .map(|mut t| {
            if t.name == "inject_fault" {
                chaos::offer_kinds(&mut t, !cfg.disable_destructive);
            }
            t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn values(tools: Vec<Tool>) -> Value {
        serde_json::to_value(tools).expect("serialise")
    }

    #[test]
    fn the_compiled_list_is_what_the_code_builds() {
        let built = values(crate::tools::full_listing());
        let compiled: Value = serde_json::from_str(LIST_JSON).expect("list.json is JSON");
        if built != compiled && std::env::var_os("QS_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/tools/list.json");
            let text = serde_json::to_string_pretty(&built).expect("serialise") + "\n";
            std::fs::write(path, text).expect("write list.json");
            return;
        }
        assert!(
            built == compiled,
            "src/tools/list.json is stale: rewrite it with \
             QS_BLESS=1 cargo test -p quantumstate-mcp --lib listing"
        );
    }

    #[test]
    fn every_configuration_lists_what_its_router_routes() {
        let base = Config::local("sqlite::memory:");
        let mut read_only = base.clone();
        read_only.read_only = true;
        let mut no_destructive = base.clone();
        no_destructive.disable_destructive = true;
        for cfg in [base, read_only, no_destructive] {
            assert_eq!(
                values(listing(&cfg)),
                values(crate::tools::router(&cfg).list_all()),
                "read_only {} disable_destructive {}",
                cfg.read_only,
                cfg.disable_destructive
            );
        }
    }
}
