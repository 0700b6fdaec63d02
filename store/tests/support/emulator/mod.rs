//! An in-memory emulation of the Elasticsearch APIs the backend uses, served over HTTP on
//! a local port: index create and get/put mapping, index templates, `_bulk` (`create`,
//! `index`, scripted `update` with `upsert`), documents by id with `op_type=create` and
//! `if_seq_no`/`if_primary_term`, `_search`, `_count` and `_delete_by_query`.
//!
//! It follows Elasticsearch's documented request and response shapes and rejects anything
//! outside that subset with a 400, so the backend cannot silently rely on more. One lock
//! serialises requests, as a single-shard index orders writes; writes are visible at once.

pub mod aggs;
pub mod docs;
pub mod fields;
pub mod query;
pub mod search;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use quantumstate_store::Store;
use quantumstate_store::elastic::{ElasticConfig, ElasticStore, Refresh, RetryPolicy};
use serde_json::{Value, json};

/// The configuration tests use against a local server: refresh at once, fast retries.
pub fn test_config(url: &str) -> ElasticConfig {
    let mut cfg = ElasticConfig::new(url).unwrap();
    cfg.refresh = Refresh::Immediate;
    cfg.request_timeout = std::time::Duration::from_secs(10);
    cfg.retry = RetryPolicy {
        attempts: 3,
        base: std::time::Duration::from_millis(1),
        max: std::time::Duration::from_millis(5),
    };
    cfg
}

/// A status and a JSON body.
pub type Reply = (u16, Value);

/// An error answer in Elasticsearch's shape.
pub fn err(status: u16, ty: &str, reason: &str) -> Reply {
    let cause = json!({"type": ty, "reason": reason});
    (
        status,
        json!({"error": {"root_cause": [cause.clone()], "type": ty, "reason": reason}, "status": status}),
    )
}

/// One stored document.
#[derive(Clone, Debug)]
pub struct Doc {
    pub source: Value,
    pub seq_no: i64,
    pub version: i64,
}

/// One index: its mapping and documents.
#[derive(Debug, Default)]
pub struct Index {
    pub mappings: Value,
    pub settings: Value,
    pub docs: BTreeMap<String, Doc>,
    pub seq: i64,
}

#[derive(Default)]
pub struct State {
    pub indices: BTreeMap<String, Index>,
    pub templates: BTreeMap<String, Value>,
    /// Every exchange, in the fixtures' format (see `tests/fixtures/elasticsearch/README.md`).
    pub log: Vec<Value>,
    /// While set, every `update` in a `_bulk` is refused for load (429), as a cluster
    /// whose write queue is full refuses some items of a bulk and takes the others.
    pub refuse_bulk_updates: bool,
}

/// A running emulator.
#[derive(Clone)]
pub struct Emulator {
    pub state: Arc<Mutex<State>>,
    pub url: String,
}

impl Emulator {
    pub async fn start() -> Emulator {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let s = s.clone();
            async move { handle(&s, method, uri, body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Emulator { state, url }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(ElasticStore::new(&test_config(&self.url)).unwrap())
    }

    /// A stored `_source`, as another client would read it.
    pub fn source(&self, index: &str, id: &str) -> Option<Value> {
        let st = self.state.lock().unwrap();
        st.indices
            .get(index)?
            .docs
            .get(id)
            .map(|d| d.source.clone())
    }

    /// Every stored document of an index, by id.
    pub fn all(&self, index: &str) -> Vec<(String, Value)> {
        let st = self.state.lock().unwrap();
        st.indices
            .get(index)
            .map(|ix| {
                ix.docs
                    .iter()
                    .map(|(k, d)| (k.clone(), d.source.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn query_params(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(state: &Arc<Mutex<State>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let params = query_params(&uri);
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let text = String::from_utf8_lossy(&body).into_owned();
    let segs: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let seg: Vec<&str> = segs.iter().map(String::as_str).collect();
    let mut st = state.lock().unwrap();
    if let Some(bad) = params
        .iter()
        .map(|(k, _)| k.as_str())
        .find(|k| !COMMON.contains(k) && !accepted(method.as_str(), &seg).contains(k))
    {
        let reply = err(
            400,
            "illegal_argument_exception",
            &format!(
                "request [{}] contains unrecognized parameter: [{bad}]",
                uri.path()
            ),
        );
        return (StatusCode::BAD_REQUEST, axum::Json(reply.1)).into_response();
    }
    let json_body = || -> Result<Value, Reply> {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            err(
                400,
                "parse_exception",
                &format!("request body is not JSON: {e}"),
            )
        })
    };
    let reply: Reply = match (method.as_str(), seg.as_slice()) {
        ("POST", ["_bulk"]) => docs::bulk(&mut st, &text),
        ("PUT", ["_index_template", name]) => match json_body() {
            Ok(b) => {
                if st.templates.contains_key(*name) && param("create").as_deref() == Some("true") {
                    err(
                        400,
                        "illegal_argument_exception",
                        &format!("index template [{name}] already exists"),
                    )
                } else {
                    st.templates.insert(name.to_string(), b);
                    (200, json!({"acknowledged": true}))
                }
            }
            Err(e) => e,
        },
        ("DELETE", ["_index_template", name]) => match st.templates.remove(*name) {
            Some(_) => (200, json!({"acknowledged": true})),
            None => err(
                404,
                "resource_not_found_exception",
                &format!("index template matching [{name}] not found"),
            ),
        },
        ("PUT", [index]) => match json_body() {
            Ok(b) => docs::create_index(&mut st, index, &b),
            Err(e) => e,
        },
        ("DELETE", [index]) => match st.indices.remove(*index) {
            Some(_) => (200, json!({"acknowledged": true})),
            None => missing(index),
        },
        ("GET", [index, "_mapping"]) => match st.indices.get(*index) {
            Some(ix) => (200, json!({*index: {"mappings": ix.mappings}})),
            None => missing(index),
        },
        ("PUT", [index, "_mapping"]) => match (json_body(), st.indices.get_mut(*index)) {
            (Ok(b), Some(ix)) if fields::unknown_analyzer(&b, &ix.settings).is_some() => {
                let name = fields::unknown_analyzer(&b, &ix.settings).unwrap_or_default();
                err(
                    400,
                    "mapper_parsing_exception",
                    &format!("analyzer [{name}] has not been configured in mappings"),
                )
            }
            (Ok(b), Some(ix)) => {
                for (k, v) in b["properties"].as_object().into_iter().flatten() {
                    ix.mappings["properties"][k] = v.clone();
                }
                (200, json!({"acknowledged": true}))
            }
            (Err(e), _) => e,
            (_, None) => missing(index),
        },
        ("PUT" | "POST", [index, op @ ("_doc" | "_create"), id]) => match json_body() {
            Ok(b) => {
                let create = *op == "_create" || param("op_type").as_deref() == Some("create");
                let cond = match (param("if_seq_no"), param("if_primary_term")) {
                    (Some(s), Some(t)) => Some((s.parse().unwrap_or(-1), t.parse().unwrap_or(-1))),
                    _ => None,
                };
                docs::write(&mut st, index, id, b, create, cond)
            }
            Err(e) => e,
        },
        ("GET", [index, "_doc", id]) => docs::get(&st, index, id),
        ("GET" | "POST", [index, "_search"]) => match (json_body(), st.indices.get(*index)) {
            (Ok(b), Some(ix)) => search::search(index, ix, &b),
            (Err(e), _) => e,
            (_, None) => missing(index),
        },
        ("GET" | "POST", [index, "_count"]) => match (json_body(), st.indices.get(*index)) {
            (Ok(b), Some(ix)) => search::count(index, ix, &b),
            (Err(e), _) => e,
            (_, None) => missing(index),
        },
        ("POST", [index, "_delete_by_query"]) => match (json_body(), st.indices.get_mut(*index)) {
            (Ok(b), Some(ix)) => search::delete_by_query(index, ix, &b),
            (Err(e), _) => e,
            (_, None) => missing(index),
        },
        _ => err(
            400,
            "illegal_argument_exception",
            &format!("[emulator] {method} {} is not emulated", uri.path()),
        ),
    };
    let (status, out) = reply;
    let mut request = json!({"method": method.as_str(), "path": uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")});
    if seg.first() == Some(&"_bulk") {
        let lines: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        request["ndjson"] = json!(lines);
    } else if let Ok(b) = serde_json::from_str::<Value>(&text) {
        request["body"] = b;
    }
    st.log
        .push(json!({"request": request, "response": {"status": status, "body": out}}));
    (StatusCode::from_u16(status).unwrap(), axum::Json(out)).into_response()
}

/// URL parameters every API takes.
const COMMON: &[&str] = &["pretty", "human", "error_trace", "filter_path"];

/// The URL parameters each emulated API takes (a subset of the cluster's own lists); any
/// other is refused, as a cluster refuses it.
fn accepted(method: &str, seg: &[&str]) -> &'static [&'static str] {
    const BULK: &[&str] = &["refresh", "timeout", "wait_for_active_shards", "pipeline"];
    const TEMPLATE: &[&str] = &["create", "master_timeout", "cause"];
    const INDEX: &[&str] = &["timeout", "master_timeout", "wait_for_active_shards"];
    const DOC_WRITE: &[&str] = &[
        "refresh",
        "op_type",
        "if_seq_no",
        "if_primary_term",
        "timeout",
        "routing",
    ];
    const DOC_GET: &[&str] = &["realtime", "refresh", "routing", "_source", "preference"];
    const SEARCH: &[&str] = &[
        "typed_keys",
        "track_total_hits",
        "size",
        "from",
        "timeout",
        "preference",
        "allow_no_indices",
        "ignore_unavailable",
    ];
    const BY_QUERY: &[&str] = &[
        "refresh",
        "conflicts",
        "wait_for_completion",
        "slices",
        "timeout",
    ];
    match (method, seg) {
        (_, ["_bulk"]) => BULK,
        (_, ["_index_template", _]) => TEMPLATE,
        (_, [_]) | ("GET" | "PUT", [_, "_mapping"]) => INDEX,
        ("GET", [_, "_doc", _]) => DOC_GET,
        (_, [_, "_doc" | "_create", _]) => DOC_WRITE,
        (_, [_, "_search" | "_count"]) => SEARCH,
        (_, [_, "_delete_by_query"]) => BY_QUERY,
        _ => &[],
    }
}

pub fn missing(index: &str) -> Reply {
    let mut r = err(
        404,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
    );
    r.1["error"]["index"] = json!(index);
    r.1["error"]["resource.type"] = json!("index_or_alias");
    r.1["error"]["resource.id"] = json!(index);
    r
}
