//! Every client works: real third-party MCP clients, none of them ours, against the
//! release binary — the official MCP Python SDK (stdio and streamable HTTP, both the
//! 2026-07-28 `server/discover` lifecycle and `initialize`, and with only HOME and PATH
//! as desktop apps pass them), the MCP Inspector CLI, `uvx` running the wheel,
//! `mcp_config.json` and the README's snippets as a new user pastes them, HTTP
//! refusals that run nothing and are audited, and the official conformance scenarios.
//!
//! The clients are pinned and installed by scripts/setup-clients.sh; without them these
//! tests skip, except under CI, where they fail.

#[path = "clients/conformance.rs"]
mod conformance;
#[path = "clients/http_refusals.rs"]
mod http_refusals;
#[path = "clients/inspector.rs"]
mod inspector;
#[path = "clients/pasted.rs"]
mod pasted;
#[path = "clients/python_sdk.rs"]
mod python_sdk;
#[path = "clients/support.rs"]
mod support;
#[path = "clients/wheel.rs"]
mod wheel;
