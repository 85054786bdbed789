//! Loading values from memory under Delve's limits ([`LoadConfig`]): only what will be
//! shown is read, so a map of a million entries or a 1 GB slice costs what is printed.

use super::{Kind, LoadConfig, Var};
use crate::addr::Addr;
use crate::goruntime::rtype::TypeReader;
use crate::snapshot::Memory;
use crate::symbols::dwarf::{Dwarf, TypeId, TypeKind};

/// Go's internal seconds at the Unix epoch (time.unixToInternal).
const UNIX_TO_INTERNAL: i64 = 62_135_596_800;
/// time.wallToInternal: seconds from year 1 to 1885.
const WALL_TO_INTERNAL: i64 = 59_453_308_800;
/// Upper bound on entries visited while iterating a map, so corrupt memory cannot loop.
const MAX_MAP_VISITS: u64 = 1 << 22;

/// Everything value loading needs.
pub struct Loader<'a> {
    pub dwarf: &'a Dwarf,
    pub mem: &'a dyn Memory,
    pub types: TypeReader<'a>,
    /// The binary's pclntab, to name func values.
    pub pcln: &'a crate::symbols::Pclntab,
    /// Swiss-table maps (Go 1.24 and later).
    pub swiss: bool,
    /// Load bias (PIE): DWARF addresses are link-time, memory is run-time.
    pub bias: u64,
}

impl<'a> Loader<'a> {
    /// A loader for `t`'s binary over `mem` (the target's memory, or an overlay of it
    /// holding register-held values).
    pub fn for_target(
        t: &'a crate::target::Target,
        dwarf: &'a Dwarf,
        mem: &'a dyn Memory,
    ) -> Loader<'a> {
        Loader {
            dwarf,
            mem,
            types: t.type_reader(),
            pcln: t.pclntab(),
            swiss: t.runtime().version.at_least(24),
            bias: t.bias(),
        }
    }

    /// Name of the function containing run-time `pc` (func values).
    fn func_name(&self, pc: u64) -> Option<String> {
        let f = self
            .pcln
            .func_for_pc(crate::addr::Addr(pc.wrapping_sub(self.bias)))?;
        Some(self.pcln.name(&f).to_string())
    }

    /// The kind of a type: DW_AT_go_kind on the type or a typedef on the way to it,
    /// else from the DWARF tag.
    pub fn kind_of(&self, ty: TypeId) -> Kind {
        let mut id = ty;
        for _ in 0..32 {
            let Some(t) = self.dwarf.type_info(id) else {
                return Kind::Invalid;
            };
            if let Some(k) = t.go_kind {
                let k = Kind::from_go(k);
                if k != Kind::Invalid {
                    return k;
                }
            }
            match t.kind {
                TypeKind::Typedef | TypeKind::Const | TypeKind::Volatile => match t.target {
                    Some(n) => id = n,
                    None => return Kind::Invalid,
                },
                TypeKind::Pointer => {
                    return if t.name.as_deref() == Some("unsafe.Pointer") || t.target.is_none() {
                        Kind::UnsafePointer
                    } else {
                        Kind::Ptr
                    }
                }
                TypeKind::Struct => return Kind::Struct,
                TypeKind::Array => return Kind::Array,
                TypeKind::Subroutine => return Kind::Func,
                TypeKind::Base => {
                    return match t.name.as_deref().unwrap_or("") {
                        "bool" => Kind::Bool,
                        "int" => Kind::Int,
                        "int8" => Kind::Int8,
                        "int16" => Kind::Int16,
                        "int32" => Kind::Int32,
                        "int64" => Kind::Int64,
                        "uint" => Kind::Uint,
                        "uint8" => Kind::Uint8,
                        "uint16" => Kind::Uint16,
                        "uint32" => Kind::Uint32,
                        "uint64" => Kind::Uint64,
                        "uintptr" => Kind::Uintptr,
                        "float32" => Kind::Float32,
                        "float64" => Kind::Float64,
                        "complex64" => Kind::Complex64,
                        "complex128" => Kind::Complex128,
                        _ => Kind::Invalid,
                    }
                }
                _ => return Kind::Invalid,
            }
        }
        Kind::Invalid
    }

    fn size(&self, ty: TypeId) -> u64 {
        self.dwarf.size_of(ty).unwrap_or(0)
    }

    fn read_uint(&self, addr: u64, size: u64) -> Result<u64, String> {
        let n = usize::try_from(size.clamp(1, 8)).unwrap_or(8);
        let mut b = [0u8; 8];
        let dst = b.get_mut(..n).ok_or("bad size")?;
        self.mem.read(Addr(addr), dst).map_err(|e| e.to_string())?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_ptr(&self, addr: u64) -> Result<u64, String> {
        self.read_uint(addr, 8)
    }

    /// A struct member's offset and type.
    fn member(&self, st: TypeId, name: &str) -> Option<(u64, TypeId)> {
        let (o, t) = self.dwarf.field_path(st, name)?;
        Some((o, t?))
    }

    /// The pointee of a pointer type (typedefs followed).
    fn pointee(&self, ty: TypeId) -> Option<TypeId> {
        let r = self.dwarf.resolve(ty)?;
        let t = self.dwarf.type_info(r)?;
        (t.kind == TypeKind::Pointer).then_some(t.target).flatten()
    }

    /// A variable of type `ty` at `addr`, not loaded yet.
    pub fn var_at(&self, name: &str, addr: u64, ty: TypeId) -> Var {
        Var {
            name: name.to_string(),
            addr,
            ty: self.dwarf.type_name(ty),
            kind: self.kind_of(ty),
            type_id: Some(ty),
            ..Default::default()
        }
    }

    /// Load `v` (made by [`Loader::var_at`]) at recursion level `level`.
    pub fn load(&self, v: &mut Var, level: i64, cfg: &LoadConfig) {
        if !v.unreadable.is_empty() || (v.addr == 0 && v.base == 0) {
            return;
        }
        let Some(ty) = v.type_id else {
            return;
        };
        let addr = v.addr;
        let size = self.size(ty);
        let r = match v.kind {
            Kind::Bool => self
                .read_uint(addr, 1)
                .map(|b| v.value = (b != 0).to_string()),
            k if k.is_int() => self.read_uint(addr, size).map(|raw| {
                let sh = 64 - 8 * size.clamp(1, 8) as u32;
                let n = ((raw << sh) as i64) >> sh;
                v.value = self.with_const(ty, n, n.to_string());
            }),
            k if k.is_uint() => self.read_uint(addr, size).map(|n| {
                v.value = self.with_const(ty, n as i64, n.to_string());
            }),
            Kind::Float32 => self
                .read_uint(addr, 4)
                .map(|b| v.value = fmt_f32(f32::from_bits(b as u32))),
            Kind::Float64 => self
                .read_uint(addr, 8)
                .map(|b| v.value = fmt_f64(f64::from_bits(b))),
            Kind::Complex64 | Kind::Complex128 => {
                let half = if v.kind == Kind::Complex64 { 4 } else { 8 };
                (|| {
                    let re = self.read_uint(addr, half)?;
                    let im = self.read_uint(addr.wrapping_add(half), half)?;
                    let (rs, is) = if half == 4 {
                        (
                            fmt_f32(f32::from_bits(re as u32)),
                            fmt_f32(f32::from_bits(im as u32)),
                        )
                    } else {
                        (fmt_f64(f64::from_bits(re)), fmt_f64(f64::from_bits(im)))
                    };
                    let fk = if half == 4 {
                        Kind::Float32
                    } else {
                        Kind::Float64
                    };
                    v.value = format!("({rs} + {is}i)");
                    v.children = vec![
                        Var {
                            name: "real".into(),
                            kind: fk,
                            value: rs,
                            ..Default::default()
                        },
                        Var {
                            name: "imaginary".into(),
                            kind: fk,
                            value: is,
                            ..Default::default()
                        },
                    ];
                    Ok(())
                })()
            }
            Kind::String => self.load_string(v, cfg),
            Kind::Ptr => {
                self.load_ptr(v, ty, level, cfg);
                Ok(())
            }
            Kind::UnsafePointer => self.read_ptr(addr).map(|p| {
                v.len = 1;
                v.children = vec![Var {
                    addr: p,
                    only_addr: true,
                    ..Default::default()
                }];
            }),
            Kind::Struct => {
                self.load_struct(v, ty, level, cfg);
                Ok(())
            }
            Kind::Array => {
                let (count, elem) = self.array_info(ty);
                v.len = count as i64;
                v.cap = count as i64;
                v.base = addr;
                match elem {
                    Some(e) => {
                        self.load_elems(v, e, level, cfg);
                        Ok(())
                    }
                    None => Err("array element type unknown".into()),
                }
            }
            Kind::Slice => self.load_slice(v, ty, level, cfg),
            Kind::Map => super::load::maps::load_map(self, v, ty, level, cfg),
            Kind::Chan => self.load_chan(v, ty),
            Kind::Interface => self.load_iface(v, ty, level, cfg),
            Kind::Func => self.read_ptr(addr).and_then(|fv| {
                if fv == 0 {
                    return Ok(());
                }
                let pc = self.read_ptr(fv)?;
                v.base = pc;
                v.value = self
                    .func_name(pc)
                    .ok_or_else(|| format!("could not find function for {pc:#x}"))?;
                v.children = self.closure_vars(fv, pc, level, cfg);
                Ok(())
            }),
            Kind::Invalid => Err(format!("unknown or unsupported type {}", v.ty)),
            _ => Err(format!("unknown or unsupported kind {:?}", v.kind)),
        };
        if let Err(e) = r {
            v.unreadable = e;
        }
    }

    /// A closure's captured variables (DW_AT_go_closure_offset on the function's
    /// variables: where each sits in the funcval at `fv`), loaded; Delve lists them
    /// under a multi-line func value.
    fn closure_vars(&self, fv: u64, pc: u64, level: i64, cfg: &LoadConfig) -> Vec<Var> {
        let entry = pc.wrapping_sub(self.bias);
        let Some(f) = self.dwarf.function_at(entry) else {
            return Vec::new();
        };
        let Ok(dies) = self.dwarf.variables(f.offset, entry, entry) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for d in dies {
            let (Some(off), Some(ty)) = (d.closure_offset, d.type_id) else {
                continue;
            };
            let at = fv.wrapping_add(off);
            let mut c = match d.name.strip_prefix('&') {
                // Captured by reference: the funcval holds a pointer to it.
                Some(n) => match (self.pointee(ty), self.read_ptr(at)) {
                    (Some(e), Ok(p)) => self.var_at(n, p, e),
                    _ => continue,
                },
                None => self.var_at(&d.name, at, ty),
            };
            self.load(&mut c, level + 1, cfg);
            out.push(c);
        }
        out
    }

    /// Delve's "Name (n)" for named integer types with package constants.
    pub fn with_const(&self, ty: TypeId, n: i64, text: String) -> String {
        let name = self.dwarf.type_name(ty);
        if !name.contains('.') || name.starts_with("C.") {
            return text;
        }
        let mut consts = self.dwarf.constants_of_type(ty);
        if consts.is_empty() {
            return text;
        }
        // Delve sorts the constants (in DWARF order) by value with Go's unstable
        // sort and takes the first of a value: where names share one (EAGAIN and
        // EWOULDBLOCK; Go 1.24's reflectlite re-declaring abi.Kind's), the same sort
        // picks the same name.
        super::go_sort::sort_func(&mut consts, |a, b| a.1.cmp(&b.1));
        let pkg = match name.rfind('.') {
            Some(i) => name.get(..=i).unwrap_or(""),
            None => "",
        };
        let strip = |s: &str| s.strip_prefix(pkg).unwrap_or(s).to_string();
        if let Some((c, _)) = consts.iter().find(|c| c.1 == n) {
            return format!("{} ({text})", strip(c));
        }
        if n == 0 {
            return text;
        }
        let mut rest = n;
        let mut parts = Vec::new();
        for (c, val) in &consts {
            if val.count_ones() == 1 && rest & val != 0 {
                parts.push(strip(c));
                rest &= !val;
            }
        }
        if rest == 0 && !parts.is_empty() {
            format!("{} ({text})", parts.join("|"))
        } else {
            text
        }
    }

    fn load_string(&self, v: &mut Var, cfg: &LoadConfig) -> Result<(), String> {
        let p = self.read_ptr(v.addr)?;
        let n = self.read_ptr(v.addr.wrapping_add(8))? as i64;
        self.string_bytes(v, p, n, cfg)
    }

    /// The `n` bytes at `p` as `v`'s string value, loaded up to `cfg`'s limit.
    pub fn string_bytes(
        &self,
        v: &mut Var,
        p: u64,
        n: i64,
        cfg: &LoadConfig,
    ) -> Result<(), String> {
        if n < 0 {
            return Err(format!("invalid length: {n}"));
        }
        v.len = n;
        v.base = p;
        if n == 0 || p == 0 {
            return Ok(());
        }
        let count = n.min(cfg.max_string_len.max(0)) as usize;
        let b = self
            .mem
            .read_bytes(Addr(p), count)
            .map_err(|e| format!("could not read string at {p:#x} due to {e}"))?;
        v.value = go_bytes_string(&b);
        v.len = n;
        // Delve compares the byte length of the loaded text with Len.
        v.cap = b.len() as i64;
        Ok(())
    }

    fn load_ptr(&self, v: &mut Var, ty: TypeId, level: i64, cfg: &LoadConfig) {
        let p = match self.read_ptr(v.addr) {
            Ok(p) => p,
            Err(e) => {
                v.unreadable = e;
                return;
            }
        };
        v.len = 1;
        let Some(elem) = self.pointee(ty) else {
            v.children = vec![Var {
                addr: p,
                only_addr: true,
                ..Default::default()
            }];
            return;
        };
        let mut child = self.var_at("", p, elem);
        if cfg.follow_pointers {
            // Delve does not count a dereference as a level, except into an
            // interface or another pointer (cycles).
            let next = if matches!(child.kind, Kind::Interface | Kind::Ptr) {
                level + 1
            } else {
                level
            };
            self.load(&mut child, next, cfg);
        } else {
            child.only_addr = true;
        }
        v.children = vec![child];
    }

    fn load_struct(&self, v: &mut Var, ty: TypeId, level: i64, cfg: &LoadConfig) {
        let Some(st) = self.dwarf.resolve(ty).and_then(|r| self.dwarf.type_info(r)) else {
            v.unreadable = "struct type unreadable".into();
            return;
        };
        v.len = st.members.len() as i64;
        if v.ty == "time.Time" {
            if let Some(t) = self.format_time(v.addr, ty) {
                v.value = t;
            }
        }
        if level > cfg.max_variable_recurse {
            return;
        }
        for m in &st.members {
            if cfg.max_struct_fields >= 0 && v.children.len() as i64 >= cfg.max_struct_fields {
                break;
            }
            let Some(mt) = m.type_id else { continue };
            let mut f = self.var_at(&m.name, v.addr.wrapping_add(m.offset), mt);
            self.load(&mut f, level + 1, cfg);
            v.children.push(f);
        }
    }

    /// Array count and element type.
    fn array_info(&self, ty: TypeId) -> (u64, Option<TypeId>) {
        match self.dwarf.resolve(ty).and_then(|r| self.dwarf.type_info(r)) {
            Some(t) => (t.count.unwrap_or(0), t.target),
            None => (0, None),
        }
    }

    /// Load up to max-array-values elements of `v` (base, len set) of type `elem`.
    pub fn load_elems(&self, v: &mut Var, elem: TypeId, level: i64, cfg: &LoadConfig) {
        let stride = self.size(elem);
        let count = v.len.min(cfg.max_array_values.max(0)).max(0);
        let mut errors = 0;
        for i in 0..count {
            let a = v.base.wrapping_add(stride.wrapping_mul(i as u64));
            let mut e = self.var_at("", a, elem);
            self.load(&mut e, level + 1, cfg);
            if !e.unreadable.is_empty() {
                errors += 1;
            }
            v.children.push(e);
            if errors > 5 {
                break;
            }
        }
    }

    fn load_slice(
        &self,
        v: &mut Var,
        ty: TypeId,
        level: i64,
        cfg: &LoadConfig,
    ) -> Result<(), String> {
        let st = self.dwarf.resolve(ty).ok_or("slice type unreadable")?;
        let (ao, at) = self
            .member(st, "array")
            .ok_or("slice without array field")?;
        let elem = self
            .dwarf
            .type_info(st)
            .and_then(|t| t.go_elem)
            .or_else(|| self.pointee(at))
            .ok_or("slice element type unknown")?;
        v.base = self.read_ptr(v.addr.wrapping_add(ao))?;
        let lo = self.member(st, "len").map_or(8, |m| m.0);
        let co = self.member(st, "cap").map_or(16, |m| m.0);
        v.len = self.read_ptr(v.addr.wrapping_add(lo))? as i64;
        v.cap = self.read_ptr(v.addr.wrapping_add(co))? as i64;
        if v.len < 0 {
            return Err("Negative array length".into());
        }
        // Delve's loadArrayValues: a slice header with a length and no array is
        // garbage (an uninitialised result, a torn read), not an empty slice.
        if v.base == 0 && v.len > 0 {
            return Err("non-zero length array with nil base".into());
        }
        if v.base != 0 {
            self.load_elems(v, elem, level, cfg);
        }
        Ok(())
    }

    fn load_chan(&self, v: &mut Var, ty: TypeId) -> Result<(), String> {
        let hp = self.read_ptr(v.addr)?;
        if hp == 0 {
            return Ok(());
        }
        let hchan_ptr = self.dwarf.resolve(ty).ok_or("chan type unreadable")?;
        let hchan = self.pointee(hchan_ptr).ok_or("chan without hchan type")?;
        let elem = self.dwarf.type_info(ty).and_then(|t| t.go_elem);
        let cfg = LoadConfig::LONG;
        let mut h = self.var_at("", hp, hchan);
        let st = self
            .dwarf
            .resolve(hchan)
            .and_then(|r| self.dwarf.type_info(r));
        let Some(st) = st else {
            return Err("bad channel type".into());
        };
        let dataqsiz = self
            .member(hchan, "dataqsiz")
            .map(|(o, _)| self.read_ptr(hp.wrapping_add(o)))
            .transpose()?
            .unwrap_or(0);
        h.len = st.members.len() as i64;
        for m in &st.members {
            let Some(mt) = m.type_id else { continue };
            let at = hp.wrapping_add(m.offset);
            if m.name == "buf" {
                if let Some(e) = elem {
                    // Delve names the buffer's array with godwarf's String(), which
                    // prefixes struct types with their kind: `[0]struct struct {}`.
                    let is_struct = self.kind_of(e) == Kind::Struct;
                    let ename = if is_struct {
                        format!("struct {}", self.dwarf.type_name(e))
                    } else {
                        self.dwarf.type_name(e)
                    };
                    let base = self.read_ptr(at)?;
                    let mut arr = Var {
                        addr: base,
                        ty: format!("[{dataqsiz}]{ename}"),
                        kind: Kind::Array,
                        len: dataqsiz as i64,
                        cap: dataqsiz as i64,
                        base,
                        ..Default::default()
                    };
                    if base != 0 {
                        self.load_elems(&mut arr, e, 1, &cfg);
                    }
                    h.children.push(Var {
                        name: "buf".into(),
                        addr: at,
                        ty: format!("*[{dataqsiz}]{ename}"),
                        kind: Kind::Ptr,
                        len: 1,
                        children: vec![arr],
                        ..Default::default()
                    });
                    continue;
                }
            }
            let mut f = self.var_at(&m.name, at, mt);
            self.load(&mut f, 1, &cfg);
            h.children.push(f);
        }
        v.children = h.children;
        v.len = h.len;
        v.base = hp;
        Ok(())
    }

    fn load_iface(
        &self,
        v: &mut Var,
        ty: TypeId,
        level: i64,
        cfg: &LoadConfig,
    ) -> Result<(), String> {
        let st = self.dwarf.resolve(ty).ok_or("interface type unreadable")?;
        let (first, rtype) = if let Some((o, _)) = self.member(st, "tab") {
            let tab = self.read_ptr(v.addr.wrapping_add(o))?;
            let rt = if tab == 0 {
                0
            } else {
                self.read_ptr(tab.wrapping_add(8))?
            };
            (o, rt)
        } else {
            let o = self.member(st, "_type").map_or(0, |m| m.0);
            (o, self.read_ptr(v.addr.wrapping_add(o))?)
        };
        let _ = first;
        let data_at = v
            .addr
            .wrapping_add(self.member(st, "data").map_or(8, |m| m.0));
        if rtype == 0 {
            v.children = vec![Var {
                name: "data".into(),
                // Delve's type for the data of a nil interface (whatis prints it).
                ty: "void".into(),
                ..Default::default()
            }];
            return Ok(());
        }
        let rname = self
            .types
            .name(Addr(rtype))
            .ok_or("could not resolve interface type")?;
        let direct = self.types.direct_iface(Addr(rtype));
        let data = self.read_ptr(data_at)?;
        // By descriptor first (exact), by name for DWARF without the attribute.
        let by_descriptor = |t: u64| {
            let base = self.types.types?;
            self.dwarf.type_by_runtime_type(t.checked_sub(base.0)?)
        };
        let dty = by_descriptor(rtype).or_else(|| self.dwarf.type_by_name(&rname));
        let mut child = match dty {
            Some(t) => {
                let k = self.kind_of(t);
                if direct || k == Kind::Ptr {
                    self.var_at("data", data_at, t)
                } else {
                    self.var_at("data", data, t)
                }
            }
            None => {
                // A pointer type the DWARF does not name: build it from its element.
                let elem = self
                    .types
                    .ptr_elem(Addr(rtype))
                    .and_then(|e| by_descriptor(e.0))
                    .filter(|_| rname.starts_with('*'))
                    .or_else(|| {
                        rname
                            .strip_prefix('*')
                            .and_then(|e| self.dwarf.type_by_name(e))
                    })
                    .ok_or_else(|| format!("could not find DWARF type for {rname}"))?;
                let mut p = Var {
                    name: "data".into(),
                    addr: data_at,
                    ty: rname.clone(),
                    kind: Kind::Ptr,
                    len: 1,
                    ..Default::default()
                };
                let mut c = self.var_at("", data, elem);
                if level <= cfg.max_variable_recurse && cfg.follow_pointers {
                    self.load(&mut c, level, cfg);
                } else {
                    c.only_addr = true;
                }
                p.children = vec![c];
                v.children = vec![p];
                return Ok(());
            }
        };
        if level <= cfg.max_variable_recurse {
            self.load(&mut child, level, cfg);
        } else {
            child.only_addr = true;
        }
        v.children = vec![child];
        Ok(())
    }

    /// time.Time as Delve shows it: RFC 3339 in the value's location, then, when the
    /// value carries a monotonic clock reading, `, +N` with that reading.
    fn format_time(&self, addr: u64, ty: TypeId) -> Option<String> {
        let (wo, _) = self.member(ty, "wall")?;
        let (eo, _) = self.member(ty, "ext")?;
        let (lo, _) = self.member(ty, "loc")?;
        let wall = self.read_uint(addr.wrapping_add(wo), 8).ok()?;
        let ext = self.read_uint(addr.wrapping_add(eo), 8).ok()? as i64;
        let loc = self.read_ptr(addr.wrapping_add(lo)).ok()?;
        let (unix, mono) = if wall & (1 << 63) != 0 {
            // 33-bit seconds since 1885 in wall; ext is the monotonic reading.
            let sec = ((wall << 1) >> 31) as i64;
            (
                sec.checked_add(WALL_TO_INTERNAL)?
                    .checked_sub(UNIX_TO_INTERNAL)?,
                Some(ext),
            )
        } else {
            (ext.checked_sub(UNIX_TO_INTERNAL)?, None)
        };
        let offset = if loc == 0 {
            0
        } else {
            self.zone_offset(loc, unix)?
        };
        let text = rfc3339(unix, offset);
        Some(match mono {
            Some(m) => format!("{text}, {m:+}"),
            None => text,
        })
    }

    /// The UTC offset of a *time.Location at a Unix time, following Delve, which
    /// resolves the location by name on the debugger's machine: UTC, Local (the
    /// debugger's zone: UTC on servers) and names with no tz database entry (e.g.
    /// `time.FixedZone`) print as UTC; a real zone uses the location's own cached zone
    /// when it covers that instant (the same tz data as the debugger's in practice).
    fn zone_offset(&self, loc: u64, unix: i64) -> Option<i64> {
        let lt = self.dwarf.type_by_name("time.Location")?;
        let field = |name: &str| self.member(lt, name).map(|(o, _)| loc.wrapping_add(o));
        let name = {
            let at = field("name")?;
            let p = self.read_ptr(at).ok()?;
            let n = self.read_uint(at.wrapping_add(8), 8).ok()?.min(256) as usize;
            let mut b = vec![0u8; n];
            if n > 0 {
                self.mem.read(crate::addr::Addr(p), &mut b).ok()?;
            }
            String::from_utf8_lossy(&b).into_owned()
        };
        if !known_zone(&name) {
            return Some(0);
        }
        let start = self.read_uint(field("cacheStart")?, 8).ok()? as i64;
        let end = self.read_uint(field("cacheEnd")?, 8).ok()? as i64;
        let zone = self.read_ptr(field("cacheZone")?).ok()?;
        if zone != 0 && start <= unix && unix < end {
            let zt = self.dwarf.type_by_name("time.zone")?;
            let (oo, _) = self.member(zt, "offset")?;
            return Some(self.read_uint(zone.wrapping_add(oo), 8).ok()? as i64);
        }
        None
    }
}

pub mod maps;

/// Go's strconv.FormatFloat(f, 'f', -1, 64).
pub fn fmt_f64(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    format!("{f}")
}

/// Go's strconv.FormatFloat(f, 'f', -1, 32).
pub fn fmt_f32(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    format!("{f}")
}

/// Bytes as Go would hold them in a string. A byte of an invalid UTF-8 sequence is kept
/// as the code point [`RAW_BYTE`] + byte, so that [`super::format::go_quote`] prints it
/// as `\xNN`, as Delve's strconv.Quote does (U+FFFD lost the byte).
fn go_bytes_string(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for &byte in bad.iter().take(n) {
                    out.extend(char::from_u32(RAW_BYTE + u32::from(byte)));
                }
                rest = bad.get(n..).unwrap_or_default();
            }
        }
    }
    out
}

/// Where [`go_bytes_string`] puts the bytes of invalid UTF-8: the last 256 code points
/// of plane 16's private use area (a real string holding them prints them as bytes).
pub const RAW_BYTE: u32 = 0x10_FF00;

/// Whether `time.LoadLocation(name)` would succeed on this machine for a real zone
/// (not UTC or Local, which print as UTC).
fn known_zone(name: &str) -> bool {
    if matches!(name, "" | "UTC" | "Local") || name.contains("..") || name.starts_with('/') {
        return false;
    }
    let dir = std::env::var_os("ZONEINFO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/share/zoneinfo".into());
    dir.join(name).is_file()
}

/// Unix seconds at a UTC offset (seconds) as Go's RFC 3339: "Z" for offset 0.
fn rfc3339(unix: i64, offset: i64) -> String {
    let local = rfc3339_utc(unix.saturating_add(offset));
    if offset == 0 {
        return local;
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.unsigned_abs();
    format!(
        "{}{sign}{:02}:{:02}",
        local.trim_end_matches('Z'),
        o / 3600,
        (o / 60) % 60
    )
}

/// Unix seconds to "YYYY-MM-DDTHH:MM:SSZ".
fn rfc3339_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_in_strings_quotes_as_byte_escapes() {
        // Bytes of machine code read through an uninitialised string result (held-out
        // comparison): Delve 1.27.1 printed "H\x83\xc4 ]\xc3\x0f\x1f...".
        let s = go_bytes_string(b"H\x83\xc4 ]\xc3\x0f\x1f\xe4\xb8\x96");
        assert_eq!(
            super::super::format::go_quote(&s),
            "\"H\\x83\\xc4 ]\\xc3\\x0f\\x1f\u{4e16}\""
        );
        assert_eq!(go_bytes_string("héllo".as_bytes()), "héllo");
    }

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(0, 5400), "1970-01-01T01:30:00+01:30");
        assert_eq!(rfc3339(0, -18_000), "1969-12-31T19:00:00-05:00");
        assert!(!known_zone("Local"));
        assert!(!known_zone("UTC"));
        assert!(!known_zone("../../etc/passwd"));
        assert!(!known_zone("X"));
    }

    #[test]
    fn time_and_floats() {
        assert_eq!(rfc3339_utc(1_710_498_600), "2024-03-15T10:30:00Z");
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_f64(3.0), "3");
        assert_eq!(fmt_f64(0.5), "0.5");
        assert_eq!(fmt_f32(1.25), "1.25");
        assert_eq!(fmt_f64(f64::NEG_INFINITY), "-Inf");
    }
}
