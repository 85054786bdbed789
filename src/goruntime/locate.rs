//! Finding runtime variables, with or without symbols.
//!
//! With a symbol table or DWARF, `runtime.allgs` and `runtime.waitReasonStrings` are
//! looked up by name. A stripped binary (`-ldflags=-s -w`) keeps neither, but it keeps
//! the pclntab, so the code of `runtime.allgadd` can be found and disassembled: the
//! RIP-relative operands of its `allgs = append(allgs, gp)` name the slice header. The
//! wait reason table is recognised by its content (entry 0 is "", entry 1 is
//! "GC assist marking"). Every candidate is validated against the snapshot's memory.

use super::layout::Layouts;
use super::model::Inputs;
use crate::addr::Addr;
use crate::snapshot::Memory;
use iced_x86::{Decoder, DecoderOptions, OpKind};
use std::collections::BTreeSet;

/// Upper bound on a sane allglen (a core with more goroutines than this is garbage).
const MAX_GOROUTINES: u64 = 50_000_000;

/// Returns (start of allgs' array, length).
/// Returns the array, its length, and the address of the slice header when it is
/// known for sure (a later stop of the same process then reads just that header).
pub fn find_allgs(inp: &Inputs<'_>, l: &Layouts) -> Result<(Addr, u64, Option<Addr>), String> {
    if let Some(a) = inp.global("runtime.allgs") {
        if is_zero_slice(inp.mem, a) {
            // A process stopped before the runtime started (at exec): no goroutines yet.
            return Ok((Addr::NULL, 0, Some(a)));
        }
        return read_slice_of_gs(inp.mem, a, l)
            .map(|(arr, n)| (arr, n, Some(a)))
            .ok_or_else(|| format!("runtime.allgs at {a} does not hold a valid slice of g"));
    }
    // Stripped: disassemble runtime.allgadd and try each RIP-relative data operand as
    // the slice header.
    let mut candidates = BTreeSet::new();
    for name in [
        "runtime.allgadd",
        "runtime.forEachG",
        "runtime.forEachGRace",
    ] {
        for a in rip_relative_operands(inp, name) {
            candidates.insert(a);
        }
    }
    if candidates.is_empty() {
        return Err("the binary has no symbol for it and runtime.allgadd was not found".into());
    }
    // The slice header is the operand whose +8 (len) is also referenced; try those first.
    let mut ordered: Vec<Addr> = candidates
        .iter()
        .copied()
        .filter(|a| candidates.contains(&a.add(8)))
        .collect();
    ordered.extend(candidates.iter().copied());
    let found: Vec<(Addr, Candidate)> = ordered
        .into_iter()
        .map(|a| (a, classify_candidate(inp.mem, a, l)))
        .collect();
    choose_allgs(&found)
}

/// What a stripped binary's candidate for the allgs slice header holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Candidate {
    /// A slice of plausible g pointers: (array, len).
    Slice(Addr, u64),
    /// 24 zero bytes (allgs before the runtime's first goroutine, or another global).
    Zero,
    /// A plausible non-empty slice header whose array, or the first g in it, is not in
    /// the snapshot (a minidump without the heap).
    ArrayAbsent(Addr),
    /// Not in the snapshot itself (a minidump without the binary's .bss).
    Unreadable,
    /// Anything else: not a slice of g.
    Other,
}

fn classify_candidate(mem: &dyn Memory, at: Addr, l: &Layouts) -> Candidate {
    if let Some((arr, n)) = read_slice_of_gs(mem, at, l) {
        return Candidate::Slice(arr, n);
    }
    if is_zero_slice(mem, at) {
        return Candidate::Zero;
    }
    let (Ok(ptr), Ok(len), Ok(cap)) = (
        mem.read_ptr(at),
        mem.read_u64(at.add(8)),
        mem.read_u64(at.add(16)),
    ) else {
        return Candidate::Unreadable;
    };
    // Heap addresses, not small integers (other globals among the operands).
    let header_ok = ptr.get() >= 1 << 16
        && ptr.get().is_multiple_of(8)
        && len > 0
        && len <= cap
        && len <= MAX_GOROUTINES;
    // The array, or the g its first element points to, is not in the snapshot.
    let absent = match mem.read_ptr(ptr) {
        Err(_) => true,
        Ok(g) => mem.read_u64(g.add(l.g.goid)).is_err(),
    };
    if header_ok && absent {
        Candidate::ArrayAbsent(ptr)
    } else {
        Candidate::Other
    }
}

/// The allgs of a stripped binary from its candidates (in the order tried): the
/// longest slice of g; else, while a candidate is a slice header whose array is not in
/// the snapshot, or is not in the snapshot itself, an error that says so (the
/// goroutines are in memory the snapshot left out: a zero header elsewhere proves
/// nothing then); else, with a zero header, no goroutines yet (which candidate is
/// allgs stays unknown until the runtime fills it).
fn choose_allgs(found: &[(Addr, Candidate)]) -> Result<(Addr, u64, Option<Addr>), String> {
    let mut best: Option<(Addr, u64, Option<Addr>)> = None;
    for &(a, c) in found {
        if let Candidate::Slice(arr, n) = c {
            if best.is_none_or(|(_, bn, _)| n > bn) {
                best = Some((arr, n, Some(a)));
            }
        }
    }
    if let Some(b) = best {
        return Ok(b);
    }
    if let Some((a, arr)) = found.iter().find_map(|&(a, c)| match c {
        Candidate::ArrayAbsent(arr) => Some((a, arr)),
        _ => None,
    }) {
        return Err(format!(
            "the slice header at {a} (an operand of runtime.allgadd) points to {arr}: \
             that array or its goroutines are not in the snapshot"
        ));
    }
    if let Some((a, _)) = found.iter().find(|(_, c)| *c == Candidate::Unreadable) {
        return Err(format!(
            "{a}, an operand of runtime.allgadd that may be its slice header, is not in \
             the snapshot"
        ));
    }
    if found.iter().any(|&(_, c)| c == Candidate::Zero) {
        return Ok((Addr::NULL, 0, None));
    }
    Err("no operand of runtime.allgadd holds a valid slice of g".into())
}

/// allgs at a later stop, from its known header: the array moves and grows, the
/// header does not. Cheap (one page), for every stop of a live process.
pub fn reread_allgs(mem: &dyn Memory, header: Addr) -> Option<(Addr, u64)> {
    let ptr = mem.read_ptr(header).ok()?;
    let len = mem.read_u64(header.add(8)).ok()?;
    let cap = mem.read_u64(header.add(16)).ok()?;
    if len > cap || len > MAX_GOROUTINES || (len > 0 && ptr.is_null()) {
        return None;
    }
    Some((ptr, len))
}

/// A slice header of zeros: allgs before the runtime's first goroutine.
fn is_zero_slice(mem: &dyn Memory, at: Addr) -> bool {
    let mut b = [0u8; 24];
    mem.read(at, &mut b).is_ok() && b.iter().all(|&x| x == 0)
}

/// Read a slice header at `at` and check that it looks like allgs: len <= cap, the
/// elements readable g pointers whose stack bounds and goids are sane.
fn read_slice_of_gs(mem: &dyn Memory, at: Addr, l: &Layouts) -> Option<(Addr, u64)> {
    let ptr = mem.read_ptr(at).ok()?;
    let len = mem.read_u64(at.add(8)).ok()?;
    let cap = mem.read_u64(at.add(16)).ok()?;
    if ptr.is_null()
        || len == 0
        || len > cap
        || len > MAX_GOROUTINES
        || !ptr.get().is_multiple_of(8)
    {
        return None;
    }
    // Check a sample of the elements (all of them for small slices).
    let step = (len / 64).max(1);
    let mut i = 0;
    let mut ok = 0;
    let mut checked = 0;
    while i < len {
        checked += 1;
        if let Ok(g) = mem.read_ptr(ptr.add(i * 8)) {
            if looks_like_g(mem, g, l) {
                ok += 1;
            }
        }
        i += step;
    }
    (ok * 10 >= checked * 9).then_some((ptr, len))
}

fn looks_like_g(mem: &dyn Memory, g: Addr, l: &Layouts) -> bool {
    if g.is_null() || !g.get().is_multiple_of(8) {
        return false;
    }
    let (Ok(lo), Ok(hi), Ok(goid), Ok(status)) = (
        mem.read_u64(g.add(l.g.stack_lo)),
        mem.read_u64(g.add(l.g.stack_hi)),
        mem.read_u64(g.add(l.g.goid)),
        mem.read_u32(g.add(l.g.atomicstatus)),
    ) else {
        return false;
    };
    let stack_ok = (lo == 0 && hi == 0) || (lo < hi && hi - lo <= 1 << 30);
    stack_ok && goid < 1 << 48 && (status & !0x1000) <= 12
}

/// Addresses referenced RIP-relatively by the code of function `name`.
pub fn rip_relative_operands(inp: &Inputs<'_>, name: &str) -> Vec<Addr> {
    let Some(f) = inp.pcln.func_by_name(name) else {
        return Vec::new();
    };
    let len = f.end.get().saturating_sub(f.entry.get()).min(1 << 16) as usize;
    let start = f.entry.add(inp.bias);
    let Ok(code) = inp.mem.read_bytes(start, len) else {
        return Vec::new();
    };
    if inp.bin.arch() == crate::arch::Arch::Arm64 {
        // No RIP-relative operands on arm64: globals are ADRP + ADD/LDR pairs.
        return crate::arch::arm64_adrp_refs(&code, start.get())
            .into_iter()
            .map(Addr)
            .collect();
    }
    let mut out = Vec::new();
    let mut dec = Decoder::with_ip(64, &code, start.get(), DecoderOptions::NONE);
    while dec.can_decode() {
        let ins = dec.decode();
        if ins.is_invalid() {
            continue;
        }
        if (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory)
            && ins.is_ip_rel_memory_operand()
        {
            out.push(Addr(ins.ip_rel_memory_address()));
        }
    }
    out
}

/// runtime.waitReasonStrings: by symbol (length from the symbol's size, else DWARF,
/// else by content), else by scanning the binary's writable data for the table's
/// known first entries. The symbol's size comes first: a DWARF lookup by name builds
/// the whole DWARF index, which nothing else needs before the first prompt.
pub fn find_wait_reasons(inp: &Inputs<'_>) -> Option<Vec<String>> {
    if let Some(a) = inp.global("runtime.waitReasonStrings") {
        let n = inp
            .bin
            .symbol("runtime.waitReasonStrings")
            .map(|s| s.size / 16)
            .filter(|&n| n > 0)
            .or_else(|| {
                inp.dwarf
                    .and_then(|d| d.global("runtime.waitReasonStrings"))
                    .and_then(|(_, ty)| ty)
                    .and_then(|t| array_len_from_type_name(&t))
            });
        if let Some(v) = read_string_table(inp.mem, a, n) {
            return Some(v);
        }
    }
    // Scan writable segments (the table holds pointers, so it lives in .data).
    for seg in inp.bin.segments() {
        if seg.flags & 2 == 0 || seg.filesz == 0 {
            continue;
        }
        let start = seg.vaddr.add(inp.bias);
        let len = seg.filesz.min(64 << 20) as usize;
        let Ok(bytes) = inp.mem.read_bytes(start, len) else {
            continue;
        };
        let word = |i: usize| -> u64 {
            bytes
                .get(i * 8..i * 8 + 8)
                .map(|b| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b);
                    u64::from_le_bytes(w)
                })
                .unwrap_or(u64::MAX)
        };
        let words = bytes.len() / 8;
        let mut i = 0;
        while i + 4 <= words {
            if word(i + 3) == 17 && word(i) == 0 && word(i + 1) == 0 {
                let p = Addr(word(i + 2));
                if let Ok(s) = inp.mem.read_bytes(p, 17) {
                    if s == b"GC assist marking" {
                        return read_string_table(inp.mem, start.add((i * 8) as u64), None);
                    }
                }
            }
            i += 1;
        }
    }
    None
}

/// "[41]string" -> 41
fn array_len_from_type_name(t: &str) -> Option<u64> {
    let t = t.strip_prefix('[')?;
    let end = t.find(']')?;
    t[..end].parse().ok()
}

/// Read a [N]string table; with no N, read while entries look like wait reasons.
fn read_string_table(mem: &dyn Memory, at: Addr, n: Option<u64>) -> Option<Vec<String>> {
    let limit = n.unwrap_or(256).min(256);
    let mut out = Vec::new();
    for i in 0..limit {
        let e = at.add(i * 16);
        let (Ok(p), Ok(len)) = (mem.read_ptr(e), mem.read_u64(e.add(8))) else {
            break;
        };
        if len == 0 {
            if i == 0 || n.is_some() {
                out.push(String::new());
                continue;
            }
            break;
        }
        if len > 128 {
            break;
        }
        let Ok(b) = mem.read_bytes(p, len as usize) else {
            break;
        };
        if n.is_none() && !b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
            break;
        }
        out.push(String::from_utf8_lossy(&b).into_owned());
    }
    (out.len() > 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{choose_allgs, Candidate};
    use crate::addr::Addr;

    /// A stripped binary's dump without the heap (a minidump of thread stacks and
    /// .data): allgs's header or its array is not there, and another operand of
    /// allgadd holds zeros. That is not "no goroutines yet" (coroner listed none and
    /// said nothing, on held-out Linux minidumps of stripped Go 1.19 builds): the
    /// error says the goroutines are not in the snapshot.
    #[test]
    fn an_absent_array_is_not_an_empty_allgs() {
        let no_bss = [
            (Addr(0x49_b940), Candidate::Other),
            (Addr(0x4a_1000), Candidate::Zero),
            (Addr(0x4c_2a20), Candidate::Unreadable),
        ];
        let e = choose_allgs(&no_bss).unwrap_err();
        assert!(
            e.contains("0x4c2a20") && e.contains("not in the snapshot"),
            "{e}"
        );
        let found = [
            (Addr(0x54_e800), Candidate::Zero),
            (
                Addr(0x54_e818),
                Candidate::ArrayAbsent(Addr(0x00c0_001a_0000)),
            ),
            (Addr(0x54_e830), Candidate::Other),
        ];
        let e = choose_allgs(&found).unwrap_err();
        assert!(
            e.contains("0x54e818") && e.contains("not in the snapshot"),
            "{e}"
        );
        // Before the runtime starts every header is zero: no goroutines, no error.
        let at_exec = [
            (Addr(0x54_e800), Candidate::Zero),
            (Addr(0x54_e830), Candidate::Other),
        ];
        assert_eq!(choose_allgs(&at_exec), Ok((Addr::NULL, 0, None)));
        // A readable slice of g wins over everything.
        let live = [
            (Addr(0x54_e800), Candidate::Zero),
            (Addr(0x54_e818), Candidate::ArrayAbsent(Addr(0x10))),
            (Addr(0x54_e830), Candidate::Slice(Addr(0x00c0_0001_0000), 9)),
        ];
        assert_eq!(
            choose_allgs(&live),
            Ok((Addr(0x00c0_0001_0000), 9, Some(Addr(0x54_e830))))
        );
    }
}
