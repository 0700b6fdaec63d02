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

/// Where a `kill -9` lands in the runner's run of one restart.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Claimed, nothing recorded yet (drill pause `claimed`).
    Claimed,
    /// The intent is recorded, the Docker call not yet made (drill pause `intent`).
    Intent,
    /// Docker is restarting the container (its `kill` event has come).
    During,
    /// The restart is done, the result not yet written (drill pause `applied`).
    Applied,
}

/// Docker's `start` events for `container` since `since` (RFC 3339).
async fn starts_since(container: &str, since: &str) -> anyhow::Result<usize> {
    let until = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let out = docker(&[
        "events",
        "--since",
        since,
        "--until",
        &until,
        "--filter",
        &format!("container={container}"),
        "--filter",
        "event=start",
        "--format",
        "{{.Action}}",
    ])
    .await?;
    Ok(out.lines().filter(|l| l.trim() == "start").count())
}

/// One restart queued, the server killed at `at`, the next server finishing it: the
/// container started exactly once, one executed result that used Docker, one `ok` audit.
async fn kill_at(store: &TempStore, at: KillAt) -> anyhow::Result<()> {
    let svc = "payment-service";
    let args = [
        "--runner-lease-secs",
        "4",
        "--restart-budget",
        "20/300s",
        "--approval",
        "off",
    ];
    let drill = match at {
        KillAt::Claimed => Some("claimed:20000"),
        KillAt::Intent => Some("intent:20000"),
        KillAt::During => None,
        KillAt::Applied => Some("applied:20000"),
    };
    let env: Vec<(&str, &str)> = drill
        .map(|d| ("QS_DRILL_RUNNER_PAUSE", d))
        .into_iter()
        .collect();
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let t0 = quantumstate_tests::started_at(svc).await?;
    // Docker's kill events for the container, as they happen.
    let mut events = tokio::process::Command::new("docker")
        .args([
            "events",
            "--filter",
            &format!("container={svc}"),
            "--filter",
            "event=kill",
            "--format",
            "{{.Action}}",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut kills = tokio::io::BufReader::new(events.stdout.take().context("events stdout")?);
    let server = HttpServer::start_env(store, &args, &env).await?;
    let (code, body) = server
        .call(
            "remediate",
            json!({"service": svc, "action": "restart_service"}),
        )
        .await?;
    ensure!(code == 200, "{code} {body}");
    let exec_id = body["result"]["exec_id"]
        .as_str()
        .context("exec_id")?
        .to_string();
    let s = quantumstate_store::open(&StoreSpec::Sqlite(store.path())).await?;
    let action = |s: &quantumstate_store::DynStore| {
        let (s, id) = (s.clone(), exec_id.clone());
        async move { s.get_action(&id).await.ok().flatten() }
    };
    let reached = match at {
        KillAt::Claimed => {
            poll_until(
                Duration::from_secs(10),
                Duration::from_millis(10),
                || async {
                    action(&s).await.is_some_and(|a| {
                        a.status == ActionStatus::Executing && a.runner_id.is_some()
                    })
                },
            )
            .await
        }
        KillAt::Intent => {
            poll_until(
                Duration::from_secs(10),
                Duration::from_millis(10),
                || async { action(&s).await.is_some_and(|a| a.intent.is_some()) },
            )
            .await
        }
        KillAt::During => {
            use tokio::io::AsyncBufReadExt;
            let mut line = String::new();
            tokio::time::timeout(Duration::from_secs(15), kills.read_line(&mut line))
                .await
                .is_ok_and(|r| r.is_ok() && line.trim() == "kill")
        }
        KillAt::Applied => {
            poll_until(
                Duration::from_secs(20),
                Duration::from_millis(50),
                || async {
                    quantumstate_tests::started_at(svc)
                        .await
                        .is_ok_and(|t| t != t0)
                },
            )
            .await
        }
    };
    ensure!(
        reached,
        "{at:?}: the runner got there: {:?}",
        action(&s).await
    );
    server.kill9().await?;
    let _ = events.kill().await;
    let at_kill = action(&s).await.context("action")?;
    ensure!(
        at_kill.status == ActionStatus::Executing,
        "{at:?}: killed before the result was written: {at_kill:?}"
    );

    let server = HttpServer::start_env(store, &args, &[]).await?;
    let done = poll_until(
        Duration::from_secs(60),
        Duration::from_millis(250),
        || async {
            action(&s)
                .await
                .is_some_and(|a| matches!(a.status, ActionStatus::Executed | ActionStatus::Failed))
        },
    )
    .await;
    let a = action(&s).await.context("action")?;
    ensure!(
        done && a.status == ActionStatus::Executed,
        "{at:?}: finished once: {a:?}"
    );
    let result = s
        .get_result(&exec_id)
        .await?
        .context("one result document")?;
    ensure!(result.docker_used, "{at:?}: {result:?}");
    let starts = starts_since(svc, &since).await?;
    ensure!(
        starts == 1,
        "{at:?}: the container started {starts} times, not once: {a:?}"
    );
    let settled = result
        .runner_output
        .as_deref()
        .unwrap_or("")
        .contains("without acting again");
    let expect_settled = matches!(at, KillAt::During | KillAt::Applied);
    ensure!(
        settled == expect_settled,
        "{at:?}: {:?}",
        result.runner_output
    );
    let page = s
        .list_audit(&quantumstate_store::AuditFilter {
            tool: Some("restart_service".into()),
            limit: 50,
            ..Default::default()
        })
        .await?;
    let ok = page
        .items
        .iter()
        .filter(|r| {
            r.outcome == quantumstate_store::Outcome::Ok
                && r.arguments["exec_id"] == exec_id.as_str()
        })
        .count();
    ensure!(
        ok == 1,
        "{at:?}: exactly one completed run is audited: {:?}",
        page.items
    );
    eprintln!(
        "{at:?}: attempts {}, {:?}",
        a.attempts, result.runner_output
    );
    server.kill9().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_each_step_of_a_restart_restarts_it_exactly_once() {
    with_fleet(|_fleet| async move {
        let store = TempStore::new()?;
        store.seed().await?;
        for at in [
            KillAt::Claimed,
            KillAt::Intent,
            KillAt::During,
            KillAt::Applied,
        ] {
            kill_at(&store, at).await?;
        }
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
