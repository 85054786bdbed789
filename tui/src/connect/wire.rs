//! Delve's `api.*` values as a server sends them, turned back into the engine's own
//! types so that the REPL's formatters print them (the inverse of the server's
//! conversion in `coroner::service::rpc2::convert`).

use coroner::repl::{Config, Location};
use coroner::unwind::FrameView;
use coroner::vars::{Kind, Var};
use serde::Deserialize;
use serde_json::{json, Value};

/// Delve's `api.Variable` flags the client looks at.
pub const FLAG_SHADOWED: u64 = 1 << 1;
pub const FLAG_ARGUMENT: u64 = 1 << 3;
pub const FLAG_CPU_REGISTER: u64 = 1 << 6;

/// `api.Variable` as the server sends it.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ApiVar {
    pub name: String,
    pub addr: u64,
    #[serde(rename = "onlyAddr")]
    pub only_addr: bool,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(rename = "realType")]
    pub real_type: String,
    pub flags: u64,
    pub kind: u64,
    pub value: String,
    pub len: i64,
    pub cap: i64,
    #[serde(deserialize_with = "null_vec")]
    pub children: Vec<ApiVar>,
    pub base: u64,
    pub unreadable: String,
    #[serde(rename = "LocationExpr")]
    pub location_expr: String,
}

fn null_vec<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The engine's value tree from the wire form, so the REPL's formatter prints it.
pub fn to_var(a: ApiVar) -> Var {
    let kind = Kind::from_go(a.kind);
    Var {
        // The engine keeps a string's loaded byte count in `cap` (Delve sends 0).
        cap: if kind == Kind::String {
            a.value.len() as i64
        } else {
            a.cap
        },
        name: a.name,
        addr: a.addr,
        only_addr: a.only_addr,
        ty: a.ty,
        kind,
        value: a.value,
        len: a.len,
        base: a.base,
        children: a.children.into_iter().map(to_var).collect(),
        unreadable: a.unreadable,
        location_expr: a.location_expr,
        shadowed: a.flags & FLAG_SHADOWED != 0,
        is_arg: a.flags & FLAG_ARGUMENT != 0,
        ..Default::default()
    }
}

pub fn api_var(v: &Value) -> Result<ApiVar, String> {
    ApiVar::deserialize(v).map_err(|e| format!("the server sent a malformed variable: {e}"))
}

pub fn var_of(v: &Value) -> Result<Var, String> {
    api_var(v).map(to_var)
}

/// A list of variables (`Variables`, `Args`, `ReturnValues`); absent is empty.
pub fn vars_of(v: &Value) -> Result<Vec<Var>, String> {
    match v.as_array() {
        Some(a) => a.iter().map(var_of).collect(),
        None => Ok(Vec::new()),
    }
}

/// The name a variable list shows: `(name)` when an inner block's shadows it.
pub fn shown_name(v: &Var) -> String {
    if v.shadowed {
        format!("({})", v.name)
    } else {
        v.name.clone()
    }
}

/// A frame of `Stacktrace` (Location flattened).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ApiFrame {
    pub pc: u64,
    pub file: String,
    /// Delve 1.20 sends -1 for frames it has no line for.
    pub line: i64,
    pub function: Option<ApiFunc>,
    #[serde(rename = "Err")]
    pub err: String,
    /// The outermost frame of a complete stack.
    #[serde(rename = "Bottom")]
    pub bottom: bool,
}
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ApiFunc {
    pub name: String,
    pub optimized: bool,
}
impl FrameView for ApiFrame {
    fn pc(&self) -> coroner::addr::Addr {
        coroner::addr::Addr(self.pc)
    }
    fn sp(&self) -> coroner::addr::Addr {
        coroner::addr::Addr(0)
    }
    fn function(&self) -> &str {
        self.function.as_ref().map_or("", |f| f.name.as_str())
    }
    fn file(&self) -> &str {
        &self.file
    }
    fn line(&self) -> u32 {
        u32::try_from(self.line).unwrap_or(0)
    }
}

pub fn frames_of(v: &Value) -> Result<Vec<ApiFrame>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        v => Vec::<ApiFrame>::deserialize(v)
            .map_err(|e| format!("the server sent a malformed stack: {e}")),
    }
}

/// `api.Location` (and the location part of `api.Thread`).
pub fn location(v: &Value) -> Location {
    Location {
        pc: v["pc"].as_u64().unwrap_or(0),
        file: v["file"].as_str().unwrap_or("").to_string(),
        line: v["line"]
            .as_u64()
            .and_then(|l| u32::try_from(l).ok())
            .unwrap_or(0),
        function: v["function"]["name"].as_str().unwrap_or("").to_string(),
    }
}

/// Delve's terminal load configs: `print` (LoadFullValue) and `locals`/`args`
/// (ShortLoadConfig), with the user's config file's `max-string-len`,
/// `max-array-values` and `max-variable-recurse` as Delve's client applies them.
pub fn full_cfg(c: &Config) -> Value {
    json!({"FollowPointers": true,
        "MaxVariableRecurse": c.max_variable_recurse.unwrap_or(1),
        "MaxStringLen": c.max_string_len.unwrap_or(64),
        "MaxArrayValues": c.max_array_values.unwrap_or(64),
        "MaxStructFields": -1})
}
pub fn short_cfg(c: &Config) -> Value {
    json!({"FollowPointers": false, "MaxVariableRecurse": 0,
        "MaxStringLen": c.max_string_len.unwrap_or(64),
        "MaxArrayValues": 0, "MaxStructFields": 3})
}
/// Delve's ShortLoadConfig as a literal: `on BP args` sends it, and a stop's
/// breakpoint info is printed single-line when the breakpoint carries it.
pub const SHORT_CFG: fn() -> Value = || {
    json!({"FollowPointers": false, "MaxVariableRecurse": 0, "MaxStringLen": 64,
        "MaxArrayValues": 0, "MaxStructFields": 3})
};
/// Delve's longLoadConfig (`on BP args -v`, `locals -v`).
pub const LONG_CFG: fn() -> Value = || {
    json!({"FollowPointers": true, "MaxVariableRecurse": 1, "MaxStringLen": 64,
        "MaxArrayValues": 64, "MaxStructFields": -1})
};

/// `api.EvalScope`: the goroutine (-1: the selected one) and frame a command reads.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    pub goroutine: i64,
    pub frame: i64,
}

impl Scope {
    pub fn json(self) -> Value {
        json!({"GoroutineID": self.goroutine, "Frame": self.frame, "DeferredCall": 0})
    }
}
