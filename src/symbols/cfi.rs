//! Call frame information (.eh_frame / .debug_frame). OWNER: DWARF engineer.
//!
//! [`Cfi::unwind_step`] computes a caller's registers from a callee's, the way the
//! DWARF CFI of the callee describes it. Addresses inside the CFI are link-time
//! addresses; a load bias (PIE, shared objects) is subtracted from the lookup PC and
//! added to `DW_OP_addr` operands, so callers work in runtime addresses only.
//!
//! FDE lookup: `.eh_frame_hdr`'s binary search table when present, otherwise a sorted
//! table of all FDEs built on first use (`.eh_frame` without header, `.debug_frame`,
//! which is what Go's linker emits). gimli's `UnwindContext` is reused per thread.

use crate::addr::Addr;
use crate::snapshot::{Memory, Registers};
use crate::symbols::Binary;
use gimli::{
    BaseAddresses, CfaRule, CieOrFde, DebugFrame, EhFrame, EhFrameHdr, EndianSlice, Expression,
    LittleEndian, Location, RegisterRule, UnwindContext, UnwindSection, UnwindTableRow, Value,
};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// Number of DWARF registers tracked on amd64: rax..r15 (0..=15) and the return
/// address column rip (16).
pub const NUM_REGS: usize = 17;

/// DWARF register numbers of the System V amd64 ABI that unwinding cares about.
pub mod reg {
    pub const RAX: u16 = 0;
    pub const RDX: u16 = 1;
    pub const RCX: u16 = 2;
    pub const RBX: u16 = 3;
    pub const RSI: u16 = 4;
    pub const RDI: u16 = 5;
    pub const RBP: u16 = 6;
    pub const RSP: u16 = 7;
    pub const R12: u16 = 12;
    pub const R13: u16 = 13;
    pub const R14: u16 = 14;
    pub const R15: u16 = 15;
    pub const RIP: u16 = 16;
}

/// Registers known in one frame, by DWARF register number (0..=16 on amd64).
/// `None` means "not recoverable in this frame".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegSet {
    pub regs: [Option<u64>; NUM_REGS],
}

impl RegSet {
    pub fn new() -> RegSet {
        RegSet::default()
    }

    /// All 17 registers of a thread (from NT_PRSTATUS or ptrace).
    pub fn from_registers(r: &Registers) -> RegSet {
        let mut s = RegSet::default();
        for n in 0..NUM_REGS as u16 {
            s.set(n, r.by_dwarf(n));
        }
        s
    }

    /// A frame where only pc, sp and (optionally) bp are known, e.g. a goroutine's
    /// saved `gobuf`.
    pub fn from_pc_sp_bp(pc: u64, sp: u64, bp: Option<u64>) -> RegSet {
        let mut s = RegSet::default();
        s.set(reg::RIP, Some(pc));
        s.set(reg::RSP, Some(sp));
        s.set(reg::RBP, bp);
        s
    }

    pub fn get(&self, n: u16) -> Option<u64> {
        self.regs.get(usize::from(n)).copied().flatten()
    }

    /// Set register `n`; registers outside 0..=16 are ignored.
    pub fn set(&mut self, n: u16, v: Option<u64>) {
        if let Some(slot) = self.regs.get_mut(usize::from(n)) {
            *slot = v;
        }
    }

    pub fn pc(&self) -> Option<u64> {
        self.get(reg::RIP)
    }
    pub fn sp(&self) -> Option<u64> {
        self.get(reg::RSP)
    }
    pub fn bp(&self) -> Option<u64> {
        self.get(reg::RBP)
    }

    /// Known registers as (DWARF number, value) pairs, for `unwind::Frame::regs`.
    pub fn known(&self) -> Vec<(u16, u64)> {
        (0..NUM_REGS as u16)
            .filter_map(|n| self.get(n).map(|v| (n, v)))
            .collect()
    }
}

/// One unwind section's bytes and link-time address.
struct UnwindSec {
    addr: u64,
    data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Eh,
    Debug,
}

/// One FDE of the lazily built lookup table (link-time addresses).
#[derive(Debug, Clone, Copy)]
struct FdeEntry {
    start: u64,
    end: u64,
    offset: usize,
    which: Which,
}

/// Section contents and addresses a [`Cfi`] is built from (for providers other than
/// [`Binary`], e.g. a shared library mapped in a core).
#[derive(Default)]
pub struct CfiSections<'a> {
    /// (link-time address, bytes) of `.eh_frame`.
    pub eh_frame: Option<(u64, Cow<'a, [u8]>)>,
    pub eh_frame_hdr: Option<(u64, Cow<'a, [u8]>)>,
    /// `.debug_frame` (decompressed); its address does not matter.
    pub debug_frame: Option<Cow<'a, [u8]>>,
    /// Link-time addresses of `.text` and `.got`, for DW_EH_PE_textrel/datarel pointers.
    pub text_addr: Option<u64>,
    pub got_addr: Option<u64>,
}

/// Call frame information of one module. Send + Sync; lookups take `&self`.
pub struct Cfi {
    eh_frame: Option<UnwindSec>,
    eh_frame_hdr: Option<UnwindSec>,
    debug_frame: Option<UnwindSec>,
    text_addr: Option<u64>,
    got_addr: Option<u64>,
    /// Runtime address minus link-time address.
    bias: u64,
    fdes: OnceLock<Vec<FdeEntry>>,
}

thread_local! {
    // Unwind contexts hold heap buffers; reusing one per thread keeps steps cheap.
    static CONTEXT: RefCell<UnwindContext<usize>> = RefCell::new(UnwindContext::new());
}

/// Expressions in CFI are evaluated with amd64's 8-byte addresses.
const ENCODING: gimli::Encoding = gimli::Encoding {
    format: gimli::Format::Dwarf32,
    version: 4,
    address_size: 8,
};

/// Bad bytecode must not spin forever.
const MAX_EXPR_STEPS: u32 = 10_000;

/// Registers the amd64 ABI makes callees preserve: when CFI says nothing about them,
/// the caller's value is the callee's.
const CALLEE_SAVED: [u16; 6] = [reg::RBX, reg::RBP, reg::R12, reg::R13, reg::R14, reg::R15];

impl Cfi {
    /// CFI of a binary loaded at its link-time addresses (non-PIE Go binaries).
    pub fn load(bin: &Binary) -> Cfi {
        Cfi::load_with_bias(bin, 0)
    }

    /// CFI of a binary loaded `bias` bytes above its link-time addresses.
    pub fn load_with_bias(bin: &Binary, bias: u64) -> Cfi {
        let addr_of = |name: &str| bin.section(name).map(|s| s.addr.get());
        let with_addr = |name: &str| Some((addr_of(name)?, bin.section_data(name)?));
        Cfi::from_sections(
            CfiSections {
                eh_frame: with_addr(".eh_frame"),
                eh_frame_hdr: with_addr(".eh_frame_hdr"),
                debug_frame: bin.section_data(".debug_frame"),
                text_addr: addr_of(".text"),
                got_addr: addr_of(".got"),
            },
            bias,
        )
    }

    /// Build from explicit sections (copied: the `Cfi` owns its data).
    pub fn from_sections(s: CfiSections<'_>, bias: u64) -> Cfi {
        let own = |o: Option<(u64, Cow<'_, [u8]>)>| {
            o.filter(|(_, d)| !d.is_empty()).map(|(addr, d)| UnwindSec {
                addr,
                data: d.into_owned(),
            })
        };
        Cfi {
            eh_frame: own(s.eh_frame),
            eh_frame_hdr: own(s.eh_frame_hdr),
            debug_frame: own(s.debug_frame.map(|d| (0, d))),
            text_addr: s.text_addr,
            got_addr: s.got_addr,
            bias,
            fdes: OnceLock::new(),
        }
    }

    /// True when no unwind section was found.
    pub fn is_empty(&self) -> bool {
        self.eh_frame.is_none() && self.debug_frame.is_none()
    }

    pub fn bias(&self) -> u64 {
        self.bias
    }

    /// Whether some FDE covers the runtime address `pc`.
    pub fn has_fde(&self, pc: u64) -> bool {
        self.find_fde(pc.wrapping_sub(self.bias)).is_some()
    }

    /// Range [start, end) (runtime addresses) of the FDE covering `pc`.
    pub fn fde_range(&self, pc: u64) -> Option<(Addr, Addr)> {
        let e = self.find_fde(pc.wrapping_sub(self.bias))?;
        Some((
            Addr(e.start.wrapping_add(self.bias)),
            Addr(e.end.wrapping_add(self.bias)),
        ))
    }

    /// Whether the FDE covering `pc` is marked as a signal trampoline (augmentation
    /// 'S', e.g. glibc's `__restore_rt`): its caller's PC is looked up as is, not -1.
    pub fn is_signal_frame(&self, pc: u64) -> bool {
        let Some(e) = self.find_fde(pc.wrapping_sub(self.bias)) else {
            return false;
        };
        let bases = self.bases();
        match e.which {
            Which::Eh => self.eh_section().and_then(|s| {
                s.fde_from_offset(&bases, e.offset.into(), EhFrame::cie_from_offset)
                    .ok()
            }),
            Which::Debug => self.debug_section().and_then(|s| {
                s.fde_from_offset(&bases, e.offset.into(), DebugFrame::cie_from_offset)
                    .ok()
            }),
        }
        .is_some_and(|f| f.is_signal_trampoline())
    }

    /// One unwind step: the caller's registers, from the registers of the frame
    /// executing at `regs`.
    ///
    /// Argument convention: `lookup_pc` is the address used to find the FDE and row:
    /// the frame's PC for the innermost frame and for frames interrupted by a signal,
    /// and `return address - 1` for every other frame (the return address may be the
    /// first byte of the next function or of the next CFI row). `regs` holds the
    /// frame's real registers (its `rip` is the real PC, unused by the rules).
    ///
    /// The result has `rsp` = CFA and `rip` = the return address. `rip` is `None` when
    /// the CFI marks the return address undefined: this frame is the outermost one.
    /// Returns `None` when no FDE covers `lookup_pc`, or the CFA or the return address
    /// cannot be computed (unknown register, unreadable memory). Other registers whose
    /// rule cannot be evaluated are just `None` in the result.
    pub fn unwind_step(&self, lookup_pc: u64, regs: &RegSet, mem: &dyn Memory) -> Option<RegSet> {
        let pc = lookup_pc.wrapping_sub(self.bias);
        let fde = self.find_fde(pc)?;
        let bases = self.bases();
        CONTEXT.with(|cell| {
            // A re-entrant call (a Memory impl that unwinds) gets a fresh context.
            let mut fresh;
            let mut guard = cell.try_borrow_mut().ok();
            let ctx: &mut UnwindContext<usize> = match guard.as_deref_mut() {
                Some(c) => c,
                None => {
                    fresh = UnwindContext::new();
                    &mut fresh
                }
            };
            match fde.which {
                Which::Eh => {
                    let sec = self.eh_section()?;
                    let fde = sec
                        .fde_from_offset(&bases, fde.offset.into(), EhFrame::cie_from_offset)
                        .ok()?;
                    let ra = fde.cie().return_address_register().0;
                    let row = fde.unwind_info_for_address(&sec, &bases, ctx, pc).ok()?;
                    self.apply(row, &sec, ra, regs, mem)
                }
                Which::Debug => {
                    let sec = self.debug_section()?;
                    let fde = sec
                        .fde_from_offset(&bases, fde.offset.into(), DebugFrame::cie_from_offset)
                        .ok()?;
                    let ra = fde.cie().return_address_register().0;
                    let row = fde.unwind_info_for_address(&sec, &bases, ctx, pc).ok()?;
                    self.apply(row, &sec, ra, regs, mem)
                }
            }
        })
    }

    // ----- internals -----

    fn bases(&self) -> BaseAddresses {
        let mut b = BaseAddresses::default();
        if let Some(s) = &self.eh_frame {
            b = b.set_eh_frame(s.addr);
        }
        if let Some(s) = &self.eh_frame_hdr {
            b = b.set_eh_frame_hdr(s.addr);
        }
        if let Some(t) = self.text_addr {
            b = b.set_text(t);
        }
        if let Some(g) = self.got_addr {
            b = b.set_got(g);
        }
        b
    }

    fn eh_section(&self) -> Option<EhFrame<Slice<'_>>> {
        let mut s = EhFrame::new(&self.eh_frame.as_ref()?.data, LittleEndian);
        s.set_address_size(8);
        Some(s)
    }

    fn debug_section(&self) -> Option<DebugFrame<Slice<'_>>> {
        let mut s = DebugFrame::new(&self.debug_frame.as_ref()?.data, LittleEndian);
        s.set_address_size(8);
        Some(s)
    }

    /// The FDE covering link-time `pc`: `.eh_frame_hdr` first, then the full table.
    fn find_fde(&self, pc: u64) -> Option<FdeEntry> {
        if let Some(e) = self.find_fde_hdr(pc) {
            return Some(e);
        }
        let table = self.fdes.get_or_init(|| self.build_table());
        let i = table.partition_point(|e| e.start <= pc);
        let e = table.get(i.checked_sub(1)?)?;
        (pc < e.end).then_some(*e)
    }

    fn find_fde_hdr(&self, pc: u64) -> Option<FdeEntry> {
        let hdr = self.eh_frame_hdr.as_ref()?;
        let eh = self.eh_section()?;
        let bases = self.bases();
        let parsed = EhFrameHdr::new(&hdr.data, LittleEndian)
            .parse(&bases, 8)
            .ok()?;
        let table = parsed.table()?;
        let fde = table
            .fde_for_address(&eh, &bases, pc, EhFrame::cie_from_offset)
            .ok()?;
        Some(FdeEntry {
            start: fde.initial_address(),
            end: fde.end_address(),
            offset: fde.offset(),
            which: Which::Eh,
        })
    }

    /// Every FDE of both sections, sorted by start (eh_frame first on ties: it is
    /// what the running code's own unwinder used).
    fn build_table(&self) -> Vec<FdeEntry> {
        let bases = self.bases();
        let mut out = Vec::new();
        if let Some(sec) = self.eh_section() {
            collect_fdes(&sec, &bases, Which::Eh, &mut out);
        }
        if let Some(sec) = self.debug_section() {
            collect_fdes(&sec, &bases, Which::Debug, &mut out);
        }
        out.sort_by_key(|e| (e.start, e.which == Which::Debug));
        out.dedup_by_key(|e| e.start);
        out
    }

    fn apply<'d, S: UnwindSection<Slice<'d>>>(
        &self,
        row: &UnwindTableRow<usize>,
        sec: &S,
        ra: u16,
        regs: &RegSet,
        mem: &dyn Memory,
    ) -> Option<RegSet> {
        let cfa = match row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } => {
                regs.get(register.0)?.checked_add_signed(*offset)?
            }
            CfaRule::Expression(e) => self.eval(e.get(sec).ok()?, regs, mem, None)?,
        };
        let mut out = RegSet::default();
        for r in CALLEE_SAVED {
            out.set(r, regs.get(r));
        }
        out.set(reg::RSP, Some(cfa));
        let mut ra_val = None;
        for (r, rule) in row.registers() {
            let v = match rule {
                RegisterRule::Undefined | RegisterRule::Architectural => None,
                RegisterRule::SameValue => regs.get(r.0),
                RegisterRule::Offset(n) => read_u64(mem, cfa.checked_add_signed(*n)?),
                RegisterRule::ValOffset(n) => cfa.checked_add_signed(*n),
                RegisterRule::Register(other) => regs.get(other.0),
                RegisterRule::Expression(e) => {
                    let at = self.eval(e.get(sec).ok()?, regs, mem, Some(cfa))?;
                    read_u64(mem, at)
                }
                RegisterRule::ValExpression(e) => self.eval(e.get(sec).ok()?, regs, mem, Some(cfa)),
                RegisterRule::Constant(c) => Some(*c),
                // Rules added by future gimli versions: unknown means unrecoverable.
                _ => None,
            };
            if r.0 == ra {
                // A rule that exists but cannot be evaluated (unreadable stack) is a
                // failed step, not the end of the stack.
                if v.is_none() && !matches!(rule, RegisterRule::Undefined) {
                    return None;
                }
                ra_val = v;
            }
            if r.0 != reg::RIP {
                out.set(r.0, v);
            }
        }
        // The caller resumes at the return address; an RA column without a rule means
        // the CFI gives no caller (outermost frame).
        out.set(reg::RIP, ra_val);
        Some(out)
    }

    /// Run a CFI expression; `initial` is pushed first (the CFA, for register rules).
    /// Returns the top of the stack (an address or a value, per the rule).
    fn eval<'d>(
        &self,
        expr: Expression<Slice<'d>>,
        regs: &RegSet,
        mem: &dyn Memory,
        initial: Option<u64>,
    ) -> Option<u64> {
        let mut ev = expr.evaluation(ENCODING);
        ev.set_max_iterations(MAX_EXPR_STEPS);
        if let Some(v) = initial {
            ev.set_initial_value(v);
        }
        let mut res = ev.evaluate().ok()?;
        loop {
            res = match res {
                gimli::EvaluationResult::Complete => break,
                gimli::EvaluationResult::RequiresMemory { address, size, .. } => {
                    let n = usize::from(size).min(8);
                    let mut b = [0u8; 8];
                    mem.read(Addr(address), b.get_mut(..n)?).ok()?;
                    ev.resume_with_memory(Value::Generic(u64::from_le_bytes(b)))
                        .ok()?
                }
                gimli::EvaluationResult::RequiresRegister { register, .. } => ev
                    .resume_with_register(Value::Generic(regs.get(register.0)?))
                    .ok()?,
                gimli::EvaluationResult::RequiresRelocatedAddress(a) => ev
                    .resume_with_relocated_address(a.wrapping_add(self.bias))
                    .ok()?,
                gimli::EvaluationResult::RequiresCallFrameCfa => {
                    ev.resume_with_call_frame_cfa(initial?).ok()?
                }
                _ => return None,
            };
        }
        match ev.result().first()?.location {
            Location::Address { address } => Some(address),
            Location::Value { value } => value.to_u64(u64::MAX).ok(),
            Location::Register { register } => regs.get(register.0),
            _ => None,
        }
    }
}

fn read_u64(mem: &dyn Memory, at: u64) -> Option<u64> {
    mem.read_u64(Addr(at)).ok()
}

fn collect_fdes<'a, S: UnwindSection<Slice<'a>>>(
    sec: &S,
    bases: &BaseAddresses,
    which: Which,
    out: &mut Vec<FdeEntry>,
) {
    let mut entries = sec.entries(bases);
    // A malformed entry ends the walk: lengths chain entries, so nothing after it can be
    // located reliably.
    while let Ok(Some(entry)) = entries.next() {
        if let CieOrFde::Fde(partial) = entry {
            if let Ok(fde) = partial.parse(S::cie_from_offset) {
                if fde.len() > 0 {
                    out.push(FdeEntry {
                        start: fde.initial_address(),
                        end: fde.end_address(),
                        offset: fde.offset(),
                        which,
                    });
                }
            }
        }
    }
}

// The engine shares one `Cfi` between threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Cfi>();
};
