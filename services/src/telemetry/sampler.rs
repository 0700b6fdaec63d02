//! The once-a-second sampler: CPU from `/proc/self/stat` deltas, the cgroup limit,
//! HEAP_PRESSURE crossings, and the rate limiter's "suppressed" notes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::heap::{Crossing, HeapPressure};
use super::{MemoryReading, Telemetry};
use crate::log::{Level, Logger};
use crate::process;

pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The HEAP_PRESSURE line for one crossing.
pub fn heap_message(crossing: Crossing, mem: &MemoryReading) -> String {
    let head = match crossing.level {
        Level::Critical => "Heap critical",
        Level::Error => "Heap pressure high",
        _ => "Heap usage elevated",
    };
    let tail = match crossing.level {
        Level::Critical => " — approaching the memory limit, OOM kill imminent",
        Level::Error => " — GC overhead limit approaching",
        _ => "",
    };
    format!(
        "{head}: memory at {:.1}% of the {:.0} MB limit (RSS {:.1} MB, threshold {:.0}%){tail}",
        mem.percent,
        mem.limit_mb(),
        mem.rss_mb(),
        crossing.threshold
    )
}

pub async fn run(telemetry: Arc<Telemetry>, logger: Logger, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heap = HeapPressure::default();
    let mut last = (Instant::now(), process::cpu_ticks().unwrap_or(0));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = (Instant::now(), process::cpu_ticks().unwrap_or(last.1));
        let elapsed = now.0.duration_since(last.0).as_secs_f64();
        if elapsed > 0.0 {
            telemetry.set_cpu_percent(process::cpu_percent(last.1, now.1, elapsed));
            last = now;
        }
        telemetry.refresh_limit();
        let mem = telemetry.memory();
        for crossing in heap.observe(mem.percent) {
            logger.event(
                crossing.level,
                Some("HEAP_PRESSURE"),
                None,
                &heap_message(crossing, &mem),
            );
        }
        logger.flush_suppressed();
    }
}
