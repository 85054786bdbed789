//! What killed the process: the signal, the Go runtime's view of it, panics and fatal
//! errors, for the header printed on open, `triage` and the browser's first line.

use super::Target;
use crate::goruntime::Goroutine;
use crate::snapshot::Thread;

/// What killed the process, for the header printed on open.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CrashInfo {
    /// The real cause of death, as the Go runtime reported it before dumping core (with
    /// `GOTRACEBACK=crash` the kernel's signal is the runtime's own SIGABRT, see
    /// `final_signal`).
    pub cause: Cause,
    /// The signal that ended the process, as the core records it (NT_SIGINFO), e.g.
    /// "SIGABRT: abort"; `None` when nothing ended it (a core written from a running
    /// process, whose NT_SIGINFO only holds the dumper's stop signal).
    pub final_signal: Option<String>,
    /// The core's NT_SIGINFO as recorded (for a gcore: gdb's SIGSTOP), e.g. "SIGABRT: abort".
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

/// What the runtime said killed the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// Nothing recognisable: no Go signal handler frame, panic or fatal error.
    #[default]
    Unknown,
    /// A signal the Go runtime caught and found fatal (SIGQUIT, SIGSEGV in C or in the
    /// runtime, SIGBUS, SIGILL, SIGFPE, SIGTRAP, ...): its handler printed "SIGxxx: ...".
    Signal,
    /// An unrecovered panic ("panic: ...").
    Panic,
    /// A runtime fatal error ("fatal error: ...").
    Fatal,
    /// The core was written from a running process (gcore, `coroner dump`): nothing
    /// killed it.
    Running,
}

/// Who sent a signal with kill(2)/tgkill(2)/sigqueue(3) (siginfo si_pid/si_uid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sender {
    pub pid: i32,
    pub uid: u32,
    /// The process signalled itself (si_pid is its own pid).
    pub itself: bool,
}

/// The cause of death: what the runtime printed first, rebuilt from the core.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Cause {
    pub kind: CauseKind,
    /// The lines the runtime printed before the first goroutine header, e.g.
    /// `["SIGQUIT: quit", "PC=0x46bba1 m=0 sigcode=0"]` or
    /// `["panic: boom", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4b57b9]"]`.
    /// Empty for `Unknown`; one descriptive line for `Running`.
    pub lines: Vec<String>,
    /// The caught signal (kind `Signal`, or the signal behind a panic/fatal error), 0 if none.
    pub signo: i32,
    /// Its si_code.
    pub code: i32,
    /// Interrupted PC (ucontext rip) of a caught signal, or g.sigpc behind a panic.
    pub pc: Option<u64>,
    /// Fault address (si_addr) for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
    pub addr: Option<u64>,
    /// Id of the M that handled the signal.
    pub m: Option<i64>,
    /// The signal arrived while the thread ran C code (cgo).
    pub in_cgo: bool,
    /// Sender of a signal sent by a process (si_code <= 0).
    pub sender: Option<Sender>,
}

impl Cause {
    /// One line: the runtime's first line ("SIGQUIT: quit", "panic: ...").
    pub fn summary(&self) -> &str {
        self.lines.first().map(String::as_str).unwrap_or("unknown")
    }
    /// Who sent the signal, for the header: "sent by pid 123 (this process), uid 0".
    pub fn sender_text(&self) -> Option<String> {
        let s = self.sender?;
        let who = if s.itself {
            " (the process itself)"
        } else {
            ""
        };
        Some(format!("sent by pid {}{who}, uid {}", s.pid, s.uid))
    }
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
        let mut thread = self.crashing_thread();
        if c.signal.is_none() {
            if let Some(t) = thread.filter(|t| t.signal != 0) {
                c.signo = t.signal;
                c.signal = Some(signal_name(t.signal));
            }
        }
        // The kernel writes a core only for a signal whose default action dumps core;
        // anything else (gdb's SIGSTOP, no signal at all) means a dumper wrote the core
        // from a live process, and nothing killed it.
        let running = !dumps_core(c.signo);
        if !running {
            c.final_signal = c.signal.clone();
        }
        // A signal the runtime's handler caught and found fatal: the thread that
        // printed it is the one to show, even if another M raised the final SIGABRT.
        let caught = if running { None } else { self.caught_signal() };
        if let Some(k) = &caught {
            thread = self.threads().iter().find(|t| t.tid == k.tid).or(thread);
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
        let sig_line = g.filter(|g| g.sig != 0).map(|g| {
            (
                g,
                format!(
                    "{} code={:#x} addr={:#x} pc={:#x}",
                    signal_name(g.sig as i32),
                    g.sigcode0,
                    g.sigcode1,
                    g.sigpc.get()
                ),
            )
        });
        c.go_signal = sig_line.as_ref().map(|(_, l)| l.clone());
        if let Some(t) = thread {
            c.fatal = self.fatal_message(t);
        }
        c.cause = if running {
            Cause {
                kind: CauseKind::Running,
                lines: vec![self.running_dump_line()],
                ..Default::default()
            }
        } else if let Some(k) = caught {
            self.signal_cause(&k)
        } else {
            let mut cause = Cause::default();
            // printpanics: the oldest panic first, each later one after a tab.
            for (i, p) in c.panics.iter().rev().enumerate() {
                let tab = if i == 0 { "" } else { "\t" };
                cause.lines.push(format!("{tab}panic: {p}"));
            }
            if !cause.lines.is_empty() {
                cause.kind = CauseKind::Panic;
            }
            if let Some(f) = &c.fatal {
                cause.lines.push(format!("fatal error: {f}"));
                cause.kind = CauseKind::Fatal;
            }
            // dopanic_m prints the signal behind a panic or throw (g.sig) last.
            if let Some((sg, line)) = sig_line.filter(|_| cause.kind != CauseKind::Unknown) {
                cause.lines.push(format!("[signal {line}]"));
                cause.signo = sg.sig as i32;
                cause.code = sg.sigcode0 as i32;
                cause.addr = Some(sg.sigcode1);
                cause.pc = Some(sg.sigpc.get());
            }
            cause
        };
        c
    }

    /// The cause line of a snapshot written from a running process.
    fn running_dump_line(&self) -> String {
        match (self.snapshot.kind(), self.snapshot.process()) {
            ("core", _) => "none: the core was written from a running process (gcore or similar); nothing killed it".to_string(),
            (kind, Some(p)) if !p.name.is_empty() => format!(
                "none: {kind} of pid {} ({}) written on request from the running process; nothing killed it",
                p.pid, p.name
            ),
            (kind, Some(p)) => format!(
                "none: {kind} of pid {} written on request from the running process; nothing killed it",
                p.pid
            ),
            (kind, None) => format!(
                "none: the {kind} was written on request from the running process; nothing killed it"
            ),
        }
    }

    /// The fatal signal the Go handler caught, from the signal frame above the
    /// `runtime.sighandler` frame that called `crash()`/`exit()`: the kernel's
    /// rt_sigframe holds the siginfo and ucontext of that signal.
    ///
    /// With GOTRACEBACK=crash every M catches a SIGQUIT (each relays it to the next);
    /// the runtime printed the first one's report first. That M is the one that ran
    /// `startpanic_m` (only when nothing was crashing yet), which sets `m.dying`. Since
    /// Go 1.22 it is also the M that raises the final SIGABRT (golang/go#63277); before,
    /// the last M does.
    fn caught_signal(&self) -> Option<Caught> {
        let mut all: Vec<Caught> = self
            .threads()
            .iter()
            .filter_map(|t| self.thread_caught(t))
            .collect();
        let crashing = self.crashing_thread().map(|t| t.tid);
        let pick = all
            .iter()
            .position(|k| k.dying)
            .or_else(|| all.iter().position(|k| Some(k.tid) == crashing))
            .unwrap_or(0);
        (!all.is_empty()).then(|| all.swap_remove(pick))
    }

    /// Offset of `m.dying`: DWARF when present, else its place right after
    /// `id int64; mallocing int32; throwing uint32; preemptoff string; locks int32`,
    /// unchanged from Go 1.19 to 1.27 (checked against DWARF by tests/cause_of_death.rs).
    pub fn m_dying_offset(&self) -> u64 {
        self.dwarf()
            .and_then(|d| d.field_offset("runtime.m", "dying"))
            .unwrap_or(self.runtime.layouts.m.id + 36)
    }

    fn thread_caught(&self, t: &Thread) -> Option<Caught> {
        let st = self.thread_stack(t, 96);
        let frames = &st.frames;
        let h = frames
            .iter()
            .position(|f| f.function == "runtime.sighandler")?;
        let j = h
            + 1
            + frames[h + 1..]
                .iter()
                .position(|f| f.function == "runtime.sigtramp")?;
        // sigtramp's CFA is the ucontext of the kernel's rt_sigframe; the siginfo is
        // after it on amd64, before it (128 bytes) on arm64.
        let uc = frames[j].cfa;
        let (si, pc) = match t.arch() {
            crate::arch::Arch::Amd64 => {
                let regs = crate::unwind::walk::read_ucontext(self.memory(), uc)?;
                (uc.add(UCONTEXT_SIZE), regs.rip)
            }
            crate::arch::Arch::Arm64 => {
                let (start, _) = crate::unwind::arch::frame_arch(crate::arch::Arch::Arm64)
                    .read_ucontext(self.memory(), uc)?;
                (uc.sub(ARM64_SIGINFO_SIZE), start.pc.get())
            }
        };
        // The interrupted frame the unwinder continued with must be this ucontext's:
        // otherwise the CFA is not the signal frame and the siginfo would be garbage.
        if frames.get(j + 1).map(|f| f.pc.get()) != Some(pc) {
            return None;
        }
        let mem = self.memory();
        let signo = mem.read_u32(si).ok()? as i32;
        if !(1..=64).contains(&signo) {
            return None;
        }
        let code = mem.read_u32(si.add(8)).ok()? as i32;
        let union = mem.read_u64(si.add(16)).ok()?;
        let ctx = self.thread_context(t.tid);
        let m_id = ctx
            .filter(|c| !c.m.is_null())
            .and_then(|c| mem.read_u64(c.m.add(self.runtime.layouts.m.id)).ok())
            .map(|v| v as i64);
        let curg = ctx.map(|c| c.curg).unwrap_or_default();
        let dying = ctx
            .filter(|c| !c.m.is_null())
            .and_then(|c| mem.read_u32(c.m.add(self.m_dying_offset())).ok())
            .is_some_and(|d| d != 0);
        // fatalsignal's test is m.incgo && gp == m.g0: the thread was running C code
        // for a goroutine. m.incgo is not in the layout tables; C code is exactly what
        // lies outside the pclntab's functions, on a thread that has a curg.
        let in_go = self
            .pclntab()
            .func_for_pc(crate::addr::Addr(pc.wrapping_sub(self.bias())))
            .is_some();
        Some(Caught {
            tid: t.tid,
            signo,
            code,
            union,
            pc,
            m_id,
            in_cgo: !in_go && !curg.is_null(),
            dying,
        })
    }

    /// fatalsignal's lines for a caught signal.
    fn signal_cause(&self, k: &Caught) -> Cause {
        let mut lines = vec![signal_name(k.signo)];
        // c.sigcode() is uint64(si_code): negative codes print as huge numbers.
        let mut pc_line = format!(
            "PC={:#x} m={} sigcode={}",
            k.pc,
            k.m_id.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            k.code as i64 as u64
        );
        let fault = matches!(k.signo, 4 | 5 | 7 | 8 | 11) && k.code > 0;
        // Go 1.22 added the fault address for SIGSEGV/SIGBUS (golang/go#60894).
        if matches!(k.signo, 7 | 11) && self.runtime.version.at_least(22) {
            pc_line.push_str(&format!(" addr={:#x}", k.union));
        }
        lines.push(pc_line);
        if k.in_cgo {
            lines.push("signal arrived during cgo execution".into());
        }
        if matches!(k.signo, 4 | 8) {
            // The runtime dumps up to 16 bytes at the PC, never crossing a page.
            let n = (16u64).min(4096 - k.pc % 4096) as usize;
            if let Ok(b) = self.memory().read_bytes(crate::addr::Addr(k.pc), n) {
                let hex: Vec<String> = b.iter().map(|x| format!(" {x:#x}")).collect();
                lines.push(format!("instruction bytes:{}", hex.concat()));
            }
        }
        // si_code <= 0: sent by a process (SI_USER, SI_QUEUE, SI_TKILL): si_pid, si_uid.
        let sender = (k.code <= 0).then(|| {
            let pid = k.union as u32 as i32;
            Sender {
                pid,
                uid: (k.union >> 32) as u32,
                itself: self.snapshot.process().is_some_and(|p| p.pid == pid),
            }
        });
        Cause {
            kind: CauseKind::Signal,
            lines,
            signo: k.signo,
            code: k.code,
            pc: Some(k.pc),
            addr: fault.then_some(k.union),
            m: k.m_id,
            in_cgo: k.in_cgo,
            sender,
        }
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

/// Size of the kernel's `struct ucontext` on amd64 (flags, link, stack_t, sigcontext,
/// sigset): the siginfo follows it in the rt_sigframe.
const UCONTEXT_SIZE: u64 = 8 + 8 + 24 + 256 + 8;
/// Size of the siginfo that starts the arm64 `struct rt_sigframe`.
const ARM64_SIGINFO_SIZE: u64 = 128;

/// A signal caught by the Go handler, read from its signal frame.
struct Caught {
    tid: u32,
    signo: i32,
    code: i32,
    /// The siginfo union's first word: si_addr, or si_pid | si_uid << 32.
    union: u64,
    pc: u64,
    m_id: Option<i64>,
    in_cgo: bool,
    /// The M ran startpanic_m: it caught the first fatal signal.
    dying: bool,
}

/// Signals whose default action writes a core (signal(7)): the only ones a kernel core
/// can record.
fn dumps_core(signo: i32) -> bool {
    matches!(signo, 3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31)
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
