//! Tracepoints as Delve prints them: `> goroutine(G): main.f(ARGS)` on entry and
//! `>> goroutine(G): main.f => (RESULTS)` on return. Delve traces a return with a
//! breakpoint on every RET instruction of the function (its `TraceReturn`
//! breakpoints); so does coroner: at a RET the frame still exists (SP points at the
//! return address), so the results are read with the function's entry-scope DWARF
//! locations, the CFA being SP + 8.

use super::returns::{self, RETURN_LOAD};
use super::Debugger;
use crate::addr::Addr;
use crate::target::Target;
use crate::vars::format;
use iced_x86::{Decoder, DecoderOptions, Mnemonic};

/// Run-time addresses of the RET instructions of the function holding `pc`.
pub(super) fn ret_addrs(t: &Target, pc: Addr) -> Vec<Addr> {
    let bias = t.bias();
    let link = Addr(pc.0.wrapping_sub(bias));
    let tab = t.pclntab();
    let Some(f) = tab.func_for_pc(link) else {
        return Vec::new();
    };
    let len = f.end.0.saturating_sub(f.entry.0) as usize;
    if len == 0 || len > 1 << 20 {
        return Vec::new();
    }
    let mut code = vec![0u8; len];
    if !t.binary().read_vaddr(f.entry, &mut code) {
        return Vec::new();
    }
    let mut d = Decoder::with_ip(64, &code, f.entry.0, DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let i = d.decode();
        if i.mnemonic() == Mnemonic::Ret {
            out.push(Addr(i.ip().wrapping_add(bias)));
        }
    }
    out
}

impl Debugger {
    /// `> goroutine(G): FUNC(ARGS)`: the arguments of frame 0, single-line.
    pub(super) fn trace_entry_line(&self, tid: u32, goid: u64, function: &str) -> String {
        let t = &self.target;
        let args = (|| {
            let st = t.thread_frames_quick(tid, 1);
            let f = st.frames.first()?;
            let dwarf = t.dwarf()?;
            let mut overlay = crate::vars::location::Overlay::new(t.memory());
            let vars = crate::repl::frame_vars(t, f, 0, &mut overlay).ok()?;
            let loader = crate::vars::load::Loader::for_target(t, dwarf, &overlay);
            let shown: Vec<String> = vars
                .iter()
                .filter(|v| v.is_arg && !v.name.starts_with('~'))
                .map(|v| {
                    let mut v = v.clone();
                    loader.load(&mut v, 0, &crate::vars::LoadConfig::SHORT);
                    format::singleline(&v)
                })
                .collect();
            Some(shown.join(", "))
        })()
        .unwrap_or_default();
        format!("> goroutine({goid}): {function}({args})")
    }

    /// `>> goroutine(G): FUNC => (RESULTS)` at a RET of the traced function.
    pub(super) fn trace_return_line(
        &self,
        tid: u32,
        goid: u64,
        pc: Addr,
        function: &str,
    ) -> String {
        let t = &self.target;
        let vals = (|| {
            let th = t
                .snapshot()
                .threads()
                .iter()
                .find(|x| x.tid == tid)?
                .clone();
            let link = Addr(pc.0.wrapping_sub(t.bias()));
            let f = t.pclntab().func_for_pc(link)?;
            let entry = Addr(f.entry.0.wrapping_add(t.bias()));
            let cfa = th.regs.rsp.wrapping_add(8);
            let vars = returns::results_at_entry(t, &th.regs, entry, cfa, &RETURN_LOAD).ok()?;
            Some(
                vars.iter()
                    .map(format::singleline)
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })()
        .unwrap_or_default();
        format!(">> goroutine({goid}): {function} => ({vals})")
    }
}

impl Debugger {
    /// `--stack N`: Delve's `Stack:` block of the goroutine on `tid` (frames 0..=N,
    /// `(truncated)` when there are more).
    pub(super) fn trace_stack(&self, tid: u32, depth: usize) -> String {
        let t = &self.target;
        let st = t.thread_frames_quick(tid, depth + 2);
        let cwd = std::env::current_dir().ok();
        let mut out = String::from("\tStack:");
        for (i, f) in st.frames.iter().take(depth + 1).enumerate() {
            // Outer frames hold return addresses: name the call's line.
            let at = if i == 0 {
                f.pc
            } else {
                Addr(f.pc.0.saturating_sub(1))
            };
            let loc = super::locate::describe(t, at);
            out.push_str(&format!(
                "\n\t\t{i}  {:#018x} in {}\n\t\t     at {}:{}",
                f.pc.0,
                loc.function,
                crate::repl::format::shorten_path(&loc.file, cwd.as_deref()),
                loc.line
            ));
        }
        if st.frames.len() > depth + 1 {
            out.push_str("\n\t\t(truncated)");
        }
        out
    }
}
