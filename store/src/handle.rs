//! A store opened on first use and again after a failed open (at most every few seconds),
//! so a server or scraper started before its store keeps running and recovers by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::{DynStore, Embedder, Result, StoreError, StoreSpec};

/// How long a failed open is remembered before the next attempt.
const REOPEN_AFTER: Duration = Duration::from_secs(2);

/// Opens the store lazily; shared by every task of a process.
pub struct StoreHandle {
    spec: Option<String>,
    embedder: Option<Arc<Embedder>>,
    state: Mutex<State>,
}

struct State {
    store: Option<DynStore>,
    last_attempt: Option<(Instant, StoreError)>,
}

impl StoreHandle {
    /// `spec` as `QS_STORE` gives it (None: the default file).
    pub fn new(spec: Option<String>) -> StoreHandle {
        StoreHandle {
            spec,
            embedder: None,
            state: Mutex::new(State {
                store: None,
                last_attempt: None,
            }),
        }
    }

    /// The same, with a sentence model for hybrid search (nothing is loaded yet).
    pub fn with_embedder(mut self, embedder: Option<Arc<Embedder>>) -> StoreHandle {
        self.embedder = embedder;
        self
    }

    /// The configured sentence model, if any.
    pub fn embedder(&self) -> Option<&Arc<Embedder>> {
        self.embedder.as_ref()
    }

    /// The store's description for logs and health output (no secrets).
    pub fn describe(&self) -> String {
        match StoreSpec::parse(self.spec.as_deref()) {
            Ok(StoreSpec::Sqlite(p)) => format!("sqlite:{}", p.display()),
            Ok(StoreSpec::Elasticsearch) => "elasticsearch".into(),
            Err(e) => format!("invalid ({e})"),
        }
    }

    /// The open store, opening it now if need be.
    pub async fn get(&self) -> Result<DynStore> {
        let mut st = self.state.lock().await;
        if let Some(s) = &st.store {
            return Ok(s.clone());
        }
        if let Some((at, err)) = &st.last_attempt
            && at.elapsed() < REOPEN_AFTER
        {
            return Err(err.clone());
        }
        let spec = StoreSpec::parse(self.spec.as_deref())?;
        match crate::open_with(&spec, self.embedder.clone()).await {
            Ok(s) => {
                st.store = Some(s.clone());
                st.last_attempt = None;
                Ok(s)
            }
            Err(e) => {
                st.last_attempt = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }
}
