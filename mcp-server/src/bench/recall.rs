//! The recall rows: the on-call evaluation set (`store/eval/retrieval.json`, top-1 and
//! top-3, lexical vs hybrid) on the seeded corpus; `find_similar_incidents` over 10 k
//! generated incidents in process through the tools' own dispatch (the query embedded on
//! every call), the time to write those 10 k with their vectors, and the RSS of a stdio
//! server once a search has loaded the model.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use quantumstate_store::{Embedder, Fusion, Incident, SqliteStore, Store, eval, seed};
use serde_json::{Value, json};
use tokio::process::Command;

use super::data::Rng;
use super::procs::{StdioServer, percentiles, rss_mib};
use super::report::Report;
use crate::app::App;
use crate::caller::Caller;
use crate::config::Config;
use crate::dispatch::Dispatcher;

const SERVICES: [&str; 5] = [
    "payment-service",
    "checkout-service",
    "auth-service",
    "inventory-service",
    "auth-cache",
];

/// `n` incidents made from the seeded ones: each a seeded incident moved to another
/// service (names in the text swapped too) and another time, so the corpus has the
/// seed's variety of wording at 200 times its size.
fn generated(n: usize, seed: u64) -> Result<Vec<Incident>, String> {
    let base = seed::incidents(Utc::now()).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(seed);
    Ok((0..n)
        .map(|i| {
            let b = &base[i % base.len()];
            let svc = *rng.pick(&SERVICES);
            let swap = |t: &str| t.replace(&b.service, svc);
            let mut inc = b.clone();
            inc.id = format!("inc-gen-{i:05}");
            inc.service = svc.to_string();
            inc.title = swap(&b.title);
            inc.description = swap(&b.description);
            inc.root_cause = swap(&b.root_cause);
            inc.timestamp =
                b.timestamp - chrono::Duration::minutes((rng.unit() * 525_600.0) as i64);
            inc.source = Some("bench".into());
            inc
        })
        .collect())
}

/// The evaluation of one store, both groups.
async fn evaluate(store: &dyn Store, set: &eval::EvalSet, fusion: Fusion) -> Result<Value, String> {
    let i = eval::incidents(store, set, fusion)
        .await
        .map_err(|e| e.to_string())?;
    let r = eval::runbooks(store, set, fusion)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({
        "retrieval": i.retrieval,
        "incidents": {"queries": i.queries, "top1_pct": i.top1_pct(), "top3_pct": i.top3_pct(), "misses": i.misses},
        "runbooks": {"queries": r.queries, "top1_pct": r.top1_pct(), "top3_pct": r.top3_pct(), "misses": r.misses},
    }))
}

/// Runs the section; without a model it says so in the notes and measures nothing.
pub async fn section(r: &mut Report, model: Option<PathBuf>, dir: &Path, iters: usize, n: usize) {
    let Some(model) = model.filter(|m| Embedder::new(m).available()) else {
        r.notes.push("recall: no embedding model (scripts/setup-model.sh installs it); hybrid rows not measured".into());
        return;
    };
    if let Err(e) = measure(r, &model, dir, iters, n).await {
        r.notes.push(format!("recall: {e}"));
    }
}

async fn measure(
    r: &mut Report,
    model: &Path,
    dir: &Path,
    iters: usize,
    n: usize,
) -> Result<(), String> {
    let set = eval::eval_set().map_err(|e| e.to_string())?;
    let embedder = Arc::new(Embedder::new(model));
    // --- accuracy on the seeded corpus ---
    let small = dir.join("recall-eval.db");
    let hybrid =
        SqliteStore::open_with(&small, Some(embedder.clone())).map_err(|e| e.to_string())?;
    seed::seed(&hybrid, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    let lexical = SqliteStore::open(&small).map_err(|e| e.to_string())?;
    let mut accuracy = json!({
        "lexical": evaluate(&lexical, &set, Fusion::Auto).await?,
        "hybrid": evaluate(&hybrid, &set, Fusion::Auto).await?,
        "hybrid_rrf_only": evaluate(&hybrid, &set, Fusion::Rrf).await?,
        "hybrid_convex_only": evaluate(&hybrid, &set, Fusion::Convex).await?,
    });
    accuracy["what"] = json!("store eval set, text only (no service or type given), in process");

    // --- 10 k incidents: writing them with vectors, then searching ---
    let big = dir.join("recall-10k.db");
    let spec = format!("sqlite:{}", big.display());
    let docs = generated(n, 7)?;
    let texts: Vec<String> = docs
        .iter()
        .map(quantumstate_store::similar::incident_text)
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    let distinct = texts.len();
    // What the model costs per distinct text (the write above embeds each once).
    let e = embedder.clone();
    let per_text_ms = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let t = Instant::now();
        e.embed_batch(&refs)
            .map(|_| t.elapsed().as_secs_f64() * 1e3 / refs.len().max(1) as f64)
    })
    .await
    .map_err(|e| e.to_string())?
    .ok_or("the model did not embed the texts")?;
    let store = SqliteStore::open_with(&big, Some(embedder.clone())).map_err(|e| e.to_string())?;
    seed::seed(&store, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let written = store
        .insert_incidents_if_absent(&docs)
        .await
        .map_err(|e| e.to_string())?;
    let seed_secs = t.elapsed().as_secs_f64();
    let mut rows = Vec::new();
    for (label, with_model) in [("hybrid", true), ("lexical", false)] {
        let mut cfg = Config::local(&spec);
        cfg.docker_hosts = vec![quantumstate_fleet::HostSpec::at(
            "unix:///nonexistent/quantumstate-bench.sock",
        )];
        cfg.services = SERVICES.iter().map(|s| s.to_string()).collect();
        cfg.embed_model = with_model.then(|| model.to_path_buf());
        let app = App::new(cfg, tokio_util::sync::CancellationToken::new());
        let d = Dispatcher::new(app);
        let q = |i: usize| json!({"description": set.incidents[i % set.incidents.len()].q});
        d.call("find_similar_incidents", q(0), Caller::cli())
            .await
            .map_err(|e| e.message)?;
        let mut samples = Vec::with_capacity(iters);
        for i in 0..iters {
            let t = Instant::now();
            d.call("find_similar_incidents", q(i), Caller::cli())
                .await
                .map_err(|e| e.message)?;
            samples.push(t.elapsed());
        }
        let name = format!(
            "find_similar_incidents {label}, {} incidents (in process)",
            written + 52
        );
        r.reads.push((name, percentiles(&samples)));
        rows.push(label);
    }

    // --- a stdio server's RSS once a search loaded the model ---
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&exe);
    cmd.arg("stdio")
        .env("QS_STORE", &spec)
        .env("QS_EMBED_MODEL", model)
        .env("QS_LOG", "error")
        .env("QS_DOCKER_HOSTS", "unix:///nonexistent/qs.sock");
    let mut s = StdioServer::spawn(cmd).map_err(|e| e.to_string())?;
    s.initialize(Duration::from_secs(10)).await?;
    let pid = s.child.id().unwrap_or(0);
    let before = rss_mib(pid);
    let call = json!({"name": "find_similar_incidents", "arguments": {"description": "payments heap keeps growing"}});
    let reply = s
        .request(3, "tools/call", call, Duration::from_secs(60))
        .await?;
    let hybrid_said = reply
        .to_string()
        .contains("\\\"retrieval\\\":\\\"hybrid\\\"")
        || reply["result"]["structuredContent"]["retrieval"] == "hybrid";
    let after = rss_mib(pid);
    s.stop().await;
    r.recall = json!({
        "accuracy": accuracy,
        "seed_10k": {"incidents": written, "distinct_texts": distinct, "embed_ms_per_distinct_text": (per_text_ms * 10.0).round() / 10.0, "seconds": (seed_secs * 10.0).round() / 10.0, "what": "insert_incidents_if_absent with vectors, in process; identical texts in one write are embedded once"},
        "rss_mib": {"stdio_before_search": before, "stdio_after_search_model_loaded": after, "search_said_hybrid": hybrid_said},
        "timed": rows,
    });
    Ok(())
}
