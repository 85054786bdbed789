//! Whatever a DAP client sends, the framing, the request decoder and the argument
//! decoders behind it must not panic (coroner dap reads them from a socket).
#![no_main]

use coroner::service::dap::types::{self, *};
use coroner::service::dap::wire::{decode, read_message, seq_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the reader's buffer size, so headers split everywhere.
    let (cap, rest) = match data.split_first() {
        Some((c, r)) => ((*c as usize % 31) + 1, r),
        None => return,
    };
    let mut r = std::io::BufReader::with_capacity(cap, rest);
    for _ in 0..64 {
        let body = match read_message(&mut r) {
            Ok(Some(b)) => b,
            _ => break,
        };
        let _ = seq_of(&body);
        let Ok(req) = decode(&body) else { continue };
        let a = &req.arguments;
        let _ = types::parse::<InitializeArgs>(a);
        let _ = types::parse::<LaunchArgs>(a).map(|l| l.build_flags.words());
        let _ = types::parse::<DisconnectArgs>(a);
        let _ = types::parse::<ThreadArgs>(a);
        let _ = types::parse::<StackTraceArgs>(a);
        let _ = types::parse::<ScopesArgs>(a);
        let _ = types::parse::<VariablesArgs>(a);
        let _ = types::parse::<EvaluateArgs>(a);
        let _ = types::parse::<SetBreakpointsArgs>(a);
        let _ = types::parse::<SetFunctionBreakpointsArgs>(a);
        let _ = types::parse::<ExceptionInfoArgs>(a);
        let _ = types::parse::<ReadMemoryArgs>(a);
        let _ = types::parse::<DisassembleArgs>(a);
    }
    // A body on its own, as the decoder sees it.
    let _ = decode(rest);
});
