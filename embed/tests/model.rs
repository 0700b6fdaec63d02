//! The real model: vectors have the right shape, similar sentences are closer than
//! unrelated ones. Needs the model files (scripts/setup.sh installs them); under CI a
//! missing model fails the test rather than skipping it.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use quantumstate_embed::{DIM, Embedder, cosine};

fn model_dir() -> Option<PathBuf> {
    quantumstate_embed::installed_for_tests()
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
    // Repeated texts in one batch are run once and each gets its vector, in order.
    let rep = e
        .embed_batch(&[
            "login is failing for users",
            "the container was OOM killed",
            "login is failing for users",
        ])
        .expect("vectors");
    assert_eq!(rep.len(), 3);
    assert!(cosine(&rep[0], &rep[2]) > 0.999 && cosine(&rep[1], &v[0]) > 0.999);
    assert!(cosine(&rep[0], &rep[1]) < 0.9);
    // A batch gives the same vector as a single call.
    let single = e.embed("login is failing for users").expect("vector");
    assert!(cosine(&single, &v[2]) > 0.999);
}
