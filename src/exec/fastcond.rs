//! Which breakpoint conditions the tracee can test itself (`backend::FastCond`).
//!
//! A condition qualifies when it is `VAR OP CONST`, `CONST OP VAR`, `VAR` or `!VAR`
//! with one integer or bool local (or argument) of the breakpoint's function whose
//! DWARF location at the breakpoint's address is a register or a frame-base offset.
//! Anything else (globals, fields, calls, several variables, inlined frames, escaped
//! variables, closures' captures) keeps the ordinary evaluation at each hit. The
//! compiled test is a filter: a true hit is still evaluated in full. It can only miss
//! a stop if it reads another variable than the evaluator does, which is why
//! shadowed names and inlined frames are refused.

use crate::addr::Addr;
use crate::backend::{CondOp, CondOperand, FastCond};
use crate::symbols::dwarf::VarLocation;
use crate::target::Target;
use crate::vars::expr::{self, Expr};
use crate::vars::Kind;

/// The compiled form of `cond` at the run-time breakpoint address `pc`, if it has one.
pub fn compile(t: &Target, pc: Addr, cond: &str) -> Option<FastCond> {
    let (name, op, value) = shape(&expr::parse(cond).ok()?)?;
    let dwarf = t.dwarf()?;
    let link = pc.0.wrapping_sub(t.bias());
    let pcln = t.pclntab();
    let f = pcln.func_for_pc(Addr(link))?;
    // Frame 0 at an inlined call site is the inlined function: its variables are not
    // the ones looked up here.
    if pcln
        .inline_frames(&f, Addr(link))
        .iter()
        .any(|fr| fr.inlined)
    {
        return None;
    }
    let line = pcln.file_line(&f, Addr(link)).map(|(_, l)| u64::from(l))?;
    let sp_delta = pcln.sp_delta(&f, Addr(link))?;
    let func = dwarf.function_at(link)?;
    let dies = dwarf.variables(func.offset, link, link).ok()?;
    // As the evaluator sees them (`frame_vars`): locals declared below the line are not
    // in scope yet. `&name` is an escaped variable (on the heap): not a fixed place.
    let mut same = dies.iter().filter(|d| {
        d.name.strip_prefix('&').unwrap_or(&d.name) == name
            && (d.is_param || d.decl_line.is_none_or(|l| l <= line))
    });
    let d = same.next()?;
    if same.next().is_some() || d.name.starts_with('&') || d.closure_offset.is_some() {
        return None;
    }
    let ty = d.type_id?;
    let loader = crate::vars::load::Loader::for_target(t, dwarf, t.memory());
    let kind = loader.kind_of(ty);
    let (size, signed) = match kind {
        Kind::Int | Kind::Int64 => (8, true),
        Kind::Int32 => (4, true),
        Kind::Int16 => (2, true),
        Kind::Int8 => (1, true),
        Kind::Uint | Kind::Uint64 | Kind::Uintptr => (8, false),
        Kind::Uint32 => (4, false),
        Kind::Uint16 => (2, false),
        Kind::Uint8 => (1, false),
        Kind::Bool => (1, false),
        _ => return None,
    };
    let is_bool = kind == Kind::Bool;
    if dwarf.size_of(ty)? != size {
        return None;
    }
    // A bool is tested bare (`b`, `!b`); an integer is compared with a constant.
    let (op, value) = match (is_bool, op, value) {
        (true, Shape::Truth(want), _) => (if want { CondOp::Ne } else { CondOp::Eq }, 0),
        (false, Shape::Cmp(op), Some(v)) => (op, i64::try_from(v).ok()?),
        _ => return None,
    };
    let VarLocation::Expr { expr, .. } = &d.location else {
        return None;
    };
    // The CFA (Go's frame base) is RSP at the breakpoint plus what the function has
    // pushed there plus the return address.
    let cfa_from_rsp = i64::from(sp_delta) + 8;
    let operand = match location(expr, size)? {
        Loc::Reg(r) => CondOperand::Reg(r),
        Loc::FrameBase(off) => CondOperand::Stack(i32::try_from(cfa_from_rsp + off).ok()?),
    };
    // Padding before this function's entry and before the next one's: where a short
    // jmp over a 2-4 byte instruction can go (`condpad.rs`).
    let holes = [f.entry, f.end].map(|e| {
        let h = e.get().checked_sub(5)?.wrapping_add(t.bias());
        let mut b = [0u8; 5];
        t.memory().read(Addr(h), &mut b).ok()?;
        b.iter().all(|&x| x == 0xcc).then_some(h)
    });
    Some(FastCond {
        operand,
        size: size as u8,
        signed,
        op,
        value,
        holes,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Cmp(CondOp),
    /// A bare bool: true for `b`, false for `!b`.
    Truth(bool),
}

/// `VAR OP CONST` (or flipped), `VAR`, `!VAR`: the name, the operator as applied to
/// the variable on the left, and the constant.
fn shape(e: &Expr) -> Option<(String, Shape, Option<i128>)> {
    match e {
        Expr::Ident(n) => Some((n.clone(), Shape::Truth(true), None)),
        Expr::Unary("!", inner) => match inner.as_ref() {
            Expr::Ident(n) => Some((n.clone(), Shape::Truth(false), None)),
            _ => None,
        },
        Expr::Binary(op, l, r) => {
            let op = cmp_op(op)?;
            match (l.as_ref(), r.as_ref()) {
                (Expr::Ident(n), Expr::Int(v)) => Some((n.clone(), Shape::Cmp(op), Some(*v))),
                (Expr::Int(v), Expr::Ident(n)) => Some((n.clone(), Shape::Cmp(flip(op)), Some(*v))),
                (Expr::Ident(n), Expr::Unary("-", v)) => match v.as_ref() {
                    Expr::Int(v) => Some((n.clone(), Shape::Cmp(op), Some(-*v))),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

fn cmp_op(op: &str) -> Option<CondOp> {
    Some(match op {
        "==" => CondOp::Eq,
        "!=" => CondOp::Ne,
        "<" => CondOp::Lt,
        "<=" => CondOp::Le,
        ">" => CondOp::Gt,
        ">=" => CondOp::Ge,
        _ => return None,
    })
}

/// `CONST OP VAR` as `VAR OP' CONST`.
fn flip(op: CondOp) -> CondOp {
    match op {
        CondOp::Lt => CondOp::Gt,
        CondOp::Gt => CondOp::Lt,
        CondOp::Le => CondOp::Ge,
        CondOp::Ge => CondOp::Le,
        o => o,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Loc {
    Reg(u16),
    FrameBase(i64),
}

/// The location expressions Go emits for a whole variable in one place:
/// `DW_OP_regN`, `DW_OP_fbreg OFF` (frame base = DW_OP_call_frame_cfa in Go's
/// DWARF), `DW_OP_call_frame_cfa`, each optionally followed by one `DW_OP_piece` of
/// the whole size.
fn location(expr: &[u8], size: u64) -> Option<Loc> {
    let (&op, rest) = expr.split_first()?;
    let (loc, rest) = match op {
        0x50..=0x5f => (Loc::Reg(u16::from(op - 0x50)), rest),
        0x91 => {
            let (off, n) = sleb(rest)?;
            (Loc::FrameBase(off), &rest[n..])
        }
        0x9c => (Loc::FrameBase(0), rest),
        _ => return None,
    };
    match rest {
        [] => Some(loc),
        [0x93, tail @ ..] => {
            let (piece, n) = uleb(tail)?;
            (piece == size && n == tail.len()).then_some(loc)
        }
        _ => None,
    }
}

fn uleb(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn sleb(b: &[u8]) -> Option<(i64, usize)> {
    let mut v = 0i64;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= i64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            let shift = 7 * (i + 1);
            if shift < 64 && x & 0x40 != 0 {
                v |= -1i64 << shift;
            }
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_shapes() {
        let s = |c: &str| shape(&expr::parse(c).expect("parses"));
        assert_eq!(
            s("i == 19999"),
            Some(("i".into(), Shape::Cmp(CondOp::Eq), Some(19999)))
        );
        assert_eq!(
            s("10 < n"),
            Some(("n".into(), Shape::Cmp(CondOp::Gt), Some(10)))
        );
        assert_eq!(
            s("n >= -3"),
            Some(("n".into(), Shape::Cmp(CondOp::Ge), Some(-3)))
        );
        assert_eq!(s("done"), Some(("done".into(), Shape::Truth(true), None)));
        assert_eq!(s("!done"), Some(("done".into(), Shape::Truth(false), None)));
        assert_eq!(s("i == j"), None);
        assert_eq!(s("p.x == 1"), None);
        assert_eq!(s("i == 1 && j == 2"), None);
        assert_eq!(s("i + 1 == 2"), None);
    }

    #[test]
    fn location_forms() {
        assert_eq!(location(&[0x50], 8), Some(Loc::Reg(0)));
        assert_eq!(location(&[0x5f, 0x93, 0x08], 8), Some(Loc::Reg(15)));
        assert_eq!(location(&[0x5f, 0x93, 0x04], 8), None, "a piece of it");
        // fbreg -24, fbreg +8
        assert_eq!(location(&[0x91, 0x68], 8), Some(Loc::FrameBase(-24)));
        assert_eq!(location(&[0x91, 0x08], 8), Some(Loc::FrameBase(8)));
        assert_eq!(location(&[0x9c], 8), Some(Loc::FrameBase(0)));
        // Two pieces in two registers; an address computed from memory.
        assert_eq!(location(&[0x50, 0x93, 0x04, 0x51, 0x93, 0x04], 8), None);
        assert_eq!(location(&[0x91, 0x68, 0x06], 8), None);
        assert_eq!(location(&[], 8), None);
    }
}
