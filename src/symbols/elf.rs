//! The ELF container of the binary. OWNER: ELF-layer engineer.
//!
//! Public API (other modules code against exactly this; keep it stable):
//! - `Binary::open(path)` maps the file (decompressing zstd/xz/lz4 transparently via
//!   `snapshot::compressed`), parses headers with goblin, keeps owned summaries.
//! - `bytes()`: the whole file's bytes (mmap or decompressed buffer).
//! - `section(name)`, `section_data(name)` (SHF_COMPRESSED / .zdebug decompressed,
//!   cached), `segments()`, `read_vaddr()` (file-backed bytes at a link-time address),
//!   `symbol(name)`, `symbol_at(addr)`, `build_id()`, `go_build_id()`, `is_pie()`.
//!
//! Only the headers are parsed eagerly (goblin's per-table parsers, not `Elf::parse`,
//! so one corrupt table such as the symbol table does not make the whole file
//! unreadable). Compressed debug sections are inflated on first request and cached.

use super::shared_bytes::SharedBytes;
use super::symtab::SymbolTable;
pub use super::symtab::{Symbol, Symbols};
use crate::addr::Addr;
use crate::snapshot::compressed::{open_file, FileBytes, FileError};
use crate::snapshot::notes::{le_u32, le_u64, parse_notes};
use crate::symbols::SymError;
use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{Header, ET_CORE, ET_DYN};
use goblin::elf::program_header::{ProgramHeader, PT_LOAD, PT_NOTE};
use goblin::elf::section_header::{SectionHeader, SHT_DYNSYM, SHT_NOBITS, SHT_NOTE, SHT_SYMTAB};
use goblin::strtab::Strtab;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

// PE executables fill the same summary (a child module: it builds `Binary` directly).
#[path = "pe.rs"]
pub mod pe;

#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub addr: Addr,
    pub offset: u64,
    pub size: u64,
    pub flags: u64,
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub vaddr: Addr,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    /// PF_X=1, PF_W=2, PF_R=4
    pub flags: u32,
}

const SHF_COMPRESSED: u64 = 0x800;
const ELFCOMPRESS_ZLIB: u32 = 1;
const ELFCOMPRESS_ZSTD: u32 = 2;
const NT_GNU_BUILD_ID: u32 = 3;
/// Go's ELF note type for the build ID (cmd/link ELF_NOTE_GOBUILDID_TAG).
const NT_GO_BUILD_ID: u32 = 4;
/// Cap on a decompressed section: a corrupt header must not make us allocate
/// terabytes. Real .debug_info of huge binaries stays well under this.
const MAX_SECTION: u64 = 4 << 30;

/// Per-section extra state kept next to the public summary.
struct SectionInfo {
    sh_type: u32,
    /// Decompressed bytes, filled on first request (None: corrupt or unsupported).
    inflated: OnceLock<Option<Vec<u8>>>,
}

pub struct Binary {
    pub path: PathBuf,
    data: Arc<FileBytes>,
    sections: Vec<Section>,
    section_info: Vec<SectionInfo>,
    section_by_name: HashMap<String, usize>,
    segments: Vec<Segment>,
    /// `.symtab` (or `.dynsym`): file ranges of the table and of its string table.
    symtab_src: Option<((usize, usize), (usize, usize))>,
    /// Read on first use (PE fills it at parse time).
    symbols: OnceLock<SymbolTable>,
    build_id: Option<(usize, usize)>,
    go_build_id: Option<String>,
    /// Link-time address of the Go build ID note's descriptor (to compare with a core).
    go_build_id_vaddr: Option<Addr>,
    build_id_vaddr: Option<Addr>,
    pie: bool,
    entry: Addr,
    phoff: u64,
    arch: crate::arch::Arch,
    /// Set for Windows (PE) binaries.
    pe: Option<pe::PeInfo>,
}

impl std::fmt::Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binary")
            .field("path", &self.path)
            .field("sections", &self.sections.len())
            .field("segments", &self.segments.len())
            .field("symbols", &self.symbols.get().map(|_| self.symbols().len()))
            .finish()
    }
}

fn machine_name(m: u16) -> String {
    match m {
        3 => "i386".into(),
        40 => "arm".into(),
        183 => "arm64".into(),
        243 => "riscv64".into(),
        8 => "mips".into(),
        21 => "ppc64".into(),
        22 => "s390x".into(),
        258 => "loong64".into(),
        m => format!("machine type {m}"),
    }
}

impl Binary {
    pub fn open(path: &Path) -> Result<Binary, SymError> {
        let data = open_file(path).map_err(|e| match e {
            FileError::Io { source, .. } => SymError::Io {
                path: path.display().to_string(),
                source,
            },
            other => SymError::Decompress(other.to_string()),
        })?;
        Self::from_bytes(path, data)
    }

    /// Parse a binary from bytes already opened (e.g. [`FileBytes::from_vec`]).
    pub fn from_bytes(path: &Path, data: FileBytes) -> Result<Binary, SymError> {
        let p = path.display().to_string();
        let bad = |msg: String| SymError::BadElf {
            path: p.clone(),
            msg,
        };
        let d: &[u8] = &data;
        if pe::is_pe(d) {
            return pe::parse(path, data);
        }
        if !d.starts_with(b"\x7fELF") {
            return Err(SymError::NotElf(p));
        }
        if d.len() < 64 {
            return Err(bad("the ELF header is cut off".into()));
        }
        let header: Header = goblin::elf::Elf::parse_header(d).map_err(|e| bad(e.to_string()))?;
        if header.e_ident.get(4) != Some(&2) || header.e_ident.get(5) != Some(&1) {
            return Err(SymError::Unsupported(format!(
                "{p} is a 32-bit or big-endian {} binary; coroner reads amd64 (x86-64) and arm64 binaries only",
                machine_name(header.e_machine)
            )));
        }
        let Some(arch) = crate::arch::Arch::from_e_machine(header.e_machine) else {
            return Err(SymError::Unsupported(format!(
                "{p} is an {} binary; coroner reads amd64 (x86-64) and arm64 binaries only",
                machine_name(header.e_machine)
            )));
        };
        if header.e_type == ET_CORE {
            return Err(SymError::Unsupported(format!(
                "{p} is a core file, not an executable; usage: coroner core BIN CORE"
            )));
        }
        let ctx = Ctx::new(Container::Big, Endian::Little);

        let phdrs = if header.e_phoff == 0 {
            Vec::new()
        } else {
            let off = usize::try_from(header.e_phoff).map_err(|e| bad(e.to_string()))?;
            ProgramHeader::parse(d, off, usize::from(header.e_phnum), ctx)
                .map_err(|e| bad(format!("program headers: {e}")))?
        };
        let segments: Vec<Segment> = phdrs
            .iter()
            .filter(|ph| ph.p_type == PT_LOAD)
            .map(|ph| Segment {
                vaddr: Addr(ph.p_vaddr),
                memsz: ph.p_memsz,
                offset: ph.p_offset,
                filesz: ph.p_filesz.min(ph.p_memsz),
                flags: ph.p_flags,
            })
            .collect();

        // Section headers are optional (sstrip'ed files): failures leave them empty.
        let shdrs = usize::try_from(header.e_shoff)
            .ok()
            .and_then(|off| SectionHeader::parse(d, off, usize::from(header.e_shnum), ctx).ok())
            .unwrap_or_default();
        let shstrndx = if header.e_shstrndx == goblin::elf::section_header::SHN_XINDEX as u16 {
            shdrs.first().map(|s| s.sh_link as usize).unwrap_or(0)
        } else {
            usize::from(header.e_shstrndx)
        };
        let shstrtab = shdrs.get(shstrndx).and_then(|sh| strtab_at(d, sh));
        let mut sections = Vec::with_capacity(shdrs.len());
        let mut section_info = Vec::with_capacity(shdrs.len());
        let mut section_by_name = HashMap::new();
        for sh in &shdrs {
            let name = shstrtab
                .as_ref()
                .and_then(|t| t.get_at(sh.sh_name))
                .unwrap_or("")
                .to_string();
            if !name.is_empty() {
                section_by_name
                    .entry(name.clone())
                    .or_insert(sections.len());
            }
            sections.push(Section {
                name,
                addr: Addr(sh.sh_addr),
                offset: sh.sh_offset,
                size: sh.sh_size,
                flags: sh.sh_flags,
            });
            section_info.push(SectionInfo {
                sh_type: sh.sh_type,
                inflated: OnceLock::new(),
            });
        }

        let symtab_src = symtab_ranges(&shdrs);

        // Notes: prefer sections; without them (sstrip) scan PT_NOTE segments.
        let mut note_blobs: Vec<(u64, u64, u64, Option<u64>)> = shdrs
            .iter()
            .filter(|sh| sh.sh_type == SHT_NOTE)
            .map(|sh| {
                let va = (sh.sh_addr != 0).then_some(sh.sh_addr);
                (sh.sh_offset, sh.sh_size, sh.sh_addralign, va)
            })
            .collect();
        note_blobs.extend(
            phdrs
                .iter()
                .filter(|ph| ph.p_type == PT_NOTE)
                .map(|ph| (ph.p_offset, ph.p_filesz, ph.p_align, Some(ph.p_vaddr))),
        );
        let mut build_id = None;
        let mut build_id_vaddr = None;
        let mut go_build_id = None;
        let mut go_build_id_vaddr = None;
        for (off, size, align, vaddr) in note_blobs {
            let (Ok(s), Some(e)) = (usize::try_from(off), off.checked_add(size)) else {
                continue;
            };
            let Some(blob) = usize::try_from(e).ok().and_then(|e| d.get(s..e)) else {
                continue;
            };
            for n in parse_notes(blob, align) {
                let va = vaddr.map(|v| Addr(v).add(n.desc_offset as u64));
                if n.name == b"GNU" && n.ntype == NT_GNU_BUILD_ID && build_id.is_none() {
                    let start = s.saturating_add(n.desc_offset);
                    build_id = Some((start, start.saturating_add(n.desc.len())));
                    build_id_vaddr = va;
                }
                if n.name == b"Go" && n.ntype == NT_GO_BUILD_ID && go_build_id.is_none() {
                    go_build_id = Some(String::from_utf8_lossy(n.desc).into_owned());
                    go_build_id_vaddr = va;
                }
            }
        }

        let entry = Addr(header.e_entry);
        let pie = header.e_type == ET_DYN;
        let phoff = header.e_phoff;
        Ok(Binary {
            path: path.to_path_buf(),
            data: Arc::new(data),
            sections,
            section_info,
            section_by_name,
            segments,
            symtab_src,
            symbols: OnceLock::new(),
            build_id,
            go_build_id,
            go_build_id_vaddr,
            build_id_vaddr,
            pie,
            entry,
            phoff,
            arch,
            pe: None,
        })
    }

    /// The CPU architecture the binary was built for (its ELF `e_machine`).
    pub fn arch(&self) -> crate::arch::Arch {
        self.arch
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    fn section_index(&self, name: &str) -> Option<usize> {
        if let Some(&i) = self.section_by_name.get(name) {
            return Some(i);
        }
        // Go 1.19 and older compilers write compressed DWARF as `.zdebug_*`.
        let z = name.strip_prefix(".debug_")?;
        self.section_by_name.get(&format!(".zdebug_{z}")).copied()
    }

    /// The section named `name`; a `.debug_*` name also finds the legacy `.zdebug_*`.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.get(self.section_index(name)?)
    }

    /// The contents of a section, decompressed when stored compressed (SHF_COMPRESSED
    /// with zlib or zstd, or a legacy `.zdebug_*`). `None` for NOBITS, missing or
    /// corrupt sections.
    pub fn section_data(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let i = self.section_index(name)?;
        let sec = self.sections.get(i)?;
        let info = self.section_info.get(i)?;
        if info.sh_type == SHT_NOBITS {
            return None;
        }
        let raw = self.file_range(sec.offset, sec.size)?;
        let legacy = sec.name.starts_with(".zdebug_") && raw.starts_with(b"ZLIB");
        if sec.flags & SHF_COMPRESSED == 0 && !legacy {
            return Some(Cow::Borrowed(raw));
        }
        let inflated = info.inflated.get_or_init(|| {
            if legacy {
                inflate_zdebug(raw)
            } else {
                inflate_chdr(raw)
            }
        });
        inflated.as_deref().map(Cow::Borrowed)
    }

    fn file_range(&self, offset: u64, size: u64) -> Option<&[u8]> {
        let s = usize::try_from(offset).ok()?;
        let e = usize::try_from(offset.checked_add(size)?).ok()?;
        self.data.get(s..e)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The file-backed bytes of a PT_LOAD segment from `addr` (a link-time address) to
    /// the end of the segment's file part, if `addr` lies in one.
    pub fn vaddr_bytes(&self, addr: Addr) -> Option<&[u8]> {
        self.segments.iter().find_map(|s| {
            let off = addr.0.checked_sub(s.vaddr.0)?;
            if off >= s.filesz {
                return None;
            }
            self.file_range(s.offset.checked_add(off)?, s.filesz - off)
        })
    }

    /// Fill `buf` from the file-backed bytes at link-time address `addr`; false if any
    /// byte is not file-backed (bss, unmapped).
    pub fn read_vaddr(&self, addr: Addr, buf: &mut [u8]) -> bool {
        let mut done = 0usize;
        while done < buf.len() {
            let Some(src) = self.vaddr_bytes(addr.add(done as u64)) else {
                return false;
            };
            let rest = buf.get_mut(done..).unwrap_or(&mut []);
            let n = src.len().min(rest.len());
            match (rest.get_mut(..n), src.get(..n)) {
                (Some(dst), Some(src)) if n > 0 => dst.copy_from_slice(src),
                _ => return false,
            }
            done += n;
        }
        true
    }

    /// The symbol named `name` (the lowest-addressed one when several share it).
    pub fn symbol(&self, name: &str) -> Option<Symbol<'_>> {
        self.symbols().by_name(name)
    }

    /// The symbol containing `addr` (a sized symbol covering it, or a zero-sized one at
    /// exactly `addr`).
    pub fn symbol_at(&self, addr: Addr) -> Option<Symbol<'_>> {
        self.symbols().covering(addr, 16).next()
    }

    /// All symbols, sorted by address (the table is read on first use).
    pub fn symbols(&self) -> Symbols<'_> {
        self.symbols
            .get_or_init(|| match self.symtab_src {
                Some((syms, strs)) => SymbolTable::from_elf(&self.data, syms, strs),
                None => SymbolTable::empty(),
            })
            .view(&self.data)
    }

    /// The file's bytes, shareable (see [`SharedBytes`]).
    pub fn file_bytes(&self) -> &Arc<FileBytes> {
        &self.data
    }

    /// `part` (bytes of this binary's file) shared without a copy.
    pub fn share(&self, part: &[u8]) -> SharedBytes {
        SharedBytes::within(&self.data, part)
    }

    /// The GNU build ID (NT_GNU_BUILD_ID descriptor), if the linker wrote one.
    pub fn build_id(&self) -> Option<&[u8]> {
        let (s, e) = self.build_id?;
        self.data.get(s..e)
    }

    /// Link-time address of the GNU build ID's bytes, when they are in a loaded note.
    pub fn build_id_vaddr(&self) -> Option<Addr> {
        self.build_id_vaddr
    }

    /// The Go build ID (`.note.go.buildid`, owner "Go", type 4).
    pub fn go_build_id(&self) -> Option<&str> {
        self.go_build_id.as_deref()
    }

    /// Link-time address of the Go build ID string, when it is in a loaded note.
    pub fn go_build_id_vaddr(&self) -> Option<Addr> {
        self.go_build_id_vaddr
    }

    /// True for position-independent executables (ET_DYN), which load at a bias.
    pub fn is_pie(&self) -> bool {
        self.pie
    }

    pub fn entry(&self) -> Addr {
        self.entry
    }

    /// Link-time address of the program headers (AT_PHDR minus this is the load bias).
    pub fn phdr_vaddr(&self) -> Option<Addr> {
        self.segments.iter().find_map(|s| {
            let off = self.phoff.checked_sub(s.offset)?;
            (off < s.filesz).then(|| s.vaddr.add(off))
        })
    }
}

fn strtab_at<'a>(d: &'a [u8], sh: &SectionHeader) -> Option<Strtab<'a>> {
    let off = usize::try_from(sh.sh_offset).ok()?;
    let len = usize::try_from(sh.sh_size).ok()?;
    if off.checked_add(len)? > d.len() {
        return None;
    }
    Strtab::parse(d, off, len, 0).ok()
}

/// File ranges of `.symtab` (or `.dynsym` when stripped) and of its string table.
fn symtab_ranges(shdrs: &[SectionHeader]) -> Option<((usize, usize), (usize, usize))> {
    let table = shdrs
        .iter()
        .find(|sh| sh.sh_type == SHT_SYMTAB)
        .or_else(|| shdrs.iter().find(|sh| sh.sh_type == SHT_DYNSYM))?;
    let strs = shdrs.get(usize::try_from(table.sh_link).ok()?)?;
    let range = |sh: &SectionHeader| -> Option<(usize, usize)> {
        Some((
            usize::try_from(sh.sh_offset).ok()?,
            usize::try_from(sh.sh_size).ok()?,
        ))
    };
    Some((range(table)?, range(strs)?))
}

/// Inflate everything `r` yields, refusing to produce more than `limit` bytes.
fn read_capped<R: Read>(r: R, expect: u64) -> Option<Vec<u8>> {
    if expect > MAX_SECTION {
        return None;
    }
    // Capacity hint bounded: the header's size is a claim, not a fact.
    let mut out = Vec::with_capacity(usize::try_from(expect.min(64 << 20)).ok()?);
    r.take(expect.checked_add(1)?).read_to_end(&mut out).ok()?;
    (out.len() as u64 == expect).then_some(out)
}

/// SHF_COMPRESSED: Elf64_Chdr (type, reserved, size, addralign) then the stream.
fn inflate_chdr(raw: &[u8]) -> Option<Vec<u8>> {
    let ctype = le_u32(raw, 0)?;
    let size = le_u64(raw, 8)?;
    let body = raw.get(24..)?;
    match ctype {
        ELFCOMPRESS_ZLIB => read_capped(flate2::read::ZlibDecoder::new(body), size),
        ELFCOMPRESS_ZSTD => read_capped(zstd::stream::read::Decoder::new(body).ok()?, size),
        _ => None,
    }
}

/// Legacy `.zdebug_*`: "ZLIB", 8-byte big-endian size, then a zlib stream.
fn inflate_zdebug(raw: &[u8]) -> Option<Vec<u8>> {
    let size = u64::from_be_bytes(raw.get(4..12)?.try_into().ok()?);
    read_capped(flate2::read::ZlibDecoder::new(raw.get(12..)?), size)
}
