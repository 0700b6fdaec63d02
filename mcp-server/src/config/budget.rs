//! The restart budget flag: how many restarts of one service a window allows.

use std::time::Duration;

use crate::error::{ToolError, ToolResult};

/// A restart budget: `max` restarts per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max: u32,
    pub window: Duration,
}

impl Budget {
    /// `3/300s`, `5/10m`.
    pub fn parse(text: &str) -> ToolResult<Budget> {
        let bad = || {
            ToolError::invalid(format!(
                "restart budget {text:?} is not like 3/300s (count/window)"
            ))
        };
        let (n, w) = text.trim().split_once('/').ok_or_else(bad)?;
        let max: u32 = n.trim().parse().map_err(|_| bad())?;
        let window = quantumstate_store::Window::parse(w.trim()).map_err(|_| bad())?;
        if max == 0 || max > 1000 {
            return Err(bad());
        }
        Ok(Budget {
            max,
            window: Duration::from_secs(window.secs() as u64),
        })
    }
}
