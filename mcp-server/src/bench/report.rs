//! The bench's report: what each section measured (the JSON written to `--out`), and the
//! table printed from it.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::peers;
use super::procs::Percentiles;

/// What `bench` was asked to do.
#[derive(Debug, Clone)]
pub struct BenchOpts {
    pub out: PathBuf,
    pub metrics: usize,
    pub logs: usize,
    pub quick: bool,
    pub peers: bool,
    /// Only this section.
    pub only: Option<Section>,
    pub seed: u64,
    pub docker_hosts: Vec<quantumstate_fleet::HostSpec>,
    /// The sentence model the recall rows use.
    pub embed_model: Option<PathBuf>,
}

/// A section `bench --only` runs alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// The store, the read tools, Docker hung.
    Reads,
    /// HTTP sessions (1, 10, 100) and the server's RSS.
    Http,
    /// Retrieval accuracy lexical vs hybrid, 10 k incidents, RSS with the model.
    Recall,
    /// The four peer servers interleaved with this build.
    Peers,
}

/// The whole report (the JSON written to `--out`).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub machine: Value,
    pub store: Value,
    pub cold_start: Option<Percentiles>,
    pub tools_list: Value,
    pub reads: Vec<(String, Percentiles)>,
    pub ingest: Value,
    pub http: Vec<Value>,
    pub restart: Value,
    pub rss_mib: Value,
    /// The Prometheus the Prometheus rows read (version, samples, backfill time).
    pub prometheus: Value,
    pub peers: Vec<peers::Peer>,
    /// Retrieval accuracy, seeding 10 k incidents with vectors, RSS with the model.
    pub recall: Value,
    pub notes: Vec<String>,
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "–".into())
}

/// The human table.
pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    line(format!(
        "machine: {} CPUs, {}",
        r.machine["cpus"],
        r.machine["cpu"].as_str().unwrap_or("?")
    ));
    if r.store.is_object() {
        line(format!(
            "store: {} metric samples, {} log lines, {:.0} MB",
            r.store["metric_samples"],
            r.store["log_lines"],
            r.store["bytes"].as_f64().unwrap_or(0.0) / 1e6
        ));
    }
    line(String::new());
    line(format!(
        "{:<46} {:>9} {:>9} {:>9}",
        "measure", "p50 ms", "p95 ms", "p99 ms"
    ));
    if let Some(c) = r.cold_start {
        line(format!(
            "{:<46} {:>9.2} {:>9.2} {:>9.2}",
            format!("stdio cold start → tools/list ({} runs)", c.n),
            c.p50_ms,
            c.p95_ms,
            c.p99_ms
        ));
    }
    for (name, p) in &r.reads {
        line(format!(
            "{:<46} {:>9.2} {:>9.2} {:>9.2}",
            name, p.p50_ms, p.p95_ms, p.p99_ms
        ));
    }
    for h in &r.http {
        line(format!(
            "{:<46} {:>9} {:>9} {:>9}",
            format!(
                "HTTP {} sessions: {} calls/s ({})",
                h["sessions"],
                h["calls_per_second"],
                h["mix"].as_str().unwrap_or("")
            ),
            h["latency"]["p50_ms"],
            h["latency"]["p95_ms"],
            h["latency"]["p99_ms"]
        ));
    }
    if r.restart.is_object() {
        for k in [
            "docker_restart",
            "restart_container",
            "restart_container_until_healthy",
        ] {
            let p = &r.restart[k];
            line(format!(
                "{:<46} {:>9} {:>9} {:>9}",
                k, p["p50_ms"], p["p95_ms"], p["p99_ms"]
            ));
        }
        line(format!(
            "restart overhead over docker's own (p50): {} ms",
            r.restart["overhead_ms_p50"]
        ));
    }
    line(String::new());
    if r.tools_list.is_object() {
        line(format!(
            "tools/list: {} tools, {} bytes ≈ {} tokens",
            r.tools_list["tools"], r.tools_list["bytes"], r.tools_list["approx_tokens"]
        ));
    }
    for (k, v) in ["metrics", "logs"]
        .iter()
        .map(|k| (k, &r.ingest[k]))
        .filter(|(_, v)| v.is_object())
    {
        line(format!(
            "ingest {k}: {:.0} docs/s (batches of {})",
            v["per_second"].as_f64().unwrap_or(0.0),
            v["batch"]
        ));
    }
    if let Value::Object(m) = &r.rss_mib {
        for (k, v) in m {
            line(format!("RSS {k}: {} MiB", fmt_opt(v.as_f64())));
        }
    }
    recall_lines(r, &mut line);
    for p in &r.peers {
        line(format!(
            "peer {} ({}): cold start p50 {} ms ({}× ours), {} tools, {} bytes/tool, read ({}) p50 {} ms, restart ({}) {} ms{}",
            p.name,
            p.language,
            fmt_opt(p.cold_start_to_tools_list.map(|c| c.p50_ms)),
            fmt_opt(p.times_ours),
            p.tools,
            p.bytes_per_tool.map_or("-".into(), |b| b.to_string()),
            p.read_tool.as_deref().unwrap_or("none"),
            fmt_opt(p.read_call.map(|c| c.p50_ms)),
            p.restart_tool.as_deref().unwrap_or("none"),
            fmt_opt(p.restart_ms),
            p.note
                .as_ref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        ));
    }
    for n in &r.notes {
        line(format!("note: {n}"));
    }
    t
}

/// The recall rows: accuracy lexical vs hybrid, seeding time, RSS with the model.
fn recall_lines(r: &Report, line: &mut impl FnMut(String)) {
    let a = &r.recall["accuracy"];
    if a.is_object() {
        line(format!(
            "{:<46} {:>9} {:>9} {:>9} {:>9}",
            "recall (eval set, in process)", "inc top1", "inc top3", "rb top1", "rb top3"
        ));
        for k in ["lexical", "hybrid", "hybrid_rrf_only", "hybrid_convex_only"] {
            let g = &a[k];
            line(format!(
                "{:<46} {:>8}% {:>8}% {:>8}% {:>8}%",
                format!(
                    "  {k} ({} + {} queries)",
                    g["incidents"]["queries"], g["runbooks"]["queries"]
                ),
                g["incidents"]["top1_pct"],
                g["incidents"]["top3_pct"],
                g["runbooks"]["top1_pct"],
                g["runbooks"]["top3_pct"]
            ));
        }
    }
    let s = &r.recall["seed_10k"];
    if s.is_object() {
        line(format!(
            "seed {} incidents with vectors: {} s (in process; {} distinct texts, each embedded once)",
            s["incidents"], s["seconds"], s["distinct_texts"]
        ));
        line(format!(
            "embedding one distinct text: {} ms (in process, batches of 32, {} texts)",
            s["embed_ms_per_distinct_text"], s["distinct_texts"]
        ));
        let m = &r.recall["rss_mib"];
        line(format!(
            "RSS stdio server: {} MiB before a search, {} MiB with the model loaded",
            fmt_opt(m["stdio_before_search"].as_f64()),
            fmt_opt(m["stdio_after_search_model_loaded"].as_f64())
        ));
    }
}
