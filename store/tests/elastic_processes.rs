//! Separate processes on one cluster: independent `ElasticStore` handles (each with its
//! own client and setup cache, as two processes would have) race for the same budget,
//! restart count and queue through the emulator; optimistic concurrency keeps each exact.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use quantumstate_store::*;
use support::emulator::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_is_never_overdrawn_by_concurrent_processes() {
    let emu = Emulator::start().await;
    let handles: Vec<Arc<dyn Store>> = (0..4).map(|_| emu.store()).collect();
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = handles[i % handles.len()].clone();
        tasks.push(tokio::spawn(async move {
            s.take_budget("restart:payment-service", 3, Duration::seconds(300), now)
                .await
                .unwrap()
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), BudgetDecision::Granted { .. }) {
            granted += 1;
        }
    }
    assert_eq!(granted, 3);
    let used = handles[0]
        .budget_used("restart:payment-service", Duration::seconds(300), now)
        .await
        .unwrap();
    assert_eq!(used, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_is_counted_once_however_many_observers_see_it() {
    let emu = Emulator::start().await;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    emu.store().observe_start("auth-service", t0).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let s = emu.store();
        tasks.push(tokio::spawn(async move {
            s.observe_start("auth-service", t0 + Duration::seconds(30))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 1);
    }
}
