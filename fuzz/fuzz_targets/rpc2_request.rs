//! Whatever a JSON-RPC client sends (`coroner --headless` reads it from a socket), the
//! framing, the envelope decoder and the decoders of every method's argument must not
//! panic: a bad request gets an error reply and the session goes on.
//!   cargo +nightly fuzz run rpc2_request -- -max_total_time=240
#![no_main]

use coroner::service::rpc2::request::{decode, read_frame, Frame};
use coroner::service::rpc2::types::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What the method table does with `params[0]` (methods.rs `input`).
fn arg<T: DeserializeOwned>(params: &Value) {
    if let Some(v) = params.get(0) {
        let _ = serde_json::from_value::<T>(v.clone());
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the reader's buffer size and the line limit, so lines split
    // everywhere and some are too long.
    let (c, rest) = match data.split_first() {
        Some((c, r)) => (*c as usize, r),
        None => return,
    };
    let mut r = std::io::BufReader::with_capacity(c % 31 + 1, rest);
    let max = 64 + (c % 7) * 512;
    for _ in 0..64 {
        let line = match read_frame(&mut r, max) {
            Ok(Some(Frame::Line(l))) => l,
            Ok(Some(Frame::TooLong)) => continue,
            _ => break,
        };
        let Ok(req) = decode(&line) else { continue };
        let p = &req.params;
        arg::<DebuggerCommand>(p);
        arg::<SetApiVersionIn>(p);
        arg::<StateIn>(p);
        arg::<DetachIn>(p);
        arg::<ListGoroutinesIn>(p);
        arg::<StacktraceIn>(p);
        arg::<EvalIn>(p);
        arg::<ScopedVarsIn>(p);
        arg::<FilterIn>(p);
        arg::<ListRegistersIn>(p);
        arg::<FindLocationIn>(p);
        arg::<CreateBreakpointIn>(p);
        arg::<BreakpointRefIn>(p);
        arg::<AmendBreakpointIn>(p);
        arg::<ExamineMemoryIn>(p);
        arg::<DisassembleIn>(p);
        arg::<GetThreadIn>(p);
    }
    // A line on its own, as the decoder sees it.
    let _ = decode(rest);
});
