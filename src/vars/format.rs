//! Values printed exactly as Delve's terminal prints them (service/api prettyprint
//! behaviour): `print` is multi-line with types, `locals`/`args` single-line.

use super::{Kind, Var};
use std::fmt::Write;

/// Strings at most this long keep arrays and structs on one line.
const MAX_SHORT_STRING_LEN: usize = 7;
const INDENT: &str = "\t";

#[derive(Clone, Copy)]
struct Flags {
    top: bool,
    newlines: bool,
    include_type: bool,
}

/// `print` output (without the trailing newline).
pub fn multiline(v: &Var) -> String {
    let mut s = String::new();
    write_var(
        &mut s,
        v,
        Flags {
            top: true,
            newlines: true,
            include_type: true,
        },
        "",
    );
    s
}

/// `locals`/`args` output for one value.
pub fn singleline(v: &Var) -> String {
    let mut s = String::new();
    write_var(
        &mut s,
        v,
        Flags {
            top: true,
            newlines: false,
            include_type: true,
        },
        "",
    );
    s
}

/// Go's %q.
pub fn go_quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            // A byte of invalid UTF-8, as the loader keeps it (load::RAW_BYTE).
            c if (c as u32) >= super::load::RAW_BYTE => {
                let _ = write!(o, "\\x{:02x}", c as u32 - super::load::RAW_BYTE);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn write_var(b: &mut String, v: &Var, f: Flags, indent: &str) {
    if !v.unreadable.is_empty() {
        let _ = write!(b, "(unreadable {})", v.unreadable);
        return;
    }
    if !f.top && v.addr == 0 && v.value.is_empty() {
        if f.include_type && v.ty != "void" {
            let _ = write!(b, "{} nil", v.ty);
        } else {
            b.push_str("nil");
        }
        return;
    }
    match v.kind {
        Kind::Slice => {
            if f.include_type {
                let _ = write!(b, "{} len: {}, cap: {}, ", v.ty, v.len, v.cap);
            }
            if v.base == 0 && v.children.is_empty() {
                b.push_str("nil");
                return;
            }
            write_elems(b, v, f, indent);
        }
        Kind::Array => {
            if f.include_type {
                let _ = write!(b, "{} ", v.ty);
            }
            write_elems(b, v, f, indent);
        }
        Kind::Ptr => match v.children.first() {
            None => b.push_str("nil"),
            Some(c) if v.ty.is_empty() => {
                let _ = c;
                b.push_str("nil")
            }
            Some(c) if c.only_addr && c.addr != 0 => write_pointer(b, v, c),
            Some(c) => {
                // Delve 1.27 heads a multi-line top-level pointer with its address.
                if f.top && f.newlines && c.addr != 0 {
                    write_pointer(b, v, c);
                    b.push('\n');
                }
                b.push('*');
                write_var(b, c, Flags { top: false, ..f }, indent);
            }
        },
        Kind::UnsafePointer => match v.children.first() {
            None => b.push_str("unsafe.Pointer(nil)"),
            Some(c) => {
                let _ = write!(b, "unsafe.Pointer({:#x})", c.addr);
            }
        },
        Kind::Chan => {
            if f.newlines {
                write_struct(b, v, f, indent);
            } else if v.children.len() < 2 {
                let _ = write!(b, "{} nil", v.ty);
            } else {
                let q = v.children.first().map_or("", |c| c.value.as_str());
                let d = v.children.get(1).map_or("", |c| c.value.as_str());
                let _ = write!(b, "{} {q}/{d}", v.ty);
            }
        }
        Kind::Struct => {
            let mut f = f;
            if !v.value.is_empty() {
                let _ = write!(b, "{}({})", v.ty, v.value);
                f.include_type = false;
            }
            write_struct(b, v, f, indent);
        }
        Kind::Interface => write_iface(b, v, f, indent),
        Kind::Map => write_map(b, v, f, indent),
        Kind::Func => {
            if v.value.is_empty() {
                b.push_str("nil");
            } else {
                b.push_str(&v.value);
                // A closure's captured variables, one per line, with their types.
                if f.newlines && !v.children.is_empty() {
                    let inner = format!("{indent}{INDENT}");
                    b.push_str(" {\n");
                    for c in &v.children {
                        let _ = write!(b, "{inner}{} {} = ", c.name, c.ty);
                        write_var(
                            b,
                            c,
                            Flags {
                                top: false,
                                newlines: true,
                                include_type: f.include_type,
                            },
                            &inner,
                        );
                        b.push('\n');
                    }
                    let _ = write!(b, "{indent}}}");
                }
            }
        }
        _ => write_basic(b, v),
    }
}

fn write_pointer(b: &mut String, v: &Var, c: &Var) {
    if v.ty.contains('/') {
        let _ = write!(b, "({})({:#x})", go_quote(&v.ty), c.addr);
    } else {
        let _ = write!(b, "({})({:#x})", v.ty, c.addr);
    }
}

fn write_iface(b: &mut String, v: &Var, f: Flags, indent: &str) {
    if v.addr == 0 {
        b.push_str("nil");
        return;
    }
    let Some(data) = v.children.first() else {
        b.push_str("nil");
        return;
    };
    if !f.include_type && data.kind == Kind::Invalid && data.addr == 0 {
        b.push_str("nil");
        return;
    }
    if f.include_type {
        if data.kind == Kind::Invalid {
            let _ = write!(b, "{} ", v.ty);
            if data.addr == 0 {
                b.push_str("nil");
                return;
            }
        } else {
            let _ = write!(b, "{}({}) ", v.ty, data.ty);
        }
    }
    let child_flags = Flags {
        top: false,
        newlines: f.newlines,
        include_type: !f.include_type,
    };
    if data.kind == Kind::Ptr {
        match data.children.first() {
            None => b.push_str("..."),
            Some(c) if c.addr == 0 => b.push_str("nil"),
            Some(c) if c.only_addr => {
                let _ = write!(b, "0x{:x}", data.addr);
            }
            Some(_) => write_var(b, data, child_flags, indent),
        }
    } else if data.only_addr {
        if v.ty.contains('/') {
            let _ = write!(b, "*(*{})({:#x})", go_quote(&v.ty), v.addr);
        } else {
            let _ = write!(b, "*(*{})({:#x})", v.ty, v.addr);
        }
    } else {
        write_var(b, data, child_flags, indent);
    }
}

fn write_basic(b: &mut String, v: &Var) {
    if v.value.is_empty() && v.kind != Kind::String {
        let _ = write!(b, "(unknown {})", kind_name(v.kind));
        return;
    }
    if v.kind == Kind::String {
        let mut s = v.value.clone();
        // Delve compares the loaded byte count with the string's length; `cap` holds
        // the loaded byte count for strings.
        let loaded = if v.cap > 0 { v.cap } else { s.len() as i64 };
        if loaded != v.len {
            let _ = write!(s, "...+{} more", v.len - loaded);
        }
        b.push_str(&go_quote(&s));
        return;
    }
    b.push_str(&v.value);
}

fn kind_name(k: Kind) -> String {
    format!("{k:?}").to_lowercase()
}

/// Kind after following pointers, and whether a pointer was crossed.
fn recursive_kind(v: &Var) -> (Kind, bool) {
    let mut cur = v;
    let mut hasptr = false;
    for _ in 0..64 {
        if cur.kind != Kind::Ptr {
            break;
        }
        hasptr = true;
        match cur.children.first() {
            Some(c) => cur = c,
            None => return (Kind::Ptr, true),
        }
    }
    (cur.kind, hasptr)
}

fn newline_array(v: &Var, newlines: bool) -> bool {
    if !newlines || v.children.is_empty() {
        return false;
    }
    let (kind, hasptr) = v
        .children
        .first()
        .map_or((Kind::Invalid, false), recursive_kind);
    match kind {
        Kind::Slice | Kind::Array | Kind::Struct | Kind::Map | Kind::Interface => true,
        Kind::String => {
            hasptr
                || v.children
                    .iter()
                    .any(|c| c.value.len() > MAX_SHORT_STRING_LEN)
        }
        _ => false,
    }
}

fn newline_struct(v: &Var, newlines: bool) -> bool {
    if !newlines || v.children.is_empty() {
        return false;
    }
    v.children.iter().any(|c| {
        let (kind, hasptr) = recursive_kind(c);
        match kind {
            Kind::Slice | Kind::Array | Kind::Struct | Kind::Map | Kind::Interface => true,
            Kind::String => hasptr || c.value.len() > MAX_SHORT_STRING_LEN,
            _ => false,
        }
    })
}

fn write_elems(b: &mut String, v: &Var, f: Flags, indent: &str) {
    let nl = newline_array(v, f.newlines);
    let inner = format!("{indent}{INDENT}");
    b.push('[');
    let n = v.children.len();
    for (i, c) in v.children.iter().enumerate() {
        if nl {
            let _ = write!(b, "\n{inner}");
        }
        write_var(
            b,
            c,
            Flags {
                top: false,
                newlines: nl,
                include_type: false,
            },
            &inner,
        );
        if i + 1 != n || nl {
            b.push(',');
        }
    }
    if n as i64 != v.len {
        if n != 0 {
            if nl {
                let _ = write!(b, "\n{inner}");
            } else {
                b.push(',');
            }
            let _ = write!(b, "...+{} more", v.len - n as i64);
        } else {
            b.push_str("...");
        }
    }
    if nl {
        let _ = write!(b, "\n{indent}");
    }
    b.push(']');
}

fn write_struct(b: &mut String, v: &Var, f: Flags, indent: &str) {
    if v.len as usize != v.children.len() && v.children.is_empty() {
        if v.ty.contains('/') {
            let _ = write!(b, "(*{})({:#x})", go_quote(&v.ty), v.addr);
        } else {
            let _ = write!(b, "(*{})({:#x})", v.ty, v.addr);
        }
        return;
    }
    if f.include_type {
        let _ = write!(b, "{} ", v.ty);
    }
    let nl = newline_struct(v, f.newlines);
    let inner = format!("{indent}{INDENT}");
    b.push('{');
    let n = v.children.len();
    for (i, c) in v.children.iter().enumerate() {
        if nl {
            let _ = write!(b, "\n{inner}");
        }
        let _ = write!(b, "{}: ", c.name);
        write_var(
            b,
            c,
            Flags {
                top: false,
                newlines: nl,
                include_type: true,
            },
            &inner,
        );
        if i + 1 != n || nl {
            b.push(',');
            if !nl {
                b.push(' ');
            }
        }
    }
    if n as i64 != v.len {
        if nl {
            let _ = write!(b, "\n{inner}");
        } else {
            b.push(',');
        }
        let _ = write!(b, "...+{} more", v.len - n as i64);
    }
    b.push('}');
}

fn write_map(b: &mut String, v: &Var, f: Flags, indent: &str) {
    if f.include_type {
        let _ = write!(b, "{} ", v.ty);
    }
    if v.base == 0 && v.children.is_empty() {
        b.push_str("nil");
        return;
    }
    let nl = f.newlines && !v.children.is_empty();
    let inner = format!("{indent}{INDENT}");
    b.push('[');
    let n = v.children.len();
    let mut i = 0;
    while i + 1 < n {
        if nl {
            let _ = write!(b, "\n{inner}");
        }
        if let (Some(k), Some(val)) = (v.children.get(i), v.children.get(i + 1)) {
            write_var(
                b,
                k,
                Flags {
                    top: false,
                    newlines: false,
                    include_type: false,
                },
                &inner,
            );
            b.push_str(": ");
            write_var(
                b,
                val,
                Flags {
                    top: false,
                    newlines: nl,
                    include_type: false,
                },
                &inner,
            );
        }
        // Delve compares the key's index with the last child's (`i != len-1`),
        // which never holds, so every entry is followed by ", " ("[a: 1, b: 2, ]").
        b.push_str(", ");
        i += 2;
    }
    if (n / 2) as i64 != v.len {
        if n != 0 {
            if nl {
                let _ = write!(b, "\n{inner}");
            } else {
                b.push(',');
            }
            let _ = write!(b, "...+{} more", v.len - (n / 2) as i64);
        } else {
            b.push_str("...");
        }
    }
    if nl {
        let _ = write!(b, "\n{indent}");
    }
    b.push(']');
}

/// `--json`: a value as a structured tree. Every node has `name`, `type`, `kind`
/// and `text` (Delve's one-line rendering); `value` for scalars, strings and funcs;
/// `address` when it has one in memory; `len`/`cap` for sized kinds; `unreadable`
/// with the reason; `children` (map entries as `{key, value}` pairs).
pub fn tree(v: &Var) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut o = Map::new();
    o.insert("name".into(), json!(v.name));
    o.insert("type".into(), json!(v.ty));
    o.insert(
        "kind".into(),
        serde_json::to_value(v.kind).unwrap_or(Value::Null),
    );
    if !v.unreadable.is_empty() {
        o.insert("unreadable".into(), json!(v.unreadable));
        return Value::Object(o);
    }
    // Register-held values live at synthetic addresses: no address to report.
    if v.addr != 0 && v.addr < super::location::SYNTHETIC_BASE && !v.only_addr {
        o.insert("address".into(), json!(format!("{:#x}", v.addr)));
    }
    if v.only_addr {
        o.insert("address".into(), json!(format!("{:#x}", v.addr)));
        o.insert("loaded".into(), json!(false));
    }
    if !v.value.is_empty() {
        o.insert("value".into(), json!(v.value));
    }
    if matches!(v.kind, Kind::String | Kind::Slice | Kind::Array | Kind::Map) {
        o.insert("len".into(), json!(v.len));
        if v.kind != Kind::String && v.kind != Kind::Map {
            o.insert("cap".into(), json!(v.cap));
        }
    }
    if v.kind == Kind::Chan {
        // Buffered elements and buffer size, from the hchan's fields.
        let field = |n: &str| {
            v.children
                .iter()
                .find(|c| c.name == n)
                .and_then(|c| c.value.parse::<i64>().ok())
        };
        if let (Some(q), Some(d)) = (field("qcount"), field("dataqsiz")) {
            o.insert("len".into(), json!(q));
            o.insert("cap".into(), json!(d));
        }
    }
    o.insert("text".into(), json!(singleline(v)));
    let nil_ptr = matches!(v.kind, Kind::Ptr | Kind::UnsafePointer)
        && v.children.first().is_none_or(|c| c.addr == 0);
    if nil_ptr {
        o.insert("nil".into(), json!(true));
        return Value::Object(o);
    }
    let children: Vec<Value> = if v.kind == Kind::Map {
        v.children
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, val] => Some(json!({ "key": tree(k), "value": tree(val) })),
                _ => None,
            })
            .collect()
    } else {
        v.children.iter().map(tree).collect()
    };
    if !children.is_empty() {
        o.insert("children".into(), Value::Array(children));
    }
    Value::Object(o)
}
