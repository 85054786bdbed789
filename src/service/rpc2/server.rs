//! Transport: listeners (TCP, `unix:PATH`), per-connection reader threads, framing
//! and JSON-RPC 1.0 envelopes, and the worker loop that owns the session.
//!
//! ptrace only answers the thread that attached, so every request that touches the
//! target runs on the thread that called [`serve`] (the worker). Connection threads
//! only parse and write; the two requests that must not wait behind a running
//! `continue` — `State{NonBlocking}` and `Command{halt}` — are answered from the
//! connection thread with the shared `running` flag and the debugger's interrupter.

use super::methods::{Methods, Outcome};
use super::request::{self, read_frame, BadRequest, Frame, Request};
use super::types::DebuggerCommand;
use crate::backend::Interrupter;
use crate::repl::Session;
use crate::service::dap::Leave;
use crate::service::{ServiceError, Stream};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Requests longer than this are refused (the line is skipped, the session goes on):
/// the largest legitimate request is a breakpoint with conditions, far below it.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The headless flags (`--listen`, `--accept-multiclient`, `--only-same-user`,
/// `--continue`).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `HOST:PORT` (port 0 picks a free one) or `unix:PATH`.
    pub listen: String,
    pub accept_multiclient: bool,
    /// Reject loopback TCP peers owned by another uid (Delve's default).
    pub only_same_user: bool,
    /// Resume the target before serving (needs `accept_multiclient`, as in Delve).
    pub continue_on_start: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen: "127.0.0.1:0".into(),
            accept_multiclient: false,
            only_same_user: true,
            continue_on_start: false,
        }
    }
}

/// State shared by the worker and the connection threads.
pub(super) struct Shared {
    /// A `Command` that resumes the target is in progress on the worker.
    pub running: AtomicBool,
    pub interrupter: Option<Arc<dyn Interrupter>>,
    pub multiclient: bool,
    /// Set when the server must end (Detach, or the only client left).
    pub stopping: AtomicBool,
    /// Events for `GetEvents` (Delve's `api.Event`), queued by `WithEvents` commands.
    pub events: Mutex<VecDeque<Value>>,
    pub events_cv: Condvar,
}

/// Delve's api.EventKind values.
const EVENT_RESUMED: u8 = 0;
const EVENT_STOPPED: u8 = 1;
/// Delve's eventBufferSize: the most events one GetEvents returns.
const EVENT_BATCH: usize = 100;

impl Shared {
    fn push_event(&self, kind: u8) {
        if let Ok(mut q) = self.events.lock() {
            // Nobody may be draining (a client that left): keep the queue bounded.
            if q.len() >= EVENT_BATCH {
                q.pop_front();
            }
            q.push_back(json!({ "Kind": kind }));
        }
        self.events_cv.notify_all();
    }

    fn clear_events(&self) {
        if let Ok(mut q) = self.events.lock() {
            q.clear();
        }
    }

    /// GetEvents: block for at least one event (or the server's end), then take up
    /// to a batch.
    fn take_events(&self) -> Result<Value, String> {
        let Ok(mut q) = self.events.lock() else {
            return Err("internal error: event queue poisoned".into());
        };
        while q.is_empty() {
            if self.stopping.load(Ordering::SeqCst) {
                return Err("the server is stopping".into());
            }
            q = match self.events_cv.wait_timeout(q, Duration::from_millis(200)) {
                Ok((g, _)) => g,
                Err(_) => return Err("internal error: event queue poisoned".into()),
            };
        }
        let n = q.len().min(EVENT_BATCH);
        let batch: Vec<Value> = q.drain(..n).collect();
        Ok(json!({ "Events": batch }))
    }
}

/// One unit of work for the worker.
pub(super) enum Job {
    Call {
        method: String,
        params: Value,
        reply: Sender<Result<Value, String>>,
    },
    /// A DAP client (its first byte was the `C` of `Content-Length`): serve it over
    /// this server's session on the worker, then say so on `done`.
    Dap {
        conn: Box<dyn Stream>,
        done: Sender<()>,
    },
    /// The single client of a non-multiclient server disconnected.
    ClientGone,
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, std::path::PathBuf),
}

fn bind(listen: &str) -> Result<(Listener, String), ServiceError> {
    let err = |source| ServiceError::Listen {
        addr: listen.to_string(),
        source,
    };
    if let Some(path) = listen.strip_prefix("unix:") {
        let l = UnixListener::bind(path).map_err(err)?;
        l.set_nonblocking(true).map_err(err)?;
        return Ok((Listener::Unix(l, path.into()), listen.to_string()));
    }
    let l = TcpListener::bind(listen).map_err(err)?;
    l.set_nonblocking(true).map_err(err)?;
    let addr = l.local_addr().map_err(err)?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "coroner: warning: listening on a non-loopback address: anyone who can reach {addr} can read and control the target"
        );
    }
    Ok((Listener::Tcp(l), addr.to_string()))
}

/// Serve `session` until a client detaches or (without multiclient) the first client
/// leaves; then release a live target as Delve does (kill a launched process, detach
/// from an attached one). Blocks the calling thread, which must own the target.
pub fn serve(mut session: Session, opts: &ServerOptions) -> Result<(), ServiceError> {
    let (listener, shown) = bind(&opts.listen)?;
    println!("API server listening at: {shown}");
    let _ = std::io::stdout().flush();
    let shared = Arc::new(Shared {
        running: AtomicBool::new(false),
        interrupter: session.debugger().map(|d| d.interrupter()),
        multiclient: opts.accept_multiclient,
        stopping: AtomicBool::new(false),
        events: Mutex::new(VecDeque::new()),
        events_cv: Condvar::new(),
    });
    let mut methods = Methods::new(&mut session, shared.clone());
    if opts.continue_on_start && opts.accept_multiclient {
        // Delve's --continue: resume at once; clients attach to a running target and
        // halt it if they want a prompt.
        let _ = methods.call("Command", json!([{"name": "continue"}]));
    }
    let (tx, rx) = channel::<Job>();
    let accept = {
        let shared = shared.clone();
        let only_same_user = opts.only_same_user;
        std::thread::Builder::new()
            .name("rpc-accept".into())
            .spawn(move || accept_loop(listener, shared, tx, only_same_user))?
    };
    worker(&mut methods, &rx, &shared);
    shared.stopping.store(true, Ordering::SeqCst);
    drop(rx);
    let _ = accept.join();
    methods.release();
    Ok(())
}

fn worker(methods: &mut Methods<'_>, rx: &Receiver<Job>, shared: &Shared) {
    while let Ok(job) = rx.recv() {
        match job {
            Job::ClientGone => return,
            Job::Dap { conn, done } => {
                let leave =
                    crate::service::dap::serve_joined(conn, methods.session(), shared.multiclient);
                let _ = done.send(());
                match leave {
                    Ok(Leave::ClientOnly) => {}
                    Ok(Leave::StopServer) => return,
                    Err(e) => eprintln!("coroner: DAP client: {e}"),
                }
            }
            Job::Call {
                method,
                params,
                reply,
            } => {
                let resumes = is_resuming_command(&method, &params);
                let events =
                    method == "Command" && command_of(&params).is_some_and(|c| c.with_events);
                if events {
                    // Stale events of a client that left must not end this drain.
                    shared.clear_events();
                    shared.push_event(EVENT_RESUMED);
                }
                if resumes {
                    shared.running.store(true, Ordering::SeqCst);
                }
                let out = methods.call(&method, params);
                shared.running.store(false, Ordering::SeqCst);
                if events {
                    // Also after a failed command: the client drains until a stop.
                    shared.push_event(EVENT_STOPPED);
                }
                match out {
                    Outcome::Reply(r) => {
                        let _ = reply.send(r);
                    }
                    Outcome::ReplyAndStop(r) => {
                        let _ = reply.send(r);
                        return;
                    }
                }
            }
        }
    }
}

fn is_resuming_command(method: &str, params: &Value) -> bool {
    method == "Command"
        && command_of(params).is_some_and(|c| {
            !matches!(c.name.as_str(), "halt" | "switchThread" | "switchGoroutine")
        })
}

fn command_of(params: &Value) -> Option<DebuggerCommand> {
    serde_json::from_value(params.get(0)?.clone()).ok()
}

fn accept_loop(listener: Listener, shared: Arc<Shared>, tx: Sender<Job>, only_same_user: bool) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let accepted: std::io::Result<Box<dyn Stream>> = match &listener {
            Listener::Tcp(l) => l.accept().and_then(|(s, peer)| {
                s.set_nonblocking(false)?;
                if only_same_user && !same_user(&s, peer) {
                    eprintln!("coroner: closing connection from {peer}: another user");
                    return Err(std::io::Error::other("peer of another user"));
                }
                Ok(Box::new(s) as Box<dyn Stream>)
            }),
            Listener::Unix(l, _) => l.accept().and_then(|(s, _)| {
                s.set_nonblocking(false)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            }),
        };
        let conn = match accepted {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Polling keeps the loop able to notice `stopping` without a wake-up
                // connection.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => continue,
        };
        if !shared.multiclient {
            // Delve stops accepting after its first client.
            serve_conn(conn, &shared, &tx);
            let _ = tx.send(Job::ClientGone);
            break;
        }
        let (shared, tx) = (shared.clone(), tx.clone());
        let _ = std::thread::Builder::new()
            .name("rpc-conn".into())
            .spawn(move || serve_conn(conn, &shared, &tx));
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
}

fn serve_conn(conn: Box<dyn Stream>, shared: &Arc<Shared>, tx: &Sender<Job>) {
    // One port, both protocols (Delve's serveConnectionDemux): DAP messages begin
    // with `Content-Length`, JSON-RPC requests with `{`.
    match conn.peek_first() {
        Ok(Some(b'C')) => {
            if shared.running.load(Ordering::SeqCst) {
                // Delve's remote attach halts the target; here the worker is inside
                // the running command and must come back to serve the DAP client.
                if let Some(i) = &shared.interrupter {
                    i.interrupt();
                }
            }
            let (done, wait) = channel();
            if tx.send(Job::Dap { conn, done }).is_ok() {
                let _ = wait.recv();
            }
            return;
        }
        Ok(Some(_)) => {}
        Ok(None) | Err(_) => return,
    }
    let Ok(reader) = conn.try_clone_box() else {
        return;
    };
    let mut reader = BufReader::new(reader);
    // Replies of asynchronous calls are written by their own threads.
    let writer: Arc<Mutex<Box<dyn Stream>>> = Arc::new(Mutex::new(conn));
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let frame = match read_frame(&mut reader, MAX_REQUEST_BYTES) {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => break,
        };
        let reply = match frame {
            Frame::TooLong => Reply::Now(envelope(
                &Value::Null,
                Err(format!(
                    "malformed request body: request longer than {MAX_REQUEST_BYTES} bytes"
                )),
            )),
            Frame::Line(l) if l.iter().all(u8::is_ascii_whitespace) => continue,
            Frame::Line(l) => handle_line(&l, shared, tx),
        };
        match reply {
            Reply::Now(Some(line)) => {
                if !write_line(&writer, &line) {
                    break;
                }
            }
            Reply::Now(None) => break,
            Reply::Later(id, wait) => {
                let w = writer.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name("rpc-reply".into())
                        .spawn(move || {
                            if let Some(line) = wait().and_then(|r| envelope(&id, r)) {
                                write_line(&w, &line);
                            }
                        });
                if spawned.is_err() {
                    break;
                }
            }
        }
    }
    // Delve's Stop on a single client's disconnect halts a running target before
    // releasing it; here the worker must come back from the command to do so.
    if !shared.multiclient && shared.running.load(Ordering::SeqCst) {
        if let Some(i) = &shared.interrupter {
            i.interrupt();
        }
    }
}

fn write_line(w: &Mutex<Box<dyn Stream>>, line: &str) -> bool {
    let Ok(mut w) = w.lock() else { return false };
    w.write_all(line.as_bytes()).is_ok() && w.flush().is_ok()
}

type Wait = Box<dyn FnOnce() -> Option<Result<Value, String>> + Send>;

/// A reply line now, or (for Delve's asynchronous methods, `Command` and
/// `GetEvents`) a wait for it that must not hold up the next request: a client sends
/// `halt` or `GetEvents` while its `continue` runs.
enum Reply {
    /// None when the worker is gone.
    Now(Option<String>),
    Later(Value, Wait),
}

/// The reply to one request line.
fn handle_line(line: &[u8], shared: &Arc<Shared>, tx: &Sender<Job>) -> Reply {
    let now = |id: &Value, r| Reply::Now(envelope(id, r));
    crate::log_at!(Rpc, "<- {}", String::from_utf8_lossy(line).trim_end());
    let Request { id, method, params } = match request::decode(line) {
        Ok(r) => r,
        Err(BadRequest { id, message }) => return now(&id, Err(message)),
    };
    let method = method.as_str();
    if method == "GetEvents" {
        let shared = shared.clone();
        return Reply::Later(id, Box::new(move || Some(shared.take_events())));
    }
    if shared.running.load(Ordering::SeqCst) {
        if let Some(r) = while_running(method, &params, shared) {
            return now(&id, r);
        }
    }
    if method == "Command" && command_of(&params).is_some_and(|c| c.name == "halt") {
        if let Some(i) = &shared.interrupter {
            i.interrupt();
        }
    }
    let (rtx, rrx) = channel();
    if tx
        .send(Job::Call {
            method: method.to_string(),
            params,
            reply: rtx,
        })
        .is_err()
    {
        return Reply::Now(None);
    }
    if method == "Command" {
        return Reply::Later(id, Box::new(move || rrx.recv().ok()));
    }
    match rrx.recv() {
        Ok(r) => now(&id, r),
        Err(_) => Reply::Now(None),
    }
}

/// Answers that do not wait for the running command.
fn while_running(method: &str, params: &Value, shared: &Shared) -> Option<Result<Value, String>> {
    let non_blocking = params
        .get(0)
        .and_then(|p| p.get("NonBlocking"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match method {
        "State" if non_blocking => Some(Ok(json!({"State": {"Running": true, "Threads": null}}))),
        "IsMulticlient" => Some(Ok(json!({"IsMulticlient": shared.multiclient}))),
        _ => None,
    }
}

fn envelope(id: &Value, r: Result<Value, String>) -> Option<String> {
    let v = match r {
        Ok(result) => json!({"id": id, "result": result, "error": null}),
        Err(e) => json!({"id": id, "result": null, "error": e}),
    };
    let mut s = serde_json::to_string(&v).ok()?;
    crate::log_at!(Rpc, "-> {s}");
    s.push('\n');
    Some(s)
}

/// Delve's `--only-same-user` for loopback TCP: find the peer's socket in
/// /proc/net/tcp{,6} (it is a local socket, so it is listed there with its owner's
/// uid) and compare with ours. Non-loopback peers and unreadable tables pass, as in
/// Delve (`sameuser_linux.go`).
pub(crate) fn same_user(s: &TcpStream, peer: SocketAddr) -> bool {
    if !peer.ip().is_loopback() {
        return true;
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let Ok(ours) = s.local_addr() else {
        return true;
    };
    let file = if peer.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let Ok(table) = std::fs::read_to_string(file) else {
        return true;
    };
    // The peer's own row: its local address is our peer, its remote is us.
    let (want, remote) = (proc_net_addr(peer), proc_net_addr(ours));
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(l), Some(r), Some(uid)) = (f.get(1), f.get(2), f.get(7)) else {
            continue;
        };
        if *l == want && *r == remote {
            return uid.parse::<u32>().is_ok_and(|u| u == me);
        }
    }
    // Not found: the peer closed already; nothing to protect.
    true
}

/// An address as /proc/net/tcp prints it: IPv4 as one little-endian hex word,
/// then `:PORT` in hex.
fn proc_net_addr(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(v6) => {
            let o = v6.ip().octets();
            let mut s = String::new();
            for w in o.chunks(4) {
                let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                s.push_str(&format!("{word:08X}"));
            }
            format!("{s}:{:04X}", v6.port())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_are_little_endian_hex() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(proc_net_addr(a), "0100007F:1F90");
    }
}
