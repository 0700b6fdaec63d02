//! `query_metrics` as aggregations: count/min/max/sum from `stats`, first and last from
//! sorted `top_hits`, the least-squares slope from sums aggregated by script, p95 by
//! nearest rank (a sorted query of size 1) and the series from a `date_histogram`.
//! Windows past six hours read the one-minute rollups, like the SQLite backend.

use serde_json::{Value, json};

use super::client::Es;
use super::docs::search;
use super::dsl::*;
use super::mappings::Idx;
use super::metrics::{METRICS, MINUTE_MS, series_filters};
use crate::Result;
use crate::query::*;
use crate::rules::{bucket_ms, empty_summary, reads_rollups, slope};

/// Σx with x = minutes since `params.from`.
pub(crate) const SUM_X: &str = "// qs:minutes v1\n\
(doc['@timestamp'].value.toInstant().toEpochMilli() - params.from) / 60000.0";
/// Σx².
pub(crate) const SUM_XX: &str = "// qs:minutes-squared v1\n\
double x = (doc['@timestamp'].value.toInstant().toEpochMilli() - params.from) / 60000.0; \
return x * x;";
/// Σxy with y = the field named by `params.y`.
pub(crate) const SUM_XY: &str = "// qs:minutes-times-value v1\n\
if (doc[params.y].size() == 0) { return 0.0; } \
double x = (doc['@timestamp'].value.toInstant().toEpochMilli() - params.from) / 60000.0; \
return x * doc[params.y].value;";

fn script_sum(source: &str, from: i64, y: &str) -> Value {
    json!({"sum": {"script": {"source": source, "lang": "painless", "params": {"from": from, "y": y}}}})
}

fn top(order: &str, fields: &[&str]) -> Value {
    json!({"top_hits": {"size": 1, "sort": [{"@timestamp": {"order": order}}],
                        "_source": {"includes": fields}}})
}

pub(crate) async fn query(es: &Es, q: &MetricQuery) -> Result<MetricSeries> {
    crate::rules::validate_metric_query(q)?;
    let (from, to) = (ms(q.range.from), ms(q.range.to));
    let rollup = reads_rollups(to - from);
    // Rollups are keyed by their minute, so the first partial minute counts whole.
    let lo = if rollup {
        from.div_euclid(MINUTE_MS) * MINUTE_MS
    } else {
        from
    };
    let (idx, y) = if rollup {
        (Idx::Rollups, "mean")
    } else {
        (METRICS, "value")
    };
    let query = filtered(series_filters(&q.service, q.metric_type, lo, to));
    let mut aggs = json!({
        "sx": script_sum(SUM_X, lo, y),
        "sxx": script_sum(SUM_XX, lo, y),
        "sxy": script_sum(SUM_XY, lo, y),
        "p95": {"percentiles": {"field": y, "percents": [95.0]}}
    });
    if rollup {
        aggs["n"] = json!({"sum": {"field": "n"}});
        aggs["minutes"] = json!({"value_count": {"field": "n"}});
        aggs["min"] = json!({"min": {"field": "vmin"}});
        aggs["max"] = json!({"max": {"field": "vmax"}});
        aggs["sum"] = json!({"sum": {"field": "vsum"}});
        aggs["sy"] = json!({"sum": {"field": "mean"}});
        aggs["first"] = top("asc", &["vfirst"]);
        aggs["last"] = top("desc", &["vlast", "last_ts"]);
        aggs["scenario"] = json!({"filter": term("scenario", true)});
    } else {
        aggs["stats"] = json!({"stats": {"field": "value"}});
        aggs["first"] = top("asc", &["value"]);
        aggs["last"] = top("desc", &["@timestamp", "value"]);
        aggs["scenario"] = json!({"filter": term("source", "scenario")});
    }
    let bucket = if q.max_points > 0 {
        let b = bucket_ms(
            to - lo,
            q.max_points,
            if rollup { MINUTE_MS } else { 1_000 },
        );
        aggs["series"] = json!({
            "date_histogram": {"field": "@timestamp", "fixed_interval": format!("{b}ms"), "min_doc_count": 1},
            "aggs": bucket_aggs(q.aggregation, rollup)
        });
        b
    } else {
        0
    };
    let r = search(
        es,
        idx,
        json!({"size": 0, "track_total_hits": false, "query": query, "aggs": aggs}),
    )
    .await?;
    let (n, points_n) = if rollup {
        let n = value(agg(&r, "n")).unwrap_or(0.0) as u64;
        (n, value(agg(&r, "minutes")).unwrap_or(0.0))
    } else {
        let n = agg(&r, "stats/count").as_u64().unwrap_or(0);
        (n, n as f64)
    };
    let resolution = if rollup {
        Resolution::Rollup1m
    } else {
        Resolution::Raw
    };
    if n == 0 {
        return Ok(MetricSeries {
            summary: empty_summary(),
            points: Vec::new(),
            bucket_seconds: 0,
            resolution,
            includes_scenario_data: false,
        });
    }
    let num = |p: &str| agg(&r, p).as_f64();
    let (min, max, sum, sy) = if rollup {
        (
            value(agg(&r, "min")),
            value(agg(&r, "max")),
            value(agg(&r, "sum")).unwrap_or(0.0),
            value(agg(&r, "sy")).unwrap_or(0.0),
        )
    } else {
        let s = num("stats/sum").unwrap_or(0.0);
        (num("stats/min"), num("stats/max"), s, s)
    };
    let sx = value(agg(&r, "sx")).unwrap_or(0.0);
    let sxx = value(agg(&r, "sxx")).unwrap_or(0.0);
    let sxy = value(agg(&r, "sxy")).unwrap_or(0.0);
    let (first_f, last_f) = if rollup {
        ("vfirst", "vlast")
    } else {
        ("value", "value")
    };
    let last_at = if rollup {
        top_field(agg(&r, "last"), "last_ts")
            .and_then(Value::as_i64)
            .map(from_ms)
    } else {
        top_field(agg(&r, "last"), "@timestamp")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
    };
    let fallback = agg(&r, "p95/values")
        .as_object()
        .and_then(|m| m.values().next())
        .and_then(Value::as_f64);
    let p95 = nearest_rank(es, idx, &query, points_n as u64, y, fallback).await?;
    let summary = MetricSummary {
        count: n,
        min,
        max,
        avg: Some(sum / n as f64),
        p95,
        first: top_field(agg(&r, "first"), first_f).and_then(Value::as_f64),
        last: top_field(agg(&r, "last"), last_f).and_then(Value::as_f64),
        last_at,
        slope_per_min: slope(points_n, sx, sy, sxx, sxy),
    };
    let points = agg(&r, "series/buckets")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let t = from_ms(b.get("key")?.as_i64()?);
            bucket_value(q.aggregation, rollup, b).map(|v| Point { t, v })
        })
        .collect();
    Ok(MetricSeries {
        summary,
        points,
        bucket_seconds: bucket / 1000,
        resolution,
        includes_scenario_data: agg(&r, "scenario/doc_count").as_u64().unwrap_or(0) > 0,
    })
}

/// The per-bucket aggregation for a series.
fn bucket_aggs(a: Aggregation, rollup: bool) -> Value {
    match (a, rollup) {
        (Aggregation::Avg, false) => json!({"v": {"avg": {"field": "value"}}}),
        (Aggregation::Min, false) => json!({"v": {"min": {"field": "value"}}}),
        (Aggregation::Max, false) => json!({"v": {"max": {"field": "value"}}}),
        (Aggregation::Sum, false) => json!({"v": {"sum": {"field": "value"}}}),
        (Aggregation::Count, false) => json!({"v": {"value_count": {"field": "value"}}}),
        (Aggregation::Last, false) => json!({"v": top("desc", &["value"])}),
        (Aggregation::Avg, true) => {
            json!({"vsum": {"sum": {"field": "vsum"}}, "n": {"sum": {"field": "n"}}})
        }
        (Aggregation::Min, true) => json!({"v": {"min": {"field": "vmin"}}}),
        (Aggregation::Max, true) => json!({"v": {"max": {"field": "vmax"}}}),
        (Aggregation::Sum, true) => json!({"v": {"sum": {"field": "vsum"}}}),
        (Aggregation::Count, true) => json!({"v": {"sum": {"field": "n"}}}),
        (Aggregation::Last, true) => json!({"v": {"top_hits": {"size": 1,
            "sort": [{"last_ts": {"order": "desc"}}], "_source": {"includes": ["vlast"]}}}}),
    }
}

fn bucket_value(a: Aggregation, rollup: bool, b: &Value) -> Option<f64> {
    match (a, rollup) {
        (Aggregation::Avg, true) => {
            let n = value(&b["n"])?;
            (n > 0.0).then(|| value(&b["vsum"]).unwrap_or(0.0) / n)
        }
        (Aggregation::Last, false) => top_field(&b["v"], "value")?.as_f64(),
        (Aggregation::Last, true) => top_field(&b["v"], "vlast")?.as_f64(),
        _ => value(&b["v"]),
    }
}

/// The nearest-rank 95th percentile of `field`: the value at rank ⌈0.95·n⌉ in a sorted
/// query of size 1, from whichever end is nearer. Past the result window of both ends
/// (n > ~200 000) the `percentiles` estimate is used instead.
async fn nearest_rank(
    es: &Es,
    idx: Idx,
    query: &Value,
    n: u64,
    field: &str,
    fallback: Option<f64>,
) -> Result<Option<f64>> {
    if n == 0 {
        return Ok(None);
    }
    let rank = (((n as f64) * 0.95).ceil() as u64).saturating_sub(1);
    let window = MAX_WINDOW as u64 - 1;
    let (from, order) = if rank < window {
        (rank, "asc")
    } else if n - 1 - rank < window {
        (n - 1 - rank, "desc")
    } else {
        return Ok(fallback);
    };
    let body = json!({
        "size": 1, "from": from, "query": query, "track_total_hits": false,
        "sort": [{field: {"order": order}}], "_source": {"includes": [field]}
    });
    let r = search(es, idx, body).await?;
    Ok(hits(&r)
        .first()
        .and_then(|h| h.pointer(&format!("/_source/{field}")))
        .and_then(Value::as_f64)
        .or(fallback))
}
