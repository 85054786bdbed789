//! Backends other than ptrace for the live subcommands: `--backend=gdbserver` (GNU
//! gdbserver started and driven over the GDB remote protocol), and `coroner remote
//! HOST:PORT [BIN]` to a stub someone else started (gdbserver, `rr replay -s PORT`,
//! `qemu-x86_64 -g PORT`). Everything above the [`Process`] trait (the Debugger, the
//! REPL, the browser, JSON-RPC) is the same as for ptrace.

use crate::live::{self, LiveOptions};
use anyhow::{bail, Context};
use coroner::backend::gdbserial::launch::{GdbServerLaunch, Stream};
use coroner::backend::gdbserial::{GdbRemote, Timeouts};
use coroner::backend::ptrace::{LaunchOptions, PtraceProcess, Redirect};
use coroner::backend::Process;
use coroner::exec::Origin;
use coroner::repl::Session;
use std::path::{Path, PathBuf};

/// `--backend`, with Delve's names (`lldb` is not offered: no debugserver on Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// native (ptrace).
    #[default]
    Default,
    /// ptrace: coroner traces the process itself.
    Native,
    /// GNU gdbserver on 127.0.0.1, driven over the GDB remote protocol.
    Gdbserver,
    /// Record with rr, then replay the recording (`rr` on PATH).
    Rr,
}

fn stream(r: &Redirect) -> Stream {
    match r {
        Redirect::Inherit => Stream::Inherit,
        Redirect::Null => Stream::Null,
        Redirect::File(p) => Stream::File(p.clone()),
    }
}

/// The ptrace launcher's options as gdbserver takes them.
pub(crate) fn gdbserver_launch(lo: &LaunchOptions) -> GdbServerLaunch {
    GdbServerLaunch {
        program: lo.program.clone(),
        args: lo.args.clone(),
        wd: lo.wd.clone(),
        disable_aslr: lo.disable_aslr,
        stdin: stream(&lo.stdin),
        stdout: stream(&lo.stdout),
        stderr: stream(&lo.stderr),
    }
}

/// Start the program under `backend`, stopped at its first instruction.
pub(crate) fn launch(
    backend: Backend,
    lo: &LaunchOptions,
) -> Result<Box<dyn Process>, coroner::backend::BackendError> {
    match backend {
        Backend::Default | Backend::Native => {
            PtraceProcess::launch(lo).map(|p| Box::new(p) as Box<dyn Process>)
        }
        Backend::Gdbserver => {
            GdbRemote::launch_gdbserver_with(&gdbserver_launch(lo), Timeouts::default())
                .map(|p| Box::new(p) as Box<dyn Process>)
        }
        // The caller records first and replays (tui/src/replay.rs).
        Backend::Rr => Err(coroner::backend::BackendError::Unsupported(
            "launch under rr here: the rr backend records, then replays",
        )),
    }
}

/// Attach to `pid` with `backend`.
pub(crate) fn attach(backend: Backend, pid: u32) -> anyhow::Result<Box<dyn Process>> {
    Ok(match backend {
        Backend::Default | Backend::Native => Box::new(PtraceProcess::attach(pid)?),
        Backend::Gdbserver => Box::new(GdbRemote::attach_gdbserver(pid, Timeouts::default())?),
        Backend::Rr => bail!("rr cannot attach to a running process: record it with `coroner exec --backend=rr BIN` or `rr record`"),
    })
}

/// `coroner remote HOST:PORT [BIN]`: connect to a stub already listening. Without BIN
/// the stub must say which executable it runs (`qXfer:exec-file`), and that file must
/// be readable here.
pub fn remote(addr: &str, binary: Option<PathBuf>, opts: LiveOptions) -> anyhow::Result<()> {
    live::install_signal_handling()?;
    if !addr.contains(':') {
        bail!("{addr}: give the stub's address as HOST:PORT (e.g. 127.0.0.1:2345)");
    }
    let proc = GdbRemote::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    let binary = match binary {
        Some(b) => b,
        None => match proc.exe_path() {
            Some(p) if Path::new(p).is_file() => PathBuf::from(p),
            Some(p) => bail!(
                "the stub at {addr} runs {p}, which is not readable here: give the binary as `coroner remote {addr} BIN`"
            ),
            None => bail!(
                "the stub at {addr} does not say which program it runs: give the binary as `coroner remote {addr} BIN`"
            ),
        },
    };
    for n in proc.notes() {
        eprintln!("coroner: note: {n}");
    }
    // A stub someone else started: on exit coroner detaches (Delve's `exit` asks;
    // killing is one `exit -c`/answer away), as for an attached process.
    let d = live::start_boxed(Box::new(proc), &binary, Origin::Attached)?;
    live::run_session(Session::with_debugger(d), opts, &binary)
}
