//! Stripped twins and separate debug info. Fixture binaries are split at test time with
//! binutils (`objcopy --only-keep-debug` / `--strip-debug` / `--add-gnu-debuglink`,
//! `strip`), as packaging does, and the split pair must give exactly the output of the
//! original binary: goroutines, stacks and the variables of the values fixtures. A debug
//! file of another build is refused with a warning, and a core opens with its binary's
//! stripped-after-link twin in both directions, while a different build stays an error.

// Only the fixture locator is used here, not the session opener.
#[allow(dead_code)]
#[path = "support/values.rs"]
mod values;

use coroner::repl::{Output, Session};
use coroner::symbols::debuginfo::set_debug_info_directories;
use coroner::target::{OpenError, OpenOptions, Target};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The debug directories are process-wide: tests that set them run one at a time.
static DIRS: Mutex<()> = Mutex::new(());

fn unzstd(src: &Path, dst: &Path) {
    let f = std::fs::File::open(src).expect("fixture");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window");
    let mut out = std::fs::File::create(dst).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
}

fn run(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{cmd} (binutils) is needed by this test: {e}"));
    assert!(st.success(), "{cmd} {args:?} failed");
}

fn p(x: &Path) -> &str {
    x.to_str().expect("utf-8 temp path")
}

fn open(bin: &Path, core: &Path) -> Result<Target, OpenError> {
    Target::open(&OpenOptions {
        binary: bin.to_path_buf(),
        core: core.to_path_buf(),
        force: false,
    })
}

fn text(s: &mut Session, cmd: &str) -> String {
    match s.execute(cmd) {
        Output::Text(t) => t,
        Output::Error(e) => format!("Command failed: {e}\n"),
        other => format!("{other:?}"),
    }
}

/// What a user sees: goroutines, every goroutine's stack, and `print`/`locals` of the
/// values fixture's commands that need no placeholder resolution.
fn transcript(t: Target, cmds: &[String]) -> String {
    let ids: Vec<u64> = t.goroutines().iter().map(|g| g.goid).collect();
    let mut s = Session::new(t);
    let mut out = text(&mut s, "goroutines");
    for id in ids {
        out += &text(&mut s, &format!("goroutine {id} bt"));
    }
    for c in cmds {
        out += &format!("> {c}\n");
        out += &text(&mut s, c);
    }
    out
}

/// Fixture commands without `@` placeholders (those need the test's resolver).
fn value_cmds(tag: &str) -> Vec<String> {
    let f = values::fixtures().join(tag).join("values.delve127.cmds");
    std::fs::read_to_string(f)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains('@') && !l.trim().is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

struct Split {
    _dir: tempfile::TempDir,
    orig: PathBuf,
    core: PathBuf,
    dir: PathBuf,
}

fn split(tag: &str) -> Split {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let base = values::fixtures().join(tag);
    let orig = d.join("orig").join("values");
    std::fs::create_dir_all(d.join("orig")).expect("mkdir");
    let core = d.join("core");
    unzstd(&base.join("values.zst"), &orig);
    unzstd(&base.join("values.core.zst"), &core);
    Split {
        _dir: dir,
        orig,
        core,
        dir: d,
    }
}

#[test]
fn split_debug_info_gives_the_same_output_as_the_original() {
    let _g = DIRS.lock().unwrap_or_else(|e| e.into_inner());
    set_debug_info_directories(Vec::new());
    for tag in ["go1.22-opt", "go1.27-noopt", "go1.19-opt"] {
        if !values::fixtures().join(tag).exists() {
            continue;
        }
        let s = split(tag);
        let cmds = value_cmds(tag);
        assert!(
            cmds.iter().any(|c| c.starts_with("print ")),
            "{tag}: no print commands"
        );
        let want = transcript(open(&s.orig, &s.core).expect("original"), &cmds);
        // The original prints the known globals (so the comparison below means something).
        assert!(
            want.contains("> print main.GInt\n")
                && !want.contains("> print main.GInt\nCommand failed"),
            "{tag}: original cannot print:\n{want}"
        );

        // .gnu_debuglink next to the binary (binutils' layout), CRC checked.
        let pkg = s.dir.join("pkg");
        std::fs::create_dir_all(&pkg).expect("mkdir");
        let (bin, dbg) = (pkg.join("values"), pkg.join("values.debug"));
        run("objcopy", &["--only-keep-debug", p(&s.orig), p(&dbg)]);
        run(
            "objcopy",
            &[
                "--strip-debug",
                &format!("--add-gnu-debuglink={}", p(&dbg)),
                p(&s.orig),
                p(&bin),
            ],
        );
        let t = open(&bin, &s.core).expect("stripped with debuglink");
        assert!(t.dwarf().is_some(), "{tag}: separate DWARF not found");
        let note = t.warnings().iter().find(|w| w.starts_with("debug info: "));
        assert!(
            note.is_some_and(|n| n.contains(p(&dbg)) && n.contains("gnu_debuglink")),
            "{tag}: {:?}",
            t.warnings()
        );
        assert_eq!(transcript(t, &cmds), want, "{tag}: debuglink pair differs");

        // A debug file in a --debug-info-directories directory, fully stripped binary
        // (no .symtab either), found by name and Go build ID.
        let store = s.dir.join("store");
        let plain = s.dir.join("plain");
        std::fs::create_dir_all(&store).expect("mkdir");
        std::fs::create_dir_all(&plain).expect("mkdir");
        run(
            "objcopy",
            &[
                "--only-keep-debug",
                p(&s.orig),
                p(&store.join("values.debug")),
            ],
        );
        let bare = plain.join("values");
        run("strip", &["-o", p(&bare), p(&s.orig)]);
        let t = open(&bare, &s.core).expect("stripped");
        assert!(t.dwarf().is_none(), "{tag}: DWARF without a directory");
        drop(t);
        set_debug_info_directories(vec![store.clone()]);
        let t = open(&bare, &s.core).expect("stripped, with directory");
        set_debug_info_directories(Vec::new());
        assert!(t.dwarf().is_some(), "{tag}: DWARF not found in {store:?}");
        assert_eq!(transcript(t, &cmds), want, "{tag}: directory pair differs");
    }
}

#[test]
fn debug_info_of_another_build_is_refused() {
    let _g = DIRS.lock().unwrap_or_else(|e| e.into_inner());
    set_debug_info_directories(Vec::new());
    let (a, b) = ("go1.22-opt", "go1.23-opt");
    if !values::fixtures().join(a).exists() || !values::fixtures().join(b).exists() {
        return;
    }
    let s = split(a);
    let other = split(b);
    // By name in a directory: the Go build ID differs.
    let store = s.dir.join("store");
    std::fs::create_dir_all(&store).expect("mkdir");
    run(
        "objcopy",
        &[
            "--only-keep-debug",
            p(&other.orig),
            p(&store.join("values.debug")),
        ],
    );
    let bare = s.dir.join("values");
    run("objcopy", &["--strip-debug", p(&s.orig), p(&bare)]);
    set_debug_info_directories(vec![store]);
    let t = open(&bare, &s.core).expect("opens without the debug file");
    set_debug_info_directories(Vec::new());
    assert!(t.dwarf().is_none(), "mismatched DWARF used");
    assert!(
        t.warnings().iter().any(|w| w.contains("refused")
            && w.contains("Go build ID")
            && w.contains("another build")),
        "{:?}",
        t.warnings()
    );
    drop(t);
    // By debuglink, the file replaced by another build's: the CRC differs.
    let pkg = s.dir.join("pkg");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let (bin, dbg) = (pkg.join("values"), pkg.join("values.dbg"));
    run("objcopy", &["--only-keep-debug", p(&s.orig), p(&dbg)]);
    run(
        "objcopy",
        &[
            "--strip-debug",
            &format!("--add-gnu-debuglink={}", p(&dbg)),
            p(&s.orig),
            p(&bin),
        ],
    );
    run("objcopy", &["--only-keep-debug", p(&other.orig), p(&dbg)]);
    let t = open(&bin, &s.core).expect("opens without the debug file");
    assert!(t.dwarf().is_none(), "mismatched DWARF used");
    assert!(
        t.warnings()
            .iter()
            .any(|w| w.contains("refused") && w.contains("CRC32")),
        "{:?}",
        t.warnings()
    );
}

/// Overwrite the core's saved copy of the executable's first page (the core segment
/// that starts with the original binary's ELF header) with `twin`'s, as if the process
/// had run `twin`: a core of the stripped twin.
fn core_of(core: &Path, orig: &Path, twin: &Path, out: &Path) {
    let mut c = std::fs::read(core).expect("core");
    let o = std::fs::read(orig).expect("binary");
    let b = std::fs::read(twin).expect("twin");
    let u16_at = |d: &[u8], o: usize| u16::from_le_bytes([d[o], d[o + 1]]) as usize;
    let u64_at =
        |d: &[u8], o: usize| u64::from_le_bytes(d[o..o + 8].try_into().expect("8 bytes")) as usize;
    let (phoff, phnum) = (u64_at(&c, 0x20), u16_at(&c, 0x38));
    let (off, filesz) = (0..phnum)
        .map(|i| phoff + i * 56)
        .filter(|&e| u16_at(&c, e) == 1)
        .map(|e| (u64_at(&c, e + 8), u64_at(&c, e + 32)))
        .find(|&(off, n)| n >= 0x40 && c.get(off..off + 0x28) == o.get(..0x28))
        .expect("core segment of the executable's first page");
    let n = filesz.min(4096);
    c[off..off + n].copy_from_slice(&b[..n]);
    std::fs::write(out, c).expect("write core");
}

#[test]
fn stripped_twins_open_in_both_directions() {
    let _g = DIRS.lock().unwrap_or_else(|e| e.into_inner());
    set_debug_info_directories(Vec::new());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    let mut checked = 0;
    for tag in ["go1.19-opt", "go1.22-noopt", "go1.27-cgopie"] {
        let d = root.join(tag);
        if !d.exists() {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (orig, core) = (dir.path().join("scenarios"), dir.path().join("core"));
        unzstd(&d.join("scenarios.zst"), &orig);
        unzstd(&d.join("panic_main.core.zst"), &core);
        let bt = |t: Target| {
            let g = t.crash().goroutine.expect("crashing goroutine");
            let mut s = Session::new(t);
            text(&mut s, &format!("goroutine {g} bt"))
        };
        let want = bt(open(&orig, &core).expect("original"));
        for (how, args) in [("strip", vec![]), ("objcopy", vec!["--strip-debug"])] {
            let twin = dir.path().join(format!("twin-{how}"));
            let mut a: Vec<&str> = args.clone();
            if how == "strip" {
                a.extend(["-o", p(&twin), p(&orig)]);
            } else {
                a.extend([p(&orig), p(&twin)]);
            }
            run(how, &a);
            // The unstripped build's core, opened with the stripped twin.
            let t = open(&twin, &core).unwrap_or_else(|e| panic!("{tag} {how}: {e}"));
            assert_eq!(bt(t), want, "{tag} {how}");
            // A core of the stripped twin, opened with the unstripped original.
            let twin_core = dir.path().join(format!("core-{how}"));
            core_of(&core, &orig, &twin, &twin_core);
            let t = open(&orig, &twin_core).unwrap_or_else(|e| panic!("{tag} {how} reverse: {e}"));
            assert_eq!(bt(t), want, "{tag} {how} reverse");
            checked += 1;
        }
        // Another build is still refused, clearly.
        let other = root.join("go1.21-opt").join("scenarios.zst");
        if other.exists() && tag != "go1.21-opt" {
            let ob = dir.path().join("other");
            unzstd(&other, &ob);
            match open(&ob, &core) {
                Err(OpenError::Mismatch(why)) => assert!(why.contains("build"), "{why}"),
                Err(e) => panic!("{tag}: another build: {e}"),
                Ok(_) => panic!("{tag}: another build opened"),
            }
        }
    }
    assert!(root.exists() == (checked > 0), "no twin checked");
}
