//! The public handle: [`PtraceProcess`] runs every request on the process's own tracer
//! thread, which owns the [`Tracee`].
//!
//! Why a thread of its own: ptrace accepts requests only from the thread that attached,
//! and a front end's threads are busy with other things (a REPL blocked reading the
//! terminal, a browser drawing, a server reading a socket). With the tracer on its own
//! thread, the handle can move between threads, and an emergency cleanup (SIGTERM,
//! SIGHUP, a panic) reaches an idle tracer through its job queue and detaches properly
//! instead of leaving threads in a ptrace-stop for the kernel to release with their
//! pending SIGTRAP. The cost is one thread handoff per request (a few microseconds).

use super::breakpoints;
use super::cleanup::{Entry, InterruptState};
use super::{LaunchOptions, PtraceInterrupter, Tracee};
use crate::addr::Addr;
use crate::backend::{
    Armed, BackendError, Capabilities, Direction, FastCond, Interrupter, Process, Resume,
    StopEvent, WatchKind,
};
use crate::snapshot::{Registers, Snapshot};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce(&mut Tracee) + Send>;

enum Msg {
    Run(Job),
    /// Emergency cleanup: release the process now (see `cleanup.rs`).
    Cleanup,
    Quit,
}

/// A process traced with ptrace, usable from any thread.
pub struct PtraceProcess {
    pid: u32,
    launched: bool,
    caps: Capabilities,
    jobs: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<()>>,
    bps: breakpoints::Shared,
    interrupt: Arc<InterruptState>,
    /// The snapshot of the stop `resume_wait_lazy` returned, made by the tracer in the
    /// same request; used while its generation is current.
    prefetched: Option<Arc<super::LiveSnapshot>>,
}

fn tracer_gone() -> BackendError {
    BackendError::Os {
        op: "ptrace",
        why: "the tracer thread ended (a bug: see the panic above)".into(),
    }
}

struct Started {
    pid: u32,
    launched: bool,
    caps: Capabilities,
    bps: breakpoints::Shared,
    interrupt: Arc<InterruptState>,
    entry: Arc<Entry>,
}

impl PtraceProcess {
    /// Start `opts.program` under ptrace, stopped at its first instruction.
    pub fn launch(opts: &LaunchOptions) -> Result<PtraceProcess, BackendError> {
        let opts = opts.clone();
        Self::start(move || Tracee::launch(&opts))
    }

    /// Attach to a running process and stop every thread.
    pub fn attach(pid: u32) -> Result<PtraceProcess, BackendError> {
        Self::start(move || Tracee::attach(pid))
    }

    fn start(
        make: impl FnOnce() -> Result<Tracee, BackendError> + Send + 'static,
    ) -> Result<PtraceProcess, BackendError> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<Started, BackendError>>(1);
        let thread = std::thread::Builder::new()
            .name("ptrace-tracer".into())
            .spawn(move || {
                let mut t = match make() {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let started = Started {
                    pid: t.pid as u32,
                    launched: t.launched,
                    caps: t.capabilities(),
                    bps: t.bps.clone(),
                    interrupt: t.interrupt.clone(),
                    entry: t.entry.clone(),
                };
                if ready_tx.send(Ok(started)).is_err() {
                    return;
                }
                for msg in rx {
                    match msg {
                        Msg::Run(job) => job(&mut t),
                        Msg::Cleanup => {
                            let _ = t.honour_cleanup();
                        }
                        Msg::Quit => break,
                    }
                }
                // Dropped here, on the tracer thread: kill or detach (see Tracee's Drop).
                drop(t);
            })
            .map_err(|e| BackendError::Os {
                op: "start the tracer thread",
                why: e.to_string(),
            })?;
        let started = match ready_rx.recv() {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(tracer_gone());
            }
        };
        let wake_tx = std::sync::Mutex::new(tx.clone());
        *started.entry.wake.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(move || {
            if let Ok(t) = wake_tx.lock() {
                let _ = t.send(Msg::Cleanup);
            }
        }));
        Ok(PtraceProcess {
            pid: started.pid,
            launched: started.launched,
            caps: started.caps,
            jobs: tx,
            thread: Some(thread),
            bps: started.bps,
            interrupt: started.interrupt,
            prefetched: None,
        })
    }

    /// Run `f` on the tracer thread and return its result.
    fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tracee) -> R + Send + 'static,
    ) -> Result<R, BackendError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Msg::Run(Box::new(move |t| {
                let _ = tx.send(f(t));
            })))
            .map_err(|_| tracer_gone())?;
        rx.recv().map_err(|_| tracer_gone())
    }

    /// Thread ids currently traced (exiting threads excluded).
    pub fn thread_ids(&self) -> Vec<u32> {
        self.call(|t| t.thread_ids()).unwrap_or_default()
    }

    pub fn launched(&self) -> bool {
        self.launched
    }
}

impl Process for PtraceProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn snapshot(&mut self) -> Result<Arc<dyn Snapshot>, BackendError> {
        if let Some(s) = self.prefetched.take() {
            if s.is_current() {
                self.prefetched = Some(s.clone());
                return Ok(s);
            }
        }
        self.call(|t| t.snapshot())?
    }

    fn set_registers(&mut self, tid: u32, regs: &Registers) -> Result<(), BackendError> {
        let regs = regs.clone();
        self.call(move |t| t.set_registers(tid, &regs))?
    }

    fn write_memory(&mut self, addr: Addr, bytes: &[u8]) -> Result<(), BackendError> {
        let bytes = bytes.to_vec();
        self.call(move |t| t.write_memory(addr, &bytes))?
    }

    fn insert_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        self.call(move |t| t.insert_breakpoint(addr))?
    }

    fn remove_breakpoint(&mut self, addr: Addr) -> Result<(), BackendError> {
        self.call(move |t| t.remove_breakpoint(addr))?
    }

    fn update_breakpoints(&mut self, remove: &[Addr], insert: &[Addr]) -> Result<(), BackendError> {
        let (remove, insert) = (remove.to_vec(), insert.to_vec());
        self.call(move |t| t.update_breakpoints(&remove, &insert))?
    }

    fn set_fast_condition(
        &mut self,
        addr: Addr,
        cond: Option<FastCond>,
    ) -> Result<Armed, BackendError> {
        self.call(move |t| t.set_fast_condition(addr, cond))?
    }

    fn breakpoints(&self) -> Vec<Addr> {
        breakpoints::lock(&self.bps)
            .inserted
            .keys()
            .map(|&a| Addr(a))
            .collect()
    }

    fn set_watchpoint(
        &mut self,
        slot: u8,
        addr: Addr,
        len: u8,
        kind: WatchKind,
    ) -> Result<(), BackendError> {
        self.call(move |t| t.set_watchpoint(slot, addr, len, kind))?
    }

    fn clear_watchpoint(&mut self, slot: u8) -> Result<(), BackendError> {
        self.call(move |t| t.clear_watchpoint(slot))?
    }

    fn resume(&mut self, how: Resume, dir: Direction) -> Result<(), BackendError> {
        self.call(move |t| t.resume(how, dir))?
    }

    fn wait(&mut self) -> Result<StopEvent, BackendError> {
        self.call(|t| t.wait())?
    }

    fn wait_lazy(&mut self) -> Result<(StopEvent, bool), BackendError> {
        self.call(|t| t.wait_lazy())?
    }

    fn resume_wait_lazy(&mut self, how: Resume) -> Result<(StopEvent, bool), BackendError> {
        self.prefetched = None;
        let (ev, partial, snap) = self.call(move |t| {
            t.resume(how, Direction::Forward)?;
            let (ev, partial) = t.wait_lazy()?;
            let snap = if ev.is_exit() {
                None
            } else {
                t.live_snapshot().ok()
            };
            Ok::<_, BackendError>((ev, partial, snap))
        })??;
        self.prefetched = snap;
        Ok((ev, partial))
    }

    fn stop_others(&mut self) -> Result<Option<StopEvent>, BackendError> {
        self.call(|t| t.stop_others())?
    }

    fn discard_signal(&mut self, tid: u32) {
        let _ = self.call(move |t| t.discard_signal(tid));
    }

    fn interrupter(&self) -> Arc<dyn Interrupter> {
        Arc::new(PtraceInterrupter(self.interrupt.clone()))
    }

    fn detach(&mut self) -> Result<(), BackendError> {
        self.call(|t| t.detach())?
    }

    fn kill(&mut self) -> Result<(), BackendError> {
        self.call(|t| t.kill())?
    }
}

impl Drop for PtraceProcess {
    fn drop(&mut self) {
        let _ = self.jobs.send(Msg::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
