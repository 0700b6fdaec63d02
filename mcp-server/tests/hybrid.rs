//! Hybrid search through the binary: with the model, find_similar_incidents says
//! `"retrieval": "hybrid"` and gives each hit's semantic part; without, `"lexical"`, never
//! silently. record_incident's `verified` comes from the server's own record of
//! verify_recovery, not from the caller. Needs the model (scripts/setup-model.sh); under
//! CI a missing model fails these tests instead of skipping them.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use chrono::{Duration, Utc};
use common::{Store, run};
use quantumstate_store::{AuditRecord, Outcome, SqliteStore, Store as _};
use serde_json::{Value, json};

fn model_dir() -> Option<PathBuf> {
    quantumstate_embed::installed_for_tests()
}

fn call(store: &Store, model: &std::path::Path, tool: &str, args: &Value) -> common::Run {
    run(
        store
            .command(["call", tool, &args.to_string()])
            .env("QS_EMBED_MODEL", model),
        None,
    )
}

#[test]
fn search_says_hybrid_with_the_model_and_lexical_without() {
    let Some(model) = model_dir() else { return };
    let store = Store::new();
    let r = run(store.command(["seed"]).env("QS_EMBED_MODEL", &model), None);
    assert_eq!(r.code, Some(0), "{r:?}");
    let q = json!({"description": "payments pod OOM killed during the month-end export"});
    let v = call(&store, &model, "find_similar_incidents", &q).json();
    assert_eq!(v["retrieval"], "hybrid", "{v}");
    let top = &v["incidents"][0];
    assert_eq!(top["service"], "payment-service", "{v}");
    assert!(
        top["why"]["semantic"].as_f64().is_some_and(|c| c > 0.3),
        "{top}"
    );
    assert!(top["why"]["lexical"].as_f64().is_some(), "{top}");
    let rb = call(
        &store,
        &model,
        "find_relevant_runbook",
        &json!({"description": "auth login errors: the sessions redis is unreachable"}),
    )
    .json();
    assert_eq!(rb["retrieval"], "hybrid", "{rb}");
    assert_eq!(rb["runbooks"][0]["id"], "rb-auth-cache-offline", "{rb}");

    // A directory without the model: lexical, said so, no semantic part.
    let none = store.dir().join("no-model");
    let v = call(&store, &none, "find_similar_incidents", &q).json();
    assert_eq!(v["retrieval"], "lexical", "{v}");
    assert!(v["incidents"][0]["why"]["semantic"].is_null(), "{v}");
}

#[test]
fn record_incident_is_verified_by_the_servers_record_not_the_caller() {
    let Some(model) = model_dir() else { return };
    let store = Store::new();
    store.seed();
    let started = (Utc::now() - Duration::minutes(10)).to_rfc3339();
    let args = json!({
        "service": "payment-service", "anomaly_type": "memory_leak_progressive",
        "title": "heap growth after a deploy", "root_cause": "a cache without eviction",
        "actions_taken": "restarted", "started_at": started, "runbook_id": "rb-heap-gc-thrashing"
    });
    let v = call(&store, &model, "record_incident", &args).json();
    assert!(
        v["incident"].get("verified").is_none(),
        "no verification ran: {v}"
    );
    assert_eq!(v["incident"]["runbook_id"], "rb-heap-gc-thrashing", "{v}");

    // A passing verify_recovery, as the tool records it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&store.db_file()).unwrap();
        s.put_audit(&AuditRecord {
            id: quantumstate_store::new_id("aud"),
            timestamp: Utc::now(),
            who: "stdio".into(),
            approved_by: None,
            tool: "verify_recovery".into(),
            arguments: json!({"service": "payment-service"}),
            dry_run: false,
            outcome: Outcome::Ok,
            service: Some("payment-service".into()),
            host: None,
            plan_id: None,
            detail: Some("passed: held 30 s of 30 s".into()),
            duration_ms: 0,
            repeats: None,
            first_seen: None,
        })
        .await
        .unwrap();
    });
    let v = call(&store, &model, "record_incident", &args).json();
    assert_eq!(v["incident"]["verified"], true, "{v}");
    // A runbook that does not exist is refused, nothing written.
    let bad = json!({"runbook_id": "rb-nope"});
    let mut args = args;
    args.as_object_mut()
        .unwrap()
        .extend(bad.as_object().unwrap().clone());
    let r = call(&store, &model, "record_incident", &args);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("no runbook") || r.stdout.contains("no runbook"),
        "{r:?}"
    );
}
