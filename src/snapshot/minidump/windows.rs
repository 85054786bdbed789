//! Windows minidumps (`MiniDumpWriteDump`): where each thread's g is, from its TEB,
//! and the exception stream's codes in the terms the rest of coroner uses.
//!
//! How Go finds g on windows/amd64 (runtime `get_tls`, cmd/internal/obj/x86): the GS
//! base is the thread's TEB; one TEB word holds `&m.tls`, and `m.tls[0]` is g.
//! - Go 1.20 and older: the word is `TEB.ArbitraryUserPointer` (TEB+0x28; `settls`
//!   in sys_windows_amd64.s writes it).
//! - Go 1.21 and later: `wintls` allocates a TLS index with TlsAlloc and stores
//!   `0x1480 + 8*index` (an offset into `TEB.TlsSlots`) in `runtime.tls_g`, falling
//!   back to ArbitraryUserPointer when the index is 64 or more.
//!
//! `runtime.tls_g` lives in the binary's bss, which a normal dump does not save, and
//! the index depends on what the process loaded before Go's start: so every candidate
//! word is offered (ArbitraryUserPointer, then the 64 TlsSlots) and the runtime model
//! keeps the one whose g is its M's g0, curg or gsignal and whose M is the thread's
//! (`m.procid` is the Windows thread id from `minit` in Go 1.22+; Go 1.19 leaves it 0).
//! A dump without the TEB pages (MiniDumpNormal writes none) offers nothing: the model
//! then finds each thread's M through `runtime.allm` by procid (Go 1.22+ only).

use super::super::notes::le_u64;

/// TEB offsets (amd64, NT_TIB first).
const TEB_ARBITRARY_USER_POINTER: u64 = 0x28;
const TEB_TLS_SLOTS: u64 = 0x1480;
const TLS_SLOTS: u64 = 64;

/// The addresses that may hold a thread's g: where the TEB's candidate words point.
/// `read(addr, len)` reads the dump's saved bytes; unsaved words are skipped.
pub fn g_slot_candidates(teb: u64, read: impl Fn(u64, usize) -> Option<Vec<u8>>) -> Vec<u64> {
    if teb == 0 {
        return Vec::new();
    }
    let mut words = vec![teb.wrapping_add(TEB_ARBITRARY_USER_POINTER)];
    words.extend((0..TLS_SLOTS).map(|i| teb.wrapping_add(TEB_TLS_SLOTS + 8 * i)));
    let mut out = Vec::new();
    for w in words {
        let Some(v) = read(w, 8).and_then(|b| le_u64(&b, 0)) else {
            continue;
        };
        // &m.tls is a pointer-aligned heap or data address.
        if v != 0 && v % 8 == 0 && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// What a Windows exception code means, as the Linux signal coroner's crash report
/// names (the cause of death reads signals), and whether ExceptionInformation[1] is
/// the faulting address.
pub fn exception_signal(code: u32) -> Option<(i32, bool)> {
    Some(match code {
        0xc000_0005 => (11, true),  // EXCEPTION_ACCESS_VIOLATION: SIGSEGV
        0xc000_0006 => (7, true),   // EXCEPTION_IN_PAGE_ERROR: SIGBUS
        0xc000_00fd => (11, false), // EXCEPTION_STACK_OVERFLOW
        0xc000_001d | 0xc000_0096 => (4, false), // illegal / privileged instruction: SIGILL
        0xc000_0094 | 0xc000_0095 | 0xc000_008e | 0xc000_0090 | 0xc000_0091 => (8, false), // SIGFPE
        0x8000_0003 | 0x8000_0004 => (5, false), // breakpoint, single step: SIGTRAP
        _ => return None,
    })
}

/// The name of a Windows exception code, for messages.
pub fn exception_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0xc000_0005 => "EXCEPTION_ACCESS_VIOLATION",
        0xc000_0006 => "EXCEPTION_IN_PAGE_ERROR",
        0xc000_00fd => "EXCEPTION_STACK_OVERFLOW",
        0xc000_001d => "EXCEPTION_ILLEGAL_INSTRUCTION",
        0xc000_0096 => "EXCEPTION_PRIV_INSTRUCTION",
        0xc000_0094 => "EXCEPTION_INT_DIVIDE_BY_ZERO",
        0xc000_0095 => "EXCEPTION_INT_OVERFLOW",
        0xc000_008e => "EXCEPTION_FLT_DIVIDE_BY_ZERO",
        0x8000_0003 => "EXCEPTION_BREAKPOINT",
        0x8000_0004 => "EXCEPTION_SINGLE_STEP",
        0xc000_0409 => "STATUS_STACK_BUFFER_OVERRUN",
        0xe06d_7363 => "C++ exception",
        _ => return None,
    })
}

/// The file name of a Windows path (`C:\dir\prog.exe` → `prog.exe`); Rust's `Path`
/// on Unix does not split at backslashes.
pub fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_the_teb_words() {
        let teb = 0x3e_0000u64;
        // ArbitraryUserPointer -> 0x1000, slot 3 -> 0x2000, slot 4 -> 0x2000 again,
        // slot 5 -> misaligned junk; everything else zero or unsaved.
        let read = |a: u64, _n: usize| -> Option<Vec<u8>> {
            let v: u64 = match a - teb {
                0x28 => 0x1000,
                x if x == 0x1480 + 24 => 0x2000,
                x if x == 0x1480 + 32 => 0x2000,
                x if x == 0x1480 + 40 => 0x2003,
                x if x >= 0x1480 + 48 => return None,
                _ => 0,
            };
            Some(v.to_le_bytes().to_vec())
        };
        assert_eq!(g_slot_candidates(teb, read), vec![0x1000, 0x2000]);
        assert!(g_slot_candidates(0, read).is_empty());
        assert!(g_slot_candidates(u64::MAX - 8, |_, _| None).is_empty());
    }

    #[test]
    fn names_and_codes() {
        assert_eq!(basename(r"Z:\tmp\run\live.exe"), "live.exe");
        assert_eq!(basename("live.exe"), "live.exe");
        assert_eq!(exception_signal(0xc000_0005), Some((11, true)));
        assert_eq!(exception_signal(0x1234), None);
        assert_eq!(exception_name(0x8000_0003), Some("EXCEPTION_BREAKPOINT"));
    }
}
