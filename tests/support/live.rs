//! Helpers for tests on live processes: compiling small C programs at test time,
//! finding their symbols, guards that SIGKILL and reap whatever a test started, and the
//! loud skip when ptrace is unavailable.
//!
//! Include it with `#[path = "support/live.rs"] mod live;`.
#![allow(dead_code)]

use coroner::backend::ptrace::{LaunchOptions, PtraceProcess, Redirect};
use coroner::backend::BackendError;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Kills and reaps a pid however the test ends, so nothing is left stopped or traced.
pub struct PidGuard(pub i32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        // SAFETY: plain syscalls on a pid this test started.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(self.0, &mut st, libc::__WALL | libc::WNOHANG);
        }
    }
}

/// A child started with std's Command, killed and reaped on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True when this machine lets us ptrace; otherwise prints a loud SKIPPED line.
pub fn ptrace_ok(test: &str) -> bool {
    let opts = LaunchOptions::new("/bin/true");
    match PtraceProcess::launch(&opts) {
        Ok(_) => true,
        Err(e @ (BackendError::Attach(_) | BackendError::Os { .. })) => {
            eprintln!("SKIPPED: {test}: ptrace is unavailable here: {e}");
            false
        }
        Err(e) => {
            eprintln!("SKIPPED: {test}: cannot launch /bin/true under ptrace: {e}");
            false
        }
    }
}

pub struct Programs {
    pub dir: tempfile::TempDir,
}

impl Programs {
    pub fn new() -> Programs {
        Programs {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Compile C source into an executable (no PIE, so symbol addresses are absolute).
    pub fn compile(&self, name: &str, src: &str) -> PathBuf {
        let c = self.dir.path().join(format!("{name}.c"));
        let exe = self.dir.path().join(name);
        std::fs::write(&c, src).expect("write C source");
        let out = Command::new("cc")
            .args(["-O1", "-g", "-fno-pie", "-no-pie", "-pthread", "-o"])
            .arg(&exe)
            .arg(&c)
            .output()
            .expect("run cc");
        assert!(
            out.status.success(),
            "cc failed for {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    }
}

/// Address of a symbol in an ELF file's symbol table.
pub fn symbol(exe: &Path, name: &str) -> u64 {
    symbol_range(exe, name).0
}

/// (address, size) of a symbol.
pub fn symbol_range(exe: &Path, name: &str) -> (u64, u64) {
    let bytes = std::fs::read(exe).expect("read executable");
    let elf = goblin::elf::Elf::parse(&bytes).expect("parse ELF");
    for s in elf.syms.iter() {
        if elf.strtab.get_at(s.st_name) == Some(name) && s.st_value != 0 {
            return (s.st_value, s.st_size);
        }
    }
    panic!("symbol {name} not found in {}", exe.display());
}

/// Bytes of the file backing a (non-PIE) virtual address, via the program headers.
pub fn file_bytes_at(exe: &Path, vaddr: u64, len: usize) -> Vec<u8> {
    let bytes = std::fs::read(exe).expect("read executable");
    let elf = goblin::elf::Elf::parse(&bytes).expect("parse ELF");
    for ph in &elf.program_headers {
        if ph.p_type == goblin::elf::program_header::PT_LOAD
            && ph.p_vaddr <= vaddr
            && vaddr + len as u64 <= ph.p_vaddr + ph.p_filesz
        {
            let off = (ph.p_offset + vaddr - ph.p_vaddr) as usize;
            return bytes[off..off + len].to_vec();
        }
    }
    panic!("{vaddr:#x} is not in a loaded segment");
}

/// Bytes of a live process read through /proc/PID/mem (after detach: no ptrace needed).
pub fn proc_mem(pid: i32, addr: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open /proc/PID/mem");
    let mut buf = vec![0u8; len];
    f.read_exact_at(&mut buf, addr).expect("read /proc/PID/mem");
    buf
}

pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == field).then(|| v.trim().to_string())
    })
}

/// Launch with stdout and stderr discarded (tests must not spam the harness).
pub fn launch(exe: &Path, args: &[&str]) -> (PidGuard, PtraceProcess) {
    let mut o = LaunchOptions::new(exe).args(args.iter().copied());
    o.stdout = Redirect::Null;
    o.stderr = Redirect::Null;
    let p = PtraceProcess::launch(&o).expect("launch under ptrace");
    (PidGuard(coroner::backend::Process::pid(&p) as i32), p)
}

/// Start a program untraced (to attach to it later).
pub fn spawn(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> ChildGuard {
    let mut c = Command::new(exe);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    ChildGuard(c.spawn().expect("spawn"))
}

/// Decompress the Go 1.22 `scenarios` fixture binary into `dir`.
pub fn go_scenarios(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures/go1.22-opt/scenarios.zst");
    let dst = dir.join("scenarios");
    let f = std::fs::File::open(&src).expect("open scenarios.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create scenarios");
    std::io::copy(&mut d, &mut out).expect("decompress scenarios");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

/// Processes in a stopped or traced state (`ps` STAT t/T) among these pids.
pub fn stopped_among(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|&p| {
            status_field(p, "State").is_some_and(|s| s.starts_with('t') || s.starts_with('T'))
        })
        .collect()
}

/// A C program calling `hot(i)` in a loop (`argv[1]` times, forever without it); exits 7.
pub const LOOP_C: &str = r#"
#include <stdlib.h>
volatile long counter;
__attribute__((noinline)) void hot(long i) { counter += i; __asm__ volatile(""); }
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : -1;
    for (long i = 0; n < 0 || i < n; i++) hot(i);
    return 7;
}
"#;

/// A C program that starts and joins 4 threads per round (`argv[1]` rounds), each
/// calling `work(i)` 20 times: thread churn.
pub const THREADS_C: &str = r#"
#include <pthread.h>
#include <stdlib.h>
volatile long total;
__attribute__((noinline)) void work(long i) { __sync_fetch_and_add(&total, i); }
static void *worker(void *arg) { for (long i = 0; i < 20; i++) work(i); return 0; }
int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 50;
    for (long r = 0; r < rounds; r++) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, 0);
        for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    }
    return 0;
}
"#;
