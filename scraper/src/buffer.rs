//! The bounded buffer between measurements and the store: documents wait here until a
//! write succeeds; past the bound the oldest are dropped, and every drop is counted.

use std::collections::VecDeque;
use std::sync::Mutex;

use quantumstate_store::{Deployment, LogLine, Metric, Store};

use crate::counters::Counters;

/// Documents written per store call.
const BATCH: usize = 5_000;

#[derive(Default)]
struct Queues {
    metrics: VecDeque<Metric>,
    logs: VecDeque<LogLine>,
    deployments: VecDeque<Deployment>,
}

impl Queues {
    fn len(&self) -> usize {
        self.metrics.len() + self.logs.len() + self.deployments.len()
    }
}

/// Pending documents, bounded by `max` in total.
pub struct Buffer {
    max: usize,
    q: Mutex<Queues>,
    /// Held while flushing so two flushes never interleave (order is kept).
    flushing: tokio::sync::Mutex<()>,
}

impl Buffer {
    pub fn new(max: usize) -> Buffer {
        Buffer {
            max: max.max(1),
            q: Mutex::new(Queues::default()),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.q.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the oldest documents (metrics first, then logs) past the bound.
    fn trim(&self, q: &mut Queues, counters: &Counters) {
        let mut dropped = 0u64;
        while q.len() > self.max {
            if q.metrics.pop_front().is_none() && q.logs.pop_front().is_none() {
                q.deployments.pop_front();
            }
            dropped += 1;
        }
        if dropped > 0 {
            counters.dropped(dropped);
        }
    }

    pub fn push(
        &self,
        metrics: Vec<Metric>,
        logs: Vec<LogLine>,
        deployments: Vec<Deployment>,
        counters: &Counters,
    ) {
        let mut q = self.lock();
        q.metrics.extend(metrics);
        q.logs.extend(logs);
        q.deployments.extend(deployments);
        self.trim(&mut q, counters);
        counters.buffered(q.len());
    }

    /// Writes everything buffered, batch by batch; stops at the first failure and keeps
    /// the rest (the failed batch included) for the next flush. True when all was written.
    pub async fn flush(&self, store: &dyn Store, counters: &Counters) -> bool {
        let _one_at_a_time = self.flushing.lock().await;
        loop {
            let (metrics, logs, deps) = {
                let mut q = self.lock();
                let (nm, nl) = (q.metrics.len().min(BATCH), q.logs.len().min(BATCH));
                let m: Vec<Metric> = q.metrics.drain(..nm).collect();
                let l: Vec<LogLine> = q.logs.drain(..nl).collect();
                let d: Vec<Deployment> = q.deployments.drain(..).collect();
                (m, l, d)
            };
            if metrics.is_empty() && logs.is_empty() && deps.is_empty() {
                counters.buffered(0);
                return true;
            }
            // Each kind goes back to the front of its queue, in order, only if its own
            // write failed: what was written is not written twice.
            if !metrics.is_empty()
                && let Err(e) = store.put_metrics(&metrics).await
            {
                self.requeue(metrics, logs, deps, counters, &e.to_string());
                return false;
            }
            counters.written(metrics.len() as u64, 0);
            if !logs.is_empty()
                && let Err(e) = store.put_logs(&logs).await
            {
                self.requeue(Vec::new(), logs, deps, counters, &e.to_string());
                return false;
            }
            counters.written(0, logs.len() as u64);
            for (i, d) in deps.iter().enumerate() {
                if let Err(e) = store.put_deployment(d).await {
                    self.requeue(
                        Vec::new(),
                        Vec::new(),
                        deps[i..].to_vec(),
                        counters,
                        &e.to_string(),
                    );
                    return false;
                }
            }
        }
    }

    fn requeue(
        &self,
        metrics: Vec<Metric>,
        logs: Vec<LogLine>,
        deps: Vec<Deployment>,
        counters: &Counters,
        why: &str,
    ) {
        counters.store_error(why);
        let mut q = self.lock();
        for m in metrics.into_iter().rev() {
            q.metrics.push_front(m);
        }
        for l in logs.into_iter().rev() {
            q.logs.push_front(l);
        }
        for d in deps.into_iter().rev() {
            q.deployments.push_front(d);
        }
        self.trim(&mut q, counters);
        counters.buffered(q.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use quantumstate_store::MetricType;

    fn m(v: f64) -> Metric {
        Metric::measured(Utc::now(), "svc", "r", MetricType::Up, v)
    }

    #[test]
    fn the_bound_drops_the_oldest_and_counts() {
        let c = Counters::default();
        let b = Buffer::new(3);
        b.push(
            (0..5).map(|i| m(i as f64)).collect(),
            Vec::new(),
            Vec::new(),
            &c,
        );
        assert_eq!(b.len(), 3);
        assert_eq!(c.snapshot().dropped, 2);
        let q = b.lock();
        assert_eq!(q.metrics.front().map(|x| x.value), Some(2.0));
    }
}
