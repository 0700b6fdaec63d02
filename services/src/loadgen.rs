//! The built-in load generator (`LOAD_RPS`, checkout only): places orders on a timer by
//! calling this service's own `/checkout` over HTTP, so the whole graph sees real traffic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::trace::{self, TraceId};

/// Orders in flight at once; when they pile up (a slow graph), ticks are skipped.
pub const MAX_IN_FLIGHT: usize = 16;
/// One order may take up to three sequential dependency calls.
pub const ORDER_TIMEOUT: Duration = Duration::from_secs(15);

/// Where to send orders: the listener's address, loopback when it listens on all interfaces.
pub fn target(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
    } else {
        local
    }
}

pub async fn run(
    client: reqwest::Client,
    target: SocketAddr,
    rps: f64,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    if rps <= 0.0 {
        return;
    }
    let url = format!("http://{target}/checkout");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rps));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let request = client
            .post(&url)
            .header(trace::HEADER, TraceId::generate().as_str())
            .timeout(ORDER_TIMEOUT)
            .json(&json!({}));
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let _permit = permit;
            // The outcome is measured and logged by the checkout handler itself.
            tokio::select! {
                _ = request.send() => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}
