//! Explicit mappings for the nine collection indices and the internal ones, the index
//! templates for metrics and logs, and the comparison that refuses to clobber an index.
//!
//! Keywords for everything filtered on exactly (service, level, metric_type, status...),
//! dates for times, English-analysed text for prose, with `.keyword` and `.words`
//! sub-fields where a filter or the similarity search needs them.

use serde_json::{Map, Value, json};

use crate::model::Collection;

/// Every index the backend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Idx {
    C(Collection),
    /// One-minute rollups of metrics, kept current on ingest (the SQLite `metric_rollups`).
    Rollups,
    Budgets,
    Faults,
    Starts,
    Plans,
    Tasks,
}

impl Idx {
    pub fn base(self) -> &'static str {
        match self {
            Idx::C(c) => c.name(),
            Idx::Rollups => "quantumstate-internal-metric-rollups",
            Idx::Budgets => "quantumstate-internal-budgets",
            Idx::Faults => "quantumstate-internal-faults",
            Idx::Starts => "quantumstate-internal-container-starts",
            Idx::Plans => "quantumstate-internal-plans",
            Idx::Tasks => "quantumstate-internal-tasks",
        }
    }

    pub fn name(self, prefix: &str) -> String {
        format!("{prefix}{}", self.base())
    }

    pub const ALL: [Idx; 15] = [
        Idx::C(Collection::Metrics),
        Idx::C(Collection::Logs),
        Idx::C(Collection::Incidents),
        Idx::C(Collection::Decisions),
        Idx::C(Collection::Actions),
        Idx::C(Collection::Results),
        Idx::C(Collection::Runbooks),
        Idx::C(Collection::Deployments),
        Idx::C(Collection::Audit),
        Idx::Rollups,
        Idx::Budgets,
        Idx::Faults,
        Idx::Starts,
        Idx::Plans,
        Idx::Tasks,
    ];

    /// The index template (name, body) for metrics and logs, which other writers and
    /// rolled-over indices (`metrics-quantumstate-000002`) pick up too.
    pub fn template(self, prefix: &str) -> Option<(String, Value)> {
        let short = match self {
            Idx::C(Collection::Metrics) => "metrics",
            Idx::C(Collection::Logs) => "logs",
            _ => return None,
        };
        Some((
            format!("{prefix}quantumstate-{short}"),
            json!({
                "index_patterns": [format!("{}*", self.name(prefix))],
                "priority": 200,
                "template": {"mappings": self.mappings()},
                "_meta": {"managed_by": "quantumstate"}
            }),
        ))
    }

    /// The body of `PUT /{index}`.
    pub fn create_body(self) -> Value {
        let mut body = json!({"mappings": self.mappings()});
        if matches!(
            self,
            Idx::C(Collection::Incidents) | Idx::C(Collection::Runbooks)
        ) {
            body["settings"] = json!({"analysis": {"analyzer": {"qs_words": {
                "type": "pattern", "pattern": "[^\\p{L}\\p{N}]+", "lowercase": true
            }}}});
        }
        body
    }

    pub fn mappings(self) -> Value {
        let props = match self {
            Idx::C(Collection::Metrics) => json!({
                "@timestamp": date(), "service": kw(), "region": kw(), "metric_type": kw(),
                "value": {"type": "double"}, "unit": kw(), "source": kw()
            }),
            Idx::C(Collection::Logs) => json!({
                "@timestamp": date(), "service": kw(), "region": kw(), "level": kw(),
                "message": text_kw(), "trace_id": kw(), "error_code": kw(), "source": kw()
            }),
            Idx::C(Collection::Incidents) => json!({
                "id": kw(), "@timestamp": date(), "service": kw_words(), "region": kw(),
                "anomaly_type": kw_words(), "title": text_kw(), "description": text(),
                "root_cause": text(), "actions_taken": text(), "resolved_at": date(),
                "mttr_seconds": {"type": "long"}, "status": kw(), "source": kw(),
                "alert": opaque(),
                (super::vectors::FIELD): super::vectors::mapping()
            }),
            Idx::C(Collection::Decisions) => json!({
                "id": kw(), "@timestamp": date(), "agent": kw(), "decision": text(),
                "confidence": {"type": "integer"}, "service": kw(), "context": opaque()
            }),
            Idx::C(Collection::Actions) => json!({
                "exec_id": kw(), "@timestamp": date(), "incident_id": kw(), "service": kw(),
                "action": kw(), "status": kw(), "runner_started_at": date(),
                "runner_output": text(), "executed_at": date(), "requested_by": kw(),
                "attempts": {"type": "integer"}, "runner_id": kw(), "lease_until": date(),
                "params": opaque(), "intent": opaque()
            }),
            Idx::C(Collection::Results) => json!({
                "exec_id": kw(), "@timestamp": date(), "incident_id": kw(), "service": kw(),
                "action": kw(), "status": kw(), "runner_started_at": date(),
                "runner_output": text(), "executed_at": date(), "docker_used": {"type": "boolean"}
            }),
            Idx::C(Collection::Runbooks) => json!({
                "id": kw(), "title": text_kw(), "service": kw_words(),
                "anomaly_types": kw_words(), "symptoms": text(), "diagnosis": text(),
                "steps": text(), "action": kw(), "verification": text(),
                (super::vectors::FIELD): super::vectors::mapping()
            }),
            Idx::C(Collection::Deployments) => json!({
                "id": kw(), "service": kw(), "from_version": kw(), "to_version": kw(),
                "image": kw(), "at": date(), "by": kw(), "reason": text()
            }),
            Idx::C(Collection::Audit) => json!({
                "id": kw(), "@timestamp": date(), "who": kw(), "approved_by": kw(), "repeats": long(), "first_seen": date(), "tool": kw(),
                "arguments": opaque(), "dry_run": {"type": "boolean"}, "outcome": kw(),
                "service": kw(), "host": kw(), "plan_id": kw(), "detail": text(),
                "duration_ms": {"type": "long"}
            }),
            Idx::Rollups => json!({
                "@timestamp": date(), "service": kw(), "region": kw(), "metric_type": kw(),
                "unit": kw(), "n": {"type": "long"}, "vsum": dbl(), "vmin": dbl(),
                "vmax": dbl(), "vfirst": dbl(), "first_ts": {"type": "long"}, "vlast": dbl(),
                "last_ts": {"type": "long"}, "mean": dbl(), "scenario": {"type": "boolean"},
                "seen": {"type": "long", "index": false, "doc_values": false}
            }),
            Idx::Budgets => json!({"key": kw(), "uses": {"type": "long"}}),
            Idx::Tasks => json!({
                "id": kw(), "@timestamp": date(), "updated_at": date(), "ttl_ms": {"type": "long"},
                "tool": kw(), "arguments": opaque(), "caller": kw(), "scopes": kw(), "surface": kw(),
                "status": kw(), "status_message": text(), "plan_id": kw(),
                "cancel_requested": {"type": "boolean"}, "started_acting": {"type": "boolean"},
                "result": opaque(), "error": opaque()
            }),
            Idx::Plans => json!({
                "id": kw(), "@timestamp": date(), "expires_at": date(), "tool": kw(),
                "arguments": opaque(), "service": kw(), "targets": opaque(), "requester": kw(),
                "operations": text(), "expected_downtime_seconds": {"type": "long"},
                "takes_capacity": {"type": "boolean"}, "status": kw(), "decided_by": kw(),
                "decided_at": date(), "note": text(), "used_at": date()
            }),
            Idx::Faults => json!({
                "id": kw(), "service": kw(), "kind": kw(), "started_at": date(),
                "expires_at": date(), "undo": opaque(), "state": kw(), "detail": text()
            }),
            Idx::Starts => json!({
                "service": kw(), "started_at": date(), "restarts": {"type": "long"}
            }),
        };
        json!({ "properties": props })
    }
}

fn kw() -> Value {
    json!({"type": "keyword"})
}
fn date() -> Value {
    json!({"type": "date"})
}
fn long() -> Value {
    json!({"type": "long"})
}
fn dbl() -> Value {
    json!({"type": "double"})
}
fn text() -> Value {
    json!({"type": "text", "analyzer": "english"})
}
fn text_kw() -> Value {
    json!({"type": "text", "analyzer": "english",
           "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}})
}
/// Fields added to an index someone else created: our own analyzer (`qs_words`) exists only
/// in the indices we create, and a real cluster refuses a mapping naming an analyzer the
/// index lacks (`mapper_parsing_exception`), so such fields use the built-in `simple`.
pub fn for_existing_index(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "analyzer" && x == "qs_words" {
                        *x = Value::from("simple");
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// A keyword with a `.words` sub-field, so `payment-service` and `memory_leak_progressive`
/// also match the words `payment` and `memory leak`.
fn kw_words() -> Value {
    json!({"type": "keyword", "fields": {"words": {"type": "text", "analyzer": "qs_words"}}})
}
/// Free JSON, stored but not indexed, so any shape is accepted.
fn opaque() -> Value {
    json!({"type": "object", "enabled": false})
}

/// What comparing an existing index's mapping with ours found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct MappingDiff {
    /// `field: has X, needs Y` for each field whose type differs.
    pub conflicts: Vec<String>,
    /// Fields (or sub-fields) the index lacks; adding them changes nothing existing.
    pub additions: Map<String, Value>,
    /// Fields of type `semantic_text` the cluster has on this index.
    pub semantic: Vec<String>,
}

fn type_of(spec: &Value) -> &str {
    spec.get("type").and_then(Value::as_str).unwrap_or("object")
}

/// Compares `have` (an index's `mappings`) with `want`.
pub(crate) fn compare(want: &Value, have: &Value) -> MappingDiff {
    let mut d = MappingDiff::default();
    let empty = Map::new();
    let have_props = have
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (field, h) in have_props {
        if type_of(h) == "semantic_text" {
            d.semantic.push(field.clone());
        }
    }
    let Some(want_props) = want.get("properties").and_then(Value::as_object) else {
        return d;
    };
    for (field, w) in want_props {
        let Some(h) = have_props.get(field) else {
            d.additions.insert(field.clone(), w.clone());
            continue;
        };
        if type_of(h) != type_of(w) {
            d.conflicts.push(format!(
                "{field}: is {}, QuantumState needs {}",
                type_of(h),
                type_of(w)
            ));
            continue;
        }
        let Some(want_sub) = w.get("fields").and_then(Value::as_object) else {
            continue;
        };
        let have_sub = h.get("fields").and_then(Value::as_object);
        let mut merged = h.clone();
        let mut changed = false;
        for (sub, ws) in want_sub {
            match have_sub.and_then(|m| m.get(sub)) {
                None => {
                    merged["fields"][sub] = ws.clone();
                    changed = true;
                }
                Some(hs) if type_of(hs) != type_of(ws) => d.conflicts.push(format!(
                    "{field}.{sub}: is {}, QuantumState needs {}",
                    type_of(hs),
                    type_of(ws)
                )),
                Some(_) => {}
            }
        }
        if changed {
            d.additions.insert(field.clone(), merged);
        }
    }
    d.conflicts.sort();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_mappings_have_no_difference() {
        for idx in Idx::ALL {
            let d = compare(&idx.mappings(), &idx.mappings());
            assert_eq!(d, MappingDiff::default(), "{idx:?}");
        }
    }

    #[test]
    fn differences_and_additions_are_reported() {
        let want = Idx::C(Collection::Logs).mappings();
        let have = json!({"properties": {
            "@timestamp": {"type": "date"},
            "service": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "level": {"type": "keyword"},
            "message": {"type": "text"},
            "vector": {"type": "semantic_text", "inference_id": "e5"}
        }});
        let d = compare(&want, &have);
        assert_eq!(
            d.conflicts,
            vec!["service: is text, QuantumState needs keyword"]
        );
        assert!(d.additions.contains_key("error_code"));
        assert_eq!(
            d.additions["message"]["fields"]["keyword"]["type"],
            json!("keyword")
        );
        assert_eq!(d.semantic, vec!["vector"]);
    }
}
