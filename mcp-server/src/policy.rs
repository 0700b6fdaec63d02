//! The server's rules: what it offers and who may call it (`rules`, over the catalogue),
//! and what a mutation is admitted by on the road — plans quoted from dry runs,
//! per-client rate limits, the restart budget shared through the store (`guard`).

mod guard;
mod rules;

pub use guard::{Admission, Guard, PLAN_TTL};
pub use rules::{Policy, console_mutations};
