//! The benchmark's data: a seeded generator (same documents for the same seed and size)
//! of metric samples and log lines for the five services, written in batches the way the
//! scraper writes them, with the ingest rate measured on the way.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use quantumstate_store::{Level, LogLine, Metric, MetricType, Store};

/// The demo fleet's services, whose data the bench generates.
const DEMO_SERVICES: [&str; 5] = [
    "payment-service",
    "checkout-service",
    "auth-service",
    "inventory-service",
    "auth-cache",
];

/// Documents per store call (the scraper's batch).
pub const BATCH: usize = 1_000;

/// A small, seeded PRNG (PCG-style LCG): the generator needs repeatability, not quality.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.next_u64() as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next_u64() as usize) % xs.len()]
    }
}

/// A realistic value for a metric of a service at step `i` of `n` (the last 2 % of
/// payment-service's memory climbs, so detection has something to find).
fn value(rng: &mut Rng, service: &str, mt: MetricType, i: usize, n: usize) -> f64 {
    let noise = rng.unit() - 0.5;
    let tail = (i as f64 / n as f64 - 0.98).max(0.0) / 0.02;
    match mt {
        MetricType::MemoryPercent if service == "payment-service" => {
            45.0 + 40.0 * tail + noise * 2.0
        }
        MetricType::MemoryPercent | MetricType::ContainerMemoryPercent => 35.0 + noise * 6.0,
        MetricType::CpuPercent | MetricType::ContainerCpuPercent => 25.0 + noise * 10.0,
        MetricType::ErrorRate => (0.4 + noise * 0.6).max(0.0),
        MetricType::RequestLatencyMs => 120.0 + noise * 40.0,
        MetricType::RequestsPerMin => 800.0 + noise * 120.0,
        MetricType::Up => 1.0,
    }
}

/// The fleet's 40 series: every metric type of every demo service.
fn series() -> Vec<(&'static str, MetricType)> {
    DEMO_SERVICES
        .iter()
        .flat_map(|s| MetricType::ALL.into_iter().map(move |m| (*s, m)))
        .collect()
}

fn region(service: &str) -> &'static str {
    if service == "inventory-service" {
        "eu-west-1"
    } else {
        "us-east-1"
    }
}

/// What ingest measured.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Ingest {
    pub documents: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub batch: usize,
}

impl Ingest {
    fn since(documents: usize, began: Instant) -> Ingest {
        let seconds = began.elapsed().as_secs_f64();
        Ingest {
            documents,
            seconds,
            per_second: documents as f64 / seconds.max(1e-9),
            batch: BATCH,
        }
    }
}

/// Writes `total` metric samples (spread evenly over the 40 series, spanning the 24 h
/// before `now`) in batches; returns the measured ingest rate.
pub async fn metrics(
    store: &dyn Store,
    total: usize,
    seed: u64,
    now: DateTime<Utc>,
) -> quantumstate_store::Result<Ingest> {
    let mut rng = Rng::new(seed);
    let series = series();
    let per_series = total.div_ceil(series.len());
    let step_ms = (86_400_000 / per_series.max(1)) as i64;
    let start = now - Duration::days(1);
    let mut w = MetricWriter::new(store);
    'outer: for i in 0..per_series {
        let t = start + Duration::milliseconds(step_ms * i as i64);
        for (svc, mt) in &series {
            if w.count() >= total {
                break 'outer;
            }
            let v = value(&mut rng, svc, *mt, i, per_series);
            w.push(Metric::measured(t, svc, region(svc), *mt, v))
                .await?;
        }
    }
    w.finish().await
}

/// Writes one sample a minute for each of the 40 series over the `days` days before the
/// last one (the older data the 7 d row reads); returns the measured ingest rate.
pub async fn history(
    store: &dyn Store,
    days: i64,
    seed: u64,
    now: DateTime<Utc>,
) -> quantumstate_store::Result<Ingest> {
    let mut rng = Rng::new(seed ^ 0x4157);
    let start = now - Duration::days(1 + days);
    let minutes = (days * 1440) as usize;
    let mut w = MetricWriter::new(store);
    for i in 0..minutes {
        let t = start + Duration::minutes(i as i64);
        for (svc, mt) in series() {
            let v = value(&mut rng, svc, mt, 0, 1);
            w.push(Metric::measured(t, svc, region(svc), mt, v)).await?;
        }
    }
    w.finish().await
}

/// Writes metric samples in batches of [`BATCH`], timing the whole.
struct MetricWriter<'a> {
    store: &'a dyn Store,
    batch: Vec<Metric>,
    written: usize,
    began: Instant,
}

impl<'a> MetricWriter<'a> {
    fn new(store: &'a dyn Store) -> MetricWriter<'a> {
        MetricWriter {
            store,
            batch: Vec::with_capacity(BATCH),
            written: 0,
            began: Instant::now(),
        }
    }

    /// Samples written or waiting in the batch.
    fn count(&self) -> usize {
        self.written + self.batch.len()
    }

    async fn push(&mut self, m: Metric) -> quantumstate_store::Result<()> {
        self.batch.push(m);
        if self.batch.len() == BATCH {
            self.written += self.store.put_metrics(&self.batch).await?;
            self.batch.clear();
        }
        Ok(())
    }

    async fn finish(mut self) -> quantumstate_store::Result<Ingest> {
        if !self.batch.is_empty() {
            self.written += self.store.put_metrics(&self.batch).await?;
        }
        Ok(Ingest::since(self.written, self.began))
    }
}

const MESSAGES: [(&str, Level, Option<&str>); 8] = [
    ("served requests normally", Level::Info, None),
    ("order placed", Level::Info, None),
    ("session created", Level::Info, None),
    (
        "slow upstream call took {ms} ms",
        Level::Warn,
        Some("LATENCY_SLO_BREACH"),
    ),
    (
        "heap usage elevated: {pct}%",
        Level::Warn,
        Some("HEAP_PRESSURE"),
    ),
    (
        "request failed: upstream timeout after {ms} ms",
        Level::Error,
        Some("UPSTREAM_UNAVAILABLE"),
    ),
    (
        "session lookup failed: cache unreachable",
        Level::Error,
        Some("REDIS_UNAVAILABLE"),
    ),
    (
        "session cache OFFLINE",
        Level::Critical,
        Some("CACHE_OFFLINE"),
    ),
];

/// Writes `total` log lines over the 24 h before `now`: mostly INFO, some WARN, ERROR and
/// CRITICAL with their error codes.
pub async fn logs(
    store: &dyn Store,
    total: usize,
    seed: u64,
    now: DateTime<Utc>,
) -> quantumstate_store::Result<Ingest> {
    let mut rng = Rng::new(seed ^ 0x1095);
    let start = now - Duration::days(1);
    let step_us = 86_400_000_000 / total.max(1) as i64;
    let began = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0;
    for i in 0..total {
        let r = rng.unit();
        let idx = if r < 0.80 {
            (rng.next_u64() % 3) as usize
        } else if r < 0.95 {
            3 + (rng.next_u64() % 2) as usize
        } else if r < 0.99 {
            5 + (rng.next_u64() % 2) as usize
        } else {
            7
        };
        let (text, level, code) = MESSAGES[idx];
        let message = text
            .replace("{ms}", &(200 + rng.next_u64() % 3000).to_string())
            .replace("{pct}", &(60 + rng.next_u64() % 35).to_string());
        let svc = *rng.pick(&DEMO_SERVICES);
        batch.push(LogLine {
            timestamp: start + Duration::microseconds(step_us * i as i64),
            service: svc.to_string(),
            region: "us-east-1".into(),
            level,
            message,
            trace_id: Some(format!("trace-{:016x}", rng.next_u64())),
            error_code: code.map(str::to_string),
            source: None,
        });
        if batch.len() == BATCH {
            written += store.put_logs(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        written += store.put_logs(&batch).await?;
    }
    Ok(Ingest::since(written, began))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_repeats_for_a_seed() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
        let u = Rng::new(1).unit();
        assert!((0.0..1.0).contains(&u));
    }
}
