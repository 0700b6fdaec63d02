//! A real memory leak: a thread maps anonymous memory in 1 MiB chunks at a set rate and
//! writes every page so RSS really grows; dropping the handle unmaps it all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use memmap2::MmapMut;

use crate::process;

pub const CHUNK_BYTES: usize = 1 << 20;
const PAGE: usize = process::PAGE_SIZE as usize;
/// How often the leak thread catches up with its target; small enough for a smooth climb.
const TICK: Duration = Duration::from_millis(100);

/// How fast and how far to leak.
#[derive(Debug, Clone, Copy)]
pub struct LeakPlan {
    pub mb_per_second: f64,
    pub cap_mb: u64,
    /// Stop growing while RSS is at or above this (the 90 % ceiling), if set.
    pub stop_at_rss_bytes: Option<u64>,
}

/// A running leak; the memory lives as long as this handle.
#[derive(Debug)]
pub struct Leak {
    // Dropping the sender wakes the thread, which returns and unmaps everything.
    stop: Option<mpsc::Sender<()>>,
    leaked_mb: Arc<AtomicU64>,
}

impl Leak {
    pub fn start(plan: LeakPlan) -> std::io::Result<Leak> {
        let (stop, stopped) = mpsc::channel::<()>();
        let leaked_mb = Arc::new(AtomicU64::new(0));
        let counter = leaked_mb.clone();
        std::thread::Builder::new()
            .name("memory-leak".to_owned())
            .stack_size(64 * 1024)
            .spawn(move || leak_loop(plan, &stopped, &counter))?;
        Ok(Leak {
            stop: Some(stop),
            leaked_mb,
        })
    }

    /// MiB currently held.
    pub fn leaked_mb(&self) -> u64 {
        self.leaked_mb.load(Ordering::Relaxed)
    }
}

impl Drop for Leak {
    fn drop(&mut self) {
        self.stop.take();
    }
}

fn touched_chunk() -> std::io::Result<MmapMut> {
    let mut chunk = MmapMut::map_anon(CHUNK_BYTES)?;
    // Writing one byte per page makes the kernel back every page with real memory.
    for offset in (0..CHUNK_BYTES).step_by(PAGE) {
        chunk[offset] = 0xA5;
    }
    Ok(chunk)
}

fn leak_loop(plan: LeakPlan, stopped: &mpsc::Receiver<()>, leaked_mb: &AtomicU64) {
    let started = Instant::now();
    let cap = plan.cap_mb.max(1) as usize;
    let mut chunks: Vec<MmapMut> = Vec::with_capacity(cap.min(100_000));
    loop {
        let due = (started.elapsed().as_secs_f64() * plan.mb_per_second).floor() as usize;
        while chunks.len() < due.min(cap) {
            if !matches!(stopped.try_recv(), Err(TryRecvError::Empty)) {
                return;
            }
            let at_ceiling = plan
                .stop_at_rss_bytes
                .zip(process::rss_bytes())
                .is_some_and(|(limit, rss)| rss >= limit);
            if at_ceiling {
                break;
            }
            match touched_chunk() {
                Ok(chunk) => chunks.push(chunk),
                // Out of address space or memory: hold what we have until the fault ends.
                Err(_) => break,
            }
            leaked_mb.store(chunks.len() as u64, Ordering::Relaxed);
        }
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_its_cap_and_releases() {
        let before = process::rss_bytes().unwrap();
        let leak = Leak::start(LeakPlan {
            mb_per_second: 200.0,
            cap_mb: 40,
            stop_at_rss_bytes: None,
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while leak.leaked_mb() < 40 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(leak.leaked_mb(), 40);
        let grown = process::rss_bytes().unwrap().saturating_sub(before);
        assert!(grown >= 35 * 1024 * 1024, "RSS grew only {grown} bytes");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(leak.leaked_mb(), 40, "the cap holds");
        drop(leak);
    }
}
