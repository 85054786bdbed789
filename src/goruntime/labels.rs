//! Goroutine labels (`runtime/pprof.Do`, `SetGoroutineLabels`), read from `g.labels`
//! without DWARF, so stripped binaries show them too.
//!
//! `g.labels` is an `unsafe.Pointer` to pprof's `labelMap`, whose shape changed:
//!
//! - Go 1.19–1.23: `type labelMap map[string]string`: the pointer is a `*map`, i.e. a
//!   pointer to the word holding the `*hmap` of a classic (bucketed) Go map;
//! - Go 1.24–1.25: `type labelMap struct{ LabelSet }` with `LabelSet{ list []label }`
//!   and `label{ key, value string }`: a slice of key/value pairs, sorted by key;
//! - Go 1.26+: `type labelMap struct{ label.Set }` (`internal/runtime/pprof/label`),
//!   `Set{ List []Label }`, `Label{ Key, Value string }`: the same words as 1.24.
//!
//! (Labels were never a swiss map: 1.24 moved them to the slice in the release that
//! made swiss maps the default.) The classic map's header and bucket layout did not
//! change from 1.19 to 1.23, so both shapes are fixed offsets here.
//!
//! What is read follows Delve 1.27.1 (`proc.(*G).Labels`), so `goroutines -l` and the
//! label filters agree with it: strings are cut to 64 bytes (its `LoadFullValue`
//! string limit), a map yields at most 64 entries (its array limit), a slice at most
//! 1,000 (`maxGoroutinesLabelEntries`), and pairs whose strings cannot be read are
//! skipped.

use crate::addr::Addr;
use crate::snapshot::{MemError, Memory};
use crate::symbols::Pclntab;

/// Delve's `LoadFullValue().MaxStringLen`: label keys and values are cut here.
pub const MAX_STRING: usize = 64;
/// Delve's `LoadFullValue().MaxArrayValues`: entries loaded from a classic map.
const MAX_MAP_ENTRIES: usize = 64;
/// Delve's `maxGoroutinesLabelEntries`: entries read from a label slice.
const MAX_LIST_ENTRIES: u64 = 1_000;
/// Labels Delve prints before `... (N more)`.
const SHOWN: usize = 5;

// runtime.hmap (Go ≤1.23): count int; flags, B uint8; noverflow uint16; hash0 uint32;
// buckets, oldbuckets unsafe.Pointer; nevacuate uintptr; extra *mapextra.
const HMAP_COUNT: u64 = 0;
const HMAP_B: u64 = 9;
const HMAP_BUCKETS: u64 = 16;
const HMAP_OLDBUCKETS: u64 = 24;
// A bucket of map[string]string: tophash [8]uint8, keys [8]string, elems [8]string,
// overflow *bmap.
const BUCKET_SLOTS: u64 = 8;
const BUCKET_KEYS: u64 = 8;
const BUCKET_ELEMS: u64 = BUCKET_KEYS + BUCKET_SLOTS * 16;
const BUCKET_OVERFLOW: u64 = BUCKET_ELEMS + BUCKET_SLOTS * 16;
const BUCKET_SIZE: u64 = BUCKET_OVERFLOW + 8;
/// tophash values below this mark empty or evacuated slots (runtime.minTopHash).
const MIN_TOP_HASH: u8 = 5;
/// Larger B means a corrupt header: no label map has a million buckets.
const MAX_B: u8 = 20;

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("cannot read the goroutine's labels at {addr}: {source}")]
    Memory { addr: Addr, source: MemError },
    #[error("the goroutine's label map at {addr} is corrupt ({why}); its labels are not shown")]
    Corrupt { addr: Addr, why: String },
}

/// One goroutine's labels: unique keys in Go's string order (bytes, as Go compares
/// them), each cut to [`MAX_STRING`] bytes. Bytes, not `String`: a label may hold any
/// bytes and Delve quotes invalid UTF-8 as `\x..`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Labels {
    /// From pairs in any order; a later duplicate key wins (map assignment).
    pub fn from_pairs(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Labels {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match entries.iter_mut().find(|(ek, _)| *ek == k) {
                Some(e) => e.1 = v,
                None => entries.push((k, v)),
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Labels { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The value of `key`, if the goroutine has that label.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// Pairs in key order, as text (invalid UTF-8 replaced), for JSON and the browser.
    pub fn pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.entries.iter().map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
    }

    /// Delve's `-with label k=v` / `-with label k` test.
    pub fn matches(&self, key: &str, value: Option<&str>) -> bool {
        match (self.get(key), value) {
            (Some(v), Some(want)) => v == want.as_bytes(),
            (Some(_), None) => true,
            // Delve compares a missing key's value as "": `-with label k=` matches it.
            (None, Some(want)) => want.is_empty(),
            (None, None) => false,
        }
    }

    /// Delve's `-group label k` key: `k=VALUE`, `k=` when the label is missing.
    pub fn group_key(&self, key: &str) -> String {
        let v = self.get(key).unwrap_or_default();
        format!("{key}={}", String::from_utf8_lossy(v))
    }

    /// Delve's `Labels: "k":"v", ...` line (no prefix, no newline): the first five
    /// keys, then `... (N more)` glued to the fifth value, as Delve writes it.
    pub fn delve_text(&self) -> String {
        let mut s = String::from("Labels: ");
        let n = self.entries.len().min(SHOWN);
        for (i, (k, v)) in self.entries.iter().take(SHOWN).enumerate() {
            s.push_str(&go_quote_bytes(k));
            s.push(':');
            s.push_str(&go_quote_bytes(v));
            if i + 1 != n {
                s.push_str(", ");
            } else if self.entries.len() > SHOWN {
                s.push_str(&format!("... ({} more)", self.entries.len() - SHOWN));
            }
        }
        s
    }
}

/// Whether the program can have labels at all: every way to set them goes through
/// `runtime/pprof.runtime_setProfLabel` (linknamed into the runtime), which the linker
/// keeps only when something calls it. Without it `g.labels` is not pprof's (Delve
/// likewise reads labels only when the binary has pprof's `labelMap` type).
pub fn labels_linked(pcln: &Pclntab) -> bool {
    pcln.func_by_name("runtime/pprof.runtime_setProfLabel")
        .is_some()
}

/// Read the labels `g.labels` (`p`) points to, for Go 1.`minor`. A null pointer is no
/// labels.
pub fn read(mem: &dyn Memory, minor: u32, p: Addr) -> Result<Labels, LabelError> {
    if p.is_null() {
        return Ok(Labels::default());
    }
    if minor <= 23 {
        let h = mem
            .read_ptr(p)
            .map_err(|source| LabelError::Memory { addr: p, source })?;
        read_classic_map(mem, h)
    } else {
        read_list(mem, p)
    }
}

fn mem_err(addr: Addr) -> impl FnOnce(MemError) -> LabelError {
    move |source| LabelError::Memory { addr, source }
}

/// A Go string header at `a`, cut to [`MAX_STRING`] bytes; None if unreadable.
fn read_string(mem: &dyn Memory, a: Addr) -> Option<Vec<u8>> {
    let ptr = mem.read_ptr(a).ok()?;
    let len = mem.read_u64(a.add(8)).ok()?;
    if len as i64 <= 0 {
        // Negative is garbage; Delve shows it unreadable and skips the pair.
        return (len == 0).then(Vec::new);
    }
    mem.read_bytes(ptr, (len as usize).min(MAX_STRING)).ok()
}

/// Go 1.24+: `{list []label}` at `p`, 32-byte `{key, value string}` elements.
fn read_list(mem: &dyn Memory, p: Addr) -> Result<Labels, LabelError> {
    let data = mem.read_ptr(p).map_err(mem_err(p))?;
    let len = mem.read_u64(p.add(8)).map_err(mem_err(p))? as i64;
    let n = len.clamp(0, MAX_LIST_ENTRIES as i64) as u64;
    let mut pairs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let e = data.add(i * 32);
        // Delve stops at the first element it cannot reach, skips unreadable strings.
        if mem.read_u64(e).is_err() {
            break;
        }
        if let (Some(k), Some(v)) = (read_string(mem, e), read_string(mem, e.add(16))) {
            pairs.push((k, v));
        }
    }
    Ok(Labels::from_pairs(pairs))
}

/// Go ≤1.23: a classic `map[string]string` with header at `h`, iterated as Delve's
/// map iterator does (bucket order, overflow chains; while the map grows, an old
/// bucket not yet evacuated stands for the first of its two new buckets).
fn read_classic_map(mem: &dyn Memory, h: Addr) -> Result<Labels, LabelError> {
    if h.is_null() {
        return Ok(Labels::default());
    }
    let count = mem.read_u64(h.add(HMAP_COUNT)).map_err(mem_err(h))?;
    let b = mem.read_u8(h.add(HMAP_B)).map_err(mem_err(h))?;
    let buckets = mem.read_ptr(h.add(HMAP_BUCKETS)).map_err(mem_err(h))?;
    let old = mem.read_ptr(h.add(HMAP_OLDBUCKETS)).map_err(mem_err(h))?;
    if count == 0 || buckets.is_null() {
        return Ok(Labels::default());
    }
    if b > MAX_B || count > (BUCKET_SLOTS << b) * 16 {
        return Err(LabelError::Corrupt {
            addr: h,
            why: format!("{count} entries in 2^{b} buckets"),
        });
    }
    let nbuckets = 1u64 << b;
    // While growing, oldbuckets holds half as many buckets (same-size growth keeps
    // the count; both are handled by checking which old bucket feeds this one).
    let old_n = if old.is_null() {
        0
    } else {
        old_count(mem, h, b)
    };
    let mut pairs = Vec::new();
    // Chains are bounded so a corrupt overflow pointer cannot loop forever.
    let mut budget = nbuckets + count + 1;
    for i in 0..nbuckets {
        let mut bucket = buckets.add(i * BUCKET_SIZE);
        if old_n > 0 {
            let j = i & (old_n - 1);
            let ob = old.add(j * BUCKET_SIZE);
            if !evacuated(mem, ob) {
                if i != j {
                    continue;
                }
                bucket = ob;
            }
        }
        while !bucket.is_null() && budget > 0 {
            budget -= 1;
            let Ok(tophash) = mem.read_bytes(bucket, BUCKET_SLOTS as usize) else {
                break;
            };
            for (slot, &top) in tophash.iter().enumerate() {
                if top < MIN_TOP_HASH {
                    continue;
                }
                let k = read_string(mem, bucket.add(BUCKET_KEYS + slot as u64 * 16));
                let v = read_string(mem, bucket.add(BUCKET_ELEMS + slot as u64 * 16));
                if let (Some(k), Some(v)) = (k, v) {
                    pairs.push((k, v));
                    if pairs.len() == MAX_MAP_ENTRIES {
                        return Ok(Labels::from_pairs(pairs));
                    }
                }
            }
            bucket = mem
                .read_ptr(bucket.add(BUCKET_OVERFLOW))
                .unwrap_or(Addr::NULL);
        }
    }
    Ok(Labels::from_pairs(pairs))
}

/// How many old buckets a growing map has: half the new ones after a doubling, as
/// many after a same-size grow (hmap.flags & sameSizeGrow, bit 3).
fn old_count(mem: &dyn Memory, h: Addr, b: u8) -> u64 {
    const SAME_SIZE_GROW: u8 = 8;
    let flags = mem.read_u8(h.add(8)).unwrap_or(0);
    if flags & SAME_SIZE_GROW != 0 || b == 0 {
        1u64 << b
    } else {
        1u64 << (b - 1)
    }
}

/// runtime.evacuated: the first tophash is one of the evacuated markers (2, 3, 4).
fn evacuated(mem: &dyn Memory, bucket: Addr) -> bool {
    matches!(mem.read_u8(bucket), Ok(2..=4))
}

/// Go's `%q` (strconv.Quote) of a byte string: invalid UTF-8 as `\x..`, control and
/// the common non-printing characters escaped (`\u00a0`, `\u200b`, `\ufeff`, ...).
/// Unassigned code points, which Go also escapes, are printed as they are.
pub fn go_quote_bytes(b: &[u8]) -> String {
    let mut o = String::with_capacity(b.len() + 2);
    o.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_escaped(&mut o, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_escaped(&mut o, std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for byte in bad.iter().take(n) {
                    o.push_str(&format!("\\x{byte:02x}"));
                }
                rest = bad.get(n..).unwrap_or_default();
            }
        }
    }
    o.push('"');
    o
}

fn push_escaped(o: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !is_print(c) => {
                if (c as u32) < 0x10000 {
                    o.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    o.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => o.push(c),
        }
    }
}

/// unicode.IsPrint for what labels plausibly hold: C1 controls, spaces other than
/// ASCII space, format characters, separators, private use and noncharacters are
/// not printable.
fn is_print(c: char) -> bool {
    let u = c as u32;
    !matches!(u,
        0x80..=0x9f | 0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x1680
        | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064 | 0x2066..=0x206f
        | 0x3000 | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff
        | 0xe0000..=0xe007f | 0xf0000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(
            p.iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        )
    }

    #[test]
    fn delve_line_shows_five_then_more() {
        let many: Vec<(String, String)> =
            (0..7).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            l(&refs).delve_text(),
            r#"Labels: "k0":"v0", "k1":"v1", "k2":"v2", "k3":"v3", "k4":"v4"... (2 more)"#
        );
        assert_eq!(
            l(&[("b", "2"), ("a", "1")]).delve_text(),
            r#"Labels: "a":"1", "b":"2""#
        );
    }

    #[test]
    fn quoting_follows_go() {
        assert_eq!(go_quote_bytes(b"a\"b\n\tc\xc3\xa9"), r#""a\"b\n\tcé""#);
        assert_eq!(go_quote_bytes(b"\xff\x01"), r#""\xff\x01""#);
        assert_eq!(
            go_quote_bytes("\u{a0}\u{feff}".as_bytes()),
            r#""\u00a0\ufeff""#
        );
        // A UTF-8 sequence cut by the 64-byte limit is invalid: its bytes are escaped.
        assert_eq!(go_quote_bytes(b"x\xc3"), r#""x\xc3""#);
    }

    #[test]
    fn filters_and_groups_as_delve() {
        let a = l(&[("k", "v")]);
        assert!(a.matches("k", Some("v")) && a.matches("k", None));
        assert!(!a.matches("k", Some("w")) && !a.matches("x", None));
        assert!(a.matches("x", Some("")));
        assert_eq!(a.group_key("k"), "k=v");
        assert_eq!(a.group_key("x"), "x=");
        assert_eq!(l(&[("k", "1"), ("k", "2")]).get("k"), Some(&b"2"[..]));
    }
}
