//! DWARF location expressions evaluated against one frame: registers recovered by the
//! unwinder, the CFA (Go's frame base is DW_OP_call_frame_cfa), memory, and composite
//! pieces. A value that lives (partly) in registers is assembled into bytes and exposed
//! through [`Overlay`] at a synthetic address, so the value loader reads one way only.

use crate::addr::Addr;
use crate::snapshot::{MemError, Memory};
use gimli::{EndianSlice, Evaluation, EvaluationResult, LittleEndian, Location, Value};

/// Synthetic addresses for register-held values start here (never mapped in a process).
pub const SYNTHETIC_BASE: u64 = 0xffff_f000_0000_0000;

/// Where a variable's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Memory(u64),
    /// Bytes assembled from registers, values or pieces.
    Bytes(Vec<u8>),
}

/// What the evaluator needs from a frame.
pub struct FrameRegs<'a> {
    pub regs: &'a [(u16, u64)],
    pub cfa: u64,
}

/// Evaluate `expr`; `size` is the variable's byte size (for register pieces).
pub fn evaluate(
    expr: &[u8],
    encoding: gimli::Encoding,
    frame: &FrameRegs<'_>,
    mem: &dyn Memory,
    size: u64,
) -> Result<Place, String> {
    let mut eval: Evaluation<EndianSlice<'_, LittleEndian>> =
        gimli::Expression(EndianSlice::new(expr, LittleEndian)).evaluation(encoding);
    let mut res = eval.evaluate().map_err(op_error)?;
    let reg = |r: gimli::Register| {
        frame
            .regs
            .iter()
            .find(|(n, _)| *n == r.0)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("register {} not available in this frame", r.0))
    };
    let mut steps = 0;
    loop {
        steps += 1;
        if steps > 1000 {
            return Err("location expression too long".into());
        }
        res = match res {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresFrameBase => {
                if frame.cfa == 0 {
                    return Err("frame base (CFA) unknown in this frame".into());
                }
                eval.resume_with_frame_base(frame.cfa).map_err(op_error)?
            }
            EvaluationResult::RequiresCallFrameCfa => {
                if frame.cfa == 0 {
                    return Err("CFA unknown in this frame".into());
                }
                eval.resume_with_call_frame_cfa(frame.cfa)
                    .map_err(op_error)?
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                let v = reg(register)?;
                eval.resume_with_register(Value::Generic(v))
                    .map_err(op_error)?
            }
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut b = [0u8; 8];
                let n = usize::from(size).min(8);
                let dst = b.get_mut(..n).ok_or("bad memory size")?;
                mem.read(Addr(address), dst).map_err(|e| e.to_string())?;
                eval.resume_with_memory(Value::Generic(u64::from_le_bytes(b)))
                    .map_err(op_error)?
            }
            other => return Err(format!("unsupported DWARF operation ({other:?})")),
        };
    }
    let pieces = eval.result();
    if let [p] = pieces.as_slice() {
        if p.size_in_bits.is_none() {
            if let Location::Address { address } = p.location {
                return Ok(Place::Memory(address));
            }
        }
    }
    let mut bytes = Vec::new();
    for p in &pieces {
        let n = p
            .size_in_bits
            .map(|b| b.div_ceil(8))
            .unwrap_or(size)
            .min(1 << 16) as usize;
        match &p.location {
            // Delve reads a piece with nothing on the stack (padding, or a part the
            // compiler dropped) as zeros; its values print the same way.
            Location::Empty => bytes.extend(std::iter::repeat_n(0u8, n)),
            Location::Register { register } => {
                let v = reg(*register)?.to_le_bytes();
                bytes.extend((0..n).map(|i| v.get(i).copied().unwrap_or(0)));
            }
            Location::Address { address } => {
                let mut b = vec![0u8; n];
                mem.read(Addr(*address), &mut b)
                    .map_err(|e| e.to_string())?;
                bytes.extend(b);
            }
            Location::Value { value } => {
                let v = match value {
                    Value::Generic(x) | Value::U64(x) => *x,
                    Value::I64(x) => *x as u64,
                    Value::U32(x) => u64::from(*x),
                    Value::I32(x) => *x as u64,
                    Value::F64(f) => f.to_bits(),
                    Value::F32(f) => u64::from(f.to_bits()),
                    _ => 0,
                }
                .to_le_bytes();
                bytes.extend((0..n).map(|i| v.get(i).copied().unwrap_or(0)));
            }
            Location::Bytes { value } => bytes.extend(value.slice().iter().take(n)),
            Location::ImplicitPointer { .. } => {
                return Err("implicit pointer locations are not supported".into())
            }
        }
    }
    Ok(Place::Bytes(bytes))
}

/// A location as Delve's `show-location-expr` prints it: `[block] ` for an expression
/// given directly, `[LIST_OFFSET:PC] ` for a location-list entry, then the
/// operations (`DW_OP_fbreg -0x18 `), and ` (escaped)` for a variable moved to
/// the heap.
pub fn describe_location(expr: &[u8], list_offset: Option<u64>, pc: u64, escaped: bool) -> String {
    let mut s = match list_offset {
        None => "[block] ".to_string(),
        Some(o) => format!("[{o:#x}:{pc:#x}] "),
    };
    s.push_str(&pretty_ops(expr));
    if escaped {
        s.push_str(" (escaped)");
    }
    s
}

/// DWARF operations as text, each `NAME ARGS ` (Go's %#x for numbers).
pub fn pretty_ops(expr: &[u8]) -> String {
    use gimli::constants as c;
    let mut out = String::new();
    let mut r = EndianSlice::new(expr, LittleEndian);
    let hex = |n: i128| {
        if n < 0 {
            format!("-{:#x} ", -n)
        } else {
            format!("{n:#x} ")
        }
    };
    use gimli::Reader;
    while !r.is_empty() {
        let Ok(op) = r.read_u8() else { break };
        let dw = c::DwOp(op);
        match dw.static_string() {
            Some(n) => {
                out.push_str(n);
                out.push(' ');
            }
            None => {
                out.push_str(&format!("{op:#x} "));
                break;
            }
        }
        // Arguments of the operations Go emits (and the common others).
        let arg = match dw {
            c::DW_OP_addr | c::DW_OP_const8u => r.read_u64().map(|n| hex(n.into())),
            c::DW_OP_const8s => r.read_i64().map(|n| hex(n.into())),
            c::DW_OP_const1u | c::DW_OP_pick | c::DW_OP_deref_size => {
                r.read_u8().map(|n| hex(n.into()))
            }
            c::DW_OP_const1s => r.read_i8().map(|n| hex(n.into())),
            c::DW_OP_const2u => r.read_u16().map(|n| hex(n.into())),
            c::DW_OP_const2s | c::DW_OP_skip | c::DW_OP_bra => r.read_i16().map(|n| hex(n.into())),
            c::DW_OP_const4u => r.read_u32().map(|n| hex(n.into())),
            c::DW_OP_const4s => r.read_i32().map(|n| hex(n.into())),
            c::DW_OP_constu | c::DW_OP_plus_uconst | c::DW_OP_piece | c::DW_OP_regx => {
                r.read_uleb128().map(|n| hex(n.into()))
            }
            c::DW_OP_consts | c::DW_OP_fbreg => r.read_sleb128().map(|n| hex(n.into())),
            c::DW_OP_bregx => r.read_uleb128().and_then(|a| {
                r.read_sleb128()
                    .map(|b| format!("{}{}", hex(a.into()), hex(b.into())))
            }),
            c::DW_OP_bit_piece => r.read_uleb128().and_then(|a| {
                r.read_uleb128()
                    .map(|b| format!("{}{}", hex(a.into()), hex(b.into())))
            }),
            d if (c::DW_OP_breg0.0..=c::DW_OP_breg31.0).contains(&d.0) => {
                r.read_sleb128().map(|n| hex(n.into()))
            }
            _ => Ok(String::new()),
        };
        match arg {
            Ok(a) => out.push_str(&a),
            Err(_) => break,
        }
    }
    out
}

/// Expression errors in Delve's words where they differ from gimli's.
fn op_error(e: gimli::Error) -> String {
    match e {
        gimli::Error::NotEnoughStackItems => "empty OP stack".into(),
        other => other.to_string(),
    }
}

/// Memory with synthetic regions holding register-assembled values.
pub struct Overlay<'a> {
    pub mem: &'a dyn Memory,
    pub regions: Vec<(u64, Vec<u8>)>,
}

impl<'a> Overlay<'a> {
    pub fn new(mem: &'a dyn Memory) -> Overlay<'a> {
        Overlay {
            mem,
            regions: Vec::new(),
        }
    }
    /// Place bytes at a fresh synthetic address and return it.
    pub fn add(&mut self, bytes: Vec<u8>) -> u64 {
        let next = self
            .regions
            .last()
            .map(|(a, b)| a.saturating_add(b.len() as u64 + 64))
            .unwrap_or(SYNTHETIC_BASE);
        self.regions.push((next, bytes));
        next
    }
}

impl Memory for Overlay<'_> {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        if addr.0 >= SYNTHETIC_BASE {
            for (a, b) in &self.regions {
                if addr.0 >= *a {
                    let off = usize::try_from(addr.0 - a).map_err(|_| MemError::Unmapped(addr))?;
                    let end = off.checked_add(buf.len()).ok_or(MemError::Unmapped(addr))?;
                    if let Some(src) = b.get(off..end) {
                        buf.copy_from_slice(src);
                        return Ok(());
                    }
                }
            }
            return Err(MemError::Unmapped(addr));
        }
        self.mem.read(addr, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_text_as_delve_prints_it() {
        // DW_OP_fbreg -0x18 (sleb128 0x68), escaped.
        assert_eq!(
            describe_location(&[0x91, 0x68], None, 0, true),
            "[block] DW_OP_fbreg -0x18  (escaped)"
        );
        // DW_OP_addr 0x5a2638.
        let mut addr = vec![0x03];
        addr.extend(0x5a2638u64.to_le_bytes());
        assert_eq!(
            describe_location(&addr, None, 0, false),
            "[block] DW_OP_addr 0x5a2638 "
        );
        // A list entry: fbreg 8, piece 8, fbreg 0x10, piece 8.
        assert_eq!(
            describe_location(
                &[0x91, 0x08, 0x93, 0x08, 0x91, 0x10, 0x93, 0x08],
                Some(0x20b),
                0x4aa62b,
                false
            ),
            "[0x20b:0x4aa62b] DW_OP_fbreg 0x8 DW_OP_piece 0x8 DW_OP_fbreg 0x10 DW_OP_piece 0x8 "
        );
        assert_eq!(pretty_ops(&[0x9c]), "DW_OP_call_frame_cfa ");
        assert_eq!(pretty_ops(&[]), "");
        // Truncated argument: stops without panicking.
        assert_eq!(pretty_ops(&[0x03, 0x01]), "DW_OP_addr ");
    }
}
