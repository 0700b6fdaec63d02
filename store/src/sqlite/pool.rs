//! The store's connections: one writer behind a mutex (every write an IMMEDIATE
//! transaction) and a small pool of readers, every call on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use rusqlite::Connection;

use super::conn::{map_err, open_conn};
use quantumstate_embed::Embedder;

use super::{metrics, schema, vectors};
use crate::{Result, StoreError};

/// Readers open at once (and kept open): calls beyond this wait their turn, in order,
/// rather than each opening a connection and a blocking thread of its own.
const MAX_READERS: usize = 6;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection.
    reader_turns: Arc<tokio::sync::Semaphore>,
    pub(super) series: Mutex<metrics::SeriesCache>,
    /// The sentence model for hybrid search (None: lexical only).
    pub(super) embedder: Option<Arc<Embedder>>,
    pub(super) vectors: Mutex<vectors::VecCache>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date;
    /// similarity search is lexical only.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        Self::open_with(path, None)
    }

    /// The same, with a sentence model for hybrid search (loaded on first use).
    pub fn open_with(path: &Path, embedder: Option<Arc<Embedder>>) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                reason: format!("cannot create directory {}: {e}", dir.display()),
            })?;
        }
        if path.is_dir() {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                reason: "it is a directory, not a database file".into(),
            });
        }
        // Two processes creating the same new file at once (compose starts the scraper and
        // the server together) can briefly see I/O or lock errors while the other switches
        // it to WAL and migrates; a few bounded retries ride that out.
        let mut attempt = 0;
        let writer = loop {
            let opened = open_conn(path, false).and_then(|mut w| {
                schema::migrate(&mut w).map_err(|e| map_err(path, e))?;
                Ok(w)
            });
            match opened {
                Ok(w) => break w,
                Err(e @ (StoreError::Locked { .. } | StoreError::Unavailable(_)))
                    if attempt < 10 =>
                {
                    tracing::debug!(error = %e, attempt, "retrying store open");
                    attempt += 1;
                    std::thread::sleep(StdDuration::from_millis(100 * attempt));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                reader_turns: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
                series: Mutex::new(metrics::SeriesCache::default()),
                embedder,
                vectors: Mutex::new(vectors::VecCache::default()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The sentence model, when one is configured and its files are there (loads nothing).
    pub fn embedder(&self) -> Option<Arc<Embedder>> {
        self.inner.embedder.clone().filter(|e| e.available())
    }

    /// Runs `f` on a reader connection on the blocking pool.
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.read_inner(move |c, _| f(c)).await
    }

    /// The same, with the store's shared state (vector cache, model) at hand.
    pub(super) async fn read_inner<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Inner) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        // The permit moves into the blocking call: a caller that gives up does not free its
        // reader's turn while the connection is still in use.
        let turn = self
            .inner
            .reader_turns
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Backend(format!("store closed: {e}")))?;
        run_blocking(move || {
            let _turn = turn;
            let conn = {
                let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
                pool.pop()
            };
            let conn = match conn {
                Some(c) => c,
                None => open_conn(&inner.path, true)?,
            };
            let out = f(&conn, &inner).map_err(|e| map_err(&inner.path, e));
            let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < MAX_READERS {
                pool.push(conn);
            }
            out
        })
        .await
    }

    /// Runs `f` inside an IMMEDIATE transaction on the writer connection.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, &Inner) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| map_err(&inner.path, e))?;
            match f(&tx, &inner) {
                Ok(v) => {
                    tx.commit().map_err(|e| map_err(&inner.path, e))?;
                    Ok(v)
                }
                Err(e) => {
                    // The transaction rolls back on drop; the series cache may now hold
                    // ids of rows that were never committed, so forget it.
                    drop(tx);
                    inner
                        .series
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clear();
                    Err(map_err(&inner.path, e))
                }
            }
        })
        .await
    }
}

pub(super) async fn run_blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}
