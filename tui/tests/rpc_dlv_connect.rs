//! `coroner ... --headless` against Delve's real `dlv connect` client (Debian's Delve
//! 1.20 at /usr/bin/dlv): the client's output for a script must match what coroner's
//! own REPL prints for the same commands on the same target. Plus the robustness
//! contract: malformed and oversized requests get error replies and the server keeps
//! answering.
//!
//! Every process started here is killed by pid when its guard drops, however the test
//! ends.

#[path = "support/run.rs"]
mod run;

#[path = "support/dlv.rs"]
mod dlv;
use dlv::{compare, coroner_repl, dlv_available, dlv_connect, start_server};

#[path = "support/sources.rs"]
mod sources;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn dlv_connect_on_a_core_matches_the_repl() {
    if !dlv_available() {
        return;
    }
    let d = root().join("cores/fixtures-values/go1.22-noopt");
    let (bin, core) = (d.join("values.zst"), d.join("values.core.zst"));
    if !bin.exists() || !core.exists() {
        eprintln!("SKIPPED: fixture {} missing", d.display());
        return;
    }
    let (bin, core) = (bin.to_string_lossy(), core.to_string_lossy());
    let args = ["core", &*bin, &*core];
    let cmds = [
        "goroutines",
        "goroutine 1 bt",
        "threads",
        "print main.GInt",
        "print main.GNeg",
        "print main.GF64",
        "print main.GString",
        "print main.GLongStr",
        "print main.GSlice",
        "print main.GInner",
        "print main.GMapSmall",
        "print main.GArr",
        "print main.GNilMap",
        "goroutine 18",
        "bt",
        "goroutine",
        "thread 32021",
        "threads",
    ];
    let (_server, addr) = start_server(&args);
    // Execution on a core fails with Delve's words (the REPL's differ: not compared).
    let mut script = cmds.to_vec();
    script.push("continue");
    let dlv = dlv_connect(&addr, &script);
    let repl = coroner_repl(&args, &cmds);
    assert!(
        dlv.contains("can not continue execution of core process"),
        "no core error for continue:\n{dlv}"
    );
    compare("core", &cmds, &dlv, &repl);
}

/// The live fixture binary, decompressed next to the test's temp dir.
fn live_binary(dir: &Path) -> Option<PathBuf> {
    // Delve listed source when it recorded the transcripts.
    sources::live_sources();
    let src = root().join("cores/live-fixtures/go1.22-noopt/live.zst");
    if !src.exists() {
        eprintln!("SKIPPED: {} missing", src.display());
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
        eprintln!("SKIPPED: zstd could not decompress {}", src.display());
        return None;
    }
    Some(out)
}

#[test]
fn dlv_connect_on_a_live_process_matches_the_repl() {
    if !dlv_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let args = ["exec", &*bin, "--", "loop"];
    // Both clients print the stop location and source (read locally, the same file
    // or the same "no such file" note); the values come from the server.
    let cmds = [
        "break main.f",
        "continue",
        "print i",
        // (not `args`: at f's entry ~r0 is uninitialised stack, different each run)
        "bt",
        "clear 1",
        // Delve 1.20's `break` has no `if COND` form; `condition` goes through
        // GetBreakpoint + AmendBreakpoint.
        "break main.f",
        "condition 2 i == 19999",
        "continue",
        "print i",
        "locals",
        // RPCServer.Set, then the value read back.
        "set i = 7",
        "print i",
        // The stop's thread carries ReturnValues: "Values returned:" in both.
        "stepout",
    ];
    let (_server, addr) = start_server(&args);
    let dlv = dlv_connect(&addr, &cmds);
    let repl = coroner_repl(&args, &cmds);
    compare("live", &cmds, &dlv, &repl);
}

/// rr's flags that make recording work here (`-W`: rr.soft's software counters), or
/// None when no rr on PATH can record.
fn rr_record_flags() -> Option<&'static str> {
    let dir = tempfile::tempdir().ok()?;
    for flags in ["", "-W"] {
        let out = dir.path().join(format!("probe{}", flags.len()));
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
    eprintln!("SKIPPED: no rr on PATH can record here (no performance counters, no rr.soft -W)");
    None
}

/// rr's event numbers differ between two recordings of the same run.
fn without_events(out: &str) -> String {
    out.lines()
        .map(|l| match l.split_once(" event: ") {
            Some((w, _)) if w == "Current" || w == "Completed" => format!("{w} event: N"),
            // A `checkpoints` row: `c1  420   here`.
            _ if l.starts_with('c')
                && l.split_whitespace()
                    .nth(1)
                    .is_some_and(|w| w.parse::<u64>().is_ok()) =>
            {
                let mut w = l.split_whitespace();
                let id = w.next().unwrap_or_default();
                let _event = w.next();
                format!("{id} N {}", w.collect::<Vec<_>>().join(" "))
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Backwards over JSON-RPC: Delve's client sends rewind and the reverse commands,
/// asks `Recorded`, prints `When`; the transcript must match coroner's own REPL on
/// a recording of the same run.
#[test]
fn dlv_connect_on_a_replay_runs_backwards_as_the_repl() {
    if !dlv_available() {
        return;
    }
    let Some(flags) = rr_record_flags() else {
        return;
    };
    // Both coroner processes below inherit these (set before either starts).
    std::env::set_var("CORONER_RR_RECORD_FLAGS", flags);
    std::env::set_var("CORONER_RR_REPLAY_FLAGS", flags);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy();
    let args = ["exec", "--backend=rr", &*bin, "--", "loop", "50"];
    let cmds = [
        "break main.f",
        "continue",
        "continue",
        "print i",
        "checkpoint here",
        "checkpoints",
        "next",
        "rev next",
        "rev stepout",
        "rewind",
        "print i",
        "restart c1",
        "print i",
    ];
    let (_server, addr) = start_server(&args);
    let dlv = without_events(&dlv_connect(&addr, &cmds));
    let repl = without_events(&coroner_repl(&args, &cmds));
    compare("replay", &cmds, &dlv, &repl);
}

/// One raw JSON-RPC call on an open connection: the reply line, parsed.
fn call(r: &mut BufReader<TcpStream>, line: &[u8]) -> serde_json::Value {
    let w = r.get_mut();
    w.write_all(line).unwrap_or_else(|e| panic!("write: {e}"));
    w.write_all(b"\n").unwrap_or_else(|e| panic!("write: {e}"));
    let mut reply = String::new();
    r.read_line(&mut reply)
        .unwrap_or_else(|e| panic!("read reply: {e}"));
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
}

#[test]
fn malformed_and_oversized_requests_get_errors_and_the_server_survives() {
    let d = root().join("cores/fixtures-values/go1.22-noopt");
    let (bin, core) = (d.join("values.zst"), d.join("values.core.zst"));
    if !bin.exists() || !core.exists() {
        eprintln!("SKIPPED: fixture {} missing", d.display());
        return;
    }
    let (bin, core) = (bin.to_string_lossy(), core.to_string_lossy());
    let (_server, addr) = start_server(&["core", &bin, &core]);
    let s = TcpStream::connect(&addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap_or_else(|e| panic!("timeout: {e}"));
    let mut r = BufReader::new(s);
    let huge = format!(
        "{{\"method\":\"RPCServer.Eval\",\"params\":[{{\"Expr\":\"{}\"}}],\"id\":1}}",
        "x".repeat(2 << 20)
    );
    let bad: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        b"{".to_vec(),
        b"[1,2,3]".to_vec(),
        b"{\"method\":42,\"id\":1}".to_vec(),
        b"{\"method\":\"RPCServer.Nope\",\"params\":[{}],\"id\":2}".to_vec(),
        b"{\"method\":\"Other.State\",\"params\":[{}],\"id\":3}".to_vec(),
        b"{\"method\":\"RPCServer.State\",\"id\":4}".to_vec(),
        b"{\"method\":\"RPCServer.Stacktrace\",\"params\":[{\"Id\":\"x\"}],\"id\":5}".to_vec(),
        b"{\"method\":\"RPCServer.Stacktrace\",\"params\":[{\"Id\":999999,\"Depth\":1e9}],\"id\":6}"
            .to_vec(),
        b"{\"method\":\"RPCServer.ExamineMemory\",\"params\":[{\"Address\":0,\"Length\":-5}],\"id\":7}"
            .to_vec(),
        b"{\"method\":\"RPCServer.ExamineMemory\",\"params\":[{\"Address\":0,\"Length\":100000000}],\"id\":8}"
            .to_vec(),
        b"{\"method\":\"RPCServer.ListFunctions\",\"params\":[{\"Filter\":\"(\"}],\"id\":9}".to_vec(),
        b"{\"method\":\"RPCServer.Eval\",\"params\":[{\"Expr\":\"((((\"}],\"id\":10}".to_vec(),
        b"{\"method\":\"RPCServer.Command\",\"params\":[{\"name\":\"continue\"}],\"id\":11}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
        huge.into_bytes(),
    ];
    for i in 0..1000 {
        let req = &bad[i % bad.len()];
        let v = call(&mut r, req);
        assert!(
            v.get("error").is_some_and(|e| e.is_string()),
            "request {:?} got no error: {v}",
            String::from_utf8_lossy(&req[..req.len().min(80)])
        );
    }
    let v = call(
        &mut r,
        b"{\"method\":\"RPCServer.State\",\"params\":[{\"NonBlocking\":false}],\"id\":99}",
    );
    assert_eq!(v.get("id"), Some(&serde_json::json!(99)), "{v}");
    assert!(v.get("error").is_some_and(|e| e.is_null()), "{v}");
    assert!(
        v.pointer("/result/State/currentThread/id").is_some(),
        "State has no current thread: {v}"
    );
}
