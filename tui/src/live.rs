//! `coroner attach`, `coroner exec` and `coroner debug`: a live process under the same
//! REPL as a core. The process is never left stopped or patched: `exit` detaches from
//! an attached process and kills a launched one, and SIGTERM/SIGHUP or a panic go
//! through the ptrace backend's emergency cleanup. On a terminal (no `--repl`,
//! `--init` or `--json`) the full-screen browser runs instead of the line REPL.

use anyhow::{bail, Context};
use coroner::backend::ptrace::{emergency_cleanup, LaunchOptions, PtraceProcess, Redirect};
use coroner::backend::{Interrupter, Process};
use coroner::exec::{Debugger, Origin};
use coroner::repl::Session;
use coroner::symbols::Binary;
use coroner::target::Image;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What every live subcommand shares: the init file, JSON mode.
pub struct LiveOptions {
    /// `--headless`: serve JSON-RPC instead of the REPL.
    pub headless: Option<coroner::service::rpc2::ServerOptions>,
    pub init: Option<PathBuf>,
    pub json: bool,
    /// `--repl`: the line REPL even on a terminal.
    pub repl: bool,
    /// `--backend`: ptrace (default), gdbserver or rr.
    pub backend: crate::remote::Backend,
}

impl LiveOptions {
    /// The browser, as for cores: on a terminal unless a flag asks for the REPL, a
    /// script (`--init`) or JSON.
    fn browser(&self) -> bool {
        self.headless.is_none()
            && !self.repl
            && self.init.is_none()
            && !self.json
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal()
    }
}

/// The interrupter of the process being debugged, for the SIGINT thread.
static INTERRUPT: Mutex<Option<Arc<dyn Interrupter>>> = Mutex::new(None);

/// SIGINT halts the running program (it is not delivered to it); SIGTERM and SIGHUP
/// release the process, then end coroner. A panic releases it too.
pub(crate) fn install_signal_handling() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGINT {
                    let i = INTERRUPT.lock().ok().and_then(|g| g.clone());
                    if let Some(i) = i {
                        // Delve's words; the program never sees this SIGINT.
                        eprintln!("received SIGINT, stopping process (will not forward signal)");
                        i.interrupt();
                    }
                    continue;
                }
                crate::browser::actor::release_on_fatal_signal();
                emergency_cleanup();
                coroner::backend::gdbserial::launch::emergency_cleanup();
                crate::browser::restore_terminal_if_active();
                std::process::exit(128 + sig);
            }
        })
        .context("cannot start the signal thread")?;
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A panic on the browser's thread: the debugger's thread detaches properly.
        crate::browser::actor::release_on_fatal_signal();
        emergency_cleanup();
        coroner::backend::gdbserial::launch::emergency_cleanup();
        prev(info);
    }));
    Ok(())
}

/// The load bias of a PIE from the process's AT_ENTRY (0 for a fixed-address binary).
fn bias_of(proc: &mut dyn Process, bin: &Binary) -> anyhow::Result<u64> {
    let snap = proc.snapshot()?;
    Ok(match snap.auxv_value(9) {
        Some(at_entry) if bin.is_pie() => at_entry.wrapping_sub(bin.entry().get()),
        _ => 0,
    })
}

pub(crate) fn start(
    proc: PtraceProcess,
    binary: &Path,
    origin: Origin,
) -> anyhow::Result<Debugger> {
    start_boxed(Box::new(proc), binary, origin)
}

/// [`start`] for any backend.
pub(crate) fn start_boxed(
    mut proc: Box<dyn Process>,
    binary: &Path,
    origin: Origin,
) -> anyhow::Result<Debugger> {
    let bin = Arc::new(
        Binary::open(binary).with_context(|| format!("cannot read {}", binary.display()))?,
    );
    let bias = bias_of(proc.as_mut(), &bin)?;
    let image = Arc::new(Image::load(bin, bias)?);
    let d = Debugger::new(proc, image, origin)?;
    // What the first stop could not read (a system emulator's stub before the program
    // runs, a binary without DWARF): said once, as for a core.
    for w in d.target().warnings() {
        eprintln!("coroner: warning: {w}");
    }
    if let Ok(mut g) = INTERRUPT.lock() {
        *g = Some(d.interrupter());
    }
    Ok(d)
}

/// `coroner attach PID [BIN]`.
pub fn attach(pid: u32, binary: Option<PathBuf>, opts: LiveOptions) -> anyhow::Result<()> {
    install_signal_handling()?;
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    let binary = match binary {
        Some(b) => {
            check_same_binary(&b, &exe)?;
            b
        }
        None => {
            // /proc/PID/exe opens the running binary even when its file was deleted or
            // replaced on disk (a deploy while it ran).
            if let Ok(target) = std::fs::read_link(&exe) {
                if target.to_string_lossy().ends_with(" (deleted)") {
                    eprintln!(
                        "coroner: warning: {} was deleted or replaced since process {pid} started; reading the running binary through {}",
                        target.display().to_string().trim_end_matches(" (deleted)"),
                        exe.display()
                    );
                }
            }
            exe
        }
    };
    let proc = crate::remote::attach(opts.backend, pid)?;
    let d = start_boxed(proc, &binary, Origin::Attached)?;
    run(Session::with_debugger(d), opts, &binary, None)
}

/// A binary given on the command line must be the one the process runs.
pub(crate) fn check_same_binary(given: &Path, exe: &Path) -> anyhow::Result<()> {
    let a = Binary::open(given).with_context(|| format!("cannot read {}", given.display()))?;
    let Ok(b) = Binary::open(exe) else {
        return Ok(());
    };
    let ids = |x: &Binary| {
        (
            x.build_id().map(<[u8]>::to_vec),
            x.go_build_id().map(str::to_string),
        )
    };
    if ids(&a) != ids(&b) {
        bail!(
            "{} is not the binary process runs ({} has another build ID): omit BIN to use the running one",
            given.display(),
            exe.display()
        );
    }
    Ok(())
}

pub struct ExecOptions {
    pub wd: Option<PathBuf>,
    pub disable_aslr: bool,
    /// `-r stdin:FILE`, `-r stdout:FILE`, `-r stderr:FILE`, or `-r FILE` for stdin.
    pub redirects: Vec<String>,
}

pub(crate) fn launch_options(
    binary: &Path,
    args: &[String],
    e: &ExecOptions,
) -> anyhow::Result<LaunchOptions> {
    let mut lo = LaunchOptions::new(binary).args(args.iter().cloned());
    lo.wd = e.wd.clone();
    lo.disable_aslr = e.disable_aslr;
    for r in &e.redirects {
        let (stream, file) = match r.split_once(':') {
            Some((s @ ("stdin" | "stdout" | "stderr"), f)) => (s, f),
            _ => ("stdin", r.as_str()),
        };
        let red = Redirect::File(PathBuf::from(file));
        match stream {
            "stdin" => lo.stdin = red,
            "stdout" => lo.stdout = red,
            _ => lo.stderr = red,
        }
    }
    Ok(lo)
}

/// `coroner exec BIN [-- ARGS]`.
pub fn exec(
    binary: PathBuf,
    args: Vec<String>,
    e: ExecOptions,
    opts: LiveOptions,
) -> anyhow::Result<()> {
    if opts.backend == crate::remote::Backend::Rr {
        return crate::replay::record_and_replay(&binary, &args, &e, opts);
    }
    install_signal_handling()?;
    let mut lo = launch_options(&binary, &args, &e)?;
    // The browser owns the terminal: the program reads /dev/null and its output goes
    // to the browser's program-output view (P), unless `-r` chose otherwise.
    let capture = if opts.browser() {
        capture_output(&mut lo)?
    } else {
        None
    };
    let backend = opts.backend;
    let proc = crate::remote::launch(backend, &lo)?;
    let mut d = start_boxed(proc, &binary, Origin::Launched)?;
    d.set_relauncher(Box::new(move |args| {
        if let Some(a) = args {
            lo.args = a.iter().map(Into::into).collect();
        }
        crate::remote::launch(backend, &lo)
    }));
    let (log, writer) = match capture {
        Some((log, w)) => (Some(log), Some(w)),
        None => (None, None),
    };
    let r = run(Session::with_debugger(d), opts, &binary, log);
    // The write end stays open for the whole session: `restart` opens it again.
    drop(writer);
    r
}

/// Send a launched program's stdout and stderr (those not redirected) into one pipe
/// that the browser reads, and its stdin from /dev/null. The program opens the pipe
/// through /proc/self/fd (the redirects name paths), so `restart` reuses it.
fn capture_output(
    lo: &mut LaunchOptions,
) -> anyhow::Result<Option<(crate::browser::live::ProgramOutput, std::io::PipeWriter)>> {
    use std::os::fd::AsRawFd;
    if lo.stdin == Redirect::Inherit {
        lo.stdin = Redirect::Null;
    }
    if lo.stdout != Redirect::Inherit && lo.stderr != Redirect::Inherit {
        return Ok(None);
    }
    let (reader, writer) =
        std::io::pipe().context("cannot create a pipe for the program's output")?;
    let path = PathBuf::from(format!("/proc/self/fd/{}", writer.as_raw_fd()));
    for r in [&mut lo.stdout, &mut lo.stderr] {
        if *r == Redirect::Inherit {
            *r = Redirect::File(path.clone());
        }
    }
    Ok(Some((crate::browser::live::capture(reader), writer)))
}

/// Build `pkg` (or its test binary) with optimisations off into a temporary
/// directory, which is removed when the returned guard drops.
pub(crate) fn build(
    pkg: Option<&str>,
    build_flags: Option<&str>,
    test: bool,
    wd: Option<&Path>,
) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let out = dir
        .path()
        .join(if test { "debug.test" } else { "__debug_bin" });
    let mut cmd = std::process::Command::new("go");
    if test {
        cmd.args(["test", "-c"]);
    } else {
        cmd.arg("build");
    }
    cmd.arg("-gcflags=all=-N -l").arg("-o").arg(&out);
    if let Some(f) = build_flags {
        cmd.args(f.split_whitespace());
    }
    if let Some(p) = pkg {
        cmd.arg(p);
    }
    if let Some(wd) = wd {
        cmd.current_dir(wd);
    }
    // Captured, so a DAP client sees the compiler's messages too.
    let res = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run `go build`: is the Go toolchain on PATH?")?;
    let msgs = String::from_utf8_lossy(&res.stderr);
    if res.status.success() {
        eprint!("{msgs}");
    } else {
        bail!(
            "go build failed ({}); fix the build errors:\n{}",
            res.status,
            msgs.trim_end()
        );
    }
    Ok((dir, out))
}

/// `coroner debug [PKG] [-- ARGS]`: build with optimisations off into a temporary file
/// (removed on exit), then exec it.
pub fn debug(
    pkg: Option<String>,
    build_flags: Option<String>,
    test: bool,
    args: Vec<String>,
    e: ExecOptions,
    opts: LiveOptions,
) -> anyhow::Result<()> {
    let (dir, out) = build(
        pkg.as_deref(),
        build_flags.as_deref(),
        test,
        e.wd.as_deref(),
    )?;
    let r = exec(out, args, e, opts);
    drop(dir);
    r
}

/// Run a session on a debugger already started (`coroner remote`, `coroner replay`).
pub(crate) fn run_session(
    session: Session,
    opts: LiveOptions,
    binary: &Path,
) -> anyhow::Result<()> {
    run(session, opts, binary, None)
}

fn run(
    mut session: Session,
    opts: LiveOptions,
    binary: &Path,
    program: Option<crate::browser::live::ProgramOutput>,
) -> anyhow::Result<()> {
    if let Some(server) = &opts.headless {
        // The server releases the process (kill launched, detach attached) itself.
        // Its clients apply their own configuration, as Delve's do.
        return crate::headless::run(session, server);
    }
    session.set_analyzers(coroner_analyzers::registry());
    crate::apply_user_config(&mut session);
    if opts.browser() {
        // The browser releases the process itself, as `q` chose.
        // `/proc/PID/exe` (attach without BIN) names the program by its link target.
        let shown = std::fs::read_link(binary).unwrap_or_else(|_| binary.to_path_buf());
        let name = shown
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| binary.display().to_string());
        let msg = crate::browser::run_live(session, &name, program)?;
        if !msg.is_empty() {
            eprintln!("{msg}");
        }
        return Ok(());
    }
    session.json = opts.json;
    let init = match &opts.init {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read init file {}", p.display()))?,
        ),
        None => None,
    };
    if std::io::stdin().is_terminal() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Type 'help' for list of commands.")?;
        out.flush()?;
    }
    let mut keep_going = true;
    if let Some(text) = init {
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if !crate::emit(&mut session, l, opts.json)? {
                keep_going = false;
                break;
            }
        }
    }
    let r = if !keep_going {
        Ok(())
    } else if std::io::stdin().is_terminal() {
        crate::interactive(&mut session, opts.json)
    } else {
        crate::batch(&mut session, opts.json)
    };
    finish(&mut session);
    r
}

/// Leave the process as Delve's `exit` does: kill a launched one; detach from an
/// attached one (asking on a terminal whether to kill it instead, default no).
fn finish(session: &mut Session) {
    let Some(d) = session.debugger() else {
        return;
    };
    if d.exited().is_some() {
        return;
    }
    let pid = d.pid();
    let mut kill = d.origin() == Origin::Launched;
    if !kill && std::io::stdin().is_terminal() {
        eprint!("Would you like to kill the process? [y/N] ");
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_ok() {
            kill = matches!(answer.trim(), "y" | "Y" | "yes");
        }
    }
    if let Some(d) = session.debugger_mut() {
        match d.detach(kill) {
            Ok(()) if !kill => eprintln!("Detached from process {pid}: it keeps running."),
            Ok(()) => {}
            Err(e) => eprintln!("coroner: could not release process {pid}: {e}"),
        }
    }
}
