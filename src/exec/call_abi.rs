//! The parts of `call` that know Go's syntax, ABI and DWARF: splitting `F(a, b)`,
//! naming methods, converting an argument to the callee's parameter type, and finding
//! where each parameter lives (registers, stack) at the callee's first instruction.
//!
//! Where a parameter lives is read from the callee's DWARF at its entry PC, as Delve
//! does (`funcCallArgRegABI`): for register-ABI functions built with `-N -l` the
//! location list says which registers hold each piece at entry; for the old stack ABI
//! it names CFA offsets. So one code path serves both ABIs.

use crate::snapshot::{Memory, Registers};
use crate::symbols::dwarf::TypeId;
use crate::vars::load::Loader;
use crate::vars::{Kind, Var};
use gimli::{EndianSlice, Evaluation, EvaluationResult, LittleEndian, Location, Value};

/// amd64 register ABI: bytes of the 9 integer and 15 floating-point argument
/// registers (Delve's `maxRegArgBytes`), added to the argument frame for spills.
pub(super) const MAX_REG_ARG_BYTES: u64 = 9 * 8 + 15 * 8;

/// `F(a, "b, c")` -> `("F", ["a", "\"b, c\""])`.
pub(super) fn split_call(expr: &str) -> Result<(String, Vec<String>), String> {
    let e = expr.trim();
    if !e.ends_with(')') {
        return Err(format!("{e} is not a function call"));
    }
    let mut depth = 0i32;
    let mut in_str = false;
    let mut escaped = false;
    let mut open = None;
    let mut last_open_at_zero = None;
    for (i, c) in e.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => {
                if depth == 0 && c == '(' {
                    last_open_at_zero = Some(i);
                }
                depth += 1;
            }
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 && c == ')' && i + 1 == e.len() {
                    open = last_open_at_zero;
                }
            }
            _ => {}
        }
    }
    let open = open.ok_or_else(|| format!("{e} is not a function call"))?;
    let fun = e.get(..open).unwrap_or("").trim().to_string();
    let inner = e.get(open + 1..e.len() - 1).unwrap_or("");
    if fun.is_empty() {
        return Err(format!("{e} is not a function call"));
    }
    Ok((fun, split_args(inner)))
}

/// Top-level comma-separated arguments (commas inside strings and brackets kept).
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut escaped, mut start) = (0i32, false, false, 0usize);
    for (i, c) in s.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s.get(start..i).unwrap_or("").trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s.get(start..).unwrap_or("").trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last.to_string());
    }
    out
}

/// The package of a function name: `main` for `main.(*T).M`, `net/http` for
/// `net/http.Get`.
pub(super) fn package_of(func: &str) -> Option<&str> {
    let slash = func.rfind('/').map_or(0, |i| i + 1);
    let dot = func.get(slash..)?.find('.')?;
    func.get(..slash + dot)
}

/// Method symbol names for receiver type `ty` (`*main.Calc` or `main.Calc`):
/// (pointer-receiver name, value-receiver name).
pub(super) fn method_names(ty: &str, method: &str) -> Option<(String, String)> {
    let base = ty.trim_start_matches('*');
    let slash = base.rfind('/').map_or(0, |i| i + 1);
    let dot = slash + base.get(slash..)?.rfind('.')?;
    let (pkg, name) = (base.get(..dot)?, base.get(dot + 1..)?);
    if pkg.is_empty() || name.is_empty() {
        return None;
    }
    Some((
        format!("{pkg}.(*{name}).{method}"),
        format!("{pkg}.{name}.{method}"),
    ))
}

/// Where one piece of a parameter lives at the callee's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Piece {
    /// DWARF register number, bytes.
    Reg(u16, usize),
    /// Address, bytes.
    Mem(u64, usize),
}

/// The pieces of a location expression evaluated with `regs` and `cfa`.
pub(super) fn pieces(
    expr: &[u8],
    encoding: gimli::Encoding,
    regs: &[(u16, u64)],
    cfa: u64,
    mem: &dyn Memory,
    size: u64,
) -> Result<Vec<Piece>, String> {
    let mut eval: Evaluation<EndianSlice<'_, LittleEndian>> =
        gimli::Expression(EndianSlice::new(expr, LittleEndian)).evaluation(encoding);
    let reg = |r: gimli::Register| {
        regs.iter()
            .find(|(n, _)| *n == r.0)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("register {} is not available", r.0))
    };
    let mut res = eval.evaluate().map_err(|e| e.to_string())?;
    for _ in 0..1000 {
        res = match res {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresFrameBase => eval
                .resume_with_frame_base(cfa)
                .map_err(|e| e.to_string())?,
            EvaluationResult::RequiresCallFrameCfa => eval
                .resume_with_call_frame_cfa(cfa)
                .map_err(|e| e.to_string())?,
            EvaluationResult::RequiresRegister { register, .. } => eval
                .resume_with_register(Value::Generic(reg(register)?))
                .map_err(|e| e.to_string())?,
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut b = [0u8; 8];
                let n = usize::from(size).min(8);
                let dst = b.get_mut(..n).ok_or("bad memory size")?;
                mem.read(crate::addr::Addr(address), dst)
                    .map_err(|e| e.to_string())?;
                eval.resume_with_memory(Value::Generic(u64::from_le_bytes(b)))
                    .map_err(|e| e.to_string())?
            }
            other => return Err(format!("unsupported DWARF operation ({other:?})")),
        };
    }
    let mut out = Vec::new();
    for p in eval.result() {
        let n = p.size_in_bits.map(|b| b.div_ceil(8)).unwrap_or(size) as usize;
        match p.location {
            Location::Register { register } => out.push(Piece::Reg(register.0, n)),
            Location::Address { address } => out.push(Piece::Mem(address, n)),
            // Padding between pieces.
            Location::Empty => out.push(Piece::Mem(0, n)),
            other => return Err(format!("unsupported parameter location {other:?}")),
        }
    }
    Ok(out)
}

/// Write `bytes` into `regs` for a register piece (general-purpose registers).
pub(super) fn set_reg_piece(regs: &mut Registers, reg: u16, bytes: &[u8]) -> Result<(), String> {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b.get_mut(..n)
        .ok_or("bad piece size")?
        .copy_from_slice(bytes.get(..n).ok_or("bad piece size")?);
    if regs.set_by_dwarf(reg, u64::from_le_bytes(b)) {
        Ok(())
    } else {
        Err(format!("parameter register {reg} cannot be written"))
    }
}

/// An argument converted to the callee's parameter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ArgVal {
    Bytes(Vec<u8>),
    /// A string constant: the runtime must allocate its bytes first.
    Literal(String),
}

/// Convert the evaluated argument `actual` (read through `mem`) to a parameter of
/// type `ty`, as Delve's `setValue` does: typed values must have the same type and
/// are copied; constants convert to numeric, bool and string types; nil to nillable
/// types.
pub(super) fn convert(
    loader: &Loader<'_>,
    mem: &dyn Memory,
    actual: &Var,
    ty: TypeId,
) -> Result<ArgVal, String> {
    let dwarf = loader.dwarf;
    let size = dwarf.size_of(ty).unwrap_or(0) as usize;
    let want = dwarf.type_name(ty);
    let kind = loader.kind_of(ty);
    if !actual.unreadable.is_empty() {
        return Err(format!(
            "Expression {:?} is unreadable: {}",
            actual.name, actual.unreadable
        ));
    }
    if actual.ty == "nil" {
        return match kind {
            Kind::Ptr
            | Kind::UnsafePointer
            | Kind::Slice
            | Kind::Map
            | Kind::Func
            | Kind::Chan
            | Kind::Interface => Ok(ArgVal::Bytes(vec![0; size])),
            _ => Err(format!("mismatched types nil and {want}")),
        };
    }
    if actual.addr != 0 && actual.type_id.is_some() {
        if actual.ty != want {
            return Err(format!(
                "can not convert value of type {} to {want}",
                actual.ty
            ));
        }
        let mut b = vec![0u8; size];
        mem.read(crate::addr::Addr(actual.addr), &mut b)
            .map_err(|e| e.to_string())?;
        return Ok(ArgVal::Bytes(b));
    }
    // A constant or a computed value: its text is the value.
    let conv = || format!("can not convert {} constant to {want}", actual.value);
    let int = || -> Result<i128, String> {
        if !(actual.kind.is_int() || actual.kind.is_uint()) {
            return Err(conv());
        }
        actual.value.parse::<i128>().map_err(|_| conv())
    };
    let le = |n: u128| n.to_le_bytes().get(..size).map(<[u8]>::to_vec);
    let bytes = match kind {
        k if k.is_int() || k.is_uint() => le(int()? as u128),
        Kind::Float32 | Kind::Float64 => {
            if !(actual.kind.is_int() || actual.kind.is_uint() || actual.kind.is_float()) {
                return Err(conv());
            }
            let f: f64 = actual.value.parse().map_err(|_| conv())?;
            Some(if kind == Kind::Float32 {
                (f as f32).to_bits().to_le_bytes().to_vec()
            } else {
                f.to_bits().to_le_bytes().to_vec()
            })
        }
        Kind::Bool => match (actual.kind, actual.value.as_str()) {
            (Kind::Bool, "true") => Some(vec![1]),
            (Kind::Bool, "false") => Some(vec![0]),
            _ => return Err(conv()),
        },
        Kind::String if actual.kind == Kind::String => {
            return Ok(ArgVal::Literal(actual.value.clone()))
        }
        _ => None,
    };
    bytes.map(ArgVal::Bytes).ok_or_else(conv)
}

/// Whether a parameter of this kind holds a pointer in its first word (the escape
/// check looks there).
pub(super) fn pointer_shaped(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Ptr
            | Kind::UnsafePointer
            | Kind::String
            | Kind::Slice
            | Kind::Map
            | Kind::Chan
            | Kind::Func
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_split_at_top_level() {
        assert_eq!(
            split_call("Add(1, 2)").ok(),
            Some(("Add".into(), vec!["1".into(), "2".into()]))
        );
        assert_eq!(
            split_call(r#"Greet("a, (b")"#).ok(),
            Some(("Greet".into(), vec![r#""a, (b""#.into()]))
        );
        assert_eq!(
            split_call("main.Calculator.Mul(f(1, 2), x[3])").ok(),
            Some((
                "main.Calculator.Mul".into(),
                vec!["f(1, 2)".into(), "x[3]".into()]
            ))
        );
        assert_eq!(split_call("Fail()").ok(), Some(("Fail".into(), vec![])));
        assert!(split_call("x + 1").is_err());
        assert!(split_call("(x)").is_err());
    }

    #[test]
    fn packages_and_methods_are_named_as_the_linker_names_them() {
        assert_eq!(package_of("main.(*Calc).Mul"), Some("main"));
        assert_eq!(package_of("net/http.(*Client).Do"), Some("net/http"));
        assert_eq!(package_of("nodot"), None);
        assert_eq!(
            method_names("*main.Calc", "Mul"),
            Some(("main.(*Calc).Mul".into(), "main.Calc.Mul".into()))
        );
        assert_eq!(
            method_names("example.com/a.b/pkg.T", "M"),
            Some((
                "example.com/a.b/pkg.(*T).M".into(),
                "example.com/a.b/pkg.T.M".into()
            ))
        );
        assert_eq!(method_names("int", "M"), None);
    }
}
