//! Sentence vectors of incidents and runbooks: one BLOB per document in `doc_vectors`,
//! written in the same transaction as the document. Searches read them from an in-memory
//! matrix per kind, re-read when the table changes (the scraper, the CLI or another
//! server may write the same file), and documents written without a model get their
//! vectors on the next search that has one.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, Transaction, params};

use super::codec::from_json;
use crate::model::{Incident, Runbook};
use crate::similar;

/// The two kinds of documents that have vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Incident,
    Runbook,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Incident => "incident",
            Kind::Runbook => "runbook",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Kind::Incident => "incidents",
            Kind::Runbook => "runbooks",
        }
    }

    /// The text a stored document (its JSON) is embedded from.
    fn text_of(self, doc: &str) -> rusqlite::Result<String> {
        Ok(match self {
            Kind::Incident => similar::incident_text(&from_json::<Incident>(doc)?),
            Kind::Runbook => similar::runbook_text(&from_json::<Runbook>(doc)?),
        })
    }
}

/// Replaces a document's vector: the old one always goes (it described the old text);
/// the new one is written when there is one.
pub fn put(
    tx: &Transaction<'_>,
    kind: Kind,
    id: &str,
    vec: Option<&[f32]>,
) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM doc_vectors WHERE kind = ?1 AND id = ?2",
        params![kind.as_str(), id],
    )?;
    if let Some(v) = vec {
        tx.execute(
            "INSERT INTO doc_vectors (kind, id, vec) VALUES (?1, ?2, ?3)",
            params![kind.as_str(), id, quantumstate_embed::to_bytes(v)],
        )?;
    }
    Ok(())
}

/// Vectors of documents written when no model was at hand: up to `limit` of them as
/// (id, text to embed). Cheap when nothing is missing (two counts).
pub fn missing(
    c: &Connection,
    kind: Kind,
    limit: usize,
) -> rusqlite::Result<Vec<(String, String)>> {
    let (docs, vecs): (i64, i64) = c.query_row(
        &format!(
            "SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM doc_vectors WHERE kind = ?1)",
            kind.table()
        ),
        [kind.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if docs == vecs {
        return Ok(Vec::new());
    }
    let mut st = c.prepare_cached(&format!(
        "SELECT d.id, d.doc FROM {} d
         WHERE NOT EXISTS (SELECT 1 FROM doc_vectors v WHERE v.kind = ?1 AND v.id = d.id)
         LIMIT ?2",
        kind.table()
    ))?;
    let rows = st.query_map(params![kind.as_str(), limit as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, doc) = row?;
        out.push((id, kind.text_of(&doc)?));
    }
    Ok(out)
}

/// All vectors of one kind, as one row-major matrix.
#[derive(Default)]
struct Matrix {
    /// (row count, highest rowid) when read: any insert or replace changes it.
    stamp: (i64, i64),
    ids: Vec<String>,
    data: Vec<f32>,
}

/// The matrices of both kinds, shared by the readers of one store.
#[derive(Default)]
pub struct VecCache {
    incident: Option<Arc<Matrix>>,
    runbook: Option<Arc<Matrix>>,
}

fn matrix(c: &Connection, cache: &Mutex<VecCache>, kind: Kind) -> rusqlite::Result<Arc<Matrix>> {
    let stamp: (i64, i64) = c
        .prepare_cached(
            "SELECT count(*), coalesce(max(rowid), 0) FROM doc_vectors WHERE kind = ?1",
        )?
        .query_row([kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    {
        let guard = cache.lock().unwrap_or_else(|p| p.into_inner());
        let slot = match kind {
            Kind::Incident => &guard.incident,
            Kind::Runbook => &guard.runbook,
        };
        if let Some(m) = slot.as_ref().filter(|m| m.stamp == stamp) {
            return Ok(m.clone());
        }
    }
    let mut m = Matrix {
        stamp,
        ..Matrix::default()
    };
    let mut st = c.prepare_cached("SELECT id, vec FROM doc_vectors WHERE kind = ?1")?;
    let mut rows = st.query([kind.as_str()])?;
    while let Some(r) = rows.next()? {
        let blob: Vec<u8> = r.get(1)?;
        // A vector of another length (another model's) is skipped, not guessed at.
        if let Some(v) = quantumstate_embed::from_bytes(&blob) {
            m.ids.push(r.get(0)?);
            m.data.extend_from_slice(&v);
        }
    }
    let m = Arc::new(m);
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    match kind {
        Kind::Incident => guard.incident = Some(m.clone()),
        Kind::Runbook => guard.runbook = Some(m.clone()),
    }
    Ok(m)
}

/// The `n` documents whose vectors are closest to `query`, as (id, cosine), closest first.
pub fn nearest(
    c: &Connection,
    cache: &Mutex<VecCache>,
    kind: Kind,
    query: &[f32],
    n: usize,
) -> rusqlite::Result<Vec<(String, f64)>> {
    let m = matrix(c, cache, kind)?;
    let dim = quantumstate_embed::DIM;
    let mut scored: Vec<(usize, f32)> = m
        .data
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, row)| (i, quantumstate_embed::cosine(row, query)))
        .collect();
    let n = n.min(scored.len());
    if n == 0 {
        return Ok(Vec::new());
    }
    scored.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(n);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(scored
        .into_iter()
        .map(|(i, s)| (m.ids[i].clone(), f64::from(s)))
        .collect())
}
