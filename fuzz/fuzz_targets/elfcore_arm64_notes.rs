//! Whatever the notes of an arm64 ELF core hold (NT_PRSTATUS of any size, NT_ARM_TLS
//! before or without a thread, garbage), opening it and reading its threads' registers
//! must not panic, and errors are one line.
//!   cargo +nightly fuzz run elfcore_arm64_notes -- -max_total_time=180 -max_len=8192
#![no_main]

use coroner::addr::Addr;
use coroner::snapshot::{ElfCore, FileBytes, Memory, Snapshot};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// A 64-bit little-endian ET_CORE header for EM_AARCH64 with one PT_NOTE: the input.
fn core_with_notes(notes: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 64 + 56];
    v[..4].copy_from_slice(b"\x7fELF");
    v[4] = 2; // ELFCLASS64
    v[5] = 1; // little endian
    v[6] = 1;
    v[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    v[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    v[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    v[52..54].copy_from_slice(&64u16.to_le_bytes());
    v[54..56].copy_from_slice(&56u16.to_le_bytes());
    v[56..58].copy_from_slice(&1u16.to_le_bytes());
    let ph = &mut v[64..120];
    ph[..4].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
    ph[8..16].copy_from_slice(&120u64.to_le_bytes());
    ph[32..40].copy_from_slice(&(notes.len() as u64).to_le_bytes());
    ph[40..48].copy_from_slice(&(notes.len() as u64).to_le_bytes());
    ph[48..56].copy_from_slice(&4u64.to_le_bytes());
    v.extend_from_slice(notes);
    v
}

fuzz_target!(|data: &[u8]| {
    let v = core_with_notes(data);
    match ElfCore::from_bytes(Path::new("f.core"), FileBytes::from_vec("f.core", v)) {
        Ok(c) => {
            let mut b = [0u8; 16];
            for t in c.threads() {
                let _ = (t.pc(), t.sp(), t.named_regs().len(), t.arch());
                let _ = c.read(Addr(t.sp()), &mut b);
            }
            let _ = (c.arch(), c.signal(), c.process(), c.auxv().len());
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
