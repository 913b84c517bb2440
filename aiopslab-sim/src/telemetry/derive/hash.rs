//! Deterministic pseudo-randomness for derived telemetry: every "random" choice is a hash of
//! the cluster seed and a stable key (a pod uid, a container name, a request number), so the
//! same seed and the same cluster history give the same numbers in any query order.

/// SplitMix64's finalizer: a strong, cheap 64-bit mix.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 64-bit hash of `seed` and a text key.
pub(crate) fn keyed(seed: u64, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ mix(seed);
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// A number in `[lo, hi)` drawn from `seed` and `key`.
pub(crate) fn unit_range(seed: u64, key: &str, lo: f64, hi: f64) -> f64 {
    let u = (keyed(seed, key) >> 11) as f64 / (1u64 << 53) as f64;
    lo + (hi - lo) * u
}

/// 64 lower-case hex digits from `seed` and `key` (container-id shaped).
pub(crate) fn hex64(seed: u64, key: &str) -> String {
    (0..4u64)
        .map(|i| format!("{:016x}", mix(keyed(seed, key) ^ mix(i + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_spread() {
        assert_eq!(keyed(1, "a"), keyed(1, "a"));
        assert_ne!(keyed(1, "a"), keyed(2, "a"));
        assert_ne!(keyed(1, "a"), keyed(1, "b"));
        let x = unit_range(3, "k", 5.0, 6.0);
        assert!((5.0..6.0).contains(&x));
        assert_eq!(hex64(1, "pod").len(), 64);
    }
}
