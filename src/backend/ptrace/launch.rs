//! Starting a program under ptrace.
//!
//! fork; the child blocks reading a pipe; the parent `PTRACE_SEIZE`s it (so it gets the
//! seize semantics: PTRACE_INTERRUPT, no signal injected on attach) and closes the
//! pipe; the child sets up stdio, directory and personality and execs; the parent
//! waits for the PTRACE_EVENT_EXEC stop: the program is then at its first instruction.
//! A failed exec writes its errno to a close-on-exec pipe, so the error is one line.
//!
//! Everything the child needs is prepared before fork: after fork in a multi-threaded
//! parent the child may only make async-signal-safe calls (no allocation, no locks).

use super::sys::{self, Errno, Status};
use crate::backend::BackendError;
use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where a launched program's standard stream goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Redirect {
    /// The debugger's own stream.
    #[default]
    Inherit,
    /// /dev/null.
    Null,
    /// A file: read for stdin, created or truncated for stdout and stderr.
    File(PathBuf),
}

#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// The executable; without a '/', looked up in PATH.
    pub program: PathBuf,
    /// Arguments after argv[0].
    pub args: Vec<OsString>,
    /// Working directory (default: the debugger's).
    pub wd: Option<PathBuf>,
    /// The whole environment (default: the debugger's).
    pub env: Option<Vec<(OsString, OsString)>>,
    /// `personality(ADDR_NO_RANDOMIZE)`: the same addresses on every run.
    pub disable_aslr: bool,
    pub stdin: Redirect,
    pub stdout: Redirect,
    pub stderr: Redirect,
}

impl LaunchOptions {
    pub fn new(program: impl Into<PathBuf>) -> LaunchOptions {
        LaunchOptions {
            program: program.into(),
            ..LaunchOptions::default()
        }
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}

fn fail(what: &Path, why: impl std::fmt::Display) -> BackendError {
    BackendError::Launch(format!("{}: {why}", what.display()))
}

fn resolve(program: &Path) -> Result<PathBuf, BackendError> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| fail(program, "not found in PATH"))
}

fn check_executable(p: &Path) -> Result<(), BackendError> {
    let meta = std::fs::metadata(p).map_err(|e| fail(p, e))?;
    if meta.is_dir() {
        return Err(fail(p, "is a directory"));
    }
    let c = cstr(p.as_os_str().as_bytes(), p)?;
    // SAFETY: c is a valid NUL-terminated string.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return Err(fail(p, "is not executable (chmod +x?)"));
    }
    Ok(())
}

fn cstr(b: &[u8], what: &Path) -> Result<CString, BackendError> {
    CString::new(b).map_err(|_| fail(what, "an argument contains a NUL byte"))
}

fn open_redirect(r: &Redirect, write: bool, what: &Path) -> Result<Option<OwnedFd>, BackendError> {
    let path = match r {
        Redirect::Inherit => return Ok(None),
        Redirect::Null => Path::new("/dev/null"),
        Redirect::File(p) => p.as_path(),
    };
    let f = if write {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    } else {
        std::fs::File::open(path)
    };
    f.map(|f| Some(OwnedFd::from(f)))
        .map_err(|e| fail(what, format!("cannot open {}: {e}", path.display())))
}

fn pipe() -> Result<(OwnedFd, OwnedFd), BackendError> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid 2-element out-array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Errno::last().os("pipe"));
    }
    use std::os::fd::FromRawFd;
    // SAFETY: pipe2 just returned these two fresh descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Fork, seize and exec; returns the pid stopped at PTRACE_EVENT_EXEC.
pub fn spawn(opts: &LaunchOptions) -> Result<i32, BackendError> {
    let path = resolve(&opts.program)?;
    check_executable(&path)?;
    if let Some(wd) = &opts.wd {
        if !wd.is_dir() {
            return Err(fail(
                &path,
                format!("working directory {} does not exist", wd.display()),
            ));
        }
    }
    let c_path = cstr(path.as_os_str().as_bytes(), &path)?;
    let mut argv_c = vec![cstr(opts.program.as_os_str().as_bytes(), &path)?];
    for a in &opts.args {
        argv_c.push(cstr(a.as_bytes(), &path)?);
    }
    let env: Vec<(OsString, OsString)> = match &opts.env {
        Some(e) => e.clone(),
        None => std::env::vars_os().collect(),
    };
    let mut envp_c = Vec::with_capacity(env.len());
    for (k, v) in &env {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        envp_c.push(cstr(&kv, &path)?);
    }
    let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = envp_c.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());
    let wd_c = match &opts.wd {
        Some(w) => Some(cstr(w.as_os_str().as_bytes(), &path)?),
        None => None,
    };
    let fds = [
        open_redirect(&opts.stdin, false, &path)?,
        open_redirect(&opts.stdout, true, &path)?,
        open_redirect(&opts.stderr, true, &path)?,
    ];
    let raw_fds: [i32; 3] = [0, 1, 2].map(|i| fds[i].as_ref().map_or(-1, |f| f.as_raw_fd()));
    let (go_r, go_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (go_r_fd, err_w_fd) = (go_r.as_raw_fd(), err_w.as_raw_fd());
    let disable_aslr = opts.disable_aslr;

    // SAFETY: fork is safe to call; the child below only makes async-signal-safe
    // system calls on memory prepared before the fork, then execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Errno::last().os("fork"));
    }
    if pid == 0 {
        // SAFETY: child side, async-signal-safe calls only; never returns.
        unsafe {
            child(
                go_r_fd,
                err_w_fd,
                raw_fds,
                wd_c.as_ref(),
                disable_aslr,
                &c_path,
                &argv,
                &envp,
            )
        }
    }
    drop(go_r);
    drop(err_w);
    drop(fds);
    let opts_bits = libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXIT
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_EXITKILL;
    if let Err(e) = sys::seize(pid, opts_bits) {
        let _ = sys::kill(pid, libc::SIGKILL);
        let _ = sys::wait(pid);
        return Err(super::attach::explain(pid, e, "trace the new process"));
    }
    // Let the child exec: one byte (not EOF: another thread's fork may hold a copy of
    // the write end until its own exec).
    // SAFETY: writing one byte from a live buffer to our own pipe end.
    unsafe { libc::write(go_w.as_raw_fd(), [0u8].as_ptr().cast(), 1) };
    drop(go_w);
    loop {
        match sys::wait(pid) {
            Ok((
                _,
                Status::Stopped {
                    event: libc::PTRACE_EVENT_EXEC,
                    ..
                },
            )) => return Ok(pid),
            Ok((_, Status::Stopped { .. })) => {
                // A stop before the exec (e.g. a signal from the terminal): go on.
                let _ = sys::cont(pid, 0);
            }
            Ok((_, Status::Exited(_) | Status::Killed(_))) => {
                let mut b = [0u8; 4];
                // SAFETY: reading into a 4-byte buffer from our own pipe end.
                let n = unsafe { libc::read(err_r.as_raw_fd(), b.as_mut_ptr().cast(), 4) };
                let why = if n == 4 {
                    Errno(i32::from_ne_bytes(b)).describe()
                } else {
                    "exited before it started".to_string()
                };
                return Err(fail(&path, why));
            }
            Err(e) => return Err(e.os("wait for exec")),
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn child(
    go_r: i32,
    err_w: i32,
    fds: [i32; 3],
    wd: Option<&CString>,
    disable_aslr: bool,
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> ! {
    let report = |e: i32| {
        let b = e.to_ne_bytes();
        libc::write(err_w, b.as_ptr().cast(), 4);
        libc::_exit(127);
    };
    let mut b = [0u8; 1];
    // Blocks until the parent has seized us and says go (a byte, or EOF if it died).
    while libc::read(go_r, b.as_mut_ptr().cast(), 1) < 0 {}
    libc::close(go_r);
    for (target, &fd) in fds.iter().enumerate() {
        if fd >= 0 && libc::dup2(fd, target as i32) < 0 {
            report(*libc::__errno_location());
        }
    }
    if let Some(wd) = wd {
        if libc::chdir(wd.as_ptr()) != 0 {
            report(*libc::__errno_location());
        }
    }
    if disable_aslr {
        let cur = libc::personality(0xffff_ffff);
        if cur >= 0 {
            libc::personality((cur | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong);
        }
    }
    // Start with default signal state, as a shell would (Rust ignores SIGPIPE).
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
    report(*libc::__errno_location());
    libc::_exit(127)
}
