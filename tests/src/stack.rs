//! The whole stack for an end-to-end test: the fleet (reset before and after), a fresh
//! store, the scraper at 1 s, and an MCP client session with the server — plus the
//! polls tests share (fresh data, anomalies).

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};

use crate::qs::{Mcp, Scraper, TempStore};
use crate::{Fleet, docker_or_skip, poll_until};

/// What a stack test gets.
pub struct Stack {
    pub fleet: Fleet,
    /// Shared with `with_stack`, which keeps the directory until the test is over: an
    /// `async move` body captures only the fields it names, so a store moved into the
    /// body alone would be deleted the moment the closure returned its future.
    pub store: Arc<TempStore>,
    pub mcp: Mcp,
}

/// Brings the fleet up clean, runs `body`, resets the fleet whatever happened, then
/// reports the body's outcome. Skips without Docker (fails under CI).
pub async fn with_fleet<F, Fut>(body: F)
where
    F: FnOnce(Fleet) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if !docker_or_skip().await {
        return;
    }
    let fleet = Fleet::up().await.expect("the fleet comes up healthy");
    fleet.reset().await.expect("the fleet resets");
    let outcome = body(fleet.clone()).await;
    let reset = fleet.reset().await;
    if let Err(e) = outcome {
        panic!("{e:#}");
    }
    reset.expect("the fleet resets after the test");
}

/// Runs `body` against a clean stack; the fleet is reset afterwards whatever happened.
/// Skips without Docker (fails under CI).
pub async fn with_stack<F, Fut>(body: F)
where
    F: FnOnce(Stack) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if !docker_or_skip().await {
        return;
    }
    let fleet = Fleet::up().await.expect("the fleet comes up healthy");
    fleet.reset().await.expect("the fleet resets");
    let store = Arc::new(TempStore::new().expect("temp store"));
    store.seed().await.expect("the store is seeded");
    let scraper = Scraper::start(&store).expect("the scraper starts");
    let mcp = Mcp::start(&store, &[])
        .await
        .expect("the MCP server starts");
    let outcome = body(Stack {
        fleet: fleet.clone(),
        store: Arc::clone(&store),
        mcp,
    })
    .await;
    scraper.stop().await;
    drop(store);
    let reset = fleet.reset().await;
    if let Err(e) = outcome {
        panic!("{e:#}");
    }
    reset.expect("the fleet resets after the test");
}

/// `detect_anomalies {}` until every fleet service is `healthy` with fresh data and there
/// are no anomalies (bounded).
pub async fn wait_all_healthy(mcp: &Mcp, within: Duration) -> anyhow::Result<Value> {
    let last = RefCell::new(Value::Null);
    let ok = poll_until(within, Duration::from_secs(1), || async {
        match mcp.call("detect_anomalies", json!({})).await {
            Ok(Ok(v)) => {
                let healthy = v["services"].as_array().is_some_and(|s| {
                    crate::SERVICES.iter().all(|f| {
                        s.iter()
                            .any(|x| x["service"] == f.name && x["status"] == "healthy")
                    })
                });
                let quiet = v["anomalies"].as_array().is_some_and(Vec::is_empty);
                *last.borrow_mut() = v;
                healthy && quiet
            }
            other => {
                *last.borrow_mut() = json!({"call": format!("{other:?}")});
                false
            }
        }
    })
    .await;
    let last = last.into_inner();
    if !ok {
        bail!("the fleet was not reported healthy within {within:?}: {last}");
    }
    Ok(last)
}

/// `detect_anomalies {}` until `pred` holds for its anomalies (bounded); returns them.
pub async fn wait_anomalies<P>(
    mcp: &Mcp,
    within: Duration,
    what: &str,
    pred: P,
) -> anyhow::Result<Vec<Value>>
where
    P: Fn(&[Value]) -> bool,
{
    let last: RefCell<Vec<Value>> = RefCell::new(Vec::new());
    let ok = poll_until(within, Duration::from_secs(1), || async {
        if let Ok(Ok(v)) = mcp.call("detect_anomalies", json!({})).await {
            let a = v["anomalies"].as_array().cloned().unwrap_or_default();
            let hit = pred(&a);
            *last.borrow_mut() = a;
            hit
        } else {
            false
        }
    })
    .await;
    let last = last.into_inner();
    if !ok {
        bail!(
            "{what}: not seen within {within:?}; last anomalies: {}",
            Value::Array(last)
        );
    }
    Ok(last)
}

/// The anomalies of one service and type.
pub fn of<'a>(anomalies: &'a [Value], service: &str, kind: &str) -> Option<&'a Value> {
    anomalies
        .iter()
        .find(|a| a["service"] == service && a["anomaly_type"] == kind)
}
