//! Reliability on the real fleet: Docker going away and coming back under a running
//! server, a locked store (clear errors; the scraper buffers and flushes without a gap),
//! `kill -9` of the server while its runner holds an action, and a container restarted
//! behind the scraper's back (its logs resume with no duplicate and no gap).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use quantumstate_store::{ActionStatus, StoreSpec};
use quantumstate_tests::qs::{HttpServer, Scraper, TempStore};
use quantumstate_tests::stack::with_fleet;
use quantumstate_tests::{docker, poll_until};
use serde_json::{Value, json};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

/// A Unix-socket proxy in front of the Docker socket: stopping it is, to the server, the
/// daemon going away (the socket disappears; open connections drop); starting it again is
/// the daemon coming back on the same path.
struct DockerProxy {
    path: PathBuf,
    task: Option<JoinHandle<()>>,
}

impl DockerProxy {
    fn new() -> DockerProxy {
        let path =
            std::env::temp_dir().join(format!("qs-docker-proxy-{}.sock", std::process::id()));
        DockerProxy { path, task: None }
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let _ = std::fs::remove_file(&self.path);
        let listener = UnixListener::bind(&self.path)?;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                conns.spawn(async move {
                    if let Ok(mut upstream) = UnixStream::connect("/var/run/docker.sock").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        }));
        Ok(())
    }

    /// Aborting the task drops the listener and every proxied connection.
    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }

    fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_going_away_is_a_clear_error_and_the_server_recovers_unrestarted() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        store.seed().await?;
        let mut proxy = DockerProxy::new();
        proxy.start()?;
        let server = HttpServer::start(&store, &["--docker-host", &proxy.url()]).await?;
        let (code, body) = server.call("list_services", json!({})).await?;
        ensure!(
            code == 200 && body["services"].as_array().is_some_and(|s| s.len() >= 5),
            "{code} {body}"
        );

        proxy.stop();
        let (code, body) = server.call("list_services", json!({})).await?;
        ensure!(code == 503, "Docker away is 503: {code} {body}");
        let msg = body["error"]["message"].as_str().unwrap_or("");
        ensure!(
            msg.contains("Docker is unavailable"),
            "a clear message: {body}"
        );
        ensure!(
            body["error"]["hint"]
                .as_str()
                .is_some_and(|h| h.contains("recovers on its own")),
            "{body}"
        );
        let (code, _) = server
            .call("restart_container", json!({"service": "payment-service"}))
            .await?;
        ensure!(code == 503, "no mutation without Docker: {code}");
        let (code, body) = server
            .call(
                "find_similar_incidents",
                json!({"description": "heap growing after deploy"}),
            )
            .await?;
        ensure!(
            code == 200,
            "tools that need no Docker keep working: {code} {body}"
        );

        proxy.start()?;
        let back = poll_until(
            Duration::from_secs(15),
            Duration::from_millis(250),
            || async { matches!(server.call("list_services", json!({})).await, Ok((200, _))) },
        )
        .await;
        ensure!(
            back,
            "the same server process works again once Docker is back"
        );
        server.kill9().await?;
        Ok(())
    })
    .await;
}

/// Holds SQLite's write lock on the store for `hold`.
fn lock_store(path: PathBuf, hold: Duration) -> std::thread::JoinHandle<anyhow::Result<()>> {
    std::thread::spawn(move || {
        let c = rusqlite::Connection::open(&path)?;
        c.busy_timeout(Duration::from_secs(10))?;
        c.execute_batch("BEGIN EXCLUSIVE")?;
        std::thread::sleep(hold);
        c.execute_batch("ROLLBACK")?;
        Ok(())
    })
}

async fn scraper_counters(port: u16) -> anyhow::Result<Value> {
    let r = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await?;
    Ok(r.json().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_gives_clear_errors_and_the_scraper_loses_nothing() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        store.seed().await?;
        let (scraper, port) = Scraper::start_listening(&store)?;
        let started = poll_until(Duration::from_secs(20), Duration::from_millis(500), || async {
            scraper_counters(port).await.is_ok_and(|c| c["counters"]["metrics_written"].as_u64().unwrap_or(0) > 0)
        })
        .await;
        ensure!(started, "the scraper writes");
        let server = HttpServer::start(&store, &["--no-runner"]).await?;

        let lock_from = chrono::Utc::now();
        let locker = lock_store(store.path(), Duration::from_secs(14));
        let buffering = poll_until(Duration::from_secs(12), Duration::from_millis(250), || async {
            scraper_counters(port).await.is_ok_and(|c| {
                c["counters"]["buffered"].as_u64().unwrap_or(0) > 0 && c["counters"]["store_errors"].as_u64().unwrap_or(0) > 0
            })
        })
        .await;
        ensure!(buffering, "the scraper buffers while the store is locked: {}", scraper_counters(port).await?);
        let (code, body) = server
            .call("record_decision", json!({"agent": "t", "decision": "d", "confidence": 50, "service": "payment-service"}))
            .await?;
        ensure!(code == 503, "a locked store is 503: {code} {body}");
        ensure!(body["error"]["message"].as_str().unwrap_or("").contains("locked"), "and says so, naming the file: {body}");
        locker.join().map_err(|_| anyhow::anyhow!("locker panicked"))??;
        let lock_to = chrono::Utc::now();

        let flushed = poll_until(Duration::from_secs(20), Duration::from_millis(250), || async {
            scraper_counters(port).await.is_ok_and(|c| c["counters"]["buffered"] == 0)
        })
        .await;
        ensure!(flushed, "the buffer flushes once the lock is gone: {}", scraper_counters(port).await?);
        let counters = scraper_counters(port).await?;
        ensure!(counters["counters"]["dropped"] == 0, "nothing dropped: {counters}");
        // One `up` sample per second through the lock: no gap.
        let s = quantumstate_store::open(&StoreSpec::Sqlite(store.path())).await?;
        let got = s
            .metric_samples(
                "payment-service",
                quantumstate_store::MetricType::Up,
                quantumstate_store::TimeRange { from: lock_from, to: lock_to },
                10_000,
            )
            .await?;
        let span = (lock_to - lock_from).num_seconds();
        ensure!(got.len() as i64 >= span - 2, "{} samples over the {span} s lock", got.len());
        let (code, _) = server
            .call("record_decision", json!({"agent": "t", "decision": "d", "confidence": 50, "service": "payment-service"}))
            .await?;
        ensure!(code == 200, "writes work again");
        scraper.stop().await;
        server.kill9().await?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_the_runner_holds_an_action_loses_nothing_and_runs_it_once() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        store.seed().await?;
        let lease = ["--runner-lease-secs", "4"];
        let server = HttpServer::start(&store, &lease).await?;
        let (code, body) = server
            .call(
                "remediate",
                json!({"service": "payment-service", "action": "restart_service"}),
            )
            .await?;
        ensure!(code == 200, "{code} {body}");
        let exec_id = body["result"]["exec_id"]
            .as_str()
            .context("exec_id")?
            .to_string();
        let s = quantumstate_store::open(&StoreSpec::Sqlite(store.path())).await?;
        let held = poll_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            || async {
                s.get_action(&exec_id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|a| a.status == ActionStatus::Executing && a.runner_id.is_some())
            },
        )
        .await;
        ensure!(held, "the runner claimed it");
        server.kill9().await?;
        let after_kill = s.get_action(&exec_id).await?.context("action")?;
        eprintln!(
            "at kill -9: status {:?}, attempts {}",
            after_kill.status, after_kill.attempts
        );

        let server = HttpServer::start(&store, &lease).await?;
        let done = poll_until(
            Duration::from_secs(45),
            Duration::from_millis(250),
            || async {
                s.get_action(&exec_id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|a| {
                        matches!(a.status, ActionStatus::Executed | ActionStatus::Failed)
                    })
            },
        )
        .await;
        let a = s.get_action(&exec_id).await?.context("action")?;
        ensure!(done, "finished after the restart: {a:?}");
        ensure!(a.status == ActionStatus::Executed, "{a:?}");
        ensure!(a.attempts <= 2, "at most one retry: {a:?}");
        let result = s
            .get_result(&exec_id)
            .await?
            .context("one result document")?;
        ensure!(result.docker_used, "{result:?}");
        let page = s
            .list_audit(&quantumstate_store::AuditFilter {
                tool: Some("restart_service".into()),
                limit: 10,
                ..Default::default()
            })
            .await?;
        let ok = page
            .items
            .iter()
            .filter(|r| r.outcome == quantumstate_store::Outcome::Ok)
            .count();
        ensure!(
            ok == 1,
            "exactly one completed run is audited: {:?}",
            page.items
        );
        server.kill9().await?;
        Ok(())
    })
    .await;
}

/// (timestamp, message, trace) of the JSON lines `docker logs` has for a container since
/// `since`, up to `until` (so lines still in flight are not counted).
async fn docker_json_lines(
    container: &str,
    since: i64,
    until: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let out = tokio::process::Command::new("docker")
        .args(["logs", "--since", &since.to_string(), container])
        .output()
        .await?;
    if !out.status.success() {
        bail!("docker logs failed");
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["@timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t < until)
        })
        .map(|v| {
            let ts = v["@timestamp"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            (
                ts.map(|t| t.timestamp_millis().to_string())
                    .unwrap_or_default(),
                v["message"].as_str().unwrap_or("").to_string(),
                v["trace_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_resume_after_a_restart_behind_the_scrapers_back_without_duplicates_or_gaps() {
    with_fleet(|fleet| async move {
        let store = TempStore::new()?;
        let since = chrono::Utc::now().timestamp();
        let scraper = Scraper::start(&store)?;
        let spike = json!({"kind": "error_spike", "ttl_seconds": 30, "error_share": 1.0});
        fleet
            .post_json("payment-service", "/faults", &spike)
            .await?;
        tokio::time::sleep(Duration::from_secs(6)).await;
        docker(&["restart", "payment-service"]).await?;
        fleet.wait_healthy(Duration::from_secs(60)).await?;
        fleet
            .post_json("payment-service", "/faults", &spike)
            .await?;
        tokio::time::sleep(Duration::from_secs(6)).await;
        let until = chrono::Utc::now() - chrono::Duration::seconds(3);
        // Let the last lines before `until` reach the store.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let expected = docker_json_lines("payment-service", since, until).await?;
        ensure!(
            expected.len() >= 10,
            "the drill produced log lines: {}",
            expected.len()
        );
        let s = quantumstate_store::open(&StoreSpec::Sqlite(store.path())).await?;
        let page = s
            .search_logs(&quantumstate_store::LogQuery {
                service: Some("payment-service".into()),
                limit: 5_000,
                ..Default::default()
            })
            .await?;
        let stored: Vec<(String, String, String)> = page
            .items
            .iter()
            .filter(|l| l.timestamp < until && l.timestamp.timestamp() >= since)
            .map(|l| {
                (
                    l.timestamp.timestamp_millis().to_string(),
                    l.message.clone(),
                    l.trace_id.clone().unwrap_or_default(),
                )
            })
            .collect();
        let unique: HashSet<_> = stored.iter().cloned().collect();
        ensure!(
            unique.len() == stored.len(),
            "no duplicates: {} stored, {} distinct",
            stored.len(),
            unique.len()
        );
        let missing: Vec<_> = expected.iter().filter(|e| !unique.contains(*e)).collect();
        eprintln!(
            "docker has {} lines, the store {} (across the restart)",
            expected.len(),
            stored.len()
        );
        ensure!(
            missing.is_empty(),
            "no gap: {} of {} lines missing: {:#?}\nstored: {:#?}",
            missing.len(),
            expected.len(),
            missing,
            stored
        );
        scraper.stop().await;
        Ok(())
    })
    .await;
}
