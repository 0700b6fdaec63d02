//! Who is calling: a name for the audit (a token's name, `stdio`, `cli`, `runner`,
//! `reaper`), the scopes it holds, and the surface it came in on. Every path sets one;
//! a request without a caller is refused, never given a default's rights.

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ToolError, ToolResult};

/// Where a call came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    Stdio,
    Http,
    Cli,
    Console,
    Runner,
    Reaper,
    /// Alertmanager's webhook (`POST /api/alerts`).
    Webhook,
}

/// What a caller may do: a set of `read`, `operate` (remediation), `chaos` (fault
/// injection) and `approve` (decide on others' plans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    pub const READ: Scopes = Scopes(1);
    pub const OPERATE: Scopes = Scopes(2);
    pub const CHAOS: Scopes = Scopes(4);
    pub const APPROVE: Scopes = Scopes(8);
    /// `write`: operate and chaos (the rights of a token before scopes existed).
    pub const WRITE: Scopes = Scopes(1 | 2 | 4);

    pub fn contains(self, other: Scopes) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }

    /// `read`, `write`, or scopes joined by `+` (e.g. `read+approve`). Every scope
    /// implies `read`.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut s = Scopes::READ;
        for part in text.split('+').map(str::trim) {
            s = s.union(match part {
                "read" => Scopes::READ,
                "write" => Scopes::WRITE,
                "operate" => Scopes::OPERATE,
                "chaos" => Scopes::CHAOS,
                "approve" => Scopes::APPROVE,
                other => {
                    return Err(format!(
                        "unknown scope {other:?}: use read, operate, chaos, approve or write, joined by +"
                    ));
                }
            });
        }
        Ok(s)
    }

    /// The scopes as text, e.g. `read+operate+chaos`.
    pub fn names(self) -> String {
        let all = [
            (Scopes::READ, "read"),
            (Scopes::OPERATE, "operate"),
            (Scopes::CHAOS, "chaos"),
            (Scopes::APPROVE, "approve"),
        ];
        all.iter()
            .filter(|(s, _)| self.contains(*s))
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// Who is calling, and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub scopes: Scopes,
    pub surface: Surface,
}

impl Caller {
    fn new(name: &str, scopes: Scopes, surface: Surface) -> Caller {
        Caller {
            name: name.to_string(),
            scopes,
            surface,
        }
    }

    /// The human at a desktop client: the stdio transport sets it for its one session.
    pub fn stdio() -> Caller {
        Caller::new("stdio", Scopes::WRITE, Surface::Stdio)
    }

    /// The operator on the host (`quantumstate-mcp call`, `approve`).
    pub fn cli() -> Caller {
        Caller::new("cli", Scopes::WRITE, Surface::Cli)
    }

    /// An HTTP client, named by its token.
    pub fn http(name: &str, scopes: Scopes) -> Caller {
        Caller::new(name, scopes, Surface::Http)
    }

    /// The runner, acting on an action someone queued.
    pub fn runner(on_behalf_of: Option<&str>) -> Caller {
        let name = match on_behalf_of {
            Some(who) => format!("runner:{who}"),
            None => "runner".into(),
        };
        Caller::new(&name, Scopes::WRITE, Surface::Runner)
    }

    /// The reaper, ending faults whose TTL passed (audited as `by`).
    pub fn reaper(by: &str) -> Caller {
        Caller::new(by, Scopes::WRITE, Surface::Reaper)
    }

    /// Alertmanager, posting alerts with the alert token: it records incidents and, with
    /// `--on-alert queue`, queues runbook actions (never more than `operate`).
    pub fn alertmanager() -> Caller {
        Caller::new("alertmanager", Scopes::OPERATE, Surface::Webhook)
    }

    /// True when the caller may change something (any scope beyond read).
    pub fn can_write(&self) -> bool {
        self.scopes.contains(Scopes::OPERATE) || self.scopes.contains(Scopes::CHAOS)
    }

    /// The caller of an MCP request: set by the HTTP auth layer (inside the request's
    /// `http::request::Parts`), by the in-process dispatcher, or by the session (stdio).
    /// None of these: the request is refused.
    pub fn from_ctx(
        ctx: &RequestContext<RoleServer>,
        session: Option<&Caller>,
    ) -> ToolResult<Caller> {
        Caller::from_extensions(&ctx.extensions, session)
    }

    /// The caller a transport put in a request's extensions (directly, or in the HTTP
    /// request's parts), else the session's; neither is a refusal.
    fn from_extensions(
        ext: &rmcp::model::Extensions,
        session: Option<&Caller>,
    ) -> ToolResult<Caller> {
        if let Some(c) = ext.get::<Caller>() {
            return Ok(c.clone());
        }
        if let Some(c) = ext
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
        {
            return Ok(c.clone());
        }
        session.cloned().ok_or_else(|| {
            ToolError::unauthorized("this request carries no caller, so it may do nothing").hint(
                "a transport must name its caller: a bearer token over HTTP, or the stdio session",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_imply_read() {
        let s = Scopes::parse("operate").unwrap();
        assert!(s.contains(Scopes::READ) && s.contains(Scopes::OPERATE));
        assert!(!s.contains(Scopes::CHAOS));
        assert_eq!(Scopes::parse("write").unwrap(), Scopes::WRITE);
        assert_eq!(
            Scopes::parse("read+approve").unwrap().names(),
            "read+approve"
        );
        assert!(Scopes::parse("admin").is_err());
        assert!(Scopes::parse("").is_err());
    }

    #[test]
    fn a_request_without_a_caller_is_refused_not_given_stdios_rights() {
        let none = rmcp::model::Extensions::new();
        let e = Caller::from_extensions(&none, None).expect_err("no caller is a refusal");
        assert_eq!(e.code.as_str(), "unauthorized", "{e:?}");
        let mut ext = rmcp::model::Extensions::new();
        let http = Caller::new("ops", Scopes::READ, Surface::Http);
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.extensions.insert(http.clone());
        ext.insert(parts);
        let got = Caller::from_extensions(&ext, None).unwrap();
        assert_eq!((got.name.as_str(), got.scopes), ("ops", Scopes::READ));
        let stdio = Caller::new("stdio", Scopes::WRITE, Surface::Stdio);
        let got = Caller::from_extensions(&none, Some(&stdio)).unwrap();
        assert_eq!(got.name, "stdio");
    }
}
