//! Variables of every frame, optimised and inlined ones included (issue #11 part 3):
//! on every fixture core with DWARF (all Go versions, opt, `-N -l`, cgo), for every
//! goroutine and every frame, listing the frame's arguments and locals must not fail
//! (`no DWARF function covers PC` was the symptom on opt builds of recursive
//! functions that inline themselves, and of runtime functions whose only concrete
//! DIE is nameless). Inlined frames list their own DW_TAG_inlined_subroutine's
//! variables: checked on `checkLimit`, inlined into `applyLimit` in opt builds of
//! `panic_main` (cores/scenarios/panic_main.go).

use coroner::repl::frame_vars;
use coroner::target::{OpenOptions, Target};
use coroner::vars::location::Overlay;
use coroner::vars::VarError;
use std::path::{Path, PathBuf};

fn unzstd(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::open(src)?;
    let mut d = zstd::stream::read::Decoder::new(f)?;
    d.window_log_max(27)?;
    let mut out = std::fs::File::create(dst)?;
    std::io::copy(&mut d, &mut out)?;
    Ok(())
}

/// Fixture directories with a DWARF binary: `cores/fixtures*/go1.NN-MODE`, not stripped.
fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores");
    let mut out = Vec::new();
    let Ok(tops) = std::fs::read_dir(&root) else {
        return out;
    };
    for top in tops.flatten() {
        let name = top.file_name().to_string_lossy().into_owned();
        if !name.starts_with("fixtures") {
            continue;
        }
        let Ok(dirs) = std::fs::read_dir(top.path()) else {
            continue;
        };
        for d in dirs.flatten() {
            let n = d.file_name().to_string_lossy().into_owned();
            if n.starts_with("go1.") && !n.contains("stripped") && d.path().is_dir() {
                out.push(d.path());
            }
        }
    }
    out.sort();
    out
}

/// The binary (`NAME.zst`, not a core) and the cores of one fixture directory.
fn contents(dir: &Path) -> Option<(PathBuf, Vec<PathBuf>)> {
    let mut bin = None;
    let mut cores = Vec::new();
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".core.zst") {
            cores.push(e.path());
        } else if n.ends_with(".zst") && n.matches('.').count() == 1 {
            bin = Some(e.path());
        }
    }
    cores.sort();
    Some((bin?, cores))
}

fn open(tmp: &Path, bin: &Path, core_zst: &Path) -> anyhow::Result<Target> {
    let core = tmp.join("core");
    unzstd(core_zst, &core)?;
    Ok(Target::open(&OpenOptions {
        binary: bin.to_path_buf(),
        core,
        force: false,
    })?)
}

/// Every frame of every goroutine of every fixture core: no variable listing fails.
#[test]
fn every_frame_lists_its_variables() {
    let dirs = fixture_dirs();
    if dirs.is_empty() {
        eprintln!("SKIP: no fixture directories under cores/");
        return;
    }
    let mut frames = 0usize;
    let mut cores = 0usize;
    let mut failures = Vec::new();
    for dir in &dirs {
        let Some((bin_zst, core_list)) = contents(dir) else {
            eprintln!("SKIP {}: no binary", dir.display());
            continue;
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let bin = tmp.path().join("bin");
        unzstd(&bin_zst, &bin).expect("binary");
        for c in &core_list {
            let t = match open(tmp.path(), &bin, c) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("{}: open: {e}", c.display()));
                    continue;
                }
            };
            if t.dwarf().is_none() {
                eprintln!("SKIP {}: no DWARF", c.display());
                continue;
            }
            cores += 1;
            for g in t.goroutines() {
                let stack = t.goroutine_stack(g, 1024);
                for (n, f) in stack.frames.iter().enumerate() {
                    frames += 1;
                    let mut overlay = Overlay::new(t.memory());
                    match frame_vars(&t, f, n, &mut overlay) {
                        Ok(_) => {}
                        Err(VarError::NoDwarf) => {}
                        Err(e) => failures.push(format!(
                            "{} goroutine {} frame {n} {} {:#x}{}: {e}",
                            c.display(),
                            g.goid,
                            f.function,
                            f.pc.0,
                            if f.inlined { " (inlined)" } else { "" }
                        )),
                    }
                }
            }
        }
    }
    eprintln!("{cores} cores, {frames} frames checked");
    assert!(cores > 0, "no core with DWARF was checked");
    assert!(
        failures.is_empty(),
        "{} frames failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
