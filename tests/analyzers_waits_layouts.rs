//! The built-in sudog/hchan/semtable layouts (`coroner::goruntime::waits`, used on
//! stripped binaries) must equal what DWARF says on every unstripped fixture binary of
//! the same release, so a release that moves a field fails here first.

use coroner::goruntime::waits::WaitLayouts;
use coroner::goruntime::GoVersion;
use coroner::symbols::dwarf::Dwarf;
use coroner::symbols::{buildinfo, Binary};
use std::path::Path;

#[test]
fn builtin_wait_layouts_equal_dwarf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bins = Vec::new();
    for (sub, bin) in [
        ("cores/fixtures-hangs", "hangs.zst"),
        ("cores/fixtures", "scenarios.zst"),
    ] {
        let Ok(rd) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with("-stripped") && e.path().join(bin).is_file() {
                bins.push((format!("{sub}/{name}"), e.path().join(bin)));
            }
        }
    }
    bins.sort();
    let mut checked = 0;
    let mut problems = Vec::new();
    for (label, path) in &bins {
        let bin = Binary::open(path).unwrap_or_else(|e| panic!("{label}: {e}"));
        let v = buildinfo::read(&bin)
            .and_then(|b| GoVersion::parse(&b.go_version))
            .unwrap_or_else(|| panic!("{label}: no Go version"));
        let Ok(Some(d)) = Dwarf::load(&std::sync::Arc::new(bin)) else {
            problems.push(format!("{label}: no DWARF"));
            continue;
        };
        let Some(from_dwarf) = WaitLayouts::from_dwarf(&d) else {
            problems.push(format!("{label}: DWARF lacks a sudog/hchan/semTable field"));
            continue;
        };
        let builtin = WaitLayouts::builtin(v.major, v.minor)
            .unwrap_or_else(|| panic!("{label}: no built-in layout for {}", v.raw));
        if builtin != from_dwarf {
            problems.push(format!(
                "{label} ({}): built-in differs from DWARF\n built-in: {builtin:?}\n dwarf:    {from_dwarf:?}",
                v.raw
            ));
        }
        checked += 1;
    }
    for p in &problems {
        eprintln!("{p}");
    }
    assert!(
        problems.is_empty(),
        "{} wait layout problems",
        problems.len()
    );
    eprintln!("{checked} binaries: built-in wait layouts equal DWARF");
    assert!(checked > 0 || bins.is_empty());
}
