//! Inlined calls in DWARF: the DW_TAG_inlined_subroutine DIEs covering a PC, and the
//! abstract origins that concrete DIEs (inlined calls, out-of-line instances of
//! inlinable functions) take their names and types from. Delve gives each inlined
//! frame the variables of its own inlined_subroutine; so does `Dwarf::frame_scope`.

use super::{gerr, Dwarf, SymError, TypeId, VarDie, MAX_TYPE_HOPS};
use gimli::{constants, AttributeValue, UnitOffset};

/// One inlined call covering a PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinedScope {
    /// Global `.debug_info` offset of the DW_TAG_inlined_subroutine.
    pub offset: u64,
    /// The inlined function's name (from its abstract origin).
    pub name: String,
    /// DW_AT_call_line: the line, in the caller, of the call that was inlined.
    pub call_line: Option<u64>,
}

/// A function name as the pclntab prints it against DWARF's: before Go 1.21 the
/// pclntab abbreviates generic instantiations as `F[...]`.
fn same_function(frame: &str, dwarf: &str) -> bool {
    if frame == dwarf {
        return true;
    }
    match (frame.split_once('['), dwarf.split_once('[')) {
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

impl Dwarf {
    /// Name, type, declaration line and result flag of a variable's abstract origin
    /// (the DIE at global offset `off`), for the fields the concrete DIE lacks.
    pub(super) fn fill_from_origin(&self, off: u64, v: &mut VarDie) {
        let Ok(u) = self.unit_for(off) else { return };
        let Some(rel) = off
            .checked_sub(u.offset)
            .and_then(|r| usize::try_from(r).ok())
        else {
            return;
        };
        let Ok(mut cur) = u.header.entries_at_offset(&u.abbrevs, UnitOffset(rel)) else {
            return;
        };
        let Ok(Some((_, e))) = cur.next_dfs() else {
            return;
        };
        let mut attrs = e.attrs();
        while let Ok(Some(a)) = attrs.next() {
            match a.name() {
                constants::DW_AT_name if v.name.is_empty() => {
                    v.name = self.string(&u, a.value()).unwrap_or_default()
                }
                constants::DW_AT_type if v.type_id.is_none() => {
                    v.type_id = Self::reference(&u, a.value())
                }
                constants::DW_AT_decl_line if v.decl_line.is_none() => {
                    v.decl_line = a.udata_value()
                }
                constants::DW_AT_variable_parameter => {
                    v.is_return |= matches!(a.value(), AttributeValue::Flag(true))
                }
                _ => {}
            }
        }
    }

    /// The inlined calls covering `pc` inside the function DIE at `func`, outermost
    /// first (the last is the innermost, the frame the PC is really in).
    pub fn inline_chain(&self, func: u64, pc: u64) -> Result<Vec<InlinedScope>, SymError> {
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
        self.chain_below(&dw, &unit, &u, root, pc, 0, &mut out)?;
        Ok(out)
    }

    /// Descend into the one child (inlined call or lexical block) covering `pc`:
    /// scopes nest, so at most one child per level covers it.
    #[allow(clippy::too_many_arguments)]
    fn chain_below<'a>(
        &self,
        dw: &gimli::Dwarf<super::Slice<'a>>,
        unit: &gimli::Unit<super::Slice<'a>>,
        u: &super::UnitCtx<'a>,
        node: gimli::EntriesTreeNode<'_, '_, '_, super::Slice<'a>>,
        pc: u64,
        depth: usize,
        out: &mut Vec<InlinedScope>,
    ) -> Result<(), SymError> {
        if depth > MAX_TYPE_HOPS * 4 {
            return Ok(());
        }
        let mut children = node.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            let tag = e.tag();
            if tag != constants::DW_TAG_inlined_subroutine && tag != constants::DW_TAG_lexical_block
            {
                continue;
            }
            let mut covers = false;
            let mut ranges = dw.die_ranges(unit, e).map_err(gerr)?;
            while let Some(r) = ranges.next().map_err(gerr)? {
                covers |= r.begin <= pc && pc < r.end;
            }
            if !covers {
                continue;
            }
            if tag == constants::DW_TAG_inlined_subroutine {
                let offset = u.offset.saturating_add(e.offset().0 as u64);
                let name = e
                    .attr_value(constants::DW_AT_abstract_origin)
                    .map_err(gerr)?
                    .and_then(|v| Self::reference(u, v))
                    .and_then(|TypeId(o)| self.die_name(o))
                    .unwrap_or_default();
                let call_line = e
                    .attr(constants::DW_AT_call_line)
                    .map_err(gerr)?
                    .and_then(|a| a.udata_value());
                out.push(InlinedScope {
                    offset,
                    name,
                    call_line,
                });
            }
            return self.chain_below(dw, unit, u, child, pc, depth + 1, out);
        }
        Ok(())
    }

    /// The DIE whose variables a frame shows: for an inlined frame (`function` at
    /// `line`, PC `pc` in the physical function DIE `func`) its inlined_subroutine,
    /// else `func` itself. Frames of one PC are the chain innermost first; a
    /// recursive function inlined into itself has several scopes of one name, told
    /// apart by the line: an inlined frame's line is its callee's call line.
    pub fn frame_scope(&self, func: u64, pc: u64, function: &str, line: u32, inlined: bool) -> u64 {
        if !inlined {
            return func;
        }
        let Ok(chain) = self.inline_chain(func, pc) else {
            return func;
        };
        let line = u64::from(line);
        let candidates: Vec<usize> = (0..chain.len())
            .rev()
            .filter(|&i| {
                chain
                    .get(i)
                    .is_some_and(|s| same_function(function, &s.name))
            })
            .collect();
        // An outer scope whose callee was called from this line; else the innermost
        // one of that name (its line comes from the line table, not from a call).
        let by_line = candidates.iter().copied().find(|&i| {
            chain
                .get(i + 1)
                .is_some_and(|callee| callee.call_line == Some(line))
        });
        by_line
            .or_else(|| candidates.first().copied())
            .and_then(|i| chain.get(i))
            .map_or(func, |s| s.offset)
    }
}
