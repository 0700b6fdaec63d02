//! The server's rules over the catalogue: which tools it offers at all (toolsets,
//! `--read-only`, `--disable-destructive`), whether a caller's scopes allow a call, and
//! what the console's buttons may do. One decision, used by every surface.

use crate::caller::{Caller, Scopes};
use crate::catalogue::{Capacity, Class, TOOLS, ToolSpec, spec};
use crate::config::Config;
use crate::error::{ErrorCode, ToolError, ToolResult};

/// The server's rules, applied to the table.
#[derive(Clone, Copy)]
pub struct Policy<'a> {
    cfg: &'a Config,
}

impl<'a> Policy<'a> {
    pub fn new(cfg: &'a Config) -> Policy<'a> {
        Policy { cfg }
    }

    /// Why this server does not offer `name` at all (None: it does). A tool hidden by a
    /// mode is `forbidden`; one outside the toolsets or unknown is `unknown_tool`.
    pub fn hidden(&self, name: &str) -> Option<ToolError> {
        let Some(t) = spec(name).filter(|t| t.public) else {
            let shown = crate::text::truncate(name, 64);
            return Some(
                ToolError::new(ErrorCode::UnknownTool, format!("no tool named {shown:?}"))
                    .hint("list them with `quantumstate-mcp tools` or GET /api/tools"),
            );
        };
        if self.cfg.read_only && t.class != Class::Read {
            return Some(ToolError::forbidden(format!(
                "{name} changes the fleet and the server runs with --read-only"
            )));
        }
        if self.cfg.disable_destructive && t.capacity == Capacity::Always {
            return Some(ToolError::forbidden(format!(
                "{name} is disabled by --disable-destructive"
            )));
        }
        if !self.cfg.toolset_enabled(t.toolset) {
            return Some(
                ToolError::new(
                    ErrorCode::UnknownTool,
                    format!("{name} is not in the enabled toolsets"),
                )
                .hint(format!(
                    "enabled toolsets: {}",
                    self.cfg.toolsets.join(", ")
                )),
            );
        }
        None
    }

    /// True when `name` is listed and callable on this server.
    pub fn visible(&self, name: &str) -> bool {
        self.hidden(name).is_none()
    }

    /// Whether `caller` may call the tool at all (its scopes, the server's modes).
    pub fn allows(&self, caller: &Caller, t: &ToolSpec) -> ToolResult<()> {
        let needed = match t.class {
            Class::Read => return Ok(()),
            Class::Record => None,
            Class::Operate => Some((Scopes::OPERATE, "operate")),
            Class::Chaos => Some((Scopes::CHAOS, "chaos")),
        };
        if !caller.can_write() {
            return Err(ToolError::forbidden(format!(
                "token {:?} is read-only and cannot call {}",
                caller.name, t.name
            ))
            .hint("use a token with write access, or call read tools only"));
        }
        if let Some((scope, word)) = needed
            && !caller.scopes.contains(scope)
        {
            return Err(ToolError::forbidden(format!(
                "token {:?} has the scopes {} and {} needs {word}",
                caller.name,
                caller.scopes.names(),
                t.name
            ))
            .hint(format!("use a token with the {word} scope")));
        }
        // The reaper only ends expired faults (it gives capacity back): a read-only
        // server still does that, or a fault would outlive its TTL.
        if self.cfg.read_only && caller.surface != crate::caller::Surface::Reaper {
            return Err(ToolError::forbidden(format!(
                "the server runs with --read-only: {} is not available",
                t.name
            )));
        }
        Ok(())
    }

    /// Refuses an operation that takes capacity away on a server that disables them.
    pub fn allows_capacity_loss(&self, tool: &str, takes_capacity: bool) -> ToolResult<()> {
        if self.cfg.disable_destructive && takes_capacity {
            return Err(ToolError::forbidden(format!(
                "the server runs with --disable-destructive: this {tool} call takes capacity away and is disabled"
            ))
            .hint("restarts and rollbacks to a healthy version remain available"));
        }
        Ok(())
    }

    /// The console may make this call from its buttons (read tools, and with
    /// `--console-actions` the mutations marked for it).
    pub fn console_may(&self, name: &str, console_actions: bool) -> ToolResult<()> {
        let Some(t) = spec(name) else { return Ok(()) };
        if t.class == Class::Read {
            return Ok(());
        }
        if !console_actions {
            return Err(ToolError::forbidden(format!(
                "the console is read-only: this server runs without --console-actions, so {name} cannot be called from the page"
            ))
            .hint("restart the server with --console-actions (QS_CONSOLE_ACTIONS=true) to allow drills and restarts from the console, or call the tool through MCP or the API with a bearer token"));
        }
        if !t.console {
            let allowed: Vec<&str> = console_mutations().collect();
            return Err(ToolError::forbidden(format!(
                "the console makes fault drills and restarts only ({}); {name} is not one of them",
                allowed.join(", ")
            ))
            .hint("call it through MCP or POST /api/tools with a bearer token"));
        }
        Ok(())
    }
}

/// The mutations the console's buttons make.
pub fn console_mutations() -> impl Iterator<Item = &'static str> {
    TOOLS
        .iter()
        .filter(|t| t.console && t.class != Class::Read && t.public)
        .map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_hide_what_they_say() {
        let mut cfg = Config::local("sqlite::memory:");
        cfg.read_only = true;
        let p = Policy::new(&cfg);
        assert!(p.visible("list_services"));
        assert_eq!(
            p.hidden("restart_container").map(|e| e.code),
            Some(ErrorCode::Forbidden)
        );
        assert_eq!(
            p.hidden("undo_fault").map(|e| e.code),
            Some(ErrorCode::UnknownTool)
        );
        let mut cfg = Config::local("sqlite::memory:");
        cfg.disable_destructive = true;
        let p = Policy::new(&cfg);
        assert!(!p.visible("stop_container"));
        assert!(p.visible("inject_fault") && p.visible("restart_container"));
    }
}
