//! The server's rules: what it offers and who may call it (`rules`, over the catalogue),
//! which calls wait for a human's approval and on what plan (`approvals`), and what a
//! mutation is admitted by on the road — per-client rate limits and the restart budget
//! shared through the store (`guard`).

pub mod approvals;
mod guard;
pub mod plans;
mod rules;

pub use approvals::{Answer, Consent};
pub use guard::{Admission, Guard, canonical};
pub use rules::{Policy, console_mutations};
