//! DAP framing: `Content-Length: N\r\n\r\n` then N bytes of JSON, in both directions.
//!
//! The reader never trusts the header: the length is capped ([`MAX_MESSAGE_BYTES`]), a
//! header block that never ends is cut off, and a body that is not a JSON request
//! object is reported as [`DecodeError`] so the session can answer it and go on.

use serde_json::Value;
use std::io::{BufRead, Write};

/// The largest message accepted. Real requests are a few KiB (setBreakpoints for a
/// file with many breakpoints); anything bigger is refused without being buffered.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;
/// The largest header block (all header lines together).
const MAX_HEADER_BYTES: usize = 4096;

/// A message's body could not be used; the connection itself is still in sync.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the message is not JSON: {0}")]
    NotJson(String),
    #[error("the message is not a JSON object")]
    NotObject,
    #[error("the message has no \"seq\" number")]
    NoSeq,
    #[error("the message is a {0:?}, not a \"request\"")]
    NotRequest(String),
    #[error("the request has no \"command\" string")]
    NoCommand,
}

/// The framing is broken: the connection cannot be resynchronised and is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("header block longer than {MAX_HEADER_BYTES} bytes")]
    HeaderTooLong,
    #[error("bad header line {0:?}: expected `Content-Length: N`")]
    BadHeader(String),
    #[error("no Content-Length header")]
    NoLength,
    #[error("message of {0} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLong(usize),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub seq: i64,
    pub command: String,
    /// `arguments`, or `{}` when absent.
    pub arguments: Value,
}

/// Decode one message body (what follows the header) into a request.
pub fn decode(body: &[u8]) -> Result<Request, DecodeError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let Value::Object(mut m) = v else {
        return Err(DecodeError::NotObject);
    };
    let seq = m
        .get("seq")
        .and_then(Value::as_i64)
        .ok_or(DecodeError::NoSeq)?;
    match m.get("type").and_then(Value::as_str) {
        Some("request") => {}
        Some(other) => return Err(DecodeError::NotRequest(other.to_string())),
        None => return Err(DecodeError::NotRequest(String::new())),
    }
    let command = match m.get("command").and_then(Value::as_str) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => return Err(DecodeError::NoCommand),
    };
    let arguments = match m.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(a) => a,
    };
    Ok(Request {
        seq,
        command,
        arguments,
    })
}

/// The request's seq when a body that failed to decode still names one (so the
/// error response can refer to it).
pub fn seq_of(body: &[u8]) -> i64 {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("seq").and_then(Value::as_i64))
        .unwrap_or(0)
}

/// Read one framed message body. `Ok(None)` at a clean end of stream.
pub fn read_message(r: &mut impl BufRead) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len: Option<usize> = None;
    let mut header_bytes = 0usize;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        // Bounded read of one header line.
        let n = read_line_bounded(r, &mut line, MAX_HEADER_BYTES - header_bytes)?;
        if n == 0 {
            if first {
                return Ok(None);
            }
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        first = false;
        header_bytes += n;
        if !line.ends_with(b"\n") {
            return Err(FrameError::HeaderTooLong);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(FrameError::BadHeader(text.chars().take(80).collect()));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .trim()
                .parse()
                .map_err(|_| FrameError::BadHeader(text.chars().take(80).collect()))?;
            len = Some(n);
        }
        // Other headers (Content-Type) are allowed and ignored, as the spec says.
    }
    let len = len.ok_or(FrameError::NoLength)?;
    if len > MAX_MESSAGE_BYTES {
        return Err(FrameError::TooLong(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    crate::log_at!(Dap, "[<- from client]{}", String::from_utf8_lossy(&body));
    Ok(Some(body))
}

/// Read up to and including `\n`, at most `max` bytes; the count read.
fn read_line_bounded(
    r: &mut impl BufRead,
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(total);
        }
        let room = max.saturating_sub(total);
        if room == 0 {
            return Ok(total);
        }
        let take = buf.len().min(room);
        let (n, done) = match buf[..take].iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (take, false),
        };
        out.extend_from_slice(&buf[..n]);
        r.consume(n);
        total += n;
        if done {
            return Ok(total);
        }
    }
}

/// Write one message with its header.
pub fn write_message(w: &mut dyn Write, v: &Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    crate::log_at!(Dap, "[-> to client]{}", String::from_utf8_lossy(&body));
    write!(w, "Content-Length: {}\r\n\r\n", body.len())?;
    w.write_all(&body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{s}", s.len()).into_bytes()
    }

    #[test]
    fn reads_back_to_back_messages() {
        let mut data = frame(r#"{"seq":1,"type":"request","command":"initialize"}"#);
        data.extend(frame(
            r#"{"seq":2,"type":"request","command":"threads","arguments":null}"#,
        ));
        let mut r = std::io::BufReader::with_capacity(7, &data[..]);
        let a = read_message(&mut r).ok().flatten().unwrap_or_default();
        let b = read_message(&mut r).ok().flatten().unwrap_or_default();
        assert_eq!(decode(&a).map(|r| r.command), Ok("initialize".to_string()));
        let b = decode(&b);
        assert_eq!(b.as_ref().map(|r| r.seq), Ok(2));
        assert_eq!(b.map(|r| r.arguments), Ok(serde_json::json!({})));
        assert!(matches!(read_message(&mut r), Ok(None)));
    }

    #[test]
    fn refuses_oversized_and_headerless_messages() {
        let big = format!("Content-Length: {}\r\n\r\n", MAX_MESSAGE_BYTES + 1);
        let mut r = std::io::BufReader::new(big.as_bytes());
        assert!(matches!(read_message(&mut r), Err(FrameError::TooLong(_))));
        let mut r = std::io::BufReader::new(&b"Content-Type: x\r\n\r\n{}"[..]);
        assert!(matches!(read_message(&mut r), Err(FrameError::NoLength)));
        let endless = vec![b'a'; 10_000];
        let mut r = std::io::BufReader::new(&endless[..]);
        assert!(matches!(
            read_message(&mut r),
            Err(FrameError::HeaderTooLong)
        ));
    }

    #[test]
    fn decode_errors_name_the_problem() {
        assert!(matches!(decode(b"[1]"), Err(DecodeError::NotObject)));
        assert!(matches!(
            decode(b"{\"seq\":1}"),
            Err(DecodeError::NotRequest(_))
        ));
        assert!(matches!(
            decode(br#"{"seq":1,"type":"request"}"#),
            Err(DecodeError::NoCommand)
        ));
        assert!(matches!(decode(b"\xff"), Err(DecodeError::NotJson(_))));
        assert_eq!(seq_of(br#"{"seq":9,"type":"event"}"#), 9);
    }
}
