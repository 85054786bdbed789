//! The GDB remote serial protocol's framing: `$body#cs` packets, `%body#cs`
//! notifications, `+`/`-` acknowledgements, `}` escapes and `*` run-length encoding.
//!
//! Everything here is pure and never panics on any input: the stub is another process
//! and may send anything (a fuzz target in `fuzz/` and mutation tests hold us to it).

/// A packet larger than this is treated as garbage rather than buffered forever: the
/// biggest replies we ask for are a few pages of memory or a chunk of target.xml.
pub const MAX_PACKET: usize = 4 << 20;

/// One unit read from the stub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+`: the peer received our packet.
    Ack,
    /// `-`: the peer wants our packet again.
    Nack,
    /// A `$` packet, decoded (run-length expanded and unescaped).
    Packet(Vec<u8>),
    /// A `%` notification such as `%Stop:T05...` (non-stop mode only), decoded.
    Notification(Vec<u8>),
    /// A packet whose checksum did not match, or whose body could not be decoded.
    Corrupt(String),
    /// Bytes outside any packet (line noise, a stray `\x03`), skipped.
    Garbage(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("run-length marker '*' with no byte to repeat")]
    RleAtStart,
    #[error("run-length marker '*' at the end of the packet")]
    RleTruncated,
    #[error("run-length count byte {0:#04x} out of range")]
    RleCount(u8),
    #[error("escape '}}' at the end of the packet")]
    EscapeTruncated,
    #[error("packet longer than {MAX_PACKET} bytes")]
    TooLong,
}

/// The modulo-256 sum the protocol uses as a checksum.
pub fn checksum(body: &[u8]) -> u8 {
    body.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// Frame a command as `$body#cs`. `body` must already be escaped where it carries
/// binary data (see [`escape_binary`]); commands we build are otherwise plain ASCII.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(b'$');
    out.extend_from_slice(body);
    out.push(b'#');
    let cs = checksum(body);
    out.push(HEX[(cs >> 4) as usize]);
    out.push(HEX[(cs & 15) as usize]);
    out
}

/// Escape binary data (for `X` and `vFile:pwrite`): `$`, `#`, `}` and `*` become `}`
/// followed by the byte xor 0x20, so they cannot be taken for framing or RLE.
pub fn escape_binary(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    for &b in data {
        if matches!(b, b'$' | b'#' | b'}' | b'*') {
            out.push(b'}');
            out.push(b ^ 0x20);
        } else {
            out.push(b);
        }
    }
    out
}

/// Decode a packet body as received: expand `*` runs, then undo `}` escapes.
///
/// The order matters and follows GDB's `read_frame`: the stub run-length encodes the
/// already-escaped bytes, so `*` repeats the previous *raw* byte.
pub fn decode_body(raw: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut expanded: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'*' {
            let prev = *expanded.last().ok_or(DecodeError::RleAtStart)?;
            let n = *raw.get(i + 1).ok_or(DecodeError::RleTruncated)?;
            // The count is n - 29 extra copies; printable counts start at ' ' (3).
            if !(29..=126).contains(&n) {
                return Err(DecodeError::RleCount(n));
            }
            let count = (n - 29) as usize;
            if expanded.len() + count > MAX_PACKET {
                return Err(DecodeError::TooLong);
            }
            expanded.extend(std::iter::repeat_n(prev, count));
            i += 2;
        } else {
            expanded.push(b);
            i += 1;
        }
    }
    unescape(&expanded)
}

/// Undo `}` escapes.
pub fn unescape(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(data.len());
    let mut it = data.iter();
    while let Some(&b) = it.next() {
        if b == b'}' {
            let &n = it.next().ok_or(DecodeError::EscapeTruncated)?;
            out.push(n ^ 0x20);
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

/// Incremental reader: feed it bytes as they arrive, take frames out.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let first = *self.buf.first()?;
        match first {
            b'+' => {
                self.buf.drain(..1);
                Some(Frame::Ack)
            }
            b'-' => {
                self.buf.drain(..1);
                Some(Frame::Nack)
            }
            b'$' | b'%' => self.take_packet(first == b'%'),
            _ => {
                // Skip to the next byte that can start a frame.
                let n = self
                    .buf
                    .iter()
                    .position(|b| matches!(b, b'+' | b'-' | b'$' | b'%'))
                    .unwrap_or(self.buf.len());
                self.buf.drain(..n);
                Some(Frame::Garbage(n))
            }
        }
    }

    fn take_packet(&mut self, notification: bool) -> Option<Frame> {
        // '#' never occurs inside a body: it is escaped in binary data and RLE counts
        // skip it ('#' - 29 = 6 is never emitted), so the first one ends the packet.
        let Some(hash) = self.buf.iter().position(|&b| b == b'#') else {
            if self.buf.len() > MAX_PACKET {
                let n = self.buf.len();
                self.buf.clear();
                return Some(Frame::Corrupt(format!(
                    "unterminated packet of more than {n} bytes"
                )));
            }
            return None;
        };
        if self.buf.len() < hash + 3 {
            return None;
        }
        let body = &self.buf[1..hash];
        let sent = (hex_val(self.buf[hash + 1]), hex_val(self.buf[hash + 2]));
        let frame = match sent {
            (Some(h), Some(l)) if (h << 4 | l) == checksum(body) => match decode_body(body) {
                Ok(d) if notification => Frame::Notification(d),
                Ok(d) => Frame::Packet(d),
                Err(e) => Frame::Corrupt(e.to_string()),
            },
            _ => Frame::Corrupt(format!(
                "bad checksum {:?} for {} bytes starting {:?}",
                String::from_utf8_lossy(&self.buf[hash + 1..hash + 3]),
                body.len(),
                String::from_utf8_lossy(&body[..body.len().min(24)])
            )),
        };
        self.buf.drain(..hash + 3);
        Some(frame)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex of bytes, two digits each.
pub fn hex_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Decode hex pairs; `None` on an odd length or a non-hex digit.
pub fn hex_decode(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?))
        .collect()
}

/// Decode register hex where the stub may send `xx` for a byte it cannot read
/// (gdbserver does for unavailable registers): those bytes read as 0.
pub fn hex_decode_regs(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| match p {
            [b'x', b'x'] => Some(0),
            _ => Some(hex_val(p[0])? << 4 | hex_val(p[1])?),
        })
        .collect()
}

/// A big-endian hex number as the protocol writes addresses, lengths and ids
/// (at most 16 digits; `None` on anything else).
pub fn parse_hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter()
        .try_fold(0u64, |acc, &b| Some(acc << 4 | hex_val(b)? as u64))
}

/// An `Enn` error reply (also `E.message`, which lldb-server sends).
pub fn is_error(reply: &[u8]) -> bool {
    reply.first() == Some(&b'E')
        && (reply.len() == 3 && reply[1..].iter().all(|&b| hex_val(b).is_some())
            || reply.get(1) == Some(&b'.'))
}
