//! The `coroner` command: `coroner core BIN CORE` opens a core, prints what killed the
//! process, then runs Delve-compatible commands from a line editor (terminal) or from
//! `--init` and stdin (batch).

use anyhow::Context;
use clap::{Parser, Subcommand};
use coroner::repl::{Output, Session};
use coroner::target::{OpenOptions, Target};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod browser;
mod connect;
mod dap;
mod headless;
mod live;
mod remote;
mod replay;
mod trace;

#[derive(Parser)]
#[command(
    name = "coroner",
    version,
    about = "Go-aware post-mortem debugger (Delve-compatible commands)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Directories searched for separate debug info (build-id stores, debuglink files).
    #[arg(long, global = true, value_delimiter = ',', value_name = "DIRS")]
    debug_info_directories: Vec<PathBuf>,
    /// Enable logging (Delve's --log): to stderr, or --log-dest.
    #[arg(long, global = true)]
    log: bool,
    /// Comma-separated layers to log: debugger (default), gdbwire, lldbout,
    /// debuglineerr, rpc, dap, fncall, minidump, stack.
    #[arg(long, global = true, value_name = "LIST")]
    log_output: Option<String>,
    /// Write the log to this file, or to this open file descriptor when a number.
    #[arg(long, global = true, value_name = "FILE|FD")]
    log_dest: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Examine a core dump: coroner core BIN CORE.
    Core {
        /// The executable that produced the core (may be zstd/xz/lz4-compressed).
        binary: PathBuf,
        /// The core file (may be compressed).
        core: PathBuf,
        /// Run the commands in FILE first (one per line; `#` starts a comment).
        #[arg(long, value_name = "FILE")]
        init: Option<PathBuf>,
        /// Print goroutines, stack and threads as JSON (one document per line).
        #[arg(long)]
        json: bool,
        /// Open even when the binary does not match the core.
        #[arg(long)]
        force: bool,
        /// Use the line REPL instead of the full-screen browser on a terminal.
        #[arg(long)]
        repl: bool,
        /// Accepted for Delve compatibility (coroner always allows it).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        allow_non_terminal_interactive: Option<bool>,
        /// Accepted for Delve compatibility: coroner reads the Go version from the binary.
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        check_go_version: Option<bool>,
        #[command(flatten)]
        headless: headless::HeadlessArgs,
    },
    /// One incident report from every analyzer: coroner triage BIN CORE.
    Triage {
        /// The executable that produced the core (may be compressed).
        binary: PathBuf,
        /// The core file (may be compressed).
        core: PathBuf,
        /// Print the report as JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the report as Markdown (for an incident ticket).
        #[arg(long)]
        markdown: bool,
        /// Open even when the binary does not match the core.
        #[arg(long)]
        force: bool,
    },
    /// Attach to a running process: coroner attach PID [BIN].
    Attach {
        pid: u32,
        /// The process's executable (default: /proc/PID/exe, which works even when the
        /// file was deleted or replaced).
        binary: Option<PathBuf>,
        #[command(flatten)]
        common: LiveArgs,
    },
    /// Start a compiled program under the debugger: coroner exec BIN [-- ARGS].
    Exec {
        binary: PathBuf,
        /// Arguments for the program (after --).
        #[arg(last = true)]
        args: Vec<String>,
        #[command(flatten)]
        launch: LaunchArgs,
        #[command(flatten)]
        common: LiveArgs,
    },
    /// Build a package with optimisations off and debug it: coroner debug [PKG] [-- ARGS].
    Debug {
        package: Option<String>,
        #[arg(last = true)]
        args: Vec<String>,
        /// Extra flags for `go build`.
        #[arg(long, value_name = "FLAGS")]
        build_flags: Option<String>,
        #[command(flatten)]
        launch: LaunchArgs,
        #[command(flatten)]
        common: LiveArgs,
    },
    /// Build a package's test binary and debug it: coroner test [PKG] [-- ARGS].
    Test {
        package: Option<String>,
        #[arg(last = true)]
        args: Vec<String>,
        #[arg(long, value_name = "FLAGS")]
        build_flags: Option<String>,
        #[command(flatten)]
        launch: LaunchArgs,
        #[command(flatten)]
        common: LiveArgs,
    },
    /// Debug a program behind a GDB remote stub someone started (gdbserver, `rr replay
    /// -s PORT`, `qemu-x86_64 -g PORT`): coroner remote HOST:PORT [BIN].
    Remote {
        /// The stub's address.
        #[arg(value_name = "HOST:PORT")]
        addr: String,
        /// The program's executable (default: the one the stub names, if readable here).
        binary: Option<PathBuf>,
        #[command(flatten)]
        common: LiveArgs,
    },
    /// Replay an rr recording, forwards and backwards: coroner replay TRACE_DIR [-p PID].
    Replay {
        /// The directory `rr record` wrote.
        trace: PathBuf,
        /// Replay this process of the recording (rr's --onprocess).
        #[arg(short = 'p', long = "onprocess", value_name = "PID")]
        pid: Option<u32>,
        #[command(flatten)]
        common: LiveArgs,
    },
    /// Connect to a headless server (coroner's or Delve's): coroner connect ADDR.
    Connect {
        #[command(flatten)]
        args: connect::ConnectArgs,
    },
    /// Serve the Debug Adapter Protocol for editors: coroner dap [--listen=ADDR].
    Dap {
        #[command(flatten)]
        args: dap::DapArgs,
    },
    /// Trace function calls: coroner trace [PKG] REGEX [--exec BIN | -p PID] [-- ARGS].
    Trace {
        /// [PKG] REGEX: the package to build (default: the one in the current directory)
        /// and the regular expression the traced functions' names must match.
        #[arg(num_args = 1..=2, required = true, value_name = "[PKG] REGEX")]
        positional: Vec<String>,
        /// Trace this compiled binary instead of building a package.
        #[arg(long, value_name = "BIN", conflicts_with = "pid")]
        exec: Option<PathBuf>,
        /// Trace a running process (Ctrl-C detaches and leaves it running).
        #[arg(short = 'p', long, value_name = "PID")]
        pid: Option<u32>,
        /// Print N frames of the stack with every trace line.
        #[arg(short = 's', long, value_name = "N", default_value_t = 0)]
        stack: usize,
        /// Trace the package's test binary (`go test -c`).
        #[arg(short = 't', long)]
        test: bool,
        #[arg(long, value_name = "FLAGS")]
        build_flags: Option<String>,
        #[arg(last = true)]
        args: Vec<String>,
        #[command(flatten)]
        launch: LaunchArgs,
    },
    /// Print the version.
    Version,
}

#[derive(clap::Args)]
struct LiveArgs {
    /// Run the commands in FILE first (one per line; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    init: Option<PathBuf>,
    /// Print goroutines, stack and threads as JSON (one document per line).
    #[arg(long)]
    json: bool,
    /// Use the line REPL instead of the full-screen browser on a terminal.
    #[arg(long)]
    repl: bool,
    /// Accepted for Delve compatibility (coroner always allows it).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_non_terminal_interactive: Option<bool>,
    #[command(flatten)]
    headless: headless::HeadlessArgs,
    /// Which backend drives the process: default (native ptrace), native, gdbserver
    /// (GNU gdbserver on 127.0.0.1) or rr (record, then replay).
    #[arg(long, value_enum, default_value_t = remote::Backend::Default, value_name = "NAME")]
    backend: remote::Backend,
}

#[derive(clap::Args)]
struct LaunchArgs {
    /// Working directory of the program.
    #[arg(long, value_name = "DIR")]
    wd: Option<PathBuf>,
    /// Run with address space randomisation off.
    #[arg(long)]
    disable_aslr: bool,
    /// Redirect a standard stream: `-r stdin:FILE`, `-r stdout:FILE`, `-r stderr:FILE`.
    #[arg(short = 'r', long = "redirect", value_name = "STREAM:FILE")]
    redirect: Vec<String>,
}

impl LiveArgs {
    fn options(self) -> anyhow::Result<live::LiveOptions> {
        Ok(live::LiveOptions {
            headless: self.headless.options()?,
            init: self.init,
            json: self.json,
            repl: self.repl,
            backend: self.backend,
        })
    }
}

impl LaunchArgs {
    fn options(self) -> live::ExecOptions {
        live::ExecOptions {
            wd: self.wd,
            disable_aslr: self.disable_aslr,
            redirects: self.redirect,
        }
    }
}

/// The settings of the user's config file, read once in `main`.
static USER_CONFIG: std::sync::OnceLock<coroner::repl::Config> = std::sync::OnceLock::new();

/// The user's persistent settings (defaults when there is no config file).
pub(crate) fn user_config() -> coroner::repl::Config {
    USER_CONFIG.get().cloned().unwrap_or_default()
}

/// Give a REPL session the user's persistent settings (before `--init` runs).
pub(crate) fn apply_user_config(session: &mut Session) {
    if let Some(c) = USER_CONFIG.get() {
        session.config = c.clone();
    }
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coroner: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) =
        coroner::logging::setup(cli.log, cli.log_output.as_deref(), cli.log_dest.as_deref())
    {
        eprintln!("coroner: {e}");
        return ExitCode::FAILURE;
    }
    // The user's config file (coroner's, else Delve's) names more debug-info
    // directories; the flag's come first. It is read once, before any target opens.
    let user_config = coroner::repl::config_file::load_user();
    for w in &user_config.warnings {
        eprintln!("warning: {w}");
    }
    let mut dirs = cli.debug_info_directories.clone();
    dirs.extend(user_config.config.debug_info_directories.iter().cloned());
    coroner::symbols::debuginfo::set_debug_info_directories(dirs);
    let _ = USER_CONFIG.set(user_config.config);
    match cli.cmd {
        Cmd::Version => {
            println!("coroner {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Cmd::Dap { args } => report(dap::run(args)),
        Cmd::Replay { trace, pid, common } => {
            report(common.options().and_then(|o| replay::replay(trace, pid, o)))
        }
        Cmd::Remote {
            addr,
            binary,
            common,
        } => report(
            common
                .options()
                .and_then(|o| remote::remote(&addr, binary, o)),
        ),
        Cmd::Connect { args } => report(connect::run(args)),
        Cmd::Attach {
            pid,
            binary,
            common,
        } => report(common.options().and_then(|o| live::attach(pid, binary, o))),
        Cmd::Exec {
            binary,
            args,
            launch,
            common,
        } => report(
            common
                .options()
                .and_then(|o| live::exec(binary, args, launch.options(), o)),
        ),
        Cmd::Debug {
            package,
            args,
            build_flags,
            launch,
            common,
        } => report(
            common
                .options()
                .and_then(|o| live::debug(package, build_flags, false, args, launch.options(), o)),
        ),
        Cmd::Test {
            package,
            args,
            build_flags,
            launch,
            common,
        } => report(
            common
                .options()
                .and_then(|o| live::debug(package, build_flags, true, args, launch.options(), o)),
        ),
        Cmd::Trace {
            mut positional,
            exec,
            pid,
            stack,
            test,
            build_flags,
            args,
            launch,
        } => {
            let regex = positional.pop().unwrap_or_default();
            report(trace::run(trace::TraceArgs {
                package: positional.pop(),
                regex,
                exec,
                pid,
                stack,
                test,
                build_flags,
                args,
                launch: launch.options(),
            }))
        }
        Cmd::Triage {
            binary,
            core,
            json,
            markdown,
            force,
        } => match run_triage(binary, core, json, markdown, force) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("coroner: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Core {
            binary,
            core,
            init,
            json,
            force,
            repl,
            headless,
            ..
        } => match if let Some(server) = headless.options().transpose() {
            server.and_then(|o| {
                let t = Target::open(&OpenOptions {
                    binary,
                    core,
                    force,
                })?;
                headless::run(Session::new(t), &o)
            })
        } else if !repl
            && init.is_none()
            && !json
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal()
        {
            // On a terminal: the full-screen triage browser.
            browser::run(
                OpenOptions {
                    binary,
                    core,
                    force,
                },
                coroner_analyzers::registry(),
                crate::user_config(),
            )
        } else {
            run_core(binary, core, init, json, force)
        } {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // One line, like every fatal error: the chain joined with ": ".
                eprintln!("coroner: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_core(
    binary: PathBuf,
    core: PathBuf,
    init: Option<PathBuf>,
    json: bool,
    force: bool,
) -> anyhow::Result<()> {
    // Read the init file before the (possibly long) open, so a typo fails fast.
    let init_lines = match &init {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read init file {}", p.display()))?,
        ),
        None => None,
    };
    coroner::log_at!(
        Debugger,
        "opening core {} of {}",
        core.display(),
        binary.display()
    );
    let target = Target::open(&OpenOptions {
        binary,
        core,
        force,
    })?;
    coroner::log_at!(
        Debugger,
        "core open: {} threads, {} goroutines",
        target.threads().len(),
        target.goroutines().len()
    );
    let mut session = Session::new(target);
    session.set_analyzers(coroner_analyzers::registry());
    apply_user_config(&mut session);
    session.json = json;
    let header = session.header();
    let mut out = std::io::stdout().lock();
    if json {
        // Keep stdout pure JSON for scripts.
        eprint!("{header}");
    } else {
        writeln!(out, "{header}Type 'help' for list of commands.")?;
    }
    out.flush()?;
    drop(out);

    if let Some(text) = init_lines {
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if !emit(&mut session, l, json)? {
                return Ok(());
            }
        }
    }
    if std::io::stdin().is_terminal() {
        interactive(&mut session, json)
    } else {
        batch(&mut session, json)
    }
}

/// `coroner triage`: open, run every analyzer, print one report.
fn run_triage(
    binary: PathBuf,
    core: PathBuf,
    json: bool,
    markdown: bool,
    force: bool,
) -> anyhow::Result<()> {
    let target = Target::open(&OpenOptions {
        binary,
        core,
        force,
    })?;
    let report = coroner_analyzers::registry().triage(&target);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report.json)?)?;
    } else if markdown {
        out.write_all(report.markdown.as_bytes())?;
    } else {
        for w in target.warnings() {
            writeln!(out, "warning: {w}")?;
        }
        out.write_all(report.text.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// Run one command and print its output. Returns false when the session should end.
fn emit(session: &mut Session, line: &str, json: bool) -> anyhow::Result<bool> {
    // Text results stream (a 100k-goroutine listing is never held whole in memory).
    let o = if json {
        session.execute(line)
    } else {
        session.execute_streaming(line, &mut std::io::stdout().lock())
    };
    let mut out = std::io::stdout().lock();
    match &o {
        Output::Exit => return Ok(false),
        Output::Error(e) if json => writeln!(
            out,
            "{}",
            serde_json::json!({ "command": line, "error": e })
        )?,
        Output::Error(_) => {
            out.flush()?;
            eprint!("{}", o.render());
        }
        // One JSON document per line, so scripts can read results as they come.
        Output::Json(v) => writeln!(out, "{}", serde_json::to_string(v)?)?,
        Output::Text(t) => out.write_all(t.as_bytes())?,
    }
    out.flush()?;
    Ok(true)
}

fn batch(session: &mut Session, json: bool) -> anyhow::Result<()> {
    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read standard input")?;
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if !emit(session, l, json)? {
            break;
        }
    }
    Ok(())
}

fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local").join("state")))?;
    Some(base.join("coroner").join("history"))
}

fn interactive(session: &mut Session, json: bool) -> anyhow::Result<()> {
    use rustyline::error::ReadlineError;
    let mut rl = rustyline::DefaultEditor::new().context("cannot start the line editor")?;
    let hist = history_path();
    if let Some(h) = &hist {
        // A missing history file is normal on first use.
        let _ = rl.load_history(h);
    }
    let mut last = String::new();
    loop {
        match rl.readline("(coroner) ") {
            Ok(line) => {
                let l = line.trim();
                // Like Delve, an empty line repeats the previous command.
                let cmd = if l.is_empty() {
                    last.clone()
                } else {
                    l.to_string()
                };
                if cmd.is_empty() {
                    continue;
                }
                if !l.is_empty() {
                    let _ = rl.add_history_entry(l);
                }
                last = cmd.clone();
                if !emit(session, &cmd, json)? {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("line editor"),
        }
    }
    if let Some(h) = &hist {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.save_history(h);
    }
    Ok(())
}
