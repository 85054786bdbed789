//! Reverse execution in CI against a real reverse-capable stub: QEMU's system
//! record/replay (TCG, `-icount rr=record|replay`). A committed fixture Go program is
//! the `/init` of a tiny initramfs on a Debian cloud kernel; the test records one boot,
//! then replays it with QEMU's gdbstub and drives `coroner remote` through forward and
//! reverse breakpoints, steps and step-outs. QEMU's stub offers ReverseStep+ and
//! ReverseContinue+, reads the program's memory through the vCPU's page tables, and
//! serves one thread (the vCPU): it checks the packets and the Go-aware logic above
//! them, where rr.soft, by hand, checks the rest.
//!
//! Needs `qemu-system-x86_64`, `qemu-img` and a kernel: `CORONER_QEMU_KERNEL`, else
//! the one `.ci/run` unpacks under /var/cache/coroner/qemu-kernel, else /boot/vmlinuz-*.
//! Skips loudly without them. Every reverse operation replays from boot (QEMU hangs
//! on snapshots taken mid-replay), so each costs seconds: the session is short, and
//! both QEMU and coroner are killed by pid (SIGKILL) however the test ends.

#[path = "support/live.rs"]
mod live;
#[path = "support/run.rs"]
mod run;

#[path = "support/dlv.rs"]
mod dlv;

use live::{marker_line, unpack, TempDir};
use run::{run_capture, try_capture_while, Guard};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KERNEL_CACHE: &str = "/var/cache/coroner/qemu-kernel/boot";

/// One replay at a time: two TCG machines and their clients on a 2-core runner slow
/// each other past their time limits (seen: 420 s for an 80 s session).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kernel() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("CORONER_QEMU_KERNEL") {
        return Some(PathBuf::from(k));
    }
    for dir in [KERNEL_CACHE, "/boot"] {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut ks: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("vmlinuz-"))
            })
            .filter(|p| std::fs::File::open(p).is_ok())
            .collect();
        ks.sort();
        if let Some(k) = ks.pop() {
            return Some(k);
        }
    }
    None
}

fn usable() -> Option<PathBuf> {
    for tool in ["qemu-system-x86_64", "qemu-img"] {
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            eprintln!(
                "SKIPPED: replay_qemu: {tool} is not installed \
                 (apt-get install qemu-system-x86 qemu-utils)"
            );
            return None;
        }
    }
    let k = kernel();
    if k.is_none() {
        eprintln!(
            "SKIPPED: replay_qemu: no kernel to boot: set CORONER_QEMU_KERNEL to a vmlinuz \
             (.ci/run unpacks Debian's linux-image-cloud-amd64 into {KERNEL_CACHE})"
        );
    }
    k
}

/// A newc cpio archive (what the kernel unpacks as its initramfs) with /dev/console
/// and `/init`.
fn initramfs(init: &[u8]) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let fields = [
            0, // ino
            mode,
            0, // uid
            0, // gid
            1, // nlink
            0, // mtime
            data.len() as u32,
            0,
            0, // dev
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    entry(&mut out, "dev", 0o040755, (0, 0), &[]);
    entry(&mut out, "dev/console", 0o020600, (5, 1), &[]);
    entry(&mut out, "init", 0o100755, (0, 0), init);
    entry(&mut out, "TRAILER!!!", 0, (0, 0), &[]);
    out
}

/// What a recording needs: the kernel, the initramfs, the record log and the qcow2
/// drive that holds its `init` snapshot.
struct Recording {
    dir: TempDir,
    kernel: PathBuf,
    exe: PathBuf,
}

/// Arguments that make record and replay the same machine.
fn machine(rec: &Recording, mode: &str) -> Vec<String> {
    let d = rec.dir.path();
    vec![
        "-kernel".into(),
        rec.kernel.display().to_string(),
        "-initrd".into(),
        d.join("init.cpio").display().to_string(),
        "-append".into(),
        "console=ttyS0 panic=-1 quiet -- loop 50".into(),
        "-display".into(),
        "none".into(),
        "-no-reboot".into(),
        "-m".into(),
        "256".into(),
        "-net".into(),
        "none".into(),
        "-monitor".into(),
        "none".into(),
        "-icount".into(),
        format!(
            "shift=auto,rr={mode},rrfile={},rrsnapshot=init",
            d.join("rr.bin").display()
        ),
        "-drive".into(),
        format!("file={},if=none,id=rr", d.join("snap.qcow2").display()),
    ]
}

fn record(kernel: PathBuf) -> Recording {
    let dir = TempDir::new("replay-qemu");
    let exe = unpack("go1.25-noopt", dir.path());
    let init = std::fs::read(&exe).expect("read fixture");
    std::fs::write(dir.path().join("init.cpio"), initramfs(&init)).expect("write initramfs");
    let st = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(dir.path().join("snap.qcow2"))
        .arg("64M")
        .status()
        .expect("qemu-img");
    assert!(st.success(), "qemu-img create failed");
    let rec = Recording { dir, kernel, exe };
    let mut c = Command::new("qemu-system-x86_64");
    c.args(machine(&rec, "record")).args(["-serial", "stdio"]);
    let started = Instant::now();
    let (out, err) = run_capture(c, "", Duration::from_secs(180));
    // The program's own output is the oracle that the recorded boot ran it to the end.
    assert!(
        out.contains("sum=197"),
        "the recorded boot did not run the program:\n{out}\n{err}"
    );
    eprintln!(
        "replay_qemu: recorded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    rec
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// QEMU replaying the recording, paused at the reset vector, its gdbstub on a free
/// loopback port.
fn replay(rec: &Recording) -> (Guard, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut c = Command::new("qemu-system-x86_64");
        c.args(machine(rec, "replay"))
            .arg("-serial")
            .arg(format!(
                "file:{}",
                rec.dir.path().join("replay.serial").display()
            ))
            .arg("-gdb")
            .arg(format!("tcp:127.0.0.1:{port}"))
            .arg("-S")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut g = Guard(c.spawn().expect("spawn qemu"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // That probe was a client: QEMU's stub serves the next one.
                return (g, port);
            }
            if g.0.try_wait().ok().flatten().is_some() {
                break; // the port was taken meanwhile: try another
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = g.0.kill();
    }
    panic!("QEMU's gdbstub never listened");
}

/// CPU time (user + system, in clock ticks) process `pid` has used.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted after the command name's ')'.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// How long QEMU may use (nearly) no CPU while a session waits on it before it counts
/// as hung: a replaying TCG machine keeps a core busy, a deadlocked one sleeps.
const STALL: Duration = Duration::from_secs(60);

/// One REPL session over a fresh replay. QEMU's reverse replay hangs now and then (the
/// issue measured one gdb `reverse-next` of three; sessions 10 and 11 saw it in full
/// suite runs, the same session passing in 83-97 s right after): a session whose QEMU
/// has used less than a second of CPU in the last minute, or that runs past its hard
/// limit, is killed with QEMU and run again on a new replay, up to three times. Wrong
/// output never gets a second try.
fn session(rec: &Recording, script: &str) -> String {
    let cmds = rec.dir.path().join("session.cmds");
    std::fs::write(&cmds, script).expect("write script");
    for attempt in 1..=3 {
        let (qemu, port) = replay(rec);
        let qpid = qemu.0.id();
        let mut c = Command::new(env!("CARGO_BIN_EXE_coroner"));
        c.arg("remote")
            .arg("--init")
            .arg(&cmds)
            .arg(format!("127.0.0.1:{port}"))
            .arg(&rec.exe);
        let started = Instant::now();
        // (time, QEMU's CPU ticks then), one sample a second, the last minute's kept.
        let mut samples: std::collections::VecDeque<(Instant, u64)> = Default::default();
        let tick = 100; // USER_HZ on Linux
        let healthy = || {
            let Some(now) = cpu_ticks(qpid) else {
                return true;
            };
            samples.push_back((Instant::now(), now));
            while samples.front().is_some_and(|(t, _)| t.elapsed() > STALL) {
                samples.pop_front();
            }
            match samples.front() {
                Some((t, then)) if t.elapsed() + Duration::from_secs(2) >= STALL => {
                    now.saturating_sub(*then) >= tick
                }
                _ => true,
            }
        };
        if let Some((out, err)) = try_capture_while(c, "", Duration::from_secs(420), healthy) {
            eprintln!(
                "replay_qemu: session took {:.1} s",
                started.elapsed().as_secs_f64()
            );
            return format!("{out}{err}");
        }
        eprintln!(
            "replay_qemu: WARNING: attempt {attempt}: QEMU's reverse replay hung (idle for \
             {}s, or past 420 s after {:.0} s); coroner and QEMU killed",
            STALL.as_secs(),
            started.elapsed().as_secs_f64()
        );
        drop(qemu);
    }
    panic!("replay_qemu: the session hung three times on fresh QEMU replays");
}

/// Lines that are not source listing.
fn essentials(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("    ") && !l.starts_with("=>"))
        .map(str::to_string)
        .collect()
}

fn src(file: &str) -> String {
    format!("/tmp/coroner-fixtures-live/src/{file}")
}

#[test]
fn qemu_replay_forward_and_backward_go_aware() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(k) = usable() else { return };
    let rec = record(k);
    let text = session(
        &rec,
        "goroutines\nbreak main.f\ncontinue\ncontinue\nprint i\ngoroutines\n\
         stepout\nnext\nrev next\nrev stepout\nprint i\n\
         rev continue\nprint i\nrev step-instruction\nbt\nexit\n",
    );
    let l = essentials(&text);
    let all = l.join("\n");
    let mut at = 0;
    let mut next = |want: &str| -> String {
        let p = l
            .iter()
            .skip(at)
            .position(|x| x.starts_with(want))
            .unwrap_or_else(|| panic!("{want:?} missing after line {at} in:\n{all}"));
        at += p + 1;
        l[at - 1].clone()
    };
    let f14 = format!("main.f() {}:14", src("loop.go"));
    let call = marker_line("loop.go", "loop-call");
    let for_ = marker_line("loop.go", "loop-for");
    // Before the kernel has started the program, nothing is there yet: said, not fatal
    // (and `goroutines` lists none, printing nothing, as Delve does for an empty list).
    assert!(
        text.contains("coroner: warning: the target's memory does not hold the binary's code"),
        "{text}"
    );
    next(&format!(
        "> [Breakpoint 1] {f14} (hits goroutine(1):1 total:1)"
    ));
    next(&format!(
        "> [Breakpoint 1] {f14} (hits goroutine(1):2 total:2)"
    ));
    assert_eq!(next("1"), "1");
    // The goroutine on the vCPU is found through fs_base (QEMU's target.xml).
    next(&format!(
        "* Goroutine 1 - User: {} main.f",
        src("loop.go:14")
    ));
    // stepout and next forward, Go-aware (breakpoints on the goroutine's return).
    next(&format!("> main.loopMain() {}:{call}", src("loop.go")));
    next("Values returned:");
    next(&format!("> main.loopMain() {}:{for_}", src("loop.go")));
    // Backwards over the call: the breakpoint inside it stops the reverse next.
    next(&format!(
        "> [Breakpoint 1] {f14} (hits goroutine(1):3 total:3)"
    ));
    // Reverse stepout: back to the call instruction in the caller.
    next(&format!("> main.loopMain() {}:{call}", src("loop.go")));
    assert_eq!(next("1"), "1", "still the second call");
    // Reverse continue: the first call's breakpoint.
    next(&format!("> [Breakpoint 1] {f14}"));
    assert_eq!(next("0"), "0", "the first call");
    // One instruction back: still main.f's prologue (the breakpoint is after it).
    next(&format!("> {f14} (PC: 0x"));
    next("0  0x");
    next("1  0x");
    assert!(
        l[at - 1].contains("main.loopMain"),
        "bt after rev si: {}",
        l[at - 1]
    );
}

/// Delve's own `dlv connect` client (Debian's Delve 1.20) on `coroner remote --headless`
/// over a QEMU replay: its transcript of breakpoints, `rev next`, `rev stepout` and
/// `rewind` equals coroner's REPL on a second replay of the same recording (the
/// client's reverse commands, sent as JSON-RPC `Command`s, run backwards the same way).
///
/// Not run by default: six reverse operations over two replays take 3 minutes, and in
/// one full-suite run of three here a session never finished (QEMU's reverse replay is
/// known to hang now and then); CI keeps the shorter test above. Run it by hand with
/// `cargo test -p coroner-tui --test replay_qemu -- --ignored`.
#[test]
#[ignore = "slow (3 min) and QEMU's reverse replay hung once in three runs: run by hand"]
fn qemu_replay_dlv_connect_runs_backwards_as_the_repl() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    if !dlv::dlv_available() {
        return;
    }
    let Some(k) = usable() else { return };
    let rec = record(k);
    let exe = rec.exe.to_string_lossy().into_owned();
    // rewind from the third call's stop to the second's, rev next back out of it, rev
    // stepout on through the first call's breakpoint (never to the start of history:
    // what a stop outside the program prints is not compared here).
    let cmds = [
        "break main.f",
        "continue",
        "continue",
        "continue",
        "print i",
        "rewind",
        "print i",
        "rev next",
        "rev stepout",
        "print i",
    ];
    // One more command, not compared: Delve's client asks whether to kill an attached
    // process at `exit`, and that prompt lands in the last command's output.
    let run: Vec<&str> = cmds.iter().copied().chain(["print 1"]).collect();
    let started = Instant::now();
    let dlv_out = {
        let (_qemu, port) = replay(&rec);
        let stub = format!("127.0.0.1:{port}");
        let (_server, addr) = dlv::start_server(&["remote", &stub, &exe]);
        dlv::dlv_connect(&addr, &run)
    };
    let repl_out = {
        let (_qemu, port) = replay(&rec);
        let stub = format!("127.0.0.1:{port}");
        dlv::coroner_repl(&["remote", &stub, &exe], &run)
    };
    eprintln!(
        "replay_qemu: two sessions took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Both really went backwards: i goes 2, 1, then 0 at the last stop.
    let values: Vec<&str> = repl_out
        .lines()
        .filter(|l| l.len() == 1 && l.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(values, ["2", "1", "0", "1"], "{repl_out}");
    dlv::compare("qemu replay", &cmds, &dlv_out, &repl_out);
}
