//! Delve's subset of Go expressions: identifiers from the frame, package variables
//! (`main.x`, `"net/http".DefaultClient`), field selection through pointers, index and
//! slice of arrays, slices, strings and maps, `*p`, `&x`, `(*T)(0xaddr)` casts,
//! arithmetic, comparison and logical operators, `len` and `cap`.

use super::load::Loader;
use super::{Kind, LoadConfig, Var, VarError};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Int(i128),
    Float(f64),
    Str(String),
    Op(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Ident(String),
    Int(i128),
    Float(f64),
    Str(String),
    Sel(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    /// `(T)(x)` with T spelled as a type name (`*main.T`, `int`).
    Cast(String, Box<Expr>),
    /// `x.(T)`: a type assertion (T as written, spaces removed).
    Assert(Box<Expr>, String),
}

const OPS: [&str; 24] = [
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "+", "-", "*", "/", "%", "<", ">", "!", "&",
    "(", ")", "[", "]", ":", ",", ".",
];

/// A syntax error where Go's parser (and so Delve) puts it: `1:COLUMN: why`.
fn err(pos: usize, msg: impl std::fmt::Display) -> VarError {
    VarError::Expr(format!("1:{}: {msg}", pos + 1))
}

/// Go's parser names the token it did not expect: `'EOF'`, `')'`, `'IDENT' x`.
fn found(t: Option<&Tok>) -> String {
    match t {
        None => "found 'EOF'".into(),
        Some(Tok::Op(o)) => format!("found '{o}'"),
        Some(Tok::Ident(i)) => format!("found 'IDENT' {i}"),
        Some(Tok::Int(n)) => format!("found 'INT' {n}"),
        Some(Tok::Float(f)) => format!("found 'FLOAT' {f}"),
        Some(Tok::Str(x)) => format!("found 'STRING' {x:?}"),
    }
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, VarError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while let Some(&c) = b.get(i) {
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            while b
                .get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'_')
            {
                i += 1;
            }
            let t = src.get(start..i).unwrap_or("").replace('_', "");
            let tok = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Tok::Int(i128::from_str_radix(h, 16).map_err(|e| err(start, e))?)
            } else if t.contains('.') || t.contains('e') {
                Tok::Float(t.parse().map_err(|e| err(start, e))?)
            } else {
                Tok::Int(t.parse().map_err(|e| err(start, e))?)
            };
            out.push((start, tok));
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'~' || c >= 0x80 {
            while b.get(i).is_some_and(|c| {
                c.is_ascii_alphanumeric() || *c == b'_' || *c == b'~' || *c >= 0x80
            }) {
                i += 1;
            }
            out.push((
                start,
                Tok::Ident(src.get(start..i).unwrap_or("").to_string()),
            ));
        } else if c == b'"' {
            i += 1;
            let mut s = String::new();
            loop {
                match b.get(i) {
                    None => return Err(err(start, "unterminated string literal")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let e = b.get(i + 1).copied().ok_or_else(|| err(i, "bad escape"))?;
                        s.push(match e {
                            b'n' => '\n',
                            b't' => '\t',
                            other => other as char,
                        });
                        i += 2;
                    }
                    Some(_) => {
                        let ch = src.get(i..).and_then(|r| r.chars().next()).unwrap_or('?');
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push((start, Tok::Str(s)));
        } else {
            let rest = src.get(i..).unwrap_or("");
            let op = OPS
                .iter()
                .find(|o| rest.starts_with(**o))
                .ok_or_else(|| err(i, format!("unexpected character {:?}", c as char)))?;
            i += op.len();
            out.push((start, Tok::Op(op)));
        }
    }
    Ok(out)
}

struct Parser<'s> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
    src: &'s str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |t| t.0)
    }
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, op: &str) -> Result<(), VarError> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(err(
                self.at(),
                format!("expected '{op}', {}", found(self.peek())),
            ))
        }
    }

    fn binary(&mut self, prec: u8) -> Result<Expr, VarError> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            let p = match op {
                "||" => 1,
                "&&" => 2,
                "==" | "!=" | "<" | "<=" | ">" | ">=" => 3,
                "+" | "-" => 4,
                "*" | "/" | "%" | "<<" | ">>" | "&" => 5,
                _ => break,
            };
            if p < prec {
                break;
            }
            self.pos += 1;
            let rhs = self.binary(p + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, VarError> {
        for op in ["*", "&", "-", "!"] {
            if self.eat(op) {
                return Ok(Expr::Unary(op, Box::new(self.unary()?)));
            }
        }
        self.postfix()
    }

    /// A type spelled inside `( )` for a cast: `*main.T`, `**T`, `[]byte`, `int`.
    fn type_name(&mut self) -> Option<String> {
        let save = self.pos;
        let mut s = String::new();
        while self.eat("*") {
            s.push('*');
        }
        if self.eat("[") {
            if !self.eat("]") {
                self.pos = save;
                return None;
            }
            s.push_str("[]");
        }
        match self.peek().cloned() {
            Some(Tok::Ident(id)) => {
                self.pos += 1;
                s.push_str(&id);
                while self.eat(".") {
                    match self.peek().cloned() {
                        Some(Tok::Ident(n)) => {
                            self.pos += 1;
                            s.push('.');
                            s.push_str(&n);
                        }
                        _ => {
                            self.pos = save;
                            return None;
                        }
                    }
                }
            }
            _ => {
                self.pos = save;
                return None;
            }
        }
        if matches!(self.peek(), Some(Tok::Op(")"))) {
            Some(s)
        } else {
            self.pos = save;
            None
        }
    }

    fn primary(&mut self) -> Result<Expr, VarError> {
        let at = self.at();
        match self.peek().cloned() {
            Some(Tok::Int(n)) => {
                self.pos += 1;
                Ok(Expr::Int(n))
            }
            Some(Tok::Float(f)) => {
                self.pos += 1;
                Ok(Expr::Float(f))
            }
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(Expr::Str(s))
            }
            Some(Tok::Ident(id)) => {
                self.pos += 1;
                if self.eat("(") {
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.binary(1)?);
                            if self.eat(")") {
                                break;
                            }
                            self.expect(",")?;
                        }
                    }
                    return Ok(Expr::Call(id, args));
                }
                Ok(Expr::Ident(id))
            }
            Some(Tok::Op("(")) => {
                self.pos += 1;
                let save = self.pos;
                if let Some(t) = self.type_name() {
                    self.expect(")")?;
                    if self.eat("(") {
                        let e = self.binary(1)?;
                        self.expect(")")?;
                        return Ok(Expr::Cast(t, Box::new(e)));
                    }
                    self.pos = save;
                }
                let e = self.binary(1)?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Op("[")) => {
                // `[]byte(s)`: a conversion to a slice type.
                if let Some(t) = self.type_name_until("(") {
                    self.expect("(")?;
                    let e = self.binary(1)?;
                    self.expect(")")?;
                    return Ok(Expr::Call(t, vec![e]));
                }
                Err(err(at, format!("expected operand, {}", found(self.peek()))))
            }
            t => Err(err(at, format!("expected operand, {}", found(t.as_ref())))),
        }
    }

    /// The source text of a type up to (not including) the operator `stop` at
    /// bracket depth 0, spaces removed; the position is left on `stop`.
    fn type_name_until(&mut self, stop: &str) -> Option<String> {
        let save = self.pos;
        let start = self.at();
        let mut depth = 0i32;
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Op(o)) if depth == 0 && *o == stop => {
                    let end = self.at();
                    let t: String = self
                        .src
                        .get(start..end)
                        .unwrap_or("")
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect();
                    if t.is_empty() {
                        break;
                    }
                    return Some(t);
                }
                Some(Tok::Op("(" | "[")) => depth += 1,
                Some(Tok::Op(")" | "]")) => {
                    depth -= 1;
                    if depth < 0 {
                        break;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = save;
        None
    }

    fn postfix(&mut self) -> Result<Expr, VarError> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                match self.peek().cloned() {
                    Some(Tok::Ident(n)) => {
                        self.pos += 1;
                        e = Expr::Sel(Box::new(e), n);
                    }
                    Some(Tok::Op("(")) => {
                        self.pos += 1;
                        let t = self.type_name_until(")").ok_or_else(|| {
                            err(self.at(), format!("expected type, {}", found(self.peek())))
                        })?;
                        self.expect(")")?;
                        e = Expr::Assert(Box::new(e), t);
                    }
                    t => {
                        return Err(err(
                            self.at(),
                            format!("expected selector or type assertion, {}", found(t.as_ref())),
                        ))
                    }
                }
            } else if matches!(self.peek(), Some(Tok::Op("("))) && qualified(&e).is_some() {
                // `main.Color(1)`, `unsafe.Pointer(p)`: a conversion to a named type.
                let name = qualified(&e).unwrap_or_default();
                self.pos += 1;
                let arg = self.binary(1)?;
                self.expect(")")?;
                e = Expr::Call(name, vec![arg]);
            } else if self.eat("[") {
                let lo = if matches!(self.peek(), Some(Tok::Op(":"))) {
                    None
                } else {
                    Some(Box::new(self.binary(1)?))
                };
                if self.eat(":") {
                    let hi = if matches!(self.peek(), Some(Tok::Op("]"))) {
                        None
                    } else {
                        Some(Box::new(self.binary(1)?))
                    };
                    self.expect("]")?;
                    e = Expr::Slice(Box::new(e), lo, hi);
                } else {
                    self.expect("]")?;
                    let lo = lo.ok_or_else(|| err(self.at(), "missing index"))?;
                    e = Expr::Index(Box::new(e), lo);
                }
            } else {
                return Ok(e);
            }
        }
    }
}

/// `pkg.Name` (identifiers only) as text.
fn qualified(e: &Expr) -> Option<String> {
    match e {
        Expr::Sel(b, n) => match b.as_ref() {
            Expr::Ident(p) => Some(format!("{p}.{n}")),
            _ => None,
        },
        _ => None,
    }
}

/// Parse an expression.
pub fn parse(src: &str) -> Result<Expr, VarError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        len: src.len(),
        src,
    };
    let e = p.binary(1)?;
    if p.pos != p.toks.len() {
        return Err(err(p.at(), format!("expected 'EOF', {}", found(p.peek()))));
    }
    Ok(e)
}

/// The values an expression can name.
pub struct Scope<'a> {
    pub loader: &'a Loader<'a>,
    /// The frame's arguments and locals (unloaded, with their types), if any.
    pub locals: &'a [Var],
    /// The package path of the frame's function ("" when unknown): an unqualified
    /// name that is no local is looked up as that package's variable, as Delve does.
    pub package: &'a str,
}

/// The package path of a Go function name: `example.com/a/b.(*T).M` -> `example.com/a/b`.
pub fn package_of(function: &str) -> &str {
    let slash = function.rfind('/').map_or(0, |i| i + 1);
    match function.get(slash..).and_then(|rest| rest.find('.')) {
        Some(dot) => function.get(..slash + dot).unwrap_or(""),
        None => "",
    }
}

/// An intermediate result: a typed location not loaded yet, or a computed value.
enum Val {
    Loc(Var),
    Done(Var),
}

const HEADER: LoadConfig = LoadConfig {
    follow_pointers: false,
    max_variable_recurse: 0,
    max_string_len: 0,
    max_array_values: 0,
    max_struct_fields: 0,
};

impl Scope<'_> {
    /// Evaluate `src` and load the result with `cfg`.
    pub fn eval(&self, src: &str, cfg: &LoadConfig) -> Result<Var, VarError> {
        let e = parse(src)?;
        let mut v = match self.eval_expr(&e)? {
            Val::Loc(mut v) => {
                self.loader.load(&mut v, 0, cfg);
                v
            }
            Val::Done(v) => v,
        };
        v.name = src.to_string();
        Ok(v)
    }

    fn lookup(&self, name: &str) -> Option<Var> {
        if let Some(v) = self.locals.iter().rev().find(|v| v.name == name) {
            return Some(v.clone());
        }
        let qualified;
        let (name, (addr, ty)) = match self.loader.dwarf.global_typed(name) {
            Some(g) => (name, g),
            None if !self.package.is_empty() && !name.contains('.') => {
                qualified = format!("{}.{name}", self.package);
                let g = self.loader.dwarf.global_typed(&qualified)?;
                (qualified.as_str(), g)
            }
            None => return None,
        };
        let mut v = self
            .loader
            .var_at(name, addr.0.wrapping_add(self.loader.bias), ty?);
        // Go describes a package variable by its link-time address.
        v.location_expr = format!("[block] DW_OP_addr {:#x} ", addr.0);
        Some(v)
    }

    fn header(&self, v: &Var) -> Var {
        let mut h = v.clone();
        self.loader.load(&mut h, 0, &HEADER);
        h
    }

    /// The value with its header loaded; an unreadable one is an error.
    fn readable(&self, v: Val) -> Result<Var, VarError> {
        let v = match v {
            Val::Loc(v) => self.header(&v),
            Val::Done(v) => v,
        };
        if !v.unreadable.is_empty() {
            return Err(VarError::Expr(v.unreadable));
        }
        Ok(v)
    }

    fn int_of(&self, v: Val) -> Result<i128, VarError> {
        let v = self.readable(v)?;
        if matches!(v.kind, Kind::Ptr | Kind::UnsafePointer) {
            // A pointer converts to its address (`uintptr(&x)`).
            return Ok(v.children.first().map_or(0, |c| i128::from(c.addr)));
        }
        if v.kind.is_float() {
            return v
                .value
                .parse::<f64>()
                .map(|f| f.trunc() as i128)
                .map_err(|_| VarError::Expr(format!("{} is not a number", v.name)));
        }
        let raw = v
            .value
            .rsplit('(')
            .next()
            .unwrap_or("")
            .trim_end_matches(')');
        raw.parse::<i128>()
            .or_else(|_| v.value.parse::<i128>())
            .map_err(|_| VarError::Expr(format!("{} is not an integer", v.name)))
    }

    fn eval_expr(&self, e: &Expr) -> Result<Val, VarError> {
        match e {
            Expr::Int(n) => Ok(Val::Done(konst(Kind::Int, n.to_string()))),
            Expr::Float(f) => Ok(Val::Done(konst(Kind::Float64, super::load::fmt_f64(*f)))),
            Expr::Str(s) => {
                let mut v = konst(Kind::String, s.clone());
                v.len = s.len() as i64;
                v.cap = v.len;
                Ok(Val::Done(v))
            }
            Expr::Ident(n) => match n.as_str() {
                "nil" => Ok(Val::Done(Var {
                    ty: "nil".into(),
                    kind: Kind::Ptr,
                    ..Default::default()
                })),
                "true" | "false" => Ok(Val::Done(konst(Kind::Bool, n.clone()))),
                _ => self
                    .lookup(n)
                    .map(Val::Loc)
                    .ok_or_else(|| VarError::NotFound(n.clone())),
            },
            Expr::Sel(base, field) => {
                // A package-qualified name: `main.x`, `"net/http".DefaultClient`.
                let pkg = match base.as_ref() {
                    Expr::Ident(p) if self.locals.iter().all(|v| &v.name != p) => Some(p.clone()),
                    Expr::Str(p) => Some(p.clone()),
                    _ => None,
                };
                if let Some(p) = pkg {
                    let full = format!("{p}.{field}");
                    if let Some(v) = self.lookup(&full) {
                        return Ok(Val::Loc(v));
                    }
                    if matches!(base.as_ref(), Expr::Str(_)) || self.lookup(&p).is_none() {
                        return Err(VarError::NoPackageSymbol(full));
                    }
                }
                let v = match self.eval_expr(base)? {
                    // `(*T)(addr).F`: fields of the converted pointer's target.
                    Val::Done(p) if p.kind == Kind::Ptr => match self.pointee_of(p)? {
                        Val::Loc(v) | Val::Done(v) => v,
                    },
                    other => self.loc(other, "select a field of")?,
                };
                self.field(v, field)
            }
            Expr::Unary("*", x) => match self.eval_expr(x)? {
                Val::Done(p) if p.kind == Kind::Ptr => self.pointee_of(p),
                other => {
                    let v = self.loc(other, "dereference")?;
                    self.deref(&v)
                }
            },
            Expr::Unary("&", x) => {
                let v = self.loc(self.eval_expr(x)?, "take the address of")?;
                if v.addr == 0 || v.addr >= super::location::SYNTHETIC_BASE {
                    return Err(VarError::Expr(format!(
                        "can not take address of {}",
                        v.name
                    )));
                }
                let child = Var {
                    only_addr: true,
                    ..v.clone()
                };
                Ok(Val::Done(Var {
                    ty: format!("*{}", v.ty),
                    kind: Kind::Ptr,
                    len: 1,
                    children: vec![child],
                    ..Default::default()
                }))
            }
            Expr::Unary(op, x) => {
                let v = self.eval_expr(x)?;
                match *op {
                    "-" => Ok(Val::Done(konst(Kind::Int, (-self.int_of(v)?).to_string()))),
                    _ => {
                        let b = self.bool_of(v)?;
                        Ok(Val::Done(konst(Kind::Bool, (!b).to_string())))
                    }
                }
            }
            Expr::Binary(op, a, b) => self.binary(op, a, b),
            Expr::Index(base, idx) => {
                let v = self.loc(self.eval_expr(base)?, "index")?;
                self.index(v, idx)
            }
            Expr::Slice(base, lo, hi) => {
                let v = self.loc(self.eval_expr(base)?, "slice")?;
                let h = self.header(&v);
                let lo = match lo {
                    Some(e) => self.int_of(self.eval_expr(e)?)?,
                    None => 0,
                };
                let hi = match hi {
                    Some(e) => self.int_of(self.eval_expr(e)?)?,
                    None => i128::from(h.len),
                };
                if lo < 0 || hi < lo || hi > i128::from(h.cap.max(h.len)) {
                    return Err(VarError::Expr("index out of bounds".into()));
                }
                let elem = self.elem_type(&v).ok_or_else(|| {
                    VarError::Expr(format!("can not slice {} (type {})", v.name, v.ty))
                })?;
                let stride = self.loader.dwarf.size_of(elem).unwrap_or(0);
                let ename = self.loader.dwarf.type_name(elem);
                let mut s = Var {
                    ty: if v.kind == Kind::String {
                        "string".into()
                    } else {
                        format!("[]{ename}")
                    },
                    kind: if v.kind == Kind::String {
                        Kind::String
                    } else {
                        Kind::Slice
                    },
                    base: h.base.wrapping_add(stride.wrapping_mul(lo as u64)),
                    len: (hi - lo) as i64,
                    // Delve 1.27: what is left of the operand's capacity (strings
                    // keep the length: their `cap` counts loaded bytes).
                    cap: if v.kind == Kind::String {
                        (hi - lo) as i64
                    } else {
                        (i128::from(h.cap.max(h.len)) - lo) as i64
                    },
                    addr: 1,
                    ..Default::default()
                };
                if v.kind == Kind::String {
                    // The bytes themselves, as a string value (Delve prints
                    // s[a:b] as a string of b-a bytes, loaded up to its limit).
                    let (base, n) = (s.base, s.len);
                    if let Err(e) = self.loader.string_bytes(&mut s, base, n, &LoadConfig::LONG) {
                        s.unreadable = e;
                    }
                } else {
                    self.loader.load_elems(&mut s, elem, 0, &LoadConfig::LONG);
                }
                Ok(Val::Done(s))
            }
            Expr::Call(f, args) => {
                let [arg] = args.as_slice() else {
                    return Err(VarError::Expr(format!("wrong number of arguments to {f}")));
                };
                if f != "len" && f != "cap" {
                    return self.convert(f, arg);
                }
                // A computed string or slice (`s[a:b]`) knows its own length.
                let v = match self.eval_expr(arg)? {
                    Val::Done(d) if d.addr == 1 && matches!(d.kind, Kind::String | Kind::Slice) => {
                        let n = if f == "cap" && d.kind == Kind::Slice {
                            d.cap
                        } else {
                            d.len
                        };
                        return Ok(Val::Done(konst(Kind::Int, n.to_string())));
                    }
                    other => self.loc(other, f)?,
                };
                let h = self.header(&v);
                let n = match (f.as_str(), h.kind) {
                    ("len", Kind::String | Kind::Slice | Kind::Array | Kind::Map) => h.len,
                    ("len", Kind::Chan) => h
                        .children
                        .first()
                        .map_or(0, |c| c.value.parse().unwrap_or(0)),
                    ("cap", Kind::Slice | Kind::Array) => h.cap,
                    ("cap", Kind::Chan) => h
                        .children
                        .get(1)
                        .map_or(0, |c| c.value.parse().unwrap_or(0)),
                    _ => {
                        return Err(VarError::Expr(format!(
                            "invalid argument {} (type {}) for {f}",
                            v.name, v.ty
                        )))
                    }
                };
                Ok(Val::Done(konst(Kind::Int, n.to_string())))
            }
            Expr::Assert(x, t) => self.assert_type(x, t),
            Expr::Cast(t, x) if !t.starts_with('*') => self.convert(t, x),
            Expr::Cast(t, x) => {
                let n = self.int_of(self.eval_expr(x)?)?;
                let addr = u64::try_from(n).map_err(|_| VarError::Expr("bad address".into()))?;
                let dw = self.loader.dwarf;
                if let Some(elem) = t.strip_prefix('*') {
                    let et = dw
                        .type_by_name(elem)
                        .ok_or_else(|| VarError::Expr(format!("could not find type {elem}")))?;
                    let child = self.loader.var_at("", addr, et);
                    let mut p = Var {
                        ty: t.clone(),
                        kind: Kind::Ptr,
                        len: 1,
                        addr: 1,
                        ..Default::default()
                    };
                    p.children = vec![child];
                    return Ok(Val::Done(self.load_children(p)));
                }
                let ty = dw
                    .type_by_name(t)
                    .ok_or_else(|| VarError::Expr(format!("could not find type {t}")))?;
                let mut v = konst(self.loader.kind_of(ty), n.to_string());
                v.ty = t.clone();
                Ok(Val::Done(v))
            }
        }
    }

    /// `x.(T)`: the dynamic value when its type is T, else Go's panic text.
    fn assert_type(&self, x: &Expr, t: &str) -> Result<Val, VarError> {
        if t == "type" {
            // Delve looks `type` up as a type name.
            return Err(VarError::Expr(
                "no type entry found, use 'types' for a list of valid types".into(),
            ));
        }
        let v = self.loc(self.eval_expr(x)?, "assert the type of")?;
        if v.kind != Kind::Interface {
            return Err(VarError::Expr(format!(
                "expression {} not an interface",
                super::format::go_quote(&v.name)
            )));
        }
        let h = self.header(&v);
        if !h.unreadable.is_empty() {
            return Err(VarError::Expr(h.unreadable));
        }
        let data = h.children.into_iter().next().unwrap_or_default();
        if data.kind == Kind::Invalid {
            return Err(VarError::Expr(format!(
                "interface conversion: {} is nil, not {t}",
                v.ty
            )));
        }
        let dynamic: String = data.ty.chars().filter(|c| !c.is_whitespace()).collect();
        if dynamic != t {
            return Err(VarError::Expr(format!(
                "interface conversion: {} is {}, not {t}",
                v.ty, data.ty
            )));
        }
        let name = format!("{}.({t})", v.name);
        match data.type_id {
            Some(ty) => Ok(Val::Loc(self.loader.var_at(&name, data.addr, ty))),
            None => {
                // A pointer type DWARF does not name: rebuilt from its element.
                let mut p = data;
                p.name = name;
                for c in &mut p.children {
                    c.only_addr = false;
                    c.children.clear();
                    c.value.clear();
                }
                Ok(Val::Done(self.load_children(p)))
            }
        }
    }

    /// `T(x)` for a non-pointer T: numeric conversions (wrapping like Go),
    /// `string([]byte)`, `[]byte(string)`, `unsafe.Pointer(p)`, named types.
    fn convert(&self, t: &str, x: &Expr) -> Result<Val, VarError> {
        let xv = self.eval_expr(x)?;
        if t == "unsafe.Pointer" {
            let a = self.int_of(xv)?;
            let addr = u64::try_from(a).map_err(|_| VarError::Expr("bad address".into()))?;
            return Ok(Val::Done(Var {
                ty: t.into(),
                kind: Kind::Ptr,
                len: 1,
                addr: 1,
                children: vec![Var {
                    addr,
                    only_addr: true,
                    ..Default::default()
                }],
                ..Default::default()
            }));
        }
        if t == "string" {
            if let Some(s) = self.as_string(&xv) {
                return Ok(Val::Done(str_konst(s)));
            }
            let v = self.loc(xv, "convert")?;
            let mut b = v.clone();
            let cfg = LoadConfig {
                max_array_values: 1 << 16,
                ..LoadConfig::LONG
            };
            self.loader.load(&mut b, 0, &cfg);
            if b.kind != Kind::Slice {
                return Err(VarError::Expr(format!(
                    "can not convert {} (type {}) to string",
                    v.name, v.ty
                )));
            }
            let bytes: Vec<u8> = b
                .children
                .iter()
                .filter_map(|c| c.value.parse::<u8>().ok())
                .collect();
            return Ok(Val::Done(str_konst(
                String::from_utf8_lossy(&bytes).into_owned(),
            )));
        }
        if t == "[]byte" || t == "[]uint8" {
            let s = self.as_string(&xv).ok_or_else(|| {
                VarError::Expr(format!("can not convert {} to {t}", expr_name(&xv)))
            })?;
            let n = s.len() as i64;
            let children = s
                .bytes()
                .take(LoadConfig::LONG.max_array_values.max(0) as usize)
                .map(|b| Var {
                    ty: "uint8".into(),
                    ..konst(Kind::Uint8, b.to_string())
                })
                .collect();
            return Ok(Val::Done(Var {
                ty: "[]uint8".into(),
                kind: Kind::Slice,
                len: n,
                cap: n,
                base: 1,
                addr: 1,
                children,
                ..Default::default()
            }));
        }
        let dw = self.loader.dwarf;
        let ty = dw
            .type_by_name(t)
            .ok_or_else(|| VarError::Expr(format!("could not find type {t}")))?;
        let kind = self.loader.kind_of(ty);
        let size = dw.size_of(ty).unwrap_or(8).clamp(1, 8) as u32;
        let value = if kind.is_float() {
            let f = match &xv {
                Val::Done(v) | Val::Loc(v) if v.kind.is_float() => {
                    let h = match &xv {
                        Val::Loc(v) => self.header(v),
                        Val::Done(v) => v.clone(),
                    };
                    h.value
                        .parse::<f64>()
                        .map_err(|_| VarError::Expr(format!("{} is not a number", v.name)))?
                }
                _ => self.int_of(xv)? as f64,
            };
            if kind == Kind::Float32 {
                super::load::fmt_f32(f as f32)
            } else {
                super::load::fmt_f64(f)
            }
        } else if kind.is_int() || kind.is_uint() {
            let n = self.int_of(xv)?;
            // Go's conversion keeps the low bits.
            let bits = 8 * size;
            let raw = (n as u128) & (u128::MAX >> (128 - bits));
            let n = if kind.is_int() {
                let sh = 128 - bits;
                (((raw << sh) as i128) >> sh) as i64
            } else {
                raw as i64
            };
            let text = if kind.is_int() {
                n.to_string()
            } else {
                (n as u64).to_string()
            };
            self.loader.with_const(ty, n, text)
        } else {
            return Err(VarError::Expr(format!(
                "can not convert {} to {t}",
                expr_name(&xv)
            )));
        };
        Ok(Val::Done(Var {
            ty: t.into(),
            type_id: Some(ty),
            ..konst(kind, value)
        }))
    }

    /// The target of a computed pointer (a conversion's result) as a location.
    fn pointee_of(&self, p: Var) -> Result<Val, VarError> {
        let c = p
            .children
            .into_iter()
            .next()
            .filter(|c| c.addr != 0)
            .ok_or_else(|| VarError::Expr("nil pointer dereference".into()))?;
        let ty = c
            .type_id
            .ok_or_else(|| VarError::Expr(format!("can not dereference {}", p.ty)))?;
        Ok(Val::Loc(self.loader.var_at(
            &format!("*{}", p.name),
            c.addr,
            ty,
        )))
    }

    fn load_children(&self, mut p: Var) -> Var {
        for c in &mut p.children {
            self.loader.load(c, 0, &LoadConfig::LONG);
        }
        p
    }

    fn loc(&self, v: Val, what: &str) -> Result<Var, VarError> {
        match v {
            Val::Loc(v) => Ok(v),
            Val::Done(v) if what == "dereference" && v.kind == Kind::Ptr => v
                .children
                .into_iter()
                .next()
                .ok_or_else(|| VarError::Expr("nil pointer dereference".into())),
            Val::Done(v) => Err(VarError::Expr(format!(
                "can not {what} a computed value ({})",
                v.ty
            ))),
        }
    }

    fn elem_type(&self, v: &Var) -> Option<crate::symbols::dwarf::TypeId> {
        let dw = self.loader.dwarf;
        let ty = v.type_id?;
        match v.kind {
            Kind::Array => dw.type_info(dw.resolve(ty)?)?.target,
            Kind::Slice => {
                let r = dw.resolve(ty)?;
                dw.type_info(r)?.go_elem.or_else(|| {
                    let (_, at) = dw.field_path(r, "array")?;
                    dw.type_info(dw.resolve(at?)?)?.target
                })
            }
            Kind::String => dw.type_by_name("uint8"),
            _ => None,
        }
    }

    fn deref(&self, v: &Var) -> Result<Val, VarError> {
        let dw = self.loader.dwarf;
        if v.kind != Kind::Ptr {
            return Err(VarError::Expr(format!(
                "expression {} ({}) can not be dereferenced",
                super::format::go_quote(&v.name),
                v.ty
            )));
        }
        let ty = v
            .type_id
            .ok_or_else(|| VarError::Expr("untyped pointer".into()))?;
        let elem = dw
            .resolve(ty)
            .and_then(|r| dw.type_info(r))
            .and_then(|t| t.target)
            .ok_or_else(|| VarError::Expr(format!("can not dereference {}", v.ty)))?;
        let h = self.header(v);
        let p = h.children.first().map_or(0, |c| c.addr);
        if p == 0 {
            return Err(VarError::Expr(format!(
                "nil pointer dereference of {}",
                v.name
            )));
        }
        Ok(Val::Loc(self.loader.var_at(
            &format!("*{}", v.name),
            p,
            elem,
        )))
    }

    fn field(&self, mut v: Var, field: &str) -> Result<Val, VarError> {
        let dw = self.loader.dwarf;
        let written = v.name.clone();
        for _ in 0..4 {
            if v.kind == Kind::Ptr {
                v = match self.deref(&v) {
                    Ok(Val::Loc(x)) | Ok(Val::Done(x)) => x,
                    // Delve's words for a field through a nil pointer.
                    Err(VarError::Expr(e)) if e.starts_with("nil pointer dereference") => {
                        return Err(VarError::Expr(format!("{} is nil", v.name)))
                    }
                    Err(e) => return Err(e),
                };
                continue;
            }
            break;
        }
        let ty = v
            .type_id
            .ok_or_else(|| VarError::Expr(format!("{} has no fields", v.name)))?;
        let (off, fty) = dw.field_path(ty, field).ok_or_else(|| {
            // Delve's words: structs by the expression as written, others with type.
            if v.kind == Kind::Struct {
                VarError::Expr(format!("{written} has no member {field}"))
            } else {
                VarError::Expr(format!("{written} (type {}) has no member {field}", v.ty))
            }
        })?;
        let fty = fty.ok_or_else(|| VarError::Expr(format!("field {field} has no type")))?;
        Ok(Val::Loc(self.loader.var_at(
            &format!("{}.{field}", v.name),
            v.addr.wrapping_add(off),
            fty,
        )))
    }

    fn index(&self, v: Var, idx: &Expr) -> Result<Val, VarError> {
        if v.kind == Kind::Map {
            let key = match self.eval_expr(idx)? {
                Val::Loc(mut k) => {
                    self.loader.load(&mut k, 0, &LoadConfig::LONG);
                    k
                }
                Val::Done(k) => k,
            };
            let mut m = v.clone();
            let cfg = LoadConfig {
                max_array_values: 1 << 20,
                max_string_len: 1 << 16,
                max_variable_recurse: 1,
                ..LoadConfig::LONG
            };
            self.loader.load(&mut m, 0, &cfg);
            let mut it = m.children.chunks(2);
            let found = it.find(|kv| {
                kv.first()
                    .is_some_and(|k| k.value == key.value && !k.value.is_empty())
            });
            return match found.and_then(|kv| kv.get(1)) {
                Some(val) => {
                    let mut out = val.clone();
                    out.children.clear();
                    out.value.clear();
                    Ok(Val::Loc(out))
                }
                None => Err(VarError::Expr("key not found".into())),
            };
        }
        let i = self.int_of(self.eval_expr(idx)?)?;
        let h = self.header(&v);
        if i < 0 || i >= i128::from(h.len) {
            return Err(VarError::Expr("index out of bounds".into()));
        }
        let elem = self.elem_type(&v).ok_or_else(|| {
            VarError::Expr(format!(
                "expression {} (type {}) does not support indexing",
                v.name, v.ty
            ))
        })?;
        let stride = self.loader.dwarf.size_of(elem).unwrap_or(0);
        let base = if v.kind == Kind::Array {
            v.addr
        } else {
            h.base
        };
        Ok(Val::Loc(self.loader.var_at(
            &format!("{}[{i}]", v.name),
            base.wrapping_add(stride.wrapping_mul(i as u64)),
            elem,
        )))
    }

    fn bool_of(&self, v: Val) -> Result<bool, VarError> {
        let v = match v {
            Val::Loc(v) => self.header(&v),
            Val::Done(v) => v,
        };
        match v.value.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(VarError::Expr(format!("{} is not a boolean", v.name))),
        }
    }

    fn binary(&self, op: &str, a: &Expr, b: &Expr) -> Result<Val, VarError> {
        if op == "&&" || op == "||" {
            let x = self.bool_of(self.eval_expr(a)?)?;
            let r = if op == "&&" {
                x && self.bool_of(self.eval_expr(b)?)?
            } else {
                x || self.bool_of(self.eval_expr(b)?)?
            };
            return Ok(Val::Done(konst(Kind::Bool, r.to_string())));
        }
        let x = self.eval_expr(a)?;
        let y = self.eval_expr(b)?;
        // Strings compare and concatenate.
        let xs = self.as_string(&x);
        let ys = self.as_string(&y);
        if let (Some(p), Some(q)) = (&xs, &ys) {
            let r = match op {
                "==" => konst(Kind::Bool, (p == q).to_string()),
                "!=" => konst(Kind::Bool, (p != q).to_string()),
                "+" => {
                    let s = format!("{p}{q}");
                    let mut v = konst(Kind::String, s.clone());
                    v.len = s.len() as i64;
                    v.cap = v.len;
                    v
                }
                _ => {
                    return Err(VarError::Expr(format!(
                        "operator {op} not defined on strings"
                    )))
                }
            };
            return Ok(Val::Done(r));
        }
        // The typed operand (a variable or a conversion) gives the result's type.
        let typed = |v: &Val| match v {
            Val::Loc(v) => Some((v.ty.clone(), v.kind)),
            Val::Done(v) if !v.ty.is_empty() => Some((v.ty.clone(), v.kind)),
            Val::Done(_) => None,
        };
        let ty = typed(&x).or_else(|| typed(&y));
        let float = |v: &Val| match v {
            Val::Loc(v) | Val::Done(v) => v.kind.is_float(),
        };
        if float(&x) || float(&y) {
            // Floating point as Go: the float operand's type, the constant converted.
            let fty = [&x, &y]
                .into_iter()
                .filter(|v| float(v))
                .find_map(typed)
                .unwrap_or_else(|| (String::new(), Kind::Float64));
            return self.float_binary(op, x, y, fty);
        }
        let p = self.int_of(x)?;
        let q = self.int_of(y)?;
        let bool_r = |r: bool| Ok(Val::Done(konst(Kind::Bool, r.to_string())));
        if q == 0 && matches!(op, "/" | "%") {
            // Delve computes in Go and reports the runtime's panic, constants or not.
            return Err(VarError::Expr(
                "runtime error: integer divide by zero".into(),
            ));
        }
        let n = match op {
            "+" => p.checked_add(q),
            "-" => p.checked_sub(q),
            "*" => p.checked_mul(q),
            "/" => p.checked_div(q),
            "%" => p.checked_rem(q),
            "&" => Some(p & q),
            "<<" => u32::try_from(q).ok().and_then(|s| p.checked_shl(s)),
            ">>" => u32::try_from(q).ok().and_then(|s| p.checked_shr(s)),
            "==" => return bool_r(p == q),
            "!=" => return bool_r(p != q),
            "<" => return bool_r(p < q),
            "<=" => return bool_r(p <= q),
            ">" => return bool_r(p > q),
            ">=" => return bool_r(p >= q),
            _ => None,
        }
        .ok_or_else(|| {
            VarError::Expr(format!(
                "invalid operation {op} (overflow or division by zero)"
            ))
        })?;
        let mut v = konst(Kind::Int, n.to_string());
        if let Some((t, k)) = ty {
            // Arithmetic wraps at the type's width, as in Go.
            let n = wrap(n, k);
            v = konst(k, n.to_string());
            v.ty = t;
        }
        Ok(Val::Done(v))
    }

    fn float_of(&self, v: Val) -> Result<f64, VarError> {
        let v = self.readable(v)?;
        if v.kind.is_float() {
            return v
                .value
                .parse::<f64>()
                .map_err(|_| VarError::Expr(format!("{} is not a number", v.name)));
        }
        self.int_of(Val::Done(v)).map(|n| n as f64)
    }

    fn float_binary(&self, op: &str, x: Val, y: Val, ty: (String, Kind)) -> Result<Val, VarError> {
        let p = self.float_of(x)?;
        let q = self.float_of(y)?;
        let bool_r = |r: bool| Ok(Val::Done(konst(Kind::Bool, r.to_string())));
        let r = match op {
            "+" => p + q,
            "-" => p - q,
            "*" => p * q,
            "/" => p / q,
            "==" => return bool_r(p == q),
            "!=" => return bool_r(p != q),
            "<" => return bool_r(p < q),
            "<=" => return bool_r(p <= q),
            ">" => return bool_r(p > q),
            ">=" => return bool_r(p >= q),
            _ => {
                return Err(VarError::Expr(format!(
                    "operator {op} not defined on floating point values"
                )))
            }
        };
        let (t, k) = ty;
        let text = if k == Kind::Float32 {
            super::load::fmt_f32(r as f32)
        } else {
            super::load::fmt_f64(r)
        };
        let mut v = konst(k, text);
        v.ty = t;
        Ok(Val::Done(v))
    }

    fn as_string(&self, v: &Val) -> Option<String> {
        match v {
            Val::Done(v) if v.kind == Kind::String => Some(v.value.clone()),
            Val::Loc(v) if v.kind == Kind::String => {
                let mut s = v.clone();
                self.loader.load(
                    &mut s,
                    0,
                    &LoadConfig {
                        max_string_len: 1 << 20,
                        ..HEADER
                    },
                );
                Some(s.value)
            }
            _ => None,
        }
    }
}

/// `n` truncated to the width of integer kind `k` (other kinds unchanged).
fn wrap(n: i128, k: Kind) -> i128 {
    let bits = match k {
        Kind::Int8 | Kind::Uint8 => 8,
        Kind::Int16 | Kind::Uint16 => 16,
        Kind::Int32 | Kind::Uint32 => 32,
        Kind::Int | Kind::Int64 | Kind::Uint | Kind::Uint64 | Kind::Uintptr => 64,
        _ => return n,
    };
    let raw = (n as u128) & (u128::MAX >> (128 - bits));
    if k.is_int() {
        let sh = 128 - bits;
        ((raw << sh) as i128) >> sh
    } else {
        raw as i128
    }
}

/// A computed string.
fn str_konst(s: String) -> Var {
    let mut v = konst(Kind::String, s);
    v.len = v.value.len() as i64;
    v.cap = v.len;
    v.ty = "string".into();
    v
}

fn expr_name(v: &Val) -> &str {
    match v {
        Val::Loc(v) | Val::Done(v) => &v.name,
    }
}

/// A computed value (no address).
fn konst(kind: Kind, value: String) -> Var {
    Var {
        kind,
        value,
        addr: 1,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_delve_expressions() {
        assert!(matches!(
            parse("main.GInt + 8"),
            Ok(Expr::Binary("+", _, _))
        ));
        assert!(matches!(parse("(*main.T)(0xc000123456)"), Ok(Expr::Cast(t, _)) if t == "*main.T"));
        assert!(matches!(
            parse("a.b[1:3]"),
            Ok(Expr::Slice(_, Some(_), Some(_)))
        ));
        assert!(matches!(parse("len(x)"), Ok(Expr::Call(f, _)) if f == "len"));
        assert!(matches!(parse("m[\"two\"]"), Ok(Expr::Index(_, _))));
        assert!(matches!(parse("*p.x"), Ok(Expr::Unary("*", _))));
        let e = parse("a +")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(e, "1:4: expected operand, found 'EOF'");
        assert!(matches!(parse("x.(*main.T)"), Ok(Expr::Assert(_, t)) if t == "*main.T"));
        assert!(matches!(parse("main.Color(1)"), Ok(Expr::Call(f, _)) if f == "main.Color"));
        assert!(matches!(parse("[]byte(s)"), Ok(Expr::Call(f, _)) if f == "[]byte"));
        assert!(parse("a $ b").is_err());
        assert_eq!(
            parse("(").err().map(|e| e.to_string()).unwrap_or_default(),
            "1:2: expected operand, found 'EOF'"
        );
    }

    #[test]
    fn arithmetic_wraps_at_the_type_width() {
        assert_eq!(wrap(77_000, Kind::Uint16), 11_464);
        assert_eq!(wrap(292, Kind::Uint8), 36);
        assert_eq!(wrap(200, Kind::Int8), -56);
        assert_eq!(wrap(-1, Kind::Uint32), 4_294_967_295);
        assert_eq!(wrap(1 << 70, Kind::Int), 0);
        assert_eq!(wrap(5, Kind::Float64), 5);
    }
}
