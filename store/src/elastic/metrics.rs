//! Metrics ingest and upkeep: raw samples under deterministic ids (a re-sent batch is not
//! stored twice), one-minute rollups merged on ingest by a script, samples, services,
//! retention and removal of scenario data (rollups rebuilt by aggregation).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::bulk::{self, Op, Outcome};
use super::client::Es;
use super::docs::{delete_by_query, search};
use super::dsl::*;
use super::mappings::Idx;
use super::setup::ensure;
use crate::Result;
use crate::model::{Collection, Metric, MetricType};
use crate::query::*;

pub(crate) use crate::rules::MINUTE_MS;
/// Samples of one type in one minute a rebuild lists (the scraper's fastest, 0.1 s, is 600).
const MAX_PER_MINUTE: usize = 1_000;
pub(crate) const METRICS: Idx = Idx::C(Collection::Metrics);

/// Merges samples into a stored rollup (the upsert holds the first ones). Each sample is
/// counted once: the rollup keeps the millisecond times it has counted (`seen`), so a
/// batch sent again after a partial failure completes the minute and never doubles it.
pub(crate) const ROLLUP_MERGE: &str = "// qs:rollup-merge v2\n\
def s = ctx._source; def p = params;\n\
if (s.seen == null) { s.seen = []; }\n\
int added = 0;\n\
for (def x : p.samples) {\n\
  long ts = ((Number) x[0]).longValue(); double v = ((Number) x[1]).doubleValue();\n\
  if (s.seen.contains(ts)) { continue; }\n\
  s.seen.add(ts); added++; s.n += 1; s.vsum += v;\n\
  if (v < s.vmin) { s.vmin = v; }\n\
  if (v > s.vmax) { s.vmax = v; }\n\
  if (ts < s.first_ts) { s.vfirst = v; s.first_ts = ts; }\n\
  if (ts >= s.last_ts) { s.vlast = v; s.last_ts = ts; }\n\
}\n\
if (added == 0) { ctx.op = 'noop'; } else {\n\
  s.mean = s.vsum / s.n;\n\
  if (p.scenario) { s.scenario = true; }\n\
}";

/// The id of a sample: the same measurement sent twice is one document.
fn metric_id(m: &Metric) -> String {
    let ts = m.timestamp.timestamp_micros().to_le_bytes();
    let h = fnv(&[m.service.as_bytes(), m.metric_type.as_str().as_bytes(), &ts]);
    format!("m-{h:016x}")
}

/// One (service, metric type, minute) worth of samples, as a rollup document.
#[derive(Debug, Clone)]
struct Partial {
    service: String,
    region: String,
    metric_type: String,
    unit: String,
    minute: i64,
    n: u64,
    vsum: f64,
    vmin: f64,
    vmax: f64,
    vfirst: f64,
    first_ts: i64,
    vlast: f64,
    last_ts: i64,
    scenario: bool,
    /// The millisecond times of the samples counted, one per time.
    seen: Vec<i64>,
    /// Their values, beside `seen`, when the partial came from ingest (empty when rebuilt).
    values: Vec<f64>,
}

impl Partial {
    fn new(m: &Metric, minute: i64) -> Partial {
        Partial {
            service: m.service.clone(),
            region: m.region.clone(),
            metric_type: m.metric_type.as_str().into(),
            unit: m.unit.clone(),
            minute,
            n: 0,
            vsum: 0.0,
            vmin: f64::INFINITY,
            vmax: f64::NEG_INFINITY,
            vfirst: 0.0,
            first_ts: i64::MAX,
            vlast: 0.0,
            last_ts: i64::MIN,
            scenario: false,
            seen: Vec::new(),
            values: Vec::new(),
        }
    }

    fn add(&mut self, ts: i64, v: f64, scenario: bool) {
        if self.seen.contains(&ts) {
            return;
        }
        self.seen.push(ts);
        self.values.push(v);
        self.n += 1;
        self.vsum += v;
        self.vmin = self.vmin.min(v);
        self.vmax = self.vmax.max(v);
        if ts < self.first_ts {
            (self.vfirst, self.first_ts) = (v, ts);
        }
        if ts >= self.last_ts {
            (self.vlast, self.last_ts) = (v, ts);
        }
        self.scenario |= scenario;
    }

    fn id(&self) -> String {
        format!("{}|{}|{}", self.service, self.metric_type, self.minute)
    }

    fn doc(&self) -> Value {
        json!({
            "@timestamp": from_ms(self.minute).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "service": self.service, "region": self.region, "metric_type": self.metric_type,
            "unit": self.unit, "n": self.n, "vsum": self.vsum, "vmin": self.vmin,
            "vmax": self.vmax, "vfirst": self.vfirst, "first_ts": self.first_ts,
            "vlast": self.vlast, "last_ts": self.last_ts,
            "mean": self.vsum / self.n.max(1) as f64, "scenario": self.scenario,
            "seen": self.seen
        })
    }

    fn merge_op(&self, index: &str) -> Op {
        let samples: Vec<Value> = (self.seen.iter().zip(&self.values))
            .map(|(t, v)| json!([t, v]))
            .collect();
        let params = json!({"samples": samples, "scenario": self.scenario});
        Op::Update {
            index: index.into(),
            id: self.id(),
            body: json!({
                "script": {"source": ROLLUP_MERGE, "lang": "painless", "params": params},
                "upsert": self.doc()
            }),
        }
    }
}

/// Stores finite samples; returns how many were new. Every stored sample, new or already
/// there, is merged into its minute's rollup, which counts each sample time once: a batch
/// whose samples were stored but whose rollup update failed completes it when sent again.
pub(crate) async fn put(es: &Es, docs: &[Metric]) -> Result<usize> {
    let finite: Vec<&Metric> = docs.iter().filter(|m| m.value.is_finite()).collect();
    if finite.is_empty() {
        return Ok(0);
    }
    ensure(es, METRICS).await?;
    ensure(es, Idx::Rollups).await?;
    let index = METRICS.name(&es.prefix);
    let mut ops = Vec::with_capacity(finite.len());
    for m in &finite {
        ops.push(Op::Create {
            index: index.clone(),
            id: metric_id(m),
            doc: to_value(m)?,
        });
    }
    let outcomes = bulk::run(es, &ops).await?;
    let mut partials: BTreeMap<(String, String, i64), Partial> = BTreeMap::new();
    let mut stored = 0;
    let mut failure = None;
    for (m, o) in finite.iter().zip(outcomes) {
        match o {
            Outcome::Done | Outcome::Exists => {
                stored += usize::from(matches!(o, Outcome::Done));
                let ts = ms(m.timestamp);
                let minute = ts.div_euclid(MINUTE_MS) * MINUTE_MS;
                let key = (
                    m.service.clone(),
                    m.metric_type.as_str().to_string(),
                    minute,
                );
                partials
                    .entry(key)
                    .or_insert_with(|| Partial::new(m, minute))
                    .add(ts, m.value, m.source.as_deref() == Some("scenario"));
            }
            Outcome::Failed(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    let rollups = Idx::Rollups.name(&es.prefix);
    let ops: Vec<Op> = partials.values().map(|p| p.merge_op(&rollups)).collect();
    if !ops.is_empty()
        && let Some(e) = bulk::first_failure(bulk::run(es, &ops).await?)
    {
        failure.get_or_insert(e);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(stored),
    }
}

#[derive(Deserialize)]
struct Sample {
    #[serde(rename = "@timestamp")]
    t: DateTime<Utc>,
    value: f64,
}

pub(crate) fn series_filters(service: &str, mt: MetricType, from: i64, to: i64) -> Vec<Value> {
    vec![
        term("service", service),
        term("metric_type", mt.as_str()),
        range("@timestamp", Some(from), Some(to)),
    ]
}

/// Raw samples in time order; the newest `limit` when more match.
pub(crate) async fn samples(
    es: &Es,
    service: &str,
    mt: MetricType,
    r: TimeRange,
    limit: usize,
) -> Result<Vec<Point>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let body = json!({
        "size": limit.min(MAX_WINDOW),
        "query": filtered(series_filters(service, mt, ms(r.from), ms(r.to))),
        "sort": [desc("@timestamp")],
        "_source": {"includes": ["@timestamp", "value"]},
        "track_total_hits": false
    });
    let got: Vec<Sample> = sources(&search(es, METRICS, body).await?)?;
    let mut pts: Vec<Point> = got
        .into_iter()
        .map(|s| Point { t: s.t, v: s.value })
        .collect();
    pts.reverse();
    Ok(pts)
}

/// Services with a sample since `since` and their newest sample time, by name.
pub(crate) async fn services(
    es: &Es,
    since: DateTime<Utc>,
) -> Result<Vec<(String, DateTime<Utc>)>> {
    let body = json!({
        "size": 0,
        "query": filtered(vec![range("@timestamp", Some(ms(since)), None)]),
        "aggs": {"services": {
            "terms": {"field": "service", "size": 1000, "order": {"_key": "asc"}},
            "aggs": {"last": {"max": {"field": "@timestamp"}}}
        }}
    });
    let r = search(es, METRICS, body).await?;
    let mut out = Vec::new();
    for b in agg(&r, "services/buckets").as_array().into_iter().flatten() {
        if let (Some(k), Some(t)) = (b.get("key").and_then(Value::as_str), value(&b["last"])) {
            out.push((k.to_string(), from_ms(t as i64)));
        }
    }
    Ok(out)
}

/// Drops raw samples past `raw` and rollups past `rollups`.
pub(crate) async fn retain(es: &Es, now: DateTime<Utc>, r: Retention) -> Result<RetentionReport> {
    let raw = delete_by_query(es, METRICS, before("@timestamp", ms(now - r.raw))).await?;
    let roll = delete_by_query(es, Idx::Rollups, before("@timestamp", ms(now - r.rollups))).await?;
    Ok(RetentionReport {
        raw_metrics_deleted: raw,
        rollups_deleted: roll,
        logs_deleted: 0,
    })
}

/// Deletes one service's scenario samples and rebuilds the rollup minutes they touched
/// from the samples that remain (by aggregation, not by reading them).
pub(crate) async fn delete_scenario(es: &Es, service: &str) -> Result<u64> {
    let mine = vec![term("service", service), term("source", "scenario")];
    let span = search(
        es,
        METRICS,
        json!({"size": 0, "query": filtered(mine.clone()), "aggs": {
            "lo": {"min": {"field": "@timestamp"}}, "hi": {"max": {"field": "@timestamp"}}
        }}),
    )
    .await?;
    let (Some(lo), Some(hi)) = (value(agg(&span, "lo")), value(agg(&span, "hi"))) else {
        return Ok(0);
    };
    let lo = (lo as i64).div_euclid(MINUTE_MS) * MINUTE_MS;
    let hi = (hi as i64).div_euclid(MINUTE_MS) * MINUTE_MS + MINUTE_MS - 1;
    let deleted = delete_by_query(es, METRICS, filtered(mine)).await?;
    let span_filter = vec![
        term("service", service),
        range("@timestamp", Some(lo), Some(hi)),
    ];
    ensure(es, Idx::Rollups).await?;
    delete_by_query(es, Idx::Rollups, filtered(span_filter.clone())).await?;
    let minute_aggs = json!({
        "stats": {"stats": {"field": "value"}},
        "first": {"top_hits": {"size": 1, "sort": [asc("@timestamp")],
                  "_source": {"includes": ["@timestamp", "value", "region", "unit"]}}},
        "last": {"top_hits": {"size": 1, "sort": [desc("@timestamp")],
                 "_source": {"includes": ["@timestamp", "value"]}}},
        "scenario": {"filter": term("source", "scenario")},
        "seen": {"terms": {"field": "@timestamp", "size": MAX_PER_MINUTE}}
    });
    let r = search(
        es,
        METRICS,
        json!({"size": 0, "query": filtered(span_filter), "aggs": {"types": {
            "terms": {"field": "metric_type", "size": 100},
            "aggs": {"minutes": {
                "date_histogram": {"field": "@timestamp", "fixed_interval": "60000ms", "min_doc_count": 1},
                "aggs": minute_aggs
            }}
        }}}),
    )
    .await?;
    let index = Idx::Rollups.name(&es.prefix);
    let mut ops = Vec::new();
    for t in agg(&r, "types/buckets").as_array().into_iter().flatten() {
        let mt = t.get("key").and_then(Value::as_str).unwrap_or_default();
        for b in t
            .pointer("/minutes/buckets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(p) = rebuilt(service, mt, b) {
                ops.push(Op::Index {
                    index: index.clone(),
                    id: p.id(),
                    doc: p.doc(),
                });
            }
        }
    }
    if let Some(e) = bulk::first_failure(bulk::run(es, &ops).await?) {
        return Err(e);
    }
    Ok(deleted)
}

/// A rollup from one minute bucket of the rebuild aggregation.
fn rebuilt(service: &str, mt: &str, b: &Value) -> Option<Partial> {
    let t = |a: &str| -> Option<i64> {
        let s = top_field(&b[a], "@timestamp")?.as_str()?;
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis())
    };
    let s = &b["stats"];
    let str_of = |f: &str| {
        top_field(&b["first"], f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(Partial {
        service: service.into(),
        region: str_of("region"),
        metric_type: mt.into(),
        unit: str_of("unit"),
        minute: b.get("key").and_then(Value::as_i64)?,
        n: s.get("count").and_then(Value::as_u64)?,
        vsum: s.get("sum").and_then(Value::as_f64)?,
        vmin: s.get("min").and_then(Value::as_f64)?,
        vmax: s.get("max").and_then(Value::as_f64)?,
        vfirst: top_field(&b["first"], "value")?.as_f64()?,
        first_ts: t("first")?,
        vlast: top_field(&b["last"], "value")?.as_f64()?,
        last_ts: t("last")?,
        scenario: b
            .pointer("/scenario/doc_count")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            > 0,
        seen: b
            .pointer("/seen/buckets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.get("key").and_then(Value::as_i64))
            .collect(),
        values: Vec::new(),
    })
}
