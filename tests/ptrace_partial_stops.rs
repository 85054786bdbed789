//! Partial stops and displaced stepping on real processes (the conditional-breakpoint
//! fast path): a hit reported by `wait_lazy` leaves the other threads running, the
//! 0xCC stays in the code for them, and stepping over it out of line executes the
//! instruction exactly as in place (calls, RIP-relative operands, short branches).
//! The programs check their own results and say so in their exit status.

#[path = "support/live.rs"]
mod live;

use coroner::backend::ptrace::PtraceProcess;
use coroner::backend::{Direction, Process, Resume, StopEvent};
use coroner::Addr;
use live::*;
use std::time::Duration;

/// Four threads call each of the asm functions below 1,000 times; main checks every
/// side effect and exits 0 only if all are right.
const DISPLACE_C: &str = r#"
#include <pthread.h>
#include <stdlib.h>
volatile long total, calls, jumps, branches;
void f_call(long), f_rip(long), f_jmp(long), f_jcc(long);
__attribute__((noinline, used)) void g_inc(void) { __sync_fetch_and_add(&calls, 1); }
/* First instruction a direct call: the pushed return address must be fixed up. */
__asm__(".globl f_call\nf_call:\n call g_inc\n ret\n");
/* First instruction RIP-relative (and locked). */
__asm__(".globl f_rip\nf_rip:\n lock addq %rdi, total(%rip)\n ret\n");
/* First instruction a short jmp over a ud2. */
__asm__(".globl f_jmp\nf_jmp:\n jmp 1f\n ud2\n1: lock incq jumps(%rip)\n ret\n");
/* A short jcc (taken for odd i) as the breakpointed instruction at f_jcc_jz. */
__asm__(".globl f_jcc\nf_jcc:\n test $1, %dil\n.globl f_jcc_jz\nf_jcc_jz:\n jz 2f\n"
        " lock incq branches(%rip)\n2: ret\n");
#define N 1000
static void *worker(void *arg) {
    for (long i = 0; i < N; i++) { f_call(i); f_rip(i); f_jmp(i); f_jcc(i); }
    return 0;
}
int main(void) {
    pthread_t t[4];
    for (int k = 0; k < 4; k++) pthread_create(&t[k], 0, worker, 0);
    for (int k = 0; k < 4; k++) pthread_join(t[k], 0);
    long want_total = 4L * (N * (N - 1) / 2);
    if (calls != 4L * N) return 1;
    if (total != want_total) return 2;
    if (jumps != 4L * N) return 3;
    if (branches != 4L * N / 2) return 4;
    return 0;
}
"#;

fn thread_states(pid: i32) -> Vec<(i32, char)> {
    let mut v = Vec::new();
    for tid in std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let Ok(tid) = tid.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Some(st) = status_field(tid, "State").and_then(|s| s.chars().next()) {
            v.push((tid, st));
        }
    }
    v
}

/// The anonymous executable mappings of a process (where jump pads live).
fn anon_exec_maps(pid: i32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 5 && f[1].contains('x')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn displaced_steps_run_calls_rip_relative_and_branches_as_in_place() {
    if !ptrace_ok("displaced_steps_run_calls_rip_relative_and_branches_as_in_place") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("displace", DISPLACE_C);
    let sites: Vec<u64> = ["f_call", "f_rip", "f_jmp", "f_jcc_jz"]
        .iter()
        .map(|s| symbol(&exe, s))
        .collect();
    let (guard, mut p) = launch(&exe, &[]);
    let pid = guard.0;
    for &a in &sites {
        p.insert_breakpoint(Addr(a)).unwrap();
    }
    let originals: Vec<u8> = sites
        .iter()
        .map(|&a| file_bytes_at(&exe, a, 1)[0])
        .collect();
    let mut hits = std::collections::BTreeMap::<u64, u32>::new();
    let mut partial_hits = 0;
    let mut others_seen_running = false;
    let mut hit_tids = std::collections::BTreeSet::new();
    let status = loop {
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        match p.wait_lazy().unwrap() {
            (StopEvent::Breakpoint { tid, pc }, partial) => {
                assert!(sites.contains(&pc.0), "hit at a breakpoint: {pc}");
                *hits.entry(pc.0).or_default() += 1;
                hit_tids.insert(tid);
                if partial {
                    partial_hits += 1;
                    // The code keeps every 0xCC for the threads still running.
                    for &a in &sites {
                        assert_eq!(proc_mem(pid, a, 1), [0xCC], "breakpoint at {a:#x} stays");
                    }
                    // Reads hide them.
                    let snap = p.snapshot().unwrap();
                    assert_eq!(
                        snap.threads().len(),
                        1,
                        "a partial snapshot holds one thread"
                    );
                    assert_eq!(snap.threads()[0].tid, tid);
                    for (i, &a) in sites.iter().enumerate() {
                        assert_eq!(snap.read_bytes(Addr(a), 1).unwrap(), [originals[i]]);
                    }
                    if partial_hits % 50 == 0
                        && thread_states(pid)
                            .iter()
                            .any(|&(t, st)| t != tid as i32 && st != 't')
                    {
                        others_seen_running = true;
                    }
                }
            }
            (StopEvent::Exited { status }, _) => break status,
            (ev, _) => panic!("unexpected {ev:?}"),
        }
    };
    assert_eq!(
        status, 0,
        "the program's own checks (1 calls, 2 total, 3 jumps, 4 branches)"
    );
    for &a in &sites {
        assert_eq!(
            hits.get(&a),
            Some(&4000),
            "every call of {a:#x} hit once: {hits:?}"
        );
    }
    assert!(
        hit_tids.len() >= 4,
        "hits on the worker threads: {hit_tids:?}"
    );
    assert_eq!(partial_hits, 16_000, "every hit was a partial stop");
    assert!(
        others_seen_running,
        "other threads ran during partial stops"
    );
}

#[test]
fn partial_stops_then_full_stop_and_detach_restore_the_code() {
    if !ptrace_ok("partial_stops_then_full_stop_and_detach_restore_the_code") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("loop", LOOP_C);
    let hot = symbol(&exe, "hot");
    let counter = symbol(&exe, "counter");
    let mut child = spawn(&exe, &[], &[]);
    let pid = child.0.id() as i32;
    std::thread::sleep(Duration::from_millis(50));
    let entry = {
        // AT_ENTRY (9) from the process's auxv: the displaced-stepping area.
        let a = std::fs::read(format!("/proc/{pid}/auxv")).unwrap();
        a.chunks_exact(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().unwrap()),
                    u64::from_le_bytes(c[8..].try_into().unwrap()),
                )
            })
            .find(|&(k, _)| k == 9)
            .map(|(_, v)| v)
            .unwrap()
    };
    let entry_code = proc_mem(pid, entry, 24);
    let maps_before = anon_exec_maps(pid);
    let mut p = PtraceProcess::attach(pid as u32).unwrap();
    p.insert_breakpoint(Addr(hot)).unwrap();
    for _ in 0..300 {
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        let (ev, partial) = p.wait_lazy().unwrap();
        assert!(matches!(ev, StopEvent::Breakpoint { .. }), "{ev:?}");
        assert!(partial);
    }
    // Snapshots hide the scratch instruction while it is in place.
    assert_ne!(
        proc_mem(pid, entry, 24),
        entry_code,
        "the scratch area is in use"
    );
    assert_eq!(
        p.snapshot().unwrap().read_bytes(Addr(entry), 24).unwrap(),
        entry_code
    );
    // The jump pads: one anonymous executable mapping more, while attached.
    let maps_during = anon_exec_maps(pid);
    assert_eq!(
        maps_during.len(),
        maps_before.len() + 1,
        "a pad area while attached: {maps_during:?} vs {maps_before:?}"
    );
    // A full stop from a partial one: every thread is stopped and listed.
    assert_eq!(p.stop_others().unwrap(), None);
    assert_eq!(stopped_among(&[pid]), vec![pid]);
    let snap = p.snapshot().unwrap();
    let mut b = [0u8; 8];
    snap.read(Addr(counter), &mut b).unwrap();
    assert!(u64::from_le_bytes(b) > 0);
    p.detach().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(status_field(pid, "TracerPid").unwrap(), "0");
    assert_eq!(proc_mem(pid, hot, 1), file_bytes_at(&exe, hot, 1));
    assert_eq!(
        proc_mem(pid, entry, 24),
        entry_code,
        "detach restores the scratch area"
    );
    // The pad area stays mapped after detach, by design (docs/architecture.md): a
    // thread stopped in a signal handler may have been interrupted inside a pad and
    // returns there after detach. Nothing jumps into it any more (the code is restored).
    assert_eq!(
        anon_exec_maps(pid),
        maps_during,
        "detach keeps the pad area mapped, unused"
    );
    let st = status_field(pid, "State").unwrap();
    assert!(st.starts_with('R') || st.starts_with('S'), "state {st}");
    let _ = child.0.kill();
    let _ = child.0.wait();
}

/// A breakpoint on an instruction that faults: the program's SIGSEGV handler must see
/// the fault at the instruction's own address (never in a jump pad or the scratch
/// area), every time, and the program must go on.
const FAULT_C: &str = r#"
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
void f_fault(long *);
/* First instruction a load through the argument: faults for NULL. */
__asm__(".globl f_fault\nf_fault:\n movq (%rdi), %rax\n ret\n");
static sigjmp_buf env;
static volatile long right, wrong;
static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)si;
    unsigned long rip = ((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
    if (rip == (unsigned long)f_fault) right++; else wrong++;
    siglongjmp(env, 1);
}
int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, 0);
    long x = 7;
    for (int i = 0; i < 200; i++) {
        if (sigsetjmp(env, 1) == 0) f_fault(i % 2 ? &x : 0);
    }
    return wrong != 0 ? 1 : right != 100 ? 2 : 0;
}
"#;

#[test]
fn a_fault_under_a_breakpoint_reaches_the_handler_at_its_own_address() {
    if !ptrace_ok("a_fault_under_a_breakpoint_reaches_the_handler_at_its_own_address") {
        return;
    }
    let progs = Programs::new();
    let exe = progs.compile("fault", FAULT_C);
    let site = symbol(&exe, "f_fault");
    let (_guard, mut p) = launch(&exe, &[]);
    p.insert_breakpoint(Addr(site)).unwrap();
    let (mut hits, mut faults) = (0, 0);
    let status = loop {
        p.resume(Resume::Continue, Direction::Forward).unwrap();
        match p.wait_lazy().unwrap() {
            (StopEvent::Breakpoint { pc, .. }, _) => {
                assert_eq!(pc.0, site);
                hits += 1;
            }
            (StopEvent::Signal { signo, tid }, _) => {
                assert_eq!(signo, libc::SIGSEGV);
                // The stop shows the fault where the program has it.
                let snap = p.snapshot().unwrap();
                let t = snap.threads().iter().find(|t| t.tid == tid).unwrap();
                assert_eq!(t.regs.rip, site, "fault reported at the instruction");
                faults += 1;
            }
            (StopEvent::Exited { status }, _) => break status,
            (ev, _) => panic!("unexpected {ev:?}"),
        }
        assert!(hits <= 200 && faults <= 100, "hits {hits}, faults {faults}");
    };
    assert_eq!((hits, faults), (200, 100));
    assert_eq!(
        status, 0,
        "the handler saw every fault at f_fault (1: elsewhere, 2: not 100 of them)"
    );
}
