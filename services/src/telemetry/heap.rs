//! HEAP_PRESSURE thresholds as memory climbs (seed 001: WARN at 65 %, ERROR at 80 %,
//! CRITICAL approaching 90 %): each fires once per crossing and re-arms when memory drops back.

use crate::log::Level;

/// Thresholds in percent of the memory limit, lowest first.
pub const THRESHOLDS: [(f64, Level); 3] = [
    (65.0, Level::Warn),
    (80.0, Level::Error),
    (87.0, Level::Critical),
];

/// Points below a threshold memory must fall before it fires again; stops flapping.
const REARM_MARGIN: f64 = 1.0;

/// One threshold crossed upwards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    pub threshold: f64,
    pub level: Level,
}

/// Which thresholds may still fire.
#[derive(Debug)]
pub struct HeapPressure {
    armed: [bool; THRESHOLDS.len()],
}

impl Default for HeapPressure {
    fn default() -> Self {
        HeapPressure {
            armed: [true; THRESHOLDS.len()],
        }
    }
}

impl HeapPressure {
    /// Feeds one reading; returns the thresholds crossed since the last one, lowest first.
    pub fn observe(&mut self, percent: f64) -> Vec<Crossing> {
        let mut crossed = Vec::new();
        for (armed, (threshold, level)) in self.armed.iter_mut().zip(THRESHOLDS) {
            if *armed && percent >= threshold {
                *armed = false;
                crossed.push(Crossing { threshold, level });
            } else if !*armed && percent < threshold - REARM_MARGIN {
                *armed = true;
            }
        }
        crossed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_crossing_and_rearms() {
        let mut h = HeapPressure::default();
        assert!(h.observe(50.0).is_empty());
        let c = h.observe(66.0);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].level, Level::Warn);
        assert!(h.observe(70.0).is_empty());
        let c = h.observe(88.0);
        assert_eq!(
            c.iter().map(|c| c.level).collect::<Vec<_>>(),
            [Level::Error, Level::Critical]
        );
        assert!(h.observe(89.0).is_empty());
        // Back to normal re-arms everything.
        assert!(h.observe(40.0).is_empty());
        assert_eq!(h.observe(81.0).len(), 2);
        // Hovering just under a threshold does not re-arm it.
        assert!(h.observe(79.5).is_empty());
        assert!(h.observe(80.5).is_empty());
    }
}
