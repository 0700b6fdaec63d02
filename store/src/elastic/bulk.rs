//! `_bulk` with per-item outcomes: created, already there (409 on `create`), or failed.
//! Items refused for load (429, 5xx) are sent again with bounded backoff; a request too
//! large for the cluster (413) is split in halves until it fits.

use elasticsearch::http::Method;
use serde_json::{Value, json};

use super::client::{Body, Es};
use super::errors::classify;
use crate::StoreError;

/// Requests are cut at this many operations or bytes, well under the 100 MB default.
const MAX_OPS: usize = 1_000;
const MAX_BYTES: usize = 5 * 1024 * 1024;

/// One bulk operation.
pub(crate) enum Op {
    /// Insert only if `_id` is new (`op_type=create`).
    Create {
        index: String,
        id: String,
        doc: Value,
    },
    /// Insert or replace.
    Index {
        index: String,
        id: String,
        doc: Value,
    },
    /// Scripted update with an upsert document.
    Update {
        index: String,
        id: String,
        body: Value,
    },
}

impl Op {
    fn lines(&self) -> String {
        let (action, src) = match self {
            Op::Create { index, id, doc } => (json!({"create": {"_index": index, "_id": id}}), doc),
            Op::Index { index, id, doc } => (json!({"index": {"_index": index, "_id": id}}), doc),
            Op::Update { index, id, body } => (
                json!({"update": {"_index": index, "_id": id, "retry_on_conflict": 5}}),
                body,
            ),
        };
        format!("{action}\n{src}\n")
    }

    fn is_create(&self) -> bool {
        matches!(self, Op::Create { .. })
    }
}

/// What became of one operation.
#[derive(Debug)]
pub(crate) enum Outcome {
    Done,
    /// A `create` whose id was already taken: the document is already stored.
    Exists,
    Failed(StoreError),
}

/// Runs `ops`; the outcomes come back in the same order.
pub(crate) async fn run(es: &Es, ops: &[Op]) -> Result<Vec<Outcome>, StoreError> {
    let lines: Vec<String> = ops.iter().map(Op::lines).collect();
    let mut out: Vec<Option<Outcome>> = (0..ops.len()).map(|_| None).collect();
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut round = 0;
    while !pending.is_empty() {
        let mut again = Vec::new();
        for chunk in chunks(&pending, &lines) {
            send_split(es, ops, &lines, chunk, &mut out, &mut again).await?;
        }
        match es.backoff(round) {
            Some(pause) if !again.is_empty() => {
                tracing::debug!(
                    items = again.len(),
                    round,
                    "bulk items rejected for load; retrying"
                );
                tokio::time::sleep(pause).await;
                for (i, _) in &again {
                    out[*i] = None;
                }
                pending = again.into_iter().map(|(i, _)| i).collect();
            }
            _ => {
                for (i, (status, item)) in again {
                    let e = classify(&es.target, "/_bulk", status, &item, round + 1);
                    out[i] = Some(Outcome::Failed(e));
                }
                pending = Vec::new();
            }
        }
        round += 1;
    }
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed(StoreError::Backend("bulk item lost".into()))))
        .collect())
}

fn chunks(pending: &[usize], lines: &[String]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut bytes = 0;
    for &i in pending {
        if !cur.is_empty() && (cur.len() >= MAX_OPS || bytes + lines[i].len() > MAX_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += lines[i].len();
        cur.push(i);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Sends one chunk, halving it on 413; records final outcomes in `out` and items to
/// retry (with their status and error) in `again`.
async fn send_split(
    es: &Es,
    ops: &[Op],
    lines: &[String],
    chunk: Vec<usize>,
    out: &mut [Option<Outcome>],
    again: &mut Vec<(usize, (u16, Value))>,
) -> Result<(), StoreError> {
    let mut stack = vec![chunk];
    while let Some(part) = stack.pop() {
        let body: String = part.iter().map(|&i| lines[i].as_str()).collect();
        let q: Vec<_> = es.refresh().into_iter().collect();
        let r = es
            .send(Method::Post, "/_bulk", &q, &Body::NdJson(body), &[413])
            .await?;
        if r.status == 413 {
            if part.len() == 1 {
                out[part[0]] = Some(Outcome::Failed(classify(
                    &es.target, "/_bulk", 413, &r.body, 1,
                )));
            } else {
                let (a, b) = part.split_at(part.len() / 2);
                stack.push(b.to_vec());
                stack.push(a.to_vec());
            }
            continue;
        }
        let items = r
            .body
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if items.len() != part.len() {
            return Err(StoreError::Backend(format!(
                "Elasticsearch at {} answered a bulk of {} with {} items",
                es.target,
                part.len(),
                items.len()
            )));
        }
        for (&i, item) in part.iter().zip(items) {
            let res = item
                .as_object()
                .and_then(|o| o.values().next())
                .cloned()
                .unwrap_or(Value::Null);
            let status = res.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
            out[i] = match status {
                200..=299 => Some(Outcome::Done),
                409 if ops[i].is_create() => Some(Outcome::Exists),
                429 | 500..=599 => {
                    again.push((i, (status, res)));
                    None
                }
                _ => {
                    let path = format!(
                        "/{}",
                        res.get("_index").and_then(Value::as_str).unwrap_or("_bulk")
                    );
                    Some(Outcome::Failed(classify(
                        &es.target, &path, status, &res, 1,
                    )))
                }
            };
        }
    }
    Ok(())
}

/// The first failure among outcomes, if any.
pub(crate) fn first_failure(outcomes: Vec<Outcome>) -> Option<StoreError> {
    outcomes.into_iter().find_map(|o| match o {
        Outcome::Failed(e) => Some(e),
        _ => None,
    })
}
