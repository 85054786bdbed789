//! The `--headless` listener as a server many clients meet: one port for JSON-RPC
//! (Debian's real `dlv connect` 1.20, and raw requests) and DAP (Microsoft's
//! DebugClient, run by node), clients in turn with --accept-multiclient, a client
//! killed mid-`continue`, the single-client server ending with its client,
//! `--only-same-user` against a client of another uid, and `unix:PATH` listeners.
//!
//! The target is checked from outside coroner where it matters: /proc says whether
//! the launched process still exists, runs, and who traces it.
//!
//! Every process started here is killed by pid when its guard drops.

#[path = "support/run.rs"]
mod run;

use run::{run_capture as run, Guard};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DLV: &str = "/usr/bin/dlv";
/// Iterations of the live fixture's loop: far more than any test lasts.
const FOREVER: &str = "9000000000000";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child killed (by its pid) and reaped on drop.
/// A pid (the debuggee, not our child) killed on drop if still there.
struct PidGuard(i32);
impl Drop for PidGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill(2) on a pid this test's server launched.
            unsafe { libc_kill(self.0) };
        }
    }
}
unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    kill(pid, 9);
}

fn ptrace_ok() -> bool {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").unwrap_or_default();
    if scope.trim() == "3" {
        eprintln!("SKIP: ptrace is disabled (yama ptrace_scope 3)");
        return false;
    }
    true
}

/// The live fixture binary, decompressed into `dir`.
fn live_binary(dir: &Path) -> Option<PathBuf> {
    let src = root().join("cores/live-fixtures/go1.22-noopt/live.zst");
    if !src.exists() {
        eprintln!("SKIP: {} missing", src.display());
        return None;
    }
    let out = dir.join("live");
    let ok = Command::new("zstd")
        .arg("-dqf")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP: zstd could not decompress {}", src.display());
        return None;
    }
    Some(out)
}

fn values_core() -> Option<(String, String)> {
    let d = root().join("cores/fixtures-values/go1.22-noopt");
    let (bin, core) = (d.join("values.zst"), d.join("values.core.zst"));
    if !bin.exists() || !core.exists() {
        eprintln!("SKIP: fixture {} missing", d.display());
        return None;
    }
    Some((
        bin.to_string_lossy().into_owned(),
        core.to_string_lossy().into_owned(),
    ))
}

/// Start `coroner SUB --headless --listen=LISTEN REST...`; the guard and the address
/// it prints.
fn start_server(sub: &str, listen: &str, rest: &[&str]) -> (Guard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg(sub)
        .arg("--headless")
        .arg(format!("--listen={listen}"))
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn coroner: {e}"));
    let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let guard = Guard(child);
    let mut out = BufReader::new(out);
    let mut line = String::new();
    out.read_line(&mut line)
        .unwrap_or_else(|e| panic!("read server banner: {e}"));
    // Keep reading: a launched target shares this stdout and must not get EPIPE.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = line
        .trim()
        .strip_prefix("API server listening at: ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_string();
    (guard, addr)
}

/// Wait up to `limit` for the server to exit by itself.
fn exits_within(g: &mut Guard, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if g.0.try_wait().ok().flatten().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A line-oriented JSON-RPC client over TCP or a unix socket.
struct Rpc {
    r: BufReader<Box<dyn ReadWrite>>,
    id: u64,
}
trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

impl Rpc {
    fn connect(addr: &str) -> Rpc {
        let s: Box<dyn ReadWrite> = if let Some(p) = addr.strip_prefix("unix:") {
            let s = std::os::unix::net::UnixStream::connect(p)
                .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap_or_else(|e| panic!("timeout: {e}"));
            Box::new(s)
        } else {
            let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap_or_else(|e| panic!("timeout: {e}"));
            Box::new(s)
        };
        Rpc {
            r: BufReader::new(s),
            id: 0,
        }
    }
    fn send(&mut self, method: &str, arg: Value) -> u64 {
        self.id += 1;
        let req = json!({"method": format!("RPCServer.{method}"), "params": [arg], "id": self.id});
        let w = self.r.get_mut();
        w.write_all(format!("{req}\n").as_bytes())
            .unwrap_or_else(|e| panic!("write {method}: {e}"));
        self.id
    }
    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.r
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("read reply: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply {line:?}: {e}"))
    }
    /// One call whose reply must come next; its result (panics on an error reply).
    fn call(&mut self, method: &str, arg: Value) -> Value {
        let id = self.send(method, arg);
        let v = self.recv();
        assert_eq!(v["id"], json!(id), "{method}: reply out of turn: {v}");
        assert!(v["error"].is_null(), "{method} failed: {v}");
        v["result"].clone()
    }
}

/// `State` field of `/proc/PID/status` ("R (running)", "t (tracing stop)", ...), and
/// the process (thread group) that traces it, 0 if none; None when the process is
/// gone or a zombie.
fn proc_status(pid: i64) -> Option<(String, i64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
    };
    let state = field("State:")?;
    if state.starts_with('Z') || state.starts_with('X') {
        return None;
    }
    let tracer: i64 = field("TracerPid:")?.parse().ok()?;
    // TracerPid names the tracing thread (coroner traces from a thread of its own).
    let tgid = std::fs::read_to_string(format!("/proc/{tracer}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tracer);
    Some((state, tgid))
}

fn gone_within(pid: i64, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if proc_status(pid).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn dlv_available() -> bool {
    if Path::new(DLV).exists() {
        return true;
    }
    eprintln!("SKIP: dlv not installed ({DLV}; apt-get install delve)");
    false
}

/// `dlv connect ADDR` running `script` from an init file; `answers` go to its stdin
/// (the questions `exit` asks of a multiclient server).
fn dlv_connect(addr: &str, script: &str, answers: &str) -> (String, String) {
    dlv_connect_with(DLV, addr, script, answers)
}

fn dlv_connect_with(dlv: &str, addr: &str, script: &str, answers: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let init = dir.path().join("script");
    std::fs::write(&init, script).unwrap_or_else(|e| panic!("write script: {e}"));
    let mut cmd = Command::new(dlv);
    cmd.env("TERM", "dumb")
        .arg("connect")
        .arg(addr)
        .arg("--init")
        .arg(&init)
        .arg("--allow-non-terminal-interactive=true");
    run(cmd, answers, Duration::from_secs(120))
}

fn dap_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dap")
}

/// node with the DebugClient installed (`npm ci` on first use), or None after a loud
/// skip.
fn node_ready() -> Option<()> {
    let ok = |c: &str| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok("node") || !ok("npm") {
        eprintln!("SKIP: node and npm are needed for the DAP client (apt-get install nodejs npm)");
        return None;
    }
    let marker = dap_dir().join("node_modules/@vscode/debugadapter-testsupport/package.json");
    if !marker.exists() {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dap_dir())
            .status();
        if !st.is_ok_and(|s| s.success()) || !marker.exists() {
            eprintln!("SKIP: `npm ci` in {} failed", dap_dir().display());
            return None;
        }
    }
    Some(())
}

/// tests/dap/headless.js against the server's port; what the client recorded.
fn dap_client(addr: &str, scenario: &str) -> Value {
    let port = addr
        .rsplit(':')
        .next()
        .unwrap_or_else(|| panic!("no port in {addr}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("out.json");
    let mut cmd = Command::new("node");
    cmd.current_dir(dap_dir())
        .arg("headless.js")
        .arg(port)
        .arg(scenario)
        .arg(&out);
    let (o, e) = run(cmd, "", Duration::from_secs(90));
    let t = std::fs::read_to_string(&out)
        .unwrap_or_else(|_| panic!("the DAP client failed:\n{e}\n{o}"));
    serde_json::from_str(&t).unwrap_or_else(|err| panic!("client record {t:?}: {err}"))
}

#[test]
fn one_port_serves_dlv_connect_then_a_dap_client_then_json_rpc() {
    if !dlv_available() || !ptrace_ok() || node_ready().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let (mut server, addr) = start_server(
        "exec",
        "127.0.0.1:0",
        &["--accept-multiclient", &bin, "--", "loop", FOREVER],
    );
    // 1. Delve's own client; `exit` asks whether to kill the headless instance: no.
    let (out, err) = dlv_connect(
        &addr,
        "break main.f\ncontinue\nprint i\nclear 1\nexit\n",
        "n\n",
    );
    assert!(
        out.contains("main.f()") && out.lines().any(|l| l.trim_start_matches("(dlv) ") == "0"),
        "dlv connect did not stop in main.f with i == 0:\n{out}\n{err}"
    );
    // 2. A DAP client on the same port joins the target (attach mode "remote").
    let rec = dap_client(&addr, "live");
    assert_eq!(rec["top"]["name"], json!("main.f"), "{rec}");
    assert_eq!(
        rec["i"],
        json!("1"),
        "the DAP client's stop is the next call: {rec}"
    );
    // 3. JSON-RPC again: the server kept the target, stopped where the DAP client left.
    let mut c = Rpc::connect(&addr);
    let st = c.call("State", json!({"NonBlocking": false}));
    let pid = st["State"]["Pid"].as_i64().unwrap_or(0);
    let _pg = PidGuard(pid as i32);
    assert!(pid > 0, "no pid in {st}");
    let (state, tracer) = proc_status(pid).unwrap_or_else(|| panic!("target {pid} is gone"));
    assert_eq!(
        tracer,
        i64::from(server.0.id()),
        "target not traced by the server ({state})"
    );
    let v = c.call(
        "Eval",
        json!({"Scope": {"GoroutineID": -1, "Frame": 0}, "Expr": "i"}),
    );
    assert_eq!(v["Variable"]["value"], json!("1"), "{v}");
    // Detach{Kill} ends the server and the launched target.
    c.call("Detach", json!({"Kill": true}));
    assert!(
        exits_within(&mut server, Duration::from_secs(20)),
        "server still up after Detach"
    );
    assert!(
        gone_within(pid, Duration::from_secs(10)),
        "target {pid} survived Detach{{Kill}}"
    );
}

#[test]
fn a_dap_client_of_a_single_client_core_server_ends_it() {
    let Some((bin, core)) = values_core() else {
        return;
    };
    if node_ready().is_none() {
        return;
    }
    let (mut server, addr) = start_server("core", "127.0.0.1:0", &[&bin, &core]);
    let rec = dap_client(&addr, "core");
    assert!(rec["threads"].as_u64().unwrap_or(0) > 1, "{rec}");
    assert!(
        exits_within(&mut server, Duration::from_secs(20)),
        "a single-client server must end after its DAP client"
    );
}

/// Stop words of a raw `continue` reply / State.
fn running(v: &Value) -> bool {
    v["State"]["Running"].as_bool().unwrap_or(false)
}

#[test]
fn a_client_killed_mid_continue_leaves_the_target_for_the_next_one() {
    if !ptrace_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let (mut server, addr) = start_server(
        "exec",
        "127.0.0.1:0",
        &["--accept-multiclient", &bin, "--", "loop", FOREVER],
    );
    let server_pid = i64::from(server.0.id());
    // Client 1: a breakpoint that is never hit while it waits, then continue, and
    // it dies (its socket closes) while the target runs.
    let pid = {
        let mut c = Rpc::connect(&addr);
        let pid = c.call("State", json!({"NonBlocking": false}))["State"]["Pid"]
            .as_i64()
            .unwrap_or(0);
        c.call(
            "CreateBreakpoint",
            json!({"Breakpoint": {"functionName": "main.stepLoop"}}),
        );
        c.send("Command", json!({"name": "continue"}));
        std::thread::sleep(Duration::from_millis(500));
        pid
    };
    let _pg = PidGuard(pid as i32);
    assert!(pid > 0);
    std::thread::sleep(Duration::from_millis(300));
    let (state, tracer) = proc_status(pid).unwrap_or_else(|| panic!("target {pid} is gone"));
    assert!(
        state.starts_with('R') || state.starts_with('S'),
        "target not running: {state}"
    );
    assert_eq!(tracer, server_pid);
    // Client 2: Delve's handshake on a running target: State{NonBlocking} answers at
    // once, halt stops it.
    let mut c = Rpc::connect(&addr);
    assert_eq!(
        c.call("IsMulticlient", json!({}))["IsMulticlient"],
        json!(true)
    );
    let st = c.call("State", json!({"NonBlocking": true}));
    assert!(running(&st), "target should still run: {st}");
    // halt on this connection while client 1's continue is still pending.
    let st = c.call("Command", json!({"name": "halt"}));
    assert!(!running(&st), "halt left it running: {st}");
    let bps = c.call("ListBreakpoints", json!({"All": false}));
    let user: Vec<&Value> = bps["Breakpoints"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|b| b["id"].as_i64().unwrap_or(0) > 0)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        user.len(),
        1,
        "client 1's breakpoint should be listed once: {bps}"
    );
    // Async Command with events, GetEvents and halt on one connection: the replies
    // come as each completes (Delve's asynchronous methods).
    let cont = c.send("Command", json!({"name": "continue", "WithEvents": true}));
    let ev = c.send("GetEvents", json!({}));
    let first = c.recv();
    assert_eq!(
        first["id"],
        json!(ev),
        "GetEvents should answer first: {first}"
    );
    assert_eq!(first["result"]["Events"][0]["Kind"], json!(0), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    let st = c.call("State", json!({"NonBlocking": true}));
    assert!(running(&st), "{st}");
    let halt = c.send("Command", json!({"name": "halt"}));
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(c.recv());
    }
    let ids: Vec<&Value> = got.iter().map(|v| &v["id"]).collect();
    assert!(
        ids.contains(&&json!(cont)) && ids.contains(&&json!(halt)),
        "{got:?}"
    );
    let ev = c.call("GetEvents", json!({}));
    assert_eq!(
        ev["Events"][0]["Kind"],
        json!(1),
        "a stop event follows: {ev}"
    );
    // The target was never harmed: same process, traced, stopped, and it runs on.
    let (state, tracer) = proc_status(pid).unwrap_or_else(|| panic!("target {pid} is gone"));
    assert!(state.starts_with('t'), "target not stopped: {state}");
    assert_eq!(tracer, server_pid);
    c.call("Detach", json!({"Kill": true}));
    assert!(exits_within(&mut server, Duration::from_secs(20)));
    assert!(gone_within(pid, Duration::from_secs(10)));
}

#[test]
fn without_multiclient_the_server_ends_with_its_client_and_kills_what_it_launched() {
    if !ptrace_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let (mut server, addr) = start_server("exec", "127.0.0.1:0", &[&bin, "--", "loop", FOREVER]);
    let pid = {
        let mut c = Rpc::connect(&addr);
        assert_eq!(
            c.call("IsMulticlient", json!({}))["IsMulticlient"],
            json!(false)
        );
        let pid = c.call("State", json!({"NonBlocking": false}))["State"]["Pid"]
            .as_i64()
            .unwrap_or(0);
        // Leave mid-continue: the server halts the target before releasing it.
        c.send("Command", json!({"name": "continue"}));
        std::thread::sleep(Duration::from_millis(300));
        pid
    };
    let _pg = PidGuard(pid as i32);
    assert!(
        exits_within(&mut server, Duration::from_secs(20)),
        "the server should end after its only client"
    );
    assert!(
        gone_within(pid, Duration::from_secs(10)),
        "launched target {pid} not killed"
    );
}

#[test]
fn without_multiclient_an_attached_target_is_detached_and_keeps_running() {
    if !ptrace_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let target = Guard(
        Command::new(&bin)
            .args(["loop", FOREVER])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn target: {e}")),
    );
    let pid = target.0.id().to_string();
    let (mut server, addr) = start_server("attach", "127.0.0.1:0", &[&pid]);
    {
        let mut c = Rpc::connect(&addr);
        let st = c.call("State", json!({"NonBlocking": false}));
        assert_eq!(
            st["State"]["Pid"].as_i64().map(|p| p.to_string()),
            Some(pid.clone())
        );
    }
    assert!(exits_within(&mut server, Duration::from_secs(20)));
    let pid: i64 = pid.parse().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(200));
    let (state, tracer) = proc_status(pid).unwrap_or_else(|| panic!("attached target died"));
    assert_eq!(tracer, 0, "still traced after the server left ({state})");
    assert!(
        !state.starts_with('t') && !state.starts_with('T'),
        "left stopped: {state}"
    );
}

#[test]
fn a_thousand_malformed_requests_then_a_good_one_on_a_live_target() {
    if !ptrace_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let (_server, addr) = start_server("exec", "127.0.0.1:0", &[&bin, "--", "loop", FOREVER]);
    let mut c = Rpc::connect(&addr);
    let bad: [&[u8]; 6] = [
        b"garbage",
        b"{\"method\":\"RPCServer.Command\",\"params\":[{\"name\":\"nope\"}],\"id\":1}",
        b"{\"method\":\"RPCServer.Command\",\"params\":[{\"name\":7}],\"id\":2}",
        b"{\"method\":\"RPCServer.Checkpoint\",\"params\":[{}],\"id\":3}",
        b"{\"method\":\"RPCServer.ExamineMemory\",\"params\":[{\"Address\":1,\"Length\":16}],\"id\":4}",
        b"{\"method\":\"RPCServer.Stacktrace\",\"params\":[{\"Id\":123456789}],\"id\":5}",
    ];
    for i in 0..1000 {
        let req = bad[i % bad.len()];
        let w = c.r.get_mut();
        w.write_all(req).unwrap_or_else(|e| panic!("write: {e}"));
        w.write_all(b"\n").unwrap_or_else(|e| panic!("write: {e}"));
        let v = c.recv();
        assert!(
            v["error"].is_string(),
            "{}: no error: {v}",
            String::from_utf8_lossy(req)
        );
    }
    let st = c.call("State", json!({"NonBlocking": false}));
    let pid = st["State"]["Pid"].as_i64().unwrap_or(0);
    let _pg = PidGuard(pid as i32);
    assert!(
        proc_status(pid).is_some(),
        "target gone after the malformed requests"
    );
}

#[test]
fn only_same_user_refuses_a_client_of_another_uid() {
    let Some((bin, core)) = values_core() else {
        return;
    };
    // SAFETY: getuid has no preconditions.
    if unsafe { getuid() } != 0 {
        eprintln!("SKIP: running a client as another user needs root (setpriv)");
        return;
    }
    let (_server, addr) = start_server("core", "127.0.0.1:0", &[&bin, &core]);
    let (host, port) = addr.rsplit_once(':').unwrap_or_else(|| panic!("{addr}"));
    // bash's /dev/tcp as uid 65534 (nobody): the server must close without a reply.
    let req = r#"{"method":"RPCServer.IsMulticlient","params":[{}],"id":1}"#;
    let script =
        format!("exec 3<>/dev/tcp/{host}/{port} && echo '{req}' >&3 && timeout 10 head -c 200 <&3");
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "bash",
        "-c",
        &script,
    ]);
    let (out, err) = run(cmd, "", Duration::from_secs(20));
    assert!(
        !out.contains("IsMulticlient"),
        "another user's client got an answer: {out} {err}"
    );
    // Our own uid is still served (the server survived the refusal).
    let mut c = Rpc::connect(&addr);
    assert_eq!(
        c.call("IsMulticlient", json!({}))["IsMulticlient"],
        json!(false)
    );
}

extern "C" {
    fn getuid() -> u32;
}

#[test]
fn unix_socket_listener_serves_json_rpc_and_dlv_connect() {
    let Some((bin, core)) = values_core() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let sock = dir.path().join("coroner.sock");
    let listen = format!("unix:{}", sock.display());
    let (mut server, addr) = start_server("core", &listen, &["--accept-multiclient", &bin, &core]);
    assert_eq!(addr, listen);
    let mut c = Rpc::connect(&addr);
    let v = c.call(
        "Eval",
        json!({"Scope": {"GoroutineID": -1}, "Expr": "main.GInt"}),
    );
    assert_eq!(v["Variable"]["value"], json!("42"), "{v}");
    drop(c);
    // Delve's client dials unix sockets since 1.23: Debian's 1.20 cannot.
    let dlv = "/opt/dlv-1.27/dlv";
    if !Path::new(dlv).exists() {
        eprintln!("SKIP: no Delve >= 1.23 client at {dlv} for dlv connect over a unix socket");
        return;
    }
    let (out, err) = dlv_connect_with(dlv, &addr, "print main.GInt\nexit\n", "y\n");
    assert!(
        out.lines().any(|l| l.trim_start_matches("(dlv) ") == "42"),
        "dlv connect over {addr}:\n{out}\n{err}"
    );
    // Answering yes to "kill the headless instance" detached: the server ends and
    // removes its socket.
    assert!(exits_within(&mut server, Duration::from_secs(20)));
    assert!(!sock.exists(), "socket file left behind");
}

#[test]
fn the_channel_filter_lists_the_goroutines_parked_on_it() {
    let Some((bin, core)) = values_core() else {
        return;
    };
    let (_server, addr) = start_server("core", "127.0.0.1:0", &[&bin, &core]);
    let mut c = Rpc::connect(&addr);
    let scope = json!({"GoroutineID": -1, "Frame": 0});
    for (chan, ty, want) in [
        ("main.GChan", "chan int", 20),
        ("main.GRecvChan", "chan string", 21),
    ] {
        let v = c.call("Eval", json!({"Scope": scope, "Expr": chan}));
        let at = v["Variable"]["addr"].as_u64().unwrap_or(0);
        assert!(at != 0, "{v}");
        // What Delve's client sends after printing a chan value.
        let filter = json!([{"Kind": 8, "Negated": false, "Arg": format!("*(*{ty:?})({at:#x})")}]);
        let r = c.call(
            "ListGoroutines",
            json!({"Start": 0, "Count": 100, "Filters": filter, "EvalScope": scope}),
        );
        let ids: Vec<i64> = r["Goroutines"]
            .as_array()
            .map(|a| a.iter().filter_map(|g| g["id"].as_i64()).collect())
            .unwrap_or_default();
        assert_eq!(ids, [want], "goroutines parked on {chan}: {r}");
    }
    // Delve's refusals.
    let bad = json!([{"Kind": 8, "Negated": true, "Arg": "main.GChan"}]);
    let id = c.send(
        "ListGoroutines",
        json!({"Count": 10, "Filters": bad, "EvalScope": scope}),
    );
    let v = c.recv();
    assert_eq!(v["id"], json!(id));
    assert_eq!(
        v["error"],
        json!("channel filter can not be negated"),
        "{v}"
    );
}

#[test]
fn restart_relaunches_the_target_and_keeps_breakpoints() {
    if !ptrace_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let (_server, addr) = start_server("exec", "127.0.0.1:0", &[&bin, "--", "loop", FOREVER]);
    let mut c = Rpc::connect(&addr);
    let pid = |c: &mut Rpc| {
        c.call("State", json!({"NonBlocking": false}))["State"]["Pid"]
            .as_i64()
            .unwrap_or(0)
    };
    let first = pid(&mut c);
    let _g1 = PidGuard(first as i32);
    c.call(
        "CreateBreakpoint",
        json!({"Breakpoint": {"functionName": "main.f"}}),
    );
    let r = c.call("Restart", json!({"Position": "", "ResetArgs": false}));
    assert_eq!(r["DiscardedBreakpoints"], json!([]), "{r}");
    let second = pid(&mut c);
    let _g2 = PidGuard(second as i32);
    assert!(
        second > 0 && second != first,
        "same pid after Restart: {first}"
    );
    assert!(
        gone_within(first, Duration::from_secs(10)),
        "the old process {first} survived"
    );
    // The breakpoint is in the new process: continue stops in main.f.
    let st = c.call("Command", json!({"name": "continue"}));
    assert_eq!(
        st["State"]["currentThread"]["function"]["name"],
        json!("main.f"),
        "{st}"
    );
}

/// After the launched program exits, the methods that read its state answer Delve's
/// "Process N has exited with status M" instead of the last stop's snapshot.
#[test]
fn after_the_exit_state_reads_say_the_process_exited() {
    if !ptrace_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let (_server, addr) = start_server("exec", "127.0.0.1:0", &[&bin, "--", "loop", "3"]);
    let mut c = Rpc::connect(&addr);
    let pid = c.call("State", json!({"NonBlocking": false}))["State"]["Pid"]
        .as_i64()
        .unwrap_or(0);
    let _pg = PidGuard(pid as i32);
    let st = c.call("Command", json!({"name": "continue"}));
    assert_eq!(st["State"]["exited"], json!(true), "{st}");
    let want = format!("Process {pid} has exited with status 0");
    for (method, arg) in [
        ("Stacktrace", json!({"Id": -1, "Depth": 10})),
        ("ListGoroutines", json!({"Count": 10})),
        ("Eval", json!({"Scope": {"GoroutineID": -1}, "Expr": "1"})),
        ("ListThreads", json!({})),
    ] {
        let id = c.send(method, arg);
        let v = c.recv();
        assert_eq!(v["id"], json!(id), "{method}: {v}");
        assert_eq!(v["error"], json!(want), "{method}: {v}");
    }
}
