//! The INFO summary every 30 s ("served N requests, E errors, p95 X ms"): the log's
//! heartbeat, in place of one line per successful request.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::Telemetry;
use super::window::WindowStats;
use crate::log::Logger;

pub const SUMMARY_EVERY: Duration = Duration::from_secs(30);

pub fn message(stats: &WindowStats, span: Duration) -> String {
    let p95 = stats
        .p95_ms
        .map_or_else(|| "n/a".to_owned(), |p| format!("{p:.2} ms"));
    format!(
        "served {} requests, {} errors, p95 {p95} in the last {} s",
        stats.requests,
        stats.errors,
        span.as_secs()
    )
}

pub async fn run(telemetry: Arc<Telemetry>, logger: Logger, shutdown: CancellationToken) {
    let start = tokio::time::Instant::now() + SUMMARY_EVERY;
    let mut tick = tokio::time::interval_at(start, SUMMARY_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let stats = telemetry.window(SUMMARY_EVERY.as_secs());
        logger.info(&message(&stats, SUMMARY_EVERY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        let s = WindowStats {
            requests: 150,
            errors: 3,
            p95_ms: Some(12.34),
        };
        assert_eq!(
            message(&s, SUMMARY_EVERY),
            "served 150 requests, 3 errors, p95 12.34 ms in the last 30 s"
        );
    }
}
