//! `coroner connect ADDR` against three servers for the same live program and
//! script: coroner's own `--headless`, and Delve's headless server (Debian's 1.20,
//! and a hand-built 1.27 when present). Each transcript must equal what coroner's own
//! REPL prints for the script on a local `coroner exec`.
//!
//! The same holds on a core (`connect_on_a_core_...`): every command against
//! coroner's server; against Delve's servers the commands whose answers do not depend
//! on the unwinder, because the engines differ there (found by this test, reported in
//! issue 9): Delve puts a parked goroutine's `runtime.gopark` frame on proc.go:403
//! where coroner says 402, and unwinds the crashing goroutine's signal frames
//! differently (1.27 shows no `sigtramp` frame; 1.20 sends line -1 for some frames).
//!
//! Normalised, and why: the target's own stdout (`ready pid=N`, which the REPL shares
//! and a headless server keeps), and the banner the local REPL prints to stderr.
//! Nothing else: values, stop lines, hit counts, stacks and listings must match.
//!
//! Every process started here is killed by pid when its guard drops.

#[path = "support/run.rs"]
mod run;

#[path = "support/sources.rs"]
mod sources;
use run::{run_stdout, Guard};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A script whose every answer is deterministic (no uninitialised results).
const SCRIPT: &str = "break main.f
continue
print i
locals
bt
next
print i
clear 1
break main.f if i == 100
continue
print i
stack 2
exit
";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn live_binary(dir: &Path) -> Option<PathBuf> {
    // Delve listed source when it recorded the transcripts.
    sources::live_sources();
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

/// Run `cmd` with `stdin` to its end (killed after 120 s); its stdout.
fn run(cmd: Command, stdin: &str) -> String {
    run_stdout(cmd, stdin, Duration::from_secs(120))
}

/// Start a headless server (`argv` up to its flags) and read its address from the
/// line `API server listening at: ADDR` (coroner prints it on stdout, Delve too).
fn server(argv: &[&str]) -> (Guard, String) {
    let (prog, args) = argv.split_first().unwrap_or_else(|| panic!("empty argv"));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {prog}: {e}"));
    let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let guard = Guard(child);
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
    let addr = addr.unwrap_or_else(|| panic!("{prog} printed no address"));
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (guard, addr)
}

fn normalise(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("ready pid=") && *l != "Type 'help' for list of commands.")
        .map(|l| format!("{l}\n"))
        .collect()
}

fn connect(addr: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coroner"));
    cmd.arg("connect").arg(addr);
    normalise(&run(cmd, SCRIPT))
}

#[test]
fn connect_prints_what_the_repl_prints_against_coroner_and_delve_servers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy().into_owned();
    let coroner = env!("CARGO_BIN_EXE_coroner");
    let mut repl = Command::new(coroner);
    repl.args(["exec", "--repl", &bin, "--", "loop"]);
    let want = normalise(&run(repl, SCRIPT));
    assert!(
        want.contains("> [Breakpoint 2] main.f()"),
        "REPL transcript:\n{want}"
    );

    let mut servers: Vec<(&str, Vec<&str>)> = vec![(
        "coroner --headless",
        vec![
            coroner,
            "exec",
            "--headless",
            "--listen=127.0.0.1:0",
            &bin,
            "--",
            "loop",
        ],
    )];
    for dlv in ["/usr/bin/dlv", "/opt/dlv-1.27/dlv"] {
        if Path::new(dlv).exists() {
            servers.push((
                dlv,
                vec![
                    dlv,
                    "exec",
                    "--headless",
                    "--listen=127.0.0.1:0",
                    "--api-version=2",
                    "--check-go-version=false",
                    &bin,
                    "--",
                    "loop",
                ],
            ));
        } else {
            eprintln!("SKIP: no Delve server at {dlv} (apt-get install delve gives /usr/bin/dlv)");
        }
    }
    for (label, argv) in servers {
        let (mut guard, addr) = server(&argv);
        let got = connect(&addr);
        assert_eq!(
            got, want,
            "coroner connect to {label} differs from the REPL"
        );
        // `exit` on a single-client server detached it: the server ends.
        let start = Instant::now();
        while guard.0.try_wait().ok().flatten().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{label} still up after exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The core's session: `full` for coroner's server, the value and thread commands for
/// Delve's (see the top of this file for why).
const CORE_FULL: &str = "goroutines
threads
print main.GInt
print main.GString
print main.GSlice
print main.GInner
print main.GMapSmall
print main.GArr
bt
locals
args
regs
goroutine 20
stack 3
goroutine
goroutines -t 3
goroutines -with user
goroutines -without running
goroutines -group user
goroutines -group running
goroutines -group userloc
goroutine 1 bt 2
frame 1 locals
frame 2
list
up
down
whatis main.GInner
whatis main.GSlice
x -count 4 -size 8 0x5601d0
x -fmt dec -count 3 -size 4 0x5601d0
disassemble -a 0x401000 0x401010
list main.main
goroutine 1 frame 1 args
display -a main.GInt
display -a %x main.GInt
display
display -d 0
display
print %x main.GInt
stack -full 2
";
const CORE_VALUES: &str = "threads
print main.GInt
print main.GNeg
print main.GString
print main.GLongStr
print main.GSlice
print main.GInner
print main.GMapSmall
print main.GArr
print main.GNilMap
locals
args
";

fn unpack(src: &Path, out: &Path) -> bool {
    Command::new("zstd")
        .arg("-dqf")
        .arg(src)
        .arg("-o")
        .arg(out)
        .status()
        .is_ok_and(|s| s.success())
}

/// The REPL's transcript without the crash header it prints before the banner.
fn after_banner(s: &str) -> String {
    match s.split_once("Type 'help' for list of commands.\n") {
        Some((_, rest)) => rest.to_string(),
        None => s.to_string(),
    }
}

#[test]
fn connect_on_a_core_prints_what_the_repl_prints() {
    let d = root().join("cores/fixtures-values/go1.22-noopt");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (bin, core) = (dir.path().join("values"), dir.path().join("values.core"));
    if !unpack(&d.join("values.zst"), &bin) || !unpack(&d.join("values.core.zst"), &core) {
        eprintln!("SKIP: fixture {} missing or zstd failed", d.display());
        return;
    }
    let (bin, core) = (
        bin.to_string_lossy().into_owned(),
        core.to_string_lossy().into_owned(),
    );
    let coroner = env!("CARGO_BIN_EXE_coroner");
    // The runtime's sources are not on this machine: the REPL says so in a note,
    // Delve's client (and so coroner connect) prints nothing after a stop or frame
    // change and `Command failed: open ...` after `list`.
    let no_source = |s: String| -> String {
        s.lines()
            .filter(|l| {
                !l.starts_with("(source not available") && !l.starts_with("Command failed: open ")
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let repl = |script: &str| {
        let mut c = Command::new(coroner);
        c.args(["core", "--repl", &bin, &core]);
        no_source(normalise(&after_banner(&run(c, script))))
    };
    let connect = |addr: &str, script: &str| {
        let mut c = Command::new(coroner);
        c.arg("connect").arg(addr);
        no_source(normalise(&run(c, script)))
    };
    let mut runs: Vec<(String, Vec<&str>, &str)> = vec![(
        "coroner --headless".into(),
        vec![
            coroner,
            "core",
            "--headless",
            "--listen=127.0.0.1:0",
            &bin,
            &core,
        ],
        CORE_FULL,
    )];
    for dlv in ["/usr/bin/dlv", "/opt/dlv-1.27/dlv"] {
        if Path::new(dlv).exists() {
            runs.push((
                dlv.into(),
                vec![
                    dlv,
                    "core",
                    "--headless",
                    "--listen=127.0.0.1:0",
                    "--api-version=2",
                    "--check-go-version=false",
                    &bin,
                    &core,
                ],
                CORE_VALUES,
            ));
        } else {
            eprintln!("SKIP: no Delve server at {dlv}");
        }
    }
    for (label, argv, script) in runs {
        let want = repl(script);
        assert!(want.contains("42\n"), "REPL transcript:\n{want}");
        let (_guard, addr) = server(&argv);
        let got = connect(&addr, script);
        assert_eq!(
            got, want,
            "coroner connect to {label} differs from the REPL"
        );
    }
}

/// rr's flags that record here (`-W`: rr.soft's software counters), or None.
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
    eprintln!("SKIP: no rr on PATH can record here (no performance counters, no rr.soft -W)");
    None
}

/// Event numbers differ between two recordings of the same run.
fn mask_events(s: &str) -> String {
    s.lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some("Completed" | "Current"), Some("event:")) => "EVENT".to_string(),
                (Some(id), Some(n)) if id.starts_with('c') && n.parse::<u64>().is_ok() => {
                    format!("{id} N {}", w.collect::<Vec<_>>().join(" "))
                }
                _ => l.to_string(),
            }
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

const REPLAY: &str = "break main.f\ncontinue\ncontinue\nprint i\ncheckpoint here\ncheckpoints\n\
next\nrev next\nrev stepout\nrev step\nprint i\nrewind\nprint i\nrestart c1\nprint i\n\
clear-checkpoint c1\ncheckpoints\nexit\n";

/// `coroner connect` to `coroner exec --backend=rr --headless`: the reverse commands,
/// checkpoints and `restart cN` print what the REPL prints on its own recording.
#[test]
fn connect_on_a_replay_runs_backwards_as_the_repl() {
    let Some(flags) = rr_record_flags() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let Some(bin) = live_binary(dir.path()) else {
        return;
    };
    let bin = bin.to_string_lossy().into_owned();
    let coroner = env!("CARGO_BIN_EXE_coroner");
    let mut repl = Command::new(coroner);
    repl.args(["exec", "--backend=rr", "--repl", &bin, "--", "loop", "50"])
        .env("CORONER_RR_RECORD_FLAGS", flags)
        .env("CORONER_RR_REPLAY_FLAGS", flags);
    let want = mask_events(&normalise(&run(repl, REPLAY)));
    assert!(want.contains("EVENT"), "no rr event in the REPL:\n{want}");
    std::env::set_var("CORONER_RR_RECORD_FLAGS", flags);
    std::env::set_var("CORONER_RR_REPLAY_FLAGS", flags);
    let (_g, addr) = server(&[
        coroner,
        "exec",
        "--backend=rr",
        "--headless",
        "--listen=127.0.0.1:0",
        &bin,
        "--",
        "loop",
        "50",
    ]);
    let mut c = Command::new(coroner);
    c.arg("connect").arg(&addr);
    let got = mask_events(&normalise(&run(c, REPLAY)));
    assert_eq!(got, want, "connect and the REPL differ on the replay");
}
