//! `coroner replay` and `coroner exec --backend=rr` against a real rr. rr needs CPU
//! performance counters, or rr.soft's software counters (`-W`): the probe records
//! /bin/true plainly, then with `-W`, and the tests use whichever works (passing it
//! through CORONER_RR_RECORD_FLAGS / CORONER_RR_REPLAY_FLAGS); without a working rr
//! they skip loudly. The trace-directory errors need no rr.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Extra rr flags that make recording work here, or None (skip).
fn rr_flags() -> Option<&'static str> {
    let dir = tempfile::tempdir().ok()?;
    for flags in ["", "-W"] {
        let out = dir.path().join(format!("probe{}", flags.len()));
        let mut c = Command::new("rr");
        c.arg("record").arg("-o").arg(&out);
        if !flags.is_empty() {
            c.arg(flags);
        }
        let r = c.arg("/bin/true").stdin(Stdio::null()).output();
        match r {
            Err(e) => {
                eprintln!("SKIPPED: replay_rr: rr is not runnable here ({e}): install rr");
                return None;
            }
            Ok(o) if o.status.success() && out.join("version").is_file() => return Some(flags),
            Ok(o) => eprintln!(
                "replay_rr probe: `rr record {flags} /bin/true` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        }
    }
    eprintln!(
        "SKIPPED: replay_rr: rr cannot record on this machine (no performance counters, no -W)"
    );
    None
}

fn fixture(dir: &Path) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live-fixtures/go1.25-noopt/live.zst");
    let dst = dir.join("live");
    let f = std::fs::File::open(&src).expect("open live.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

fn coroner(args: &[&str], script: &str, flags: &str, dir: &Path) -> (String, bool) {
    let cmds = dir.join("script.cmds");
    std::fs::write(&cmds, script).expect("write script");
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(&args[..1])
        .arg("--init")
        .arg(&cmds)
        .args(&args[1..])
        .env("CORONER_RR_RECORD_FLAGS", flags)
        .env("CORONER_RR_REPLAY_FLAGS", flags)
        .stdin(Stdio::null())
        .output()
        .expect("run coroner");
    (
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        out.status.success(),
    )
}

/// Index of the first line at or after `from` that starts with `want` (panics, with
/// the lines, when there is none).
fn line_at(l: &[String], want: &str, from: usize) -> usize {
    l.iter()
        .skip(from)
        .position(|x| x.starts_with(want))
        .map(|p| p + from)
        .unwrap_or_else(|| panic!("{want:?} missing after line {from} in:\n{}", l.join("\n")))
}

/// Lines that are not source listing.
fn essentials(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("    ") && !l.starts_with("=>"))
        .map(str::to_string)
        .collect()
}

#[test]
fn record_then_replay_backwards_with_checkpoints() {
    let Some(flags) = rr_flags() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let exe_s = exe.to_str().expect("utf-8 path");
    let (text, ok) = coroner(
        &["exec", "--backend=rr", exe_s, "--", "loop", "50"],
        "break main.f\ncontinue\ncontinue\nprint i\ncheckpoint here\ncheckpoints\n\
         next\nrev next\nrev stepout\nrewind\nprint i\nrestart c1\nprint i\n\
         clear-checkpoint c1\ncheckpoints\nexit\n",
        flags,
        dir.path(),
    );
    assert!(ok, "{text}");
    let l = essentials(&text);
    let pos = |want: &str, from: usize| line_at(&l, want, from);
    let a = pos("> [Breakpoint 1] main.f() ", 0);
    let b = pos("> [Breakpoint 1] main.f() ", a + 1);
    assert!(
        l[b + 1].starts_with("Completed event: "),
        "no rr event under the stop line: {}",
        l[b + 1]
    );
    let one = pos("1", b);
    let c = pos("Checkpoint c1 created.", one);
    let head = pos("ID  When  Note", c);
    let list = pos("c1  ", head);
    assert!(l[list].ends_with(" here"), "{}", l[list]);
    let nx = pos(
        "> main.f() /tmp/coroner-fixtures-live/src/loop.go:15 ",
        list,
    );
    // Back onto the breakpoint's line: a hit of it, counted, as Delve reports it.
    let rn = pos(
        "> [Breakpoint 1] main.f() /tmp/coroner-fixtures-live/src/loop.go:14 (hits goroutine(1):3 total:3)",
        nx,
    );
    // Back to the call in the caller.
    let so = pos(
        "> main.loopMain() /tmp/coroner-fixtures-live/src/loop.go:30 ",
        rn,
    );
    // rewind stops at the first call, i = 0.
    let rw = pos("> [Breakpoint 1] main.f() ", so);
    let zero = pos("0", rw);
    // restart c1: back to the second call, i = 1.
    let back = pos("1", zero);
    assert!(
        !l[back..].iter().any(|x| x.starts_with("c1  ")),
        "checkpoint not cleared"
    );
}

/// `rev step` enters a call reached backwards at its return (Delve's reverse step),
/// `rev next-instruction` goes back over a whole call, `rev step-instruction` one
/// instruction.
#[test]
fn reverse_step_enters_calls_and_next_instruction_steps_over_them() {
    let Some(flags) = rr_flags() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let exe_s = exe.to_str().expect("utf-8 path");
    let (text, ok) = coroner(
        &["exec", "--backend=rr", exe_s, "--", "loop", "50"],
        "break main.f\ncontinue\ncontinue\nclear 1\nstepout\nrev step\nprint i\n\
         rev stepout\nrev next\nrev step\nprint i\nstepout\nrev next-instruction\n\
         rev step-instruction\nexit\n",
        flags,
        dir.path(),
    );
    assert!(ok, "{text}");
    let l = essentials(&text);
    let pos = |want: &str, from: usize| line_at(&l, want, from);
    const SRC: &str = "/tmp/coroner-fixtures-live/src/loop.go";
    let b = pos("> [Breakpoint 1] main.f() ", 0);
    let b = pos("> [Breakpoint 1] main.f() ", b + 1);
    let out = pos(&format!("> main.loopMain() {SRC}:30 "), b);
    // Into f at its return, with the second call's i.
    let into = pos(&format!("> main.f() {SRC}:15 "), out);
    let one = pos("1", into);
    let back = pos(&format!("> main.loopMain() {SRC}:30 "), one);
    let cond = pos(&format!("> main.loopMain() {SRC}:29 "), back);
    // Backwards from the loop condition, the previous iteration's call of f.
    let prev = pos(&format!("> main.f() {SRC}:15 "), cond);
    let zero = pos("0", prev);
    let after = pos(&format!("> main.loopMain() {SRC}:30 "), zero);
    let ni = pos(&format!("> main.loopMain() {SRC}:30 "), after + 1);
    let si = pos("> main.loopMain() ", ni + 1);
    let pc = |i: usize| -> u64 {
        l[i].rsplit_once("(PC: 0x")
            .and_then(|(_, h)| u64::from_str_radix(h.trim_end_matches(')'), 16).ok())
            .unwrap_or_else(|| panic!("no PC in {:?}", l[i]))
    };
    let (ret, call, before) = (pc(after), pc(ni), pc(si));
    // Back over the call: the call instruction, 5 bytes (call rel32) before the
    // return address; one instruction more is before it.
    assert_eq!(
        ret - call,
        5,
        "rev next-instruction from {ret:#x} went to {call:#x}"
    );
    assert!(
        before < call && call - before <= 15,
        "rev si from {call:#x} went to {before:#x}"
    );
}

#[test]
fn a_directory_that_is_not_a_trace_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("replay")
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run coroner");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not an rr trace directory"), "{err}");
}

#[test]
fn a_trace_cut_short_is_a_clear_error() {
    let Some(flags) = rr_flags() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let trace = dir.path().join("trace");
    let st = Command::new("rr")
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .args(flags.split_whitespace())
        .arg(&exe)
        .args(["loop", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("rr record");
    assert!(st.success());
    // What a recording killed mid-run leaves: events cut off.
    let ev = trace.join("events");
    let len = std::fs::metadata(&ev).expect("events").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ev)
        .and_then(|f| f.set_len(len / 3))
        .expect("truncate");
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("replay")
        .arg(&trace)
        .env("CORONER_RR_REPLAY_FLAGS", flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .expect("run coroner");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "replayed a cut trace: {err}");
    assert!(err.contains("rr replay failed"), "{err}");
}

/// Restarting a recording: the first command after `restart cN` moves (rr answers the
/// first resume after a restart with a stop where it is: gdb and Delve absorb it, and
/// reading siginfo there made rr refuse to go backwards); breakpoint hit counts are
/// kept (Delve); plain `restart` goes back to the start of the recording; the end of
/// the recording is the program's exit (rr's synthetic SIGKILL), after which state
/// commands say so and the recording can still be rewound; and a restart after the
/// end re-inserts the breakpoints rr dropped.
#[test]
fn restarts_move_at_once_keep_hit_counts_and_the_end_is_an_exit() {
    let Some(flags) = rr_flags() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = fixture(dir.path());
    let exe_s = exe.to_str().expect("utf-8 path");
    let (text, ok) = coroner(
        &["exec", "--backend=rr", exe_s, "--", "loop", "3"],
        "break main.f\ncontinue\ncontinue\ncheckpoint\ncheckpoints\ncontinue\nrestart\ncontinue\n\
         restart c1\ncontinue\nrestart c1\nrev step-instruction\nclear 1\ncontinue\nbt\n\
         break main.f\nrestart c1\ncontinue\nexit\n",
        flags,
        dir.path(),
    );
    assert!(ok, "{text}");
    // stderr (the failed commands) comes after stdout here.
    let l = essentials(&text);
    let pos = |want: &str, from: usize| line_at(&l, want, from);
    const SRC: &str = "/tmp/coroner-fixtures-live/src/loop.go";
    let hit =
        |n: u32| format!("> [Breakpoint 1] main.f() {SRC}:14 (hits goroutine(1):{n} total:{n})");
    let b2 = pos(&hit(2), 0);
    let c = pos("Checkpoint c1 created.", b2);
    // Delve's default note: where the goroutine is, with the PC.
    let list = pos("c1  ", c);
    assert!(
        l[list].contains(&format!("main.f() {SRC}:14 (0x")),
        "{}",
        l[list]
    );
    let b3 = pos(&hit(3), list);
    // Plain restart (no restart before it): the start of the recording. The first
    // call is then hit 4: counts are kept.
    let start = pos("> _rt0_amd64_linux() ", b3);
    let b4 = pos(&hit(4), start);
    // restart c1 prints where it is; `continue` then moves on to the next call.
    let r1 = pos(&format!("> main.f() {SRC}:14 "), b4 + 1);
    let b5 = pos(&hit(5), r1);
    assert!(
        !l[r1..b5].iter().any(|x| x.contains("received signal")),
        "{}",
        l[r1..b5].join("\n")
    );
    // restart c1, then one instruction back: the instruction before the breakpoint's,
    // listed as instructions.
    let r2 = pos(&format!("> main.f() {SRC}:14 "), b5 + 1);
    let si = pos("> main.f() ", r2 + 1);
    assert!(
        l[si].ends_with("(PC: 0x4c67e1)") || !l[si].contains("(PC: 0x4c67e4)"),
        "{}",
        l[si]
    );
    pos("TEXT main.f(SB) ", si);
    let exit = pos("Process ", si);
    assert!(l[exit].ends_with("has exited with status 0"), "{}", l[exit]);
    // After the end a breakpoint can still be set; restart c1 re-inserts it (rr
    // dropped every breakpoint) and it is hit.
    let b = pos("Breakpoint 2 set at ", exit);
    pos(
        &format!("> [Breakpoint 2] main.f() {SRC}:14 (hits goroutine(1):1 total:1)"),
        b,
    );
    // `bt` at the end says the program exited, as Delve.
    let bt = pos("Command failed: Process ", b);
    assert!(l[bt].ends_with("has exited with status 0"), "{}", l[bt]);
}
