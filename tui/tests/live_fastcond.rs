//! Conditional breakpoints the tracee tests itself (condition pads,
//! `src/backend/ptrace/condpad.rs`), on every live fixture build: the stops are the
//! ones the condition selects (the program's own values are the oracle), the
//! breakpoint really is a jump while armed (read from /proc/PID/mem), and after
//! `detach` every byte coroner changed in the program's code is the binary's again.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "support/live.rs"]
mod live;
use live::{marker_line, ptrace_works, unpack, TempDir, BUILDS};

/// Run a whole script through `coroner exec BIN --init SCRIPT -- ARGS` and return
/// stdout + stderr.
fn run_script(bin: &Path, dir: &Path, script: &str, args: &[&str]) -> String {
    let init = dir.join("script.cmds");
    std::fs::write(&init, script).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("exec")
        .arg(bin)
        .arg("--init")
        .arg(&init)
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run coroner");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The lines that are a bare number (what `print VAR` of an integer prints).
fn numbers(out: &str) -> Vec<i64> {
    out.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[test]
fn stops_are_the_ones_the_condition_selects() {
    if !ptrace_works("fast conditions") {
        return;
    }
    let dir = TempDir::new("fastcond");
    let body = marker_line("step.go", "loop-body-1");
    let mut problems = Vec::new();
    for build in BUILDS {
        let bin = unpack(build, dir.path());
        // ==, a flipped comparison, >= over several stops, a hit count on top.
        let cases: [(&str, &[&str], Vec<i64>); 4] = [
            (
                "break main.f if i == 19999\ncontinue\nprint i\ncontinue\n",
                &["loop"],
                vec![19999],
            ),
            (
                "break main.f if 19997 < i\ncontinue\nprint i\ncontinue\nprint i\ncontinue\n",
                &["loop"],
                vec![19998, 19999],
            ),
            (
                "break main.f if i >= 100\ncondition -hitcount 1 == 3\ncontinue\nprint i\nexit\n",
                &["loop"],
                vec![102],
            ),
            (
                &format!("break step.go:{body} if j == 2\ncontinue\nprint j\ncontinue\n"),
                &["step"],
                vec![2],
            ),
        ];
        for (script, args, want) in &cases {
            // Optimised builds keep no location for j at that line: Delve and coroner
            // stop with an evaluation error there, which is not this test's subject.
            if args[0] == "step" && build.ends_with("-opt") {
                continue;
            }
            let out = run_script(&bin, dir.path(), script, args);
            let got = numbers(&out);
            if &got != want {
                problems.push(format!(
                    "{build} {args:?} {:?}: printed {got:?}, want {want:?}\n{out}",
                    script.lines().next().unwrap_or("")
                ));
            }
            // 20,000 passes through the pad computed what the program computes alone
            // (registers, flags and the displaced instruction intact).
            if args[0] == "loop" && !script.contains("exit") && !out.contains("sum=79997") {
                problems.push(format!(
                    "{build} {:?}: the program's own result is not sum=79997\n{out}",
                    script.lines().next().unwrap_or("")
                ));
            }
            if !script.contains("exit") && !out.contains("has exited with status 0") {
                problems.push(format!(
                    "{build} {:?}: the program did not run to its end\n{out}",
                    script.lines().next().unwrap_or("")
                ));
            }
        }
        // The hits the tracee skipped are not hits: Delve counts only true ones.
        let out = run_script(
            &bin,
            dir.path(),
            "break main.f if i == 19999\ncontinue\nbreakpoints\nexit\n",
            &["loop"],
        );
        let listed = out
            .lines()
            .any(|l| l.starts_with("Breakpoint 1 (enabled)") && l.ends_with(" (1)"));
        if !out.contains("cond i == 19999") || !listed {
            problems.push(format!("{build}: breakpoints after one true hit:\n{out}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// An interactive coroner session over pipes.
struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    pid: Option<u32>,
}

impl Session {
    fn start(bin: &Path, args: &[&str]) -> Session {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coroner"));
        cmd.arg("exec").arg(bin).arg("--").args(args);
        Session::spawn(cmd)
    }

    fn attach(pid: u32) -> Session {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coroner"));
        cmd.arg("attach").arg(pid.to_string());
        Session::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Session {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coroner");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, lines) = mpsc::channel();
        for r in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
        }
        Session {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            pid: None,
        }
    }

    fn send(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").expect("write command");
        self.stdin.flush().expect("flush");
    }

    /// Wait for a line containing `what`; the transcript so far on failure.
    fn expect(&mut self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(p) = l.strip_prefix("ready pid=") {
                        self.pid = p.trim().parse().ok();
                    }
                    self.seen.push(l.clone());
                    if l.contains(what) {
                        return l;
                    }
                }
                Err(_) => panic!("no line with {what:?}; got:\n{}", self.seen.join("\n")),
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The program first (coroner may have detached from it), then coroner.
        if let Some(pid) = self.pid {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_mem(pid: u32, addr: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(format!("/proc/{pid}/mem")).expect("open /proc/PID/mem");
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, addr).expect("read /proc/PID/mem");
    b
}

/// The binary's own bytes at a (non-PIE) virtual address, from its PT_LOAD headers.
fn file_bytes(bin: &Path, addr: u64, len: usize) -> Vec<u8> {
    let data = std::fs::read(bin).expect("read binary");
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().expect("8 bytes"));
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let kind = u32::from_le_bytes(data[ph..ph + 4].try_into().expect("4 bytes"));
        let (off, vaddr, filesz) = (u64_at(ph + 8), u64_at(ph + 16), u64_at(ph + 32));
        if kind == 1 && (vaddr..vaddr + filesz).contains(&addr) {
            let o = (off + addr - vaddr) as usize;
            return data[o..o + len].to_vec();
        }
    }
    panic!("{addr:#x} is in no PT_LOAD of {}", bin.display());
}

fn hex_after(line: &str, prefix: &str) -> u64 {
    let s = &line[line.find(prefix).expect("prefix") + prefix.len()..];
    let s = s.trim_start_matches("0x");
    let end = s.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(s.len());
    u64::from_str_radix(&s[..end], 16).expect("hex address")
}

#[test]
fn an_armed_condition_is_a_jump_and_detach_restores_every_byte() {
    if !ptrace_works("fast conditions") {
        return;
    }
    let dir = TempDir::new("fastcond");
    // The loop body, just under the `for` line (whose first instruction is `k := 0`).
    let busy = marker_line("threads.go", "threads-busy") + 1;
    // Optimised builds keep k in a register with no location at the body's first
    // instruction; the first test covers registers.
    for build in ["go1.19-noopt", "go1.27-noopt"] {
        let bin = unpack(build, dir.path());
        // Four threads spin through the loop line with k counting to 5,000,000, and
        // new threads keep coming: the condition runs in all of them at once.
        let mut s = Session::start(&bin, &["threads", "0"]);
        s.send(&format!("break threads.go:{busy} if k == 4000000"));
        let set = s.expect("Breakpoint 1 set at");
        let addr = hex_after(&set, "set at ");
        s.send("continue");
        s.expect("[Breakpoint 1]");
        s.send("print k");
        let k = s.expect("4000000");
        assert_eq!(k.trim(), "4000000", "{build}: {}", s.seen.join("\n"));
        let pid = s.pid.expect("the program printed its pid");
        let code = read_mem(pid, addr, 2)[0];
        assert!(
            code == 0xe9 || code == 0xeb,
            "{build}: the breakpoint at {addr:#x} is {code:#04x}, not a jmp: the condition was not armed"
        );
        // Halt and resume a few times: threads caught inside a pad are put back.
        for _ in 0..3 {
            s.send("continue");
            s.expect("[Breakpoint 1]");
        }
        s.send("detach");
        s.expect("Detached from process");
        // The program runs on, with its code as the binary has it around the
        // breakpoint (the padding holes within 128 bytes included).
        let (lo, len) = (addr - 128, 256 + 8);
        let want = file_bytes(&bin, lo, len);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            let st = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
            if st.contains("TracerPid:\t0") || Instant::now() > deadline {
                break st;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.contains("TracerPid:\t0"),
            "{build}: still traced:\n{status}"
        );
        assert!(
            !status.contains("State:\tt") && !status.contains("State:\tT"),
            "{build}: left stopped:\n{status}"
        );
        assert_eq!(
            read_mem(pid, lo, len),
            want,
            "{build}: code around {addr:#x} differs from the binary after detach"
        );
    }
}

/// The program, started by the test itself (so coroner attaches), killed by pid
/// however the test ends.
struct Program(Child);

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_while_threads_run_through_condition_pads_leaves_the_program_running() {
    if !ptrace_works("fast conditions") {
        return;
    }
    let dir = TempDir::new("fastcond-term");
    let busy = marker_line("threads.go", "threads-busy") + 1;
    for build in ["go1.22-noopt", "go1.27-noopt"] {
        let bin = unpack(build, dir.path());
        // ETXTBSY: another test's fork may hold the just-written binary open for a
        // moment (until its exec closes the inherited descriptor).
        let mut tries = 0;
        let errlog = dir.path().join(format!("{build}.stderr"));
        let prog = loop {
            let err = std::fs::File::create(&errlog).expect("stderr file");
            match Command::new(&bin)
                .args(["threads", "0"])
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
            {
                Ok(c) => break Program(c),
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("start the program: {e}"),
            }
        };
        let pid = prog.0.id();
        std::thread::sleep(Duration::from_millis(300));
        let mut s = Session::attach(pid);
        // Never true: every pass goes through the pad, none stops.
        s.send(&format!("break threads.go:{busy} if k == -1"));
        let set = s.expect("Breakpoint 1 set at");
        let addr = hex_after(&set, "set at ");
        s.send("continue");
        // Let the jump be armed (at the first stop after continue it is) and threads
        // pass through the pad in their millions.
        let deadline = Instant::now() + Duration::from_secs(10);
        while read_mem(pid, addr, 1)[0] != 0xe9 && read_mem(pid, addr, 1)[0] != 0xeb {
            assert!(
                Instant::now() < deadline,
                "{build}: the condition was never armed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
        let _ = s.child.wait();
        std::thread::sleep(Duration::from_millis(500));
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        assert!(
            !status.contains("State:\tZ") && !status.contains("State:\tX"),
            "{build}: the program died after SIGTERM to coroner:\n{status}\nits stderr:\n{}",
            std::fs::read_to_string(&errlog).unwrap_or_default()
        );
        assert!(
            status.contains("TracerPid:\t0"),
            "{build}: still traced:\n{status}"
        );
        assert!(
            !status.contains("State:\tt") && !status.contains("State:\tT"),
            "{build}: left stopped:\n{status}"
        );
        let (lo, len) = (addr - 128, 256 + 8);
        assert_eq!(
            read_mem(pid, lo, len),
            file_bytes(&bin, lo, len),
            "{build}: code around {addr:#x} differs from the binary after SIGTERM"
        );
        drop(s);
        drop(prog);
    }
}
