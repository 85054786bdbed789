//! `coroner trace` prints what `dlv trace` (Delve 1.27.1) printed for the same program
//! and arguments: tracepoint lines with arguments and results, the program's output
//! in between, `--stack N` blocks, the exit line. Transcripts: cores/live-fixtures/
//! go1.27-noopt/trace*.delve.txt, recorded with the working directory /tmp (Delve and
//! coroner print paths relative to it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn build() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live-fixtures/go1.27-noopt")
}

fn unpack(dir: &Path) -> PathBuf {
    let dst = dir.join("live");
    let f = std::fs::File::open(build().join("live.zst")).expect("open live.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

fn norm(s: &str) -> String {
    let re = regex::Regex::new(r"(pid=|Process )\d+").expect("regex");
    re.replace_all(s, "${1}N").into_owned()
}

fn check(args: &[&str], transcript: &str) {
    let dir = std::env::temp_dir().join(format!(
        "coroner-trace-{}-{}",
        transcript,
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("tempdir");
    let exe = unpack(&dir);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coroner"));
    cmd.arg("trace").arg("--exec").arg(&exe);
    let (before, after) = args.split_at(args.iter().position(|a| *a == "--").unwrap_or(args.len()));
    cmd.args(before).args(after);
    let out = cmd
        .current_dir("/tmp")
        .stdin(Stdio::null())
        .output()
        .expect("run coroner trace");
    let _ = std::fs::remove_dir_all(&dir);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && text.contains("ptrace") {
        eprintln!(
            "SKIPPED: coroner trace: ptrace is unavailable: {}",
            text.trim()
        );
        return;
    }
    assert!(out.status.success(), "coroner trace failed:\n{text}");
    let want = std::fs::read_to_string(build().join(format!("{transcript}.delve.txt")))
        .expect("transcript");
    assert_eq!(
        norm(&text),
        norm(&want),
        "coroner trace differs from dlv trace"
    );
}

#[test]
fn trace_prints_arguments_and_results_as_delve() {
    check(&[r"main\.(f|Greet)$", "--", "loop", "3"], "trace");
}

#[test]
fn trace_stack_prints_frames_as_delve() {
    check(
        &["--stack", "2", r"main\.f$", "--", "loop", "2"],
        "trace-stack",
    );
}
