//! Turning the bytes a client sends into requests: newline framing with a size limit,
//! then the JSON-RPC 1.0 envelope of Go's `net/rpc/jsonrpc` (`{"method":
//! "RPCServer.M", "params": [ARG], "id": N}`). Public so that the fuzzer reaches
//! exactly what a connection thread runs on untrusted input.

use serde_json::Value;
use std::io::BufRead;

/// One line read from a client.
pub enum Frame {
    Line(Vec<u8>),
    TooLong,
}

/// Read up to the next newline, keeping at most `max` bytes; a longer line is
/// consumed to its end and reported as [`Frame::TooLong`]. None at EOF.
pub fn read_frame(r: &mut impl BufRead, max: usize) -> std::io::Result<Option<Frame>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                None
            } else if too_long {
                Some(Frame::TooLong)
            } else {
                Some(Frame::Line(line))
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(buf.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(if too_long {
                Frame::TooLong
            } else {
                Frame::Line(line)
            }));
        }
    }
}

/// A decoded request: the method without its `RPCServer.` prefix, and `params`, a
/// non-empty array (Go's client always sends one argument).
#[derive(Debug)]
pub struct Request {
    pub id: Value,
    pub method: String,
    pub params: Value,
}

/// Why a line is not a request, with the id to answer to (null when unreadable):
/// the message is what Delve's server replies.
#[derive(Debug)]
pub struct BadRequest {
    pub id: Value,
    pub message: String,
}

/// Decode one request line.
pub fn decode(line: &[u8]) -> Result<Request, BadRequest> {
    let bad = |id: &Value, message: String| BadRequest {
        id: id.clone(),
        message,
    };
    let req: Value = serde_json::from_slice(line)
        .map_err(|e| bad(&Value::Null, format!("malformed request body: {e}")))?;
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let Some(full) = req.get("method").and_then(Value::as_str) else {
        return Err(bad(&id, "malformed request body: no method".into()));
    };
    // Go's net/rpc names methods Service.Method.
    let Some(method) = full.strip_prefix("RPCServer.") else {
        return Err(bad(&id, format!("rpc: can't find service {full}")));
    };
    let params = match req.get("params") {
        Some(p @ Value::Array(a)) if !a.is_empty() => p.clone(),
        Some(Value::Array(_)) | Some(Value::Null) | None => {
            return Err(bad(&id, "jsonrpc: request body missing params".into()));
        }
        Some(_) => {
            return Err(bad(
                &id,
                "malformed request body: params must be an array".into(),
            ));
        }
    };
    Ok(Request {
        id,
        method: method.to_string(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn frames_split_on_newlines_and_skip_oversized_lines() {
        let data = b"{\"a\":1}\nxxxxxxxxxxxxxxxxxxxx\n{\"b\":2}";
        let mut r = BufReader::with_capacity(4, &data[..]);
        let mut got = Vec::new();
        while let Some(f) = read_frame(&mut r, 10).unwrap_or(None) {
            got.push(match f {
                Frame::Line(l) => String::from_utf8_lossy(&l).into_owned(),
                Frame::TooLong => "<too long>".into(),
            });
        }
        assert_eq!(got, ["{\"a\":1}", "<too long>", "{\"b\":2}"]);
    }

    #[test]
    fn requests_decode_and_bad_ones_keep_their_id() {
        let r = decode(br#"{"method":"RPCServer.State","params":[{}],"id":3}"#)
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!((r.method.as_str(), r.id), ("State", Value::from(3)));
        let e = decode(br#"{"method":"Other.State","params":[{}],"id":4}"#)
            .err()
            .unwrap_or_else(|| panic!("decoded a foreign service"));
        assert_eq!(e.id, Value::from(4));
        assert_eq!(e.message, "rpc: can't find service Other.State");
        let e = decode(br#"{"method":"RPCServer.State","params":[],"id":5}"#).err();
        assert!(e.is_some_and(|e| e.message == "jsonrpc: request body missing params"));
    }
}
