//! Whatever an ELF core file holds (any header, program headers, notes, segments),
//! opening it and reading what it describes must not panic: errors are one line,
//! truncated cores open with what is left.
//!   cargo +nightly fuzz run elfcore_open -- -max_total_time=240 -max_len=65536
#![no_main]

use coroner::addr::Addr;
use coroner::snapshot::{ElfCore, FileBytes, Memory, Snapshot};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // Most inputs should get past the identification bytes: give them a 64-bit
    // little-endian ELF magic and let the fuzzer write the rest.
    let mut v = b"\x7fELF\x02\x01\x01".to_vec();
    v.extend_from_slice(data.get(7..).unwrap_or(&[]));
    match ElfCore::from_bytes(Path::new("f.core"), FileBytes::from_vec("f.core", v)) {
        Ok(c) => {
            let mut b = [0u8; 64];
            for t in c.threads() {
                let _ = (t.pc(), t.sp(), t.named_regs().len(), t.arch());
                let _ = c.read(Addr(t.sp()), &mut b);
                let _ = c.slice(Addr(t.pc()), 16);
            }
            for (s, e) in c.regions() {
                let _ = c.read(s, &mut b[..8]);
                let _ = c.read(Addr(e.get().wrapping_sub(4)), &mut b[..8]);
            }
            for s in c.segments() {
                let _ = c.chunk(s.vaddr);
            }
            let _ = (c.arch(), c.signal(), c.process(), c.auxv().len());
            let _ = (c.mapped_files().len(), c.warnings().len());
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
