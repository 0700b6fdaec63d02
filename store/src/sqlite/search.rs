//! Similarity search over incidents and runbooks: FTS5 BM25 (porter stemming) over the
//! prose and, with a model, the nearest sentence vectors, fused (reciprocal rank fusion
//! by default); then the service, anomaly-type and outcome boosts.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::codec::from_json;
use super::docs::get_doc;
use super::pool::Inner;
use super::vectors::{self, Kind};
use crate::model::{Incident, Runbook};
use crate::similar::{self, Hits, Ranks, Retrieval, SimilarQuery};
use crate::{rules, text};

fn services_of(c: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare_cached("SELECT DISTINCT service FROM incidents ORDER BY service")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// Both rankings of one kind of document: each candidate's ranks, and the documents the
/// lexical pass already read.
struct Candidates {
    ranks: HashMap<String, Ranks>,
    docs: HashMap<String, String>,
    retrieval: Retrieval,
}

fn candidates(
    c: &Connection,
    inner: &Inner,
    kind: Kind,
    sql: &str,
    q: &SimilarQuery,
) -> rusqlite::Result<Candidates> {
    let description = similar::expanded(q);
    let mut out = Candidates {
        ranks: HashMap::new(),
        docs: HashMap::new(),
        retrieval: Retrieval::Lexical,
    };
    let embedder = inner.embedder.as_ref().filter(|e| e.available());
    // The query is embedded on a second thread while this one runs the BM25 pass: on two
    // cores the two halves of a hybrid search overlap instead of adding up.
    let query_vec = std::thread::scope(|s| -> rusqlite::Result<Option<Vec<f32>>> {
        let embedding = embedder.map(|e| s.spawn(|| e.embed(&description)));
        if let Some(fts) = text::fts_any(&text::terms(&description, 32)) {
            let mut st = c.prepare_cached(sql)?;
            let mut rows = st.query(params![fts, rules::CANDIDATES as i64])?;
            let mut i = 0;
            while let Some(r) = rows.next()? {
                let id: String = r.get(0)?;
                let unit = text::bm25_to_unit(r.get::<_, f64>(2)?);
                out.docs.insert(id.clone(), r.get(1)?);
                out.ranks.entry(id).or_default().lexical = Some((i, unit));
                i += 1;
            }
        }
        Ok(embedding.and_then(|h| h.join().ok().flatten()))
    })?;
    if let Some(v) = query_vec {
        out.retrieval = Retrieval::Hybrid;
        let near = vectors::nearest(c, &inner.vectors, kind, &v, rules::CANDIDATES)?;
        for (i, (id, cos)) in near.into_iter().enumerate() {
            out.ranks.entry(id).or_default().semantic = Some((i, cos));
        }
    }
    Ok(out)
}

/// The document of a candidate: read by the lexical pass, or now by id.
fn doc_of<T: serde::de::DeserializeOwned>(
    c: &Connection,
    cands: &Candidates,
    table: &'static str,
    id: &str,
) -> rusqlite::Result<Option<T>> {
    match cands.docs.get(id) {
        Some(d) => from_json(d).map(Some),
        None => get_doc(c, table, "id", id),
    }
}

pub fn incidents(
    c: &Connection,
    inner: &Inner,
    q: &SimilarQuery,
) -> rusqlite::Result<Hits<Incident>> {
    let cands = candidates(
        c,
        inner,
        Kind::Incident,
        "SELECT i.id, i.doc, m.r FROM
           (SELECT id, bm25(incidents_fts, 0.0, 2.0, 2.0, 2.0, 1.0, 1.5, 1.0) AS r
            FROM incidents_fts WHERE incidents_fts MATCH ?1 ORDER BY r LIMIT ?2) m
         JOIN incidents i ON i.id = m.id ORDER BY m.r",
        q,
    )?;
    let services = similar::wanted_services(q, &services_of(c)?);
    let mut scored = Vec::with_capacity(cands.ranks.len());
    for (id, r) in &cands.ranks {
        let Some(inc) = doc_of::<Incident>(c, &cands, "incidents", id)? else {
            continue;
        };
        let mut why = r.why();
        let s = rules::incident_score(
            r.text(q.fusion, false, cands.retrieval),
            &mut why,
            &inc,
            &services,
            q,
        );
        scored.push((
            s,
            inc.timestamp.timestamp_millis(),
            inc.id.clone(),
            why,
            inc,
        ));
    }
    Ok(Hits {
        retrieval: cands.retrieval,
        hits: rules::rank(scored, q.limit),
    })
}

/// How many incidents verified to be fixed followed each runbook.
fn verified_successes(c: &Connection) -> rusqlite::Result<HashMap<String, u64>> {
    let mut st = c.prepare_cached(
        "SELECT runbook_id, count(*) FROM incidents
         WHERE verified = 1 AND runbook_id IS NOT NULL GROUP BY runbook_id",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    rows.map(|r| r.map(|(id, n)| (id, n.max(0) as u64)))
        .collect()
}

pub fn runbooks(
    c: &Connection,
    inner: &Inner,
    q: &SimilarQuery,
) -> rusqlite::Result<Hits<Runbook>> {
    let cands = candidates(
        c,
        inner,
        Kind::Runbook,
        "SELECT b.id, b.doc, m.r FROM
           (SELECT id, bm25(runbooks_fts, 0.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0) AS r
            FROM runbooks_fts WHERE runbooks_fts MATCH ?1 ORDER BY r LIMIT ?2) m
         JOIN runbooks b ON b.id = m.id ORDER BY m.r",
        q,
    )?;
    let services = similar::wanted_services(q, &services_of(c)?);
    let successes = verified_successes(c)?;
    let mut scored = Vec::with_capacity(cands.ranks.len());
    for (id, r) in &cands.ranks {
        let Some(rb) = doc_of::<Runbook>(c, &cands, "runbooks", id)? else {
            continue;
        };
        let mut why = r.why();
        let n = successes.get(&rb.id).copied().unwrap_or(0);
        let s = rules::runbook_score(
            r.text(q.fusion, true, cands.retrieval),
            &mut why,
            &rb,
            &services,
            q.anomaly_type,
            n,
        );
        scored.push((s, 0, rb.id.clone(), why, rb));
    }
    Ok(Hits {
        retrieval: cands.retrieval,
        hits: rules::rank(scored, q.limit),
    })
}
