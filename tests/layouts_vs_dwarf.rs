//! Known releases (and stripped binaries) are read with built-in runtime layouts, one
//! per Go release, so that no DWARF is indexed before the first prompt. This
//! checks each built-in table against the DWARF of the same release's unstripped
//! fixture binary, so a release that moves a field fails here first.

use coroner::goruntime::layout::{LayoutSource, Layouts};
use coroner::goruntime::GoVersion;
use coroner::symbols::dwarf::Dwarf;
use coroner::symbols::{buildinfo, Binary};
use std::path::Path;

#[test]
fn builtin_layouts_equal_dwarf_layouts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    let Ok(rd) = std::fs::read_dir(&root) else {
        eprintln!("no cores/fixtures: skipped");
        return;
    };
    let mut dirs: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    dirs.sort();
    let mut checked = 0;
    let mut problems = Vec::new();
    for d in dirs {
        let name = d
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        if !name.ends_with("-opt") && !name.ends_with("-noopt") {
            continue;
        }
        let bin_path = d.join("scenarios.zst");
        let Ok(bin) = Binary::open(&bin_path) else {
            problems.push(format!("{name}: cannot open binary"));
            continue;
        };
        let Some(v) = buildinfo::read(&bin).and_then(|b| GoVersion::parse(&b.go_version)) else {
            problems.push(format!("{name}: no Go version"));
            continue;
        };
        let bin = std::sync::Arc::new(bin);
        let Ok(Some(dwarf)) = Dwarf::load(&bin) else {
            problems.push(format!("{name}: no DWARF"));
            continue;
        };
        let Some(from_dwarf) = Layouts::from_dwarf(&dwarf) else {
            problems.push(format!("{name}: DWARF lacks a runtime field coroner reads"));
            continue;
        };
        let Some((builtin, src)) = Layouts::builtin(v.major, v.minor) else {
            problems.push(format!("{name}: no built-in layout for {}", v.raw));
            continue;
        };
        assert_eq!(
            src,
            LayoutSource::BuiltIn {
                major: 1,
                minor: v.minor
            },
            "{name}: the built-in table must be this release's own"
        );
        if builtin != from_dwarf {
            problems.push(format!(
                "{name}: built-in layout differs from DWARF\n built-in: {builtin:?}\n dwarf:    {from_dwarf:?}"
            ));
        }
        checked += 1;
    }
    for p in &problems {
        eprintln!("{p}");
    }
    assert!(problems.is_empty(), "{} layout problems", problems.len());
    assert!(checked > 0 || !root.exists(), "no fixture binary checked");
    eprintln!("{checked} binaries: built-in layouts equal DWARF");
}
