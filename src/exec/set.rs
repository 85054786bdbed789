//! `set VAR = VALUE` on a stopped live process, with Delve's conversion rules
//! (`EvalScope.setValue`): constants convert to numeric and bool types, `nil` zeroes
//! nillable types, other values must have the variable's type and are copied (a string
//! takes another string's header). A local of frame 0 is written where its DWARF
//! location says it is at this PC — its stack slot, or the thread's register when the
//! compiler keeps it there — so the program sees the new value when it runs on.

use super::call_abi::{self, ArgVal, Piece};
use super::{returns, Debugger, ExecError};
use crate::addr::Addr;
use crate::symbols::dwarf::VarLocation;
use crate::vars::expr::Scope;
use crate::vars::load::Loader;
use crate::vars::location::{Overlay, SYNTHETIC_BASE};
use crate::vars::LoadConfig;

impl Debugger {
    /// `set LHS = RHS` in frame `frame` of the goroutine on thread `tid`.
    pub fn set_variable(
        &mut self,
        tid: u32,
        frame: usize,
        lhs: &str,
        rhs: &str,
    ) -> Result<(), ExecError> {
        self.alive()?;
        let inv = ExecError::Invalid;
        let t = self.target.clone();
        let dwarf = t
            .dwarf()
            .ok_or_else(|| inv("set needs DWARF (the binary is stripped)".into()))?;
        let st = t.thread_frames_quick(tid, frame + 1);
        let f = st
            .frames
            .get(frame)
            .ok_or_else(|| inv(format!("Invalid frame {frame}")))?;
        let mut overlay = Overlay::new(t.memory());
        let locals =
            crate::repl::frame_vars(&t, f, frame, &mut overlay).map_err(|e| inv(e.to_string()))?;
        let loader = Loader::for_target(&t, dwarf, &overlay);
        let scope = Scope {
            loader: &loader,
            locals: &locals,
            package: crate::vars::expr::package_of(&f.function),
        };
        let header = LoadConfig {
            max_string_len: 0,
            ..LoadConfig::SHORT
        };
        let dst = scope.eval(lhs, &header).map_err(|e| inv(e.to_string()))?;
        if !dst.unreadable.is_empty() {
            return Err(inv(format!(
                "Expression {lhs:?} is unreadable: {}",
                dst.unreadable
            )));
        }
        let ty = dst
            .type_id
            .filter(|_| dst.addr != 0)
            .ok_or_else(|| inv(format!("can not assign to {lhs}: it is not a variable")))?;
        let src = scope.eval(rhs, &header).map_err(|e| inv(e.to_string()))?;
        let bytes = match call_abi::convert(&loader, &overlay, &src, ty).map_err(inv)? {
            ArgVal::Bytes(b) => b,
            ArgVal::Literal(_) => {
                return Err(inv(
                    "literal string can not be allocated because function calls are not allowed without using 'call'"
                        .into(),
                ))
            }
        };
        if dst.addr < SYNTHETIC_BASE {
            self.proc.write_memory(Addr(dst.addr), &bytes)?;
            self.refresh()?;
            return Ok(());
        }
        // Held (partly) in registers: only frame 0's registers are the thread's.
        if frame != 0 {
            return Err(inv(format!(
                "can not set {lhs}: it is kept in a register of an outer frame"
            )));
        }
        let link = f.pc.0.wrapping_sub(t.bias());
        let fd = dwarf
            .function_at(link)
            .ok_or_else(|| inv(format!("no DWARF function at {:#x}", f.pc.0)))?;
        let die = dwarf
            .variables(fd.offset, link, link)
            .map_err(|e| inv(e.to_string()))?
            .into_iter()
            .rev()
            .find(|d| d.name == lhs)
            .ok_or_else(|| {
                inv(format!(
                    "can not set {lhs}: only a local kept in registers can be"
                ))
            })?;
        let VarLocation::Expr { expr, .. } = &die.location else {
            return Err(inv(format!("{lhs} has no location here")));
        };
        let mut regs = self.regs_of(tid)?;
        let size = dwarf.size_of(ty).unwrap_or(0);
        let pieces = call_abi::pieces(
            expr,
            die.encoding,
            &returns::dwarf_regs(&regs),
            f.cfa.0,
            t.memory(),
            size,
        )
        .map_err(inv)?;
        let mut off = 0usize;
        let mut writes = Vec::new();
        for p in pieces {
            let n = match p {
                Piece::Reg(_, n) | Piece::Mem(_, n) => n,
            };
            let chunk = bytes.get(off..(off + n).min(bytes.len())).unwrap_or(&[]);
            match p {
                Piece::Reg(r, _) => call_abi::set_reg_piece(&mut regs, r, chunk).map_err(inv)?,
                Piece::Mem(0, _) => {}
                Piece::Mem(a, _) => writes.push((a, chunk.to_vec())),
            }
            off += n;
        }
        for (a, b) in writes {
            self.proc.write_memory(Addr(a), &b)?;
        }
        self.proc.set_registers(tid, &regs)?;
        self.refresh()?;
        Ok(())
    }
}
