//! Whatever a stub sends, the decoder and the parsers behind it must not panic.
#![no_main]

use coroner::backend::gdbserial::packet::{decode_body, Decoder, Frame};
use coroner::backend::gdbserial::regs::RegMap;
use coroner::backend::gdbserial::snapshot::{parse_maps, parse_siginfo};
use coroner::backend::gdbserial::stop;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the read size, so frames split at every boundary.
    let (chunk, rest) = match data.split_first() {
        Some((c, r)) => ((*c as usize % 17) + 1, r),
        None => return,
    };
    let mut d = Decoder::new();
    for part in rest.chunks(chunk) {
        d.push(part);
        while let Some(f) = d.next_frame() {
            if let Frame::Packet(p) | Frame::Notification(p) = f {
                let _ = stop::parse(&p);
                let s = String::from_utf8_lossy(&p);
                let _ = parse_maps(&s);
                let _ = parse_siginfo(&p, 1);
                let _ = RegMap::from_target_xml(&s, &mut |_| Some(s.to_string()));
                let _ = RegMap::from_register_info(&[s.to_string()]);
            }
        }
    }
    let _ = decode_body(rest);
});
