//! `coroner trace [PKG] REGEX [--exec BIN | -p PID] [--stack N] [-- ARGS]`, as `dlv
//! trace`: a tracepoint on every function whose name matches REGEX, printing its
//! arguments on entry and its results on return (`--stack N`: N frames each time),
//! until the program exits. With `-p` it attaches, and Ctrl-C detaches and leaves the
//! program running.

use crate::live::{self, ExecOptions};
use anyhow::bail;
use coroner::backend::ptrace::PtraceProcess;
use coroner::exec::{Origin, StopReason};
use coroner::repl::Session;
use std::io::Write;
use std::path::PathBuf;

pub struct TraceArgs {
    pub package: Option<String>,
    pub regex: String,
    pub exec: Option<PathBuf>,
    pub pid: Option<u32>,
    pub stack: usize,
    pub test: bool,
    pub build_flags: Option<String>,
    pub args: Vec<String>,
    pub launch: ExecOptions,
}

pub fn run(a: TraceArgs) -> anyhow::Result<()> {
    live::install_signal_handling()?;
    // Keep the build directory until the program is done.
    let mut _built = None;
    let d = if let Some(pid) = a.pid {
        let exe = PathBuf::from(format!("/proc/{pid}/exe"));
        live::start(PtraceProcess::attach(pid)?, &exe, Origin::Attached)?
    } else {
        let bin = match &a.exec {
            Some(b) => b.clone(),
            None => {
                let (dir, out) = live::build(
                    a.package.as_deref(),
                    a.build_flags.as_deref(),
                    a.test,
                    a.launch.wd.as_deref(),
                )?;
                _built = Some(dir);
                out
            }
        };
        let lo = live::launch_options(&bin, &a.args, &a.launch)?;
        live::start(PtraceProcess::launch(&lo)?, &bin, Origin::Launched)?
    };
    let mut s = Session::with_debugger(d);
    if let coroner::repl::Output::Error(e) = s.execute(&format!("trace /{}/", a.regex)) {
        let _ = s.end_live(true);
        bail!("{e}");
    }
    if let Some(d) = s.debugger_mut() {
        // Printed the moment each tracepoint is hit, between the program's own output.
        d.set_trace_sink(Box::new(|l: &str| {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{l}");
            let _ = o.flush();
        }));
        for b in d.breakpoints.list.iter_mut().filter(|b| b.tracepoint) {
            b.stack = a.stack;
        }
    }
    let stdout = std::io::stdout();
    loop {
        let mut out = stdout.lock();
        let r = s.execute_streaming("continue", &mut out);
        // After Ctrl-C the stop is only the way out: `dlv trace` lists no source there.
        let halted = s
            .debugger()
            .is_some_and(|d| d.last_stop().reason == StopReason::Halted);
        if let (coroner::repl::Output::Text(t), false) = (&r, halted) {
            let _ = out.write_all(t.as_bytes());
        }
        let _ = out.flush();
        drop(out);
        let Some(d) = s.debugger() else { break };
        if let coroner::repl::Output::Error(e) = &r {
            if d.exited().is_none() {
                eprintln!("Command failed: {e}");
                break;
            }
        }
        match d.last_stop().reason {
            StopReason::Exited(_) | StopReason::Killed(_) => return Ok(()),
            // Ctrl-C: stop tracing (an attached program is detached below and runs on).
            StopReason::Halted => break,
            _ => {}
        }
    }
    if let Some(msg) = s.end_live(true) {
        eprintln!("{msg}");
    }
    Ok(())
}
