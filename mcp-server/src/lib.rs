//! `quantumstate-mcp`: an MCP server that lets agents run a container fleet safely —
//! read health, metrics and logs, detect anomalies, recall incidents and runbooks, inject
//! real faults and remediate with verification, every mutation on one audited road.
//!
//! `main.rs` only parses arguments; everything runs from here (`commands`). A call flows
//! transport (`http`, stdio, `call`) → `server` / `dispatch` → `tools` (their policy from
//! `catalogue`) → for a mutation, `mutation` (the road: `policy`, audit, `ops`) → the
//! fleet (`quantumstate-fleet`) or the store (`quantumstate-store`).

pub mod alerts;
pub mod analysis;
pub mod app;
pub mod bench;
pub mod caller;
pub mod catalogue;
pub mod commands;
pub mod config;
pub mod directory;
pub mod dispatch;
pub mod error;
pub mod faults;
pub mod http;
pub mod mutation;
pub mod ops;
pub mod overview;
pub mod policy;
pub mod reaper;
pub mod runner;
pub mod server;
pub mod tasks;
pub mod telemetry;
pub mod text;
pub mod tools;

pub use app::App;
pub use caller::Caller;
pub use config::{Cli, Command, Config};
pub use dispatch::Dispatcher;
pub use error::{ErrorCode, ToolError};
pub use server::QsServer;
