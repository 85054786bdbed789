//! Breakpoint sessions on live fixture programs, compared line by line with what Delve
//! 1.27.1 printed for the same script on the same binary (`cores/live-fixtures/*/
//! SESSION.delve.txt`, recorded by `cores/record-delve.sh`).
//!
//! Normalised before comparing, and nothing else: pids; Delve's `FILE:LINE: ` prefix and
//! coroner's `Command failed: ` prefix on errors (both go to the same stream, in
//! order); Delve's old-Go warning; the order of the `runtime-fatal-throw` addresses (it
//! varies between Delve runs). Known deviations, each documented in docs/cli.md, are
//! removed from Delve's side only where they occur: the address of a re-enabled
//! breakpoint in `toggle` (Delve prints 0x0), regex breakpoints that Delve suspends
//! after `restart` (coroner keeps them working), and Delve's failure to read a method
//! receiver held in a register on Go < 1.23 (`call c.Mul(5)`: replaced by the value the
//! runtime returns, which Delve prints on later releases).

#[path = "support/sources.rs"]
mod sources;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live-fixtures")
}

fn ptrace_works() -> bool {
    // A traced /bin/true tells whether this machine allows ptrace at all.
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "/bin/true"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("ptrace") && !o.status.success() => {
            eprintln!(
                "SKIPPED: live sessions: ptrace is unavailable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED: live sessions: cannot run coroner: {e}");
            false
        }
    }
}

fn unpack(build: &Path, dir: &Path) -> PathBuf {
    // Delve listed source when it recorded the transcripts.
    sources::live_sources();
    let name = build
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dst = dir.join(format!("live-{name}"));
    let f = std::fs::File::open(build.join("live.zst")).expect("open live.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

fn normalise_pid(l: &str) -> String {
    let re = regex::Regex::new(r"(pid=|Process |PID )\d+").expect("regex");
    re.replace_all(l, "${1}N").into_owned()
}

fn normalise(text: &str, delve: bool) -> Vec<String> {
    let prefix = regex::Regex::new(r"^/\S+\.cmds:\d+: ").expect("regex");
    let toggled = regex::Regex::new(r" toggled at 0x[0-9a-f]+ ").expect("regex");
    let receiver_bug =
        regex::Regex::new(r#"^could not set call receiver: Expression "c\.Mul" is unreadable"#)
            .expect("regex");
    // Stack and heap addresses change with every run (Go randomises them).
    let stack_addr = regex::Regex::new(r"^(Watchpoint \S+ set at )0x[0-9a-f]{9,}$").expect("regex");
    let mut out = Vec::new();
    for l in text.lines() {
        if delve && l.starts_with("WARNING: undefined behavior") {
            continue;
        }
        let mut l = prefix.replace(l, "").into_owned();
        if !delve {
            if let Some(e) = l.strip_prefix("Command failed: ") {
                l = e.to_string();
            }
        }
        if delve && receiver_bug.is_match(&l) {
            // What the runtime returns for `c.Mul(5)` (c.Factor is 3), in the block
            // and listing of the previous call at the same stop.
            let start = out.iter().rposition(|x: &String| x == "Values returned:");
            let end = out.iter().rposition(|x: &String| x.starts_with("> "));
            if let (Some(a), Some(b)) = (start, end) {
                let mut block: Vec<String> = out[a..b].to_vec();
                if let Some(v) = block.get_mut(1) {
                    *v = "\t~r0: 15".to_string();
                }
                out.extend(block);
                continue;
            }
        }
        if l.starts_with("Breakpoint ") && l.contains(" (enabled) at ") {
            // The order of several addresses varies between Delve runs (a map's):
            // compare them as a set.
            if let Some((head, rest)) = l.split_once(" at ") {
                if let Some((addrs, tail)) = rest.split_once(" for ") {
                    let mut a: Vec<&str> = addrs.split(',').collect();
                    a.sort_unstable();
                    l = format!("{head} at {} for {tail}", a.join(","));
                }
            }
        }
        l = stack_addr.replace(&l, "${1}ADDR").into_owned();
        if l.contains(" toggled at 0x") {
            // Delve prints 0x0 for a breakpoint it re-enables; coroner its address.
            l = toggled.replace(&l, " toggled at ADDR ").into_owned();
        }
        if l.contains("(suspended) at /") {
            continue;
        }
        out.push(normalise_pid(&l));
    }
    out
}

/// Run SESSION's Delve script under coroner on one build; output and errors in one
/// stream, in the order they were printed, as in Delve's transcript. BACKEND is
/// `--backend` (native or gdbserver).
fn run_coroner_on(
    backend: &str,
    build: &Path,
    b: &str,
    session: &str,
    dir: &Path,
) -> Result<String, String> {
    run_script_on(
        backend,
        build,
        b,
        &build.join(format!("{session}.delve.cmds")),
        session,
        dir,
    )
}

/// Run the script `cmds` on one build with the program arguments of SESSION.
fn run_script(
    build: &Path,
    b: &str,
    cmds: &Path,
    session: &str,
    dir: &Path,
) -> Result<String, String> {
    run_script_on("native", build, b, cmds, session, dir)
}

fn run_script_on(
    backend: &str,
    build: &Path,
    b: &str,
    cmds: &Path,
    session: &str,
    dir: &Path,
) -> Result<String, String> {
    // The program's arguments are in the session's source script.
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cores/live/sessions")
        .join(format!("{session}.cmds"));
    let source = std::fs::read_to_string(source).unwrap_or_default();
    let args: Vec<String> = source
        .lines()
        .find_map(|l| l.strip_prefix("# args: "))
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let exe = unpack(build, dir);
    let log = dir.join(format!("{b}-{session}-{backend}.out"));
    if backend == "connect" {
        return run_over_connect(&exe, cmds, &args, &log)
            .map_err(|e| format!("{b} {session}: {e}"));
    }
    let f = std::fs::File::create(&log).expect("create output file");
    let f2 = f.try_clone().expect("clone output file");
    let status = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("exec")
        .arg(format!("--backend={backend}"))
        .arg(&exe)
        .arg("--init")
        .arg(cmds)
        .arg("--")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .status()
        .expect("run coroner");
    if !status.success() {
        return Err(format!("{b} {session}: coroner exited with {status}"));
    }
    Ok(std::fs::read_to_string(&log).unwrap_or_default())
}

/// Run SESSION on every build; returns the differences.
fn run_session(session: &str, only_builds: &[&str]) -> Vec<String> {
    run_session_on("native", session, only_builds)
}

/// [`run_session`] with `--backend=BACKEND`.
fn run_session_on(backend: &str, session: &str, only_builds: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    let mut ran = 0;
    for b in only_builds {
        let build = fixtures().join(b);
        let cmds = build.join(format!("{session}.delve.cmds"));
        let want_path = build.join(format!("{session}.delve.txt"));
        let (Ok(script), Ok(want)) = (
            std::fs::read_to_string(&cmds),
            std::fs::read_to_string(&want_path),
        ) else {
            problems.push(format!("{b}: no {session} transcript"));
            continue;
        };
        let _ = &script;
        let got = match run_coroner_on(backend, &build, b, session, dir.path()) {
            Ok(g) => g,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        ran += 1;
        let (mut g, mut w) = (normalise(&got, false), normalise(&want, true));
        // After `restart` Delve suspends regex breakpoints for good; coroner keeps them,
        // so it prints their listing lines and stops too: Delve's lines must appear in
        // coroner's, in order.
        let cut = |v: &[String]| {
            v.iter()
                .position(|l| l.starts_with("Process restarted with PID"))
        };
        if let (Some(gi), Some(wi)) = (cut(&g), cut(&w)) {
            let (g_after, mut w_after) = (g.split_off(gi + 1), w.split_off(wi + 1));
            // The extra stops use up `continue`s that Delve spent on repeating that
            // the process has exited.
            w_after.dedup();
            let mut it = g_after.iter();
            for l in &w_after {
                if !it.any(|x| x == l) {
                    problems.push(format!(
                        "{b} {session}: after restart, Delve's line {l:?} is missing"
                    ));
                    break;
                }
            }
        }
        if g != w {
            let mut d = String::new();
            for (i, (a, b)) in g.iter().zip(w.iter()).enumerate() {
                if a != b {
                    d = format!(
                        "first difference at line {}:\n  coroner: {a}\n  delve:   {b}",
                        i + 1
                    );
                    break;
                }
            }
            if d.is_empty() {
                d = format!("coroner printed {} lines, Delve {}", g.len(), w.len());
            }
            problems.push(format!("{b} {session}: {d}"));
        }
    }
    assert!(ran > 0 || !problems.is_empty(), "no build ran");
    problems
}

/// The `-N -l` builds. On optimised builds coroner reads variables Delve cannot (Delve
/// prints `could not find symbol value`), and lists a loop variable after `stepout`
/// that Delve hides; those transcripts are recorded but not compared yet.
const ALL: [&str; 4] = [
    "go1.19-noopt",
    "go1.22-noopt",
    "go1.25-noopt",
    "go1.27-noopt",
];

#[test]
fn conditional_breakpoint_session_prints_what_delve_prints() {
    if !ptrace_works() {
        return;
    }
    let p = run_session("loop", &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

/// A breakpoint on a generic function, a closure's captured variables at its entry,
/// a `next` that ends on another breakpoint.
#[test]
fn stop_reports_session_prints_what_delve_prints() {
    if !ptrace_works() {
        return;
    }
    let p = run_session("stops", &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

/// `condition -hitcount` / `-per-g-hitcount` as `breakpoints` lists them, a disabled
/// breakpoint listed by its location expression with its condition, the second
/// instantiation of a generic function stopping on its hit count, and its stack.
#[test]
fn hit_condition_session_prints_what_delve_prints() {
    if !ptrace_works() {
        return;
    }
    let p = run_session("hitcount", &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

/// Float arguments arrive in XMM registers (register ABI) and are still there at the
/// breakpoint of a `-N -l` function: stepMain prints Sum([]float64{0.5, 0.25}), so
/// fmt.(*fmt).fmtFloat's first hit has v = 0.75 in XMM0. Delve 1.27.1 prints `v = 0.75`
/// in `args` and `0.75` for `print v` on every one of these builds.
#[test]
fn float_argument_in_an_xmm_register_is_read() {
    if !ptrace_works() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("xmm.cmds");
    std::fs::write(
        &script,
        "break fmt.(*fmt).fmtFloat\ncontinue\nargs\nprint v\nexit\n",
    )
    .expect("write script");
    for b in ALL {
        let out = run_script(&fixtures().join(b), b, &script, "step", dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"v = 0.75"), "{b}: args:\n{out}");
        assert!(lines.contains(&"0.75"), "{b}: print v:\n{out}");
    }
}

/// A `next` cut short by a breakpoint on another goroutine, on a pipe: Delve 1.27
/// (terminal/command.go, continueUntilCompleteNext) prints the stop, `breakpoint hit
/// during next` and its continue/cancel question; reading no answer it cancels the
/// next, lists the source and fails the command with `EOF`. main nexts from its first
/// `go worker(...)` past `wg.Wait()`, which cannot return before the workers have run
/// worker's body, where the breakpoint is: some `next` is interrupted.
#[test]
fn next_interrupted_by_another_goroutine_asks_as_delve_does() {
    if !ptrace_works() {
        return;
    }
    sources::live_sources();
    let step_go = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live/step.go");
    let src = std::fs::read_to_string(step_go).expect("read step.go");
    let line_of = |pat: &str| {
        src.lines()
            .position(|l| l.contains(pat))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no {pat:?} in step.go"))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("interrupted.cmds");
    let mut cmds = format!(
        "break step.go:{}\nbreak step.go:{}\ncontinue\n",
        line_of("// LINE: step-call-worker"),
        line_of("// LINE: worker-body")
    );
    cmds.push_str(&"next\n".repeat(12));
    cmds.push_str("exit\n");
    std::fs::write(&script, cmds).expect("write script");
    for b in ALL {
        let out = run_script(&fixtures().join(b), b, &script, "step", dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == "\tbreakpoint hit during next")
            .unwrap_or_else(|| panic!("{b}: no interrupted next:\n{out}"));
        assert!(
            // The worker's breakpoint, or (Go 1.19) the `go` statement's own line in
            // the new goroutine's wrapper, stepMain.func2.
            at > 0 && lines[at - 1].starts_with("> [Breakpoint "),
            "{b}: the stop line is not above it:\n{out}"
        );
        let question =
            "[c] continue [s] stop here and cancel next, [f] finish next skipping all breakpoints? ";
        assert!(
            lines.get(at + 1).is_some_and(|l| l.starts_with(question)),
            "{b}: no question after it:\n{out}"
        );
        let eof = lines[at..]
            .iter()
            .position(|l| *l == "Command failed: EOF")
            .unwrap_or_else(|| panic!("{b}: the next did not fail with EOF:\n{out}"));
        assert!(
            lines[at..at + eof].iter().any(|l| l.starts_with("=> ")),
            "{b}: no source listing before EOF:\n{out}"
        );
    }
}

/// `list` and `frame N` print the selected goroutine's context line and, when its
/// frame 0 was compiled with optimisations (the runtime, even under `all=-N -l`),
/// Delve's warning under it (printcontextLocation / printcontextThread). Delve 1.27.1
/// on these builds, goroutine 2 parked in runtime.gopark: `> runtime.gopark() ...`
/// then `Warning: debugging optimized function`, for both commands (the goroutine
/// may not have parked yet: then its frame 0 is another runtime function).
#[test]
fn list_and_frame_warn_about_an_optimized_frame_0() {
    if !ptrace_works() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("warn.cmds");
    std::fs::write(
        &script,
        "break main.Sum\ncontinue\ngoroutine 2\nlist\nframe 1\nexit\n",
    )
    .expect("write script");
    for b in ALL {
        let out = run_script(&fixtures().join(b), b, &script, "step", dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = out.lines().collect();
        // Goroutine 2 (forcegc) is usually parked in runtime.gopark; just started it
        // may still be in runtime.forcegchelper: any runtime function is optimised.
        let heads: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with("> runtime."))
            .collect();
        assert_eq!(heads.len(), 2, "{b}: list and frame 1:\n{out}");
        for i in heads {
            assert_eq!(
                lines.get(i + 1).copied(),
                Some("Warning: debugging optimized function"),
                "{b}:\n{out}"
            );
        }
    }
}

#[test]
fn breakpoint_forms_session_prints_what_delve_prints() {
    if !ptrace_works() {
        return;
    }
    let p = run_session("breakpoints", &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

#[test]
fn watchpoint_session_prints_what_delve_prints() {
    if !ptrace_works() {
        return;
    }
    let p = run_session("watch", &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

#[test]
fn call_and_set_session_prints_what_delve_prints() {
    if !ptrace_works() {
        return;
    }
    let p = run_session("call", &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

/// Each "Values returned:" block with the stop line above it.
fn returned_blocks(text: &str) -> Vec<Vec<String>> {
    let lines: Vec<String> = normalise(text, false);
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l == "Values returned:" && i > 0 {
            let end = lines[i..]
                .iter()
                .position(|x| x.is_empty())
                .map_or(lines.len(), |e| i + e);
            out.push(lines[i - 1..end].to_vec());
        }
    }
    out
}

/// The step session still differs from Delve elsewhere (stepping into deferred calls
/// run by a panic, `next` over Go 1.25's defer-return sequence: docs/cli.md), so its
/// `Values returned:` blocks are compared on their own: every block Delve printed
/// after `stepout`, `next` or `step` returning to the caller (wrappers skipped) must
/// appear, with the same stop line and values, in the same order.
#[test]
fn values_returned_in_step_session_are_delves() {
    if !ptrace_works() {
        return;
    }
    values_returned_in_step_session_on("native");
}

fn values_returned_in_step_session_on(backend: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut problems = Vec::new();
    let mut compared = 0;
    for b in ALL {
        let build = fixtures().join(b);
        let want = std::fs::read_to_string(build.join("step.delve.txt")).expect("transcript");
        let got = match run_coroner_on(backend, &build, b, "step", dir.path()) {
            Ok(g) => g,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let (g, w) = (returned_blocks(&got), returned_blocks(&want));
        assert!(!w.is_empty(), "{b}: Delve printed no Values returned block");
        let mut it = g.iter();
        for blk in &w {
            compared += 1;
            if !it.any(|x| x == blk) {
                problems.push(format!(
                    "{b}: Delve's block is missing or differs: {blk:#?}"
                ));
                break;
            }
        }
    }
    assert!(compared >= 20, "only {compared} blocks compared");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// `set` on a live process changes what the program computes: a parameter kept in a
/// register (`n`, in RBX at tick's breakpoint on these builds) and a package variable.
/// tick returns c.Mul(n) = 3*n and increments Counter, so after `stepout` the runtime
/// itself proves both writes: `~r0: 15` and Counter 42.
#[test]
fn set_writes_registers_and_memory_the_program_then_uses() {
    if !ptrace_works() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("set.cmds");
    std::fs::write(
        &script,
        "break main.tick\ncontinue\nset n = 5\nprint n\nset main.Counter = 41\n\
         clear 1\nstepout\nprint main.Counter\nset main.Name = \"x\"\nexit\n",
    )
    .expect("write script");
    let mut problems = Vec::new();
    for b in ALL {
        let build = fixtures().join(b);
        let got = match run_script(&build, b, &script, "call", dir.path()) {
            Ok(g) => g,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let lines = normalise(&got, false);
        let after = |l: &str| lines.iter().position(|x| x == l);
        let checks = [
            after("5").is_some(),
            after("Values returned:").is_some_and(|i| {
                lines.get(i + 1).map(String::as_str) == Some("\t~r0: 15")
            }),
            after("42").is_some(),
            lines.iter().any(|l| {
                l == "literal string can not be allocated because function calls are not allowed without using 'call'"
            }),
        ];
        if checks.iter().any(|c| !c) {
            problems.push(format!("{b}: {checks:?} in:\n{}", lines.join("\n")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ----- the same sessions over GNU gdbserver (`--backend=gdbserver`) -----

/// gdbserver on PATH, and ptrace allowed (gdbserver traces the program itself).
fn gdbserver_works() -> bool {
    if !ptrace_works() {
        return false;
    }
    match Command::new("gdbserver").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!(
                "SKIPPED: --backend=gdbserver sessions: gdbserver is not installed (apt-get install gdbserver)"
            );
            false
        }
    }
}

fn gdbserver_session(session: &str) {
    let p = run_session_on("gdbserver", session, &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

#[test]
fn breakpoint_forms_session_over_gdbserver_prints_what_delve_prints() {
    if gdbserver_works() {
        gdbserver_session("breakpoints");
    }
}

#[test]
fn watchpoint_session_over_gdbserver_prints_what_delve_prints() {
    if gdbserver_works() {
        gdbserver_session("watch");
    }
}

#[test]
fn call_and_set_session_over_gdbserver_prints_what_delve_prints() {
    if gdbserver_works() {
        gdbserver_session("call");
    }
}

#[test]
fn values_returned_in_step_session_over_gdbserver_are_delves() {
    if gdbserver_works() {
        values_returned_in_step_session_on("gdbserver");
    }
}

/// The loop session stops on one of 20000 conditional-breakpoint hits: over gdbserver
/// each hit costs ~12 ms of packets (4 ms with ptrace): ~6 minutes on one build on a
/// shared 2-core machine, too long for every CI run. Run it with `--ignored`.
#[test]
#[ignore = "~6 minutes: 20000 conditional-breakpoint hits over gdbserver"]
fn conditional_breakpoint_session_over_gdbserver_prints_what_delve_prints() {
    if gdbserver_works() {
        let p = run_session_on("gdbserver", "loop", &["go1.25-noopt"]);
        assert!(p.is_empty(), "{}", p.join("\n\n"));
    }
}

// ----- the same sessions through `coroner connect` to `coroner exec --headless` -----

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills the server by pid however the test ends.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The script through Delve's JSON-RPC: `coroner exec --headless` runs the program
/// (whose output goes to the same log, appended, so it interleaves as in Delve's
/// transcript) and `coroner connect --init` runs the script against it. The server's
/// address line and the client's banner are left out.
fn run_over_connect(
    exe: &Path,
    cmds: &Path,
    args: &[String],
    log: &Path,
) -> Result<String, String> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open output file")
    };
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "--headless", &format!("--listen={addr}")])
        .arg(exe)
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .stdout(open())
        .stderr(open())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let mut server = Server(server);
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("API server listening at: ")
    {
        if start.elapsed() > std::time::Duration::from_secs(30) {
            return Err("the server printed no address in 30 s".into());
        }
        if let Ok(Some(st)) = server.0.try_wait() {
            return Err(format!("the server exited with {st}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("connect")
        .arg(&addr)
        .arg("--init")
        .arg(cmds)
        .stdin(Stdio::null())
        .stdout(open())
        .stderr(open())
        .status()
        .map_err(|e| format!("cannot run coroner connect: {e}"))?;
    // A single-client server ends with its client; give it a moment to print its
    // last lines (the program's, after a kill) before it is killed for sure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.0.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(server);
    if !status.success() {
        return Err(format!("coroner connect exited with {status}"));
    }
    Ok(std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            !l.starts_with("API server listening at: ") && *l != "Type 'help' for list of commands."
        })
        .map(|l| format!("{l}\n"))
        .collect())
}

fn connect_session(session: &str) {
    let p = run_session_on("connect", session, &ALL);
    assert!(p.is_empty(), "{}", p.join("\n\n"));
}

#[test]
fn conditional_breakpoint_session_over_connect_prints_what_delve_prints() {
    if ptrace_works() {
        connect_session("loop");
    }
}

#[test]
fn stop_reports_session_over_connect_prints_what_delve_prints() {
    if ptrace_works() {
        connect_session("stops");
    }
}

#[test]
fn breakpoint_forms_session_over_connect_prints_what_delve_prints() {
    if ptrace_works() {
        connect_session("breakpoints");
    }
}

#[test]
fn watchpoint_session_over_connect_prints_what_delve_prints() {
    if ptrace_works() {
        connect_session("watch");
    }
}

#[test]
fn call_and_set_session_over_connect_prints_what_delve_prints() {
    if ptrace_works() {
        connect_session("call");
    }
}

#[test]
fn hit_condition_session_over_connect_prints_what_delve_prints() {
    if ptrace_works() {
        connect_session("hitcount");
    }
}

#[test]
fn values_returned_in_step_session_over_connect_are_delves() {
    if ptrace_works() {
        values_returned_in_step_session_on("connect");
    }
}
