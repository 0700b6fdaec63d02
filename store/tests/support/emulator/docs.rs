//! Document writes: index creation (with matching templates), `_doc`/`_create` with
//! `op_type=create` and `if_seq_no`/`if_primary_term`, get by id, and `_bulk` with
//! per-item results (`create`, `index`, `delete`, scripted `update` with `upsert`).

use serde_json::{Value, json};

use super::{Doc, Index, Reply, State, err, missing};

fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(p) => name.starts_with(p),
        None => pattern == name,
    }
}

fn new_index(st: &State, name: &str) -> Index {
    let mut ix = Index {
        mappings: json!({"properties": {}}),
        settings: json!({}),
        ..Default::default()
    };
    for t in st.templates.values() {
        let hit = t["index_patterns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|p| pattern_matches(p, name));
        if hit && let Some(m) = t.pointer("/template/mappings") {
            ix.mappings = m.clone();
        }
    }
    ix
}

pub fn create_index(st: &mut State, name: &str, body: &Value) -> Reply {
    if st.indices.contains_key(name) {
        let mut r = err(
            400,
            "resource_already_exists_exception",
            &format!("index [{name}/Xq3s9kC1TdWm2bLw0eR8yA] already exists"),
        );
        r.1["error"]["index"] = json!(name);
        return r;
    }
    let settings = body.get("settings").cloned().unwrap_or(json!({}));
    if let Some(a) = body
        .get("mappings")
        .and_then(|m| super::fields::unknown_analyzer(m, &settings))
    {
        return err(
            400,
            "mapper_parsing_exception",
            &format!("analyzer [{a}] has not been configured in mappings"),
        );
    }
    let mut ix = new_index(st, name);
    if let Some(m) = body.get("mappings") {
        ix.mappings = m.clone();
    }
    ix.settings = body.get("settings").cloned().unwrap_or(json!({}));
    st.indices.insert(name.to_string(), ix);
    (
        200,
        json!({"acknowledged": true, "shards_acknowledged": true, "index": name}),
    )
}

fn conflict(index: &str, id: &str, reason: String) -> Reply {
    let mut r = err(
        409,
        "version_conflict_engine_exception",
        &format!("[{id}]: version conflict, {reason}"),
    );
    r.1["error"]["index"] = json!(index);
    r.1["error"]["shard"] = json!("0");
    r
}

/// Writes one document; `create` refuses an existing id, `cond` is (seq_no, primary_term).
pub fn write(
    st: &mut State,
    index: &str,
    id: &str,
    source: Value,
    create: bool,
    cond: Option<(i64, i64)>,
) -> Reply {
    if !st.indices.contains_key(index) {
        let ix = new_index(st, index);
        st.indices.insert(index.to_string(), ix);
    }
    let Some(ix) = st.indices.get_mut(index) else {
        return missing(index);
    };
    if !source.is_object() {
        return err(
            400,
            "document_parsing_exception",
            "[1:1] failed to parse: the document is not an object",
        );
    }
    if let Some(e) = type_error(&ix.mappings, &source) {
        return err(400, "document_parsing_exception", &e);
    }
    let existing = ix.docs.get(id).cloned();
    if create && let Some(d) = &existing {
        return conflict(
            index,
            id,
            format!("document already exists (current version [{}])", d.version),
        );
    }
    if let Some((s, t)) = cond {
        match &existing {
            Some(d) if d.seq_no == s && t == 1 => {}
            Some(d) => {
                return conflict(
                    index,
                    id,
                    format!(
                        "required seqNo [{s}], primary term [{t}]. current document has seqNo [{}] and primary term [1]",
                        d.seq_no
                    ),
                );
            }
            None => {
                return conflict(
                    index,
                    id,
                    format!("required seqNo [{s}], primary term [{t}]. but no document was found"),
                );
            }
        }
    }
    let version = existing.as_ref().map_or(1, |d| d.version + 1);
    let seq_no = ix.seq;
    ix.seq += 1;
    ix.docs.insert(
        id.to_string(),
        Doc {
            source,
            seq_no,
            version,
        },
    );
    let (status, result) = if existing.is_some() {
        (200, "updated")
    } else {
        (201, "created")
    };
    (
        status,
        json!({"_index": index, "_id": id, "_version": version, "result": result,
                    "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": seq_no, "_primary_term": 1}),
    )
}

/// A value that cannot go into a mapped numeric, boolean or date field.
fn type_error(mappings: &Value, src: &Value) -> Option<String> {
    for k in src.as_object()?.keys() {
        let ty = mappings
            .pointer(&format!("/properties/{}", k.replace('/', "~1")))
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let bad = super::fields::values(src, k).iter().any(|v| match ty {
            "long" | "integer" | "double" | "float" => !v.is_number(),
            "boolean" => !v.is_boolean(),
            "date" => super::fields::date_ms(v).is_none(),
            _ => false,
        });
        if bad {
            return Some(format!(
                "[1:1] failed to parse field [{k}] of type [{ty}] in document"
            ));
        }
    }
    None
}

pub fn get(st: &State, index: &str, id: &str) -> Reply {
    let Some(ix) = st.indices.get(index) else {
        return missing(index);
    };
    match ix.docs.get(id) {
        Some(d) => (
            200,
            json!({"_index": index, "_id": id, "_version": d.version,
                                "_seq_no": d.seq_no, "_primary_term": 1, "found": true, "_source": d.source}),
        ),
        None => (404, json!({"_index": index, "_id": id, "found": false})),
    }
}

/// The backend's rollup merge script, applied as documented for scripted updates.
/// What `qs:rollup-merge v2` does: count each sample time once. `false` is Painless's
/// `ctx.op = 'noop'` (every sample already counted).
fn merge_rollup(s: &mut Value, p: &Value) -> bool {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let mut seen: Vec<i64> = s["seen"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let mut added = 0;
    for x in p["samples"].as_array().into_iter().flatten() {
        let (Some(ts), Some(v)) = (x[0].as_i64(), x[1].as_f64()) else {
            continue;
        };
        if seen.contains(&ts) {
            continue;
        }
        seen.push(ts);
        added += 1;
        s["n"] = json!(s["n"].as_i64().unwrap_or(0) + 1);
        s["vsum"] = json!(f(s, "vsum") + v);
        if v < f(s, "vmin") {
            s["vmin"] = json!(v);
        }
        if v > f(s, "vmax") {
            s["vmax"] = json!(v);
        }
        if (ts as f64) < f(s, "first_ts") {
            s["vfirst"] = json!(v);
            s["first_ts"] = json!(ts);
        }
        if (ts as f64) >= f(s, "last_ts") {
            s["vlast"] = json!(v);
            s["last_ts"] = json!(ts);
        }
    }
    if added == 0 {
        return false;
    }
    s["seen"] = json!(seen);
    s["mean"] = json!(f(s, "vsum") / f(s, "n"));
    if p["scenario"].as_bool() == Some(true) {
        s["scenario"] = json!(true);
    }
    true
}

fn update(st: &mut State, index: &str, id: &str, body: &Value) -> Reply {
    let existing = st
        .indices
        .get(index)
        .and_then(|ix| ix.docs.get(id))
        .cloned();
    match existing {
        None => match body.get("upsert") {
            Some(u) => write(st, index, id, u.clone(), true, None),
            None => err(
                404,
                "document_missing_exception",
                &format!("[{id}]: document missing"),
            ),
        },
        Some(d) => {
            let script = &body["script"];
            let marker = script["source"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default();
            if marker != "// qs:rollup-merge v2" {
                return err(
                    400,
                    "illegal_argument_exception",
                    &format!("[emulator] script {marker:?} is not emulated"),
                );
            }
            let mut src = d.source.clone();
            if !merge_rollup(&mut src, &script["params"]) {
                return (
                    200,
                    json!({"_index": index, "_id": id, "result": "noop", "_seq_no": d.seq_no}),
                );
            }
            write(st, index, id, src, false, Some((d.seq_no, 1)))
        }
    }
}

pub fn bulk(st: &mut State, text: &str) -> Reply {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut items = Vec::new();
    let mut errors = false;
    while let Some(line) = lines.next() {
        let Ok(action) = serde_json::from_str::<Value>(line) else {
            return err(
                400,
                "illegal_argument_exception",
                "Malformed action/metadata line",
            );
        };
        let Some((op, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
            return err(
                400,
                "illegal_argument_exception",
                "Malformed action/metadata line",
            );
        };
        let index = meta["_index"].as_str().unwrap_or_default().to_string();
        let id = meta["_id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("auto-{}", items.len()));
        let (status, mut res) = if op == "delete" {
            match st
                .indices
                .get_mut(&index)
                .and_then(|ix| ix.docs.remove(&id))
            {
                Some(_) => (200, json!({"result": "deleted"})),
                None => (404, json!({"result": "not_found"})),
            }
        } else {
            let Some(src) = lines
                .next()
                .and_then(|l| serde_json::from_str::<Value>(l).ok())
            else {
                return err(
                    400,
                    "illegal_argument_exception",
                    "The bulk request must be terminated by a newline",
                );
            };
            match op.as_str() {
                "create" => write(st, &index, &id, src, true, None),
                "index" => write(st, &index, &id, src, false, None),
                "update" if st.refuse_bulk_updates => err(
                    429,
                    "es_rejected_execution_exception",
                    "rejected execution of coordinating operation [emulator: write queue full]",
                ),
                "update" => update(st, &index, &id, &src),
                other => err(
                    400,
                    "illegal_argument_exception",
                    &format!(
                        "Malformed action/metadata line, expected one of [create, delete, index, update] but found [{other}]"
                    ),
                ),
            }
        };
        if status >= 300 {
            errors = true;
            let e = res.get("error").cloned().unwrap_or(json!(null));
            res = json!({"_index": index, "_id": id, "status": status, "error": {
                "type": e["type"], "reason": e["reason"], "index_uuid": "Xq3s9kC1TdWm2bLw0eR8yA", "shard": "0", "index": index}});
        } else {
            res["status"] = json!(status);
        }
        items.push(json!({op.clone(): res}));
    }
    (200, json!({"took": 1, "errors": errors, "items": items}))
}
