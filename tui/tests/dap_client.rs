//! `coroner dap` driven by a real DAP client: Microsoft's DebugClient
//! (`@vscode/debugadapter-testsupport`, the client VS Code's own adapters test
//! with), run with node from tui/tests/dap/. The node scripts assert the protocol
//! flow; this file prepares fixtures, runs them, and compares what the client saw
//! with coroner's REPL and with Delve 1.27's recorded DAP answers
//! (tui/tests/dap/reference/, recorded with `dlv dap` by the same scripts).
//!
//! Plus the robustness contract, over a raw socket: 1,000 malformed requests, then a
//! valid one is still answered.
//!
//! Every process started here is killed by pid when its guard drops.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
fn dap_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dap")
}

/// A child killed (by its pid) and reaped on drop.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// node with the client installed (`npm ci` on first use), or None after a loud skip.
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
        eprintln!(
            "SKIP: node and npm are needed for the DAP client tests (apt-get install nodejs npm)"
        );
        return None;
    }
    let marker = dap_dir().join("node_modules/@vscode/debugadapter-testsupport/package.json");
    if !marker.exists() {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dap_dir())
            .status();
        if !st.is_ok_and(|s| s.success()) || !marker.exists() {
            eprintln!(
                "SKIP: `npm ci` in {} failed (no registry access?)",
                dap_dir().display()
            );
            return None;
        }
    }
    Some(())
}

fn zstd_to(src: &Path, out: &Path) -> bool {
    Command::new("zstd")
        .args(["-dqf", "--long=27"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .status()
        .is_ok_and(|s| s.success())
}

/// Run a node script with a time limit; its stderr is shown on failure.
fn node(args: &[&str], limit: Duration) -> (bool, String) {
    let mut child = Guard(
        Command::new("node")
            .args(args)
            .current_dir(dap_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn node: {e}")),
    );
    let mut err = child.0.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut out = child.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let o = std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.0.try_wait().ok().flatten() {
            break Some(st);
        }
        if start.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(child);
    let _ = o.join();
    let text = e.join().unwrap_or_default();
    (status.is_some_and(|s| s.success()), text)
}

fn adapter() -> String {
    serde_json::json!([env!("CARGO_BIN_EXE_coroner"), "dap", "--listen=127.0.0.1:0"]).to_string()
}

fn read_json(p: &Path) -> Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

/// A value tree without the handle numbers (they are per-session counters).
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "variablesReference" | "memoryReference" | "id")
                })
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        v => v.clone(),
    }
}

/// The core scenario on one fixture; the client's record.
fn core_session(bin: &Path, core: &Path, exprs: Option<&str>, dir: &Path) -> Value {
    let out = dir.join("core.json");
    let (b, c, o) = (
        bin.to_string_lossy(),
        core.to_string_lossy(),
        out.to_string_lossy(),
    );
    let a = adapter();
    let mut args = vec!["core.js", &*a, &*b, &*c, &*o];
    if let Some(e) = exprs {
        args.push(e);
    }
    let (ok, err) = node(&args, Duration::from_secs(240));
    assert!(ok, "the DAP client failed on {}:\n{err}", core.display());
    read_json(&out)
}

fn fixture(dir: &str, bin: &str, core: &str) -> Option<(PathBuf, PathBuf)> {
    let d = root().join(dir);
    let (b, c) = (d.join(bin), d.join(core));
    if !b.exists() || !c.exists() {
        eprintln!("SKIP: fixture {} missing", d.display());
        return None;
    }
    Some((b, c))
}

/// Scenario 1: a panic core. The stopped event names the crashing goroutine, its
/// stack and variables match the REPL's, names and values match Delve's DAP server,
/// and exceptionInfo gives the cause of death.
#[test]
fn dap_client_on_a_panic_core() {
    if node_ready().is_none() {
        return;
    }
    let Some((bin, core)) = fixture(
        "cores/fixtures/go1.27-noopt",
        "scenarios.zst",
        "panic_main.core.zst",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let got = core_session(&bin, &core, None, dir.path());
    let dlv = read_json(&dap_dir().join("reference/delve-1.27-panic_main.json"));

    // The culprit: goroutine 1, opened at the panicking user frame.
    assert_eq!(got["stopped"]["reason"], "exception", "{}", got["stopped"]);
    assert_eq!(got["stopped"]["threadId"], dlv["stopped"]["threadId"]);
    assert_eq!(got["stopped"]["description"], "panic");
    let text = got["stopped"]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("config limit=42: limit out of range"),
        "{}",
        got["stopped"]
    );
    // Threads, frames, scopes and variables: as Delve's DAP server names them.
    assert_eq!(
        shape(&got["threads"]),
        shape(&dlv["threads"]),
        "threads differ from Delve's"
    );
    // From the first user frame down (Delve folds the runtime.sigtramp signal frame
    // into the frames above it; coroner lists it, as the runtime's traceback does).
    let from_user = |v: &Value| -> Vec<Value> {
        let fs = v.as_array().cloned().unwrap_or_default();
        let i = fs
            .iter()
            .position(|f| f["name"].as_str().is_some_and(|n| n.starts_with("main.")))
            .unwrap_or(fs.len());
        fs[i..].iter().map(shape).collect()
    };
    assert!(
        !from_user(&got["frames"]).is_empty(),
        "no main.* frame: {}",
        got["frames"]
    );
    assert_eq!(
        from_user(&got["frames"]),
        from_user(&dlv["frames"]),
        "frames differ from Delve's"
    );
    // The whole stack fits in the first page: the total is exact.
    assert_eq!(
        got["totalFrames"].as_u64(),
        got["frames"].as_array().map(|f| f.len() as u64)
    );
    assert_eq!(shape(&got["scopes"]), shape(&dlv["scopes"]));
    assert_eq!(
        shape(&got["locals"]),
        shape(&dlv["locals"]),
        "locals differ from Delve's"
    );
    assert_eq!(
        shape(&got["evals"]),
        shape(&dlv["evals"]),
        "evaluate results differ from Delve's"
    );

    // The same frames as the REPL's `bt` (function, file:line, pc).
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["core", "--repl"])
        .arg(&bin)
        .arg(&core)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            if let Some(mut i) = c.stdin.take() {
                let _ = i.write_all(b"goroutine 1 bt 40\n");
            }
            c.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("coroner repl: {e}"));
    let bt = String::from_utf8_lossy(&out.stdout);
    for f in got["frames"].as_array().unwrap_or(&Vec::new()) {
        let pc = f["instructionPointerReference"]
            .as_str()
            .unwrap_or("?")
            .trim_start_matches("0x");
        let want = format!("{pc:0>16} in ");
        let line = bt
            .lines()
            .find(|l| l.contains(&want))
            .unwrap_or_else(|| panic!("pc {pc} not in the REPL's bt:\n{bt}"));
        let full = line.split(" in ").nth(1).unwrap_or("");
        assert!(
            full.ends_with(f["name"].as_str().unwrap_or("?")),
            "{line} vs {f}"
        );
    }

    // Cause of death (Delve only says "can not continue execution of core process").
    let exc = &got["exception"];
    assert_eq!(exc["exceptionId"], "panic", "{exc}");
    assert_eq!(exc["description"], got["stopped"]["text"], "{exc}");
    let st = exc["details"]["stackTrace"].as_str().unwrap_or("");
    assert!(
        st.starts_with("Stack:\n")
            && st.contains("in main.checkLimit\n")
            && st.contains("panic_main.go:73"),
        "{st}"
    );
    // Delve's text, up to the frame numbers (coroner counts the signal frame too).
    let unnumbered = |v: &Value| -> String {
        v.as_str()
            .unwrap_or("")
            .lines()
            .map(|l| {
                let t = l.trim_start_matches('\t').trim_start();
                match t.split_once("  0x") {
                    Some((n, rest)) if n.chars().all(|c| c.is_ascii_digit()) => format!("0x{rest}"),
                    _ => t.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        unnumbered(&exc["details"]["stackTrace"]),
        unnumbered(&dlv["exception"]["details"]["stackTrace"]),
        "exception stack differs from Delve's"
    );
    assert!(
        got["help"]["result"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "dlv help: {}",
        got["help"]
    );
}

/// Scenario 1b: the values fixture: every kind of Go value evaluated and expanded
/// three levels, compared with Delve 1.27's DAP answers for the same expressions.
#[test]
fn dap_client_values_match_delve() {
    if node_ready().is_none() {
        return;
    }
    let Some((bin, core)) = fixture(
        "cores/fixtures-values/go1.27-noopt",
        "values.zst",
        "values.core.zst",
    ) else {
        return;
    };
    let dlv = read_json(&dap_dir().join("reference/delve-1.27-values.json"));
    let exprs: Vec<String> = dlv["evals"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let got = core_session(
        &bin,
        &core,
        Some(&serde_json::json!(exprs).to_string()),
        dir.path(),
    );
    assert_eq!(
        shape(&got["locals"]),
        shape(&dlv["locals"]),
        "locals differ from Delve's"
    );
    // Known differences of the expression engine (not of the DAP layer), each with
    // its reason; every other expression must match.
    const KNOWN: [(&str, &str); 3] = [
        (
            "[]byte(main.GString)",
            "coroner lets a converted slice be expanded; Delve's has no address",
        ),
        (
            "main.GString[0]",
            "the engine types a string's element uint8, Delve byte",
        ),
        (
            "runtime.curg.goid",
            "Delve's runtime.curg pseudo-variable is not in coroner's evaluator",
        ),
    ];
    let mut diffs = Vec::new();
    for e in &exprs {
        if let Some((_, why)) = KNOWN.iter().find(|(k, _)| k == e) {
            eprintln!("known difference for {e}: {why}");
            continue;
        }
        let (a, b) = (shape(&got["evals"][e]), shape(&dlv["evals"][e]));
        // Delve's error texts are its own; both must fail on the same expressions.
        let same = if b.get("error").is_some() {
            a.get("error").is_some()
        } else {
            a == b
        };
        if !same {
            diffs.push(format!("{e}:\n  coroner {a}\n  delve   {b}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} expressions differ from Delve's DAP:\n{}",
        diffs.len(),
        exprs.len(),
        diffs.join("\n")
    );
}

/// `// LINE: name` markers of the live fixture sources.
fn live_lines() -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    let dir = root().join("cores/live");
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for (i, l) in text.lines().enumerate() {
            if let Some(rest) = l.split("// LINE: ").nth(1) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                m.insert(name, i as u32 + 1);
            }
        }
    }
    m
}

/// Scenario 2: a live program: breakpoints, stepping, log points, pause, disconnect
/// with terminateDebuggee, and a client that vanishes mid-continue.
#[test]
fn dap_client_on_a_live_program() {
    if node_ready().is_none() {
        return;
    }
    let src = root().join("cores/live-fixtures/go1.27-noopt/live.zst");
    if !src.exists() {
        eprintln!("SKIP: {} missing", src.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin = dir.path().join("live");
    if !zstd_to(&src, &bin) {
        eprintln!("SKIP: zstd could not decompress {}", src.display());
        return;
    }
    let out = dir.path().join("live.json");
    let lines = serde_json::json!(live_lines()).to_string();
    let (b, o) = (bin.to_string_lossy(), out.to_string_lossy());
    let a = adapter();
    let (ok, err) = node(&["live.js", &a, &b, &lines, &o], Duration::from_secs(300));
    assert!(ok, "the DAP client failed on the live program:\n{err}");
    let got = read_json(&out);
    assert_eq!(
        got["loop"]["threadsWhileRunning"],
        serde_json::json!([{"id": -1, "name": "Current"}])
    );
    // Same places and names as Delve's DAP server for the same session.
    let dlv = read_json(&dap_dir().join("reference/delve-1.27-live.json"));
    for k in [
        "atFunctionBreakpoint",
        "afterNext",
        "afterStepOut",
        "afterStepIn",
        "logPoints",
    ] {
        assert_eq!(
            shape(&got["step"][k]),
            shape(&dlv["step"][k]),
            "step/{k} differs from Delve's"
        );
    }
}

/// One framed message.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    v.extend_from_slice(body);
    v
}

fn read_frame(r: &mut BufReader<TcpStream>) -> Value {
    let mut len = 0usize;
    loop {
        let mut l = String::new();
        r.read_line(&mut l)
            .unwrap_or_else(|e| panic!("read header: {e}"));
        if l.is_empty() {
            panic!("the server closed the connection");
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(n) = l.strip_prefix("Content-Length: ") {
            len = n.parse().unwrap_or_else(|e| panic!("length {n:?}: {e}"));
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .unwrap_or_else(|e| panic!("read body: {e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("reply {body:?}: {e}"))
}

/// Scenario 3: 1,000 malformed or hostile requests, each answered with an error
/// response, then valid requests are still answered.
#[test]
fn malformed_requests_get_errors_and_the_session_survives() {
    let Some((bin, core)) = fixture(
        "cores/fixtures/go1.27-noopt",
        "scenarios.zst",
        "panic_main.core.zst",
    ) else {
        return;
    };
    let mut child = Guard(
        Command::new(env!("CARGO_BIN_EXE_coroner"))
            .args(["dap", "--listen=127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn coroner dap: {e}")),
    );
    let mut banner = String::new();
    let so = child.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    BufReader::new(so)
        .read_line(&mut banner)
        .unwrap_or_else(|e| panic!("banner: {e}"));
    let addr = banner
        .trim()
        .strip_prefix("DAP server listening at: ")
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
        .to_string();
    let s = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap_or_else(|e| panic!("timeout: {e}"));
    let mut r = BufReader::new(s.try_clone().unwrap_or_else(|e| panic!("clone: {e}")));
    let mut w = s;
    let mut send = |b: &[u8]| {
        w.write_all(&frame(b))
            .unwrap_or_else(|e| panic!("write: {e}"))
    };
    // Launch the core first, so requests reach real handlers.
    let launch = serde_json::json!({"seq": 1, "type": "request", "command": "launch",
        "arguments": {"mode": "core", "program": bin, "coreFilePath": core}});
    send(launch.to_string().as_bytes());
    let mut launched = false;
    while !launched {
        let v = read_frame(&mut r);
        if v["type"] == "response" {
            assert_eq!(v["success"], true, "launch failed: {v}");
            launched = true;
        }
    }
    let huge = format!(
        r#"{{"seq":9,"type":"request","command":"evaluate","arguments":{{"expression":"{}"}}}}"#,
        "x".repeat(5 << 20)
    );
    let bad: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        b"{".to_vec(),
        b"[1,2,3]".to_vec(),
        b"{\"seq\":\"x\",\"type\":\"request\",\"command\":\"threads\"}".to_vec(),
        b"{\"seq\":2,\"type\":\"event\",\"event\":\"x\"}".to_vec(),
        b"{\"seq\":3,\"type\":\"request\"}".to_vec(),
        b"{\"seq\":4,\"type\":\"request\",\"command\":\"nope\"}".to_vec(),
        b"{\"seq\":5,\"type\":\"request\",\"command\":\"stackTrace\",\"arguments\":{\"threadId\":\"x\"}}".to_vec(),
        b"{\"seq\":6,\"type\":\"request\",\"command\":\"stackTrace\",\"arguments\":{\"threadId\":99999,\"levels\":1000000000}}".to_vec(),
        b"{\"seq\":7,\"type\":\"request\",\"command\":\"variables\",\"arguments\":{\"variablesReference\":-5,\"start\":-1,\"count\":999999999}}".to_vec(),
        b"{\"seq\":8,\"type\":\"request\",\"command\":\"readMemory\",\"arguments\":{\"memoryReference\":\"0x0\",\"count\":-1}}".to_vec(),
        b"{\"seq\":10,\"type\":\"request\",\"command\":\"evaluate\",\"arguments\":{\"expression\":\"((((\"}}".to_vec(),
        b"{\"seq\":11,\"type\":\"request\",\"command\":\"continue\",\"arguments\":{}}".to_vec(),
        b"{\"seq\":12,\"type\":\"request\",\"command\":\"disassemble\",\"arguments\":{\"memoryReference\":\"zz\"}}".to_vec(),
        b"{\"seq\":13,\"type\":\"request\",\"command\":\"scopes\",\"arguments\":{\"frameId\":123456}}".to_vec(),
        b"{\"seq\":14,\"type\":\"request\",\"command\":\"launch\",\"arguments\":{\"mode\":\"core\"}}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
        huge.into_bytes(),
    ];
    for i in 0..1000 {
        let req = &bad[i % bad.len()];
        send(req);
        let v = read_frame(&mut r);
        assert!(
            v["type"] == "response"
                && v["success"] == false
                && v["body"]["error"]["format"].is_string(),
            "request {:?} got no error response: {v}",
            String::from_utf8_lossy(&req[..req.len().min(80)])
        );
    }
    send(br#"{"seq":2000,"type":"request","command":"threads"}"#);
    let v = read_frame(&mut r);
    assert_eq!(v["request_seq"], 2000, "{v}");
    assert_eq!(v["success"], true, "{v}");
    assert!(
        v["body"]["threads"].as_array().is_some_and(|t| t.len() > 5),
        "{v}"
    );
}

/// setVariable (frame 0 and a caller's frame) and `call` through evaluate on the live
/// `call` program; the effects are checked by reading the values back and by the
/// next breakpoint hit.
#[test]
fn dap_client_sets_variables_and_calls_functions() {
    if node_ready().is_none() {
        return;
    }
    let src = root().join("cores/live-fixtures/go1.22-noopt/live.zst");
    if !src.exists() {
        eprintln!("SKIP: {} missing", src.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin = dir.path().join("live");
    if !zstd_to(&src, &bin) {
        eprintln!("SKIP: zstd could not decompress {}", src.display());
        return;
    }
    let out = dir.path().join("setvar.json");
    let (b, o) = (bin.to_string_lossy(), out.to_string_lossy());
    let a = adapter();
    let (ok, err) = node(&["setvar.js", &a, &b, &o], Duration::from_secs(120));
    let got = if out.exists() {
        read_json(&out)
    } else {
        Value::Null
    };
    assert!(ok, "the DAP client failed: {got}\n{err}");
    assert_eq!(got["supportsSetVariable"], serde_json::json!(true));
    assert_eq!(got["setTick"]["value"], serde_json::json!("77"), "{got}");
    assert_eq!(got["setTick"]["type"], serde_json::json!("int"), "{got}");
    assert_eq!(
        got["invalidated"]["areas"],
        serde_json::json!(["variables"])
    );
    assert_eq!(got["after"]["tickN"], serde_json::json!("77"), "{got}");
    assert_eq!(got["after"]["loopN"], serde_json::json!("500"), "{got}");
    assert!(
        got["setMissing"]
            .as_str()
            .is_some_and(|s| s.starts_with("error")),
        "{got}"
    );
    assert_eq!(got["calls"]["add"], serde_json::json!("3"), "{got}");
    assert_eq!(
        got["calls"]["greet"],
        serde_json::json!("\"hello, dlv\""),
        "{got}"
    );
    assert_eq!(got["calls"]["mul"], serde_json::json!("15"), "{got}");
    assert!(
        got["calls"]["callerFrame"]
            .as_str()
            .is_some_and(|s| s.starts_with("error")),
        "a call in a caller's frame must be refused: {got}"
    );
    // The loop counter was 500 when tick returned; the next tick gets 501.
    assert_eq!(got["nextTickN"], serde_json::json!("501"), "{got}");
}

/// rr's flags that record here (`-W`: rr.soft's software counters), or None.
fn rr_record_flags(dir: &Path) -> Option<&'static str> {
    for flags in ["", "-W"] {
        let out = dir.join(format!("probe{}", flags.len()));
        let ok = Command::new("rr")
            .arg("record")
            .arg("-o")
            .arg(&out)
            .args(flags.split_whitespace())
            .arg("/bin/true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok && out.join("version").is_file() {
            return Some(flags);
        }
    }
    eprintln!("SKIP: no rr on PATH can record here (no performance counters, no rr.soft -W)");
    None
}

/// Scenario 3: an rr recording in mode replay: supportsStepBack, stepBack (line and
/// instruction granularity) and reverseContinue.
#[test]
fn dap_client_steps_back_on_a_replay() {
    if node_ready().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(flags) = rr_record_flags(dir.path()) else {
        return;
    };
    let src = root().join("cores/live-fixtures/go1.25-noopt/live.zst");
    let bin = dir.path().join("live");
    if !zstd_to(&src, &bin) {
        eprintln!("SKIP: zstd could not decompress {}", src.display());
        return;
    }
    let trace = dir.path().join("trace");
    let rec = Command::new("rr")
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .args(flags.split_whitespace())
        .arg(&bin)
        .args(["loop", "50"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(rec, "rr record {flags} failed");
    let out = dir.path().join("replay.json");
    let a = serde_json::json!([env!("CARGO_BIN_EXE_coroner"), "dap", "--listen=127.0.0.1:0"])
        .to_string();
    std::env::set_var("CORONER_RR_REPLAY_FLAGS", flags);
    let (t, b, o) = (
        trace.to_string_lossy(),
        bin.to_string_lossy(),
        out.to_string_lossy(),
    );
    let (ok, err) = node(&["replay.js", &a, &t, &b, &o], Duration::from_secs(300));
    assert!(ok, "the DAP client failed on the replay:\n{err}");
}
