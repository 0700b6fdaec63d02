//! The model behind a lazy handle: configured with a directory at start-up (cheap), loaded
//! on the first call that needs a vector, and the outcome of that load kept — a directory
//! without a model says so once and every later call gets the same answer at no cost.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::{Error, FILES, Model};

/// A model directory, loaded on first use.
pub struct Embedder {
    dir: PathBuf,
    loaded: OnceLock<Result<Model, String>>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("dir", &self.dir)
            .field("loaded", &self.loaded.get().map(|r| r.is_ok()))
            .finish()
    }
}

impl Embedder {
    /// A handle on the model in `dir`; nothing is read yet.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            loaded: OnceLock::new(),
        }
    }

    /// The directory the model is (to be) read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the directory holds the model's files (a stat each; loads nothing). A model
    /// that was tried and failed to load is not available either.
    pub fn available(&self) -> bool {
        match self.loaded.get() {
            Some(r) => r.is_ok(),
            None => FILES.iter().all(|f| self.dir.join(f).is_file()),
        }
    }

    /// Whether the model has been loaded already (no load is started).
    pub fn is_loaded(&self) -> bool {
        matches!(self.loaded.get(), Some(Ok(_)))
    }

    /// The model, loading it on the first call (blocking: call from a blocking thread).
    pub fn model(&self) -> Result<&Model, Error> {
        let r = self.loaded.get_or_init(|| {
            let t = std::time::Instant::now();
            let r = Model::load(&self.dir).map_err(|e| e.to_string());
            match &r {
                Ok(_) => tracing::info!(dir = %self.dir.display(), ms = t.elapsed().as_millis() as u64, "embedding model loaded"),
                Err(e) => tracing::warn!(dir = %self.dir.display(), error = %e, "embedding model not loaded; similarity search is lexical only"),
            }
            r
        });
        r.as_ref().map_err(|e| Error::Model(e.clone()))
    }

    /// One text's vector, or None when there is no usable model.
    pub fn embed(&self, text: &str) -> Option<Vec<f32>> {
        self.embed_batch(&[text])?.pop()
    }

    /// The vectors of `texts`, or None when there is no usable model.
    pub fn embed_batch(&self, texts: &[&str]) -> Option<Vec<Vec<f32>>> {
        if !self.available() {
            return None;
        }
        let m = self.model().ok()?;
        m.embed_batch(texts)
            .map_err(|e| tracing::warn!(error = %e, "embedding texts failed"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_the_model_is_unavailable_and_embeds_nothing() {
        let e = Embedder::new("/nonexistent/quantumstate-model");
        assert!(!e.available());
        assert!(e.embed("payments are failing").is_none());
        assert!(!e.is_loaded());
    }
}
