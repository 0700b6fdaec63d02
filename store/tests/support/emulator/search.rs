//! `_search`, `_count` and `_delete_by_query` over one index: match and score, sort
//! (missing values last, arrays by min ascending / max descending), page with
//! `from`/`size`, filter `_source`, add `_seq_no`/`_primary_term` on request, aggregate.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::aggs;
use super::fields::{Kind, compare, date_ms, resolve, values};
use super::query::{Ctx, eval};
use super::{Index, Reply, err};

/// A matching document.
#[derive(Clone, Debug)]
pub struct Hit {
    pub index: String,
    pub id: String,
    pub source: Value,
    pub score: f64,
    pub seq_no: i64,
}

impl Hit {
    /// The values this hit sorts by, as Elasticsearch reports them in `sort`.
    pub fn sort_values(&self, sort: &Value, mappings: &Value) -> Value {
        let keys = sort_keys(sort);
        Value::Array(
            keys.iter()
                .map(|(f, desc)| {
                    if f == "_score" {
                        return json!(self.score);
                    }
                    let (base, kind) = resolve(mappings, f);
                    match pick(&self.source, &base, &kind, *desc) {
                        Some(v) if kind == Kind::Date => json!(date_ms(&v)),
                        Some(v) => v,
                        None => Value::Null,
                    }
                })
                .collect(),
        )
    }
}

fn sort_keys(sort: &Value) -> Vec<(String, bool)> {
    let list = match sort {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    list.iter()
        .filter_map(|s| match s {
            Value::String(f) => Some((f.clone(), f == "_score")),
            Value::Object(o) => o.iter().next().map(|(f, spec)| {
                let order = spec.get("order").and_then(Value::as_str).or(spec.as_str());
                (f.clone(), order.map_or(f == "_score", |o| o == "desc"))
            }),
            _ => None,
        })
        .collect()
}

/// The value a document sorts by: min of an array ascending, max descending.
fn pick(src: &Value, base: &str, kind: &Kind, desc: bool) -> Option<Value> {
    let vs = values(src, base);
    let it = vs.into_iter();
    if desc {
        it.max_by(|a, b| compare(kind, a, b))
    } else {
        it.min_by(|a, b| compare(kind, a, b))
    }
}

pub fn sort_hits(hits: &mut [Hit], sort: &Value, mappings: &Value) {
    let keys = sort_keys(sort);
    let keys = if keys.is_empty() {
        vec![("_score".to_string(), true)]
    } else {
        keys
    };
    hits.sort_by(|a, b| {
        for (f, desc) in &keys {
            let o = if f == "_score" {
                a.score.total_cmp(&b.score)
            } else {
                let (base, kind) = resolve(mappings, f);
                match (
                    pick(&a.source, &base, &kind, *desc),
                    pick(&b.source, &base, &kind, *desc),
                ) {
                    (Some(x), Some(y)) => compare(&kind, &x, &y),
                    // Missing values sort last whatever the order.
                    (Some(_), None) => return Ordering::Less,
                    (None, Some(_)) => return Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            };
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.seq_no.cmp(&b.seq_no)
    });
}

/// `_source` filtering: `false`, a list of fields, `{"includes": [...]}` or
/// `{"excludes": [...]}` (top-level fields).
pub fn filter_source(src: &Value, spec: &Value) -> Value {
    let fields: Vec<&str> = match spec {
        Value::Null => return src.clone(),
        Value::Bool(b) => return if *b { src.clone() } else { json!({}) },
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::Object(o) => match o.get("includes").and_then(Value::as_array) {
            Some(a) => a.iter().filter_map(Value::as_str).collect(),
            None => {
                let mut out = src.clone();
                if let (Some(ex), Some(m)) = (
                    o.get("excludes").and_then(Value::as_array),
                    out.as_object_mut(),
                ) {
                    for f in ex.iter().filter_map(Value::as_str) {
                        m.remove(f);
                    }
                }
                return out;
            }
        },
        Value::String(s) => vec![s.as_str()],
        _ => return src.clone(),
    };
    let mut out = Map::new();
    for f in fields {
        if let Some(v) = src.get(f) {
            out.insert(f.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// The documents of `ix` matching `query`, scored.
pub fn matching(name: &str, ix: &Index, query: &Value) -> Result<Vec<Hit>, String> {
    let corpus: Vec<&Value> = ix.docs.values().map(|d| &d.source).collect();
    let mut ctx = Ctx::new(&ix.mappings, corpus);
    let q = if query.is_null() {
        json!({"match_all": {}})
    } else {
        query.clone()
    };
    let mut out = Vec::new();
    for (id, d) in &ix.docs {
        if let Some(score) = eval(&q, &d.source, &mut ctx)? {
            out.push(Hit {
                index: name.to_string(),
                id: id.clone(),
                source: d.source.clone(),
                score,
                seq_no: d.seq_no,
            });
        }
    }
    Ok(out)
}

/// Exact kNN over a `dense_vector` field with cosine similarity, scored as a cluster
/// scores it, (1 + cosine) / 2; `k` hits, best first. Documents without the field are not
/// candidates.
fn nearest(name: &str, ix: &Index, knn: &Value) -> Result<Vec<Hit>, String> {
    let field = knn["field"].as_str().ok_or("[knn] requires [field]")?;
    let spec = &ix.mappings["properties"][field];
    if spec["type"] != "dense_vector" || spec["similarity"] != "cosine" {
        return Err(format!(
            "failed to create query: field [{field}] does not exist in the mapping or is not a cosine dense_vector"
        ));
    }
    let dims = spec["dims"].as_u64().unwrap_or(0) as usize;
    let q: Vec<f64> = knn["query_vector"]
        .as_array()
        .ok_or("[knn] requires [query_vector]")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    if q.len() != dims {
        return Err(format!(
            "the query vector has a different number of dimensions [{}] than the document vectors [{dims}]",
            q.len()
        ));
    }
    let k = knn["k"].as_u64().ok_or("[knn] requires [k]")? as usize;
    let candidates = knn["num_candidates"].as_u64().unwrap_or(k as u64) as usize;
    if candidates < k || candidates > 10_000 {
        return Err(format!(
            "[num_candidates] cannot be less than [k] or exceed [10000], got {candidates}"
        ));
    }
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let qn = norm(&q);
    let mut out: Vec<Hit> = ix
        .docs
        .iter()
        .filter_map(|(id, d)| {
            let v: Vec<f64> = d
                .source
                .get(field)?
                .as_array()?
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            let dot: f64 = v.iter().zip(&q).map(|(a, b)| a * b).sum();
            let cos = dot / (norm(&v) * qn).max(1e-12);
            Some(Hit {
                index: name.to_string(),
                id: id.clone(),
                source: d.source.clone(),
                score: (1.0 + cos) / 2.0,
                seq_no: d.seq_no,
            })
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    out.truncate(k);
    Ok(out)
}

pub fn search(name: &str, ix: &Index, body: &Value) -> Reply {
    let known = [
        "query",
        "size",
        "from",
        "sort",
        "aggs",
        "_source",
        "seq_no_primary_term",
        "track_total_hits",
        "knn",
    ];
    if let Some(k) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
    {
        return err(
            400,
            "parsing_exception",
            &format!("[emulator] unknown key [{k}] in a search"),
        );
    }
    let mut hits = match body.get("knn") {
        // As a cluster: a kNN search alone ranks by vector similarity only.
        Some(knn) if body.get("query").is_none() => match nearest(name, ix, knn) {
            Ok(h) => h,
            Err(e) => return err(400, "illegal_argument_exception", &e),
        },
        Some(_) => {
            return err(
                400,
                "parsing_exception",
                "[emulator] knn together with query is not emulated",
            );
        }
        None => match matching(name, ix, &body["query"]) {
            Ok(h) => h,
            Err(e) => return err(400, "parsing_exception", &e),
        },
    };
    let size = body.get("size").and_then(Value::as_u64).unwrap_or(10) as usize;
    let from = body.get("from").and_then(Value::as_u64).unwrap_or(0) as usize;
    if from + size > 10_000 {
        return err(
            400,
            "illegal_argument_exception",
            "Result window is too large, from + size must be less than or equal to: [10000]",
        );
    }
    // As a cluster: no field data on text fields, so no sorting by them.
    if let Some((f, _)) = sort_keys(&body["sort"])
        .into_iter()
        .find(|(f, _)| matches!(resolve(&ix.mappings, f).1, Kind::Text(_)))
    {
        return err(
            400,
            "illegal_argument_exception",
            &format!(
                "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{f}] in order to load field data by uninverting the inverted index."
            ),
        );
    }
    sort_hits(&mut hits, &body["sort"], &ix.mappings);
    let aggregations = match body.get("aggs") {
        Some(a) => {
            let corpus: Vec<&Value> = ix.docs.values().map(|d| &d.source).collect();
            let mut ctx = Ctx::new(&ix.mappings, corpus);
            match aggs::run(a, &hits, &ix.mappings, &mut ctx) {
                Ok(v) => Some(v),
                Err(e) => return err(400, "parsing_exception", &e),
            }
        }
        None => None,
    };
    let versions = body.get("seq_no_primary_term").and_then(Value::as_bool) == Some(true);
    let sorted = !body["sort"].is_null();
    let page: Vec<Value> = hits
        .iter()
        .skip(from)
        .take(size)
        .map(|h| {
            let mut v = json!({"_index": name, "_id": h.id, "_score": if sorted { Value::Null } else { json!(h.score) },
                               "_source": filter_source(&h.source, &body["_source"])});
            if versions {
                v["_seq_no"] = json!(h.seq_no);
                v["_primary_term"] = json!(1);
            }
            if sorted {
                v["sort"] = h.sort_values(&body["sort"], &ix.mappings);
            }
            v
        })
        .collect();
    let max = hits.iter().map(|h| h.score).reduce(f64::max);
    let mut out = json!({
        "took": 1, "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": hits.len(), "relation": "eq"},
                 "max_score": if sorted { None } else { max }, "hits": page}
    });
    // `track_total_hits: false` leaves the total out, as a cluster does.
    if body.get("track_total_hits") == Some(&Value::Bool(false))
        && let Some(h) = out["hits"].as_object_mut()
    {
        h.remove("total");
    }
    if let Some(a) = aggregations {
        out["aggregations"] = a;
    }
    (200, out)
}

pub fn count(name: &str, ix: &Index, body: &Value) -> Reply {
    match matching(name, ix, &body["query"]) {
        Ok(h) => (
            200,
            json!({"count": h.len(), "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
        ),
        Err(e) => err(400, "parsing_exception", &e),
    }
}

pub fn delete_by_query(name: &str, ix: &mut Index, body: &Value) -> Reply {
    let hits = match matching(name, ix, &body["query"]) {
        Ok(h) => h,
        Err(e) => return err(400, "parsing_exception", &e),
    };
    for h in &hits {
        ix.docs.remove(&h.id);
        ix.seq += 1;
    }
    (
        200,
        json!({"took": 1, "timed_out": false, "total": hits.len(), "deleted": hits.len(),
                 "batches": 1, "version_conflicts": 0, "noops": 0,
                 "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0,
                 "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": []}),
    )
}
