//! Whatever a minidump file holds, opening it and reading what it describes must not
//! panic: errors are one line, partial dumps open with what is left.
//!   cargo +nightly fuzz run minidump_open -- -max_total_time=180 -max_len=65536
#![no_main]

use coroner::addr::Addr;
use coroner::snapshot::minidump::Minidump;
use coroner::snapshot::{FileBytes, Memory, Snapshot};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // Most inputs should reach the stream parsers: give them the magic.
    let mut v = b"MDMP".to_vec();
    v.extend_from_slice(data.get(4..).unwrap_or(&[]));
    match Minidump::from_bytes(Path::new("f.dmp"), FileBytes::from_vec("f.dmp", v)) {
        Ok(d) => {
            let mut b = [0u8; 256];
            for t in d.threads() {
                let _ = d.read(Addr(t.regs.rsp), &mut b);
                let _ = d.slice(Addr(t.regs.rip), 16);
            }
            for (s, e) in d.regions() {
                let _ = d.read(s, &mut b[..8]);
                let _ = d.read(Addr(e.get().wrapping_sub(4)), &mut b[..8]);
            }
            let _ = (d.mapped_files().len(), d.auxv().len(), d.signal(), d.process());
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
