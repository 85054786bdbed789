//! The `coroner` binary on a linux/arm64 core (cores/arm64, written by qemu-user):
//! `goroutines`, `bt`, `print`, `regs` and `threads` through the CLI, checked against
//! the Go runtime's own traceback captured with the core.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cores/arm64/go1.22-noopt")
        .join(name)
}

/// Run `coroner core BIN CORE` with `stdin` as the command script; (exit code, stdout,
/// stderr). The child is waited for, so it cannot outlive the test.
fn run(stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .arg("core")
        .arg(fixture("scenarios.zst"))
        .arg(fixture("panic_main.core.zst"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn coroner: {e}"));
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let o = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Goroutine headers of the traceback: (id, status) in order.
fn tb_goroutines(tb: &str) -> Vec<(u64, String)> {
    tb.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("goroutine ")?;
            let (id, tail) = rest.split_once(' ')?;
            let status = tail.split_once('[')?.1.split_once(']')?.0;
            Some((id.parse().ok()?, status.to_string()))
        })
        .collect()
}

/// Function names of goroutine 1's frames in the traceback, innermost first.
fn tb_main_frames(tb: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = tb.lines().skip_while(|l| !l.starts_with("goroutine 1 "));
    lines.next();
    for l in lines {
        if l.is_empty() || l.starts_with("created by") {
            break;
        }
        if !l.starts_with('\t') {
            let f = l.rsplit_once('(').map_or(l, |(f, _)| f);
            out.push(if f == "panic" {
                "runtime.gopanic".into()
            } else {
                f.to_string()
            });
        }
    }
    out
}

/// `bt` lines `N  0x... in FUNC`: (N, FUNC).
fn bt_frames(out: &str) -> Vec<(usize, String)> {
    out.lines()
        .filter_map(|l| {
            let (n, rest) = l.trim_start().split_once("  0x")?;
            let f = rest.split_once(" in ")?.1;
            Some((n.trim().parse().ok()?, f.trim().to_string()))
        })
        .collect()
}

#[test]
fn arm64_core_through_the_cli() {
    let tb = std::fs::read_to_string(fixture("panic_main.stderr"))
        .unwrap_or_else(|e| panic!("the arm64 fixture is missing: {e}"));

    let (code, out, err) = run("goroutines\ngoroutine 1\nbt\nregs\nthreads\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Go:          go1.22.10 linux/arm64"), "{out}");
    for (id, status) in tb_goroutines(&tb) {
        let line = out
            .lines()
            .find(|l| {
                l.trim_start_matches(['*', ' '])
                    .starts_with(&format!("Goroutine {id} - "))
            })
            .unwrap_or_else(|| panic!("goroutine {id} missing from `goroutines`:\n{out}"));
        if status != "running" {
            assert!(line.contains(&format!("[{status}")), "{line} vs [{status}]");
        }
    }
    // bt: the runtime's frames for goroutine 1, in order, as the outermost frames.
    let bt = bt_frames(&out);
    let ours: Vec<&str> = bt.iter().map(|(_, f)| f.as_str()).collect();
    let want = tb_main_frames(&tb);
    assert!(!want.is_empty());
    assert!(
        ours.ends_with(&want.iter().map(String::as_str).collect::<Vec<_>>()),
        "bt {ours:?}\nruntime {want:?}"
    );
    assert_eq!(ours.first(), Some(&"runtime.raise"), "{ours:?}");
    // regs: arm64 names, Delve's order, and the PC is the thread's.
    assert!(
        out.contains("\n PC = 0x") && out.contains("\nX28 = 0x"),
        "{out}"
    );
    assert!(
        out.contains("runtime.raise") && out.contains("sys_linux_arm64.s"),
        "{out}"
    );

    // print: arguments of main.loadConfig (stack slots at -N -l, found from the CFA).
    let (k, _) = bt
        .iter()
        .find(|(_, f)| f == "main.loadConfig")
        .unwrap_or_else(|| panic!("no main.loadConfig frame: {ours:?}"));
    let (code, out, err) = run(&format!(
        "goroutine 1\nframe {k} print key\nframe {k} print value\n"
    ));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"limit\"\n"), "{out}");
    assert!(out.contains("\n42\n"), "{out}");
}
