//! Variables as Delve's DAP server presents them (`convertVariableWithOpts`,
//! `childrenToDAPVariables`, `metadataToDAPVariables`): the one-line value with short
//! types, a `variablesReference` handle for anything with children, children loaded
//! lazily (reloaded from memory when the first load stopped at a limit), paging for
//! arrays, slices and maps, and `len()` / `string()` pseudo-children.

use crate::vars::format;
use crate::vars::load::Loader;
use crate::vars::{Kind, LoadConfig, Var};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Delve's DAP load limits (`DefaultLoadConfig` in service/dap).
pub const DAP_LOAD: LoadConfig = LoadConfig {
    follow_pointers: true,
    max_variable_recurse: 1,
    max_string_len: 512,
    max_array_values: 64,
    max_struct_fields: -1,
};
/// Values of compound variables are cut here (Delve's maxVarValueLen).
const MAX_VALUE_LEN: usize = 256;
/// Map keys used as names are cut here (maxMapKeyValueLen).
const MAX_KEY_LEN: usize = 64;
/// The most elements one paged variables request may ask for.
const MAX_PAGE: i64 = 1 << 16;
/// Handles start here, as Delve's do (small numbers are easy to mistake for counts).
const FIRST_HANDLE: i64 = 1000;

/// A value the client may expand.
#[derive(Debug, Clone)]
pub struct VarRef {
    pub var: Var,
    /// The expression that names it (Delve's fullyQualifiedNameOrExpr).
    pub expr: String,
    /// A scope (Locals, Globals): children are named by their own names.
    pub scope: bool,
    /// Index of the first child (paged requests).
    pub start: i64,
    /// The goroutine and frame it was read in (setVariable writes there).
    pub frame: Option<(u64, usize)>,
}

/// Handles of one stop: frames, variables, memory references. All are invalid once
/// the target resumes (Delve resets them on every stopped event).
#[derive(Default)]
pub struct Refs {
    frames: Vec<(u64, usize)>,
    vars: Vec<VarRef>,
    /// memoryReference -> (address, length).
    pub mem: HashMap<String, (u64, i64)>,
}

impl Refs {
    pub fn reset(&mut self) {
        self.frames.clear();
        self.vars.clear();
        self.mem.clear();
    }
    pub fn frame(&mut self, goid: u64, n: usize) -> i64 {
        self.frames.push((goid, n));
        FIRST_HANDLE + self.frames.len() as i64 - 1
    }
    pub fn get_frame(&self, id: i64) -> Option<(u64, usize)> {
        let i = usize::try_from(id.checked_sub(FIRST_HANDLE)?).ok()?;
        self.frames.get(i).copied()
    }
    pub fn var(&mut self, r: VarRef) -> i64 {
        self.vars.push(r);
        FIRST_HANDLE + self.vars.len() as i64 - 1
    }
    pub fn get_var(&self, id: i64) -> Option<&VarRef> {
        let i = usize::try_from(id.checked_sub(FIRST_HANDLE)?).ok()?;
        self.vars.get(i)
    }
}

/// Conversion context: the loader for reloads, and what the client supports.
pub struct Conv<'a> {
    pub loader: Option<&'a Loader<'a>>,
    pub cfg: LoadConfig,
    /// The client sets supportsVariableType: send `type`.
    pub types: bool,
    /// The goroutine and frame the values come from, inherited by their handles.
    pub frame: Option<(u64, usize)>,
}

/// Delve's `api.ShortenType`: drop the directories of package paths with more than
/// one slash (`github.com/a/b.T` -> `b.T`), inside pointers, slices, maps, generics.
pub fn shorten_type(t: &str) -> String {
    shorten(t).unwrap_or_else(|| t.to_string())
}

fn shorten(t: &str) -> Option<String> {
    if let Some(rest) = t.strip_prefix("map[") {
        let mut depth = 1;
        for (i, c) in rest.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        let k = shorten(rest.get(..i)?)?;
                        let v = shorten(rest.get(i + 1..)?)?;
                        return Some(format!("map[{k}]{v}"));
                    }
                }
                _ => {}
            }
        }
        return None;
    }
    if t.starts_with('[') {
        let i = t.find(']')?;
        return Some(format!("{}{}", t.get(..=i)?, shorten(t.get(i + 1..)?)?));
    }
    if let Some(rest) = t.strip_prefix('*') {
        return Some(format!("*{}", shorten(rest)?));
    }
    if matches!(t, "interface {}" | "interface{}" | "struct {}" | "struct{}") {
        return Some(t.to_string());
    }
    for thing in [
        "interface {",
        "interface{",
        "struct {",
        "struct{",
        "func (",
        "func(",
    ] {
        if let Some(i) = t.find(thing) {
            if t[i + thing.len()..]
                .chars()
                .next()
                .is_some_and(|c| c != '}' && c != ')')
            {
                return None;
            }
        }
    }
    if let Some(lb) = t.find('[') {
        if !t.ends_with(']') {
            return None;
        }
        let base = shorten(t.get(..lb)?)?;
        let args: Option<Vec<String>> = t
            .get(lb + 1..t.len() - 1)?
            .split(',')
            .map(|a| shorten(a.trim()))
            .collect();
        return Some(format!("{base}[{}]", args?.join(", ")));
    }
    let ok = |c: char| c.is_alphanumeric() || "_./@%-".contains(c);
    if !t.chars().all(ok) {
        return None;
    }
    let slashes = t.matches('/').count();
    match t.rfind('/') {
        Some(i) if slashes > 1 => Some(t[i + 1..].to_string()),
        _ => Some(t.to_string()),
    }
}

fn shortened(v: &Var) -> Var {
    let mut c = v.clone();
    fn walk(v: &mut Var) {
        v.ty = shorten_type(&v.ty);
        for c in v.children.iter_mut() {
            walk(c);
        }
    }
    walk(&mut c);
    c
}

/// The one-line value Delve's DAP shows (`formatVar`).
pub fn value_text(v: &Var) -> String {
    format::singleline(&shortened(v))
}

/// Delve's `getTypeIfSupported`: an interface shows its dynamic type too.
pub fn type_text(v: &Var) -> String {
    if v.ty.is_empty() && v.kind != Kind::Invalid && !is_compound(v.kind) {
        // A computed value (`len(x)`, `a > b`): the kind names its type.
        return serde_json::to_value(v.kind)
            .ok()
            .and_then(|k| k.as_str().map(str::to_string))
            .unwrap_or_default();
    }
    if v.kind == Kind::Interface {
        if let Some(d) = v.children.first().filter(|d| d.kind != Kind::Invalid) {
            return format!("{}({})", v.ty, d.ty);
        }
    }
    v.ty.clone()
}

/// Delve's ExtractIntValue: `Name (5)` -> `5`.
fn int_part(s: &str) -> &str {
    match (s.rfind(" ("), s.ends_with(')')) {
        (Some(i), true) => &s[i + 2..s.len() - 1],
        _ => s,
    }
}

fn is_compound(k: Kind) -> bool {
    matches!(
        k,
        Kind::Struct
            | Kind::Ptr
            | Kind::Interface
            | Kind::Slice
            | Kind::Array
            | Kind::Map
            | Kind::Chan
            | Kind::Func
            | Kind::String
    )
}

pub fn indexed_count(v: &Var) -> i64 {
    match v.kind {
        Kind::Array | Kind::Slice | Kind::Map => v.len,
        _ => 0,
    }
}

fn is_bytes_or_runes(v: &Var) -> bool {
    matches!(v.kind, Kind::Array | Kind::Slice)
        && v.children
            .first()
            .is_some_and(|c| matches!(c.kind, Kind::Uint8 | Kind::Int32))
}

pub fn named_count(v: &Var) -> i64 {
    i64::from(v.kind == Kind::Map && v.len > 0) + i64::from(is_bytes_or_runes(v))
}

/// A variable's DAP fields besides its name: value, type, handle, counts.
pub fn fields(v: &Var, value: String, reference: i64, types: bool) -> Value {
    let mut o = json!({ "value": value, "variablesReference": reference });
    if types {
        o["type"] = json!(type_text(v));
    }
    let (ix, named) = (indexed_count(v), named_count(v));
    if ix > 0 {
        o["indexedVariables"] = json!(ix);
    }
    if named > 0 {
        o["namedVariables"] = json!(named);
    }
    o
}

impl Conv<'_> {
    /// Load `v` again from memory under the DAP limits (its first load stopped at a
    /// recursion or size limit). `Err(None)`: nothing to reload it from.
    fn reload(&self, v: &mut Var) -> Result<(), Option<String>> {
        let Some(l) = self.loader else {
            return Err(None);
        };
        if let (Some(ty), true) = (v.type_id, v.addr != 0) {
            let mut n = l.var_at(&v.name, v.addr, ty);
            l.load(&mut n, 0, &self.cfg);
            if !n.unreadable.is_empty() {
                return Err(Some(n.unreadable));
            }
            *v = n;
            return Ok(());
        }
        // `&x`: no address of its own; load what it points to.
        if v.kind == Kind::Ptr {
            if let Some(c) = v.children.first_mut() {
                if let (Some(ty), true) = (c.type_id, c.addr != 0) {
                    let mut n = l.var_at(&c.name, c.addr, ty);
                    l.load(&mut n, 0, &self.cfg);
                    if !n.unreadable.is_empty() {
                        return Err(Some(n.unreadable));
                    }
                    *c = n;
                    return Ok(());
                }
            }
        }
        Err(None)
    }

    /// Delve's `convertVariableWithOpts`: the value text and, for a value with
    /// children, a new handle. `full`: do not cut long values.
    pub fn convert(&self, refs: &mut Refs, v: &mut Var, expr: &str, full: bool) -> (String, i64) {
        if !v.unreadable.is_empty() {
            return (value_text(v), 0);
        }
        // Children missing because the first load stopped at a limit.
        let missing = match v.kind {
            Kind::Ptr | Kind::Interface => v
                .children
                .first()
                .is_some_and(|c| c.only_addr && c.addr != 0),
            Kind::Map => v.children.is_empty() && v.len > 0 && v.base != 0,
            Kind::Slice | Kind::Array => {
                v.children.is_empty() && v.len > 0 && (v.base != 0 || v.addr != 0)
            }
            Kind::Struct | Kind::Func => v.children.is_empty() && v.len > 0,
            _ => false,
        };
        let failed = if missing {
            self.reload(v).err().flatten()
        } else {
            None
        };
        if matches!(v.kind, Kind::Complex64 | Kind::Complex128) {
            // Delve types the parts float32/float64.
            let part = if v.kind == Kind::Complex64 {
                "float32"
            } else {
                "float64"
            };
            for c in v.children.iter_mut().filter(|c| c.ty.is_empty()) {
                c.ty = part.into();
            }
        }
        let mut value = value_text(v);
        if let Some(f) = failed {
            value.push_str(&format!(" - FAILED TO LOAD: {f}"));
        }
        let has_children = match v.kind {
            k if k.is_uint() => {
                if let Ok(n) = int_part(&v.value).parse::<u64>() {
                    value = format!("{value} = {n:#x}");
                }
                false
            }
            Kind::UnsafePointer | Kind::String => false,
            Kind::Ptr => v
                .children
                .first()
                .is_some_and(|c| c.addr != 0 && c.kind != Kind::Invalid && !c.only_addr),
            Kind::Slice | Kind::Map => v.base != 0 && !v.children.is_empty(),
            Kind::Interface => {
                v.addr != 0
                    && v.children
                        .first()
                        .is_some_and(|c| c.kind != Kind::Invalid && c.addr != 0 && !c.only_addr)
            }
            _ => !v.children.is_empty(),
        };
        let mut reference = 0;
        if has_children {
            reference = refs.var(VarRef {
                var: v.clone(),
                expr: expr.to_string(),
                scope: false,
                start: 0,
                frame: self.frame,
            });
            if !full && value.len() > MAX_VALUE_LEN {
                let mut cut = MAX_VALUE_LEN;
                while !value.is_char_boundary(cut) {
                    cut -= 1;
                }
                value.truncate(cut);
                value.push_str("...");
            }
        }
        (value, reference)
    }

    /// `len()` of a map and `string()` of a byte or rune list.
    fn metadata(&self, r: &VarRef) -> Vec<Value> {
        let v = &r.var;
        let mut out = Vec::new();
        if v.kind == Kind::Map && v.len > 0 {
            let mut m = json!({
                "name": "len()", "value": v.len.to_string(),
                "evaluateName": format!("len({})", r.expr), "variablesReference": 0,
            });
            if self.types {
                m["type"] = json!("int");
            }
            out.push(m);
        }
        if is_bytes_or_runes(v) && v.addr != 0 {
            // Load up to max-string-len elements, as Delve does for string().
            let mut full = v.clone();
            if let (Some(l), Some(ty)) = (self.loader, v.type_id) {
                let cfg = LoadConfig {
                    max_array_values: self.cfg.max_string_len,
                    ..self.cfg
                };
                let mut n = l.var_at(&v.name, v.addr, ty);
                l.load(&mut n, 0, &cfg);
                if n.unreadable.is_empty() {
                    full = n;
                }
            }
            let runes = full.children.first().is_some_and(|c| c.kind == Kind::Int32);
            let text: String = if runes {
                full.children
                    .iter()
                    .filter_map(|c| c.value.parse::<u32>().ok().and_then(char::from_u32))
                    .collect()
            } else {
                let bytes: Vec<u8> = full
                    .children
                    .iter()
                    .filter_map(|c| int_part(&c.value).parse::<u8>().ok())
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let mut m = json!({
                "name": "string()", "value": format::go_quote(&text), "variablesReference": 0,
            });
            if self.types {
                m["type"] = json!("string");
            }
            out.push(m);
        }
        out
    }

    /// The page of `r` a paged request asks for (`start`, `count` elements).
    pub fn page(&self, r: &VarRef, start: i64, count: i64) -> VarRef {
        let pairs = if r.var.kind == Kind::Map { 2 } else { 1 };
        let loaded = r.var.children.len() as i64;
        let (start, count) = (start.max(0), count.clamp(0, MAX_PAGE));
        if start == 0 && count * pairs == loaded {
            return r.clone();
        }
        let mut v = r.var.clone();
        if let (Some(l), Some(ty)) = (self.loader, v.type_id) {
            let cfg = LoadConfig {
                max_array_values: start.saturating_add(count),
                ..self.cfg
            };
            let mut n = l.var_at(&v.name, v.addr, ty);
            l.load(&mut n, 0, &cfg);
            if n.unreadable.is_empty() {
                v = n;
            }
        }
        let from = usize::try_from(start * pairs).unwrap_or(usize::MAX);
        let to = usize::try_from((start + count) * pairs).unwrap_or(usize::MAX);
        v.children = v
            .children
            .get(from.min(v.children.len())..to.min(v.children.len()))
            .unwrap_or_default()
            .to_vec();
        VarRef {
            var: v,
            expr: r.expr.clone(),
            scope: r.scope,
            start,
            frame: r.frame,
        }
    }

    /// The `variables` answer for `r`: named pseudo-children and/or indexed children.
    pub fn variables(&self, refs: &mut Refs, r: &VarRef, filter: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if filter != "indexed" {
            out.extend(self.metadata(r));
        }
        if filter != "named" {
            out.extend(self.children(refs, r));
        }
        out
    }

    fn children(&self, refs: &mut Refs, r: &VarRef) -> Vec<Value> {
        let v = &r.var;
        let mut out = Vec::new();
        match v.kind {
            Kind::Map => {
                for (i, kv) in v.children.chunks(2).enumerate() {
                    let [k, val] = kv else { continue };
                    let (mut k, mut val) = (k.clone(), val.clone());
                    let n = r.start + i as i64;
                    let key_expr = format!("(*(*{:?})({:#x}))", k.ty, k.addr);
                    let val_expr = if k.kind.is_int()
                        || k.kind.is_uint()
                        || k.kind.is_float()
                        || k.kind == Kind::Bool
                    {
                        format!("{}[{}]", r.expr, k.value)
                    } else if k.kind == Kind::String
                        && k.unreadable.is_empty()
                        && k.len as usize == k.value.len()
                    {
                        format!("{}[{}]", r.expr, format::go_quote(&k.value))
                    } else {
                        format!("{}[{key_expr}]", r.expr)
                    };
                    let (kt, vt) = (type_text(&k), type_text(&val));
                    let (key, kref) = self.convert(refs, &mut k, &key_expr, false);
                    let (value, vref) = self.convert(refs, &mut val, &val_expr, false);
                    if kref > 0 && vref > 0 {
                        let mut a = fields(&k, key, kref, self.types);
                        a["name"] = json!(format!("[key {n}]"));
                        a["evaluateName"] = json!(key_expr);
                        let mut b = fields(&val, value, vref, self.types);
                        b["name"] = json!(format!("[val {n}]"));
                        b["evaluateName"] = json!(val_expr);
                        out.push(a);
                        out.push(b);
                        continue;
                    }
                    let mut name = key.clone();
                    let (reference, of) = if kref > 0 {
                        if key.len() > MAX_KEY_LEN {
                            let mut cut = MAX_KEY_LEN;
                            while !key.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            name = format!("{}... @ {:#x}", &key[..cut], k.addr);
                        }
                        (kref, &k)
                    } else {
                        (vref, &val)
                    };
                    let mut e = json!({
                        "name": name, "value": value, "evaluateName": val_expr,
                        "variablesReference": reference,
                    });
                    if self.types {
                        e["type"] = json!(if kt.is_empty() || vt.is_empty() {
                            vt
                        } else {
                            format!("{kt}: {vt}")
                        });
                    }
                    if reference > 0 {
                        if indexed_count(of) > 0 {
                            e["indexedVariables"] = json!(indexed_count(of));
                        }
                        if named_count(of) > 0 {
                            e["namedVariables"] = json!(named_count(of));
                        }
                    }
                    out.push(e);
                }
            }
            Kind::Slice | Kind::Array => {
                for (i, c) in v.children.iter().enumerate() {
                    let idx = r.start + i as i64;
                    let expr = format!("{}[{idx}]", r.expr);
                    let mut c = c.clone();
                    let (value, reference) = self.convert(refs, &mut c, &expr, false);
                    let mut e = fields(&c, value, reference, self.types);
                    e["name"] = json!(format!("[{idx}]"));
                    e["evaluateName"] = json!(expr);
                    out.push(e);
                }
            }
            _ => {
                for c in &v.children {
                    let expr = if c.name.starts_with('~') || c.name.starts_with('.') {
                        String::new()
                    } else if r.scope && r.expr.is_empty() {
                        c.name.clone()
                    } else if r.expr.is_empty() {
                        String::new()
                    } else {
                        match v.kind {
                            Kind::Interface => format!("{}.({})", r.expr, c.name),
                            Kind::Ptr => format!("(*{})", r.expr),
                            Kind::Complex64 | Kind::Complex128 => String::new(),
                            _ => format!("{}.{}", r.expr, c.name),
                        }
                    };
                    let mut c = c.clone();
                    let (value, reference) = self.convert(refs, &mut c, &expr, false);
                    let mut e = fields(&c, value, reference, self.types);
                    e["name"] = json!(c.name);
                    if !expr.is_empty() {
                        e["evaluateName"] = json!(expr);
                    }
                    if let Some(m) = memory_reference(refs, &c) {
                        e["memoryReference"] = json!(m);
                    }
                    out.push(e);
                }
            }
        }
        out
    }
}

/// Strings and slices can be read with readMemory: their data, `len` bytes.
fn memory_reference(refs: &mut Refs, v: &Var) -> Option<String> {
    if !v.unreadable.is_empty() || !matches!(v.kind, Kind::Slice | Kind::String) {
        return None;
    }
    let addr = if v.base != 0 { v.base } else { v.addr };
    if addr == 0 {
        return None;
    }
    let r = format!("{addr:#x}");
    refs.mem.insert(r.clone(), (addr, v.len));
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_shorten_as_delve() {
        assert_eq!(shorten_type("main.Inner"), "main.Inner");
        assert_eq!(shorten_type("*github.com/a/b.T"), "*b.T");
        assert_eq!(
            shorten_type("map[string]github.com/a/b.T"),
            "map[string]b.T"
        );
        assert_eq!(shorten_type("[]example.com/x/y.Z"), "[]y.Z");
        assert_eq!(shorten_type("struct { a int }"), "struct { a int }");
    }
}
