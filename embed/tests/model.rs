//! The real model: vectors have the right shape, similar sentences are closer than
//! unrelated ones. Needs the model files (scripts/setup.sh installs them); under CI a
//! missing model fails the test rather than skipping it.

#![allow(clippy::unwrap_used)]

use quantumstate_embed::{DIM, Embedder, cosine};

fn model_dir() -> Option<std::path::PathBuf> {
    // Where scripts/setup-model.sh puts it: QS_EMBED_MODEL, else under the data directory
    // (QS_DATA_DIR, $XDG_DATA_HOME/quantumstate, ~/.local/share/quantumstate).
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    let data = var("QS_DATA_DIR")
        .or_else(|| var("XDG_DATA_HOME").map(|x| x.join("quantumstate")))
        .or_else(|| var("HOME").map(|h| h.join(".local/share/quantumstate")))
        .unwrap_or_default();
    let dir = var("QS_EMBED_MODEL").unwrap_or_else(|| quantumstate_embed::dir_under(&data));
    if Embedder::new(&dir).available() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set and the embedding model is missing at {} (scripts/setup.sh installs it)",
        dir.display()
    );
    eprintln!("skipping: no embedding model at {}", dir.display());
    None
}

#[test]
fn similar_sentences_are_closer_than_unrelated_ones() {
    let Some(dir) = model_dir() else { return };
    let e = Embedder::new(dir);
    let v = e
        .embed_batch(&[
            "the container was OOM killed",
            "memory leak: the process ran out of memory",
            "login is failing for users",
        ])
        .expect("vectors");
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|x| x.len() == DIM));
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "not unit length: {norm}");
    let near = cosine(&v[0], &v[1]);
    let far = cosine(&v[0], &v[2]);
    assert!(near > far + 0.1, "OOM~leak {near} vs OOM~login {far}");
    // A batch gives the same vector as a single call.
    let single = e.embed("login is failing for users").expect("vector");
    assert!(cosine(&single, &v[2]) > 0.999);
}
