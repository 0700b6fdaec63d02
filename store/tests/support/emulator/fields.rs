//! Field resolution against an index mapping (sub-fields such as `service.words` and
//! `title.keyword`), the values a document holds for a field, text analysis, and the
//! comparison rules sorting and ranges use.

use std::cmp::Ordering;

use serde_json::Value;

/// How a field is indexed.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Keyword,
    /// Analysed text with the named analyzer.
    Text(String),
    Date,
    Number,
    Bool,
    /// Not mapped: behaves like dynamic mapping would (strings as keywords).
    Unmapped,
}

/// The source field behind a (possibly sub-) field name, and how it is indexed.
pub fn resolve(mappings: &Value, field: &str) -> (String, Kind) {
    let props = &mappings["properties"];
    if let Some(spec) = props.get(field) {
        return (field.to_string(), kind_of(spec));
    }
    if let Some((base, sub)) = field.split_once('.')
        && let Some(spec) = props
            .get(base)
            .and_then(|s| s.get("fields"))
            .and_then(|f| f.get(sub))
    {
        return (base.to_string(), kind_of(spec));
    }
    (field.to_string(), Kind::Unmapped)
}

fn kind_of(spec: &Value) -> Kind {
    match spec.get("type").and_then(Value::as_str).unwrap_or("object") {
        "keyword" => Kind::Keyword,
        "text" => Kind::Text(
            spec.get("analyzer")
                .and_then(Value::as_str)
                .unwrap_or("standard")
                .to_string(),
        ),
        "date" => Kind::Date,
        "long" | "integer" | "short" | "byte" | "double" | "float" => Kind::Number,
        "boolean" => Kind::Bool,
        _ => Kind::Unmapped,
    }
}

/// The non-null values of `field` in `source` (arrays flattened).
pub fn values(source: &Value, field: &str) -> Vec<Value> {
    match source.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter(|v| !v.is_null()).cloned().collect(),
        Some(v) => vec![v.clone()],
    }
}

/// A date as epoch milliseconds (RFC 3339 text or a number).
pub fn date_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| f as i64),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis())
            .or_else(|| s.parse::<i64>().ok()),
        _ => None,
    }
}

/// A value as a number for ranges and numeric aggregations.
pub fn number(kind: &Kind, v: &Value) -> Option<f64> {
    match kind {
        Kind::Date => date_ms(v).map(|m| m as f64),
        _ => match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::String(s) => s.parse().ok(),
            _ => None,
        },
    }
}

/// Orders two values of one field.
pub fn compare(kind: &Kind, a: &Value, b: &Value) -> Ordering {
    match (number(kind, a), number(kind, b)) {
        (Some(x), Some(y))
            if !matches!(kind, Kind::Keyword | Kind::Unmapped)
                || (a.is_number() && b.is_number()) =>
        {
            x.total_cmp(&y)
        }
        _ => text_of(a).cmp(&text_of(b)),
    }
}

pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The Lucene English stop words (`_english_`).
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Tokens of `text` under `analyzer`: `standard` (lowercased words, `_` joins), `english`
/// (standard, minus stop words, stemmed), `qs_words` (split on anything not a letter or digit)
/// and `keyword` (the whole value).
pub fn analyze(analyzer: &str, text: &str) -> Vec<String> {
    let words = |split_underscore: bool| -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || (!split_underscore && c == '_')))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    match analyzer {
        "keyword" => vec![text.to_string()],
        "qs_words" => words(true),
        "simple" => text
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect(),
        "english" => words(false)
            .into_iter()
            .filter(|w| !STOP.contains(&w.as_str()))
            .map(|w| stem(&w))
            .collect(),
        _ => words(false),
    }
}

fn is_vowel(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => true,
        b'y' => i > 0 && !is_vowel(w, i - 1),
        _ => false,
    }
}

fn has_vowel(w: &str) -> bool {
    let b = w.as_bytes();
    (0..b.len()).any(|i| is_vowel(b, i))
}

/// A small Porter-style stemmer (steps 1a–1c): enough for the plural, `-ed` and `-ing`
/// forms incident prose uses; the real cluster runs the full English analyzer.
pub fn stem(w: &str) -> String {
    if w.len() <= 3 || !w.is_ascii() {
        return w.to_string();
    }
    let mut s = w.to_string();
    if s.ends_with("sses") || s.ends_with("ies") {
        s.truncate(s.len() - 2);
    } else if s.ends_with('s') && !s.ends_with("ss") && !s.ends_with("us") {
        s.pop();
    }
    if s.ends_with("eed") {
        s.pop();
    } else {
        for suf in ["ing", "ed"] {
            if let Some(base) = s.strip_suffix(suf)
                && has_vowel(base)
                && base.len() >= 2
            {
                s = base.to_string();
                let b = s.as_bytes();
                let n = b.len();
                if s.ends_with("at") || s.ends_with("bl") || s.ends_with("iz") {
                    s.push('e');
                } else if n >= 2 && b[n - 1] == b[n - 2] && !b"aeioulsz".contains(&b[n - 1]) {
                    s.pop();
                }
                break;
            }
        }
    }
    if s.ends_with('y') && s.len() > 2 && has_vowel(&s[..s.len() - 1]) {
        s.pop();
        s.push('i');
    }
    s
}

/// Analyzers Elasticsearch has without configuration.
const BUILT_IN: [&str; 8] = [
    "standard",
    "simple",
    "whitespace",
    "stop",
    "keyword",
    "pattern",
    "english",
    "fingerprint",
];

/// The first analyzer a mapping names that is neither built in nor defined in the index's
/// settings (a real cluster refuses such a mapping).
pub fn unknown_analyzer(mapping: &Value, settings: &Value) -> Option<String> {
    let defined = |n: &str| {
        BUILT_IN.contains(&n)
            || settings["analysis"]["analyzer"].get(n).is_some()
            || settings["index"]["analysis"]["analyzer"].get(n).is_some()
    };
    match mapping {
        Value::Object(m) => m.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("analyzer" | "search_analyzer", Value::String(n)) if !defined(n) => Some(n.clone()),
            _ => unknown_analyzer(v, settings),
        }),
        Value::Array(a) => a.iter().find_map(|v| unknown_analyzer(v, settings)),
        _ => None,
    }
}
