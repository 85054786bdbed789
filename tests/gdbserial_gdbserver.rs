//! The gdbserial backend against real GNU gdbserver: C programs compiled here, and the
//! multithreaded Go fixture. Truth comes from /proc and the ELF files, not from the
//! stub. Every test kills what it started, by pid, however it ends.

use coroner::backend::gdbserial::{GdbRemote, Timeouts};
use coroner::backend::{BackendError, Direction, Process, Resume, StopEvent, WatchKind};
use coroner::snapshot::Snapshot;
use coroner::Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn have_gdbserver() -> bool {
    let ok = Command::new("gdbserver")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: gdbserver not installed");
    }
    ok
}

/// Kills (SIGKILL) every pid it holds when dropped, then checks none is left stopped.
struct Guard {
    pids: Vec<u32>,
}

impl Guard {
    fn new() -> Guard {
        Guard { pids: Vec::new() }
    }
    fn track(&mut self, r: &GdbRemote) {
        self.pids.push(r.pid());
        if let Some(p) = r.stub_pid() {
            self.pids.push(p);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for p in &self.pids {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).output();
        }
        std::thread::sleep(Duration::from_millis(50));
        for p in &self.pids {
            if let Some(s) = proc_state(*p) {
                assert!(
                    !matches!(s, 't' | 'T'),
                    "pid {p} left in state {s} after the test"
                );
            }
        }
    }
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(10),
        request: Duration::from_secs(10),
        resume: Duration::from_secs(30),
    }
}

const LOOP_C: &str = r#"
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
volatile long counter;
long self_tp;
__attribute__((noinline)) void tick(long i) { counter += i; __asm__ volatile(""); }
int main(int argc, char **argv) {
    int mode = argc > 1 ? atoi(argv[1]) : 0;
    /* glibc keeps the TCB's self pointer at fs:0, so this equals fs_base. */
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self_tp));
    if (mode == 1) { raise(SIGUSR1); return 3; }
    if (mode == 2) return 7;
    for (long i = 1;; i++) { tick(i); if (mode == 3) usleep(1000); }
}
"#;

const THREADS_C: &str = r#"
#include <pthread.h>
#include <unistd.h>
volatile int ready;
long self_tp;
void *worker(void *a) { (void)a; __sync_fetch_and_add(&ready, 1); for (;;) pause(); return 0; }
__attribute__((noinline)) void all_started(void) { __asm__ volatile(""); }
int main(void) {
    pthread_t t[4];
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self_tp));
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, 0);
    while (ready < 4) usleep(1000);
    all_started();
    for (;;) pause();
}
"#;

struct Built {
    _dir: tempfile::TempDir,
    bin: PathBuf,
}

fn build(src: &str, name: &str) -> Built {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = dir.path().join(format!("{name}.c"));
    std::fs::write(&c, src).expect("write source");
    let bin = dir.path().join(name);
    let out = Command::new("cc")
        .args(["-O1", "-g", "-no-pie", "-fno-inline", "-pthread", "-o"])
        .arg(&bin)
        .arg(&c)
        .output()
        .expect("run cc");
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Built { _dir: dir, bin }
}

fn symbol(bin: &Path, name: &str) -> u64 {
    let data = std::fs::read(bin).expect("read binary");
    let elf = goblin::elf::Elf::parse(&data).expect("parse ELF");
    elf.syms
        .iter()
        .find(|s| elf.strtab.get_at(s.st_name) == Some(name))
        .map(|s| s.st_value)
        .unwrap_or_else(|| panic!("no symbol {name}"))
}

/// (vaddr, bytes) of the binary's .text.
fn text(bin: &Path) -> (u64, Vec<u8>) {
    let data = std::fs::read(bin).expect("read binary");
    let elf = goblin::elf::Elf::parse(&data).expect("parse ELF");
    let sh = elf
        .section_headers
        .iter()
        .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".text"))
        .expect(".text");
    let off = sh.sh_offset as usize;
    (sh.sh_addr, data[off..off + sh.sh_size as usize].to_vec())
}

fn launch(bin: &Path, args: &[&str], guard: &mut Guard) -> GdbRemote {
    let r = GdbRemote::launch_gdbserver(bin, args, timeouts()).expect("launch under gdbserver");
    guard.track(&r);
    r
}

fn run_to(p: &mut GdbRemote, addr: u64) -> (u32, Arc<dyn Snapshot>) {
    p.insert_breakpoint(Addr(addr)).expect("insert breakpoint");
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    let ev = p.wait().expect("wait");
    let StopEvent::Breakpoint { tid, pc } = ev else {
        panic!("expected a breakpoint stop, got {ev:?}");
    };
    assert_eq!(pc, Addr(addr));
    (tid, p.snapshot().expect("snapshot"))
}

#[test]
fn handshake_threads_and_registers_match_proc() {
    if !have_gdbserver() {
        return;
    }
    let b = build(THREADS_C, "threads");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &[] as &[&str], &mut g);
    eprintln!("handshake: {} packets", p.packets_sent());
    let f = p.features().clone();
    assert!(f.packet_size >= 0x1000, "{}", f.raw);
    assert!(f.xfer_features && f.xfer_auxv && f.xfer_exec_file && f.xfer_siginfo);
    assert_eq!(p.register_map().source, "target.xml");
    assert!(p.register_map().by_name("fs_base").is_some());
    assert!(p.exe_path().is_some_and(|e| e.ends_with("threads")));
    let auxv_entry = symbol(&b.bin, "_start");

    let t0 = Instant::now();
    let (tid, s) = run_to(&mut p, symbol(&b.bin, "all_started"));
    assert_eq!(tid, p.pid(), "main thread hits all_started");
    eprintln!("run to breakpoint: {:?}", t0.elapsed());
    assert_eq!(s.auxv_value(9), Some(auxv_entry), "AT_ENTRY");

    let mut want: Vec<u32> = std::fs::read_dir(format!("/proc/{}/task", p.pid()))
        .expect("task dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    want.sort();
    let mut got: Vec<u32> = s.threads().iter().map(|t| t.tid).collect();
    got.sort();
    assert_eq!(got, want, "thread list equals /proc/PID/task");
    assert_eq!(got.len(), 5);

    for t in s.threads() {
        // The last two fields of /proc/PID/task/TID/syscall are sp and pc.
        let sc = std::fs::read_to_string(format!("/proc/{}/task/{}/syscall", p.pid(), t.tid))
            .expect("syscall file");
        let f: Vec<&str> = sc.split_whitespace().collect();
        let n = f.len();
        let sp = u64::from_str_radix(f[n - 2].trim_start_matches("0x"), 16).expect("sp");
        let pc = u64::from_str_radix(f[n - 1].trim_start_matches("0x"), 16).expect("pc");
        // The thread on the breakpoint: the kernel still has its PC past the int3;
        // the backend reports the breakpoint address.
        let adjust = if t.tid == tid { 1 } else { 0 };
        assert_eq!(
            (t.regs.rsp, t.regs.rip + adjust),
            (sp, pc),
            "thread {} regs vs /proc",
            t.tid
        );
        // glibc's TCB begins with a pointer to itself: fs_base must point at it.
        assert_ne!(t.regs.fs_base, 0, "thread {} fs_base", t.tid);
        assert_eq!(
            s.read_u64(Addr(t.regs.fs_base)).expect("TCB"),
            t.regs.fs_base
        );
        assert_eq!(t.regs.cs, 0x33);
    }
    let main = s.threads().iter().find(|t| t.tid == p.pid()).expect("main");
    assert_eq!(main.regs.rip, symbol(&b.bin, "all_started"));
    let tp = s
        .read_u64(Addr(symbol(&b.bin, "self_tp")))
        .expect("self_tp");
    assert_eq!(
        tp, main.regs.fs_base,
        "fs_base equals what the program read from fs:0"
    );

    // Text equals the file, breakpoint byte hidden.
    let (va, bytes) = text(&b.bin);
    let mut buf = vec![0u8; bytes.len()];
    s.read(Addr(va), &mut buf).expect("read .text");
    assert_eq!(buf, bytes, ".text in memory equals the ELF file");

    let maps = s.mapped_files();
    assert!(maps.iter().any(|m| m.path.ends_with("threads")), "{maps:?}");
    assert!(!s.regions().is_empty());
    eprintln!(
        "packets so far: {}; notes: {:?}",
        p.packets_sent(),
        p.notes()
    );

    p.kill().expect("kill");
    assert!(matches!(p.snapshot(), Err(BackendError::Exited)));
    assert!(matches!(
        s.read_u8(Addr(va)),
        Err(coroner::snapshot::MemError::Stale(_))
    ));
}

#[test]
fn breakpoint_step_and_rehit() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["0"], &mut g);
    let tick = symbol(&b.bin, "tick");
    // gdbserver cannot run backwards: said up front, refused cleanly.
    assert!(!p.capabilities().reverse);
    assert!(matches!(
        p.resume(Resume::Continue, Direction::Reverse),
        Err(BackendError::Unsupported(_))
    ));
    let (tid, s) = run_to(&mut p, tick);
    let first_rdi = s.threads()[0].regs.rdi;
    assert_eq!(
        s.read_u8(Addr(tick)).expect("read"),
        text_byte(&b.bin, tick),
        "int3 hidden"
    );

    // Step one instruction: the PC moves, the event says so.
    p.resume(Resume::Step(tid), Direction::Forward)
        .expect("step");
    assert_eq!(p.wait().expect("wait"), StopEvent::Stepped { tid });
    let s2 = p.snapshot().expect("snapshot");
    assert_ne!(s2.threads()[0].regs.rip, tick);
    assert!(matches!(
        s.read_u8(Addr(tick)),
        Err(coroner::snapshot::MemError::Stale(_))
    ));

    // Continue: the breakpoint is hit again, on the next call.
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    assert_eq!(
        p.wait().expect("wait"),
        StopEvent::Breakpoint {
            tid,
            pc: Addr(tick)
        }
    );
    let s3 = p.snapshot().expect("snapshot");
    assert_eq!(s3.threads()[0].regs.rdi, first_rdi + 1);

    // Setting registers: rdi is the argument to tick.
    let mut regs = s3.threads()[0].regs.clone();
    regs.rdi = 1000;
    p.set_registers(tid, &regs).expect("set regs");
    assert_eq!(p.snapshot().expect("snapshot").threads()[0].regs.rdi, 1000);

    // Memory writes show through every snapshot of this stop, cached or not.
    let counter = Addr(symbol(&b.bin, "counter"));
    let _ = s3.read_u64(counter).expect("cache the page");
    p.write_memory(counter, &0x1122_3344_5566_7788u64.to_le_bytes())
        .expect("write");
    assert_eq!(
        s3.read_u64(counter).expect("patched cache"),
        0x1122_3344_5566_7788
    );
    let fresh = p.snapshot().expect("snapshot");
    assert_eq!(
        fresh.read_u64(counter).expect("read"),
        0x1122_3344_5566_7788
    );

    p.remove_breakpoint(Addr(tick)).expect("remove");
    assert!(p.breakpoints().is_empty());
    p.kill().expect("kill");
}

fn text_byte(bin: &Path, addr: u64) -> u8 {
    let (va, bytes) = text(bin);
    bytes[(addr - va) as usize]
}

#[test]
fn watchpoint_fires_on_write() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["0"], &mut g);
    let counter = symbol(&b.bin, "counter");
    p.set_watchpoint(0, Addr(counter), 8, WatchKind::Write)
        .expect("watch");
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    let ev = p.wait().expect("wait");
    let StopEvent::Watchpoint { slot, addr, .. } = ev else {
        panic!("expected a watchpoint, got {ev:?}");
    };
    assert_eq!((slot, addr), (0, Addr(counter)));
    let s = p.snapshot().expect("snapshot");
    assert_eq!(
        s.read_u64(Addr(counter)).expect("counter"),
        1,
        "first write done"
    );
    p.clear_watchpoint(0).expect("clear");
    p.kill().expect("kill");
}

#[test]
fn signal_is_reported_with_siginfo_then_discarded_and_exit_status() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["1"], &mut g);
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    let ev = p.wait().expect("wait");
    assert_eq!(
        ev,
        StopEvent::Signal {
            tid: p.pid(),
            signo: 10
        },
        "SIGUSR1"
    );
    let s = p.snapshot().expect("snapshot");
    let si = s.signal().expect("siginfo");
    assert_eq!(si.signo, 10);
    assert_eq!(
        si.sender_pid,
        Some(p.pid() as i32),
        "raise() sends to itself"
    );
    assert_eq!(s.threads()[0].signal, 10);
    p.discard_signal(p.pid());
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    assert_eq!(p.wait().expect("wait"), StopEvent::Exited { status: 3 });
    assert!(matches!(
        p.resume(Resume::Continue, Direction::Forward),
        Err(BackendError::Exited)
    ));
}

#[test]
fn delivered_signal_kills_and_plain_exit() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["1"], &mut g);
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    assert!(matches!(
        p.wait().expect("wait"),
        StopEvent::Signal { signo: 10, .. }
    ));
    // Not discarded: SIGUSR1's default action ends the program.
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    assert_eq!(p.wait().expect("wait"), StopEvent::Killed { signo: 10 });

    let mut p = launch(&b.bin, &["2"], &mut g);
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    assert_eq!(p.wait().expect("wait"), StopEvent::Exited { status: 7 });
}

#[test]
fn interrupt_while_running_then_detach_leaves_it_running() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["3"], &mut g);
    let pid = p.pid();
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    let intr = p.interrupter();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        intr.interrupt();
    });
    let t0 = Instant::now();
    assert_eq!(p.wait().expect("wait"), StopEvent::Interrupted);
    assert!(t0.elapsed() < Duration::from_secs(5));
    t.join().expect("join");
    let c1 = p
        .snapshot()
        .expect("snapshot")
        .read_u64(Addr(symbol(&b.bin, "counter")))
        .expect("counter");
    assert!(c1 > 0, "the loop ran");
    // A breakpoint left inserted must be removed by detach.
    p.insert_breakpoint(Addr(symbol(&b.bin, "tick")))
        .expect("bp");
    p.detach().expect("detach");
    std::thread::sleep(Duration::from_millis(200));
    let st = proc_state(pid).expect("still alive after detach");
    assert!(matches!(st, 'S' | 'R'), "state {st}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(status.contains("TracerPid:\t0"), "untraced after detach");
    // Still running: attach again and see the counter moved on.
    let mut p2 = GdbRemote::attach_gdbserver(pid, timeouts()).expect("attach");
    g.track(&p2);
    let s = p2.snapshot().expect("snapshot");
    let c2 = s
        .read_u64(Addr(symbol(&b.bin, "counter")))
        .expect("counter");
    assert!(c2 > c1, "the program ran on after detach ({c1} → {c2})");
    drop(s);
    p2.kill().expect("kill");
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(proc_state(pid), None | Some('Z')), "killed");
}

#[test]
fn stub_killed_mid_continue_gives_one_line_error_and_no_hang() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["3"], &mut g);
    let tick = symbol(&b.bin, "tick");
    let (_, s) = run_to(&mut p, tick);
    let before = s.read_u64(Addr(tick)).expect("read text");
    p.remove_breakpoint(Addr(tick)).expect("remove");
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    let stub = p.stub_pid().expect("stub pid");
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill")
        .args(["-9", &stub.to_string()])
        .output();
    let t0 = Instant::now();
    let err = p.wait().expect_err("stub is gone");
    assert!(t0.elapsed() < Duration::from_secs(5), "no hang");
    let msg = err.to_string();
    assert!(matches!(err, BackendError::Remote(_)), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(msg.contains("closed the connection"), "{msg}");
    eprintln!("error after kill -9 of the stub: {msg}");
    // Everything else fails fast with the same kind of error.
    let t0 = Instant::now();
    assert!(matches!(p.snapshot(), Err(BackendError::Remote(_))));
    assert!(matches!(
        p.insert_breakpoint(Addr(tick)),
        Err(BackendError::Remote(_))
    ));
    assert!(t0.elapsed() < Duration::from_secs(1));
    // That snapshot is of the stop before the continue: stale, not a hang.
    assert!(matches!(
        s.read_u64(Addr(tick)),
        Err(coroner::snapshot::MemError::Stale(_))
    ));
    assert_ne!(before, 0);
}

#[test]
fn stub_killed_while_stopped_keeps_cached_pages() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &["0"], &mut g);
    let tick = symbol(&b.bin, "tick");
    let (_, s) = run_to(&mut p, tick);
    let before = s.read_u64(Addr(tick)).expect("read text");
    let stub = p.stub_pid().expect("stub pid");
    let _ = Command::new("kill")
        .args(["-9", &stub.to_string()])
        .output();
    std::thread::sleep(Duration::from_millis(100));
    // Cached page: still readable. Uncached: one-line Io error, no hang.
    assert_eq!(s.read_u64(Addr(tick)).expect("cached"), before);
    let t0 = Instant::now();
    let e = s
        .read_u64(Addr(s.threads()[0].regs.rsp))
        .expect_err("stub gone");
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(!e.to_string().contains('\n'), "{e}");
    // The process object says the same, at once.
    let e = p.insert_breakpoint(Addr(tick + 1)).expect_err("stub gone");
    assert!(matches!(e, BackendError::Remote(_)), "{e}");
}

#[test]
fn garbage_peer_gives_one_line_error() {
    // A peer that is not a stub at all: it sends noise, then nothing.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let t = std::thread::spawn(move || {
        use std::io::Write;
        if let Ok((mut s, _)) = l.accept() {
            let _ = s.write_all(b"+$garbage#00 \x00\xff\r\nHTTP/1.1 200 OK\r\n");
            std::thread::sleep(Duration::from_millis(1500));
        }
    });
    let t0 = Instant::now();
    let e = GdbRemote::connect_with(
        &addr.to_string(),
        Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(1),
            resume: Duration::from_secs(1),
        },
        None,
    )
    .err()
    .expect("not a stub");
    assert!(t0.elapsed() < Duration::from_secs(4));
    let msg = e.to_string();
    assert!(matches!(e, BackendError::Remote(_)), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    eprintln!("garbage peer: {msg}");
    let _ = t.join();
}

fn go_fixture() -> Option<(tempfile::TempDir, PathBuf)> {
    let zst = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures/go1.22-opt/scenarios.zst");
    let f = std::fs::File::open(&zst).ok()?;
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("scenarios");
    let mut out = std::fs::File::create(&bin).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Some((dir, bin))
}

#[test]
fn go_service_wait_threads_tls_and_bulk_text() {
    if !have_gdbserver() {
        return;
    }
    let Some((_dir, bin)) = go_fixture() else {
        eprintln!("SKIPPED: Go fixture missing");
        return;
    };
    let mut g = Guard::new();
    let mut p = launch(&bin, &["service_wait"], &mut g);
    p.resume(Resume::Continue, Direction::Forward)
        .expect("continue");
    let intr = p.interrupter();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        intr.interrupt();
    });
    let ev = p.wait().expect("wait");
    t.join().expect("join");
    assert_eq!(
        ev,
        StopEvent::Interrupted,
        "Go's SIGURG/SIGPROF never surface"
    );

    let n0 = p.packets_sent();
    let t0 = Instant::now();
    let s = p.snapshot().expect("snapshot");
    let snap_packets = p.packets_sent() - n0;
    let snap_time = t0.elapsed();
    let mut want: Vec<u32> = std::fs::read_dir(format!("/proc/{}/task", p.pid()))
        .expect("task dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    want.sort();
    let mut got: Vec<u32> = s.threads().iter().map(|t| t.tid).collect();
    got.sort();
    assert_eq!(got, want, "thread list equals /proc/PID/task");
    assert!(got.len() >= 3, "a multithreaded Go program: {got:?}");
    let mut with_g = 0;
    for t in s.threads() {
        assert_ne!(t.regs.fs_base, 0, "thread {} fs_base", t.tid);
        // Go on linux/amd64 keeps g at fs_base-8.
        let gp = s.read_u64(Addr(t.regs.fs_base - 8)).expect("TLS g slot");
        if gp != 0 {
            with_g += 1;
        }
    }
    assert!(with_g >= 1, "some thread has a g in TLS");

    // Bulk read: all of .text (about a megabyte), compared with the file.
    let (va, bytes) = text(&bin);
    let n1 = p.packets_sent();
    let t1 = Instant::now();
    let mut buf = vec![0u8; bytes.len()];
    s.read(Addr(va), &mut buf).expect("read .text");
    let read_time = t1.elapsed();
    let read_packets = p.packets_sent() - n1;
    assert_eq!(buf, bytes, ".text equals the ELF file");
    // Read again: served from the page cache, no packets.
    let n2 = p.packets_sent();
    s.read(Addr(va), &mut buf).expect("cached");
    assert_eq!(p.packets_sent(), n2);

    // Concurrent readers over rayon-like threads, scattered small reads.
    let t2 = Instant::now();
    let n3 = p.packets_sent();
    let s2 = s.clone();
    std::thread::scope(|sc| {
        for k in 0..4u64 {
            let s = s2.clone();
            sc.spawn(move || {
                for t in s.threads() {
                    for i in 0..64u64 {
                        let a = t.regs.rsp.wrapping_add((i * 8 + k) & !7);
                        let _ = s.read_u64(Addr(a));
                    }
                }
            });
        }
    });
    eprintln!(
        "go: {} threads; snapshot {:?} / {} packets; .text {} KiB in {:?} / {} packets \
         ({:.0} MiB/s); stack reads {:?} / {} packets; notes {:?}",
        got.len(),
        snap_time,
        snap_packets,
        bytes.len() / 1024,
        read_time,
        read_packets,
        bytes.len() as f64 / read_time.as_secs_f64() / 1048576.0,
        t2.elapsed(),
        p.packets_sent() - n3,
        p.notes()
    );
    drop(s2);
    drop(s);
    p.kill().expect("kill");
}

const HOT_THREADS_C: &str = r#"
#include <pthread.h>
volatile long counter;
__attribute__((noinline)) void tick(long i) { __sync_fetch_and_add(&counter, i); __asm__ volatile(""); }
void *worker(void *a) { (void)a; for (long i = 1;; i++) tick(i); return 0; }
int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, 0);
    for (;;) tick(1);
}
"#;

/// Five threads call the same function as fast as they can: every stop must be the
/// breakpoint, on a thread whose PC is the breakpoint address (stepping one thread
/// off it must not let another run past it, nor surface a stray SIGTRAP).
#[test]
fn breakpoint_hit_by_many_threads_and_hw_breakpoint() {
    if !have_gdbserver() {
        return;
    }
    let b = build(HOT_THREADS_C, "hot");
    let mut g = Guard::new();
    let mut p = launch(&b.bin, &[] as &[&str], &mut g);
    let tick = symbol(&b.bin, "tick");
    p.insert_breakpoint(Addr(tick)).expect("bp");
    let mut tids = std::collections::BTreeSet::new();
    let t0 = Instant::now();
    let n0 = p.packets_sent();
    for _ in 0..40 {
        p.resume(Resume::Continue, Direction::Forward)
            .expect("continue");
        let ev = p.wait().expect("wait");
        let StopEvent::Breakpoint { tid, pc } = ev else {
            panic!("expected the breakpoint, got {ev:?}");
        };
        assert_eq!(pc, Addr(tick));
        let s = p.snapshot().expect("snapshot");
        let t = s.threads().iter().find(|t| t.tid == tid).expect("thread");
        assert_eq!(t.regs.rip, tick);
        tids.insert(tid);
    }
    eprintln!(
        "40 breakpoint hits (continue + snapshot) in {:?}, {} packets; {} threads hit",
        t0.elapsed(),
        p.packets_sent() - n0,
        tids.len()
    );
    assert!(tids.len() >= 2, "several threads hit it: {tids:?}");
    p.remove_breakpoint(Addr(tick)).expect("remove");

    // The same with a hardware breakpoint (Z1): nothing to step over in memory.
    p.insert_hw_breakpoint(Addr(tick)).expect("hw bp");
    for _ in 0..3 {
        p.resume(Resume::Continue, Direction::Forward)
            .expect("continue");
        let ev = p.wait().expect("wait");
        assert!(
            matches!(ev, StopEvent::Breakpoint { pc, .. } if pc == Addr(tick)),
            "{ev:?}"
        );
    }
    p.remove_hw_breakpoint(Addr(tick)).expect("remove hw");
    p.kill().expect("kill");
}

#[test]
fn launch_failure_is_one_line() {
    if !have_gdbserver() {
        return;
    }
    let t0 = Instant::now();
    let e = GdbRemote::launch_gdbserver(Path::new("/nonexistent/prog"), &[] as &[&str], timeouts())
        .err()
        .expect("no such program");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let msg = e.to_string();
    assert!(matches!(e, BackendError::Launch(_)), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    eprintln!("launch failure: {msg}");
}

#[test]
fn stub_that_stops_answering_times_out_once() {
    if !have_gdbserver() {
        return;
    }
    let b = build(LOOP_C, "loop");
    let mut g = Guard::new();
    let short = Timeouts {
        request: Duration::from_millis(800),
        ..timeouts()
    };
    let mut p = GdbRemote::launch_gdbserver(&b.bin, &["0"], short).expect("launch");
    g.track(&p);
    let s = p.snapshot().expect("snapshot");
    let stub = p.stub_pid().expect("stub pid").to_string();
    let _ = Command::new("kill").args(["-STOP", &stub]).output();
    let t0 = Instant::now();
    let e = s
        .read_u64(Addr(s.threads()[0].regs.rsp))
        .expect_err("no answer");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    let msg = e.to_string();
    assert!(msg.contains("no reply") && !msg.contains('\n'), "{msg}");
    eprintln!("silent stub: {msg}");
    // The session is over: a late reply must never be read as another's answer.
    let t1 = Instant::now();
    let e = p
        .insert_breakpoint(Addr(symbol(&b.bin, "tick")))
        .expect_err("dead");
    assert!(matches!(e, BackendError::Remote(_)), "{e}");
    assert!(t1.elapsed() < Duration::from_millis(200));
    let _ = Command::new("kill").args(["-CONT", &stub]).output();
}
