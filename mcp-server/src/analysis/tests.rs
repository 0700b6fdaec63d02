//! Unit tests of the anomaly rules on recorded and hand-made series.

use super::*;
use chrono::TimeZone;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap() + Duration::seconds(s)
}

/// `n` samples every `step` seconds ending at `end`, valued by `f(i)`.
fn series(end: i64, step: i64, n: i64, f: impl Fn(i64) -> f64) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            t: t(end - (n - 1 - i) * step),
            v: f(i),
        })
        .collect()
}

fn healthy(end: i64) -> ServiceData {
    ServiceData {
        service: "payment-service".into(),
        now: Some(t(end)),
        memory: series(end, 5, 400, |i| 3.0 + (i % 3) as f64 * 0.1),
        cpu: series(end, 5, 400, |i| 1.0 + (i % 2) as f64),
        errors: series(end, 5, 400, |_| 0.0),
        latency: series(end, 5, 400, |i| 2.0 + (i % 4) as f64),
        up: series(end, 5, 400, |_| 1.0),
        interval_secs: Some(5.0),
        ..Default::default()
    }
}

#[test]
fn an_idle_fleet_is_healthy() {
    let a = assess(&healthy(2000));
    assert_eq!(a.status, ServiceStatus::Healthy, "{:?}", a.anomalies);
    // Idle (far below seed 001's healthy ranges) is not an anomaly.
    let mut idle = healthy(2000);
    idle.cpu = series(2000, 5, 400, |_| 0.0);
    assert_eq!(assess(&idle).status, ServiceStatus::Healthy);
}

#[test]
fn no_or_stale_data_is_unknown_never_healthy() {
    let a = assess(&ServiceData {
        service: "x".into(),
        ..Default::default()
    });
    assert_eq!(a.status, ServiceStatus::Unknown);
    let mut d = healthy(2000);
    d.now = Some(t(2000 + 16));
    let a = assess(&d);
    assert_eq!(a.status, ServiceStatus::Unknown);
    assert!(a.reason.unwrap().contains("stale"));
}

#[test]
fn a_real_leak_is_progressive_with_time_to_critical() {
    // Seed 001's scenario: 55 % → 89 % over 25 minutes after a flat baseline.
    let mut d = healthy(3000);
    d.memory = series(3000, 15, 240, |i| {
        if i < 140 {
            52.0
        } else {
            55.0 + 34.0 * (i - 140) as f64 / 100.0
        }
    });
    d.memory.truncate(239);
    let a = assess(&ServiceData {
        now: Some(d.memory.last().unwrap().t),
        ..d
    });
    assert_eq!(a.status, ServiceStatus::Anomalous);
    let m = &a.anomalies[0];
    assert_eq!(m.anomaly_type, AnomalyType::MemoryLeakProgressive);
    assert_eq!(m.severity, Severity::Critical);
    let s = m.evidence.slope_per_min.unwrap();
    assert!((s - 1.36).abs() < 0.1, "slope {s}");
    let ttc = m.evidence.minutes_to_critical.unwrap();
    assert!(ttc > 0.0 && ttc < 2.0, "{ttc}");
    assert!(m.confidence >= 80);
}

#[test]
fn a_fast_leak_without_baseline_trips_the_alarm() {
    // A fresh scraper (no baseline), RSS climbing 4 %/s.
    let mut d = healthy(100);
    d.memory = series(100, 1, 22, |i| 3.0 + 4.0 * i as f64);
    d.interval_secs = Some(1.0);
    d.up = series(100, 1, 22, |_| 1.0);
    let a = assess(&d);
    assert_eq!(a.anomalies.len(), 1, "{:?}", a.anomalies);
    assert_eq!(
        a.anomalies[0].anomaly_type,
        AnomalyType::MemoryLeakProgressive
    );
    assert!(a.anomalies[0].evidence.minutes_to_critical.unwrap() < 1.0);
}

#[test]
fn error_spike_names_the_codes_and_a_deploy_makes_it_a_regression() {
    let mut d = healthy(2000);
    d.errors = series(2000, 5, 400, |i| if i >= 390 { 28.0 } else { 0.3 });
    d.error_logs = vec![LogCount {
        service: "auth-service".into(),
        level: quantumstate_store::Level::Critical,
        error_code: Some("CACHE_OFFLINE".into()),
        count: 40,
        last_at: t(2000),
        last_message: "session cache OFFLINE".into(),
    }];
    let a = assess(&d);
    let e = &a.anomalies[0];
    assert_eq!(e.anomaly_type, AnomalyType::ErrorSpikeSudden);
    assert_eq!(e.evidence.error_codes[0].error_code, "CACHE_OFFLINE");
    assert_eq!(e.evidence.baseline, Some(0.3));

    d.deployments = vec![Deployment {
        id: "d".into(),
        service: "payment-service".into(),
        from_version: Some("1.0.0".into()),
        to_version: "3.5.0".into(),
        image: "i".into(),
        at: t(2000 - 10 * 5 - 120),
        by: "stdio".into(),
        reason: "r".into(),
    }];
    let a = assess(&d);
    assert_eq!(
        a.anomalies[0].anomaly_type,
        AnomalyType::DeploymentRegression
    );
    assert!(
        a.anomalies[0]
            .evidence
            .deployment
            .as_ref()
            .unwrap()
            .minutes_before_jump
            > 1.9
    );
}

#[test]
fn down_is_down() {
    let mut d = healthy(2000);
    d.up = series(2000, 5, 400, |i| if i >= 397 { 0.0 } else { 1.0 });
    let a = assess(&d);
    assert_eq!(a.anomalies.len(), 1);
    assert_eq!(a.anomalies[0].anomaly_type, AnomalyType::ServiceDown);
    assert_eq!(a.anomalies[0].evidence.samples, 3);
}

#[test]
fn latency_and_cpu() {
    let mut d = healthy(2000);
    d.latency = series(2000, 5, 400, |i| if i >= 395 { 520.0 } else { 3.0 });
    d.cpu = series(2000, 5, 400, |i| if i >= 395 { 99.0 } else { 2.0 });
    let a = assess(&d);
    let kinds: Vec<_> = a.anomalies.iter().map(|a| a.anomaly_type).collect();
    assert_eq!(
        kinds,
        vec![AnomalyType::LatencyDegradation, AnomalyType::CpuSaturation]
    );
    assert_eq!(a.anomalies[0].severity, Severity::Warning);
    assert_eq!(a.anomalies[1].severity, Severity::Critical);
}

#[test]
fn maths() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    assert_eq!(minutes_to(80.0, 90.0, Some(2.0)), Some(5.0));
    assert_eq!(minutes_to(80.0, 90.0, Some(-1.0)), None);
    assert_eq!(minutes_to(95.0, 90.0, Some(1.0)), Some(0.0));
    let pts = series(100, 30, 5, |i| 10.0 + i as f64);
    assert!((slope_per_min(&pts).unwrap() - 2.0).abs() < 1e-9);
}
