//! `quantumstate-mcp`: an MCP server that lets agents run a container fleet safely —
//! read health, metrics and logs, detect anomalies, recall incidents and runbooks, inject
//! real faults and remediate with verification, every mutation through one audited gate.
//!
//! `main.rs` only parses arguments; everything runs from here (`commands`).

pub mod analysis;
pub mod app;
pub mod bench;
pub mod commands;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod fleet;
pub mod guard;
pub mod http;
pub mod ops;
pub mod reaper;
pub mod runner;
pub mod server;
pub mod telemetry;
pub mod tools;

pub use app::App;
pub use config::{Cli, Command, Config};
pub use dispatch::Dispatcher;
pub use error::{ErrorCode, ToolError};
pub use server::QsServer;
