//! The ptrace backend on real processes: small C programs compiled at test time and the
//! Go 1.22 `scenarios` fixture binary. Every process a test starts is killed and reaped
//! by a guard however the test ends.

#[path = "support/live.rs"]
mod live;

use coroner::backend::ptrace::{LaunchOptions, PtraceProcess};
use coroner::backend::{BackendError, Direction, Process, Resume, StopEvent, WatchKind};
use coroner::snapshot::MemError;
use coroner::Addr;
use live::*;
use std::time::{Duration, Instant};

const SIGNALS_C: &str = r#"
#include <signal.h>
#include <string.h>
#include <stdlib.h>
volatile int got;
static void on(int s) { got++; }
int main(int argc, char **argv) {
    signal(SIGUSR1, on);
    signal(SIGURG, on);
    if (!strcmp(argv[1], "usr1")) { raise(SIGUSR1); return got == 1 ? 3 : 4; }
    if (!strcmp(argv[1], "urg")) { for (int i = 0; i < 5; i++) raise(SIGURG); return got; }
    if (!strcmp(argv[1], "segv")) { *(volatile int *)8 = 1; }
    return 0;
}
"#;

const WATCH_C: &str = r#"
#include <stdlib.h>
volatile long watched;
volatile long other;
__attribute__((noinline)) void poke(long i) { other = i; watched = i; }
__attribute__((noinline)) long peek(void) { return watched; }
int main(void) {
    for (long i = 1; i <= 5; i++) { poke(i); peek(); }
    return (int)watched;
}
"#;

fn cont(p: &mut PtraceProcess) -> StopEvent {
    p.resume(Resume::Continue, Direction::Forward)
        .expect("resume");
    p.wait().expect("wait")
}

#[test]
fn launch_stops_at_first_instruction_and_exits_with_status() {
    if !ptrace_ok("launch_stops_at_first_instruction_and_exits_with_status") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let (_g, mut p) = launch(&exe, &["10"]);
    let snap = p.snapshot().unwrap();
    let t = &snap.threads()[0];
    assert_eq!(t.tid, p.pid());
    // Non-PIE, dynamically linked: the first instruction is the dynamic loader's entry.
    let at_base = snap.auxv_value(7).unwrap(); // AT_BASE
    let at_entry = snap.auxv_value(9).unwrap(); // AT_ENTRY
    assert!(
        t.regs.rip == at_entry || (at_base != 0 && t.regs.rip >= at_base),
        "rip {:#x}",
        t.regs.rip
    );
    assert_eq!(snap.describe(), format!("process {}", p.pid()));
    assert_eq!(snap.process().unwrap().name, "loop");
    assert!(snap.mapped_files().iter().any(|m| m.path == exe));
    assert!(!snap.regions().is_empty());
    assert!(snap.signal().is_none());
    assert_eq!(cont(&mut p), StopEvent::Exited { status: 7 });
    assert!(matches!(p.snapshot(), Err(BackendError::Exited)));
}

/// The backend writes debug registers at this offset into `struct user`.
#[test]
fn debugreg_offset_matches_the_c_headers() {
    let progs = Programs::new();
    let exe = progs.compile(
        "offset",
        "#include <stddef.h>\n#include <sys/user.h>\nint main(void) { return offsetof(struct user, u_debugreg) / 8; }\n",
    );
    let st = std::process::Command::new(&exe).status().unwrap();
    assert_eq!(st.code(), Some(848 / 8));
}

#[test]
fn launch_errors_are_one_line() {
    let e = PtraceProcess::launch(&LaunchOptions::new("/nonexistent/prog"))
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(msg.starts_with("cannot start /nonexistent/prog"), "{msg}");
    assert!(!msg.contains('\n'));
    let progs = Programs::new();
    let f = progs.dir.path().join("notexec");
    std::fs::write(&f, "hello").unwrap();
    let msg = PtraceProcess::launch(&LaunchOptions::new(&f))
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("not executable"), "{msg}");
}

#[test]
fn breakpoint_hits_with_pc_and_hidden_bytes_then_steps() {
    if !ptrace_ok("breakpoint_hits_with_pc_and_hidden_bytes_then_steps") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let hot = symbol(&exe, "hot");
    let original = file_bytes_at(&exe, hot, 4);
    let (_g, mut p) = launch(&exe, &["5"]);
    p.insert_breakpoint(Addr(hot)).unwrap();
    p.insert_breakpoint(Addr(hot)).unwrap(); // idempotent
    assert_eq!(p.breakpoints(), vec![Addr(hot)]);
    // The snapshot taken before insertion already hides it too.
    for i in 0..5u64 {
        let ev = cont(&mut p);
        let tid = p.pid();
        assert_eq!(ev, StopEvent::Breakpoint { tid, pc: Addr(hot) });
        let snap = p.snapshot().unwrap();
        assert_eq!(snap.threads()[0].regs.rip, hot);
        assert_eq!(snap.threads()[0].regs.rdi, i, "argument of hot()");
        let mut b = [0u8; 4];
        snap.read(Addr(hot), &mut b).unwrap();
        assert_eq!(b.to_vec(), original, "breakpoint byte is hidden");
        // In memory it really is an int3.
        assert_eq!(proc_mem(tid as i32, hot, 1), vec![0xCC]);
    }
    // Single step off the breakpoint: the PC moves, other state stays.
    let tid = p.pid();
    p.resume(Resume::Step(tid), Direction::Forward).unwrap();
    assert_eq!(p.wait().unwrap(), StopEvent::Stepped { tid });
    let rip = p.snapshot().unwrap().threads()[0].regs.rip;
    assert!(rip > hot && rip < hot + 16, "rip {rip:#x}");
    p.remove_breakpoint(Addr(hot)).unwrap();
    assert!(p.breakpoints().is_empty());
    assert_eq!(proc_mem(tid as i32, hot, 4), original);
    assert_eq!(cont(&mut p), StopEvent::Exited { status: 7 });
}

#[test]
fn stale_snapshot_reads_fail() {
    if !ptrace_ok("stale_snapshot_reads_fail") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let hot = symbol(&exe, "hot");
    let counter = symbol(&exe, "counter");
    let (_g, mut p) = launch(&exe, &["100"]);
    p.insert_breakpoint(Addr(hot)).unwrap();
    cont(&mut p);
    cont(&mut p);
    let old = p.snapshot().unwrap();
    let v1 = old.read_u64(Addr(counter)).unwrap();
    cont(&mut p);
    assert!(matches!(
        old.read_u64(Addr(counter)),
        Err(MemError::Stale(_))
    ));
    let new = p.snapshot().unwrap();
    assert!(new.read_u64(Addr(counter)).unwrap() >= v1);
    assert!(matches!(new.read_u64(Addr(8)), Err(MemError::Unmapped(_))));
    // Writes are visible through the current snapshot (its page cache is updated).
    p.write_memory(Addr(counter), &42u64.to_le_bytes()).unwrap();
    assert_eq!(new.read_u64(Addr(counter)).unwrap(), 42);
    p.kill().unwrap();
}

#[test]
fn write_memory_over_a_breakpoint_keeps_it() {
    if !ptrace_ok("write_memory_over_a_breakpoint_keeps_it") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let hot = symbol(&exe, "hot");
    let (g, mut p) = launch(&exe, &["3"]);
    let orig = file_bytes_at(&exe, hot, 2);
    p.insert_breakpoint(Addr(hot)).unwrap();
    // Rewrite the same bytes (as a `set` of code would): the 0xCC stays inserted.
    p.write_memory(Addr(hot), &orig).unwrap();
    assert_eq!(proc_mem(g.0, hot, 1), vec![0xCC]);
    assert_eq!(
        p.snapshot().unwrap().read_bytes(Addr(hot), 2).unwrap(),
        orig
    );
    assert!(matches!(cont(&mut p), StopEvent::Breakpoint { .. }));
    p.kill().unwrap();
}

#[test]
fn watchpoints_fire_and_slots_run_out() {
    if !ptrace_ok("watchpoints_fire_and_slots_run_out") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("watch", WATCH_C);
    let watched = symbol(&exe, "watched");
    let (_g, mut p) = launch(&exe, &[]);
    assert!(
        p.set_watchpoint(0, Addr(watched + 1), 8, WatchKind::Write)
            .is_err(),
        "misaligned"
    );
    assert!(
        p.set_watchpoint(0, Addr(watched), 3, WatchKind::Write)
            .is_err(),
        "bad length"
    );
    p.set_watchpoint(0, Addr(watched), 8, WatchKind::Write)
        .unwrap();
    for i in 1..=2u64 {
        let ev = cont(&mut p);
        let tid = p.pid();
        assert_eq!(
            ev,
            StopEvent::Watchpoint {
                tid,
                slot: 0,
                addr: Addr(watched)
            }
        );
        assert_eq!(p.snapshot().unwrap().read_u64(Addr(watched)).unwrap(), i);
    }
    // Read-write (Read is served as read-write): peek() now stops too.
    p.clear_watchpoint(0).unwrap();
    p.set_watchpoint(1, Addr(watched), 8, WatchKind::Read)
        .unwrap();
    let mut hits = 0;
    loop {
        match cont(&mut p) {
            StopEvent::Watchpoint { slot: 1, .. } => hits += 1,
            StopEvent::Exited { status } => {
                assert_eq!(status, 5);
                break;
            }
            ev => panic!("unexpected {ev:?}"),
        }
    }
    // 3 writes + 3 reads in the loop for i = 3..=5, plus the final read in return.
    assert!(hits >= 6, "{hits} read-write hits");
    let progs2 = Programs::new();
    let exe2 = progs2.compile("watch", WATCH_C);
    let (_g2, mut p2) = launch(&exe2, &[]);
    for s in 0..4 {
        p2.set_watchpoint(s, Addr(watched + s as u64), 1, WatchKind::Write)
            .unwrap();
    }
    assert!(matches!(
        p2.set_watchpoint(4, Addr(watched), 8, WatchKind::Write),
        Err(BackendError::NoWatchSlot(4))
    ));
    p2.kill().unwrap();
}

#[test]
fn signals_are_reported_or_passed() {
    if !ptrace_ok("signals_are_reported_or_passed") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("signals", SIGNALS_C);
    // SIGUSR1: reported, then delivered on resume (the handler runs: exit 3).
    let (_g, mut p) = launch(&exe, &["usr1"]);
    let tid = p.pid();
    assert_eq!(
        cont(&mut p),
        StopEvent::Signal {
            tid,
            signo: libc::SIGUSR1
        }
    );
    let s = p.snapshot().unwrap();
    assert_eq!(s.signal().unwrap().signo, libc::SIGUSR1);
    assert_eq!(s.signal().unwrap().sender_pid, Some(tid as i32));
    assert_eq!(cont(&mut p), StopEvent::Exited { status: 3 });
    // Discarded: the handler never runs (exit 4).
    let (_g, mut p) = launch(&exe, &["usr1"]);
    let tid = p.pid();
    assert_eq!(
        cont(&mut p),
        StopEvent::Signal {
            tid,
            signo: libc::SIGUSR1
        }
    );
    p.discard_signal(tid);
    assert_eq!(cont(&mut p), StopEvent::Exited { status: 4 });
    // SIGURG: never reported, always delivered (5 handler runs).
    let (_g, mut p) = launch(&exe, &["urg"]);
    assert_eq!(cont(&mut p), StopEvent::Exited { status: 5 });
    // SIGSEGV: reported with the fault address; delivering it kills the program.
    let (_g, mut p) = launch(&exe, &["segv"]);
    let tid = p.pid();
    assert_eq!(
        cont(&mut p),
        StopEvent::Signal {
            tid,
            signo: libc::SIGSEGV
        }
    );
    assert_eq!(
        p.snapshot().unwrap().signal().unwrap().fault_addr,
        Some(Addr(8))
    );
    assert_eq!(
        cont(&mut p),
        StopEvent::Killed {
            signo: libc::SIGSEGV
        }
    );
}

#[test]
fn thread_churn_with_breakpoint_and_watchpoint() {
    if !ptrace_ok("thread_churn_with_breakpoint_and_watchpoint") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("threads", THREADS_C);
    let work = symbol(&exe, "work");
    let total = symbol(&exe, "total");
    let (_g, mut p) = launch(&exe, &["30"]);
    p.insert_breakpoint(Addr(work)).unwrap();
    let mut tids = std::collections::BTreeSet::new();
    for _ in 0..200 {
        match cont(&mut p) {
            StopEvent::Breakpoint { tid, pc } => {
                assert_eq!(pc, Addr(work));
                tids.insert(tid);
                let snap = p.snapshot().unwrap();
                let t = snap.threads().iter().find(|t| t.tid == tid).unwrap();
                assert_eq!(t.regs.rip, work);
                assert!(t.regs.fs_base != 0, "fs_base is read");
            }
            ev => panic!("unexpected {ev:?}"),
        }
    }
    assert!(tids.len() > 4, "hits on several threads: {tids:?}");
    p.remove_breakpoint(Addr(work)).unwrap();
    // New threads inherit the watchpoint.
    p.set_watchpoint(0, Addr(total), 8, WatchKind::Write)
        .unwrap();
    let main_tid = p.pid();
    let mut watch_tids = std::collections::BTreeSet::new();
    for _ in 0..50 {
        match cont(&mut p) {
            StopEvent::Watchpoint { tid, .. } => {
                watch_tids.insert(tid);
            }
            ev => panic!("unexpected {ev:?}"),
        }
    }
    assert!(!watch_tids.contains(&main_tid));
    p.clear_watchpoint(0).unwrap();
    assert_eq!(cont(&mut p), StopEvent::Exited { status: 0 });
}

#[test]
fn interrupt_while_running() {
    if !ptrace_ok("interrupt_while_running") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("threads", THREADS_C);
    let (_g, mut p) = launch(&exe, &["100000"]);
    for _ in 0..3 {
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        let intr = p.interrupter();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            intr.interrupt();
        });
        assert_eq!(p.wait().unwrap(), StopEvent::Interrupted);
        t.join().unwrap();
        // Everything is stopped: every thread is in a ptrace stop.
        for tid in p.thread_ids() {
            let st = status_field(tid as i32, "State").unwrap_or_default();
            assert!(st.starts_with('t'), "thread {tid} is {st}");
        }
        assert!(!p.snapshot().unwrap().threads().is_empty());
    }
    p.kill().unwrap();
}

/// Two interrupts at once (a Ctrl-C and a cleanup), then detach: neither SIGSTOP may
/// outlive the tracer, or the program sits in group-stop, untraced (CI saw it once).
#[test]
fn racing_interrupts_then_detach_leave_the_program_running() {
    if !ptrace_ok("racing_interrupts_then_detach_leave_the_program_running") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("threads", THREADS_C);
    let child = spawn(&exe, &["1000000"], &[]);
    let pid = child.0.id() as i32;
    for round in 0..25 {
        let mut p = PtraceProcess::attach(pid as u32).unwrap();
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        let go = std::sync::Arc::new(std::sync::Barrier::new(2));
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let intr = p.interrupter();
                let go = go.clone();
                std::thread::spawn(move || {
                    go.wait();
                    intr.interrupt();
                })
            })
            .collect();
        let ev = p.wait().unwrap();
        for s in senders {
            s.join().unwrap();
        }
        // One stop for both: the second send finds the first outstanding.
        assert_eq!(ev, StopEvent::Interrupted, "round {round}");
        p.detach().unwrap();
        drop(p);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(status_field(pid, "TracerPid").unwrap(), "0");
        let st = status_field(pid, "State").unwrap();
        assert!(
            st.starts_with('R') || st.starts_with('S'),
            "round {round}: state {st}"
        );
    }
}

#[test]
fn detach_leaves_process_running_with_original_code() {
    if !ptrace_ok("detach_leaves_process_running_with_original_code") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("threads", THREADS_C);
    let work = symbol(&exe, "work");
    let total = symbol(&exe, "total");
    let child = spawn(&exe, &["100000"], &[]);
    let pid = child.0.id() as i32;
    let mut p = PtraceProcess::attach(pid as u32).unwrap();
    // The tracer is the handle's own tracer thread, a thread of this process.
    let tracer = status_field(pid, "TracerPid").unwrap();
    assert!(
        tracer != "0" && std::path::Path::new(&format!("/proc/self/task/{tracer}")).exists(),
        "TracerPid {tracer} is not a thread of ours"
    );
    p.insert_breakpoint(Addr(work)).unwrap();
    p.set_watchpoint(0, Addr(total), 8, WatchKind::Write)
        .unwrap();
    assert!(matches!(
        cont(&mut p),
        StopEvent::Breakpoint { .. } | StopEvent::Watchpoint { .. }
    ));
    p.resume(Resume::Continue, Direction::Forward).unwrap();
    // Detach from a running process: it is stopped, cleaned and released.
    p.detach().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(status_field(pid, "TracerPid").unwrap(), "0");
    let st = status_field(pid, "State").unwrap();
    assert!(st.starts_with('R') || st.starts_with('S'), "state {st}");
    assert_eq!(proc_mem(pid, work, 8), file_bytes_at(&exe, work, 8));
    // Still alive a while later (no stray int3 or watchpoint trap killed it).
    std::thread::sleep(Duration::from_millis(200));
    let st = status_field(pid, "State").unwrap();
    assert!(st.starts_with('R') || st.starts_with('S'), "state {st}");
    drop(p);
}

#[test]
fn drop_kills_launched_and_detaches_attached() {
    if !ptrace_ok("drop_kills_launched_and_detaches_attached") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let hot = symbol(&exe, "hot");
    let (g, mut p) = launch(&exe, &[]);
    p.insert_breakpoint(Addr(hot)).unwrap();
    cont(&mut p);
    assert!(coroner::backend::ptrace::registered_pids().contains(&g.0));
    drop(p);
    assert!(
        status_field(g.0, "State").is_none(),
        "launched process is gone"
    );
    assert!(!coroner::backend::ptrace::registered_pids().contains(&g.0));

    let child = spawn(&exe, &[], &[]);
    let pid = child.0.id() as i32;
    let mut p = PtraceProcess::attach(pid as u32).unwrap();
    p.insert_breakpoint(Addr(hot)).unwrap();
    cont(&mut p);
    drop(p);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(status_field(pid, "TracerPid").unwrap(), "0");
    assert_eq!(proc_mem(pid, hot, 4), file_bytes_at(&exe, hot, 4));
    let st = status_field(pid, "State").unwrap();
    assert!(st.starts_with('R') || st.starts_with('S'), "state {st}");
}

#[test]
fn attach_errors_name_the_cause() {
    if !ptrace_ok("attach_errors_name_the_cause") {
        return;
    }
    let msg = PtraceProcess::attach(999_999_999)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("no such process"), "{msg}");
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let child = spawn(&exe, &[], &[]);
    let pid = child.0.id();
    // A second tracer on another thread: the first one holds the process.
    let first = std::thread::spawn(move || {
        let p = PtraceProcess::attach(pid).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let msg = std::thread::spawn(move || {
            let r = PtraceProcess::attach(pid).err().unwrap().to_string();
            tx.send(()).unwrap();
            r
        })
        .join()
        .unwrap();
        rx.recv().unwrap();
        drop(p);
        msg
    })
    .join()
    .unwrap();
    assert!(first.contains("already traced by process"), "{first}");
    assert!(first.contains(&std::process::id().to_string()), "{first}");
    assert!(!first.contains('\n'));
}

/// Go: attach to `scenarios service_wait` (many goroutines, one spinning), read memory
/// and registers, break in the spinner's loop, detach, and check it runs on untraced.
#[test]
fn go_service_attach_break_detach() {
    if !ptrace_ok("go_service_attach_break_detach") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = go_scenarios(dir.path());
    let mut child = spawn(&exe, &["service_wait"], &[("GOMAXPROCS", "2")]);
    let pid = child.0.id() as i32;
    {
        use std::io::BufRead;
        let out = child.0.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        assert!(line.starts_with("ready "), "{line}");
    }
    let (spin, spin_len) = symbol_range(
        &exe,
        "example.com/scenarios/internal/service.(*Service).spinner",
    );
    let mut p = PtraceProcess::attach(pid as u32).unwrap();
    assert!(p.thread_ids().len() >= 3, "Go runs several threads");
    // Find the spinning thread's PC (interrupt until it is inside the spinner).
    let deadline = Instant::now() + Duration::from_secs(10);
    let pc = loop {
        let snap = p.snapshot().unwrap();
        for t in snap.threads() {
            assert!(
                t.regs.fs_base != 0,
                "thread {} has fs_base (Go's TLS)",
                t.tid
            );
        }
        let runtime_g = snap.threads()[0].regs.fs_base;
        let mut b = [0u8; 8];
        snap.read(Addr(runtime_g - 8), &mut b).unwrap(); // g lives at -8(FS)
        if let Some(t) = snap
            .threads()
            .iter()
            .find(|t| (spin..spin + spin_len).contains(&t.regs.rip))
        {
            break t.regs.rip;
        }
        assert!(Instant::now() < deadline, "spinner never seen on a thread");
        let intr = p.interrupter();
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            intr.interrupt();
        });
        assert_eq!(p.wait().unwrap(), StopEvent::Interrupted);
    };
    let original = proc_mem(pid, pc, 1);
    p.insert_breakpoint(Addr(pc)).unwrap();
    for _ in 0..20 {
        match cont(&mut p) {
            StopEvent::Breakpoint { pc: hit, tid } => {
                assert_eq!(hit, Addr(pc));
                let snap = p.snapshot().unwrap();
                let t = snap.threads().iter().find(|t| t.tid == tid).unwrap();
                assert_eq!(t.regs.rip, pc);
                assert_eq!(snap.read_bytes(Addr(pc), 1).unwrap(), original);
            }
            ev => panic!("unexpected {ev:?} (SIGURG must never be reported)"),
        }
    }
    p.remove_breakpoint(Addr(pc)).unwrap();
    p.detach().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(status_field(pid, "TracerPid").unwrap(), "0");
    let st = status_field(pid, "State").unwrap();
    assert!(st.starts_with('R') || st.starts_with('S'), "state {st}");
    assert_eq!(proc_mem(pid, pc, 1), original);
    let text = file_bytes_at(&exe, spin, spin_len as usize);
    assert_eq!(proc_mem(pid, spin, spin_len as usize), text);
    // Keeps running: CPU time still grows.
    let utime = || -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let rest = &s[s.rfind(')').unwrap() + 2..];
        rest.split(' ').nth(11).unwrap().parse().unwrap()
    };
    let before = utime();
    std::thread::sleep(Duration::from_millis(300));
    assert!(utime() > before, "the spinner runs on untraced");
    drop(child);
}

fn rate(exe: &std::path::Path, bp: u64, read_at: u64, p: &mut PtraceProcess, secs: f64) -> f64 {
    let _ = exe;
    p.insert_breakpoint(Addr(bp)).unwrap();
    let start = Instant::now();
    let mut hits = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        match cont(p) {
            StopEvent::Breakpoint { .. } => {
                // What a condition costs the engine: a snapshot and a memory read.
                let s = p.snapshot().unwrap();
                let _ = s.read_u64(Addr(read_at)).unwrap();
                hits += 1;
            }
            ev => panic!("unexpected {ev:?}"),
        }
    }
    hits as f64 / start.elapsed().as_secs_f64()
}

/// `cargo test -p coroner --test ptrace_backend -- --ignored --nocapture bench`
#[test]
#[ignore]
fn bench_breakpoint_hits_per_second() {
    if !ptrace_ok("bench_breakpoint_hits_per_second") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let (_g, mut p) = launch(&exe, &[]);
    let r = rate(
        &exe,
        symbol(&exe, "hot"),
        symbol(&exe, "counter"),
        &mut p,
        3.0,
    );
    eprintln!("C loop (1 thread): {r:.0} conditional-breakpoint hits/s");
    p.kill().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let go = go_scenarios(dir.path());
    let mut child = spawn(&go, &["service_wait"], &[("GOMAXPROCS", "2")]);
    {
        use std::io::BufRead;
        let out = child.0.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
    }
    let (spin, len) = symbol_range(
        &go,
        "example.com/scenarios/internal/service.(*Service).spinner",
    );
    let mut p = PtraceProcess::attach(child.0.id()).unwrap();
    let n = p.thread_ids().len();
    // Break on the spinner's loop: the first instruction after its prologue that a
    // thread is seen on is in the loop, so take the thread PC seen there.
    let mut pc = None;
    for _ in 0..500 {
        let s = p.snapshot().unwrap();
        pc = s
            .threads()
            .iter()
            .map(|t| t.regs.rip)
            .find(|r| (spin..spin + len).contains(r));
        if pc.is_some() {
            break;
        }
        let i = p.interrupter();
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            i.interrupt()
        });
        assert_eq!(p.wait().unwrap(), StopEvent::Interrupted);
    }
    let pc = pc.expect("spinner seen");
    let rsp = p.snapshot().unwrap().threads()[0].regs.rsp;
    let r = rate(&go, pc, rsp, &mut p, 3.0);
    eprintln!("Go spinner ({n} threads): {r:.0} conditional-breakpoint hits/s");
    p.remove_breakpoint(Addr(pc)).unwrap();
    p.detach().unwrap();
    drop(child);
}
