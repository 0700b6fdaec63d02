//! The demo fleet for real: traffic from the load generator on every service, a leak
//! visible in `docker stats` that ends at its TTL, and an auth-cache outage that turns
//! into CACHE_OFFLINE logins. Each test resets the fleet before and after itself.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure};
use quantumstate_tests::stack::with_fleet;
use quantumstate_tests::{SERVICES, docker, poll_until};
use serde_json::{Value, json};

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_gives_every_service_traffic() {
    with_fleet(|fleet| async move {
        let last = RefCell::new(Vec::new());
        let busy = poll_until(Duration::from_secs(60), Duration::from_secs(2), || {
            let fleet = fleet.clone();
            let last = &last;
            async move {
                let mut rates = Vec::new();
                for s in SERVICES {
                    let rpm = match fleet.health(s.name).await {
                        Ok(h) => h["requests_per_min"].as_f64().unwrap_or(0.0),
                        Err(_) => 0.0,
                    };
                    rates.push((s.name, rpm));
                }
                let all = rates.iter().all(|(_, rpm)| *rpm > 0.0);
                *last.borrow_mut() = rates;
                all
            }
        })
        .await;
        ensure!(
            busy,
            "not every service saw traffic within 60 s: {:?}",
            last.borrow()
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leak_shows_in_docker_stats_and_ends_at_its_ttl() {
    with_fleet(|fleet| async move {
        let before = fleet.mem_usage_mib("payment-service").await?;
        let ttl = 25;
        let (status, fault) = fleet
            .post_json(
                "payment-service",
                "/faults",
                &json!({"kind": "memory_leak", "ttl_seconds": ttl, "mb_per_second": 10, "max_mb": 80}),
            )
            .await?;
        ensure!(status == 201, "POST /faults answered {status}: {fault}");
        let id = fault["id"].as_str().unwrap_or_default().to_owned();
        eprintln!("docker stats before the leak: {before:.1} MiB");

        let seen = RefCell::new(before);
        let grew = poll_until(Duration::from_secs(20), Duration::from_millis(500), || {
            let fleet = fleet.clone();
            let seen = &seen;
            async move {
                if let Ok(mib) = fleet.mem_usage_mib("payment-service").await {
                    *seen.borrow_mut() = mib;
                }
                *seen.borrow() >= before + 40.0
            }
        })
        .await;
        ensure!(grew, "docker stats went from {before:.1} MiB to only {:.1} MiB", seen.borrow());
        eprintln!("docker stats during the leak: {:.1} MiB", seen.borrow());

        // Nobody deletes the fault: the service ends it at its TTL.
        let ended = poll_until(Duration::from_secs(ttl + 10), Duration::from_secs(1), || {
            let fleet = fleet.clone();
            async move {
                matches!(fleet.get_json("payment-service", "/faults").await,
                    Ok((200, list)) if list["faults"].as_array().is_some_and(Vec::is_empty))
            }
        })
        .await;
        ensure!(ended, "the leak outlived its {ttl} s TTL");
        let released = poll_until(Duration::from_secs(15), Duration::from_millis(500), || {
            let fleet = fleet.clone();
            let seen = &seen;
            async move {
                if let Ok(mib) = fleet.mem_usage_mib("payment-service").await {
                    *seen.borrow_mut() = mib;
                }
                *seen.borrow() < before + 20.0
            }
        })
        .await;
        ensure!(
            released,
            "memory stayed at {:.1} MiB after the leak ended (was {before:.1})",
            seen.borrow()
        );
        eprintln!("docker stats after the TTL: {:.1} MiB", seen.borrow());
        let logs = fleet.logs_since("payment-service", now_unix() - 120).await?;
        ensure!(
            logs.lines().any(|l| l.contains(&id) && l.contains("expired at its TTL")),
            "no 'expired at its TTL' line for {id}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_auth_cache_turns_into_cache_offline_logins() {
    with_fleet(|fleet| async move {
        let since = now_unix().saturating_sub(1);
        docker(&["stop", "-t", "5", "auth-cache"]).await?;

        let last = RefCell::new(Value::Null);
        let failing = poll_until(Duration::from_secs(15), Duration::from_millis(500), || {
            let fleet = fleet.clone();
            let last = &last;
            async move {
                match fleet
                    .post_json("auth-service", "/login", &json!({"username": "ada"}))
                    .await
                {
                    Ok((503, body)) if body["error"]["error_code"] == "CACHE_OFFLINE" => true,
                    Ok((_, body)) => {
                        *last.borrow_mut() = body;
                        false
                    }
                    Err(_) => false,
                }
            }
        })
        .await;
        ensure!(
            failing,
            "logins did not fail with CACHE_OFFLINE: {}",
            last.borrow()
        );

        let logs = RefCell::new(String::new());
        let logged = poll_until(Duration::from_secs(10), Duration::from_millis(500), || {
            let fleet = fleet.clone();
            let logs = &logs;
            async move {
                let text = fleet
                    .logs_since("auth-service", since)
                    .await
                    .unwrap_or_default();
                let found = text.contains("CACHE_OFFLINE");
                *logs.borrow_mut() = text;
                found
            }
        })
        .await;
        ensure!(logged, "no CACHE_OFFLINE in auth-service's docker logs");
        let logs = logs.into_inner();
        let critical = logs.lines().any(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|v| v["level"] == "CRITICAL" && v["error_code"] == "CACHE_OFFLINE")
        });
        ensure!(critical, "no CRITICAL CACHE_OFFLINE line");

        docker(&["start", "auth-cache"]).await?;
        let recovered = poll_until(Duration::from_secs(30), Duration::from_millis(500), || {
            let fleet = fleet.clone();
            async move {
                matches!(
                    fleet.post_json("auth-service", "/login", &json!({})).await,
                    Ok((200, _))
                )
            }
        })
        .await;
        if !recovered {
            bail!("auth did not recover after auth-cache started again");
        }
        Ok(())
    })
    .await;
}
