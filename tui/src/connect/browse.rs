//! The browser on a server's target (`coroner connect ADDR [BIN]` on a terminal): the
//! same panes as for a core or a live process, fed by a [`RemoteSnapshot`] of each stop
//! (coroner's engine over the server's registers and memory, with the binary read
//! here), and the live browser's keys and command bar sent to the server as the REPL
//! sends them. This thread serves the browser's requests as the live browser's actor
//! does; a halt goes out on the connection's second handle while a resume waits.

use super::remote::RemoteSnapshot;
use super::Term;
use crate::browser::actor::{self, BpMark, LiveState, Reply, Request, Spot, WatchValue};
use coroner::exec::Origin;
use coroner::repl::Output;
use coroner::symbols::Binary;
use coroner::target::{Image, Target};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The binary the browser reads: the one given, else the server's process's own
/// executable when it runs on this machine.
fn binary_path(t: &Term, given: Option<&Path>) -> Result<std::path::PathBuf, String> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let pid =
        t.c.call("ProcessPid", json!({}))
            .ok()
            .and_then(|r| r["Pid"].as_i64())
            .filter(|p| *p > 0);
    if let Some(pid) = pid {
        let exe = std::path::PathBuf::from(format!("/proc/{pid}/exe"));
        // The file's own name for the header; the /proc link when the binary was
        // replaced or deleted since (it still opens what runs).
        match std::fs::read_link(&exe) {
            Ok(p) if p.is_file() => return Ok(p),
            _ if std::fs::metadata(&exe).is_ok() => return Ok(exe),
            _ => {}
        }
    }
    Err("the browser reads the program's binary here: give it (coroner connect ADDR BIN), or use --repl".into())
}

/// A remote target and what the browser shows of it.
struct Remote {
    term: Term,
    image: Arc<Image>,
    addr: String,
    target: Arc<Target>,
    watches: Vec<WatchValue>,
    ended: Option<String>,
    /// What the last resume was, for the stop's description.
    last: Resume,
}

/// The kind of the last command that moved the target.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resume {
    None,
    Continue,
    Step,
}

impl Remote {
    pub fn open(term: Term, binary: &Path, addr: &str) -> Result<Remote, String> {
        let bin = Binary::open(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
        // A PIE binary's load bias is not in Delve's API; the Go programs it debugs
        // are not PIE unless built so, and then the thread PCs place it.
        let image = Arc::new(Image::load(Arc::new(bin), 0).map_err(|e| e.to_string())?);
        let target = Self::read_target(&term, &image, addr, None)?;
        Ok(Remote {
            term,
            image,
            addr: addr.to_string(),
            target,
            watches: Vec::new(),
            ended: None,
            last: Resume::None,
        })
    }

    fn read_target(
        term: &Term,
        image: &Arc<Image>,
        addr: &str,
        previous: Option<&Target>,
    ) -> Result<Arc<Target>, String> {
        let snap = RemoteSnapshot::read(term.c.clone(), addr)?;
        Target::new(
            Arc::new(snap),
            image.clone(),
            previous.map(Target::runtime),
            Vec::new(),
        )
        .map(Arc::new)
        .map_err(|e| e.to_string())
    }

    pub fn target(&self) -> Arc<Target> {
        self.target.clone()
    }

    /// After the target moved: a fresh snapshot (keeping the runtime's static facts),
    /// and the watches evaluated again.
    fn refresh(&mut self) {
        match Self::read_target(&self.term, &self.image, &self.addr, Some(&self.target)) {
            Ok(t) => self.target = t,
            Err(e) => self.ended = Some(e),
        }
        for i in 0..self.watches.len() {
            let v = self.eval(&self.watches[i].expr.clone());
            let w = &mut self.watches[i];
            w.changed = v != w.value;
            w.value = v;
        }
    }

    fn eval(&mut self, expr: &str) -> Result<String, String> {
        match self.term.run(&format!("print {expr}")) {
            Ok(Some(t)) => Ok(t.trim_end().replace('\n', " ")),
            Ok(None) => Err("the session ended".into()),
            Err(e) => Err(e),
        }
    }

    /// What the live browser shows: the stop, the breakpoints, the watches.
    pub fn state(&mut self) -> LiveState {
        let st = self.term.state().unwrap_or(Value::Null);
        let pid = self
            .term
            .c
            .call("ProcessPid", json!({}))
            .ok()
            .and_then(|r| r["Pid"].as_u64())
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0);
        let attached = self
            .term
            .c
            .call("AttachedToExistingProcess", json!({}))
            .ok()
            .and_then(|r| r["Answer"].as_bool())
            == Some(true);
        let reversible = self
            .term
            .c
            .call("Recorded", json!({}))
            .ok()
            .and_then(|r| r["Recorded"].as_bool())
            == Some(true)
            && pid != 0;
        let bps = self
            .term
            .c
            .call("ListBreakpoints", json!({"All": false}))
            .ok()
            .and_then(|r| r["Breakpoints"].as_array().cloned())
            .unwrap_or_default();
        let breakpoints = bps
            .iter()
            .filter(|b| b["id"].as_i64().unwrap_or(0) > 0)
            .filter(|b| b["WatchExpr"].as_str().is_none_or(str::is_empty))
            .map(|b| BpMark {
                file: b["file"].as_str().unwrap_or("").to_string(),
                line: b["line"]
                    .as_u64()
                    .and_then(|l| u32::try_from(l).ok())
                    .unwrap_or(0),
                addrs: b["addrs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .collect(),
                enabled: b["disabled"].as_bool() != Some(true),
            })
            .collect();
        if st.is_null() && self.ended.is_none() {
            self.ended = Some(format!("process {pid} is gone"));
        }
        LiveState {
            target: self.target.clone(),
            pid,
            origin: if attached {
                Origin::Attached
            } else {
                Origin::Launched
            },
            ended: self.ended.clone(),
            reason: self.reason(&st),
            goid: st["currentGoroutine"]["id"].as_u64(),
            frame: usize::try_from(self.term.frame).unwrap_or(0),
            breakpoints,
            watches: self.watches.clone(),
            config: self.term.config.clone(),
            reversible,
            when: st["When"]
                .as_str()
                .filter(|w| !w.is_empty())
                .map(str::to_string),
        }
    }

    /// `Breakpoint 1 at main.f ./loop.go:14 (goroutine 1)`, `stopped at ...`.
    fn reason(&self, st: &Value) -> String {
        let th = &st["currentThread"];
        let at = format!(
            " at {} {}:{}",
            th["function"]["name"].as_str().unwrap_or("?"),
            self.term.path(th["file"].as_str().unwrap_or("")),
            th["line"]
        );
        let g = st["currentGoroutine"]["id"]
            .as_u64()
            .map(|g| format!(" (goroutine {g})"))
            .unwrap_or_default();
        let bp = &th["breakPoint"];
        if bp.is_object() {
            format!("{}{at}{g}", super::bps::bp_name(bp, true))
        } else if !th.is_object() {
            "no current thread".into()
        } else {
            // As the local browser words it: a continue that ends on no breakpoint
            // was halted (or stopped by a signal the server reports no further).
            let how = match self.last {
                Resume::Step => "stepped",
                Resume::Continue => "halted",
                Resume::None => "stopped",
            };
            format!("{how}{at}{g}")
        }
    }

    /// Serve the browser until it quits; what to tell the user after.
    pub fn serve(
        &mut self,
        rx: std::sync::mpsc::Receiver<Request>,
        tx: std::sync::mpsc::Sender<Reply>,
        running: &std::sync::atomic::AtomicBool,
    ) -> String {
        while let Ok(req) = rx.recv() {
            let (echo, status) = match req {
                Request::Command { line, at } => {
                    let resuming = actor::resumes(&line);
                    if resuming {
                        let first = line.split_whitespace().next().unwrap_or("");
                        self.last = match first {
                            "continue" | "c" | "rewind" | "rw" => Resume::Continue,
                            "restart" | "r" => Resume::None,
                            _ => Resume::Step,
                        };
                    }
                    running.store(resuming, Ordering::SeqCst);
                    // The browser's selection is the scope of commands that read.
                    let scoped = match at {
                        Some((g, f)) if !resuming => format!("goroutine {g} frame {f} {line}"),
                        _ => line.clone(),
                    };
                    let out = match self.term.run(&scoped) {
                        Ok(Some(t)) => Output::Text(t),
                        Ok(None) => {
                            running.store(false, Ordering::SeqCst);
                            let _ = tx.send(Reply {
                                echo: Some((line, Output::Exit)),
                                status: None,
                                state: Some(self.state()),
                            });
                            return String::new();
                        }
                        Err(e) => Output::Error(format!(
                            "{}{e}",
                            std::mem::take(&mut self.term.before_error)
                        )),
                    };
                    running.store(false, Ordering::SeqCst);
                    if resuming
                        || matches!(
                            line.split_whitespace().next(),
                            Some("goroutine" | "gr" | "thread" | "tr" | "restart" | "r")
                        )
                    {
                        if let Output::Error(e) = &out {
                            if e.contains("has exited with status") {
                                self.ended = Some(e.clone());
                            }
                        }
                        self.refresh();
                    }
                    (Some((line, out)), None)
                }
                Request::Toggle(spot) => {
                    let line = self.toggle_line(&spot);
                    let out = match self.term.run(&line) {
                        Ok(Some(t)) => Output::Text(t),
                        Ok(None) => Output::Text(String::new()),
                        Err(e) => Output::Error(e),
                    };
                    let status = match &out {
                        Output::Error(e) => e.clone(),
                        o => o.render().lines().next().unwrap_or_default().to_string(),
                    };
                    (Some((line, out)), Some(status))
                }
                Request::AddWatch(e, _) => {
                    let value = self.eval(&e);
                    self.watches.push(WatchValue {
                        expr: e,
                        value,
                        changed: false,
                    });
                    (None, None)
                }
                Request::RemoveWatch(i) => {
                    if i < self.watches.len() {
                        self.watches.remove(i);
                    }
                    (None, None)
                }
                Request::Quit { kill } => {
                    return self.leave(Some(kill));
                }
            };
            let reply = Reply {
                echo,
                status,
                state: Some(self.state()),
            };
            if tx.send(reply).is_err() {
                break;
            }
        }
        self.leave(None)
    }

    /// `clear N` for the user breakpoint at the spot, else `break` there.
    fn toggle_line(&mut self, spot: &Spot) -> String {
        let bps = self
            .term
            .c
            .call("ListBreakpoints", json!({"All": false}))
            .ok()
            .and_then(|r| r["Breakpoints"].as_array().cloned())
            .unwrap_or_default();
        let hit = bps.iter().find(|b| {
            b["id"].as_i64().unwrap_or(0) > 0
                && match spot {
                    Spot::Line(f, l) => {
                        b["file"].as_str() == Some(f.as_str())
                            && b["line"].as_u64() == Some(u64::from(*l))
                    }
                    Spot::Addr(a) => b["addrs"]
                        .as_array()
                        .is_some_and(|v| v.iter().any(|x| x.as_u64() == Some(*a))),
                }
        });
        match (hit, spot) {
            (Some(b), _) => format!("clear {}", b["id"]),
            (None, Spot::Line(f, l)) => format!("break {f}:{l}"),
            (None, Spot::Addr(a)) => format!("break *{a:#x}"),
        }
    }

    /// End the session: `kill` kills or detaches; None does what `exit` does (the
    /// server's own rule for what it launched or attached).
    fn leave(&mut self, kill: Option<bool>) -> String {
        if self.ended.is_some() {
            return String::new();
        }
        let r = match kill {
            Some(k) => self.term.c.call("Detach", json!({"Kill": k})).map(|_| ()),
            None => self.term.leave(),
        };
        match r {
            Ok(()) => String::new(),
            Err(e) => format!("coroner: the server did not release the target: {e}"),
        }
    }
}

/// The browser on the server's target: live keys and the command bar through the
/// server; on a core (nothing to run), the core browser over the remote snapshot.
pub fn run(
    mut term: Term,
    halter: Option<super::client::Halter>,
    a: &super::ConnectArgs,
) -> anyhow::Result<String> {
    let bin = binary_path(&term, a.binary.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let core = term
        .c
        .call("ProcessPid", json!({}))
        .ok()
        .and_then(|r| r["Pid"].as_i64())
        .is_none_or(|p| p <= 0);
    term.frame = 0;
    let mut remote = Remote::open(term, &bin, &a.addr).map_err(|e| anyhow::anyhow!("{e}"))?;
    if core {
        let target = remote.target();
        let mut session = coroner::repl::Session::with_debuggee(Box::new(
            crate::browser::shared::SharedTarget(target.clone()),
        ));
        session.config = remote.term.config.clone();
        crate::browser::run_snapshot(target, session, &name, &a.addr)?;
        return Ok(String::new());
    }
    let state = remote.state();
    let halter: Arc<dyn coroner::backend::Interrupter> = match halter {
        Some(h) => Arc::new(h),
        None => Arc::new(NoHalt),
    };
    crate::browser::run_served(state, halter, &name, move |rx, tx, running| {
        remote.serve(rx, tx, &running)
    })
}

/// A connection that could not be cloned: halting is not possible.
struct NoHalt;
impl coroner::backend::Interrupter for NoHalt {
    fn interrupt(&self) {}
}
