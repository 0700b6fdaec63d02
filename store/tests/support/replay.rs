//! A strict replay server for recorded exchanges (`tests/fixtures/elasticsearch/*.json`):
//! each request must match the next exchange's method, path with query string, chosen
//! headers and JSON body exactly, apart from the placeholders the README describes.
//! A mismatch is answered with a 500 and reported by [`Replay::finish`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Default)]
struct State {
    /// (fixture name, exchange).
    script: Vec<(String, Value)>,
    next: usize,
    mismatches: Vec<String>,
}

/// A running replay of one or more fixtures, in order.
pub struct Replay {
    state: Arc<Mutex<State>>,
    pub url: String,
}

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/elasticsearch")
}

/// Loads a fixture by name and checks its shape.
pub fn load(name: &str) -> Value {
    let path = fixture_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        v["operation"].as_str(),
        Some(name),
        "{}: operation must be the file name",
        path.display()
    );
    assert!(
        v["exchanges"].as_array().is_some_and(|a| !a.is_empty()),
        "{name}: no exchanges"
    );
    v
}

impl Replay {
    pub async fn start(fixtures: &[&str]) -> Replay {
        let mut script = Vec::new();
        for f in fixtures {
            for x in load(f)["exchanges"].as_array().into_iter().flatten() {
                script.push((f.to_string(), x.clone()));
            }
        }
        let state = Arc::new(Mutex::new(State {
            script,
            ..Default::default()
        }));
        let s = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move { answer(&s, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Replay { state, url }
    }

    /// Panics unless every exchange was used and every request matched.
    pub fn finish(&self) {
        let st = self.state.lock().unwrap();
        assert!(
            st.mismatches.is_empty(),
            "requests did not match the fixtures:\n{}",
            st.mismatches.join("\n\n")
        );
        assert_eq!(
            st.next,
            st.script.len(),
            "{} exchange(s) never requested, next: {}",
            st.script.len() - st.next,
            st.script
                .get(st.next)
                .map(|(f, x)| format!("{f}: {}", x["request"]))
                .unwrap_or_default()
        );
    }
}

fn answer(
    state: &Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = state.lock().unwrap();
    let got = format!(
        "{method} {}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let Some((fixture, x)) = st.script.get(st.next).cloned() else {
        st.mismatches
            .push(format!("unexpected request after the last exchange: {got}"));
        return fail("no exchange left");
    };
    let req = &x["request"];
    let problem = check(req, &method, &uri, &headers, &body);
    if let Some(p) = problem {
        let n = st.next;
        st.mismatches.push(format!(
            "{fixture} exchange {n}: {p}\n  got: {got}\n  body: {}",
            String::from_utf8_lossy(&body)
        ));
        return fail(&p);
    }
    st.next += 1;
    let resp = &x["response"];
    let status = StatusCode::from_u16(resp["status"].as_u64().unwrap_or(200) as u16).unwrap();
    match &resp["body"] {
        Value::Null => status.into_response(),
        Value::String(s) => (status, s.clone()).into_response(),
        b => (status, axum::Json(b.clone())).into_response(),
    }
}

fn fail(reason: &str) -> Response {
    let body = json!({"error": {"type": "replay_mismatch", "reason": reason}, "status": 500});
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

fn check(
    req: &Value,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<String> {
    if req["method"].as_str() != Some(method.as_str()) {
        return Some(format!("method: want {}", req["method"]));
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let want = req["path"].as_str().unwrap_or_default();
    if !path_matches(want, path) {
        return Some(format!("path: want {want}"));
    }
    for (k, v) in req["headers"].as_object().into_iter().flatten() {
        let have = headers.get(k.as_str()).and_then(|h| h.to_str().ok());
        if have != v.as_str() {
            return Some(format!("header {k}: want {v}, got {have:?}"));
        }
    }
    let text = String::from_utf8_lossy(body);
    if let Some(want) = req.get("body") {
        let got: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => return Some(format!("body is not JSON ({e})")),
        };
        return json_match(want, &got, "$").err();
    }
    if let Some(want) = req.get("ndjson").and_then(Value::as_array) {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() != want.len() {
            return Some(format!(
                "ndjson: want {} lines, got {}",
                want.len(),
                lines.len()
            ));
        }
        for (i, (w, l)) in want.iter().zip(lines).enumerate() {
            let got: Value = match serde_json::from_str(l) {
                Ok(v) => v,
                Err(e) => return Some(format!("ndjson line {i} is not JSON ({e})")),
            };
            if let Err(e) = json_match(w, &got, &format!("line {i}")) {
                return Some(e);
            }
        }
        return None;
    }
    (!text.trim().is_empty()).then(|| "want no body".to_string())
}

/// `{{any}}` in a fixture path stands for any run of characters other than `/ ? &`.
fn path_matches(want: &str, got: &str) -> bool {
    let mut parts = want.split("{{any}}");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = got.strip_prefix(first) else {
        return false;
    };
    for p in parts {
        let end = rest.find(['/', '?', '&']).unwrap_or(rest.len());
        let (_, tail) = rest.split_at(end);
        match tail.strip_prefix(p) {
            Some(t) if !p.is_empty() || tail.is_empty() => rest = t,
            _ => return false,
        }
    }
    rest.is_empty()
}

/// Exact JSON equality, except the placeholder strings `{{any}}` (any value) and
/// `{{timestamp}}` (an RFC 3339 string or epoch milliseconds).
pub fn json_match(want: &Value, got: &Value, at: &str) -> Result<(), String> {
    match (want, got) {
        (Value::String(w), _) if w == "{{any}}" => Ok(()),
        (Value::String(w), g) if w == "{{timestamp}}" => {
            let ok = g.is_i64()
                || g.as_str()
                    .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok());
            if ok {
                Ok(())
            } else {
                Err(format!("{at}: want a timestamp, got {g}"))
            }
        }
        (Value::Object(w), Value::Object(g)) => {
            for k in w.keys().chain(g.keys()) {
                match (w.get(k), g.get(k)) {
                    (Some(a), Some(b)) => json_match(a, b, &format!("{at}.{k}"))?,
                    (Some(_), None) => return Err(format!("{at}.{k}: missing")),
                    (None, Some(b)) => return Err(format!("{at}.{k}: unexpected {b}")),
                    (None, None) => {}
                }
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!(
                    "{at}: want {} items, got {}: {got}",
                    w.len(),
                    g.len()
                ));
            }
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                json_match(a, b, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{at}: want {a}, got {b}")),
    }
}
