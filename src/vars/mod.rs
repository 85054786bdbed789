//! Variables and Go expressions: frames' arguments and locals from DWARF locations,
//! values of every Go kind loaded lazily under Delve's limits, formatted exactly as
//! Delve prints them, and Delve's subset of Go expressions.
//!
//! The value model ([`Var`]) mirrors Delve's API variable (name, address, type string,
//! kind, value text, len/cap, children, unreadable reason) so that the formatter can
//! reproduce Delve's output byte for byte and `--json` can expose the same tree.

pub mod expr;
pub mod format;
pub mod go_sort;
pub mod load;
pub mod location;

use crate::symbols::dwarf::TypeId;

/// Why variables could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("variables need DWARF debug information, and this binary has none (stripped with -ldflags=-s -w?); stacks still work")]
    NoDwarf,
    #[error("no DWARF function covers PC {0:#x}")]
    NoFunction(u64),
    #[error("could not find symbol value for {0}")]
    NotFound(String),
    /// A package-qualified name (`pkg.Name`) that names nothing (Delve's words).
    #[error("could not find symbol {0}")]
    NoPackageSymbol(String),
    #[error("{0}")]
    Dwarf(String),
    /// An expression failed: where (byte offset in the expression) and why.
    #[error("{0}")]
    Expr(String),
}

/// Go's reflect.Kind, as Delve reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Invalid,
    Bool,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    Float32,
    Float64,
    Complex64,
    Complex128,
    Array,
    Chan,
    Func,
    Interface,
    Map,
    Ptr,
    Slice,
    String,
    Struct,
    UnsafePointer,
}

impl Kind {
    /// From DW_AT_go_kind (reflect.Kind numbering).
    pub fn from_go(k: u64) -> Kind {
        use Kind::*;
        match k {
            1 => Bool,
            2 => Int,
            3 => Int8,
            4 => Int16,
            5 => Int32,
            6 => Int64,
            7 => Uint,
            8 => Uint8,
            9 => Uint16,
            10 => Uint32,
            11 => Uint64,
            12 => Uintptr,
            13 => Float32,
            14 => Float64,
            15 => Complex64,
            16 => Complex128,
            17 => Array,
            18 => Chan,
            19 => Func,
            20 => Interface,
            21 => Map,
            22 => Ptr,
            23 => Slice,
            24 => String,
            25 => Struct,
            26 => UnsafePointer,
            _ => Invalid,
        }
    }
    pub fn is_int(self) -> bool {
        use Kind::*;
        matches!(self, Int | Int8 | Int16 | Int32 | Int64)
    }
    pub fn is_uint(self) -> bool {
        use Kind::*;
        matches!(self, Uint | Uint8 | Uint16 | Uint32 | Uint64 | Uintptr)
    }
    pub fn is_float(self) -> bool {
        matches!(self, Kind::Float32 | Kind::Float64)
    }
}

/// One loaded value, shaped like Delve's API variable.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Var {
    pub name: String,
    pub addr: u64,
    /// Only the address is known (not loaded: limits reached or pointers not followed).
    pub only_addr: bool,
    #[serde(rename = "type")]
    pub ty: String,
    pub kind: Kind,
    pub value: String,
    pub len: i64,
    pub cap: i64,
    /// Data pointer of strings, slices, maps, chans; entry PC of funcs.
    pub base: u64,
    pub children: Vec<Var>,
    /// Why the value could not be read; empty when it could.
    pub unreadable: String,
    #[serde(skip)]
    pub type_id: Option<TypeId>,
    /// Function argument (for `args` vs `locals`).
    #[serde(skip)]
    pub is_arg: bool,
    /// A result parameter (DW_AT_variable_parameter): Delve's VariableReturnArgument.
    #[serde(skip)]
    pub is_return: bool,
    /// DWARF location text, for `show-location-expr`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub location_expr: String,
    /// Another variable of the same name comes later in the frame's scope order (an
    /// inner block's): Delve's VariableShadowed, printed as `(name)`.
    #[serde(skip)]
    pub shadowed: bool,
}

/// Delve's LoadConfig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadConfig {
    pub follow_pointers: bool,
    pub max_variable_recurse: i64,
    pub max_string_len: i64,
    pub max_array_values: i64,
    /// -1: no limit.
    pub max_struct_fields: i64,
}

impl LoadConfig {
    /// What `print` and `locals -v` load (Delve's terminal default).
    pub const LONG: LoadConfig = LoadConfig {
        follow_pointers: true,
        max_variable_recurse: 1,
        max_string_len: 64,
        max_array_values: 64,
        max_struct_fields: -1,
    };
    /// What `locals`, `args` and `vars` load without -v.
    pub const SHORT: LoadConfig = LoadConfig {
        follow_pointers: false,
        max_variable_recurse: 0,
        max_string_len: 64,
        max_array_values: 0,
        max_struct_fields: 3,
    };
}
