//! Similarity search over incidents and runbooks: FTS5 bm25 over the prose, plus boosts
//! for the service (named or merely mentioned) and the anomaly type.

use rusqlite::Connection;

use super::codec::from_json;
use crate::model::{Incident, Runbook};
use crate::query::{Scored, SimilarQuery};
use crate::{rules, text};

fn services_of(c: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT DISTINCT service FROM {table} ORDER BY service"
    ))?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The services a query is about: the one given, else those its text mentions.
fn wanted_services(c: &Connection, table: &str, q: &SimilarQuery) -> rusqlite::Result<Vec<String>> {
    if let Some(s) = &q.service {
        return Ok(vec![s.clone()]);
    }
    let known = services_of(c, table)?;
    Ok(text::mentioned_services(&q.description, &known)
        .into_iter()
        .map(str::to_string)
        .collect())
}

fn candidates(c: &Connection, sql: &str, fts: &str) -> rusqlite::Result<Vec<(String, f64)>> {
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(rusqlite::params![fts, rules::CANDIDATES as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))
    })?;
    rows.collect()
}

pub fn incidents(c: &Connection, q: &SimilarQuery) -> rusqlite::Result<Vec<Scored<Incident>>> {
    let Some(fts) = text::fts_any(&text::terms(&q.description, 32)) else {
        return Ok(Vec::new());
    };
    let services = wanted_services(c, "incidents", q)?;
    let hits = candidates(
        c,
        "SELECT i.doc, bm25(incidents_fts, 0.0, 2.0, 2.0, 2.0, 1.0, 1.5, 1.0) AS r
         FROM incidents_fts JOIN incidents i ON i.id = incidents_fts.id
         WHERE incidents_fts MATCH ?1 ORDER BY r LIMIT ?2",
        &fts,
    )?;
    let mut scored = Vec::with_capacity(hits.len());
    for (doc, bm25) in hits {
        let inc: Incident = from_json(&doc)?;
        let s = rules::incident_score(text::bm25_to_unit(bm25), &inc, &services, q);
        scored.push((s, inc.timestamp.timestamp_millis(), inc.id.clone(), inc));
    }
    Ok(rules::rank(scored, q.limit))
}

pub fn runbooks(c: &Connection, q: &SimilarQuery) -> rusqlite::Result<Vec<Scored<Runbook>>> {
    let Some(fts) = text::fts_any(&text::terms(&q.description, 32)) else {
        return Ok(Vec::new());
    };
    let services = wanted_services(c, "incidents", q)?;
    let hits = candidates(
        c,
        "SELECT b.doc, bm25(runbooks_fts, 0.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0) AS r
         FROM runbooks_fts JOIN runbooks b ON b.id = runbooks_fts.id
         WHERE runbooks_fts MATCH ?1 ORDER BY r LIMIT ?2",
        &fts,
    )?;
    let mut scored = Vec::with_capacity(hits.len());
    for (doc, bm25) in hits {
        let rb: Runbook = from_json(&doc)?;
        let s = rules::runbook_score(text::bm25_to_unit(bm25), &rb, &services, q.anomaly_type);
        scored.push((s, 0, rb.id.clone(), rb));
    }
    Ok(rules::rank(scored, q.limit))
}
