//! Writing and searching with vectors: a document's vector is computed before its write
//! (outside the writer's lock, only for documents that are new or replaced), searches
//! first fill in vectors a model-less writer left out, and the query is embedded once.

use std::collections::{HashMap, HashSet};

use super::docs;
use super::pool::{SqliteStore, run_blocking};
use super::vectors::{self, Kind};
use crate::Result;
use crate::model::{Incident, Runbook};
use crate::similar::{self, Hits, SimilarQuery};

/// Documents written per transaction in a bulk insert.
const CHUNK: usize = 256;
/// Vectors filled in per search, so the first search after enabling a model on a large
/// store stays bounded; later searches fill in the rest.
const BACKFILL_MAX: usize = 512;

impl SqliteStore {
    /// The vectors of `texts`, or None without a usable model.
    async fn embed_texts(&self, texts: Vec<String>) -> Result<Option<Vec<Vec<f32>>>> {
        let Some(e) = self.embedder() else {
            return Ok(None);
        };
        if texts.is_empty() {
            return Ok(Some(Vec::new()));
        }
        run_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            Ok(e.embed_batch(&refs))
        })
        .await
    }

    /// The vectors of `texts`, embedding only those `known` (earlier chunks of the same
    /// write) does not hold yet: identical texts in one bulk write are embedded once.
    async fn embed_known(
        &self,
        texts: Vec<String>,
        known: &mut HashMap<String, Vec<f32>>,
    ) -> Result<Option<Vec<Vec<f32>>>> {
        // Repeats within `new` are run once by the model itself.
        let new: Vec<String> = texts
            .iter()
            .filter(|t| !known.contains_key(*t))
            .cloned()
            .collect();
        let Some(vecs) = self.embed_texts(new.clone()).await? else {
            return Ok(None);
        };
        known.extend(new.into_iter().zip(vecs));
        Ok(texts.iter().map(|t| known.get(t).cloned()).collect())
    }

    /// Writes incidents with their vectors; without `replace` only new ids are written (and
    /// embedded). Returns how many were written.
    pub(super) async fn write_incidents(
        &self,
        docs: Vec<Incident>,
        replace: bool,
    ) -> Result<usize> {
        let mut written = 0;
        let mut known_vecs = HashMap::new();
        for chunk in docs.chunks(CHUNK) {
            let mut chunk = chunk.to_vec();
            if !replace {
                let ids: Vec<String> = chunk.iter().map(|d| d.id.clone()).collect();
                let known = self.read(move |c| existing(c, "incidents", &ids)).await?;
                chunk.retain(|d| !known.contains(&d.id));
            }
            if chunk.is_empty() {
                continue;
            }
            let texts: Vec<String> = chunk.iter().map(similar::incident_text).collect();
            let vecs = self.embed_known(texts, &mut known_vecs).await?;
            written += self
                .write(move |tx, _| {
                    let mut n = 0;
                    for (i, d) in chunk.iter().enumerate() {
                        if docs::put_incident(tx, d, replace)? {
                            n += 1;
                            let v = vecs.as_ref().and_then(|v| v.get(i)).map(Vec::as_slice);
                            vectors::put(tx, Kind::Incident, &d.id, v)?;
                        }
                    }
                    Ok(n)
                })
                .await?;
        }
        Ok(written)
    }

    /// Writes a runbook with its vector (see [`Self::write_incidents`]).
    pub(super) async fn write_runbook(&self, doc: Runbook, replace: bool) -> Result<bool> {
        if !replace {
            let ids = vec![doc.id.clone()];
            if !self
                .read(move |c| existing(c, "runbooks", &ids))
                .await?
                .is_empty()
            {
                return Ok(false);
            }
        }
        let vecs = self.embed_texts(vec![similar::runbook_text(&doc)]).await?;
        self.write(move |tx, _| {
            let written = docs::put_runbook(tx, &doc, replace)?;
            if written {
                let v = vecs.as_ref().and_then(|v| v.first()).map(Vec::as_slice);
                vectors::put(tx, Kind::Runbook, &doc.id, v)?;
            }
            Ok(written)
        })
        .await
    }

    /// Embeds documents that have no vector yet (written by a process without the model).
    async fn backfill(&self, kind: Kind) -> Result<()> {
        if self.embedder().is_none() {
            return Ok(());
        }
        let missing = self
            .read(move |c| vectors::missing(c, kind, BACKFILL_MAX))
            .await?;
        if missing.is_empty() {
            return Ok(());
        }
        let (ids, texts): (Vec<String>, Vec<String>) = missing.into_iter().unzip();
        let Some(vecs) = self.embed_texts(texts).await? else {
            return Ok(());
        };
        tracing::debug!(n = ids.len(), ?kind, "filled in missing vectors");
        self.write(move |tx, _| {
            for (id, v) in ids.iter().zip(&vecs) {
                vectors::put(tx, kind, id, Some(v))?;
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn search_incidents(&self, q: &SimilarQuery) -> Result<Hits<Incident>> {
        self.backfill(Kind::Incident).await?;
        let q = q.clone();
        self.read_inner(move |c, inner| super::search::incidents(c, inner, &q))
            .await
    }

    pub(super) async fn search_runbooks(&self, q: &SimilarQuery) -> Result<Hits<Runbook>> {
        self.backfill(Kind::Runbook).await?;
        let q = q.clone();
        self.read_inner(move |c, inner| super::search::runbooks(c, inner, &q))
            .await
    }
}

/// Which of `ids` a document table already holds.
fn existing(
    c: &rusqlite::Connection,
    table: &'static str,
    ids: &[String],
) -> rusqlite::Result<HashSet<String>> {
    let mut st = c.prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))?;
    let mut out = HashSet::new();
    for id in ids {
        if st.exists([id])? {
            out.insert(id.clone());
        }
    }
    Ok(out)
}
