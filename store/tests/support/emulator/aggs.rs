//! The aggregations the backend sends: `stats`, `min`, `max`, `sum` (field or one of the
//! backend's scripts), `avg`, `value_count`, `percentiles`, `top_hits`, `filter`, `terms`
//! (with `missing` and `order`) and `date_histogram` (`fixed_interval`, `min_doc_count`).

use serde_json::{Map, Value, json};

use super::fields::{Kind, compare, date_ms, number, resolve, text_of, values};
use super::query::{Ctx, eval};
use super::search::{Hit, filter_source, sort_hits};

/// Computes every aggregation in `aggs` over `docs`.
pub fn run(
    aggs: &Value,
    docs: &[Hit],
    mappings: &Value,
    ctx: &mut Ctx<'_>,
) -> Result<Value, String> {
    let mut out = Map::new();
    for (name, spec) in aggs.as_object().into_iter().flatten() {
        out.insert(name.clone(), one(spec, docs, mappings, ctx)?);
    }
    Ok(Value::Object(out))
}

fn nums(docs: &[Hit], mappings: &Value, field: &str) -> Vec<f64> {
    let (base, kind) = resolve(mappings, field);
    docs.iter()
        .flat_map(|h| values(&h.source, &base))
        .filter_map(|v| number(&kind, &v))
        .collect()
}

/// The backend's aggregation scripts, recognised by their first line.
fn script_values(spec: &Value, docs: &[Hit]) -> Result<Vec<f64>, String> {
    let source = spec["source"].as_str().unwrap_or_default();
    let from = spec["params"]["from"].as_f64().unwrap_or(0.0);
    let y = spec["params"]["y"].as_str().unwrap_or("value");
    let marker = source.lines().next().unwrap_or_default();
    let mut out = Vec::new();
    for h in docs {
        let Some(t) = h.source.get("@timestamp").and_then(date_ms) else {
            return Err("[emulator] script: doc['@timestamp'] has no value".into());
        };
        let x = (t as f64 - from) / 60000.0;
        let yv = h.source.get(y).and_then(Value::as_f64);
        out.push(match marker {
            "// qs:minutes v1" => x,
            "// qs:minutes-squared v1" => x * x,
            "// qs:minutes-times-value v1" => yv.map_or(0.0, |v| x * v),
            other => return Err(format!("[emulator] script {other:?} is not emulated")),
        });
    }
    Ok(out)
}

fn single(v: Option<f64>, kind: &Kind) -> Value {
    match (v, kind) {
        (Some(x), Kind::Date) => json!({"value": x, "value_as_string":
            chrono::DateTime::from_timestamp_millis(x as i64).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))}),
        (v, _) => json!({"value": v}),
    }
}

fn one(spec: &Value, docs: &[Hit], mappings: &Value, ctx: &mut Ctx<'_>) -> Result<Value, String> {
    let (kind_name, body) = spec
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| *k != "aggs"))
        .ok_or("[emulator] malformed aggregation")?;
    let field = body
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (_, fkind) = resolve(mappings, field);
    let vals = || nums(docs, mappings, field);
    let res = match kind_name.as_str() {
        "min" => single(vals().into_iter().reduce(f64::min), &fkind),
        "max" => single(vals().into_iter().reduce(f64::max), &fkind),
        "sum" => {
            let v = match body.get("script") {
                Some(s) => script_values(s, docs)?,
                None => vals(),
            };
            json!({"value": v.iter().sum::<f64>()})
        }
        "avg" => {
            let v = vals();
            json!({"value": (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)})
        }
        "value_count" => json!({"value": vals().len()}),
        "stats" => {
            let v = vals();
            let sum: f64 = v.iter().sum();
            json!({"count": v.len(), "min": v.iter().copied().reduce(f64::min),
                   "max": v.iter().copied().reduce(f64::max),
                   "avg": (!v.is_empty()).then(|| sum / v.len() as f64), "sum": sum})
        }
        "percentiles" => {
            let mut v = vals();
            v.sort_by(f64::total_cmp);
            let mut m = Map::new();
            for p in body["percents"].as_array().into_iter().flatten() {
                let p = p.as_f64().unwrap_or(50.0);
                let r = (!v.is_empty()).then(|| {
                    let pos = p / 100.0 * (v.len() - 1) as f64;
                    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
                });
                m.insert(format!("{p:.1}"), json!(r));
            }
            json!({"values": m})
        }
        "top_hits" => {
            let mut hits: Vec<Hit> = docs.to_vec();
            sort_hits(&mut hits, &body["sort"], mappings);
            let size = body.get("size").and_then(Value::as_u64).unwrap_or(3) as usize;
            let list: Vec<Value> = hits
                .iter()
                .take(size)
                .map(|h| json!({"_index": h.index, "_id": h.id, "_score": null,
                                "_source": filter_source(&h.source, &body["_source"]), "sort": h.sort_values(&body["sort"], mappings)}))
                .collect();
            json!({"hits": {"total": {"value": docs.len(), "relation": "eq"}, "max_score": null, "hits": list}})
        }
        "filter" => {
            let mut sub = Vec::new();
            for h in docs {
                if eval(body, &h.source, ctx)?.is_some() {
                    sub.push(h.clone());
                }
            }
            return with_subs(json!({"doc_count": sub.len()}), spec, &sub, mappings, ctx);
        }
        "terms" => return terms(body, spec, docs, mappings, ctx),
        "date_histogram" => return histogram(body, spec, docs, mappings, ctx),
        other => return Err(format!("[emulator] aggregation [{other}] is not emulated")),
    };
    Ok(res)
}

fn with_subs(
    mut bucket: Value,
    spec: &Value,
    docs: &[Hit],
    mappings: &Value,
    ctx: &mut Ctx<'_>,
) -> Result<Value, String> {
    if let Some(subs) = spec.get("aggs") {
        let r = run(subs, docs, mappings, ctx)?;
        if let (Some(b), Some(r)) = (bucket.as_object_mut(), r.as_object()) {
            b.extend(r.clone());
        }
    }
    Ok(bucket)
}

fn terms(
    body: &Value,
    spec: &Value,
    docs: &[Hit],
    mappings: &Value,
    ctx: &mut Ctx<'_>,
) -> Result<Value, String> {
    let field = body["field"].as_str().unwrap_or_default();
    let (base, kind) = resolve(mappings, field);
    if matches!(kind, Kind::Text(_)) {
        return Err(format!(
            "Text fields are not optimised for operations that require per-document field data like aggregations and sorting: [{field}] is a text field (use a keyword field)"
        ));
    }
    let mut groups: Vec<(Value, Vec<Hit>)> = Vec::new();
    for h in docs {
        let mut vs = values(&h.source, &base);
        if matches!(kind, Kind::Date) {
            // Dates group by their epoch millisecond, as Elasticsearch keys them.
            vs = vs.iter().filter_map(date_ms).map(|m| json!(m)).collect();
        }
        if vs.is_empty() {
            match body.get("missing") {
                Some(m) => vs.push(m.clone()),
                None => continue,
            }
        }
        vs.dedup();
        for v in vs {
            match groups
                .iter_mut()
                .find(|(k, _)| compare(&kind, k, &v).is_eq())
            {
                Some((_, g)) => g.push(h.clone()),
                None => groups.push((v, vec![h.clone()])),
            }
        }
    }
    let by_key = body.pointer("/order/_key").and_then(Value::as_str);
    groups.sort_by(|a, b| match by_key {
        Some("desc") => compare(&kind, &b.0, &a.0),
        Some(_) => compare(&kind, &a.0, &b.0),
        None => {
            b.1.len()
                .cmp(&a.1.len())
                .then_with(|| compare(&kind, &a.0, &b.0))
        }
    });
    let size = body.get("size").and_then(Value::as_u64).unwrap_or(10) as usize;
    let other: usize = groups.iter().skip(size).map(|g| g.1.len()).sum();
    let mut buckets = Vec::new();
    for (k, g) in groups.into_iter().take(size) {
        let key = if matches!(kind, Kind::Keyword | Kind::Unmapped) {
            json!(text_of(&k))
        } else {
            k
        };
        let mut bucket = json!({"key": key, "doc_count": g.len()});
        if let (Kind::Date, Some(m)) = (&kind, bucket["key"].as_i64()) {
            bucket["key_as_string"] = json!(
                chrono::DateTime::from_timestamp_millis(m)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
        }
        buckets.push(with_subs(bucket, spec, &g, mappings, ctx)?);
    }
    Ok(json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": buckets}))
}

/// `fixed_interval` in milliseconds (`60000ms`, `30s`, `1m`, `1h`, `1d`).
fn interval_ms(s: &str) -> Result<i64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("[emulator] bad interval {s}"))?;
    let mult = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("[emulator] bad interval unit {s}")),
    };
    Ok(n * mult)
}

fn histogram(
    body: &Value,
    spec: &Value,
    docs: &[Hit],
    mappings: &Value,
    ctx: &mut Ctx<'_>,
) -> Result<Value, String> {
    let field = body["field"].as_str().unwrap_or_default();
    let (base, _) = resolve(mappings, field);
    let step = interval_ms(
        body["fixed_interval"]
            .as_str()
            .ok_or("[emulator] only fixed_interval is emulated")?,
    )?;
    let min_count = body
        .get("min_doc_count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut groups: std::collections::BTreeMap<i64, Vec<Hit>> = Default::default();
    for h in docs {
        if let Some(t) = values(&h.source, &base).first().and_then(date_ms) {
            groups
                .entry(t.div_euclid(step) * step)
                .or_default()
                .push(h.clone());
        }
    }
    if min_count == 0
        && let (Some(lo), Some(hi)) = (groups.keys().next().copied(), groups.keys().last().copied())
    {
        let mut k = lo;
        while k < hi {
            groups.entry(k).or_default();
            k += step;
        }
    }
    let mut buckets = Vec::new();
    for (k, g) in groups {
        if (g.len() as u64) < min_count {
            continue;
        }
        let key_s = chrono::DateTime::from_timestamp_millis(k)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        buckets.push(with_subs(
            json!({"key_as_string": key_s, "key": k, "doc_count": g.len()}),
            spec,
            &g,
            mappings,
            ctx,
        )?);
    }
    Ok(json!({"buckets": buckets}))
}
