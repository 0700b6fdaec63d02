//! Small builders for the query DSL this backend speaks, and readers for what comes back
//! (hits, sources with their `_seq_no`/`_primary_term`, aggregation values).

use chrono::{DateTime, TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::{Result, StoreError};

/// Elasticsearch's default `index.max_result_window`: `from + size` may not pass it.
pub(crate) const MAX_WINDOW: usize = 10_000;

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub(crate) fn term(field: &str, v: impl Into<Value>) -> Value {
    json!({"term": {field: v.into()}})
}

/// A range on a date field in epoch milliseconds; bounds are inclusive.
pub(crate) fn range(field: &str, gte: Option<i64>, lte: Option<i64>) -> Value {
    let mut r = Map::new();
    if let Some(v) = gte {
        r.insert("gte".into(), v.into());
    }
    if let Some(v) = lte {
        r.insert("lte".into(), v.into());
    }
    r.insert("format".into(), "epoch_millis".into());
    json!({"range": {field: r}})
}

/// Strictly before `t` (epoch milliseconds).
pub(crate) fn before(field: &str, t: i64) -> Value {
    json!({"range": {field: {"lt": t, "format": "epoch_millis"}}})
}

/// All filters must hold (no scoring); none means every document.
pub(crate) fn filtered(filters: Vec<Value>) -> Value {
    if filters.is_empty() {
        json!({"match_all": {}})
    } else {
        json!({"bool": {"filter": filters}})
    }
}

pub(crate) fn desc(field: &str) -> Value {
    json!({field: {"order": "desc"}})
}

pub(crate) fn asc(field: &str) -> Value {
    json!({field: {"order": "asc"}})
}

/// `hits.hits` of a search answer (empty when absent).
pub(crate) fn hits(body: &Value) -> &[Value] {
    body.pointer("/hits/hits")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A hit's or a get's `_source` as `T`.
pub(crate) fn source<T: DeserializeOwned>(hit: &Value) -> Result<T> {
    let mut src = hit.get("_source").cloned().unwrap_or(Value::Null);
    if let Some(m) = src.as_object_mut() {
        fill_original_fields(m, hit.get("_id"));
    }
    serde_json::from_value(src).map_err(|e| {
        StoreError::Backend(format!(
            "document {} in {} does not have the expected shape: {e}",
            hit.get("_id").and_then(Value::as_str).unwrap_or("?"),
            hit.get("_index").and_then(Value::as_str).unwrap_or("?"),
        ))
    })
}

/// Documents written by the original agents (seed 001's shapes) carry no `id` field (their
/// `_id` is the id) and incidents have no `title`: supply both so they read as records.
fn fill_original_fields(m: &mut Map<String, Value>, id: Option<&Value>) {
    if !m.contains_key("id")
        && let Some(id) = id
    {
        m.insert("id".into(), id.clone());
    }
    if !m.contains_key("title")
        && m.contains_key("root_cause")
        && let (Some(a), Some(s)) = (
            m.get("anomaly_type").and_then(Value::as_str),
            m.get("service").and_then(Value::as_str),
        )
    {
        let title = format!("{} on {s}", a.replace('_', " "));
        m.insert("title".into(), title.into());
    }
}

/// Every hit's source as `T`.
pub(crate) fn sources<T: DeserializeOwned>(body: &Value) -> Result<Vec<T>> {
    hits(body).iter().map(source).collect()
}

/// `aggregations.<path>` (a `/`-separated path below `aggregations`).
pub(crate) fn agg<'a>(body: &'a Value, path: &str) -> &'a Value {
    body.pointer(&format!("/aggregations/{path}"))
        .unwrap_or(&Value::Null)
}

/// A single-value aggregation's `value`, if it has one.
pub(crate) fn value(a: &Value) -> Option<f64> {
    a.get("value").and_then(Value::as_f64)
}

/// The first hit's `_source` field `f` inside a `top_hits` aggregation.
pub(crate) fn top_field<'a>(a: &'a Value, f: &str) -> Option<&'a Value> {
    a.pointer("/hits/hits/0/_source")
        .and_then(|s| s.get(f))
        .filter(|v| !v.is_null())
}

/// A document with what optimistic concurrency needs to write it back.
#[derive(Debug, Clone)]
pub(crate) struct Versioned<T> {
    pub id: String,
    pub seq_no: i64,
    pub primary_term: i64,
    /// The stored source as is, so fields other writers added survive a write-back.
    pub raw: Map<String, Value>,
    pub doc: T,
}

/// Reads a get answer or a search hit carrying `_seq_no` and `_primary_term`.
pub(crate) fn versioned<T: DeserializeOwned>(hit: &Value) -> Result<Versioned<T>> {
    let num = |k: &str| {
        hit.get(k)
            .and_then(Value::as_i64)
            .ok_or_else(|| StoreError::Backend(format!("Elasticsearch answer lacks {k}: {hit}")))
    };
    Ok(Versioned {
        id: hit
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        seq_no: num("_seq_no")?,
        primary_term: num("_primary_term")?,
        raw: hit
            .get("_source")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        doc: source(hit)?,
    })
}

/// `ours` written over `raw`: our fields win, other writers' fields stay, and the listed
/// optional fields we no longer set are removed.
pub(crate) fn overlay(raw: &Map<String, Value>, ours: Value, removable: &[&str]) -> Value {
    let mut out = raw.clone();
    let ours = match ours {
        Value::Object(m) => m,
        _ => return Value::Object(out),
    };
    for k in removable {
        if !ours.contains_key(*k) {
            out.remove(*k);
        }
    }
    out.extend(ours);
    Value::Object(out)
}

/// Serialises a record; our model types always serialise.
pub(crate) fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v)
        .map_err(|e| StoreError::Backend(format!("cannot encode a document: {e}")))
}

/// FNV-1a, stable across builds (it names stored documents).
pub(crate) fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
