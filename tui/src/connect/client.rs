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
    /// A second handle on the connection, for a halt sent while a resume waits.
    halt: Option<Box<dyn Write + Send>>,
}

/// Sends Delve's `Command{halt}` on the connection while another call waits for its
/// reply (the server answers both; the waiting call skips the halt's reply).
pub struct Halter(std::sync::Mutex<Box<dyn Write + Send>>);

impl coroner::backend::Interrupter for Halter {
    fn interrupt(&self) {
        // Ids from the top of the range never meet the client's own.
        let req = json!({"method": "RPCServer.Command", "params": [{"name": "halt"}],
            "id": u64::MAX / 2});
        if let Ok(mut w) = self.0.lock() {
            let _ = w
                .write_all(format!("{req}\n").as_bytes())
                .and_then(|()| w.flush());
        }
    }
}

impl Client {
    pub fn dial(addr: &str) -> anyhow::Result<Client> {
        let (c, halt): (Box<dyn Conn>, Option<Box<dyn Write + Send>>) =
            match addr.strip_prefix("unix:") {
                Some(p) => {
                    let s = std::os::unix::net::UnixStream::connect(p)
                        .with_context(|| format!("cannot connect to {addr}"))?;
                    let h = s
                        .try_clone()
                        .ok()
                        .map(|h| Box::new(h) as Box<dyn Write + Send>);
                    (Box::new(s), h)
                }
                None => {
                    let s = std::net::TcpStream::connect(addr)
                        .with_context(|| format!("cannot connect to {addr}"))?;
                    let h = s
                        .try_clone()
                        .ok()
                        .map(|h| Box::new(h) as Box<dyn Write + Send>);
                    (Box::new(s), h)
                }
            };
        Ok(Client {
            r: BufReader::new(c),
            id: 0,
            halt,
        })
    }

    /// The connection's halt handle (taken once).
    pub fn halter(&mut self) -> Option<Halter> {
        self.halt.take().map(|w| Halter(std::sync::Mutex::new(w)))
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
