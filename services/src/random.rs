//! A small process-wide pseudo-random source (splitmix64) for fault sampling, ids and
//! demo order data; seeded from the OS's hash keys, not for anything secret.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static STATE: OnceLock<AtomicU64> = OnceLock::new();

fn state() -> &'static AtomicU64 {
    STATE.get_or_init(|| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        AtomicU64::new(hasher.finish())
    })
}

/// The next 64 random bits.
pub fn next_u64() -> u64 {
    let mut z = state()
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform float in [0, 1).
pub fn unit() -> f64 {
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// True with probability `p` (clamped to 0..=1).
pub fn chance(p: f64) -> bool {
    p > 0.0 && unit() < p.min(1.0)
}

/// `prefix` followed by `hex_chars` random hex digits (at most 32).
pub fn hex_id(prefix: &str, hex_chars: usize) -> String {
    let bits = (u128::from(next_u64()) << 64) | u128::from(next_u64());
    let hex = format!("{bits:032x}");
    format!("{prefix}{}", &hex[..hex_chars.min(32)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_is_roughly_fair() {
        let hits = (0..10_000).filter(|_| chance(0.3)).count();
        assert!((2_500..3_500).contains(&hits), "{hits}");
        assert!(!chance(0.0));
        assert!(chance(1.0));
    }

    #[test]
    fn ids() {
        let id = hex_id("trace-", 16);
        assert_eq!(id.len(), 22);
        assert!(id[6..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(hex_id("", 16), hex_id("", 16));
    }
}
