//! Finding the pclntab without section headers (through the moduledata, then by a
//! validated magic scan), and robustness of the decoder on corrupted tables.
//!
//! Segments are read with goblin here, independently of coroner's ELF layer.

use coroner::symbols::pclntab::{Pclntab, Region, SearchInput};
use coroner::Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Image {
    name: String,
    bytes: Vec<u8>,
}

fn images() -> Vec<Image> {
    let root = std::env::var_os("CORONER_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures"));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(f) = std::fs::File::open(dir.join("scenarios.zst")) else {
            continue;
        };
        out.push(Image {
            name: dir.display().to_string(),
            bytes: zstd::decode_all(f).expect("decompress"),
        });
    }
    assert!(!out.is_empty(), "no fixtures under {}", root.display());
    out
}

struct Parsed<'a> {
    regions: Vec<Region<'a>>,
    section: Option<(u64, &'a [u8])>,
    text: Option<u64>,
}

fn parse(bytes: &[u8]) -> Parsed<'_> {
    let elf = goblin::elf::Elf::parse(bytes).expect("elf");
    let regions = elf
        .program_headers
        .iter()
        .filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD)
        .map(|p| Region {
            vaddr: p.p_vaddr,
            data: &bytes[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize],
            writable: p.p_flags & 2 != 0,
            executable: p.p_flags & 1 != 0,
        })
        .collect();
    let sec = |name: &str| {
        elf.section_headers
            .iter()
            .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(name))
            .cloned()
    };
    let section = sec(".gopclntab").map(|s| {
        let off = s.sh_offset as usize;
        (s.sh_addr, &bytes[off..off + s.sh_size as usize])
    });
    Parsed {
        regions,
        section,
        text: sec(".text").map(|s| s.sh_addr),
    }
}

fn same_table(a: &Pclntab, b: &Pclntab, ctx: &str) {
    assert_eq!(a.addr(), b.addr(), "{ctx}");
    assert_eq!(a.version(), b.version(), "{ctx}");
    assert_eq!(a.text_start(), b.text_start(), "{ctx}");
    assert_eq!(a.func_count(), b.func_count(), "{ctx}");
    for (fa, fb) in a.funcs().zip(b.funcs()) {
        assert_eq!(fa, fb, "{ctx}");
        assert_eq!(a.name(&fa), b.name(&fb), "{ctx}");
        let mid = fa.entry.add((fa.end.get() - fa.entry.get()) / 2);
        assert_eq!(a.file_line(&fa, mid), b.file_line(&fb, mid), "{ctx}");
        assert_eq!(a.sp_delta(&fa, mid), b.sp_delta(&fb, mid), "{ctx}");
    }
}

#[test]
fn found_without_section_headers() {
    let mut checked = 0;
    for img in images() {
        let p = parse(&img.bytes);
        let base = SearchInput {
            regions: &p.regions,
            section: p.section,
            text_section: None,
            runtime_text: None,
            gofunc_symbol: None,
            go_version: None,
            backing: None,
        };
        let with_section = Pclntab::load_from(&base).expect("with section");
        assert!(
            with_section.gofunc().is_some(),
            "{}: no moduledata",
            img.name
        );

        // Through the moduledata: the same table, text start and gofunc.
        let via_md = Pclntab::load_from(&SearchInput {
            section: None,
            ..base
        })
        .expect("via moduledata");
        same_table(&with_section, &via_md, &img.name);
        assert_eq!(with_section.gofunc(), via_md.gofunc(), "{}", img.name);

        // No writable data at all: the magic scan (text start from .text).
        let ro: Vec<Region<'_>> = p.regions.iter().filter(|r| !r.writable).copied().collect();
        let via_scan = Pclntab::load_from(&SearchInput {
            regions: &ro,
            section: None,
            text_section: p.text,
            ..base
        })
        .expect("via magic scan");
        same_table(&with_section, &via_scan, &img.name);
        assert_eq!(via_scan.gofunc(), None);

        // Nothing that looks like a table: a clean error.
        let exec: Vec<Region<'_>> = p.regions.iter().filter(|r| r.executable).copied().collect();
        let none = Pclntab::load_from(&SearchInput {
            regions: &exec,
            section: None,
            ..base
        });
        assert!(none.is_err(), "{}", img.name);
        checked += 1;
    }
    assert!(checked > 0);
}

/// Tiny deterministic PRNG (xorshift) so corruption is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn corrupted_tables_do_not_panic() {
    let imgs = images();
    let img = imgs.first().expect("one fixture");
    let p = parse(&img.bytes);
    let (addr, data) = p.section.expect("section");
    let good = Pclntab::load_from(&SearchInput {
        regions: &p.regions,
        section: p.section,
        text_section: None,
        runtime_text: None,
        gofunc_symbol: None,
        go_version: None,
        backing: None,
    })
    .expect("load");
    let text = good.text_start().get();
    let gofunc = good.gofunc().map(|g| g.get());
    let gofunc_bytes: Option<Arc<[u8]>> = gofunc.and_then(|g| {
        p.regions.iter().find_map(|r| {
            let off = usize::try_from(g.checked_sub(r.vaddr)?).ok()?;
            r.data.get(off..).map(Arc::from)
        })
    });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0;
    for round in 0..40 {
        let mut bytes = data.to_vec();
        // Truncate some rounds, scribble over others (header included sometimes).
        if round % 4 == 0 {
            let n = (rng.next() as usize) % bytes.len();
            bytes.truncate(n);
        }
        let flips = 1 + (rng.next() % 2000) as usize;
        for _ in 0..flips {
            if bytes.is_empty() {
                break;
            }
            let lo = if round % 3 == 0 {
                0
            } else {
                72.min(bytes.len() - 1)
            };
            let i = lo + (rng.next() as usize) % (bytes.len() - lo);
            bytes[i] = rng.next() as u8;
        }
        let g = match (gofunc, &gofunc_bytes) {
            (Some(a), Some(b)) => {
                let mut b = b.to_vec();
                for _ in 0..flips {
                    if !b.is_empty() {
                        let i = (rng.next() as usize) % b.len();
                        b[i] = rng.next() as u8;
                    }
                }
                Some((a, coroner::symbols::SharedBytes::from(b)))
            }
            _ => None,
        };
        let Ok(t) = Pclntab::from_parts(Arc::from(bytes), addr, Some(text), g) else {
            continue;
        };
        decoded += 1;
        for f in t.funcs().take(3000) {
            let _ = t.name(&f);
            let _ = (t.func_id(&f), t.flag(&f), t.args_size(&f), t.start_line(&f));
            let _ = t.func_kind(&f);
            for k in 0..8 {
                let _ = t.funcdata(&f, k);
            }
            let span = f.end.get().saturating_sub(f.entry.get()).min(4096);
            let step = (span / 8).max(1);
            let mut pc = f.entry.get();
            while pc < f.entry.get() + span {
                let _ = t.sp_delta(&f, Addr(pc));
                let _ = t.file_line(&f, Addr(pc));
                let _ = t.pcdata(&f, 2, Addr(pc));
                let _ = t.frames_at(&f, Addr(pc));
                pc += step;
            }
        }
        for _ in 0..2000 {
            let pc = text + rng.next() % 0x20_0000;
            if let Some(f) = t.func_for_pc(Addr(pc)) {
                assert!(f.entry.get() <= pc && pc < f.end.get());
                let _ = t.frames_at(&f, Addr(pc));
            }
        }
        let _ = t.files();
        let _ = t.func_by_name("main.main");
    }
    assert!(
        decoded > 0,
        "no corrupted table decoded: the test exercised nothing"
    );
}
