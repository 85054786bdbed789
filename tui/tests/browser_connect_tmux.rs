//! End to end: the browser of `coroner connect` on a terminal, against a real
//! `coroner exec --headless` server running the live fixture program, in a tmux pane
//! as a user runs it: the panes come from the server's target (registers and memory
//! over JSON-RPC, the binary found through the server's pid), a breakpoint toggled on
//! a source line, continue to it, next, a watch, halt the running program with H (the
//! halt goes out while `continue` waits), quit: the program and the server are gone.

#[path = "support/tmux.rs"]
mod tmux;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tmux::*;

/// `coroner exec --headless` on the fixture, and its address once it listens.
fn start_server(exe: &std::path::Path) -> (ChildGuard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "--headless", "--listen=127.0.0.1:0"])
        .arg(exe)
        .args(["--", "loop", "1000000000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the headless server");
    let out = child.stdout.take().expect("stdout");
    let guard = ChildGuard(child);
    let mut out = BufReader::new(out);
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(a) = line.trim().strip_prefix("API server listening at: ") {
            addr = Some(a.to_string());
            break;
        }
    }
    let addr = addr.expect("the server printed no address");
    // The program's output comes through the server's stdout: keep draining it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (guard, addr)
}

#[test]
fn browser_over_connect_on_a_launched_program() {
    if !usable("browser_over_connect_on_a_launched_program") {
        return;
    }
    let exe = unpack();
    let call = line_of("loop.go", "loop-call");
    let for_line = line_of("loop.go", "loop-for");
    let (mut server, addr) = start_server(&exe);
    let t = Tmux::start("connect");
    t.typed(&format!(
        "{} connect {addr}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_coroner")
    ));
    t.keys(&["Enter"]);
    let s = t.wait_for("STOPPED:");
    let mut guard = PidGuard(header_pid(&s));
    let pid = guard
        .0
        .unwrap_or_else(|| panic!("no pid in the header:\n{s}"));
    // The command bar's `config` is the client's, as in Delve's terminal.
    substitute_sources(&t);

    breakpoint_continue_watch_next(&t, call, for_line);

    // b on the current line clears the breakpoint; then the program runs and H halts it.
    t.keys(&["b"]);
    t.wait_until("the breakpoint cleared, its mark gone", |s| {
        s.contains("Breakpoint 1 cleared at") && !s.contains(&format!("●=>{call:>4} │"))
    });
    t.keys(&["c"]);
    t.wait_for("RUNNING:");
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["H"]);
    t.wait_until("a halt", |s| {
        state_line(s).starts_with("STOPPED: halted at")
            && s.contains(&format!("pid {pid} (launched)"))
    });

    // q: the server kills what it launched and ends with its client.
    t.keys(&["q"]);
    wait_exit(&t);
    assert!(gone(pid), "process {pid} still exists after quitting");
    guard.0 = None;
    let start = std::time::Instant::now();
    while server.0.try_wait().ok().flatten().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the server still runs after its client quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
