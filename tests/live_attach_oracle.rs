//! The attach oracle: attach to a running Go program (every live fixture build), read
//! every goroutine's stack through the live snapshot, detach, check the program still
//! runs untraced with its code intact and makes progress, then SIGQUIT it: the runtime's
//! own GOTRACEBACK=all traceback must equal what coroner read for every goroutine parked
//! in the program's code (their state cannot change between the two instants).

#[path = "support/live.rs"]
mod live;
#[path = "support/traceback.rs"]
mod traceback;

use coroner::backend::ptrace::PtraceProcess;
use coroner::exec::{Debugger, Origin};
use coroner::symbols::Binary;
use coroner::target::{Image, OpenOptions, Target};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn builds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/live-fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.join("live.zst").is_file());
    v.sort();
    v
}

fn unpack(build: &Path, dir: &Path) -> PathBuf {
    let name = build
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dst = dir.join(format!("live-{name}"));
    let f = std::fs::File::open(build.join("live.zst")).expect("open live.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create binary");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

#[derive(Debug, Clone, PartialEq)]
struct Fr {
    function: String,
    file: String,
    line: u32,
    pc: Option<u64>,
}

fn norm(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in name.chars() {
        match c {
            '[' => {
                if depth == 0 {
                    out.push_str("[...]");
                }
                depth += 1;
            }
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Read `main.Progress` (the spinner's counter) without ptrace.
fn progress(pid: i32, addr: u64) -> u64 {
    let b = live::proc_mem(pid, addr, 8);
    u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
}

fn check_build(build: &Path, dir: &Path) -> Result<usize, String> {
    let exe = unpack(build, dir);
    let mut child = Command::new(&exe)
        .arg("service")
        .env("GOTRACEBACK", "all")
        .env("GOMAXPROCS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let guard = live::PidGuard(child.id() as i32);
    let pid = guard.0;
    let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    stdout.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("ready") {
        return Err(format!("no ready line: {line:?}"));
    }
    // Let every goroutine reach its parking place.
    std::thread::sleep(Duration::from_millis(300));

    let bin = Arc::new(Binary::open(&exe).map_err(|e| e.to_string())?);
    let progress_addr = bin
        .symbol("main.Progress")
        .map(|s| s.addr.get())
        .ok_or("no main.Progress symbol")?;
    let image = Arc::new(Image::load(bin, 0).map_err(|e| e.to_string())?);
    let t0 = Instant::now();
    let proc = PtraceProcess::attach(pid as u32).map_err(|e| e.to_string())?;
    let mut d =
        Debugger::new(Box::new(proc), image, Origin::Attached).map_err(|e| e.to_string())?;
    let t = d.target().clone();
    let mut ours: Vec<(u64, String, Vec<Fr>)> = Vec::new();
    for g in t.goroutines() {
        let st = t.goroutine_stack(g, 1000);
        let frames = st
            .frames
            .iter()
            .map(|f| Fr {
                function: norm(&f.function),
                file: f.file.clone(),
                line: f.line,
                pc: (!f.inlined).then_some(f.pc.get()),
            })
            .collect();
        ours.push((g.goid, g.traceback_status(), frames));
    }
    // `dump`: the core written from this stop must give the same goroutines and stacks.
    let core = dir.join(format!(
        "{}.core",
        build
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    coroner::exec::dump::write_core(t.snapshot(), pid as u32, &core).map_err(|e| e.to_string())?;
    drop(t);
    d.detach(false).map_err(|e| e.to_string())?;
    let dumped = Target::open(&OpenOptions {
        binary: exe.clone(),
        core: core.clone(),
        force: false,
    })
    .map_err(|e| format!("reading our own dump: {e}"))?;
    for (goid, status, frames) in &ours {
        let Some(g) = dumped.goroutine(*goid) else {
            return Err(format!("dump: goroutine {goid} missing"));
        };
        let st = dumped.goroutine_stack(g, 1000);
        let theirs: Vec<Fr> = st
            .frames
            .iter()
            .map(|f| Fr {
                function: norm(&f.function),
                file: f.file.clone(),
                line: f.line,
                pc: (!f.inlined).then_some(f.pc.get()),
            })
            .collect();
        if &theirs != frames || &g.traceback_status() != status {
            return Err(format!("dump: goroutine {goid} differs from the live read"));
        }
    }
    let _ = std::fs::remove_file(&core);
    let stopped_for = t0.elapsed();
    drop(d);

    // Untraced, running, making progress.
    let tracer = live::status_field(pid, "TracerPid").unwrap_or_default();
    if tracer != "0" {
        return Err(format!("still traced after detach (TracerPid {tracer})"));
    }
    let p0 = progress(pid, progress_addr);
    std::thread::sleep(Duration::from_millis(200));
    let p1 = progress(pid, progress_addr);
    if p1 <= p0 {
        return Err(format!("no progress after detach ({p0} -> {p1})"));
    }

    unsafe { libc::kill(pid, libc::SIGQUIT) };
    let mut err = String::new();
    child
        .stderr
        .take()
        .ok_or("no stderr")?
        .read_to_string(&mut err)
        .map_err(|e| e.to_string())?;
    let _ = child.wait();
    let tb = traceback::parse(&err).map_err(|e| format!("traceback: {e:?}"))?;
    let mut checked = 0;
    let mut problems = Vec::new();
    for tg in &tb.goroutines {
        // Goroutines parked in the program's own code: the spinner and the runtime's
        // workers may have moved between attach and SIGQUIT.
        let parked_in_main = tg.frames.iter().any(|f| f.function.starts_with("main.svc"))
            && !tg.status.starts_with("running")
            && !tg.status.starts_with("runnable");
        if !parked_in_main {
            continue;
        }
        let Some((_, status, frames)) = ours.iter().find(|(id, _, _)| *id == tg.id) else {
            problems.push(format!("goroutine {} missing", tg.id));
            continue;
        };
        let theirs: Vec<Fr> = tg
            .frames
            .iter()
            .map(|f| Fr {
                function: norm(&f.function),
                file: f.file.clone(),
                line: f.line,
                pc: if f.inlined { None } else { f.pc },
            })
            .collect();
        let same = frames.len() == theirs.len()
            && frames.iter().zip(&theirs).all(|(a, b)| {
                a.function == b.function
                    && a.file == b.file
                    && a.line == b.line
                    && (b.pc.is_none() || a.pc == b.pc)
            });
        if !same || !tg.status.starts_with(status.as_str()) {
            problems.push(format!(
                "goroutine {} [{}] vs ours [{status}]:\n  ours:   {frames:?}\n  theirs: {theirs:?}",
                tg.id, tg.status
            ));
        }
        checked += 1;
    }
    eprintln!(
        "{}: {checked} goroutines match; process stopped for {:?} during attach + read + detach",
        build.display(),
        stopped_for
    );
    if checked < 6 {
        problems.push(format!("only {checked} goroutines compared"));
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn attach_read_detach_matches_the_runtime_traceback() {
    if !live::ptrace_ok("attach oracle") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let builds = builds();
    assert!(builds.len() >= 8, "live fixtures missing: {builds:?}");
    let mut failures = Vec::new();
    for b in &builds {
        if let Err(e) = check_build(b, dir.path()) {
            failures.push(format!("{}: {e}", b.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
