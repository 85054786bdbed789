//! A fast hasher for the maps the bulk passes fill per goroutine (keys are addresses,
//! indices and PC lists, not attacker-chosen strings over a network).
//!
//! SipHash, std's default, was an eighth of `coroner triage` on a 100,000-goroutine
//! core: every analyzer keys maps by g address or by stack. This one mixes a word per
//! step. The seed is random per process, so a crafted core cannot choose colliding
//! addresses ahead of time.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Builds [`FastHasher`]s with this process's seed.
#[derive(Clone, Copy, Debug)]
pub struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> FastState {
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(K));
        FastState { seed }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.seed)
    }
}

/// Multiply-rotate over 64-bit words, with a final avalanche (hashbrown takes the
/// bucket from the low bits and a tag from the high ones).
#[derive(Clone, Copy, Debug)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(K).rotate_left(26);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            if let Some(d) = w.get_mut(..rest.len()) {
                d.copy_from_slice(rest);
            }
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 29)
    }
}

pub type FastMap<K, V> = HashMap<K, V, FastState>;
pub type FastSet<K> = HashSet<K, FastState>;

/// An empty [`FastMap`] with room for `n` entries.
pub fn map_with_capacity<K, V>(n: usize) -> FastMap<K, V> {
    HashMap::with_capacity_and_hasher(n, FastState::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_apart() {
        let s = FastState::default();
        assert_eq!(s.hash_one(0x1234u64), s.hash_one(0x1234u64));
        assert_eq!(s.hash_one(vec![1u64, 2, 3]), s.hash_one(vec![1u64, 2, 3]));
        assert_ne!(s.hash_one(vec![1u64, 2, 3]), s.hash_one(vec![1u64, 2, 4]));
        assert_ne!(s.hash_one(b"ab".as_slice()), s.hash_one(b"ab\0".as_slice()));
        // Eight-aligned g addresses spread over the low bits hashbrown uses.
        let mut low: FastSet<u64> = FastSet::default();
        for i in 0..4096u64 {
            low.insert(s.hash_one(0x00c0_0000_0000_u64 + i * 0x1a0) & 0xfff);
        }
        assert!(low.len() > 2000, "{} distinct low bits of 4096", low.len());
        let mut m: FastMap<u64, usize> = map_with_capacity(10);
        m.insert(7, 1);
        assert_eq!(m.get(&7), Some(&1));
    }
}
