//! What killed the process: the signal, the Go runtime's view of it, panics and fatal
//! errors, for the header printed on open, `triage` and the browser's first line.

use super::Target;
use crate::goruntime::Goroutine;
use crate::snapshot::Thread;

/// What killed the process, for the header printed on open.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CrashInfo {
    /// The signal that ended the process, e.g. "SIGABRT: abort".
    pub signal: Option<String>,
    pub signo: i32,
    pub code: i32,
    pub fault_addr: Option<u64>,
    /// The signal the Go runtime caught before deciding to crash (g.sig of the
    /// crashing goroutine), as the runtime prints it:
    /// "SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47db1c".
    pub go_signal: Option<String>,
    /// Tid of the thread that took the fatal signal.
    pub thread: Option<u32>,
    /// Goroutine running on that thread (its M's curg).
    pub goroutine: Option<u64>,
    /// Panic values, innermost (latest) first, decoded to text; recovered ones marked.
    pub panics: Vec<String>,
    /// Message of a runtime fatal error (runtime.throw / runtime.fatal), when found.
    pub fatal: Option<String>,
    pub go_version: Option<String>,
    pub goos: String,
    pub goarch: String,
}

impl Target {
    pub(super) fn compute_crash(&self) -> CrashInfo {
        let mut c = CrashInfo {
            go_version: Some(self.runtime.version.raw.clone()),
            goos: self
                .buildinfo()
                .as_ref()
                .and_then(|b| b.setting("GOOS"))
                .unwrap_or("linux")
                .to_string(),
            goarch: self
                .buildinfo()
                .as_ref()
                .and_then(|b| b.setting("GOARCH"))
                .unwrap_or("amd64")
                .to_string(),
            ..Default::default()
        };
        if let Some(si) = self.snapshot.signal() {
            c.signo = si.signo;
            c.code = si.code;
            c.fault_addr = si.fault_addr.map(|a| a.get());
            c.signal = Some(signal_name(si.signo));
        }
        let thread = self.crashing_thread();
        if c.signal.is_none() {
            if let Some(t) = thread.filter(|t| t.signal != 0) {
                c.signo = t.signal;
                c.signal = Some(signal_name(t.signal));
            }
        }
        c.thread = thread.map(|t| t.tid);
        let g = thread.and_then(|t| self.thread_goroutine(t.tid));
        c.goroutine = g.map(|g| g.goid);
        // The goroutine that panicked: the crashing one, else any with a _panic.
        let panicking = g
            .filter(|g| !g.panic.is_null())
            .or_else(|| self.goroutines().iter().find(|g| !g.panic.is_null()));
        if let Some(pg) = panicking {
            c.panics = self.panic_chain(pg);
        }
        if let Some(g) = g.filter(|g| g.sig != 0) {
            c.go_signal = Some(format!(
                "{} code={:#x} addr={:#x} pc={:#x}",
                signal_name(g.sig as i32),
                g.sigcode0,
                g.sigcode1,
                g.sigpc.get()
            ));
        }
        if let Some(t) = thread {
            c.fatal = self.fatal_message(t);
        }
        c
    }

    /// Decode g._panic's chain.
    pub fn panic_chain(&self, g: &Goroutine) -> Vec<String> {
        let pl = &self.runtime.layouts.panic;
        let tr = self.type_reader();
        let mem = self.memory();
        let mut out = Vec::new();
        let mut p = g.panic;
        while !p.is_null() && out.len() < 64 {
            let typ = mem.read_ptr(p.add(pl.arg)).unwrap_or_default();
            let data = mem.read_ptr(p.add(pl.arg + 8)).unwrap_or_default();
            let mut text = tr.describe_eface(typ, data);
            if mem.read_u8(p.add(pl.recovered)).unwrap_or(0) != 0 {
                text.push_str(" [recovered]");
            }
            out.push(text);
            p = mem.read_ptr(p.add(pl.link)).unwrap_or_default();
        }
        out
    }

    /// The message passed to runtime.throw/runtime.fatal, recovered from the closure
    /// that prints it (it captures the string in throw's frame).
    fn fatal_message(&self, t: &Thread) -> Option<String> {
        let st = self.thread_stack(t, 64);
        let mem = self.memory();
        for f in &st.frames {
            if f.inlined || !matches!(f.function.as_str(), "runtime.throw" | "runtime.fatal") {
                continue;
            }
            let lo = f.sp;
            let hi = if f.cfa.is_null() {
                f.sp.add(256)
            } else {
                f.cfa
            };
            let mut a = lo;
            while a < hi {
                if let (Ok(p), Ok(n)) = (mem.read_ptr(a), mem.read_u64(a.add(8))) {
                    if (4..=1024).contains(&n) && !p.is_null() {
                        if let Ok(b) = mem.read_bytes(p, n as usize) {
                            if let Ok(s) = std::str::from_utf8(&b) {
                                if s.chars().all(|c| !c.is_control())
                                    && s.chars().any(|c| c.is_alphabetic())
                                {
                                    return Some(s.to_string());
                                }
                            }
                        }
                    }
                }
                a = a.add(8);
            }
        }
        None
    }
}

/// Signal names as the Go runtime prints them (runtime/sigtab_linux_generic.go).
pub fn signal_name(signo: i32) -> String {
    let s = match signo {
        1 => "SIGHUP: terminal line hangup",
        2 => "SIGINT: interrupt",
        3 => "SIGQUIT: quit",
        4 => "SIGILL: illegal instruction",
        5 => "SIGTRAP: trace trap",
        6 => "SIGABRT: abort",
        7 => "SIGBUS: bus error",
        8 => "SIGFPE: floating-point exception",
        9 => "SIGKILL: kill",
        10 => "SIGUSR1: user-defined signal 1",
        11 => "SIGSEGV: segmentation violation",
        12 => "SIGUSR2: user-defined signal 2",
        13 => "SIGPIPE: write to broken pipe",
        14 => "SIGALRM: alarm clock",
        15 => "SIGTERM: termination",
        16 => "SIGSTKFLT: stack fault",
        17 => "SIGCHLD: child status has changed",
        18 => "SIGCONT: continue",
        19 => "SIGSTOP: stop, unblockable",
        20 => "SIGTSTP: keyboard stop",
        21 => "SIGTTIN: background read from tty",
        22 => "SIGTTOU: background write to tty",
        23 => "SIGURG: urgent condition on socket",
        24 => "SIGXCPU: cpu limit exceeded",
        25 => "SIGXFSZ: file size limit exceeded",
        26 => "SIGVTALRM: virtual alarm clock",
        27 => "SIGPROF: profiling alarm clock",
        28 => "SIGWINCH: window size change",
        29 => "SIGIO: i/o now possible",
        30 => "SIGPWR: power failure restart",
        31 => "SIGSYS: bad system call",
        n => return format!("signal {n}"),
    };
    s.to_string()
}
