//! The safety net: a process-wide registry of traced processes, so that a front end
//! dying on SIGTERM, SIGHUP or a panic does not leave a program stopped, traced, or
//! with 0xCC bytes in its code.
//!
//! # How cleanup reaches the tracer thread
//!
//! ptrace requests are only accepted from the tracer thread, and that thread may be
//! blocked in `waitpid` or busy elsewhere. [`emergency_cleanup`] therefore does, from
//! whatever thread calls it:
//!
//! 1. For a *launched* process: `kill(SIGKILL)`. Nothing else matters for it.
//! 2. For an *attached* process: restore every breakpoint's original bytes through
//!    `/proc/PID/mem` (any thread of the tracer process may write it), then set the
//!    entry's `requested` flag and send the interrupt signal. The tracer thread, which
//!    checks the flag every time `wait` wakes up and on every `resume`, detaches
//!    properly (debug registers cleared, no thread left stopped) and marks the entry
//!    `done`. A tracer that is not waiting (the process is stopped) gets the same
//!    request queued as its next job (`Entry::wake`). `emergency_cleanup` waits up to
//!    one second for that.
//! 3. If the tracer never answers (it is wedged, or the caller is about to exit), the
//!    kernel detaches every tracee when the tracer thread exits; the code is already
//!    restored, so the program runs on. Armed watchpoints are the one leftover the
//!    kernel may keep until then.
//!
//! # Signal safety
//!
//! `emergency_cleanup` is **not** async-signal-safe: it takes locks, allocates and
//! sleeps. Call it from a normal thread: a dedicated signal-handling thread (e.g. one
//! that waits on SIGTERM/SIGHUP with `sigwait` or a self-pipe) or a panic hook. It never
//! blocks forever: the registry and breakpoint locks are taken with bounded retries, so
//! a panic hook running on the tracer thread while it holds a lock still completes.

use super::breakpoints::Shared;
use super::sys;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

/// State the interrupter shares with the tracer: at most one interrupt signal of ours
/// is on its way at any time. Standard signals do not queue, so two SIGSTOPs sent close
/// together may arrive as one or as two; counting them could not tell which. Instead a
/// send while one is outstanding sends nothing (that one will stop the process), and
/// the tracer consumes the outstanding one when a SIGSTOP reaches it.
pub struct InterruptState {
    pub pid: i32,
    inner: Mutex<Interrupts>,
}

struct Interrupts {
    /// A SIGSTOP of ours is queued and not seen by the tracer yet.
    outstanding: bool,
    /// Cleared once the process is gone or detached, so a reused pid is never signalled.
    alive: bool,
}

impl InterruptState {
    pub fn new(pid: i32) -> Self {
        InterruptState {
            pid,
            inner: Mutex::new(Interrupts {
                outstanding: false,
                alive: true,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Interrupts> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn send(&self) {
        let mut s = self.lock();
        if !s.alive || s.outstanding {
            return;
        }
        // SIGSTOP cannot be blocked or caught by the program, so it always produces a
        // signal-delivery stop, which the tracer suppresses (it is never delivered).
        if sys::kill(self.pid, libc::SIGSTOP).is_ok() {
            s.outstanding = true;
        }
    }

    /// The tracer saw a SIGSTOP: whether it was ours (it is consumed then).
    pub fn consume(&self) -> bool {
        std::mem::take(&mut self.lock().outstanding)
    }

    /// No interrupt is sent after this returns (none is in flight either). Returns
    /// whether one is still outstanding: the caller must discard it (SIGCONT) once the
    /// process is no longer traced, or it would stop the program.
    pub fn retire(&self) -> bool {
        let mut s = self.lock();
        s.alive = false;
        std::mem::take(&mut s.outstanding)
    }
}

pub struct Entry {
    pub pid: i32,
    pub launched: bool,
    pub bps: Shared,
    pub mem: Mutex<Option<Arc<File>>>,
    pub interrupt: Arc<InterruptState>,
    /// Set by `emergency_cleanup`; the tracer detaches at its next chance.
    pub requested: AtomicBool,
    /// Set by the tracer once it detached or killed the process.
    pub done: AtomicBool,
    /// Queues the cleanup on the tracer thread, for when it is idle (the process is
    /// stopped and the front end is busy elsewhere, e.g. reading the terminal): the
    /// interrupt signal only wakes a tracer that is waiting for the process.
    pub wake: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

static REGISTRY: Mutex<Vec<Arc<Entry>>> = Mutex::new(Vec::new());

fn lock_bounded<T>(m: &Mutex<T>, within: Duration) -> Option<MutexGuard<'_, T>> {
    let deadline = Instant::now() + within;
    loop {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

pub fn register(e: Arc<Entry>) {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner()).push(e);
}

pub fn unregister(e: &Arc<Entry>) {
    let mut r = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    r.retain(|x| !Arc::ptr_eq(x, e));
}

/// Kill every launched process and detach every attached one (see the module docs for
/// how, and for what is and is not async-signal-safe). Safe to call more than once.
pub fn emergency_cleanup() {
    let entries: Vec<Arc<Entry>> = match lock_bounded(&REGISTRY, Duration::from_millis(200)) {
        Some(r) => r.clone(),
        None => return,
    };
    let mut waiting = Vec::new();
    for e in entries {
        if e.done.load(Ordering::Acquire) {
            continue;
        }
        e.requested.store(true, Ordering::Release);
        if e.launched {
            let _ = sys::kill(e.pid, libc::SIGKILL);
            continue;
        }
        let mem = lock_bounded(&e.mem, Duration::from_millis(100)).and_then(|m| m.clone());
        if let (Some(mem), Some(mut t)) = (mem, lock_bounded(&e.bps, Duration::from_millis(200))) {
            let _ = t.remove_all(&mem);
        }
        e.interrupt.send();
        if let Some(w) = lock_bounded(&e.wake, Duration::from_millis(100)) {
            if let Some(wake) = w.as_ref() {
                wake();
            }
        }
        waiting.push(e);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline && waiting.iter().any(|e| !e.done.load(Ordering::Acquire)) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Pids currently registered (for tests and diagnostics).
pub fn registered_pids() -> Vec<i32> {
    REGISTRY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|e| e.pid)
        .collect()
}
