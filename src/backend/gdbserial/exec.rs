//! Running: the resume packets (`vCont`, `c`/`s`, `bc`/`bs`), stepping off inserted
//! breakpoints, and turning stop replies into [`StopEvent`]s (Go's runtime signals
//! passed back silently, the PC rewound past an int3 when a stub leaves it there).

use super::conn::ConnError;
use super::process::{GdbRemote, State};
use super::stop::{self, Reason, StopReply, ThreadId, WatchHit};
use crate::addr::Addr;
use crate::backend::{BackendError, Direction, Resume, StopEvent};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl GdbRemote {
    /// Build and send the resume packet.
    pub(super) fn send_resume(
        &mut self,
        how: Resume,
        dir: Direction,
        sig: Option<(u32, u8)>,
    ) -> Result<(), BackendError> {
        let vcont = |a: &str| self.features.vcont.iter().any(|x| x == a);
        let use_vcont = vcont("c") && vcont("s") && (sig.is_none() || (vcont("C") && vcont("S")));
        let deferred = std::mem::take(&mut self.deferred_signals);
        let mut pre: Vec<String> = Vec::new();
        let cmd = match (dir, how) {
            (Direction::Reverse, Resume::Continue) => {
                pre.push("Hc-1".into());
                "bc".to_string()
            }
            (Direction::Reverse, Resume::Step(tid)) => {
                pre.push(format!("Hc{tid:x}"));
                "bs".to_string()
            }
            (Direction::Forward, Resume::Continue) if use_vcont => {
                let mut s = String::from("vCont");
                let mut sigs: Vec<(u32, u8)> = sig.into_iter().collect();
                for d in deferred {
                    if !sigs.iter().any(|(t, _)| *t == d.0) {
                        sigs.push(d);
                    }
                }
                for (t, g) in sigs {
                    s.push_str(&format!(";C{g:02x}:{t:x}"));
                }
                s.push_str(";c");
                s
            }
            (Direction::Forward, Resume::Step(tid)) if use_vcont => {
                self.deferred_signals = deferred;
                match sig {
                    Some((t, g)) if t == tid => format!("vCont;S{g:02x}:{tid:x}"),
                    _ => format!("vCont;s:{tid:x}"),
                }
            }
            (Direction::Forward, Resume::Continue) => match sig {
                Some((t, g)) => {
                    pre.push(format!("Hc{t:x}"));
                    format!("C{g:02x}")
                }
                None => {
                    pre.push("Hc-1".into());
                    "c".into()
                }
            },
            (Direction::Forward, Resume::Step(tid)) => {
                self.deferred_signals = deferred;
                pre.push(format!("Hc{tid:x}"));
                match sig {
                    Some((t, g)) if t == tid => format!("S{g:02x}"),
                    _ => "s".into(),
                }
            }
        };
        let shared = self.shared.clone();
        let running = self.running.clone();
        let requested = self.interrupt_requested.clone();
        self.with_conn(|conn, _| {
            for p in &pre {
                let r = conn.request(p.as_bytes())?;
                if r != b"OK" && !r.is_empty() {
                    return Err(ConnError::Protocol(format!(
                        "'{p}' refused: {}",
                        String::from_utf8_lossy(&r)
                    )));
                }
            }
            // Bump the generation under the connection lock, before the process
            // moves: snapshot readers check it under the same lock.
            shared.generation.fetch_add(1, Ordering::SeqCst);
            requested.store(false, Ordering::SeqCst);
            running.store(true, Ordering::SeqCst);
            conn.send(cmd.as_bytes())
        })?;
        self.current = None;
        self.at_this_stop.clear();
        self.raw_g.clear();
        self.state = State::Running { how, dir };
        Ok(())
    }

    /// Turn a stop reply into an event; `None` when the process was resumed again
    /// (a Go runtime signal, an event we did not ask for).
    pub(super) fn classify(
        &mut self,
        reply: StopReply,
        how: Resume,
        dir: Direction,
    ) -> Result<Option<StopEvent>, BackendError> {
        match reply {
            StopReply::Exited { status, .. } => {
                self.finish(State::Exited);
                Ok(Some(StopEvent::Exited {
                    status: status as i32,
                }))
            }
            StopReply::Terminated { gdb_signal, .. } => {
                self.finish(State::Exited);
                Ok(Some(StopEvent::Killed {
                    signo: stop::gdb_to_host(gdb_signal),
                }))
            }
            StopReply::NoResumed => {
                self.running.store(false, Ordering::SeqCst);
                self.state = State::Stopped;
                Err(BackendError::Remote(
                    "the stub has no thread left to resume".into(),
                ))
            }
            StopReply::Stopped {
                gdb_signal,
                thread,
                reason,
                expedited,
                ..
            } => {
                let tid = match thread {
                    Some(ThreadId { tid, .. }) if tid > 0 => tid as u32,
                    _ => self.last_tid,
                };
                self.last_tid = tid;
                self.running.store(false, Ordering::SeqCst);
                self.state = State::Stopped;
                let interrupted = self.interrupt_requested.swap(false, Ordering::SeqCst);

                if let Some(Reason::ReplayLog { begin }) = reason {
                    return Ok(Some(StopEvent::RecordingBoundary {
                        tid,
                        at_start: begin,
                    }));
                }
                if gdb_signal == stop::GDB_SIGKILL
                    && dir == Direction::Forward
                    && self.rr == Some(true)
                {
                    // rr stops with a synthetic SIGKILL as the recorded program's last
                    // thread exits (even on a normal exit), so that one can still set
                    // breakpoints and go back. Delve reports it as the exit; so do we.
                    // The program's status is not in this stop: 0, as Delve prints.
                    return Ok(Some(StopEvent::Exited { status: 0 }));
                }
                if stop::GO_RUNTIME_SIGNALS.contains(&gdb_signal) {
                    if interrupted {
                        // Our \x03 may be consumed by this stop: do not resume past it.
                        self.deferred_signals.push((tid, gdb_signal));
                        return Ok(Some(StopEvent::Interrupted));
                    }
                    match (dir, how) {
                        (Direction::Forward, Resume::Continue) => {
                            self.send_resume(how, dir, Some((tid, gdb_signal)))?
                        }
                        _ => {
                            self.deferred_signals.push((tid, gdb_signal));
                            self.send_resume(how, dir, None)?
                        }
                    }
                    return Ok(None);
                }
                if let Some(Reason::Event(_)) = reason {
                    self.send_resume(how, dir, None)?;
                    return Ok(None);
                }
                if gdb_signal == 0 && dir == Direction::Reverse {
                    // rr's way of saying the replay reached the start (as Delve reads it).
                    return Ok(Some(StopEvent::RecordingBoundary {
                        tid,
                        at_start: true,
                    }));
                }
                if gdb_signal == stop::GDB_SIGINT && interrupted {
                    return Ok(Some(StopEvent::Interrupted));
                }
                if gdb_signal == stop::GDB_SIGTRAP || gdb_signal == 0 {
                    if let Some(Reason::Watch(kind, addr)) = reason {
                        return Ok(Some(self.watch_event(tid, kind, addr)));
                    }
                    if let Resume::Step(st) = how {
                        if st == tid && reason != Some(Reason::SwBreak) {
                            return Ok(Some(StopEvent::Stepped { tid }));
                        }
                    }
                    let pc = self.read_pc(tid, &expedited)?;
                    if self.breakpoints.contains(&pc) || self.hw_breakpoints.contains(&pc) {
                        return Ok(Some(StopEvent::Breakpoint { tid, pc: Addr(pc) }));
                    }
                    let back = pc.wrapping_sub(1);
                    if reason != Some(Reason::HwBreak) && self.breakpoints.contains(&back) {
                        // The stub left the PC past the int3 (GNU gdbserver does not:
                        // it reports the breakpoint address; others may).
                        self.write_reg(tid, "rip", back)?;
                        return Ok(Some(StopEvent::Breakpoint {
                            tid,
                            pc: Addr(back),
                        }));
                    }
                    if reason == Some(Reason::SwBreak) && self.int3_at(pc)? {
                        // An int3 of the program's own (Go's debugCall protocol): with
                        // `swbreak` the stub reports the PC on it; the kernel, and so
                        // the ptrace backend, leave it past it. Step it as the CPU did.
                        self.write_reg(tid, "rip", pc.wrapping_add(1))?;
                        self.pending_signal = Some((tid, gdb_signal));
                        return Ok(Some(StopEvent::Signal {
                            tid,
                            signo: stop::gdb_to_host(gdb_signal),
                        }));
                    }
                    if let Resume::Step(_) = how {
                        return Ok(Some(StopEvent::Stepped { tid }));
                    }
                    if interrupted {
                        return Ok(Some(StopEvent::Interrupted));
                    }
                }
                if interrupted && gdb_signal == 0 {
                    return Ok(Some(StopEvent::Interrupted));
                }
                // Signal 0 (rr's stop after a restart, a stub's "no reason") has
                // nothing to deliver, and no siginfo to read: rr answers a siginfo read
                // there by refusing to run backwards until the next forward resume.
                if gdb_signal != 0 {
                    self.pending_signal = Some((tid, gdb_signal));
                }
                Ok(Some(StopEvent::Signal {
                    tid,
                    signo: stop::gdb_to_host(gdb_signal),
                }))
            }
        }
    }

    /// The byte at `addr` is an int3 (0xCC) that is not one of ours.
    fn int3_at(&mut self, addr: u64) -> Result<bool, BackendError> {
        let r = self.with_conn(|conn, _| conn.request(format!("m{addr:x},1").as_bytes()))?;
        Ok(super::packet::hex_decode(&r).is_some_and(|b| b == [0xcc]))
    }

    fn watch_event(&self, tid: u32, _kind: WatchHit, addr: u64) -> StopEvent {
        let hit = self
            .watch
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.map(|w| (i, w)))
            .min_by_key(|(_, (a, len, _))| {
                if addr >= *a && addr < a + *len as u64 {
                    0
                } else {
                    addr.abs_diff(*a).saturating_add(1)
                }
            });
        match hit {
            Some((slot, (a, _, _))) => StopEvent::Watchpoint {
                tid,
                slot: slot as u8,
                addr: Addr(a),
            },
            None => StopEvent::Watchpoint {
                tid,
                slot: 0,
                addr: Addr(addr),
            },
        }
    }

    /// GNU gdbserver does not step over the breakpoints we insert: a thread resumed
    /// on one would trap on it again at once. So, as GDB does: remove it, step that
    /// thread alone (the others stay stopped and cannot run past the address), put it
    /// back. Returns the event when the step-over is itself the answer (the requested
    /// step of that thread, an exit, a signal).
    pub(super) fn step_over_breakpoint(
        &mut self,
        how: Resume,
    ) -> Result<Option<StopEvent>, BackendError> {
        let tid = self.last_tid;
        if tid == 0 || self.breakpoints.is_empty() {
            return Ok(None);
        }
        let known = self
            .current
            .as_ref()
            .and_then(|s| s.threads.iter().find(|t| t.tid == tid).map(|t| t.regs.rip));
        let pc = match known {
            Some(pc) => pc,
            None => self.read_pc(tid, &[])?,
        };
        if !self.breakpoints.contains(&pc) {
            return Ok(None);
        }
        self.remove_z(0, pc, 1)?;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self.current = None;
        self.at_this_stop.clear();
        let vcont = self.features.vcont.iter().any(|a| a == "s");
        let mut event = None;
        for _ in 0..16 {
            let reply = self.with_conn(|conn, _| {
                if vcont {
                    conn.send(format!("vCont;s:{tid:x}").as_bytes())?;
                } else {
                    let r = conn.request(format!("Hc{tid:x}").as_bytes())?;
                    if r != b"OK" {
                        return Err(ConnError::Protocol(format!(
                            "cannot select thread {tid} to step"
                        )));
                    }
                    conn.send(b"s")?;
                }
                let t = conn.timeouts.request;
                conn.recv(t, b"step")
            })?;
            match stop::parse(&reply).map_err(|e| BackendError::Remote(e.to_string()))? {
                StopReply::Stopped { gdb_signal, .. }
                    if stop::GO_RUNTIME_SIGNALS.contains(&gdb_signal) =>
                {
                    // Arrived before the step: keep it for the next continue, retry.
                    self.deferred_signals.push((tid, gdb_signal));
                    continue;
                }
                StopReply::Stopped {
                    gdb_signal,
                    thread,
                    reason,
                    ..
                } => {
                    let other = thread.is_some_and(|t| t.tid > 0 && t.tid as u32 != tid);
                    if other || (gdb_signal != stop::GDB_SIGTRAP && reason.is_none()) {
                        // Something else happened first (another thread's pending
                        // stop, a signal): report it as if from a continue.
                        self.insert_z(0, pc, 1, "insert software breakpoints (Z0)")?;
                        let r = self.classify(
                            reply_again(&reply)?,
                            Resume::Continue,
                            Direction::Forward,
                        )?;
                        return Ok(r);
                    }
                    break;
                }
                exit => {
                    event = self.classify(exit, how, Direction::Forward)?;
                    self.breakpoints.remove(&pc);
                    return Ok(event);
                }
            }
        }
        self.insert_z(0, pc, 1, "insert software breakpoints (Z0)")?;
        if how == Resume::Step(tid) {
            event = Some(StopEvent::Stepped { tid });
        }
        Ok(event)
    }

    /// Wait for a stop, at most `timeout`; a timeout leaves the process running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<StopEvent, BackendError> {
        if let Some(ev) = self.queued.take() {
            self.running.store(false, Ordering::SeqCst);
            if !ev.is_exit() {
                self.state = State::Stopped;
            }
            return Ok(ev);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let State::Running { how, dir } = self.state else {
                self.check_stopped()?;
                return Err(BackendError::Unsupported("wait without a resume"));
            };
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1));
            let what: &[u8] = if matches!(how, Resume::Step(_)) {
                b"step"
            } else {
                b"continue"
            };
            let r = self.with_conn(|conn, _| conn.recv(slice, what));
            let reply = match r {
                Ok(p) => p,
                Err(BackendError::Remote(m)) if self.state != State::Dead => {
                    if Instant::now() >= deadline {
                        return Err(BackendError::Remote(format!(
                            "{m}; the program is still running (interrupt it)"
                        )));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let parsed = match stop::parse(&reply) {
                Ok(p) => p,
                Err(e) => {
                    // Something we cannot read while running: wait on, the next
                    // packet may be the stop.
                    self.notes.push(format!("ignored while running: {e}"));
                    continue;
                }
            };
            if let Some(ev) = self.classify(parsed, how, dir)? {
                return Ok(ev);
            }
        }
    }
}

fn reply_again(reply: &[u8]) -> Result<StopReply, BackendError> {
    stop::parse(reply).map_err(|e| BackendError::Remote(e.to_string()))
}
