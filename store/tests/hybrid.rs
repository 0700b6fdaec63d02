//! Hybrid retrieval on the real model: the on-call evaluation set (eval/retrieval.json)
//! against the seeded corpus, lexical vs hybrid, held to the targets; vectors written
//! with documents, filled in for documents written without a model, and outcomes that
//! rank verified fixes first. Needs the model (scripts/setup-model.sh installs it);
//! under CI a missing model fails these tests instead of skipping them.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use quantumstate_store::{
    Embedder, Fusion, Retrieval, SimilarQuery, SqliteStore, Store, eval, seed,
};

fn model_dir() -> Option<PathBuf> {
    quantumstate_embed::installed_for_tests()
}

async fn seeded(dir: &tempfile::TempDir, model: Option<PathBuf>) -> SqliteStore {
    let embedder = model.map(|m| Arc::new(Embedder::new(m)));
    let s = SqliteStore::open_with(&dir.path().join("q.db"), embedder).unwrap();
    seed::seed(&s, Utc::now()).await.unwrap();
    s
}

fn q(text: &str) -> SimilarQuery {
    SimilarQuery {
        description: text.into(),
        limit: 5,
        aliases: eval::eval_set().unwrap().aliases,
        ..SimilarQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_beats_lexical_on_the_on_call_evaluation_set() {
    let Some(model) = model_dir() else { return };
    let set = eval::eval_set().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hybrid = seeded(&dir, Some(model)).await;
    let lexical = SqliteStore::open(&dir.path().join("q.db")).unwrap();
    let lex = eval::incidents(&lexical, &set, Fusion::Auto).await.unwrap();
    let hyb = eval::incidents(&hybrid, &set, Fusion::Auto).await.unwrap();
    let lex_rb = eval::runbooks(&lexical, &set, Fusion::Auto).await.unwrap();
    let hyb_rb = eval::runbooks(&hybrid, &set, Fusion::Auto).await.unwrap();
    eprintln!(
        "lexical {}/{} hybrid {}/{}; runbooks lexical {}/{} hybrid {}/{}\nhybrid misses: {:#?} {:#?}",
        lex.top1_pct(),
        lex.top3_pct(),
        hyb.top1_pct(),
        hyb.top3_pct(),
        lex_rb.top1_pct(),
        lex_rb.top3_pct(),
        hyb_rb.top1_pct(),
        hyb_rb.top3_pct(),
        hyb.misses,
        hyb_rb.misses
    );
    assert_eq!(lex.retrieval, Retrieval::Lexical);
    assert_eq!(hyb.retrieval, Retrieval::Hybrid);
    // Measured here: incidents 86.7 % top-1 / 95.6 % top-3 (lexical 71.1 / 86.7), runbooks
    // 90 / 100 (lexical 80 / 90). The floors sit just under what it does today.
    assert!(hyb.top1_pct() >= 85.0 && hyb.top3_pct() >= 95.0, "{hyb:?}");
    assert!(
        hyb_rb.top1_pct() >= 90.0 && hyb_rb.top3_pct() >= 100.0,
        "{hyb_rb:?}"
    );
    assert!(
        hyb.top1 > lex.top1 + 5 && hyb.top3 > lex.top3,
        "hybrid {hyb:?} lexical {lex:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hit_says_why_and_how_it_was_found() {
    let Some(model) = model_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hybrid = seeded(&dir, Some(model)).await;
    let r = hybrid
        .similar_incidents(&q("payments pod OOM killed during the month-end export"))
        .await
        .unwrap();
    assert_eq!(r.retrieval, Retrieval::Hybrid);
    let top = &r.hits[0];
    assert_eq!(top.item.service, "payment-service", "{:?}", top.item.title);
    assert!(top.why.semantic.is_some_and(|c| c > 0.3), "{:?}", top.why);
    assert_eq!(top.why.service, quantumstate_store::rules::W_SERVICE);
    // The same file without a model: lexical, and it says so; no semantic part.
    let lexical = SqliteStore::open(&dir.path().join("q.db")).unwrap();
    let r = lexical
        .similar_incidents(&q("payments pod OOM killed during the month-end export"))
        .await
        .unwrap();
    assert_eq!(r.retrieval, Retrieval::Lexical);
    assert!(r.hits.iter().all(|h| h.why.semantic.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_written_without_a_model_get_vectors_on_the_next_search() {
    let Some(model) = model_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Seeded by a process without the model: no vectors at all.
    seeded(&dir, None).await;
    let hybrid = SqliteStore::open_with(
        &dir.path().join("q.db"),
        Some(Arc::new(Embedder::new(model))),
    )
    .unwrap();
    let r = hybrid
        .similar_incidents(&q("stock service leaking memory, old snapshots kept"))
        .await
        .unwrap();
    assert_eq!(r.retrieval, Retrieval::Hybrid);
    // Every one of the 52 incidents is now a semantic candidate.
    let conn = rusqlite::Connection::open(dir.path().join("q.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM doc_vectors WHERE kind = 'incident'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 52);
    assert!(r.hits[0].why.semantic.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_fixes_rank_first_all_else_equal() {
    let Some(model) = model_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = seeded(&dir, Some(model)).await;
    let base = seed::incidents(Utc::now()).unwrap().remove(0);
    let twin = |id: &str, verified: Option<bool>, runbook: Option<&str>| {
        let mut i = base.clone();
        i.id = id.into();
        i.verified = verified;
        i.runbook_id = runbook.map(str::to_string);
        i
    };
    let unverified = twin("inc-twin-a", Some(false), None);
    let verified = twin("inc-twin-b", Some(true), Some("rb-unclear-error-spike"));
    s.put_incident(&unverified).await.unwrap();
    s.put_incident(&verified).await.unwrap();
    let r = s.similar_incidents(&q(&base.title)).await.unwrap();
    let pos = |id: &str| r.hits.iter().position(|h| h.item.id == id);
    let (a, b) = (pos("inc-twin-a"), pos("inc-twin-b"));
    assert!(
        b.is_some() && (a.is_none() || b < a),
        "verified {b:?} unverified {a:?}"
    );
    let hit = &r.hits[b.unwrap()];
    assert_eq!(hit.why.outcome, quantumstate_store::rules::W_OUTCOME);
    // The runbook it followed now carries a verified success.
    let rb = s
        .relevant_runbooks(&q("errors suddenly up, no deploy, no obvious reason"))
        .await
        .unwrap();
    let h = rb
        .hits
        .iter()
        .find(|h| h.item.id == "rb-unclear-error-spike")
        .unwrap();
    assert!(h.why.outcome > 0.0, "{:?}", h.why);
}
