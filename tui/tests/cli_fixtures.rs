//! The `coroner` binary on fixture cores (cores/fixtures): batch and JSON output
//! checked against the Go runtime's own traceback captured with each core.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/fixtures")
}

/// Goroutine id -> status word from the runtime traceback headers
/// (`goroutine 18 gp=0x... m=nil [chan receive]:`), excluding the g0 stacks.
fn traceback_goroutines(stderr: &str) -> BTreeMap<u64, String> {
    let mut m = BTreeMap::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("goroutine ") else {
            continue;
        };
        let Some((id, tail)) = rest.split_once(' ') else {
            continue;
        };
        let Ok(id) = id.parse::<u64>() else { continue };
        if id == 0 {
            continue;
        }
        let status = tail
            .split_once('[')
            .and_then(|(_, s)| s.split_once(']'))
            .map(|(s, _)| s.split(',').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        m.entry(id).or_insert(status);
    }
    m
}

fn run(bin: &Path, core: &Path, json: bool, stdin: &str) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coroner"));
    cmd.arg("core").arg(bin).arg(core);
    if json {
        cmd.arg("--json");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
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

/// A few fixtures spanning versions and modes (stripped included).
fn cases() -> Vec<(PathBuf, PathBuf, String)> {
    let mut v = Vec::new();
    for (dir, scenario) in [
        ("go1.19-noopt", "deadlock"),
        ("go1.22-stripped", "service_wait"),
        ("go1.27-opt", "panic_main"),
    ] {
        let d = fixtures_dir().join(dir);
        let bin = d.join("scenarios.zst");
        let core = d.join(format!("{scenario}.core.zst"));
        let Ok(tb) = std::fs::read_to_string(d.join(format!("{scenario}.stderr"))) else {
            continue;
        };
        if bin.exists() && core.exists() {
            v.push((bin, core, tb));
        }
    }
    v
}

#[test]
fn goroutines_match_the_runtime_traceback() {
    let cases = cases();
    assert!(
        !cases.is_empty(),
        "no fixture found under {:?}",
        fixtures_dir()
    );
    for (bin, core, tb) in cases {
        let want = traceback_goroutines(&tb);
        assert!(
            !want.is_empty(),
            "no goroutine in the traceback of {core:?}"
        );

        // JSON: ids and wait reasons.
        let (code, out, err) = run(&bin, &core, true, "goroutines\nthreads\nstack 3\n");
        assert_eq!(code, 0, "{core:?}: {err}");
        let docs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{core:?}: bad JSON {l:?}: {e}"))
            })
            .collect();
        assert_eq!(
            docs.len(),
            3,
            "{core:?}: one JSON document per command: {out}"
        );
        let gs = docs[0].as_array().cloned().unwrap_or_default();
        let got: BTreeSet<u64> = gs.iter().filter_map(|g| g["id"].as_u64()).collect();
        let want_ids: BTreeSet<u64> = want.keys().copied().collect();
        assert_eq!(got, want_ids, "{core:?}: goroutine ids");
        for g in &gs {
            let id = g["id"].as_u64().unwrap_or(0);
            let status = want.get(&id).cloned().unwrap_or_default();
            if g["status"] == "waiting" {
                assert_eq!(
                    g["wait_reason"].as_str(),
                    Some(status.as_str()),
                    "{core:?}: goroutine {id}"
                );
            }
        }
        assert!(
            docs[1].as_array().is_some_and(|t| !t.is_empty()),
            "{core:?}: threads"
        );
        let frames = docs[2].as_array().cloned().unwrap_or_default();
        assert!(
            !frames.is_empty() && frames.len() <= 4,
            "{core:?}: stack 3 gives 1..=4 frames"
        );

        // Text: Delve's layout, one line per goroutine and the footer.
        let (code, out, err) = run(&bin, &core, false, "goroutines\nbogus\n");
        assert_eq!(code, 0, "{core:?}: {err}");
        assert!(out.contains("Type 'help' for list of commands.\n"), "{out}");
        assert!(
            out.contains(&format!("[{} goroutines]\n", want.len())),
            "{core:?}: {out}"
        );
        for id in want.keys() {
            let prefix_a = format!("  Goroutine {id} - User: ");
            let prefix_b = format!("* Goroutine {id} - User: ");
            assert!(
                out.lines()
                    .any(|l| l.starts_with(&prefix_a) || l.starts_with(&prefix_b)),
                "{core:?}: goroutine {id} missing:\n{out}"
            );
        }
        assert!(
            err.contains("Command failed: command not available"),
            "{err}"
        );
    }
}
