//! The query DSL subset the backend sends, evaluated as documented: `bool` (filter, must,
//! should, must_not, minimum_should_match), `term`, `terms`, `range`, `exists`, `match`,
//! `multi_match` (`most_fields`) and `match_all`, with BM25 (k1 1.2, b 0.75) scores.

use std::collections::HashMap;

use serde_json::Value;

use super::fields::{Kind, analyze, compare, number, resolve, text_of, values};

/// Corpus statistics of one field for BM25.
#[derive(Default)]
struct Stats {
    docs: f64,
    avg_len: f64,
    df: HashMap<String, f64>,
}

/// What evaluation needs beyond the document: the mapping and the corpus.
pub struct Ctx<'a> {
    pub mappings: &'a Value,
    pub corpus: Vec<&'a Value>,
    stats: HashMap<String, Stats>,
}

impl<'a> Ctx<'a> {
    pub fn new(mappings: &'a Value, corpus: Vec<&'a Value>) -> Ctx<'a> {
        Ctx {
            mappings,
            corpus,
            stats: HashMap::new(),
        }
    }

    fn tokens(&self, src: &Value, field: &str) -> (Vec<String>, String) {
        let (base, kind) = resolve(self.mappings, field);
        let analyzer = match kind {
            Kind::Text(a) => a,
            _ => "keyword".into(),
        };
        let toks = values(src, &base)
            .iter()
            .flat_map(|v| analyze(&analyzer, &text_of(v)))
            .collect();
        (toks, analyzer)
    }

    fn stats(&mut self, field: &str) -> &Stats {
        if !self.stats.contains_key(field) {
            let mut st = Stats::default();
            let mut total = 0.0;
            for d in self.corpus.clone() {
                let (toks, _) = self.tokens(d, field);
                if toks.is_empty() {
                    continue;
                }
                st.docs += 1.0;
                total += toks.len() as f64;
                let mut seen: Vec<&String> = toks.iter().collect();
                seen.sort();
                seen.dedup();
                for t in seen {
                    *st.df.entry(t.clone()).or_default() += 1.0;
                }
            }
            st.avg_len = if st.docs > 0.0 { total / st.docs } else { 0.0 };
            self.stats.insert(field.to_string(), st);
        }
        &self.stats[field]
    }

    /// BM25 of `query` against `field` of `src`, and how many query tokens it holds.
    fn bm25(&mut self, src: &Value, field: &str, query: &str) -> (f64, usize, usize) {
        let (toks, analyzer) = self.tokens(src, field);
        let mut q = analyze(&analyzer, query);
        q.sort();
        q.dedup();
        let dl = toks.len() as f64;
        let st = self.stats(field);
        let (n, avg) = (st.docs, st.avg_len.max(1.0));
        let mut score = 0.0;
        let mut hit = 0;
        for t in &q {
            let tf = toks.iter().filter(|x| *x == t).count() as f64;
            if tf == 0.0 {
                continue;
            }
            hit += 1;
            let df = st.df.get(t).copied().unwrap_or(0.0);
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avg));
        }
        (score, hit, q.len())
    }
}

fn arr(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Some(score) when `src` matches `q`.
pub fn eval(q: &Value, src: &Value, ctx: &mut Ctx<'_>) -> Result<Option<f64>, String> {
    let (name, body) = q
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| format!("[emulator] malformed query {q}"))?;
    match name.as_str() {
        "match_all" => Ok(Some(1.0)),
        "bool" => {
            let mut score = 0.0;
            for c in arr(&body["filter"]) {
                if eval(&c, src, ctx)?.is_none() {
                    return Ok(None);
                }
            }
            for c in arr(&body["must"]) {
                match eval(&c, src, ctx)? {
                    Some(s) => score += s,
                    None => return Ok(None),
                }
            }
            for c in arr(&body["must_not"]) {
                if eval(&c, src, ctx)?.is_some() {
                    return Ok(None);
                }
            }
            let should = arr(&body["should"]);
            let mut matched = 0;
            for c in &should {
                if let Some(s) = eval(c, src, ctx)? {
                    matched += 1;
                    score += s;
                }
            }
            let default_min = if body.get("must").is_some() || body.get("filter").is_some() {
                0
            } else {
                1
            };
            let min = body
                .get("minimum_should_match")
                .and_then(Value::as_u64)
                .unwrap_or(if should.is_empty() { 0 } else { default_min });
            Ok((matched as u64 >= min).then_some(score))
        }
        "term" | "terms" => {
            let (field, want) = body
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or("[emulator] malformed term")?;
            let want = match want.get("value") {
                Some(v) if name == "term" => vec![v.clone()],
                _ if name == "term" => vec![want.clone()],
                _ => arr(want),
            };
            let (base, kind) = resolve(ctx.mappings, field);
            let have: Vec<Value> = match &kind {
                Kind::Text(a) => values(src, &base)
                    .iter()
                    .flat_map(|v| analyze(a, &text_of(v)))
                    .map(Value::from)
                    .collect(),
                _ => values(src, &base),
            };
            let hit = have.iter().any(|h| {
                want.iter()
                    .any(|w| compare(&kind, h, w).is_eq() && (h.is_boolean() == w.is_boolean()))
            });
            Ok(hit.then_some(1.0))
        }
        "range" => {
            let (field, b) = body
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or("[emulator] malformed range")?;
            let (base, kind) = resolve(ctx.mappings, field);
            let bound = |k: &str| b.get(k).and_then(|v| number(&kind, v));
            let ok = values(src, &base).iter().any(|v| {
                let Some(x) = number(&kind, v) else {
                    return false;
                };
                bound("gte").is_none_or(|l| x >= l)
                    && bound("gt").is_none_or(|l| x > l)
                    && bound("lte").is_none_or(|h| x <= h)
                    && bound("lt").is_none_or(|h| x < h)
            });
            Ok(ok.then_some(1.0))
        }
        "exists" => {
            let field = body["field"].as_str().unwrap_or_default();
            let (base, _) = resolve(ctx.mappings, field);
            Ok((!values(src, &base).is_empty()).then_some(1.0))
        }
        "match" => {
            let (field, spec) = body
                .as_object()
                .and_then(|o| o.iter().next())
                .ok_or("[emulator] malformed match")?;
            let (query, and) = match spec {
                Value::String(s) => (s.clone(), false),
                o => (
                    o["query"].as_str().unwrap_or_default().to_string(),
                    o.get("operator").and_then(Value::as_str) == Some("and"),
                ),
            };
            let (score, hit, wanted) = ctx.bm25(src, field, &query);
            let ok = if and {
                hit == wanted && wanted > 0
            } else {
                hit > 0
            };
            Ok(ok.then_some(score))
        }
        "multi_match" => {
            let query = body["query"].as_str().unwrap_or_default();
            if body
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("best_fields")
                != "most_fields"
            {
                return Err("[emulator] only multi_match type most_fields is emulated".into());
            }
            let mut total = 0.0;
            let mut any = false;
            for f in arr(&body["fields"]) {
                let f = f.as_str().unwrap_or_default();
                let (field, boost) = match f.split_once('^') {
                    Some((n, b)) => (n, b.parse::<f64>().unwrap_or(1.0)),
                    None => (f, 1.0),
                };
                let (s, hit, _) = ctx.bm25(src, field, query);
                if hit > 0 {
                    any = true;
                    total += s * boost;
                }
            }
            Ok(any.then_some(total))
        }
        other => Err(format!("[emulator] query type [{other}] is not emulated")),
    }
}
