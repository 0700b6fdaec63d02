//! Real, self-ending faults: a spec parser, the registry that owns active faults and
//! expires them, and the effects that allocate memory or burn CPU for real.

pub mod burn;
pub mod leak;
pub mod registry;
pub mod spec;

pub use registry::{EndReason, FaultRegistry, FaultView, RequestEffects, StartError};
pub use spec::{FaultKind, FaultSpec, SpecError, SpecErrorKind};
