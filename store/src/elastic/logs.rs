//! Logs: `_bulk` `create` under an id derived from the line's content (the SQLite dedup
//! key: service, time, message, trace, level), so a line shipped twice is refused with a
//! 409 and counted as already stored; search by bool filters plus `match` on the message.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::bulk::{self, Op, Outcome};
use super::client::Es;
use super::docs::{delete_by_query, search};
use super::dsl::*;
use super::mappings::Idx;
use super::setup::ensure;
use crate::model::{Collection, Level, LogLine};
use crate::query::*;
use crate::{Result, text};

pub(crate) const LOGS: Idx = Idx::C(Collection::Logs);
/// Stands for "no error code" in the count aggregation (a keyword cannot be null).
const NO_CODE: &str = "__qs_none__";

/// The same fields, in the same order, as the SQLite backend's dedup key.
pub(crate) fn log_id(l: &LogLine) -> String {
    let ts = l.timestamp.timestamp_micros().to_le_bytes();
    let h = fnv(&[
        l.service.as_bytes(),
        &ts,
        l.message.as_bytes(),
        l.trace_id.as_deref().unwrap_or("").as_bytes(),
        l.level.as_str().as_bytes(),
    ]);
    format!("l-{h:016x}")
}

pub(crate) async fn put(es: &Es, docs: &[LogLine]) -> Result<usize> {
    if docs.is_empty() {
        return Ok(0);
    }
    ensure(es, LOGS).await?;
    let index = LOGS.name(&es.prefix);
    let mut ops = Vec::with_capacity(docs.len());
    for l in docs {
        ops.push(Op::Create {
            index: index.clone(),
            id: log_id(l),
            doc: to_value(l)?,
        });
    }
    let mut new = 0;
    let mut failure = None;
    for o in bulk::run(es, &ops).await? {
        match o {
            Outcome::Done => new += 1,
            Outcome::Exists => {}
            Outcome::Failed(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(new),
    }
}

fn levels_from(min: Level) -> Value {
    Value::Array(
        Level::ALL
            .iter()
            .filter(|l| l.rank() >= min.rank())
            .map(|l| Value::from(l.as_str()))
            .collect(),
    )
}

/// Newest first, at most `q.limit`, flagged when more matched. Free text is reduced to
/// words first, so query syntax in it is never interpreted.
pub(crate) async fn search_logs(es: &Es, q: &LogQuery) -> Result<Page<LogLine>> {
    let mut fl = Vec::new();
    if let Some(s) = &q.service {
        fl.push(term("service", s.as_str()));
    }
    if let Some(l) = q.min_level {
        fl.push(json!({"terms": {"level": levels_from(l)}}));
    }
    if let Some(c) = &q.error_code {
        fl.push(term("error_code", c.as_str()));
    }
    if let Some(r) = q.range {
        fl.push(range("@timestamp", Some(ms(r.from)), Some(ms(r.to))));
    }
    let words = q
        .text
        .as_deref()
        .map(|t| text::terms(t, 16))
        .unwrap_or_default();
    let query = if words.is_empty() {
        filtered(fl)
    } else {
        json!({"bool": {
            "filter": fl,
            "must": [{"match": {"message": {"query": words.join(" "), "operator": "and"}}}]
        }})
    };
    let body = json!({
        "size": (q.limit + 1).min(MAX_WINDOW),
        "query": query,
        "sort": [desc("@timestamp")],
        "track_total_hits": false
    });
    Ok(Page::new(sources(&search(es, LOGS, body).await?)?, q.limit))
}

#[derive(Deserialize)]
struct Last {
    #[serde(rename = "@timestamp")]
    t: DateTime<Utc>,
    message: String,
}

/// Lines at `min_level` or above, grouped by service, level and error code.
pub(crate) async fn counts(
    es: &Es,
    service: Option<&str>,
    min_level: Level,
    r: TimeRange,
) -> Result<Vec<LogCount>> {
    let mut fl = vec![
        range("@timestamp", Some(ms(r.from)), Some(ms(r.to))),
        json!({"terms": {"level": levels_from(min_level)}}),
    ];
    if let Some(s) = service {
        fl.push(term("service", s));
    }
    let body = json!({"size": 0, "query": filtered(fl), "aggs": {"svc": {
        "terms": {"field": "service", "size": 200},
        "aggs": {"lvl": {
            "terms": {"field": "level", "size": 4},
            "aggs": {"code": {
                "terms": {"field": "error_code", "size": 200, "missing": NO_CODE},
                "aggs": {"last": {"top_hits": {"size": 1, "sort": [desc("@timestamp")],
                                  "_source": {"includes": ["@timestamp", "message"]}}}}
            }}
        }}
    }}});
    let res = search(es, LOGS, body).await?;
    let by_name: HashMap<&str, Level> = Level::ALL.iter().map(|l| (l.as_str(), *l)).collect();
    let mut out = Vec::new();
    let buckets = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for s in buckets(agg(&res, "svc"), "/buckets") {
        let svc = s
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for l in buckets(&s, "/lvl/buckets") {
            let Some(level) = l
                .get("key")
                .and_then(Value::as_str)
                .and_then(|k| by_name.get(k))
            else {
                continue;
            };
            for c in buckets(&l, "/code/buckets") {
                let code = c
                    .get("key")
                    .and_then(Value::as_str)
                    .filter(|k| *k != NO_CODE);
                let last: Last = match c.pointer("/last/hits/hits/0") {
                    Some(h) => source(h)?,
                    None => continue,
                };
                out.push(LogCount {
                    service: svc.clone(),
                    level: *level,
                    error_code: code.map(str::to_string),
                    count: c.get("doc_count").and_then(Value::as_u64).unwrap_or(0),
                    last_at: last.t,
                    last_message: last.message,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| b.level.cmp(&a.level))
            .then_with(|| a.error_code.cmp(&b.error_code))
    });
    out.truncate(200);
    Ok(out)
}

pub(crate) async fn retain(es: &Es, before_t: DateTime<Utc>) -> Result<u64> {
    delete_by_query(es, LOGS, before("@timestamp", ms(before_t))).await
}

pub(crate) async fn delete_scenario(es: &Es, service: &str) -> Result<u64> {
    let q = filtered(vec![term("service", service), term("source", "scenario")]);
    delete_by_query(es, LOGS, q).await
}
