//! DWARF, loaded lazily through gimli. OWNER: DWARF engineer.
//!
//! Loading only copies (and, through [`Binary::section_data`], decompresses) the few
//! sections needed; no DIE is parsed until the first query. The first name lookup
//! builds an index of the top-level DIEs of every unit (types, package variables,
//! functions: name -> DIE offset), one unit per rayon task. Everything else (a type's
//! fields, a variable's location) is parsed on demand from the DIE offset, so the
//! index stays small even for 100 MB binaries.
//!
//! Handles: a [`TypeId`] is the global `.debug_info` offset of a type DIE. It stays valid
//! for the life of the [`Dwarf`] and is what later layers (Go types, variables) key on.

use crate::addr::Addr;
use crate::symbols::{Binary, SymError};
use gimli::{
    constants, AttributeValue, DebugInfoOffset, DebugStrOffsetsBase, EndianSlice, LittleEndian,
    UnitHeader, UnitOffset,
};
use rayon::prelude::*;
use regex::Regex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

#[path = "dwarf_lines.rs"]
mod lines;
pub use lines::LineRow;
#[path = "dwarf_inline.rs"]
mod inline;
pub use inline::InlinedScope;

/// A type's name as the compiler spelled it (Go: `runtime.g`, `*runtime.m`, `[]uint8`).
pub type TypeName = String;

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Go's DWARF extensions (cmd/link/internal/dwarf).
const DW_AT_GO_KIND: constants::DwAt = constants::DwAt(0x2900);
const DW_AT_GO_KEY: constants::DwAt = constants::DwAt(0x2901);
const DW_AT_GO_ELEM: constants::DwAt = constants::DwAt(0x2902);
const DW_AT_GO_EMBEDDED_FIELD: constants::DwAt = constants::DwAt(0x2903);
/// On a generic function's `.paramN` typedefs: the dictionary slot holding the
/// runtime type that the shape type stands for.
const DW_AT_GO_DICT_INDEX: constants::DwAt = constants::DwAt(0x2906);
/// On a closure's captured variables: their offset in the closure's funcval.
const DW_AT_GO_CLOSURE_OFFSET: constants::DwAt = constants::DwAt(0x2907);
const DW_AT_GO_RUNTIME_TYPE: constants::DwAt = constants::DwAt(0x2904);

/// Typedef chains and nested wrappers are short in practice; a cycle in corrupt DWARF
/// must not loop forever.
const MAX_TYPE_HOPS: usize = 32;

/// Handle on a type DIE: its offset in `.debug_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u64);

/// What kind of type a DIE describes (its tag, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Base,
    Struct,
    Union,
    Class,
    Pointer,
    Typedef,
    Array,
    Subroutine,
    Enum,
    Const,
    Volatile,
    /// Any other tag (its raw value).
    Other(u16),
}

/// One member of a struct/union type, as found in the DIE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub offset: u64,
    pub type_id: Option<TypeId>,
    /// Go embedded field (`DW_AT_go_embedded_field`) or a C anonymous member.
    pub embedded: bool,
}

/// The parsed facts of one type DIE (children included for structs, arrays, enums).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub id: TypeId,
    pub name: Option<String>,
    pub kind: TypeKind,
    /// DW_AT_byte_size, when present.
    pub byte_size: Option<u64>,
    /// Pointee, typedef target, array element, const/volatile target.
    pub target: Option<TypeId>,
    /// Array element count (first dimension), when known.
    pub count: Option<u64>,
    /// Go's `DW_AT_go_kind` (reflect.Kind), for Go types.
    pub go_kind: Option<u64>,
    /// Go's `DW_AT_go_elem` (slice/chan/map element) and `DW_AT_go_key` (map key).
    pub go_elem: Option<TypeId>,
    pub go_key: Option<TypeId>,
    /// Go's `DW_AT_go_dict_index`: a shape type resolved through the dictionary.
    pub go_dict_index: Option<u64>,
    pub members: Vec<Member>,
    /// Enumerators (name, value) for enumeration types.
    pub enumerators: Vec<(String, i64)>,
}

/// One field of a [`StructLayout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: u64,
    /// Name of the field's type ("?" for an anonymous type).
    pub type_name: TypeName,
    /// Byte size of the field's type, when DWARF gives or implies it.
    pub size: Option<u64>,
}

/// A struct's fields in declaration order, with offsets and sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructLayout {
    pub name: String,
    pub size: u64,
    pub fields: Vec<Field>,
}

impl StructLayout {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The sections this module reads: borrowed from the binary's mapping (which stays
/// alive with the `Arc`), a compressed one inflated by [`Binary::section_data`] on
/// first use and kept there. Nothing is copied, and nothing is inflated before a
/// query needs it: opening a 200 MB binary costs no DWARF work.
enum Sections {
    Binary(Arc<Binary>),
    /// Handed over whole (robustness tests and fuzzing feed arbitrary bytes).
    Owned(HashMap<&'static str, Vec<u8>>),
}

/// The sections [`Dwarf::from_sections`] asks for.
const SECTION_NAMES: [&str; 11] = [
    ".debug_info",
    ".debug_abbrev",
    ".debug_str",
    ".debug_line_str",
    ".debug_str_offsets",
    ".debug_loc",
    ".debug_loclists",
    ".debug_addr",
    ".debug_ranges",
    ".debug_rnglists",
    ".debug_line",
];

impl Sections {
    fn get(&self, name: &str) -> &[u8] {
        match self {
            Sections::Binary(bin) => match bin.section_data(name) {
                Some(std::borrow::Cow::Borrowed(b)) => b,
                // section_data only borrows (raw bytes, or its own inflated copy);
                // an owned answer would be a change there: treat it as absent.
                _ => &[],
            },
            Sections::Owned(m) => m.get(name).map(Vec::as_slice).unwrap_or(&[]),
        }
    }
    fn info(&self) -> &[u8] {
        self.get(".debug_info")
    }
}

/// Name index built on first need from the units' top-level DIEs.
#[derive(Default)]
struct Index {
    /// Type name -> type DIEs, best candidate first (definitions before typedefs and
    /// declarations, then by offset).
    types: HashMap<String, Vec<TypeId>>,
    /// Package/global variable name -> variable DIE offset.
    globals: HashMap<String, u64>,
    /// Function names, sorted, deduplicated.
    functions: Vec<String>,
    /// Top-level subprograms with a PC range: (low, high, DIE offset), sorted by low.
    func_ranges: Vec<(u64, u64, u64)>,
    /// Package constants (DW_TAG_constant): name, type, value.
    constants: Vec<(String, Option<TypeId>, i64)>,
    /// Runtime type descriptor (offset from moduledata.types) -> its type DIE.
    rtypes: HashMap<u64, TypeId>,
    /// Units that failed to parse (offset, error): the index is partial for them.
    problems: Vec<(u64, String)>,
}

/// A parsed unit header with what string and reference resolution need.
struct UnitCtx<'a> {
    offset: u64,
    header: UnitHeader<Slice<'a>>,
    abbrevs: Arc<gimli::Abbreviations>,
    str_offsets_base: DebugStrOffsetsBase<usize>,
}

/// Lazily indexed DWARF of one binary. Cheap to share between threads.
pub struct Dwarf {
    sec: Sections,
    /// Offsets of every unit header in `.debug_info`, ascending (walked on first use:
    /// it inflates `.debug_info`).
    units: OnceLock<Vec<u64>>,
    abbrev_cache: Mutex<HashMap<u64, Arc<gimli::Abbreviations>>>,
    /// `variables` answers by (function DIE, pc, location pc): a conditional breakpoint
    /// or a `next` asks the same question at every stop, and parsing the unit (its line
    /// program header, its abbreviations) and walking the DIEs dominated that cost.
    var_cache: Mutex<HashMap<VarKey, Arc<Vec<VarDie>>>>,
    index: OnceLock<Index>,
    producer: OnceLock<Option<String>>,
    type_cache: RwLock<HashMap<TypeId, Arc<TypeInfo>>>,
}

/// Whether building the DWARF index may print its progress on stderr (a terminal
/// only). The full-screen browser turns it off: it owns the terminal.
static INDEX_PROGRESS: AtomicBool = AtomicBool::new(true);

/// Allow or forbid the index's progress line (see [`INDEX_PROGRESS`]).
pub fn set_index_progress(on: bool) {
    INDEX_PROGRESS.store(on, Ordering::Relaxed);
}

/// Prints `indexing DWARF: N/M units` on a terminal while the index takes longer
/// than half a second, and clears the line when it is done.
fn index_progress(done: &AtomicUsize, finished: &AtomicBool, total: usize) {
    use std::io::IsTerminal;
    let show = INDEX_PROGRESS.load(Ordering::Relaxed) && std::io::stderr().is_terminal();
    let start = std::time::Instant::now();
    let mut shown = false;
    while !finished.load(Ordering::Acquire) {
        std::thread::park_timeout(std::time::Duration::from_millis(100));
        if finished.load(Ordering::Acquire) {
            break;
        }
        if show && start.elapsed() >= std::time::Duration::from_millis(500) {
            eprint!(
                "\rindexing DWARF: {}/{total} units",
                done.load(Ordering::Relaxed)
            );
            shown = true;
        }
    }
    if shown {
        eprint!("\r\x1b[K");
    }
}

fn gerr(e: gimli::Error) -> SymError {
    SymError::Dwarf(e.to_string())
}

impl Dwarf {
    /// The DWARF of `bin`; `Ok(None)` when it has none (e.g. `-ldflags=-s -w`). Reads
    /// nothing yet: sections are inflated and units walked on the first query.
    pub fn load(bin: &Arc<Binary>) -> Result<Option<Dwarf>, SymError> {
        if bin.section(".debug_info").is_none() && bin.section(".zdebug_info").is_none() {
            return Ok(None);
        }
        Ok(Some(Dwarf::over(Sections::Binary(bin.clone()))))
    }

    /// A Dwarf over `sec` with nothing read yet.
    fn over(sec: Sections) -> Dwarf {
        Dwarf {
            sec,
            units: OnceLock::new(),
            abbrev_cache: Mutex::new(HashMap::new()),
            var_cache: Mutex::new(HashMap::new()),
            index: OnceLock::new(),
            producer: OnceLock::new(),
            type_cache: RwLock::new(HashMap::new()),
        }
    }

    /// From sections handed over as bytes (name like ".debug_info" -> bytes), read
    /// now: `Ok(None)` when `.debug_info` is absent or holds no unit.
    pub fn from_sections<'s, F>(get: F) -> Result<Option<Dwarf>, SymError>
    where
        F: Fn(&str) -> Option<std::borrow::Cow<'s, [u8]>>,
    {
        let map: HashMap<&'static str, Vec<u8>> = SECTION_NAMES
            .iter()
            .filter_map(|&n| get(n).map(|b| (n, b.into_owned())))
            .collect();
        if map.get(".debug_info").is_none_or(|b| b.is_empty()) {
            return Ok(None);
        }
        let d = Dwarf::over(Sections::Owned(map));
        Ok(d.has_units().then_some(d))
    }

    /// Offsets of the unit headers (walking them only reads each header and jumps by
    /// its length). A malformed header ends the list: the units before it still work.
    fn units(&self) -> &[u64] {
        self.units.get_or_init(|| {
            let mut units = Vec::new();
            let mut iter = gimli::DebugInfo::new(self.sec.info(), LittleEndian).units();
            while let Ok(Some(h)) = iter.next() {
                if let Some(off) = h.offset().as_debug_info_offset() {
                    units.push(off.0 as u64);
                }
            }
            units
        })
    }

    /// Whether the binary's DWARF holds any unit (inflates `.debug_info`).
    pub fn has_units(&self) -> bool {
        !self.units().is_empty()
    }

    /// Number of compilation (and type) units.
    pub fn unit_count(&self) -> usize {
        self.units().len()
    }

    /// DW_AT_producer of the first unit, e.g. "Go cmd/compile go1.22.10; regabi".
    pub fn producer(&self) -> Option<String> {
        self.producer
            .get_or_init(|| {
                let first = *self.units().first()?;
                let u = self.unit(first).ok()?;
                let mut tree = u.header.entries_tree(&u.abbrevs, None).ok()?;
                let root = tree.root().ok()?;
                let v = root.entry().attr_value(constants::DW_AT_producer).ok()??;
                self.string(&u, v)
            })
            .clone()
    }

    /// The type DIE of the runtime type descriptor at `offset` from the module's
    /// `types` base (Go's DW_AT_go_runtime_type): exact where names are not, since the
    /// runtime names a type by its package's name (`pprof.labelMap`) and DWARF by its
    /// path (`runtime/pprof.labelMap`).
    pub fn type_by_runtime_type(&self, offset: u64) -> Option<TypeId> {
        self.index().rtypes.get(&offset).copied()
    }

    /// Find a type DIE by its exact name (Go: "runtime.g", "*runtime.m").
    pub fn type_by_name(&self, name: &str) -> Option<TypeId> {
        self.index().types.get(name)?.first().copied()
    }

    /// Parse one type DIE (cached).
    pub fn type_info(&self, id: TypeId) -> Option<Arc<TypeInfo>> {
        if let Ok(cache) = self.type_cache.read() {
            if let Some(t) = cache.get(&id) {
                return Some(t.clone());
            }
        }
        let info = Arc::new(self.parse_type(id).ok()??);
        if let Ok(mut cache) = self.type_cache.write() {
            cache.insert(id, info.clone());
        }
        Some(info)
    }

    /// Follow typedefs and const/volatile qualifiers to the underlying type.
    pub fn resolve(&self, mut id: TypeId) -> Option<TypeId> {
        for _ in 0..MAX_TYPE_HOPS {
            let t = self.type_info(id)?;
            match t.kind {
                TypeKind::Typedef | TypeKind::Const | TypeKind::Volatile => id = t.target?,
                _ => return Some(id),
            }
        }
        None
    }

    /// Byte size of a type: its DW_AT_byte_size, else implied (pointers: 8, arrays:
    /// count * element, typedefs: their target).
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        self.size_of_depth(id, 0)
    }

    fn size_of_depth(&self, id: TypeId, depth: usize) -> Option<u64> {
        if depth > MAX_TYPE_HOPS {
            return None;
        }
        let t = self.type_info(id)?;
        if let Some(s) = t.byte_size {
            return Some(s);
        }
        match t.kind {
            TypeKind::Pointer | TypeKind::Subroutine => Some(8),
            TypeKind::Typedef | TypeKind::Const | TypeKind::Volatile => {
                self.size_of_depth(t.target?, depth + 1)
            }
            TypeKind::Array => t
                .count?
                .checked_mul(self.size_of_depth(t.target?, depth + 1)?),
            _ => None,
        }
    }

    /// Byte size of the type named `name`.
    pub fn type_size(&self, name: &str) -> Option<u64> {
        self.size_of(self.type_by_name(name)?)
    }

    /// The name of a type DIE, "?" when it has none.
    /// Go names every type; C leaves pointers, qualifiers and arrays anonymous, so
    /// those get a C spelling ("int *volatile", "char[40]").
    pub fn type_name(&self, id: TypeId) -> TypeName {
        self.type_name_depth(id, 0)
    }

    fn type_name_depth(&self, id: TypeId, depth: usize) -> TypeName {
        let Some(t) = self.type_info(id) else {
            return "?".to_string();
        };
        if let Some(n) = &t.name {
            return n.clone();
        }
        if depth > MAX_TYPE_HOPS {
            return "?".to_string();
        }
        let inner = |void: &str| {
            t.target
                .map_or_else(|| void.to_string(), |i| self.type_name_depth(i, depth + 1))
        };
        let qualified = |q: &str| {
            let i = inner("void");
            if i.ends_with('*') {
                format!("{i}{q}")
            } else {
                format!("{q} {i}")
            }
        };
        match t.kind {
            TypeKind::Pointer => format!("{} *", inner("void")),
            TypeKind::Const => qualified("const"),
            TypeKind::Volatile => qualified("volatile"),
            TypeKind::Array => match t.count {
                Some(n) => format!("{}[{n}]", inner("?")),
                None => format!("{}[]", inner("?")),
            },
            TypeKind::Subroutine => "func".to_string(),
            TypeKind::Struct => "struct {...}".to_string(),
            TypeKind::Union => "union {...}".to_string(),
            _ => "?".to_string(),
        }
    }

    /// Layout of the struct (or union) type named `name`, typedefs followed.
    pub fn struct_layout(&self, name: &str) -> Option<StructLayout> {
        let id = self.resolve(self.type_by_name(name)?)?;
        let t = self.type_info(id)?;
        if !matches!(t.kind, TypeKind::Struct | TypeKind::Union | TypeKind::Class) {
            return None;
        }
        let fields = t
            .members
            .iter()
            .map(|m| Field {
                name: m.name.clone(),
                offset: m.offset,
                type_name: m
                    .type_id
                    .map_or_else(|| "?".to_string(), |i| self.type_name(i)),
                size: m.type_id.and_then(|i| self.size_of(i)),
            })
            .collect();
        Some(StructLayout {
            name: name.to_string(),
            size: self.size_of(id)?,
            fields,
        })
    }

    /// Offset of a dotted field path inside the struct named `struct_name`, e.g.
    /// `("runtime.g", "sched.pc")`.
    ///
    /// Go-version tolerant: embedded fields are searched when a name is not a direct
    /// member; wrapper structs with a single sized field (`atomic.Uint32{noCopy;
    /// value}`, `atomic.Pointer[T]`) are transparent, and a trailing `value`/`v` on a
    /// field that is already a plain scalar (older releases) names the field itself.
    pub fn field_offset(&self, struct_name: &str, path: &str) -> Option<u64> {
        self.field_path(self.type_by_name(struct_name)?, path)
            .map(|(off, _)| off)
    }

    /// Like [`Dwarf::field_offset`] from a type handle; also returns the field's type.
    pub fn field_path(&self, ty: TypeId, path: &str) -> Option<(u64, Option<TypeId>)> {
        let mut off = 0u64;
        let mut cur = Some(ty);
        let comps: Vec<&str> = path.split('.').collect();
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let id = self.resolve(cur?)?;
            match self.find_member(id, comp, 0) {
                Some((o, t)) => {
                    off = off.checked_add(o)?;
                    cur = t;
                }
                None if last && (*comp == "value" || *comp == "v") && self.is_scalar(id) => {
                    return Some((off, Some(id)));
                }
                None => return None,
            }
        }
        Some((off, cur))
    }

    fn is_scalar(&self, id: TypeId) -> bool {
        self.type_info(id).is_some_and(|t| {
            matches!(
                t.kind,
                TypeKind::Base | TypeKind::Pointer | TypeKind::Enum | TypeKind::Subroutine
            )
        })
    }

    /// Find `name` in struct `id` (already resolved): direct member, then embedded
    /// members, then through a single-payload wrapper.
    fn find_member(&self, id: TypeId, name: &str, depth: usize) -> Option<(u64, Option<TypeId>)> {
        if depth > 4 {
            return None;
        }
        let t = self.type_info(id)?;
        if !matches!(t.kind, TypeKind::Struct | TypeKind::Union | TypeKind::Class) {
            return None;
        }
        if let Some(m) = t.members.iter().find(|m| m.name == name) {
            return Some((m.offset, m.type_id));
        }
        for m in t.members.iter().filter(|m| m.embedded) {
            let Some(inner) = m.type_id.and_then(|i| self.resolve(i)) else {
                continue;
            };
            if let Some((o, ty)) = self.find_member(inner, name, depth + 1) {
                return Some((m.offset.checked_add(o)?, ty));
            }
        }
        if let Some(m) = self.wrapper_payload(&t) {
            let inner = self.resolve(m.type_id?)?;
            let (o, ty) = self.find_member(inner, name, depth + 1)?;
            return Some((m.offset.checked_add(o)?, ty));
        }
        None
    }

    /// The only member with a non-zero size, if the struct has exactly one.
    fn wrapper_payload<'t>(&self, t: &'t TypeInfo) -> Option<&'t Member> {
        let mut sized = t
            .members
            .iter()
            .filter(|m| m.type_id.and_then(|i| self.size_of(i)).unwrap_or(1) != 0);
        let first = sized.next()?;
        sized.next().is_none().then_some(first)
    }

    /// Address and type name of a package/global variable with a static location.
    pub fn global(&self, name: &str) -> Option<(Addr, Option<TypeName>)> {
        let off = *self.index().globals.get(name)?;
        let (addr, ty) = self.parse_global(off).ok()??;
        Some((addr, ty.map(|t| self.type_name(t))))
    }

    /// Names of all global variables (sorted), for `vars`-style listings.
    pub fn globals_matching(&self, re: &Regex) -> Vec<String> {
        let mut v: Vec<String> = self
            .index()
            .globals
            .keys()
            .filter(|n| re.is_match(n))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Type names matching `re`, sorted (Delve's `types`).
    pub fn types_matching(&self, re: &Regex) -> Vec<String> {
        let mut v: Vec<String> = self
            .index()
            .types
            .keys()
            .filter(|n| re.is_match(n))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Function names matching `re`, sorted (Delve's `funcs`).
    pub fn functions_matching(&self, re: &Regex) -> Vec<String> {
        self.index()
            .functions
            .iter()
            .filter(|n| re.is_match(n))
            .cloned()
            .collect()
    }

    /// Units the index could not read, with the error (the index skips them).
    pub fn index_problems(&self) -> Vec<(u64, String)> {
        self.index().problems.clone()
    }

    // ----- internals -----

    fn gimli_dwarf(&self) -> gimli::Dwarf<Slice<'_>> {
        let le = LittleEndian;
        gimli::Dwarf {
            debug_info: gimli::DebugInfo::new(self.sec.info(), le),
            debug_abbrev: gimli::DebugAbbrev::new(self.sec.get(".debug_abbrev"), le),
            debug_str: gimli::DebugStr::new(self.sec.get(".debug_str"), le),
            debug_line_str: gimli::DebugLineStr::new(self.sec.get(".debug_line_str"), le),
            debug_str_offsets: gimli::DebugStrOffsets::from(EndianSlice::new(
                self.sec.get(".debug_str_offsets"),
                le,
            )),
            debug_addr: gimli::DebugAddr::from(EndianSlice::new(self.sec.get(".debug_addr"), le)),
            debug_line: gimli::DebugLine::new(self.sec.get(".debug_line"), le),
            locations: gimli::LocationLists::new(
                gimli::DebugLoc::new(self.sec.get(".debug_loc"), le),
                gimli::DebugLocLists::new(self.sec.get(".debug_loclists"), le),
            ),
            ranges: gimli::RangeLists::new(
                gimli::DebugRanges::new(self.sec.get(".debug_ranges"), le),
                gimli::DebugRngLists::new(self.sec.get(".debug_rnglists"), le),
            ),
            ..Default::default()
        }
    }

    fn abbrevs(
        &self,
        header: &UnitHeader<Slice<'_>>,
    ) -> Result<Arc<gimli::Abbreviations>, SymError> {
        let key = header.debug_abbrev_offset().0 as u64;
        if let Ok(cache) = self.abbrev_cache.lock() {
            if let Some(a) = cache.get(&key) {
                return Ok(a.clone());
            }
        }
        let a = Arc::new(
            gimli::DebugAbbrev::new(self.sec.get(".debug_abbrev"), LittleEndian)
                .abbreviations(header.debug_abbrev_offset())
                .map_err(gerr)?,
        );
        if let Ok(mut cache) = self.abbrev_cache.lock() {
            cache.insert(key, a.clone());
        }
        Ok(a)
    }

    /// Parse the unit header at `offset` and the root attributes string lookup needs.
    fn unit(&self, offset: u64) -> Result<UnitCtx<'_>, SymError> {
        let off = usize::try_from(offset).map_err(|_| SymError::Dwarf("offset".into()))?;
        let header = gimli::DebugInfo::new(self.sec.info(), LittleEndian)
            .header_from_offset(DebugInfoOffset(off))
            .map_err(gerr)?;
        let abbrevs = self.abbrevs(&header)?;
        let mut str_offsets_base = DebugStrOffsetsBase(0);
        {
            let mut cur = header.entries(&abbrevs);
            if let Some((_, root)) = cur.next_dfs().map_err(gerr)? {
                if let Some(AttributeValue::DebugStrOffsetsBase(b)) = root
                    .attr_value(constants::DW_AT_str_offsets_base)
                    .map_err(gerr)?
                {
                    str_offsets_base = b;
                }
            }
        }
        Ok(UnitCtx {
            offset,
            header,
            abbrevs,
            str_offsets_base,
        })
    }

    /// The unit containing the DIE at global offset `die`.
    fn unit_for(&self, die: u64) -> Result<UnitCtx<'_>, SymError> {
        let units = self.units();
        let i = units.partition_point(|&u| u <= die);
        let start = i
            .checked_sub(1)
            .and_then(|i| units.get(i))
            .ok_or_else(|| SymError::Dwarf(format!("no unit contains DIE {die:#x}")))?;
        self.unit(*start)
    }

    fn string(&self, u: &UnitCtx<'_>, v: AttributeValue<Slice<'_>>) -> Option<String> {
        let d = self.gimli_dwarf();
        let r = match v {
            AttributeValue::String(s) => s,
            AttributeValue::DebugStrRef(o) => d.debug_str.get_str(o).ok()?,
            AttributeValue::DebugLineStrRef(o) => d.debug_line_str.get_str(o).ok()?,
            AttributeValue::DebugStrOffsetsIndex(i) => {
                let o = d
                    .debug_str_offsets
                    .get_str_offset(u.header.format(), u.str_offsets_base, i)
                    .ok()?;
                d.debug_str.get_str(o).ok()?
            }
            _ => return None,
        };
        Some(String::from_utf8_lossy(r.slice()).into_owned())
    }

    /// A reference attribute as a global `.debug_info` offset.
    fn reference(u: &UnitCtx<'_>, v: AttributeValue<Slice<'_>>) -> Option<TypeId> {
        match v {
            AttributeValue::UnitRef(UnitOffset(o)) => Some(TypeId(u.offset.checked_add(o as u64)?)),
            AttributeValue::DebugInfoRef(DebugInfoOffset(o)) => Some(TypeId(o as u64)),
            _ => None,
        }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| self.build_index())
    }

    fn build_index(&self) -> Index {
        let units = self.units();
        let done = AtomicUsize::new(0);
        let finished = AtomicBool::new(false);
        let parts: Vec<Result<UnitIndex, (u64, String)>> = std::thread::scope(|sc| {
            // Past half a second, say on the terminal what the wait is for.
            let watcher = sc.spawn(|| index_progress(&done, &finished, units.len()));
            let parts = units
                .par_iter()
                .map(|&off| {
                    let r = self.index_unit(off).map_err(|e| (off, e.to_string()));
                    done.fetch_add(1, Ordering::Relaxed);
                    r
                })
                .collect();
            finished.store(true, Ordering::Release);
            watcher.thread().unpark();
            parts
        });
        let mut idx = Index::default();
        let mut types: HashMap<String, Vec<(u8, TypeId)>> = HashMap::new();
        let mut funcs = Vec::new();
        for p in parts {
            match p {
                Ok(ui) => {
                    for (name, rank, id) in ui.types {
                        types.entry(name).or_default().push((rank, id));
                    }
                    for (name, off) in ui.globals {
                        // First definition wins, matching the linker's choice.
                        idx.globals.entry(name).or_insert(off);
                    }
                    funcs.extend(ui.functions);
                    idx.func_ranges.extend(ui.func_ranges);
                    idx.constants.extend(ui.constants);
                    for (a, id) in ui.rtypes {
                        idx.rtypes.entry(a).or_insert(id);
                    }
                }
                Err(e) => idx.problems.push(e),
            }
        }
        idx.types = types
            .into_iter()
            .map(|(k, mut v)| {
                v.sort();
                (k, v.into_iter().map(|(_, id)| id).collect())
            })
            .collect();
        funcs.sort();
        funcs.dedup();
        idx.functions = funcs;
        idx.func_ranges.sort_unstable();
        idx
    }

    /// One pass over a unit's DIEs, reading attributes of top-level DIEs only.
    fn index_unit(&self, off: u64) -> Result<UnitIndex, SymError> {
        let u = self.unit(off)?;
        let mut out = UnitIndex::default();
        let mut raw = u.header.entries_raw(&u.abbrevs, None).map_err(gerr)?;
        while !raw.is_empty() {
            let die_off = raw.next_offset();
            let depth = raw.next_depth();
            let Some(abbrev) = raw.read_abbreviation().map_err(gerr)? else {
                continue;
            };
            if depth != 1 {
                raw.skip_attributes(abbrev.attributes()).map_err(gerr)?;
                continue;
            }
            let tag = abbrev.tag();
            let mut name = None;
            let mut declaration = false;
            let mut has_location = false;
            let mut low = None;
            let mut high = None;
            let mut ty = None;
            let mut cval = None;
            let mut origin = false;
            let mut rtype = None;
            for spec in abbrev.attributes() {
                let attr = raw.read_attribute(*spec).map_err(gerr)?;
                match attr.name() {
                    constants::DW_AT_name => name = Some(attr.value()),
                    constants::DW_AT_declaration => declaration = true,
                    constants::DW_AT_location => has_location = true,
                    constants::DW_AT_low_pc => low = Some(attr.value()),
                    constants::DW_AT_high_pc => high = Some(attr.value()),
                    constants::DW_AT_type => ty = Self::reference(&u, attr.value()),
                    constants::DW_AT_abstract_origin | constants::DW_AT_specification => {
                        origin = true
                    }
                    constants::DW_AT_const_value => {
                        cval = attr
                            .sdata_value()
                            .or_else(|| attr.udata_value().map(|v| v as i64))
                    }
                    n if n == DW_AT_GO_RUNTIME_TYPE => {
                        rtype = match attr.value() {
                            AttributeValue::Addr(a) => Some(a),
                            _ => attr.udata_value(),
                        }
                    }
                    _ => {}
                }
            }
            let Some(global) = u.offset.checked_add(die_off.0 as u64) else {
                continue;
            };
            let Some(name) = name.and_then(|v| self.string(&u, v)) else {
                // A concrete out-of-line instance of an inlinable function has no name
                // of its own, only DW_AT_abstract_origin (Go 1.22+ opt builds: e.g.
                // runtime.newobject, recursive functions that inline themselves). Its
                // PC range is what `function_at` needs; the name is the origin's, which
                // is indexed from the abstract DIE.
                if tag == constants::DW_TAG_subprogram && origin {
                    if let Some((lo, hi)) = self.pc_range(&u, low, high) {
                        out.func_ranges.push((lo, hi, global));
                    }
                }
                continue;
            };
            match tag {
                constants::DW_TAG_subprogram => {
                    if let Some((lo, hi)) = self.pc_range(&u, low, high) {
                        out.func_ranges.push((lo, hi, global));
                    }
                    out.functions.push(name)
                }
                constants::DW_TAG_constant => {
                    if let Some(v) = cval {
                        out.constants.push((name, ty, v));
                    }
                }
                constants::DW_TAG_variable if has_location => out.globals.push((name, global)),
                t if is_type_tag(t) => {
                    // Prefer definitions over declarations, and real types over typedefs
                    // of the same name (Go emits both for `runtime.g`).
                    let rank = u8::from(declaration) * 2 + u8::from(t == constants::DW_TAG_typedef);
                    out.types.push((name, rank, TypeId(global)));
                    if let Some(a) = rtype.filter(|&a| a != 0) {
                        out.rtypes.push((a, TypeId(global)));
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn parse_type(&self, id: TypeId) -> Result<Option<TypeInfo>, SymError> {
        let u = self.unit_for(id.0)?;
        let rel =
            id.0.checked_sub(u.offset)
                .and_then(|r| usize::try_from(r).ok())
                .ok_or_else(|| SymError::Dwarf("bad DIE offset".into()))?;
        let mut tree = u
            .header
            .entries_tree(&u.abbrevs, Some(UnitOffset(rel)))
            .map_err(gerr)?;
        let root = tree.root().map_err(gerr)?;
        let e = root.entry();
        let kind = match e.tag() {
            constants::DW_TAG_base_type | constants::DW_TAG_unspecified_type => TypeKind::Base,
            constants::DW_TAG_structure_type => TypeKind::Struct,
            constants::DW_TAG_union_type => TypeKind::Union,
            constants::DW_TAG_class_type => TypeKind::Class,
            constants::DW_TAG_pointer_type | constants::DW_TAG_reference_type => TypeKind::Pointer,
            constants::DW_TAG_typedef => TypeKind::Typedef,
            constants::DW_TAG_array_type => TypeKind::Array,
            constants::DW_TAG_subroutine_type => TypeKind::Subroutine,
            constants::DW_TAG_enumeration_type => TypeKind::Enum,
            constants::DW_TAG_const_type => TypeKind::Const,
            constants::DW_TAG_volatile_type => TypeKind::Volatile,
            t if is_type_tag(t) => TypeKind::Other(t.0),
            _ => return Ok(None),
        };
        let mut info = TypeInfo {
            id,
            name: None,
            kind,
            byte_size: None,
            target: None,
            count: None,
            go_kind: None,
            go_elem: None,
            go_key: None,
            go_dict_index: None,
            members: Vec::new(),
            enumerators: Vec::new(),
        };
        let mut attrs = e.attrs();
        while let Some(a) = attrs.next().map_err(gerr)? {
            match a.name() {
                constants::DW_AT_name => info.name = self.string(&u, a.value()),
                constants::DW_AT_byte_size => info.byte_size = a.udata_value(),
                constants::DW_AT_type => info.target = Self::reference(&u, a.value()),
                n if n == DW_AT_GO_KIND => info.go_kind = a.udata_value(),
                n if n == DW_AT_GO_ELEM => info.go_elem = Self::reference(&u, a.value()),
                n if n == DW_AT_GO_KEY => info.go_key = Self::reference(&u, a.value()),
                n if n == DW_AT_GO_DICT_INDEX => info.go_dict_index = a.udata_value(),
                _ => {}
            }
        }
        let mut children = root.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let c = child.entry();
            match c.tag() {
                constants::DW_TAG_member => {
                    let mut m = Member {
                        name: String::new(),
                        offset: 0,
                        type_id: None,
                        embedded: false,
                    };
                    let mut named = false;
                    let mut attrs = c.attrs();
                    while let Some(a) = attrs.next().map_err(gerr)? {
                        match a.name() {
                            constants::DW_AT_name => {
                                if let Some(s) = self.string(&u, a.value()) {
                                    m.name = s;
                                    named = true;
                                }
                            }
                            constants::DW_AT_data_member_location => {
                                m.offset = member_offset(a.value()).unwrap_or(0)
                            }
                            constants::DW_AT_type => m.type_id = Self::reference(&u, a.value()),
                            n if n == DW_AT_GO_EMBEDDED_FIELD => {
                                m.embedded = matches!(a.value(), AttributeValue::Flag(true))
                                    || a.udata_value().is_some_and(|v| v != 0)
                            }
                            _ => {}
                        }
                    }
                    // C anonymous struct/union members behave like embedded ones.
                    m.embedded |= !named;
                    info.members.push(m);
                }
                constants::DW_TAG_subrange_type if info.count.is_none() => {
                    if let Some(v) = c.attr_value(constants::DW_AT_count).map_err(gerr)? {
                        info.count = v.udata_value();
                    } else if let Some(v) =
                        c.attr_value(constants::DW_AT_upper_bound).map_err(gerr)?
                    {
                        info.count = v.udata_value().and_then(|n| n.checked_add(1));
                    }
                }
                constants::DW_TAG_enumerator => {
                    let name = match c.attr_value(constants::DW_AT_name).map_err(gerr)? {
                        Some(v) => self.string(&u, v),
                        None => None,
                    };
                    let val = c
                        .attr_value(constants::DW_AT_const_value)
                        .map_err(gerr)?
                        .and_then(|v| {
                            v.sdata_value()
                                .or_else(|| v.udata_value().map(|x| x as i64))
                        });
                    if let (Some(n), Some(v)) = (name, val) {
                        info.enumerators.push((n, v));
                    }
                }
                _ => {}
            }
        }
        Ok(Some(info))
    }

    fn parse_global(&self, off: u64) -> Result<Option<(Addr, Option<TypeId>)>, SymError> {
        let u = self.unit_for(off)?;
        let rel = off
            .checked_sub(u.offset)
            .and_then(|r| usize::try_from(r).ok())
            .ok_or_else(|| SymError::Dwarf("bad DIE offset".into()))?;
        let mut cur = u
            .header
            .entries_at_offset(&u.abbrevs, UnitOffset(rel))
            .map_err(gerr)?;
        let Some((_, e)) = cur.next_dfs().map_err(gerr)? else {
            return Ok(None);
        };
        let ty = match e.attr_value(constants::DW_AT_type).map_err(gerr)? {
            Some(v) => Self::reference(&u, v),
            None => None,
        };
        let Some(AttributeValue::Exprloc(expr)) =
            e.attr_value(constants::DW_AT_location).map_err(gerr)?
        else {
            return Ok(None);
        };
        // Only a plain static address: DW_OP_addr <8 bytes> (what Go and C emit for
        // package and file-scope variables).
        let bytes = expr.0.slice();
        if bytes.first() != Some(&constants::DW_OP_addr.0) {
            return Ok(None);
        }
        let Some(a) = bytes.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
            return Ok(None);
        };
        Ok(Some((Addr(u64::from_le_bytes(a)), ty)))
    }
}

#[derive(Default)]
struct UnitIndex {
    types: Vec<(String, u8, TypeId)>,
    /// DW_AT_go_runtime_type: the type's runtime descriptor, as an offset from the
    /// module's `types` base (moduledata.types).
    rtypes: Vec<(u64, TypeId)>,
    globals: Vec<(String, u64)>,
    functions: Vec<String>,
    func_ranges: Vec<(u64, u64, u64)>,
    constants: Vec<(String, Option<TypeId>, i64)>,
}

fn is_type_tag(t: constants::DwTag) -> bool {
    matches!(
        t,
        constants::DW_TAG_base_type
            | constants::DW_TAG_unspecified_type
            | constants::DW_TAG_structure_type
            | constants::DW_TAG_union_type
            | constants::DW_TAG_class_type
            | constants::DW_TAG_pointer_type
            | constants::DW_TAG_reference_type
            | constants::DW_TAG_typedef
            | constants::DW_TAG_array_type
            | constants::DW_TAG_subroutine_type
            | constants::DW_TAG_enumeration_type
            | constants::DW_TAG_const_type
            | constants::DW_TAG_volatile_type
    )
}

/// DW_AT_data_member_location: a constant, or (old producers) `DW_OP_plus_uconst N`.
fn member_offset(v: AttributeValue<Slice<'_>>) -> Option<u64> {
    match v {
        AttributeValue::Exprloc(e) => {
            let mut r = e.0;
            if gimli::Reader::read_u8(&mut r).ok()? != constants::DW_OP_plus_uconst.0 {
                return None;
            }
            gimli::Reader::read_uleb128(&mut r).ok()
        }
        other => other.udata_value(),
    }
}

/// A function DIE found by PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDie {
    pub name: String,
    pub low: u64,
    pub high: u64,
    /// Global `.debug_info` offset of the DW_TAG_subprogram.
    pub offset: u64,
}

/// Where a variable lives at one PC, as DWARF describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarLocation {
    /// A location expression (raw bytes) valid at the PC, from DW_AT_location directly
    /// (`list_offset` None) or from the location-list entry covering the PC (the
    /// list's section offset, which Delve's show-location-expr prints).
    Expr {
        expr: Vec<u8>,
        list_offset: Option<u64>,
    },
    /// A location list exists but no entry covers the PC: not available here.
    /// `list_offset` is the list's offset in its section (Delve's message names it).
    NotAtPc { list_offset: u64 },
    /// No DW_AT_location at all: the compiler optimised the variable out.
    OptimizedOut,
}

/// Bound on `Dwarf::var_cache`: a `goroutines -t` over 100,000 goroutines asks about
/// many frames once; the cache is for the few PCs asked again and again.
const VAR_CACHE_MAX: usize = 4096;

/// (function DIE, pc, location-list pc): what `Dwarf::variables` answers for.
type VarKey = (u64, u64, u64);

/// A formal parameter or local variable of a function, in DIE order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarDie {
    pub name: String,
    pub type_id: Option<TypeId>,
    pub is_param: bool,
    /// Go marks result parameters with DW_AT_variable_parameter.
    pub is_return: bool,
    pub location: VarLocation,
    pub decl_line: Option<u64>,
    /// Lexical block nesting depth (0: function scope).
    pub depth: usize,
    pub encoding: gimli::Encoding,
    /// Go's `DW_AT_go_closure_offset`: a closure's captured variable, at this offset
    /// in the closure's funcval.
    pub closure_offset: Option<u64>,
}

impl Dwarf {
    /// The function (top-level DW_TAG_subprogram) whose PC range contains `pc`.
    pub fn function_at(&self, pc: u64) -> Option<FunctionDie> {
        let ranges = &self.index().func_ranges;
        let i = ranges.partition_point(|r| r.0 <= pc);
        let &(low, high, offset) = ranges.get(i.checked_sub(1)?)?;
        if pc >= high {
            return None;
        }
        let name = self.die_name(offset).unwrap_or_default();
        Some(FunctionDie {
            name,
            low,
            high,
            offset,
        })
    }

    /// Parameters and the variables in scope at `pc` of the function DIE at `func`
    /// (lexical blocks not covering `pc` are skipped), in DIE order. Location lists
    /// are looked up at `loc_pc`: Delve uses the frame's PC (the return address in
    /// outer frames) there, but the call instruction for scopes.
    pub fn variables(&self, func: u64, pc: u64, loc_pc: u64) -> Result<Vec<VarDie>, SymError> {
        let key = (func, pc, loc_pc);
        if let Some(v) = self
            .var_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(v.as_ref().clone());
        }
        let out = self.variables_uncached(func, pc, loc_pc)?;
        if let Ok(mut c) = self.var_cache.lock() {
            if c.len() >= VAR_CACHE_MAX {
                c.clear();
            }
            c.insert(key, Arc::new(out.clone()));
        }
        Ok(out)
    }

    fn variables_uncached(&self, func: u64, pc: u64, loc_pc: u64) -> Result<Vec<VarDie>, SymError> {
        let u = self.unit_for(func)?;
        let rel = func
            .checked_sub(u.offset)
            .and_then(|r| usize::try_from(r).ok())
            .ok_or_else(|| SymError::Dwarf("bad DIE offset".into()))?;
        let dw = self.gimli_dwarf();
        let unit = gimli::Unit::new(&dw, u.header).map_err(gerr)?;
        let mut tree = unit.entries_tree(Some(UnitOffset(rel))).map_err(gerr)?;
        let root = tree.root().map_err(gerr)?;
        let mut out = Vec::new();
        self.collect_vars(&dw, &unit, &u, root, (pc, loc_pc), 0, &mut out)?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn collect_vars<'a>(
        &self,
        dw: &gimli::Dwarf<Slice<'a>>,
        unit: &gimli::Unit<Slice<'a>>,
        u: &UnitCtx<'a>,
        node: gimli::EntriesTreeNode<'_, '_, '_, Slice<'a>>,
        (pc, loc_pc): (u64, u64),
        depth: usize,
        out: &mut Vec<VarDie>,
    ) -> Result<(), SymError> {
        if depth > MAX_TYPE_HOPS {
            return Ok(());
        }
        let mut children = node.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            match e.tag() {
                constants::DW_TAG_formal_parameter | constants::DW_TAG_variable => {
                    let mut v = VarDie {
                        name: String::new(),
                        type_id: None,
                        is_param: e.tag() == constants::DW_TAG_formal_parameter,
                        is_return: false,
                        location: VarLocation::OptimizedOut,
                        decl_line: None,
                        depth,
                        encoding: unit.encoding(),
                        closure_offset: None,
                    };
                    let mut origin = None;
                    let mut attrs = e.attrs();
                    while let Some(a) = attrs.next().map_err(gerr)? {
                        match a.name() {
                            constants::DW_AT_abstract_origin => {
                                origin = Self::reference(u, a.value())
                            }
                            constants::DW_AT_name => {
                                v.name = self.string(u, a.value()).unwrap_or_default()
                            }
                            constants::DW_AT_type => v.type_id = Self::reference(u, a.value()),
                            constants::DW_AT_variable_parameter => {
                                v.is_return = matches!(a.value(), AttributeValue::Flag(true))
                            }
                            constants::DW_AT_decl_line => v.decl_line = a.udata_value(),
                            n if n == DW_AT_GO_CLOSURE_OFFSET => v.closure_offset = a.udata_value(),
                            constants::DW_AT_location => {
                                v.location = match a.value() {
                                    AttributeValue::Exprloc(x) => VarLocation::Expr {
                                        expr: x.0.slice().to_vec(),
                                        list_offset: None,
                                    },
                                    other => {
                                        let list_offset = match other {
                                            AttributeValue::LocationListsRef(o) => o.0 as u64,
                                            AttributeValue::SecOffset(o) => o as u64,
                                            AttributeValue::DebugLocListsIndex(i) => dw
                                                .locations_offset(unit, i)
                                                .map_or(0, |o| o.0 as u64),
                                            _ => 0,
                                        };
                                        let mut found = VarLocation::NotAtPc { list_offset };
                                        if let Some(mut it) =
                                            dw.attr_locations(unit, other).map_err(gerr)?
                                        {
                                            while let Some(le) = it.next().map_err(gerr)? {
                                                if le.range.begin <= loc_pc && loc_pc < le.range.end
                                                {
                                                    found = VarLocation::Expr {
                                                        expr: le.data.0.slice().to_vec(),
                                                        list_offset: Some(list_offset),
                                                    };
                                                    break;
                                                }
                                            }
                                        }
                                        found
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    // Concrete instances (out-of-line copies of inlinable functions,
                    // inlined calls) keep only the location; name, type and
                    // declaration line are the abstract origin's.
                    if let Some(o) = origin {
                        self.fill_from_origin(o.0, &mut v);
                    }
                    out.push(v);
                }
                constants::DW_TAG_lexical_block => {
                    let mut any = false;
                    let mut inside = false;
                    let mut ranges = dw.die_ranges(unit, e).map_err(gerr)?;
                    while let Some(r) = ranges.next().map_err(gerr)? {
                        any = true;
                        if r.begin <= pc && pc < r.end {
                            inside = true;
                        }
                    }
                    if inside || !any {
                        self.collect_vars(dw, unit, u, child, (pc, loc_pc), depth + 1, out)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Package constants whose type is `ty` (Go emits them as DW_TAG_constant), for
    /// printing enum-like values by name.
    pub fn constants_of_type(&self, ty: TypeId) -> Vec<(String, i64)> {
        self.index()
            .constants
            .iter()
            .filter(|(_, t, _)| *t == Some(ty))
            .map(|(n, _, v)| (n.clone(), *v))
            .collect()
    }

    /// Address and type of a package variable with a static location.
    pub fn global_typed(&self, name: &str) -> Option<(Addr, Option<TypeId>)> {
        let off = *self.index().globals.get(name)?;
        self.parse_global(off).ok()?
    }

    /// The DW_AT_name of the DIE at global offset `off`, or of its abstract origin
    /// (or specification) when it has none: concrete instances are nameless.
    pub(crate) fn die_name(&self, mut off: u64) -> Option<String> {
        for _ in 0..4 {
            let u = self.unit_for(off).ok()?;
            let rel = usize::try_from(off.checked_sub(u.offset)?).ok()?;
            let mut cur = u
                .header
                .entries_at_offset(&u.abbrevs, UnitOffset(rel))
                .ok()?;
            let (_, e) = cur.next_dfs().ok()??;
            if let Some(v) = e.attr_value(constants::DW_AT_name).ok()? {
                return self.string(&u, v);
            }
            let v = e
                .attr_value(constants::DW_AT_abstract_origin)
                .ok()?
                .or(e.attr_value(constants::DW_AT_specification).ok()?)?;
            off = Self::reference(&u, v)?.0;
        }
        None
    }

    /// A subprogram's [low, high) from its raw DW_AT_low_pc / DW_AT_high_pc values.
    fn pc_range(
        &self,
        u: &UnitCtx<'_>,
        low: Option<AttributeValue<Slice<'_>>>,
        high: Option<AttributeValue<Slice<'_>>>,
    ) -> Option<(u64, u64)> {
        let addr = |v: AttributeValue<Slice<'_>>| -> Option<u64> {
            match v {
                AttributeValue::Addr(a) => Some(a),
                AttributeValue::DebugAddrIndex(i) => {
                    let dw = self.gimli_dwarf();
                    let unit = gimli::Unit::new(&dw, u.header).ok()?;
                    dw.address(&unit, i).ok()
                }
                _ => None,
            }
        };
        let lo = addr(low?)?;
        let hi = match high? {
            AttributeValue::Udata(n) => lo.checked_add(n)?,
            AttributeValue::Data1(n) => lo.checked_add(u64::from(n))?,
            AttributeValue::Data2(n) => lo.checked_add(u64::from(n))?,
            AttributeValue::Data4(n) => lo.checked_add(u64::from(n))?,
            AttributeValue::Data8(n) => lo.checked_add(n)?,
            other => addr(other)?,
        };
        (hi > lo).then_some((lo, hi))
    }
}

// The engine shares one `Dwarf` between threads (rayon, servers).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Dwarf>();
};
