//! Attaching to a running process: seize every thread, and explain refusals in one
//! line that names the cause and the fix.

use super::procfs;
use super::sys::{self, Errno};
use super::Task;
use crate::backend::BackendError;
use std::collections::BTreeMap;

const OPTIONS: i32 =
    libc::PTRACE_O_TRACECLONE | libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_TRACEEXEC;

/// Seize and interrupt every thread in /proc/PID/task, re-listing until no new thread
/// shows up: threads created by an already-seized thread are attached by the kernel
/// (TRACECLONE), those created by a not-yet-seized one appear in the next listing.
pub fn seize_all(pid: i32) -> Result<BTreeMap<i32, Task>, BackendError> {
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(BackendError::Attach(format!("no such process {pid}")));
    }
    let mut threads = BTreeMap::new();
    if let Err(e) = sys::seize(pid, OPTIONS) {
        return Err(explain(pid, e, "attach to"));
    }
    let _ = sys::interrupt(pid);
    threads.insert(
        pid,
        Task {
            running: true,
            interrupt_pending: true,
            ..Task::default()
        },
    );
    let me = sys::gettid();
    loop {
        let listed = procfs::tasks(pid).map_err(|e| {
            BackendError::Attach(format!("cannot list the threads of process {pid}: {e}"))
        })?;
        let mut new = 0;
        for tid in listed {
            if threads.contains_key(&tid) {
                continue;
            }
            match sys::seize(tid, OPTIONS) {
                Ok(()) => {
                    let _ = sys::interrupt(tid);
                    threads.insert(
                        tid,
                        Task {
                            running: true,
                            interrupt_pending: true,
                            ..Task::default()
                        },
                    );
                    new += 1;
                }
                // Already ours: auto-attached at its creation; its first stop will come.
                Err(e) if e.0 == libc::EPERM && procfs::tracer_pid(tid) == Some(me) => {
                    threads.insert(
                        tid,
                        Task {
                            running: true,
                            initial_pending: true,
                            ..Task::default()
                        },
                    );
                    new += 1;
                }
                // Exited between the listing and now.
                Err(e) if e.0 == libc::ESRCH => {}
                // A thread that has already exited (the kernel refuses to attach to a
                // task with an exit state): it is on its way out, not a refusal. The
                // leader was seized above, so the permission itself is granted.
                Err(e)
                    if e.0 == libc::EPERM
                        && matches!(procfs::state(tid), None | Some('Z') | Some('X')) => {}
                Err(e) => return Err(explain(tid, e, "attach to thread")),
            }
        }
        if new == 0 {
            return Ok(threads);
        }
    }
}

fn has_cap_sys_ptrace() -> bool {
    let Some(eff) = procfs::status_field(std::process::id() as i32, "CapEff") else {
        return false;
    };
    // Bit 19 is CAP_SYS_PTRACE.
    u64::from_str_radix(&eff, 16).is_ok_and(|bits| bits & (1 << 19) != 0)
}

fn in_container() -> bool {
    std::path::Path::new("/.dockerenv").exists()
        || std::path::Path::new("/run/.containerenv").exists()
        || std::fs::read_to_string("/proc/1/cgroup").is_ok_and(|c| {
            ["docker", "kubepods", "containerd", "lxc"]
                .iter()
                .any(|k| c.contains(k))
        })
}

/// One line naming why ptrace refused `pid`, and what to do about it.
pub fn explain(pid: i32, e: Errno, what: &str) -> BackendError {
    let msg = match e.0 {
        libc::ESRCH => format!("no such process {pid}"),
        libc::EPERM => eperm(pid, what),
        libc::ENOSYS => format!(
            "cannot {what} process {pid}: ptrace is blocked by a seccomp filter \
             (in Docker: --security-opt seccomp=unconfined)"
        ),
        _ => format!("cannot {what} process {pid}: {}", e.describe()),
    };
    BackendError::Attach(msg)
}

fn eperm(pid: i32, what: &str) -> String {
    if let Some(tracer) = procfs::tracer_pid(pid).filter(|&t| t != 0) {
        // TracerPid is the tracing thread: name its process.
        let tracer = procfs::status_field(tracer, "Tgid")
            .and_then(|t| t.parse().ok())
            .unwrap_or(tracer);
        return format!(
            "cannot {what} process {pid}: it is already traced by process {tracer} ({}): \
             detach that debugger first",
            procfs::comm(tracer)
        );
    }
    let cap = has_cap_sys_ptrace();
    if let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
        let v = v.trim();
        if v == "3" {
            return format!(
                "cannot {what} process {pid}: kernel.yama.ptrace_scope is 3, which forbids \
                 all attaching until reboot: launch the program under the debugger instead"
            );
        }
        if (v == "1" || v == "2") && !cap {
            return format!(
                "cannot {what} process {pid}: kernel.yama.ptrace_scope is {v}: run \
                 `sudo sysctl kernel.yama.ptrace_scope=0`, or run the debugger as root"
            );
        }
    }
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let owner = procfs::status_field(pid, "Uid").and_then(|u| {
        u.split_whitespace()
            .next()
            .and_then(|x| x.parse::<u32>().ok())
    });
    if let Some(owner) = owner {
        if owner != me && !cap {
            return format!(
                "cannot {what} process {pid}: it belongs to uid {owner} and you are uid {me}: \
                 run the debugger as that user or as root"
            );
        }
    }
    if !cap && (me == 0 || in_container()) {
        return format!(
            "cannot {what} process {pid}: CAP_SYS_PTRACE is missing (in a container: run it \
             with --cap-add=SYS_PTRACE)"
        );
    }
    let seccomp = procfs::status_field(std::process::id() as i32, "Seccomp");
    if seccomp.as_deref().is_some_and(|s| s != "0") {
        return format!(
            "cannot {what} process {pid}: ptrace is blocked by a seccomp filter \
             (in Docker: --security-opt seccomp=unconfined)"
        );
    }
    format!("cannot {what} process {pid}: operation not permitted")
}
