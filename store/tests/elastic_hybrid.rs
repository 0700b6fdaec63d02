//! Hybrid retrieval on the Elasticsearch backend (against the emulator, which does exact
//! cosine kNN on `dense_vector` fields): documents are written with their vectors, a
//! search runs BM25 and kNN and fuses them as the SQLite backend does, the vectors stay
//! out of what searches return, and without a model the same index searches lexically
//! and says so. Needs the model (scripts/setup-model.sh); under CI a missing model fails.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use chrono::Utc;
use quantumstate_store::elastic::ElasticStore;
use quantumstate_store::*;
use support::emulator::{Emulator, test_config};

fn store(emu: &Emulator, model: Option<std::path::PathBuf>) -> ElasticStore {
    ElasticStore::new(&test_config(&emu.url))
        .unwrap()
        .with_embedder(model.map(|m| Arc::new(Embedder::new(m))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_writes_vectors_and_fuses_knn_with_bm25() {
    let Some(model) = quantumstate_embed::installed_for_tests() else {
        return;
    };
    let emu = Emulator::start().await;
    let hybrid = store(&emu, Some(model));
    seed::seed(&hybrid, Utc::now()).await.unwrap();

    // Every incident and runbook was written with a 384-dimension vector.
    let incidents = emu.all("incidents-quantumstate");
    assert_eq!(incidents.len(), 52);
    for (id, doc) in &incidents {
        let v = doc["qs_vector"]
            .as_array()
            .unwrap_or_else(|| panic!("{id} has no vector"));
        assert_eq!(v.len(), quantumstate_embed::DIM);
    }
    assert!(
        emu.all("runbooks-quantumstate")
            .iter()
            .all(|(_, d)| d["qs_vector"].is_array())
    );

    let set = eval::eval_set().unwrap();
    let lexical = store(&emu, None);
    let hyb = eval::incidents(&hybrid, &set, Fusion::Auto).await.unwrap();
    let lex = eval::incidents(&lexical, &set, Fusion::Auto).await.unwrap();
    eprintln!(
        "elasticsearch (emulated): lexical {}/{} hybrid {}/{}",
        lex.top1_pct(),
        lex.top3_pct(),
        hyb.top1_pct(),
        hyb.top3_pct()
    );
    assert_eq!(hyb.retrieval, Retrieval::Hybrid);
    assert_eq!(lex.retrieval, Retrieval::Lexical);
    assert!(
        hyb.top1 > lex.top1 && hyb.top3 >= lex.top3,
        "hybrid {hyb:?} lexical {lex:?}"
    );

    // A paraphrase: the top hit carries both halves of its score, and no vector comes back.
    let q = SimilarQuery {
        description: "payments pod OOM killed during the month-end export".into(),
        limit: 5,
        aliases: set.aliases.clone(),
        ..SimilarQuery::default()
    };
    let r = hybrid.similar_incidents(&q).await.unwrap();
    assert_eq!(r.retrieval, Retrieval::Hybrid);
    assert_eq!(r.hits[0].item.service, "payment-service");
    assert!(
        r.hits[0].why.semantic.is_some_and(|c| c > 0.3),
        "{:?}",
        r.hits[0].why
    );
    let plain = lexical.similar_incidents(&q).await.unwrap();
    assert!(plain.hits.iter().all(|h| h.why.semantic.is_none()));

    let rb = hybrid
        .relevant_runbooks(&SimilarQuery {
            description: "login tokens cache is down, sessions failing".into(),
            limit: 3,
            aliases: set.aliases,
            ..SimilarQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rb.retrieval, Retrieval::Hybrid);
    assert!(rb.hits.iter().any(|h| h.why.semantic.is_some()));
}
