//! Runtime type descriptors (abi.Type) and decoding `any` values to text, enough to
//! show a panic value the way the runtime printed it. Full Go values are the job of the
//! variables layer; this works without DWARF (stripped binaries).

use crate::addr::Addr;
use crate::snapshot::Memory;

// abi.Kind values (kind & 0x1f).
pub const KIND_BOOL: u8 = 1;
pub const KIND_INT: u8 = 2;
pub const KIND_INT64: u8 = 6;
pub const KIND_UINT: u8 = 7;
pub const KIND_UINT64: u8 = 11;
pub const KIND_UINTPTR: u8 = 12;
pub const KIND_FLOAT64: u8 = 14;
pub const KIND_PTR: u8 = 22;
pub const KIND_STRING: u8 = 24;
pub const KIND_STRUCT: u8 = 25;

const MAX_TEXT: usize = 4096;

/// Reads type descriptors of one module.
pub struct TypeReader<'a> {
    pub mem: &'a dyn Memory,
    /// moduledata.types: base of name and type offsets; None when unknown (stripped
    /// binary whose moduledata was not found) — names are then unavailable.
    pub types: Option<Addr>,
}

impl<'a> TypeReader<'a> {
    pub fn kind(&self, t: Addr) -> Option<u8> {
        self.mem.read_u8(t.add(23)).ok().map(|k| k & 0x1f)
    }

    fn tflag(&self, t: Addr) -> u8 {
        self.mem.read_u8(t.add(20)).unwrap_or(0)
    }

    /// Whether values of this type are stored directly in an interface's data word.
    pub fn direct_iface(&self, t: Addr) -> bool {
        let k = self.mem.read_u8(t.add(23)).unwrap_or(0);
        k & 0x20 != 0 || self.tflag(t) & 0x20 != 0
    }

    /// The type's name as the runtime prints it (e.g. "*errors.errorString").
    pub fn name(&self, t: Addr) -> Option<String> {
        let types = self.types?;
        let off = self.mem.read_u32(t.add(40)).ok()? as i32;
        if off == 0 {
            return None;
        }
        let n = types.offset(off as i64);
        // name: flags byte, varint length, bytes.
        let mut len: u64 = 0;
        let mut shift = 0;
        let mut p = n.add(1);
        for _ in 0..4 {
            let b = self.mem.read_u8(p).ok()?;
            p = p.add(1);
            len |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        if len == 0 || len > 1024 {
            return None;
        }
        let b = self.mem.read_bytes(p, len as usize).ok()?;
        let mut s = String::from_utf8_lossy(&b).into_owned();
        if self.tflag(t) & 2 != 0 && s.starts_with('*') {
            s.remove(0);
        }
        Some(s)
    }

    /// Element type of a pointer type (abi.PtrType.Elem, right after abi.Type).
    pub fn ptr_elem(&self, t: Addr) -> Option<Addr> {
        self.mem.read_ptr(t.add(48)).ok().filter(|a| !a.is_null())
    }

    fn read_string(&self, at: Addr) -> Option<String> {
        let p = self.mem.read_ptr(at).ok()?;
        let n = self.mem.read_u64(at.add(8)).ok()?;
        if n == 0 {
            return Some(String::new());
        }
        if n > (1 << 30) {
            return None;
        }
        let b = self.mem.read_bytes(p, (n as usize).min(MAX_TEXT)).ok()?;
        let mut s = String::from_utf8_lossy(&b).into_owned();
        if n as usize > MAX_TEXT {
            s.push_str("...");
        }
        Some(s)
    }

    /// Text for an `any` (eface) value, as close to the runtime's printpanicval as a
    /// post-mortem reader can get: strings and numbers exactly, well-known error types
    /// by their fields; for other error types the method cannot run on a core, so the
    /// type is named and its first string field shown when it has one.
    pub fn describe_eface(&self, typ: Addr, data: Addr) -> String {
        if typ.is_null() {
            return "nil".into();
        }
        let name = self.name(typ);
        let kind = self.kind(typ).unwrap_or(0);
        let direct = self.direct_iface(typ);
        // Where the value's bytes are.
        let val = if direct {
            None // the data word is the value itself (pointer-shaped)
        } else {
            Some(data)
        };
        let nm = name.clone().unwrap_or_else(|| format!("type@{typ}"));
        match (nm.as_str(), kind) {
            ("runtime.errorString", _) | ("runtime.plainError", _) => {
                let s = val.and_then(|v| self.read_string(v)).unwrap_or_default();
                if nm == "runtime.errorString" {
                    format!("runtime error: {s}")
                } else {
                    s
                }
            }
            ("runtime.boundsError", _) => match val {
                Some(v) => self.bounds_error(v),
                None => "runtime error: index out of range".into(),
            },
            ("*errors.errorString", _) | ("*fmt.wrapError", _) | ("*fmt.wrapErrors", _) => {
                self.read_string(data).unwrap_or_else(|| nm.clone())
            }
            (_, KIND_STRING) => {
                let s = val.and_then(|v| self.read_string(v)).unwrap_or_default();
                if name.as_deref().is_some_and(|n| n != "string") {
                    format!("{nm}({s:?})")
                } else {
                    s
                }
            }
            (_, k) if (KIND_INT..=KIND_UINTPTR).contains(&k) => {
                let size = self.mem.read_u64(typ).unwrap_or(8).clamp(1, 8) as usize;
                let raw = if direct {
                    data.get()
                } else {
                    val.and_then(|v| self.mem.read_bytes(v, size).ok())
                        .map(|b| {
                            let mut w = [0u8; 8];
                            w[..b.len()].copy_from_slice(&b);
                            u64::from_le_bytes(w)
                        })
                        .unwrap_or(0)
                };
                let text = if k <= KIND_INT64 {
                    let shift = 64 - 8 * size as u32;
                    (((raw << shift) as i64) >> shift).to_string()
                } else {
                    raw.to_string()
                };
                if matches!(nm.as_str(), "int" | "int64" | "uint" | "uint64" | "uintptr") {
                    text
                } else {
                    format!("{nm}({text})")
                }
            }
            (_, KIND_FLOAT64) => {
                let bits = val.and_then(|v| self.mem.read_u64(v).ok()).unwrap_or(0);
                format!("{:e}", f64::from_bits(bits))
            }
            (_, KIND_BOOL) => {
                let b = val.and_then(|v| self.mem.read_u8(v).ok()).unwrap_or(0);
                (b != 0).to_string()
            }
            (_, KIND_PTR) => {
                // A pointer to a struct whose first field is a string: most error types
                // keep their message there.
                let first = self
                    .ptr_elem(typ)
                    .filter(|e| self.kind(*e) == Some(KIND_STRUCT))
                    .and_then(|_| self.first_string_field(data));
                match first {
                    Some(s) => format!("{nm}{{{s:?}, ...}} (Error() cannot run on a core)"),
                    None => format!("({nm}) {data}"),
                }
            }
            _ => format!("({nm}) {data}"),
        }
    }

    /// The first field of a struct at `p`, when it reads as a plausible string.
    fn first_string_field(&self, p: Addr) -> Option<String> {
        let s = self.read_string(p)?;
        (!s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t')).then_some(s)
    }

    /// runtime.boundsError's message (runtime/error.go boundsErrorFmt).
    fn bounds_error(&self, v: Addr) -> String {
        let x = self.mem.read_u64(v).unwrap_or(0) as i64;
        let y = self.mem.read_u64(v.add(8)).unwrap_or(0) as i64;
        let signed = self.mem.read_u8(v.add(16)).unwrap_or(1) != 0;
        let code = self.mem.read_u8(v.add(17)).unwrap_or(0);
        let xs = if signed || x >= 0 {
            x.to_string()
        } else {
            (x as u64).to_string()
        };
        let msg = match code {
            0 => format!("index out of range [{xs}] with length {y}"),
            1 => format!("slice bounds out of range [:{xs}] with length {y}"),
            2 => format!("slice bounds out of range [:{xs}] with capacity {y}"),
            3 => format!("slice bounds out of range [{xs}:{y}]"),
            4 => format!("slice bounds out of range [::{xs}] with length {y}"),
            5 => format!("slice bounds out of range [::{xs}] with capacity {y}"),
            6 => format!("slice bounds out of range [:{xs}:{y}]"),
            7 => format!("slice bounds out of range [{xs}:{y}:]"),
            8 => format!("cannot convert slice with length {xs} to array or pointer to array with length {y}"),
            _ => format!("index out of range [{xs}]"),
        };
        format!("runtime error: {msg}")
    }
}
