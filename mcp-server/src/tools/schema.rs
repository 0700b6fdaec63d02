//! Keeping `tools/list` small (it is sent to the model on every session): output schemas
//! keep their structure but drop prose, and no schema repeats `$schema` or `default: null`.

/// Compacts one tool's schemas in place.
pub fn compact_schemas(tool: &mut rmcp::model::Tool) {
    fn strip(v: &mut serde_json::Value, prose: bool) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("$schema");
                if prose {
                    m.remove("description");
                    m.remove("title");
                }
                if m.get("default").is_some_and(serde_json::Value::is_null) {
                    m.remove("default");
                }
                // Numeric formats (int64, uint8, double...) say nothing a model needs.
                if m.get("format")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|f| f != "date-time")
                {
                    m.remove("format");
                    if prose {
                        m.remove("minimum");
                        m.remove("maximum");
                    }
                }
                for (k, child) in m.iter_mut() {
                    // A property *named* description or title is data, not prose.
                    // `true` (any value) as a subschema is valid but strict validators flag
                    // it; `{}` says the same.
                    if (k == "items" || k == "additionalItems")
                        && *child == serde_json::Value::Bool(true)
                    {
                        *child = serde_json::json!({});
                    }
                    if k != "properties" || !prose {
                        if k == "properties"
                            && let serde_json::Value::Object(props) = child
                        {
                            for p in props
                                .values_mut()
                                .filter(|p| **p == serde_json::Value::Bool(true))
                            {
                                *p = serde_json::json!({});
                            }
                        }
                        strip(child, prose);
                    } else if let serde_json::Value::Object(props) = child {
                        for p in props.values_mut() {
                            if *p == serde_json::Value::Bool(true) {
                                *p = serde_json::json!({});
                            }
                            strip(p, prose);
                        }
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| strip(x, prose)),
            _ => {}
        }
    }
    let mut input = serde_json::Value::Object((*tool.input_schema).clone());
    strip(&mut input, false);
    if let serde_json::Value::Object(m) = input {
        tool.input_schema = std::sync::Arc::new(m);
    }
    if let Some(out) = &tool.output_schema {
        let mut v = serde_json::Value::Object((**out).clone());
        strip(&mut v, true);
        if let serde_json::Value::Object(m) = v {
            tool.output_schema = Some(std::sync::Arc::new(m));
        }
    }
}
