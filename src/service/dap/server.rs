//! Transport: the listener, the connection's reader thread and the worker loop.
//!
//! ptrace answers only the thread that attached, so every request that touches the
//! target runs on the thread that called [`serve`] (the worker), which also launches
//! or opens the target. The reader thread only decodes, answers malformed messages,
//! and handles what must not wait behind a running target: `pause` (through the
//! debugger's interrupter), `threads`, and the halt that breakpoint changes and
//! `disconnect` need while the target runs.

use super::session::{ids, Dap, Launched, Launcher, Leave, Slot};
use super::wire::{self, FrameError, Request};
use crate::backend::Interrupter;
use crate::repl::Session;
use crate::service::{ServiceError, Stream};
use serde_json::{json, Value};
use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

/// A message too long to accept is skipped when it is at most this long (so the
/// session goes on); a longer claim drops the connection.
const MAX_SKIP_BYTES: usize = 1 << 30;

/// `coroner dap` flags.
#[derive(Debug, Clone)]
pub struct DapOptions {
    /// `HOST:PORT`; port 0 picks a free one.
    pub listen: String,
    /// Reject loopback peers owned by another uid (Delve's default).
    pub only_same_user: bool,
}

impl Default for DapOptions {
    fn default() -> Self {
        DapOptions {
            listen: "127.0.0.1:0".into(),
            only_same_user: true,
        }
    }
}

/// Work for the worker.
pub enum Msg {
    Req(Request),
    /// The client closed the connection (or broke the framing).
    Gone,
}

/// State the reader thread and the worker share.
#[derive(Default)]
pub struct Shared {
    /// The worker is inside an execution command.
    pub running: AtomicBool,
    pub interrupter: Mutex<Option<Arc<dyn Interrupter>>>,
    /// The client asked for a pause (or a disconnect) while running.
    pub halt_requested: AtomicBool,
    /// The target was halted to change breakpoints: apply them, then resume.
    pub bp_halt: AtomicBool,
    /// The client is gone.
    pub gone: AtomicBool,
}

impl Shared {
    fn interrupt(&self) {
        let i = self.interrupter.lock().ok().and_then(|g| g.clone());
        if let Some(i) = i {
            i.interrupt();
        }
    }
}

/// The writing half: whole messages under one lock, one sequence for all of them.
pub struct Out {
    w: Mutex<Box<dyn Stream>>,
    seq: AtomicI64,
}

impl Out {
    fn send(&self, mut v: Value) {
        v["seq"] = json!(self.seq.fetch_add(1, Ordering::SeqCst) + 1);
        if let Ok(mut w) = self.w.lock() {
            // A client that went away is noticed by the reader; nothing to do here.
            let _ = wire::write_message(&mut **w, &v);
        }
    }
    pub fn respond(&self, req: &Request, body: Value) {
        let mut v = json!({"type": "response", "request_seq": req.seq, "success": true, "command": req.command});
        if !body.is_null() {
            v["body"] = body;
        }
        self.send(v);
    }
    pub fn error(&self, req: &Request, id: i64, summary: &str, details: &str, show_user: bool) {
        self.error_to(req.seq, &req.command, id, summary, details, show_user);
    }
    fn error_to(
        &self,
        seq: i64,
        command: &str,
        id: i64,
        summary: &str,
        details: &str,
        show_user: bool,
    ) {
        self.send(json!({
            "type": "response", "request_seq": seq, "success": false, "command": command,
            "message": summary,
            "body": {"error": {"id": id, "format": format!("{summary}: {details}"), "showUser": show_user}},
        }));
    }
    pub fn event(&self, name: &str, body: Value) {
        let mut v = json!({"type": "event", "event": name});
        if !body.is_null() {
            v["body"] = body;
        }
        self.send(v);
    }
    pub fn output(&self, category: &str, text: &str) {
        self.event("output", json!({"category": category, "output": text}));
    }
}

/// Listen, print `DAP server listening at: ADDR` (as `dlv dap`), serve one client,
/// then release the target (kill launched, detach attached) and return.
pub fn serve(opts: &DapOptions, launcher: &mut dyn Launcher) -> Result<(), ServiceError> {
    let err = |source| ServiceError::Listen {
        addr: opts.listen.clone(),
        source,
    };
    let l = TcpListener::bind(&opts.listen).map_err(err)?;
    let addr = l.local_addr().map_err(err)?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "coroner: warning: listening on a non-loopback address: anyone who can reach {addr} can read and control the target"
        );
    }
    println!("DAP server listening at: {addr}");
    let _ = std::io::stdout().flush();
    // Delve's `dlv dap` serves a single session.
    loop {
        let (s, peer) = l.accept()?;
        if opts.only_same_user && !crate::service::rpc2::same_user(&s, peer) {
            eprintln!("coroner: closing connection from {peer}: another user");
            continue;
        }
        return serve_stream(Box::new(s), launcher, Slot::Empty, false).map(|_| ());
    }
}

/// Serve one DAP client of the `--headless` listener over that server's session
/// (attach mode "remote"; launch and local attach are refused, as in Delve).
pub fn serve_joined(
    s: Box<dyn Stream>,
    session: &mut Session,
    multiclient: bool,
) -> Result<Leave, ServiceError> {
    serve_stream(s, &mut NoLauncher, Slot::Joined(session), multiclient)
}

/// The headless server's DAP clients cannot start targets: one exists already.
struct NoLauncher;

const IN_PROGRESS: &str = "debug session already in progress - use remote attach mode to connect to a server with an active debug session";

impl Launcher for NoLauncher {
    fn launch(
        &mut self,
        _: &super::types::LaunchArgs,
        _: &mut dyn FnMut(&str, &str),
    ) -> Result<Launched, String> {
        Err(IN_PROGRESS.into())
    }
    fn attach(&mut self, _: u32) -> Result<Launched, String> {
        Err(IN_PROGRESS.into())
    }
}

/// Serve one DAP client on `s`. `existing`: a session already over a target (the
/// `--headless` listener's), which the client joins with attach mode "remote".
fn serve_stream(
    s: Box<dyn Stream>,
    launcher: &mut dyn Launcher,
    existing: Slot<'_>,
    multiclient: bool,
) -> Result<Leave, ServiceError> {
    let reader = s.try_clone_box()?;
    let closer = s.try_clone_box()?;
    let out = Arc::new(Out {
        w: Mutex::new(s),
        seq: AtomicI64::new(0),
    });
    let shared = Arc::new(Shared::default());
    if let Some(d) = existing.as_ref().and_then(|s| s.debugger()) {
        if let Ok(mut g) = shared.interrupter.lock() {
            *g = Some(d.interrupter());
        }
    }
    let (tx, rx) = channel::<Msg>();
    let th = {
        let (out, shared) = (out.clone(), shared.clone());
        std::thread::Builder::new()
            .name("dap-reader".into())
            .spawn(move || read_loop(reader, &out, &shared, &tx))?
    };
    let mut dap = Dap::new(out, shared.clone(), &rx, launcher, existing, multiclient);
    while let Ok(m) = rx.recv() {
        match m {
            Msg::Req(r) => {
                dap.handle(&r);
                if dap.done {
                    break;
                }
                if shared.gone.load(Ordering::SeqCst) {
                    dap.release();
                    break;
                }
            }
            Msg::Gone => {
                dap.release();
                break;
            }
        }
    }
    let leave = dap.leave;
    // Unblock the reader (it may sit in read()) and wait for it.
    closer.shutdown_both();
    drop(dap);
    let _ = th.join();
    Ok(leave)
}

fn read_loop(s: Box<dyn Stream>, out: &Out, shared: &Shared, tx: &Sender<Msg>) {
    let mut r = BufReader::new(s);
    loop {
        let body = match wire::read_message(&mut r) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(FrameError::TooLong(n)) if n <= MAX_SKIP_BYTES => {
                // Skip the body without holding it, answer, and stay in sync.
                let skipped = std::io::copy(&mut (&mut r).take(n as u64), &mut std::io::sink());
                if skipped.map_or(true, |k| k != n as u64) {
                    break;
                }
                let e = format!(
                    "message of {n} bytes is over the {}-byte limit",
                    wire::MAX_MESSAGE_BYTES
                );
                out.error_to(0, "", ids::INTERNAL_ERROR, "Internal Error", &e, false);
                continue;
            }
            Err(e) => {
                // Framing is lost: say why, then drop the connection.
                out.error_to(
                    0,
                    "",
                    ids::INTERNAL_ERROR,
                    "Internal Error",
                    &e.to_string(),
                    false,
                );
                break;
            }
        };
        let req = match wire::decode(&body) {
            Ok(r) => r,
            Err(e) => {
                out.error_to(
                    wire::seq_of(&body),
                    "",
                    ids::INTERNAL_ERROR,
                    "Internal Error",
                    &e.to_string(),
                    false,
                );
                continue;
            }
        };
        if shared.running.load(Ordering::SeqCst) && !while_running(&req, out, shared) {
            continue;
        }
        if tx.send(Msg::Req(req)).is_err() {
            return;
        }
    }
    shared.gone.store(true, Ordering::SeqCst);
    // A client that disappears mid-continue: stop the target so the worker can
    // release it.
    shared.interrupt();
    let _ = tx.send(Msg::Gone);
}

/// A request that arrived while the target runs. True to queue it for the worker.
fn while_running(req: &Request, out: &Out, shared: &Shared) -> bool {
    match req.command.as_str() {
        "pause" => {
            shared.halt_requested.store(true, Ordering::SeqCst);
            shared.interrupt();
            out.respond(req, Value::Null);
            false
        }
        "threads" => {
            out.respond(req, json!({"threads": [{"id": -1, "name": "Current"}]}));
            false
        }
        "disconnect" => {
            shared.halt_requested.store(true, Ordering::SeqCst);
            shared.interrupt();
            true
        }
        "setBreakpoints" | "setFunctionBreakpoints" | "setExceptionBreakpoints" => {
            // Delve halts to change breakpoints, then resumes.
            shared.bp_halt.store(true, Ordering::SeqCst);
            shared.interrupt();
            true
        }
        "initialize" | "launch" | "attach" | "terminate" | "restart" => true,
        other => {
            let d = format!("Unable to process `{other}`: debuggee is running");
            out.error(
                req,
                ids::UNABLE_TO_DISPLAY_THREADS,
                "Unable to process request",
                &d,
                false,
            );
            false
        }
    }
}
