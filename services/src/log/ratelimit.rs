//! Caps identical error lines at a few per second per `error_code`, counting what it
//! drops so the next line (or a flush) can say "suppressed N similar".

use std::collections::HashMap;

/// Lines per second per error code (SPEC: at most 5).
pub const LINES_PER_SECOND: u32 = 5;
/// Distinct error codes tracked; codes are a small fixed vocabulary, this is a safety cap.
const MAX_CODES: usize = 64;

#[derive(Debug, Default)]
struct CodeState {
    second: u64,
    emitted: u32,
    suppressed: u64,
}

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Write it; `suppressed_before` similar lines were dropped in an earlier second.
    Emit {
        suppressed_before: u64,
    },
    Drop,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    codes: HashMap<String, CodeState>,
}

impl RateLimiter {
    pub fn check(&mut self, code: &str, now_sec: u64) -> Decision {
        if !self.codes.contains_key(code) && self.codes.len() >= MAX_CODES {
            // Out of slots: let the line through rather than lose an unknown code.
            return Decision::Emit {
                suppressed_before: 0,
            };
        }
        let state = self.codes.entry(code.to_owned()).or_default();
        let mut carried = 0;
        if state.second != now_sec {
            carried = state.suppressed;
            *state = CodeState {
                second: now_sec,
                ..CodeState::default()
            };
        }
        if state.emitted < LINES_PER_SECOND {
            state.emitted += 1;
            Decision::Emit {
                suppressed_before: carried,
            }
        } else {
            state.suppressed += 1;
            Decision::Drop
        }
    }

    /// Takes the counts of lines dropped in seconds before `now_sec`, so they can be
    /// reported even when no further line with that code comes.
    pub fn drain_stale(&mut self, now_sec: u64) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (code, state) in &mut self.codes {
            if state.second < now_sec && state.suppressed > 0 {
                out.push((code.clone(), state.suppressed));
                state.suppressed = 0;
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_per_second_then_a_note() {
        let mut r = RateLimiter::default();
        let emitted = (0..20)
            .filter(|_| matches!(r.check("X", 10), Decision::Emit { .. }))
            .count();
        assert_eq!(emitted, 5);
        // Another code is limited separately.
        assert_eq!(
            r.check("Y", 10),
            Decision::Emit {
                suppressed_before: 0
            }
        );
        assert_eq!(
            r.check("X", 11),
            Decision::Emit {
                suppressed_before: 15
            }
        );
        assert!(r.drain_stale(12).is_empty());
    }

    #[test]
    fn drain_reports_and_clears() {
        let mut r = RateLimiter::default();
        for _ in 0..8 {
            r.check("X", 3);
        }
        assert!(
            r.drain_stale(3).is_empty(),
            "the current second is still open"
        );
        assert_eq!(r.drain_stale(4), vec![("X".to_owned(), 3)]);
        assert!(r.drain_stale(5).is_empty());
    }
}
