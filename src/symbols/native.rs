//! Native (non-Go) code: what a stack needs to name and unwind C frames.
//!
//! - C functions linked into the binary (cgo's C, runtime/cgo, a static libc): names
//!   from `.symtab` (static functions included), file:line from the `.debug_line` of
//!   the binary's non-Go compile units (the Go part's lines come from the pclntab).
//! - Shared libraries mapped in the snapshot (libc.so.6, ...): names from the library
//!   file's `.dynsym`/`.symtab` and unwinding from its `.eh_frame`, both read from the
//!   file on this machine, and only when its GNU build ID equals the one in the
//!   snapshot's copy of the library's ELF header page (the kernel dumps the first
//!   page of every ELF mapping). Otherwise frames are shown as `(libc.so.6+0x1234)`
//!   and one note says why: a wrong name is worse than none.

use crate::addr::Addr;
use crate::snapshot::notes::parse_notes;
use crate::snapshot::{MappedFile, Memory, Snapshot};
use crate::symbols::cfi::Cfi;
use crate::symbols::Binary;
use gimli::{EndianSlice, LittleEndian};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
const PAGE: u64 = 4096;
/// More program headers than this in a dumped header page is garbage.
const MAX_PHNUM: u64 = 256;
/// DW_LANG_Go: every other language's units are "C" here (C, C++, assembler).
const DW_LANG_GO: u16 = 0x16;

/// One shared object mapped in the process.
pub struct Module {
    /// File name, e.g. `libc.so.6`.
    pub name: String,
    /// Path as the snapshot recorded it.
    pub path: PathBuf,
    /// Address range of all its mappings.
    pub start: Addr,
    pub end: Addr,
    /// Run-time minus link-time address.
    pub bias: u64,
    /// The file on this machine, when it is the build that was mapped; else why not.
    file: Result<Arc<Binary>, String>,
    cfi: OnceLock<Cfi>,
}

impl Module {
    /// The library file, when it is the one the process mapped.
    pub fn binary(&self) -> Option<&Arc<Binary>> {
        self.file.as_ref().ok()
    }

    /// Why the library's own symbols and unwind info are not used, if they are not.
    pub fn unavailable(&self) -> Option<&str> {
        self.file.as_ref().err().map(String::as_str)
    }

    /// The library's call frame information, read on first use.
    pub fn cfi(&self) -> Option<&Cfi> {
        let bin = self.binary()?;
        Some(self.cfi.get_or_init(|| Cfi::load_with_bias(bin, self.bias)))
    }

    /// `(libc.so.6+0x1234)`: a PC in this library by its link-time offset.
    pub fn offset_name(&self, pc: Addr) -> String {
        format!("({}+{:#x})", self.name, pc.get().wrapping_sub(self.bias))
    }
}

/// The C side of a snapshot: the binary's C code and the mapped shared libraries.
/// Everything is read on first use: a walk that meets no C code costs nothing here
/// (a live process gets a new one at every stop).
pub struct Native {
    main: Arc<Binary>,
    main_bias: u64,
    snapshot: Arc<dyn Snapshot>,
    modules: OnceLock<Vec<Module>>,
    c_lines: OnceLock<CLines>,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native")
            .field("modules", &self.modules.get().map(Vec::len))
            .finish()
    }
}

/// A native function at a PC: its name and, for the binary's own C code, its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeSym {
    pub function: String,
    pub file: String,
    pub line: u32,
}

impl Native {
    /// The C side of `snapshot`, whose Go binary `main` is loaded at `main_bias`.
    pub fn new(snapshot: Arc<dyn Snapshot>, main: Arc<Binary>, main_bias: u64) -> Native {
        Native {
            main,
            main_bias,
            snapshot,
            modules: OnceLock::new(),
            c_lines: OnceLock::new(),
        }
    }

    /// The shared objects mapped in the snapshot (NT_FILE, /proc/PID/maps), each
    /// checked against the file of the same path on this machine.
    pub fn modules(&self) -> &[Module] {
        self.modules.get_or_init(|| {
            let s = self.snapshot.as_ref();
            find_modules(s, s.mapped_files(), &self.main, self.main_bias)
        })
    }

    /// One line per library whose frames cannot be named or unwound from its file.
    pub fn notes(&self) -> Vec<String> {
        self.modules()
            .iter()
            .filter_map(|m| m.unavailable().map(|why| format!("{}: {why}", m.name)))
            .collect()
    }

    /// The shared library mapped at run-time address `pc`.
    pub fn module_at(&self, pc: Addr) -> Option<&Module> {
        let mods = self.modules();
        let i = mods.partition_point(|m| m.start <= pc);
        let m = mods.get(i.checked_sub(1)?)?;
        (pc < m.end).then_some(m)
    }

    /// Call frame information for a PC in a shared library (the binary's own is the
    /// caller's business).
    pub fn cfi_at(&self, pc: Addr) -> Option<&Cfi> {
        self.module_at(pc)?.cfi()
    }

    /// Name (and line, for the binary's C code) of the native function at `pc`; `trap`
    /// says `pc` is the faulting or current instruction, not a return address.
    pub fn symbolize(&self, pc: Addr, trap: bool) -> Option<NativeSym> {
        let lookup = if trap { pc } else { pc.sub(1) };
        let link = lookup.sub(self.main_bias);
        if let Some(s) = best_symbol(&self.main, link) {
            let (file, line) = self
                .c_lines
                .get_or_init(|| CLines::load(&self.main))
                .at(link.get())
                .unwrap_or_default();
            return Some(NativeSym {
                function: s,
                file,
                line,
            });
        }
        let m = self.module_at(lookup)?;
        let function = m
            .binary()
            .and_then(|b| best_symbol(b, lookup.sub(m.bias)))
            .unwrap_or_else(|| m.offset_name(pc));
        Some(NativeSym {
            function,
            file: String::new(),
            line: 0,
        })
    }
}

/// The shared objects among `files`, leaving out the Go binary's own mappings.
fn find_modules(
    mem: &dyn Memory,
    files: &[MappedFile],
    main: &Binary,
    main_bias: u64,
) -> Vec<Module> {
    let mut by_path: HashMap<&Path, Vec<&MappedFile>> = HashMap::new();
    for f in files {
        by_path.entry(f.path.as_path()).or_default().push(f);
    }
    let main_ranges: Vec<(u64, u64)> = main
        .segments()
        .iter()
        .map(|s| {
            let lo = s.vaddr.get().wrapping_add(main_bias);
            (lo, lo.saturating_add(s.memsz))
        })
        .collect();
    let mut modules = Vec::new();
    for (path, maps) in by_path {
        let start = maps.iter().map(|m| m.start.get()).min().unwrap_or(0);
        let end = maps.iter().map(|m| m.end.get()).max().unwrap_or(0);
        if main_ranges.iter().any(|&(lo, hi)| start < hi && lo < end) {
            continue;
        }
        let Some(base) = maps.iter().find(|m| m.file_offset == 0).map(|m| m.start) else {
            continue;
        };
        let head = match mem.read_bytes(base, 4) {
            // Not an ELF file: locale archive, fonts, caches.
            Ok(magic) if magic != b"\x7fELF" => continue,
            Ok(_) => read_elf_head(mem, base),
            // Its header page was not dumped: nothing can be checked.
            Err(_) => None,
        }
        .unwrap_or(ElfHead {
            bias: base.get(),
            build_id: None,
        });
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let file = open_matching(path, &name, head.build_id.as_deref());
        modules.push(Module {
            name,
            path: path.to_path_buf(),
            start: Addr(start),
            end: Addr(end),
            bias: head.bias,
            file,
            cfi: OnceLock::new(),
        });
    }
    modules.sort_by_key(|m| m.start);
    modules
}

/// What the dumped header page of a mapped ELF file says.
struct ElfHead {
    bias: u64,
    build_id: Option<Vec<u8>>,
}

/// Read the ELF header, program headers and build ID note of the file mapped at
/// `base` from the snapshot's memory.
fn read_elf_head(mem: &dyn Memory, base: Addr) -> Option<ElfHead> {
    let ehdr = mem.read_bytes(base, 64).ok()?;
    if !ehdr.starts_with(b"\x7fELF") || ehdr.get(4) != Some(&2) {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |b: &[u8], o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |b: &[u8], o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let phoff = u64_at(&ehdr, 0x20)?;
    let phentsize = u64::from(u16_at(&ehdr, 0x36)?);
    let phnum = u64::from(u16_at(&ehdr, 0x38)?);
    if phentsize < 56 || phnum > MAX_PHNUM {
        return None;
    }
    let len = usize::try_from(phentsize.checked_mul(phnum)?).ok()?;
    let ph = mem.read_bytes(base.add(phoff), len).ok()?;
    let mut min_load = None::<u64>;
    let mut notes = Vec::new();
    for i in 0..phnum {
        let o = usize::try_from(i * phentsize).ok()?;
        let ty = u32_at(&ph, o)?;
        let vaddr = u64_at(&ph, o + 0x10)?;
        let filesz = u64_at(&ph, o + 0x20)?;
        let align = u64_at(&ph, o + 0x30)?;
        match ty {
            PT_LOAD => min_load = Some(min_load.map_or(vaddr, |m| m.min(vaddr))),
            PT_NOTE => notes.push((vaddr, filesz.min(PAGE), align)),
            _ => {}
        }
    }
    let bias = base.get().wrapping_sub(min_load? & !(PAGE - 1));
    let build_id = notes.into_iter().find_map(|(vaddr, size, align)| {
        let blob = mem
            .read_bytes(Addr(vaddr.wrapping_add(bias)), usize::try_from(size).ok()?)
            .ok()?;
        parse_notes(&blob, align)
            .into_iter()
            .find(|n| n.name == b"GNU" && n.ntype == NT_GNU_BUILD_ID)
            .map(|n| n.desc.to_vec())
    });
    Some(ElfHead { bias, build_id })
}

/// The library at `path` on this machine, when its build ID is `want`.
fn open_matching(path: &Path, name: &str, want: Option<&[u8]>) -> Result<Arc<Binary>, String> {
    let shown = "its frames are shown as (NAME+OFFSET)";
    let Some(want) = want else {
        return Err(format!(
            "the core holds no build ID for {}: {shown}",
            path.display()
        ));
    };
    if !path.exists() {
        return Err(format!(
            "{} is not on this machine (build ID {}): {shown}; install that build or copy it there",
            path.display(),
            hex(want)
        ));
    }
    let bin = Binary::open(path).map_err(|e| format!("{e}: {shown}"))?;
    match bin.build_id() {
        Some(have) if have == want => Ok(Arc::new(bin)),
        Some(have) => Err(format!(
            "{} on this machine is another build (build ID {}, the process had {}): {shown}",
            path.display(),
            hex(have),
            hex(want)
        )),
        None => Err(format!(
            "{} on this machine has no build ID to check against {name}'s {}: {shown}",
            path.display(),
            hex(want)
        )),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The symbol covering link-time `addr`. Among aliases (libc exports `nanosleep`,
/// `__nanosleep` and `__libc_nanosleep` at one address) the public name wins: the
/// one without leading underscores, then the shortest.
pub fn best_symbol(bin: &Binary, addr: Addr) -> Option<String> {
    let cands: Vec<crate::symbols::elf::Symbol<'_>> = bin.symbols().covering(addr, 32).collect();
    // The innermost symbol: the one starting last (a function inside a larger object).
    let start = cands.iter().map(|s| s.addr).max()?;
    cands
        .into_iter()
        .filter(|s| s.addr == start)
        .min_by_key(|s| (s.name.starts_with('_'), s.name.len(), s.name))
        .map(|s| s.name.to_string())
}

/// Line rows of the binary's non-Go compile units, by address.
#[derive(Default)]
struct CLines {
    /// (start, end, rows) per sequence, sorted by start; rows are (addr, file, line).
    seqs: Vec<Sequence>,
    files: Vec<String>,
}

type Slice<'a> = EndianSlice<'a, LittleEndian>;
/// One line-table sequence: start, end, rows (address, file index, line).
type Sequence = (u64, u64, Vec<(u64, u32, u32)>);

impl CLines {
    /// Read on first use: only units whose DW_AT_language is not Go, so the cost is the
    /// C code's line tables and one root DIE per Go unit.
    fn load(bin: &Binary) -> CLines {
        use gimli::SectionId as S;
        // Only what unit headers, root DIEs and line programs need: inflating the
        // location and range lists would cost more than all of this.
        let secs = |id: S| -> Result<Cow<'_, [u8]>, ()> {
            let wanted = matches!(
                id,
                S::DebugAbbrev
                    | S::DebugInfo
                    | S::DebugLine
                    | S::DebugLineStr
                    | S::DebugStr
                    | S::DebugStrOffsets
                    | S::DebugAddr
            );
            let data = wanted.then(|| bin.section_data(id.name())).flatten();
            Ok(data.unwrap_or(Cow::Borrowed(&[])))
        };
        let Ok(owned) = gimli::DwarfSections::load(secs) else {
            return CLines::default();
        };
        let dw = owned.borrow(|s| EndianSlice::new(s, LittleEndian));
        let mut out = CLines::default();
        let mut file_ids: HashMap<String, u32> = HashMap::new();
        let mut abbrevs: HashMap<u64, Arc<gimli::Abbreviations>> = HashMap::new();
        let mut units = dw.units();
        while let Ok(Some(header)) = units.next() {
            let off = header.debug_abbrev_offset().0 as u64;
            let ab = match abbrevs.get(&off) {
                Some(a) => a.clone(),
                None => match dw.abbreviations(&header) {
                    Ok(a) => {
                        abbrevs.insert(off, a.clone());
                        a
                    }
                    Err(_) => continue,
                },
            };
            let mut entries = header.entries(&ab);
            let Ok(Some((_, root))) = entries.next_dfs() else {
                continue;
            };
            let lang = match root.attr_value(gimli::constants::DW_AT_language) {
                Ok(Some(gimli::AttributeValue::Language(l))) => l.0,
                _ => 0,
            };
            if lang == DW_LANG_GO {
                continue;
            }
            let Ok(unit) = dw.unit(header) else {
                continue;
            };
            out.add_unit(&dw, &unit, &mut file_ids);
        }
        out.seqs.sort_by_key(|s| s.0);
        out
    }

    fn add_unit(
        &mut self,
        dw: &gimli::Dwarf<Slice<'_>>,
        unit: &gimli::Unit<Slice<'_>>,
        file_ids: &mut HashMap<String, u32>,
    ) {
        let Some(program) = unit.line_program.clone() else {
            return;
        };
        let mut rows = program.rows();
        let mut cur: Vec<(u64, u32, u32)> = Vec::new();
        let mut local: HashMap<u64, u32> = HashMap::new();
        while let Ok(Some((header, row))) = rows.next_row() {
            let addr = row.address();
            if row.end_sequence() {
                if let Some(&(start, _, _)) = cur.first() {
                    // A sequence at address 0 is a function the linker dropped.
                    if start != 0 {
                        self.seqs.push((start, addr, std::mem::take(&mut cur)));
                    }
                }
                cur.clear();
                continue;
            }
            let line = row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(0));
            let fi = row.file_index();
            let id = match local.get(&fi) {
                Some(&id) => id,
                None => {
                    let name = file_name(dw, unit, header, fi).unwrap_or_default();
                    let next = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
                    let id = *file_ids.entry(name.clone()).or_insert_with(|| {
                        self.files.push(name);
                        next
                    });
                    local.insert(fi, id);
                    id
                }
            };
            cur.push((addr, id, line));
        }
    }

    /// File and line of link-time `addr`.
    fn at(&self, addr: u64) -> Option<(String, u32)> {
        let i = self.seqs.partition_point(|s| s.0 <= addr);
        let (_, end, rows) = self.seqs.get(i.checked_sub(1)?)?;
        if addr >= *end {
            return None;
        }
        let j = rows.partition_point(|r| r.0 <= addr);
        let &(_, file, line) = rows.get(j.checked_sub(1)?)?;
        let f = self.files.get(usize::try_from(file).ok()?)?;
        (line != 0).then(|| (f.clone(), line))
    }
}

/// A line-table file entry's path, joined with its directory (and the unit's
/// compilation directory) when relative, as gdb's `fullname` does.
fn file_name(
    dw: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    header: &gimli::LineProgramHeader<Slice<'_>>,
    index: u64,
) -> Option<String> {
    let entry = header.file(index)?;
    let s = |v| {
        dw.attr_string(unit, v)
            .ok()
            .map(|r| String::from_utf8_lossy(r.slice()).into_owned())
    };
    let name = s(entry.path_name())?;
    if name.starts_with('/') {
        return Some(name);
    }
    let dir = entry.directory(header).and_then(s).unwrap_or_default();
    let joined = if dir.is_empty() {
        name
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    };
    if joined.starts_with('/') {
        return Some(joined);
    }
    let comp = unit
        .comp_dir
        .map(|c| String::from_utf8_lossy(c.slice()).into_owned())
        .unwrap_or_default();
    Some(if comp.is_empty() {
        joined
    } else {
        format!("{}/{joined}", comp.trim_end_matches('/'))
    })
}
