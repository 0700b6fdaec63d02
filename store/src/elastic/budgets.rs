//! Budgets and restart counts shared by every process on the cluster: one counter
//! document per key, changed only through `op_type=create` or `if_seq_no`/`if_primary_term`
//! writes, and re-read on a 409, so two processes never both take the last unit.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::client::Es;
use super::docs::{create, get_versioned, put_if};
use super::dsl::*;
use super::mappings::Idx;
use crate::query::BudgetDecision;
use crate::{Result, StoreError};

/// Rounds of read, decide, conditional write before giving up under contention.
const TRIES: usize = 16;

/// The uses of one budget key still inside some window (epoch milliseconds).
#[derive(Debug, Serialize, Deserialize)]
struct BudgetDoc {
    key: String,
    #[serde(default)]
    uses: Vec<i64>,
}

/// The last start time seen for a service's container, and the restarts counted.
#[derive(Debug, Serialize, Deserialize)]
struct StartDoc {
    service: String,
    started_at: DateTime<Utc>,
    restarts: u64,
}

fn contended(what: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "{what} is being changed by many processes at once; retry shortly"
    ))
}

pub(crate) async fn take(
    es: &Es,
    key: &str,
    max: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<BudgetDecision> {
    let start = ms(now - window);
    for _ in 0..TRIES {
        let cur = get_versioned::<BudgetDoc>(es, Idx::Budgets, key).await?;
        let mut uses: Vec<i64> = cur
            .as_ref()
            .map(|v| v.doc.uses.iter().copied().filter(|t| *t > start).collect())
            .unwrap_or_default();
        uses.sort_unstable();
        if uses.len() >= max as usize {
            // The use that must age out before one more fits: the max-th newest.
            let pivot = uses
                .len()
                .checked_sub(max.max(1) as usize)
                .and_then(|i| uses.get(i))
                .copied()
                .unwrap_or(ms(now));
            return Ok(BudgetDecision::Exhausted {
                max,
                retry_at: from_ms(pivot) + window,
            });
        }
        uses.push(ms(now));
        let used = uses.len() as u32;
        let doc = BudgetDoc {
            key: key.to_string(),
            uses,
        };
        let written = match &cur {
            None => create(es, Idx::Budgets, key, &doc).await?,
            Some(v) => {
                put_if(
                    es,
                    Idx::Budgets,
                    key,
                    v.seq_no,
                    v.primary_term,
                    to_value(&doc)?,
                )
                .await?
            }
        };
        if written {
            return Ok(BudgetDecision::Granted { used, max });
        }
    }
    Err(contended(&format!("the budget {key}")))
}

pub(crate) async fn used(es: &Es, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u32> {
    let start = ms(now - window);
    let cur = get_versioned::<BudgetDoc>(es, Idx::Budgets, key).await?;
    Ok(cur.map_or(0, |v| {
        v.doc.uses.iter().filter(|t| **t > start).count() as u32
    }))
}

pub(crate) async fn observe_start(
    es: &Es,
    service: &str,
    started_at: DateTime<Utc>,
) -> Result<u64> {
    for _ in 0..TRIES {
        let cur = get_versioned::<StartDoc>(es, Idx::Starts, service).await?;
        match &cur {
            None => {
                let doc = StartDoc {
                    service: service.into(),
                    started_at,
                    restarts: 0,
                };
                if create(es, Idx::Starts, service, &doc).await? {
                    return Ok(0);
                }
            }
            Some(v) if ms(started_at) > ms(v.doc.started_at) => {
                let n = v.doc.restarts + 1;
                let doc = StartDoc {
                    service: service.into(),
                    started_at,
                    restarts: n,
                };
                if put_if(
                    es,
                    Idx::Starts,
                    service,
                    v.seq_no,
                    v.primary_term,
                    to_value(&doc)?,
                )
                .await?
                {
                    return Ok(n);
                }
            }
            Some(v) => return Ok(v.doc.restarts),
        }
    }
    Err(contended(&format!("the restart count of {service}")))
}
