//! The JSON-RPC 1.0 connection to a headless server: newline-delimited
//! `RPCServer.*` calls, one at a time, as Delve's `rpc2.RPCClient` sends them.

use anyhow::Context;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};

trait Conn: std::io::Read + Write + Send {}
impl<T: std::io::Read + Write + Send> Conn for T {}

pub struct Client {
    r: BufReader<Box<dyn Conn>>,
    id: u64,
}

impl Client {
    pub fn dial(addr: &str) -> anyhow::Result<Client> {
        let c: Box<dyn Conn> = match addr.strip_prefix("unix:") {
            Some(p) => Box::new(
                std::os::unix::net::UnixStream::connect(p)
                    .with_context(|| format!("cannot connect to {addr}"))?,
            ),
            None => Box::new(
                std::net::TcpStream::connect(addr)
                    .with_context(|| format!("cannot connect to {addr}"))?,
            ),
        };
        Ok(Client {
            r: BufReader::new(c),
            id: 0,
        })
    }

    /// One call; Err is the server's error text (or why the connection failed).
    pub fn call(&mut self, method: &str, arg: Value) -> Result<Value, String> {
        self.id += 1;
        let req = json!({"method": format!("RPCServer.{method}"), "params": [arg], "id": self.id});
        let w = self.r.get_mut();
        w.write_all(format!("{req}\n").as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| format!("lost the server: {e}"))?;
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("lost the server: {e}")),
            }
            let v: Value = serde_json::from_str(&line)
                .map_err(|e| format!("the server sent a malformed reply: {e}"))?;
            // Replies to calls this client gave up on are skipped.
            if v.get("id") != Some(&json!(self.id)) {
                continue;
            }
            return match v.get("error") {
                Some(Value::String(e)) => Err(e.clone()),
                _ => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
            };
        }
    }
}
