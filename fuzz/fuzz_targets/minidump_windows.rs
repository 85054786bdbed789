//! Windows minidumps: whatever a thread's CONTEXT and TEB hold, opening the dump,
//! decoding the registers and following the TEB's TLS words must not panic; and
//! whatever a PE file holds, opening it as a binary must not panic either.
//!   cargo +nightly fuzz run minidump_windows -- -max_total_time=180 -max_len=16384
//!
//! The input is cut into parts: the first byte picks PE or minidump; for a dump, 8
//! bytes of TEB address, then the CONTEXT (1232 bytes, the amd64 flag forced so the
//! parser reads it as amd64), then the TEB's bytes (saved in a MemoryList).
#![no_main]

use coroner::addr::Addr;
use coroner::snapshot::minidump::Minidump;
use coroner::snapshot::{FileBytes, Memory, Snapshot};
use coroner::symbols::Binary;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

const CONTEXT_SIZE: usize = 1232;
const TEB_SIZE: usize = 0x1680;

fn put32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut [u8], at: usize, x: u64) {
    v[at..at + 8].copy_from_slice(&x.to_le_bytes());
}

/// Header, directory (system info, thread list, memory list), the streams, then
/// the context and TEB bytes.
fn dump(teb: u64, context: &[u8], teb_bytes: &[u8]) -> Vec<u8> {
    let (dir, sys, threads, mem) = (32usize, 68usize, 124usize, 176usize);
    let ctx = mem + 4 + 16;
    let teb_at = ctx + CONTEXT_SIZE;
    let mut v = vec![0u8; teb_at + TEB_SIZE];
    v[..4].copy_from_slice(b"MDMP");
    put32(&mut v, 4, 0xa793);
    put32(&mut v, 8, 3);
    put32(&mut v, 12, dir as u32);
    for (i, (kind, size, rva)) in [(7u32, 56u32, sys), (3, 52, threads), (5, 20, mem)]
        .into_iter()
        .enumerate()
    {
        put32(&mut v, dir + 12 * i, kind);
        put32(&mut v, dir + 12 * i + 4, size);
        put32(&mut v, dir + 12 * i + 8, rva as u32);
    }
    v[sys..sys + 2].copy_from_slice(&9u16.to_le_bytes()); // PROCESSOR_ARCHITECTURE_AMD64
    put32(&mut v, sys + 20, 2); // VER_PLATFORM_WIN32_NT
    put32(&mut v, threads, 1);
    put32(&mut v, threads + 4, 4242);
    put64(&mut v, threads + 4 + 16, teb);
    put32(&mut v, threads + 4 + 40, CONTEXT_SIZE as u32);
    put32(&mut v, threads + 4 + 44, ctx as u32);
    put32(&mut v, mem, 1);
    put64(&mut v, mem + 4, teb);
    put32(&mut v, mem + 12, TEB_SIZE as u32);
    put32(&mut v, mem + 16, teb_at as u32);
    let n = context.len().min(CONTEXT_SIZE);
    v[ctx..ctx + n].copy_from_slice(&context[..n]);
    // CONTEXT_AMD64 in ContextFlags (offset 0x30), whatever else the input set.
    let flags = u32::from_le_bytes(v[ctx + 0x30..ctx + 0x34].try_into().unwrap_or([0; 4]));
    put32(&mut v, ctx + 0x30, flags | 0x0010_0000);
    let n = teb_bytes.len().min(TEB_SIZE);
    v[teb_at..teb_at + n].copy_from_slice(&teb_bytes[..n]);
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let mut v = b"MZ".to_vec();
        v.extend_from_slice(rest);
        match Binary::from_bytes(Path::new("f.exe"), FileBytes::from_vec("f.exe", v)) {
            Ok(b) => {
                for s in b.sections() {
                    let _ = b.section_data(&s.name);
                }
                let _ = (b.symbols().len(), b.go_build_id(), b.pe(), b.entry());
                let _ = b.vaddr_bytes(b.entry());
            }
            Err(e) => assert!(!e.to_string().contains('\n')),
        }
        return;
    }
    let teb = rest
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0);
    let rest = rest.get(8..).unwrap_or(&[]);
    let (context, teb_bytes) = rest.split_at(rest.len().min(CONTEXT_SIZE));
    let v = dump(teb, context, teb_bytes);
    match Minidump::from_bytes(Path::new("f.dmp"), FileBytes::from_vec("f.dmp", v)) {
        Ok(d) => {
            let mut b = [0u8; 64];
            for t in d.threads() {
                let _ = t.named_regs();
                let _ = d.read(Addr(t.regs.rsp), &mut b);
                for s in &t.g_slots {
                    let _ = d.read_u64(*s);
                }
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
