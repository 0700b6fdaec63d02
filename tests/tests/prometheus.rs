//! A real Prometheus (Debian's 2.42, installed by scripts/setup.sh) scraping the fleet's
//! `/metrics` every second, and the server reading it with `--metrics-source prometheus=`:
//! the figures `query_metrics` returns equal what Prometheus's own API answers for the
//! same query; `list_services` says where each figure comes from; Prometheus stopped is a
//! clear `unavailable` error naming its URL within the bound (never the store instead),
//! and the server reads it again once it is back, without a restart.

use std::time::{Duration, Instant};

use anyhow::bail;
use quantumstate_tests::monitoring::{prom_range, start_prometheus};
use quantumstate_tests::poll_until;
use quantumstate_tests::qs::{HttpServer, TempStore, free_port};
use quantumstate_tests::stack::with_fleet;
use serde_json::Value;

const MEMORY: &str = r#"max(quantumstate_service_memory_percent{service="payment-service"})"#;

fn secs(v: &Value) -> f64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .map(|d| d.timestamp_millis() as f64 / 1000.0)
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_through_prometheus_equal_its_own_answers_and_an_outage_is_named() {
    with_fleet(|_fleet| async move {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let mut prom = start_prometheus(dir.path(), port, None).await?;
        let url = format!("http://127.0.0.1:{port}");
        let store = TempStore::new()?;
        let qs = HttpServer::start(
            &store,
            &["--metrics-source", &format!("prometheus={url}"), "--prometheus-timeout-ms", "3000"],
        )
        .await?;
        // Some samples: at 1 s scrapes, a 5 s step has a point per step after ~20 s.
        let args = serde_json::json!({"service": "payment-service", "metric_type": "memory_percent", "window": "2m"});
        let enough = poll_until(Duration::from_secs(60), Duration::from_secs(2), || async {
            matches!(qs.call("query_metrics", args.clone()).await,
                Ok((200, ref v)) if v["summary"]["count"].as_u64().unwrap_or(0) >= 4)
        })
        .await;
        if !enough {
            bail!("query_metrics never saw 4 points through Prometheus: {:?}", qs.call("query_metrics", args.clone()).await?);
        }
        let (status, m) = qs.call("query_metrics", args.clone()).await?;
        assert_eq!(status, 200, "{m}");
        assert_eq!(m["resolution"], "prometheus_step", "{m}");
        // The same query, straight to Prometheus, over the same window at the same step.
        let direct = prom_range(port, MEMORY, secs(&m["from"]), secs(&m["to"]), 5).await?;
        let s = &m["summary"];
        assert_eq!(s["count"].as_u64(), Some(direct.len() as u64), "{m}\n{direct:?}");
        let min = direct.iter().copied().fold(f64::INFINITY, f64::min);
        let max = direct.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let avg = direct.iter().sum::<f64>() / direct.len() as f64;
        assert_eq!(s["min"].as_f64(), Some(min), "{m}");
        assert_eq!(s["max"].as_f64(), Some(max), "{m}");
        assert!((s["avg"].as_f64().unwrap_or(f64::NAN) - avg).abs() < 1e-9, "{m}");
        assert_eq!(s["last"].as_f64(), direct.last().copied(), "{m}");
        assert!(min > 0.0 && max < 100.0, "a real memory percent: {direct:?}");

        let (status, list) = qs.call("list_services", serde_json::json!({})).await?;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["metrics_source"], format!("prometheus {url}"), "{list}");
        let pay = list["services"].as_array().into_iter().flatten()
            .find(|s| s["name"] == "payment-service").cloned().unwrap_or_default();
        assert_eq!(pay["figures_from"]["memory_percent"], "prometheus (profile quantumstate)", "{pay}");
        assert_eq!(pay["figures_from"]["container_cpu_percent"], "prometheus (profile cadvisor)", "{pay}");

        // Prometheus stops: a clear error naming it, within the bound, not the store.
        prom.kill().await?;
        prom.wait().await?;
        let t = Instant::now();
        let (status, e) = qs.call("query_metrics", args.clone()).await?;
        assert!(t.elapsed() < Duration::from_secs(6), "answered in {:?}", t.elapsed());
        assert_eq!(status, 503, "{e}");
        assert_eq!(e["error"]["code"], "unavailable", "{e}");
        let msg = e["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(&url) && msg.contains("Prometheus"), "{e}");
        let (status, d) = qs.call("detect_anomalies", serde_json::json!({})).await?;
        assert_eq!(status, 503, "detection says Prometheus is away too: {d}");

        // Back on the same port and data: the same server reads it again.
        let _prom = start_prometheus(dir.path(), port, None).await?;
        let back = poll_until(Duration::from_secs(30), Duration::from_secs(1), || async {
            matches!(qs.call("query_metrics", args.clone()).await, Ok((200, _)))
        })
        .await;
        assert!(back, "query_metrics recovers once Prometheus is back");
        Ok(())
    })
    .await;
}
