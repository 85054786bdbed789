//! A name → index table over names that stay where they are (a string table in the
//! mapped binary, the pclntab's function names): no name is copied.
//!
//! Open addressing with linear probing; a slot holds the entry's index and 32 bits of
//! its hash, so a probe compares names only when the hashes agree. Built in one pass,
//! freed as two allocations: the `HashMap<String, _>` it replaced allocated one string
//! per symbol (155,000 for a 1,000-package binary), and building and freeing them was
//! a fifth of `coroner core` before its first prompt.

/// Index of the first entry of each distinct name (entries are offered in order).
pub(crate) struct NameIndex {
    /// (index + 1, high 32 bits of the hash); index 0 marks an empty slot.
    slots: Vec<(u32, u32)>,
    mask: usize,
}

/// A fast non-cryptographic hash of a name, eight bytes at a time.
pub(crate) fn hash(name: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (name.len() as u64).wrapping_mul(K);
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(31);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        if let Some(d) = w.get_mut(..rest.len()) {
            d.copy_from_slice(rest);
        }
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(31);
    }
    // Final avalanche so that both halves depend on every byte.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

impl NameIndex {
    /// Index entries `0..n`; `name_of(i)` gives entry i's name (None: not indexed).
    /// When names repeat, the first entry keeps the name.
    pub(crate) fn build<'a>(n: usize, name_of: impl Fn(usize) -> Option<&'a [u8]>) -> NameIndex {
        // Load factor at most 5/8: probes stay short.
        let cap = (n.saturating_mul(8) / 5).max(16).next_power_of_two();
        let mut t = NameIndex {
            slots: vec![(0, 0); cap],
            mask: cap - 1,
        };
        for i in 0..n.min(u32::MAX as usize - 1) {
            let Some(name) = name_of(i) else {
                continue;
            };
            let h = hash(name);
            let tag = (h >> 32) as u32;
            let mut s = h as usize & t.mask;
            while let Some(slot) = t.slots.get_mut(s) {
                match *slot {
                    (0, _) => {
                        *slot = (i as u32 + 1, tag);
                        break;
                    }
                    (j, tg) if tg == tag && name_of(j as usize - 1) == Some(name) => break,
                    _ => s = (s + 1) & t.mask,
                }
            }
        }
        t
    }

    /// The entry named `name`, if any.
    pub(crate) fn find<'a>(
        &self,
        name: &[u8],
        name_of: impl Fn(usize) -> Option<&'a [u8]>,
    ) -> Option<usize> {
        let h = hash(name);
        let tag = (h >> 32) as u32;
        let mut s = h as usize & self.mask;
        // Bounded by the table size: a full wrap means the name is absent.
        for _ in 0..self.slots.len() {
            match *self.slots.get(s)? {
                (0, _) => return None,
                (j, tg) if tg == tag && name_of(j as usize - 1) == Some(name) => {
                    return Some(j as usize - 1)
                }
                _ => s = (s + 1) & self.mask,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_keeps_the_first_of_duplicates_and_misses_absent_ones() {
        let names: Vec<String> = (0..5000)
            .map(|i| format!("example.com/p{:04}.F{}", i % 4000, i / 4000))
            .chain(["dup".to_string(), "dup".to_string(), String::new()])
            .collect();
        let of = |i: usize| names.get(i).map(|s| s.as_bytes()).filter(|b| !b.is_empty());
        let ix = NameIndex::build(names.len(), of);
        for (i, n) in names.iter().enumerate().take(5000) {
            assert_eq!(ix.find(n.as_bytes(), of), Some(i), "{n}");
        }
        assert_eq!(ix.find(b"dup", of), Some(5000));
        assert_eq!(ix.find(b"", of), None);
        assert_eq!(ix.find(b"example.com/p0000.F9", of), None);
        assert_eq!(NameIndex::build(0, of).find(b"dup", of), None);
    }

    #[test]
    fn hash_depends_on_every_byte_and_the_length() {
        assert_ne!(hash(b"runtime.main"), hash(b"runtime.maio"));
        assert_ne!(hash(b"abcdefgh"), hash(b"abcdefgh\0"));
        assert_ne!(hash(b""), hash(b"\0"));
    }
}
