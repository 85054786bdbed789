//! The Go pclntab. OWNER: pclntab engineer. See the module brief in docs/architecture.md.

use crate::addr::Addr;
use crate::symbols::{Binary, SymError};

/// One function of the pclntab (cheap to copy; names are looked up through the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Func {
    pub entry: Addr,
    pub end: Addr,
    /// Offset of the _func record inside the func data, for the table's own lookups.
    pub(crate) off: u32,
}

/// A source-level frame at a PC: the innermost inlined function first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    pub function: String,
    pub file: String,
    pub line: u32,
    /// True for frames that were inlined into their caller.
    pub inlined: bool,
}

pub struct Pclntab {}

impl Pclntab {
    pub fn load(_bin: &Binary) -> Result<Pclntab, SymError> {
        todo!()
    }
}
