//! Test support for the Elasticsearch backend: an in-memory emulation of the APIs it uses
//! (for the shared behaviour suite), a strict replay server for the recorded fixtures, and
//! the live-cluster harness used when `ELASTIC_URL` is set.

#![allow(dead_code, clippy::unwrap_used)]

pub mod emulator;
pub mod live;
pub mod replay;
