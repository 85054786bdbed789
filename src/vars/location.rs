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
    let mut res = eval.evaluate().map_err(|e| e.to_string())?;
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
                eval.resume_with_frame_base(frame.cfa)
                    .map_err(|e| e.to_string())?
            }
            EvaluationResult::RequiresCallFrameCfa => {
                if frame.cfa == 0 {
                    return Err("CFA unknown in this frame".into());
                }
                eval.resume_with_call_frame_cfa(frame.cfa)
                    .map_err(|e| e.to_string())?
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                let v = reg(register)?;
                eval.resume_with_register(Value::Generic(v))
                    .map_err(|e| e.to_string())?
            }
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut b = [0u8; 8];
                let n = usize::from(size).min(8);
                let dst = b.get_mut(..n).ok_or("bad memory size")?;
                mem.read(Addr(address), dst).map_err(|e| e.to_string())?;
                eval.resume_with_memory(Value::Generic(u64::from_le_bytes(b)))
                    .map_err(|e| e.to_string())?
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
            Location::Empty => return Err("optimized out (empty piece)".into()),
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
