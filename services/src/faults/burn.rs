//! A real CPU burn: busy OS threads spinning on arithmetic until their stop flag is set
//! (when the handle drops).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Running burn threads; they stop when this is dropped.
#[derive(Debug)]
pub struct CpuBurn {
    stop: Arc<AtomicBool>,
}

impl CpuBurn {
    pub fn start(threads: u32) -> std::io::Result<CpuBurn> {
        let stop = Arc::new(AtomicBool::new(false));
        for n in 0..threads {
            let flag = stop.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cpu-burn-{n}"))
                .stack_size(64 * 1024)
                .spawn(move || spin(&flag));
            if let Err(e) = spawned {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(CpuBurn { stop })
    }
}

impl Drop for CpuBurn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn spin(stop: &AtomicBool) {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn burns_cpu_until_dropped() {
        let ticks = crate::process::cpu_ticks().unwrap();
        let burn = CpuBurn::start(1).unwrap();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(burn);
        let used = crate::process::cpu_ticks().unwrap() - ticks;
        // Half a second of one busy thread is ~50 ticks; allow for a loaded machine.
        assert!(used >= 10, "only {used} ticks");
    }
}
