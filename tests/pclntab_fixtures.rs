//! The pclntab and build info against ground truth that does not come from our code:
//! the ELF `.symtab` of non-stripped binaries, the same program built stripped, and
//! the Go runtime's own crash traceback (`SCENARIO.stderr`) captured with each core.
//!
//! Fixtures: `cores/fixtures/go1.NN-MODE/scenarios.zst` (zstd-compressed binary).

use coroner::symbols::buildinfo;
use coroner::symbols::pclntab::{FuncKind, Pclntab, PclntabVersion};
use coroner::symbols::Binary;
use coroner::Addr;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Fixture {
    dir: PathBuf,
    /// "1.21"
    version: String,
    /// opt, noopt or stripped
    mode: String,
    /// The decompressed binary (kept alive for the path).
    file: tempfile::NamedTempFile,
}

fn fixtures() -> Vec<Fixture> {
    // CORONER_FIXTURES points at another corpus with the same layout.
    let root = std::env::var_os("CORONER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let Some((v, mode)) = name.strip_prefix("go").and_then(|r| r.split_once('-')) else {
            continue;
        };
        let zst = dir.join("scenarios.zst");
        let Ok(f) = std::fs::File::open(&zst) else {
            continue;
        };
        let bytes = zstd::decode_all(f).expect("decompress scenarios.zst");
        let mut tmp = tempfile::NamedTempFile::new().expect("tempfile");
        std::io::Write::write_all(&mut tmp, &bytes).expect("write binary");
        out.push(Fixture {
            dir: dir.clone(),
            version: v.to_string(),
            mode: mode.to_string(),
            file: tmp,
        });
    }
    assert!(
        !out.is_empty(),
        "no fixture binaries under {}",
        root.display()
    );
    out
}

fn open(fx: &Fixture) -> (Binary, Pclntab) {
    let bin = Binary::open(fx.file.path()).expect("open binary");
    let tab = Pclntab::load(&bin).unwrap_or_else(|e| panic!("{}: {e}", fx.dir.display()));
    (bin, tab)
}

/// STT_FUNC symbols of `.symtab`, read with goblin (independent of our ELF layer).
/// Returns (name without ".abi0", address, had the suffix).
fn symtab_funcs(path: &Path) -> Vec<(String, u64, bool)> {
    let data = std::fs::read(path).expect("read");
    let elf = goblin::elf::Elf::parse(&data).expect("parse elf");
    elf.syms
        .iter()
        // Size-0 FUNC symbols are markers (runtime.text, runtime.etext).
        .filter(|s| s.st_type() == goblin::elf::sym::STT_FUNC && s.st_value != 0 && s.st_size > 0)
        .filter_map(|s| {
            let name = elf.strtab.get_at(s.st_name)?;
            // The symtab marks assembly (ABI0) functions; the pclntab does not.
            let short = name.strip_suffix(".abi0");
            Some((
                short.unwrap_or(name).to_string(),
                s.st_value,
                short.is_some(),
            ))
        })
        .collect()
}

#[test]
fn buildinfo_matches_toolchain() {
    for fx in fixtures() {
        let bin = Binary::open(fx.file.path()).expect("open");
        let bi =
            buildinfo::read(&bin).unwrap_or_else(|| panic!("{}: no build info", fx.dir.display()));
        let (maj, min, _) = buildinfo::parse_go_version(&bi.go_version).expect("version");
        assert_eq!(
            format!("{maj}.{min}"),
            fx.version,
            "{}: {}",
            fx.dir.display(),
            bi.go_version
        );
        assert_eq!(bi.setting("GOOS"), Some("linux"), "{}", fx.dir.display());
        assert_eq!(bi.setting("GOARCH"), Some("amd64"), "{}", fx.dir.display());
        assert!(!bi.path.is_empty(), "{}: empty main path", fx.dir.display());
        if fx.mode == "stripped" {
            assert_eq!(
                bi.setting("-ldflags"),
                Some("-s -w"),
                "{}",
                fx.dir.display()
            );
        }
    }
}

/// "F[a.b[c]]" -> "F[...]", as the linker writes generic names into the pclntab.
fn elide_brackets(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '[' => {
                if depth == 0 {
                    out.push_str("[...]");
                }
                depth += 1;
            }
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn every_symtab_function_is_in_pclntab() {
    let mut checked = 0;
    for fx in fixtures() {
        // cgo builds link C functions into .text (in .symtab, not in the pclntab) and
        // PIE tracebacks print run-time addresses: the traceback oracle test covers
        // those builds end to end through the load bias.
        if fx.mode.starts_with("cgo") {
            continue;
        }
        let (_bin, tab) = open(&fx);
        let want = if fx.version.as_str() >= "1.20" {
            PclntabVersion::Go120
        } else {
            PclntabVersion::Go118
        };
        assert_eq!(tab.version(), want, "{}", fx.dir.display());
        assert!(tab.func_count() > 1000);
        // The functab is sorted, every record decodes and names are unique-ish.
        let funcs: Vec<_> = tab.funcs().collect();
        assert_eq!(funcs.len(), tab.func_count(), "{}", fx.dir.display());
        for w in funcs.windows(2) {
            assert!(w[0].entry < w[1].entry && w[0].end <= w[1].entry);
        }
        for kind_name in ["runtime.goexit", "runtime.mstart", "runtime.morestack"] {
            let f = tab.func_by_name(kind_name).expect(kind_name);
            assert_ne!(tab.func_kind(&f), FuncKind::Normal, "{kind_name}");
            assert_ne!(tab.func_id(&f), 0, "{kind_name}");
        }
        let f = tab.func_by_name("runtime.goexit").expect("goexit");
        assert_ne!(tab.flag(&f) & 1, 0, "goexit is TOPFRAME");
        if fx.mode == "stripped" {
            continue;
        }
        let syms = symtab_funcs(fx.file.path());
        assert!(syms.len() > 1000, "{}: few symbols", fx.dir.display());
        let mut first_addr: std::collections::HashMap<&str, u64> = Default::default();
        for (name, addr, _) in &syms {
            let e = first_addr.entry(name.as_str()).or_insert(*addr);
            *e = (*e).min(*addr);
        }
        let mut with_sp = 0;
        for (name, addr, _) in &syms {
            let f = tab
                .func_for_pc(Addr(*addr))
                .unwrap_or_else(|| panic!("{}: no func for {name} at {addr:#x}", fx.dir.display()));
            assert_eq!(f.entry, Addr(*addr), "{name}");
            let got = tab.name(&f);
            // Go 1.19's ELF symtab spells the pclntab's middle dot as '.'.
            let got_dot = got.replace('·', ".");
            if got.contains("[...]") {
                // The linker elides bracketed type arguments in pclntab names.
                assert_eq!(got, elide_brackets(name), "at {addr:#x}");
            } else {
                assert_eq!(&got_dot, name, "at {addr:#x}");
                // ABI wrappers share the name of the function they wrap; the index
                // keeps the lowest address.
                let first = first_addr.get(name.as_str()).copied();
                assert_eq!(
                    tab.func_by_name(got).map(|g| g.entry.get()),
                    first,
                    "{name}"
                );
            }
            // Every function's entry has a zero SP delta and a source position.
            // (Marker functions such as go:textfipsstart have no pcsp table.)
            match tab.sp_delta(&f, f.entry) {
                Some(0) => with_sp += 1,
                None => {}
                Some(d) => panic!("{name}: sp delta {d} at entry"),
            }
            checked += 1;
        }
        assert!(
            with_sp * 10 > syms.len() * 9,
            "{}: few pcsp tables",
            fx.dir.display()
        );
        // And the reverse: every pclntab function is a symbol at the same address.
        let entries: BTreeSet<u64> = syms.iter().map(|(_, a, _)| *a).collect();
        for f in &funcs {
            assert!(
                entries.contains(&f.entry.get()),
                "{} not in symtab",
                tab.name(f)
            );
        }
    }
    assert!(checked > 0, "no non-stripped fixture checked");
}

#[test]
fn stripped_has_same_functions() {
    let all = fixtures();
    let mut compared = 0;
    for fx in all.iter().filter(|f| f.mode == "stripped") {
        let Some(opt) = all
            .iter()
            .find(|o| o.mode == "opt" && o.version == fx.version)
        else {
            continue;
        };
        let (_b1, stripped) = open(fx);
        let (_b2, full) = open(opt);
        let a: BTreeSet<String> = stripped
            .funcs()
            .map(|f| stripped.name(&f).to_string())
            .collect();
        let b: BTreeSet<String> = full.funcs().map(|f| full.name(&f).to_string()).collect();
        assert_eq!(a, b, "{} vs {}", fx.dir.display(), opt.dir.display());
        let fa: BTreeSet<&str> = stripped.files().into_iter().collect();
        let fb: BTreeSet<&str> = full.files().into_iter().collect();
        assert_eq!(fa, fb);
        assert!(fa.iter().any(|f| f.ends_with("runtime/proc.go")));
        // Stripped binaries still expand inline trees (gofunc from moduledata).
        assert!(stripped.gofunc().is_some(), "{}", fx.dir.display());
        compared += 1;
    }
    assert!(compared > 0, "no stripped/opt pair found");
}

/// One printed frame of a runtime traceback.
#[derive(Debug)]
struct TbFrame {
    func: String,
    file: String,
    line: u32,
    /// +0xOFF, absent for inlined frames.
    off: Option<u64>,
    /// pc=0x... printed with GOTRACEBACK=crash.
    pc: Option<u64>,
    inlined: bool,
}

#[derive(Debug)]
struct TbGoroutine {
    header: String,
    frames: Vec<TbFrame>,
    /// "created by F" with its position.
    created_by: Option<TbFrame>,
    /// The `PC=0x...` of a signal report just before this goroutine: its first frame
    /// was interrupted there (the runtime then looks up the PC itself, not PC-1).
    signal_pc: Option<u64>,
}

fn parse_traceback(text: &str) -> Vec<TbGoroutine> {
    let mut out: Vec<TbGoroutine> = Vec::new();
    let mut lines = text.lines().peekable();
    let mut signal_pc = None;
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("PC=0x") {
            let hex = rest.split(' ').next().unwrap_or("");
            signal_pc = u64::from_str_radix(hex, 16).ok();
            continue;
        }
        if line.starts_with("goroutine ") && line.ends_with(':') {
            out.push(TbGoroutine {
                header: line.to_string(),
                frames: Vec::new(),
                created_by: None,
                signal_pc: signal_pc.take(),
            });
            continue;
        }
        let Some(g) = out.last_mut() else { continue };
        if line.is_empty() || line.starts_with('\t') {
            continue;
        }
        let Some(pos) = lines.peek().and_then(|l| l.strip_prefix('\t')) else {
            continue;
        };
        let Some(mut fr) = parse_pos(pos) else {
            continue;
        };
        lines.next();
        if let Some(rest) = line.strip_prefix("created by ") {
            let name = rest.split(" in goroutine ").next().unwrap_or(rest);
            fr.func = name.to_string();
            g.created_by = Some(fr);
        } else if let (true, Some(i)) = (line.ends_with(')'), line.rfind('(')) {
            fr.func = line[..i].to_string();
            fr.inlined = fr.off.is_none() && &line[i..] == "(...)";
            g.frames.push(fr);
        }
    }
    out
}

/// "\tFILE:LINE +0xOFF fp=... sp=... pc=0x..." (the tab already stripped).
fn parse_pos(pos: &str) -> Option<TbFrame> {
    let mut parts = pos.split(' ');
    let fl = parts.next()?;
    let (file, line) = fl.rsplit_once(':')?;
    let line: u32 = line.parse().ok()?;
    let mut off = None;
    let mut pc = None;
    for p in parts {
        if let Some(h) = p.strip_prefix("+0x") {
            off = u64::from_str_radix(h, 16).ok();
        } else if let Some(h) = p.strip_prefix("pc=0x") {
            pc = u64::from_str_radix(h, 16).ok();
        }
    }
    Some(TbFrame {
        func: String::new(),
        file: file.to_string(),
        line,
        off,
        pc,
        inlined: false,
    })
}

/// A pclntab name as the runtime prints it (funcNamePiecesForPrint: everything from
/// the first '[' to the last ']' becomes "[...]").
fn print_name(name: &str) -> String {
    match (name.find('['), name.rfind(']')) {
        (Some(i), Some(j)) if j > i => format!("{}[...]{}", &name[..i], &name[j + 1..]),
        _ => name.to_string(),
    }
}

/// The pclntab name of a function as the traceback prints it.
fn table_name(printed: &str) -> &str {
    if printed == "panic" {
        "runtime.gopanic"
    } else {
        printed
    }
}

#[test]
fn file_line_and_inline_frames_match_runtime_traceback() {
    let mut physical = 0;
    let mut inlined = 0;
    let mut created = 0;
    for fx in fixtures() {
        // cgo builds link C functions into .text (in .symtab, not in the pclntab) and
        // PIE tracebacks print run-time addresses: the traceback oracle test covers
        // those builds end to end through the load bias.
        if fx.mode.starts_with("cgo") {
            continue;
        }
        let (_bin, tab) = open(&fx);
        let mut stderrs: Vec<PathBuf> = std::fs::read_dir(&fx.dir)
            .expect("read dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "stderr"))
            .collect();
        stderrs.sort();
        for path in stderrs {
            let text = std::fs::read_to_string(&path).expect("read stderr");
            let ctx = path.display().to_string();
            for g in parse_traceback(&text) {
                let running = g.header.contains("[running");
                let mut pending_inlined: Vec<&TbFrame> = Vec::new();
                let mut prev_physical: Option<&str> = None;
                let mut first_physical = true;
                for fr in &g.frames {
                    if fr.inlined {
                        pending_inlined.push(fr);
                        continue;
                    }
                    // A frame at its function's entry prints no offset (pc= still shows).
                    let Some(off) = fr.off.or(fr.pc.map(|_| 0)) else {
                        pending_inlined.clear();
                        continue;
                    };
                    let name = table_name(&fr.func);
                    // Generic instantiations share a printed name: find by pc= when
                    // the traceback gives it.
                    let f = match fr.pc {
                        Some(p) => tab.func_for_pc(Addr(p)),
                        None => tab.func_by_name(name),
                    }
                    .unwrap_or_else(|| panic!("{ctx}: no func {name}"));
                    assert_eq!(print_name(tab.name(&f)), name, "{ctx}");
                    let pc = f.entry.add(off);
                    if let Some(p) = fr.pc {
                        assert_eq!(pc, Addr(p), "{ctx}: {name} +{off:#x}");
                    }
                    assert_eq!(tab.func_for_pc(pc), Some(f), "{ctx}: {name}");
                    // The runtime looks up pc-1 for return addresses; the frame after
                    // sigpanic, and the first frame of a goroutine interrupted by a
                    // signal, use the PC itself.
                    // Since Go 1.21 the unwinder also treats frames interrupted by an
                    // injected asyncPreempt/debugCallV2 call as trapped.
                    let injected = ["runtime.asyncPreempt", "runtime.debugCallV2"];
                    let trap = prev_physical == Some("runtime.sigpanic")
                        || (fx.version.as_str() >= "1.21"
                            && prev_physical.is_some_and(|p| injected.contains(&p)))
                        || (first_physical && g.signal_pc.is_some() && g.signal_pc == fr.pc);
                    let ambiguous = first_physical && running && !trap;
                    first_physical = false;
                    prev_physical = Some(name);
                    if ambiguous {
                        pending_inlined.clear();
                        continue;
                    }
                    let lookup = if trap || off == 0 { pc } else { pc.sub(1) };
                    let (file, line) = tab
                        .file_line(&f, lookup)
                        .unwrap_or_else(|| panic!("{ctx}: no line for {name}"));
                    // The innermost printed position (inlined callee or this frame).
                    let printed = pending_inlined.first().copied().unwrap_or(fr);
                    assert_eq!(
                        (file, line),
                        (printed.file.as_str(), printed.line),
                        "{ctx}: {name}+{off:#x}"
                    );
                    // frames_at reproduces the inlined frames and then this frame.
                    let wrapper = tab.wrapper_func_id();
                    let got: Vec<(String, String, u32, bool)> = tab
                        .inline_frames(&f, lookup)
                        .into_iter()
                        .filter(|x| !(x.inlined && Some(x.func_id) == wrapper))
                        .map(|x| (print_name(&x.function), x.file, x.line, x.inlined))
                        .collect();
                    let want: Vec<(String, String, u32, bool)> = pending_inlined
                        .iter()
                        .chain(std::iter::once(&fr))
                        .map(|x| {
                            let n = table_name(&x.func).to_string();
                            (n, x.file.clone(), x.line, x.inlined)
                        })
                        .collect();
                    assert_eq!(got, want, "{ctx}: {} frames at {pc}", g.header);
                    assert_eq!(
                        tab.frames_at(&f, lookup)
                            .last()
                            .map(|s| s.function.as_str()),
                        Some(tab.name(&f))
                    );
                    inlined += pending_inlined.len();
                    pending_inlined.clear();
                    physical += 1;
                }
                // A generic creator's printed name does not identify the instance.
                if let Some(cb) = g.created_by.as_ref().filter(|c| !c.func.contains("[...]")) {
                    let (Some(off), Some(f)) = (cb.off, tab.func_by_name(&cb.func)) else {
                        panic!("{ctx}: created by {}", cb.func);
                    };
                    let pc = f.entry.add(off).sub(1);
                    let fl = tab.file_line(&f, pc);
                    assert_eq!(fl, Some((cb.file.as_str(), cb.line)), "{ctx}: created by");
                    created += 1;
                }
            }
        }
    }
    eprintln!("checked {physical} frames, {inlined} inlined frames, {created} created-by");
    assert!(physical > 100, "too few frames checked: {physical}");
    assert!(inlined > 10, "too few inlined frames checked: {inlined}");
    assert!(created > 10, "too few created-by checked: {created}");
}

/// `_func.startLine` (Go 1.20+) against the `func NAME(` lines of the scenario
/// sources in cores/scenarios (package main, top-level functions).
#[test]
fn start_line_matches_source() {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/scenarios");
    let mut decls: Vec<(String, u32)> = Vec::new();
    for e in std::fs::read_dir(&src_dir)
        .expect("cores/scenarios")
        .flatten()
    {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "go") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        for (i, line) in text.lines().enumerate() {
            let Some(rest) = line.strip_prefix("func ") else {
                continue;
            };
            // Methods ("func (r T) M(") are skipped: their pclntab names need types.
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with(['(', '[']) {
                decls.push((format!("main.{name}"), i as u32 + 1));
            }
        }
    }
    assert!(
        decls.len() > 5,
        "few declarations found in {}",
        src_dir.display()
    );
    let mut checked = 0;
    for fx in fixtures() {
        let (_bin, tab) = open(&fx);
        for (name, line) in &decls {
            let Some(f) = tab.func_by_name(name) else {
                continue;
            };
            if tab.version() >= PclntabVersion::Go120 {
                assert_eq!(
                    tab.start_line(&f),
                    Some(*line as i32),
                    "{}: {name}",
                    fx.dir.display()
                );
                checked += 1;
            } else {
                assert_eq!(tab.start_line(&f), None);
            }
            // The entry PC's line is the declaration line or just after it.
            let (_, l) = tab.file_line(&f, f.entry).expect("line at entry");
            assert!(
                l >= *line && l < *line + 50,
                "{name}: entry line {l} vs decl {line}"
            );
        }
    }
    assert!(checked > 0, "no Go 1.20+ fixture checked");
}
