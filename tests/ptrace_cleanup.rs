//! `emergency_cleanup` acts on every process this test binary traces, so its tests
//! live in their own binary, apart from `ptrace_backend`'s parallel tests.

#[path = "support/live.rs"]
mod live;

use coroner::backend::ptrace::PtraceProcess;
use coroner::backend::{Direction, Process, Resume, StopEvent, WatchKind};
use coroner::Addr;
use live::*;
use std::time::Duration;

fn cont(p: &mut PtraceProcess) -> StopEvent {
    p.resume(Resume::Continue, Direction::Forward)
        .expect("resume");
    p.wait().expect("wait")
}

/// Cleanup is process-wide: one test's `emergency_cleanup` would also release the
/// other test's process at an arbitrary point (CI once saw the attached program left
/// in group-stop that way), so the two never run at the same time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn emergency_cleanup_kills_launched() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    kills_launched();
}

// Once flaky (hung a full run): a clone child reaped before its parent's clone event
// came back as a ghost thread, a dying thread refused attach with EPERM, a trap from a
// removed breakpoint was taken for a signal, and detach left exiting threads traced.
// Each is fixed in the backend; 1,200 looped runs under load passed.
#[test]
fn emergency_cleanup_detaches_attached() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    detaches_attached();
}

fn kills_launched() {
    if !ptrace_ok("emergency_cleanup_kills_launched") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let (g, mut p) = launch(&exe, &[]);
    p.resume(Resume::Continue, Direction::Forward).unwrap();
    let pid = g.0;
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        coroner::backend::ptrace::emergency_cleanup();
    });
    let ev = p.wait();
    t.join().unwrap();
    assert!(
        matches!(
            ev,
            Ok(StopEvent::Killed {
                signo: libc::SIGKILL
            }) | Err(_)
        ),
        "{ev:?}"
    );
    drop(p);
    assert!(status_field(pid, "State").is_none());
}

/// Emergency cleanup on an attached process: the tracer thread, blocked in `wait`,
/// detaches; the program runs on with its original code.
fn detaches_attached() {
    if !ptrace_ok("emergency_cleanup_detaches_attached") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("threads", THREADS_C);
    let total = symbol(&exe, "total");
    let work = symbol(&exe, "work");
    let child = spawn(&exe, &["1000000"], &[]);
    let pid = child.0.id() as i32;
    let mut p = PtraceProcess::attach(pid as u32).unwrap();
    // A breakpoint the program never reaches while we wait (it is removed by cleanup
    // from the other thread), and a watchpoint that the tracer must clear.
    p.insert_breakpoint(Addr(work)).unwrap();
    assert!(matches!(cont(&mut p), StopEvent::Breakpoint { .. }));
    p.remove_breakpoint(Addr(work)).unwrap();
    p.set_watchpoint(0, Addr(total + 64), 8, WatchKind::Write)
        .unwrap();
    p.insert_breakpoint(Addr(symbol(&exe, "main"))).unwrap();
    p.resume(Resume::Continue, Direction::Forward).unwrap();
    let t = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(100));
        coroner::backend::ptrace::emergency_cleanup();
    });
    let ev = p.wait();
    assert!(ev.is_err(), "wait reports the cleanup, not {ev:?}");
    t.join().unwrap();
    assert_eq!(status_field(pid, "TracerPid").unwrap(), "0");
    let main = symbol(&exe, "main");
    assert_eq!(proc_mem(pid, main, 4), file_bytes_at(&exe, main, 4));
    std::thread::sleep(Duration::from_millis(100));
    let st = status_field(pid, "State").unwrap();
    assert!(st.starts_with('R') || st.starts_with('S'), "state {st}");
    drop(p);
}
