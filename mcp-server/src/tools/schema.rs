//! Keeping `tools/list` small: it is sent to the model at the start of every session.
//! schemars writes `$defs`, `$ref`s, `anyOf [T, null]` for every `Option` and prose on
//! every enum variant; a model needs none of that. Input schemas are rewritten flat
//! (references inlined, enums as `enum` lists, optional fields simply not required),
//! keeping each argument's description and its constraints. Output schemas keep the
//! top level a client validates and a model reads (field names, types, nullability,
//! enum values) and describe nested values by their type only.

use serde_json::{Map, Value, json};

/// Compacts one tool's schemas in place.
pub fn compact_schemas(tool: &mut rmcp::model::Tool) {
    tool.input_schema = std::sync::Arc::new(input(&tool.input_schema));
    if let Some(out) = &tool.output_schema {
        tool.output_schema = Some(std::sync::Arc::new(output(out)));
    }
}

/// The `$defs` a schema's `$ref`s point into.
fn defs(root: &Map<String, Value>) -> Map<String, Value> {
    root.get("$defs")
        .or_else(|| root.get("definitions"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `v` with its `$ref` replaced by what it names (the referring schema's own keys,
/// such as its description, win).
fn resolve(v: &Value, defs: &Map<String, Value>) -> Map<String, Value> {
    let Some(m) = v.as_object() else {
        return Map::new(); // `true`: any value
    };
    let Some(target) = m
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .and_then(|name| defs.get(name))
    else {
        return m.clone();
    };
    let mut out = resolve(target, defs);
    for (k, x) in m.iter().filter(|(k, _)| *k != "$ref") {
        out.insert(k.clone(), x.clone());
    }
    out
}

/// A schema's alternatives (`anyOf`/`oneOf`), split into whether null is one of them
/// and the others, resolved.
fn alternatives(
    m: &Map<String, Value>,
    defs: &Map<String, Value>,
) -> Option<(bool, Vec<Map<String, Value>>)> {
    let alts = m
        .get("anyOf")
        .or_else(|| m.get("oneOf"))
        .and_then(Value::as_array)?;
    let alts: Vec<Map<String, Value>> = alts.iter().map(|a| resolve(a, defs)).collect();
    let null = alts.iter().any(is_null);
    Some((null, alts.into_iter().filter(|a| !is_null(a)).collect()))
}

fn is_null(m: &Map<String, Value>) -> bool {
    m.get("type") == Some(&json!("null"))
}

/// The values of alternatives that are all constants, or of an `enum`.
fn enum_values(m: &Map<String, Value>, alts: Option<&[Map<String, Value>]>) -> Option<Vec<Value>> {
    if let Some(e) = m.get("enum").and_then(Value::as_array) {
        return Some(e.clone());
    }
    let alts = alts?;
    let values: Vec<Value> = alts
        .iter()
        .filter_map(|a| a.get("const").cloned())
        .collect();
    (!alts.is_empty() && values.len() == alts.len()).then_some(values)
}

/// `type` without `null`; `None` when nothing is left.
fn non_null_type(t: Option<&Value>) -> Option<Value> {
    match t? {
        Value::Array(ts) => {
            let ts: Vec<Value> = ts.iter().filter(|t| *t != "null").cloned().collect();
            match ts.len() {
                0 => None,
                1 => ts.into_iter().next(),
                _ => Some(Value::Array(ts)),
            }
        }
        t if t == "null" => None,
        t => Some(t.clone()),
    }
}

fn is_nullable_type(t: Option<&Value>) -> bool {
    match t {
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
        _ => false,
    }
}

/// The input schema: an object of flat, described arguments.
fn input(root: &Map<String, Value>) -> Map<String, Value> {
    let d = defs(root);
    let mut out = Map::new();
    out.insert("type".into(), json!("object"));
    for key in ["required", "additionalProperties"] {
        if let Some(v) = root.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(props) = root.get("properties").and_then(Value::as_object) {
        let props = props.iter().map(|(k, v)| {
            let mut a = argument(v, &d);
            if SHARED.contains(&k.as_str())
                && let Some(a) = a.as_object_mut()
            {
                a.remove("description");
                a.remove("default");
            }
            (k.clone(), a)
        });
        out.insert("properties".into(), Value::Object(props.collect()));
    }
    out
}

/// Arguments every mutating tool takes, explained once in the server's instructions
/// instead of in each tool.
const SHARED: [&str; 2] = ["dry_run", "plan_id"];

/// One argument: its description, type or enum, default and bounds; nested objects
/// and arrays the same way, all the way down (a model fills them in).
fn argument(v: &Value, defs: &Map<String, Value>) -> Value {
    let m = resolve(v, defs);
    let mut out = Map::new();
    if let Some(d) = m.get("description") {
        out.insert("description".into(), d.clone());
    }
    let alts = alternatives(&m, defs);
    if let Some(values) = enum_values(&m, alts.as_ref().map(|(_, a)| a.as_slice())) {
        out.insert("enum".into(), Value::Array(values));
    } else if let Some((_, alts)) = &alts {
        if let [only] = alts.as_slice() {
            // `Option<T>`: T itself, under the outer description and default.
            let inner = argument(&Value::Object(only.clone()), defs);
            for (k, x) in inner.as_object().into_iter().flatten() {
                out.entry(k.clone()).or_insert_with(|| x.clone());
            }
        } else {
            let each = alts
                .iter()
                .map(|a| argument(&Value::Object(a.clone()), defs));
            out.insert("anyOf".into(), Value::Array(each.collect()));
        }
    } else if let Some(t) = non_null_type(m.get("type")) {
        out.insert("type".into(), t);
    }
    if let Some(d) = m.get("default").filter(|d| !d.is_null()) {
        out.insert("default".into(), d.clone());
    }
    for key in [
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "maxLength",
        "required",
    ] {
        if let Some(x) = m.get(key) {
            out.insert(key.into(), x.clone());
        }
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        let props = props.iter().map(|(k, p)| (k.clone(), argument(p, defs)));
        out.insert("properties".into(), Value::Object(props.collect()));
    }
    if let Some(items) = m.get("items") {
        out.insert("items".into(), argument(items, defs));
    }
    Value::Object(out)
}

/// The output schema: the top-level fields with their types.
fn output(root: &Map<String, Value>) -> Map<String, Value> {
    let d = defs(root);
    let mut out = Map::new();
    out.insert("type".into(), json!("object"));
    if let Some(props) = root.get("properties").and_then(Value::as_object) {
        let props = props.iter().map(|(k, v)| (k.clone(), field(v, &d)));
        out.insert("properties".into(), Value::Object(props.collect()));
    }
    out
}

/// One output field: its type (with `null` when it may be null), its values when it
/// is an enum, and an array's item type when the items are scalars.
fn field(v: &Value, defs: &Map<String, Value>) -> Value {
    let m = resolve(v, defs);
    let alts = alternatives(&m, defs);
    let nullable = alts.as_ref().is_some_and(|(n, _)| *n) || is_nullable_type(m.get("type"));
    let mut out = Map::new();
    if let Some(mut values) = enum_values(&m, alts.as_ref().map(|(_, a)| a.as_slice())) {
        if nullable && !values.contains(&Value::Null) {
            values.push(Value::Null);
        }
        out.insert("enum".into(), Value::Array(values));
        return Value::Object(out);
    }
    let base = match &alts {
        Some((_, alts)) => match alts.as_slice() {
            [only] => only.clone(),
            _ => return json!({}), // several shapes: any value
        },
        None => m,
    };
    let Some(t) = non_null_type(base.get("type")) else {
        return json!({});
    };
    if t == "array"
        && let Some(items) = base.get("items")
    {
        let items = resolve(items, defs);
        if let Some(it) = non_null_type(items.get("type")).filter(|t| t != "object" && t != "array")
        {
            out.insert("items".into(), json!({ "type": it }));
        }
    }
    let t = match (nullable, t) {
        (true, Value::Array(mut ts)) => {
            ts.push(json!("null"));
            Value::Array(ts)
        }
        (true, t) => json!([t, "null"]),
        (false, t) => t,
    };
    out.insert("type".into(), t);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_enum_arguments_become_flat_enums_under_their_own_description() {
        let root = json!({
            "type": "object",
            "$defs": {"Agg": {"description": "prose", "type": "string", "enum": ["avg", "max"]}},
            "properties": {
                "aggregation": {"description": "How.", "anyOf": [{"$ref": "#/$defs/Agg"}, {"type": "null"}]},
                "window": {"description": "How far.", "type": ["string", "null"]},
            },
            "required": [],
        });
        let out = input(root.as_object().unwrap());
        assert_eq!(
            out["properties"]["aggregation"],
            json!({"description": "How.", "enum": ["avg", "max"]})
        );
        assert_eq!(
            out["properties"]["window"],
            json!({"description": "How far.", "type": "string"})
        );
        assert!(!out.contains_key("$defs"));
    }

    #[test]
    fn output_fields_keep_nullability_and_enum_values() {
        let root = json!({
            "type": "object",
            "$defs": {
                "Plan": {"type": "object", "properties": {"id": {"type": "string"}}},
                "Res": {"oneOf": [{"const": "raw", "type": "string"}, {"const": "rollup1m", "type": "string"}]},
            },
            "properties": {
                "plan": {"anyOf": [{"$ref": "#/$defs/Plan"}, {"type": "null"}]},
                "resolution": {"$ref": "#/$defs/Res"},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "names": {"type": "array", "items": {"type": "string"}},
                "plans": {"type": "array", "items": {"$ref": "#/$defs/Plan"}},
            },
        });
        let out = output(root.as_object().unwrap());
        let p = &out["properties"];
        assert_eq!(p["plan"], json!({"type": ["object", "null"]}));
        assert_eq!(p["resolution"], json!({"enum": ["raw", "rollup1m"]}));
        assert_eq!(p["when"], json!({"type": ["string", "null"]}));
        assert_eq!(
            p["names"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(p["plans"], json!({"type": "array"}));
    }
}
