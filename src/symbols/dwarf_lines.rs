//! DWARF line tables: the rows of one function's address range, with the `is_stmt` and
//! `prologue_end` flags that the pclntab lacks. Delve places a function breakpoint on
//! the first `prologue_end` row and steps by `is_stmt` rows, so matching its stops needs
//! them. A child of `dwarf` so that it reads the sections that module owns.

use super::{gerr, Dwarf, Slice};
use crate::symbols::SymError;

/// One row of a line table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    /// Link-time address of the first instruction of the row.
    pub addr: u64,
    pub file: String,
    pub line: u32,
    /// A recommended breakpoint location for the line (the start of a statement).
    pub is_stmt: bool,
    /// The first instruction after the function's prologue (stack check, frame setup).
    pub prologue_end: bool,
}

impl Dwarf {
    /// The line rows with addresses in `[low, high)` (link-time) of the unit that holds
    /// the function at `low`, in address order. Empty when no unit covers `low`.
    pub fn line_rows(&self, low: u64, high: u64) -> Result<Vec<LineRow>, SymError> {
        let Some(func) = self.function_at(low) else {
            return Ok(Vec::new());
        };
        let ctx = self.unit_for(func.offset)?;
        let dw = self.gimli_dwarf();
        let unit = dw.unit(ctx.header).map_err(gerr)?;
        let Some(program) = unit.line_program.clone() else {
            return Ok(Vec::new());
        };
        let mut out: Vec<LineRow> = Vec::new();
        let mut names: Vec<Option<String>> = Vec::new();
        let mut rows = program.rows();
        while let Some((header, row)) = rows.next_row().map_err(gerr)? {
            if row.end_sequence() {
                continue;
            }
            let addr = row.address();
            if addr < low || addr >= high {
                continue;
            }
            let Some(line) = row.line().and_then(|l| u32::try_from(l.get()).ok()) else {
                continue;
            };
            let idx = usize::try_from(row.file_index()).unwrap_or(usize::MAX);
            if names.len() <= idx && idx < 1 << 20 {
                names.resize(idx + 1, None);
            }
            let file = match names.get(idx).cloned().flatten() {
                Some(f) => f,
                None => {
                    let f = file_name(&dw, &unit, header, row.file_index()).unwrap_or_default();
                    if let Some(slot) = names.get_mut(idx) {
                        *slot = Some(f.clone());
                    }
                    f
                }
            };
            out.push(LineRow {
                addr,
                file,
                line,
                is_stmt: row.is_stmt(),
                prologue_end: row.prologue_end(),
            });
        }
        out.sort_by_key(|r| r.addr);
        Ok(out)
    }
}

/// A file entry's path, joined with its directory when it is relative (Go writes
/// absolute paths; C compilers often do not).
fn file_name(
    dw: &gimli::Dwarf<Slice<'_>>,
    unit: &gimli::Unit<Slice<'_>>,
    header: &gimli::LineProgramHeader<Slice<'_>>,
    index: u64,
) -> Option<String> {
    let entry = header.file(index)?;
    let name = dw.attr_string(unit, entry.path_name()).ok()?;
    let name = String::from_utf8_lossy(name.slice()).into_owned();
    if name.starts_with('/') {
        return Some(name);
    }
    let dir = entry
        .directory(header)
        .and_then(|d| dw.attr_string(unit, d).ok())
        .map(|d| String::from_utf8_lossy(d.slice()).into_owned())
        .unwrap_or_default();
    Some(if dir.is_empty() {
        name
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    })
}

impl Dwarf {
    /// DW_AT_producer of the unit holding the function at `pc` (link-time): tells
    /// whether that package was compiled with optimisations (`-N -l` absent).
    pub fn producer_at(&self, pc: u64) -> Option<String> {
        let func = self.function_at(pc)?;
        let u = self.unit_for(func.offset).ok()?;
        let mut tree = u.header.entries_tree(&u.abbrevs, None).ok()?;
        let root = tree.root().ok()?;
        let v = root
            .entry()
            .attr_value(gimli::constants::DW_AT_producer)
            .ok()??;
        self.string(&u, v)
    }
}
