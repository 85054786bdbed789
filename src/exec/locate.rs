//! Location specs as Delve takes them (`break`, `continue LOC`, `trace`, `clearall
//! LOC`), resolved to run-time addresses from the pclntab and DWARF line tables, never
//! from process memory (which holds our breakpoints).
//!
//! Forms: `*ADDR`, `file.go:N` (a path suffix), `N` and `+N`/`-N` (lines of the current
//! file), `pkg.Func`, `pkg.(*T).M`, a unique suffix of a function name, and `/regex/`
//! (every matching function).

use super::ExecError;
use crate::addr::Addr;
use crate::symbols::dwarf::LineRow;
use crate::symbols::Func;
use crate::target::Target;
use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind, Register};

/// A resolved location: the addresses to patch and where they are in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub addrs: Vec<Addr>,
    pub function: String,
    pub file: String,
    pub line: u32,
}

/// Where the user is, for relative specs.
#[derive(Debug, Clone, Default)]
pub struct Here {
    pub file: String,
    pub line: u32,
}

/// Upper bound on one function's size when decoding it (a garbage pclntab entry must
/// not make us decode megabytes).
const MAX_FUNC_BYTES: u64 = 1 << 20;

/// Resolve `spec`. A regex gives one [`Resolved`] per matching function.
pub fn resolve(t: &Target, spec: &str, here: Option<&Here>) -> Result<Vec<Resolved>, ExecError> {
    let spec = spec.trim();
    let notfound = || ExecError::Location(format!("location \"{spec}\" not found"));
    if spec.is_empty() {
        return Err(ExecError::Location("no location given".into()));
    }
    if let Some(a) = spec.strip_prefix('*') {
        let a = parse_u64(a.trim())
            .ok_or_else(|| ExecError::Location(format!("invalid address {a:?}: use *0xADDR")))?;
        return Ok(vec![describe(t, Addr(a))]);
    }
    if let Some(re) = spec.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
        let re = regex::Regex::new(re).map_err(|e| ExecError::Location(e.to_string()))?;
        let p = t.pclntab();
        let mut out = Vec::new();
        for f in p.funcs() {
            if re.is_match(p.name(&f)) {
                out.push(function_entry(t, &f));
            }
        }
        if out.is_empty() {
            return Err(notfound());
        }
        return Ok(out);
    }
    let rel = |n: i64| -> Result<Vec<Resolved>, ExecError> {
        let h = here.ok_or_else(|| ExecError::Location("no current location".into()))?;
        let line = u32::try_from(i64::from(h.line) + n)
            .map_err(|_| ExecError::Location(format!("invalid line offset {n}")))?;
        file_line(t, &h.file, line).map(|r| vec![r])
    };
    if let Some(n) = spec.strip_prefix('+') {
        return rel(n.parse::<i64>().map_err(|_| notfound())?);
    }
    if let Some(n) = spec.strip_prefix('-') {
        return rel(-n.parse::<i64>().map_err(|_| notfound())?);
    }
    if let Ok(n) = spec.parse::<u32>() {
        let h = here.ok_or_else(|| ExecError::Location("no current location".into()))?;
        return file_line(t, &h.file, n).map(|r| vec![r]);
    }
    if let Some((file, line)) = spec.rsplit_once(':') {
        if let Ok(line) = line.parse::<u32>() {
            if file.ends_with(".go") || file.contains('/') || file.ends_with(".s") {
                let f = find_file(t, file)?;
                return file_line(t, &f, line).map(|r| vec![r]);
            }
            // `pkg.Func:N`: line N of the file that holds the function.
            let f = find_function(t, file)?;
            let (ffile, _) = t.pclntab().file_line(&f, f.entry).ok_or_else(notfound)?;
            let ffile = ffile.to_string();
            return file_line(t, &ffile, line).map(|r| vec![r]);
        }
    }
    match find_function(t, spec) {
        Ok(f) => Ok(vec![function_entry(t, &f)]),
        Err(e) => {
            // A generic function: one breakpoint over every instantiation, as Delve.
            let inst = generic_instances(t, spec);
            let Some(first) = inst.first() else {
                return Err(e);
            };
            let p = t.pclntab();
            let mut r = function_entry(t, first);
            r.function = strip_type_args(p.name(first));
            for f in inst.iter().skip(1) {
                r.addrs.extend(function_entry(t, f).addrs);
            }
            Ok(vec![r])
        }
    }
}

/// `name` without its type arguments: `main.Sum[go.shape.int]` is `main.Sum`,
/// `main.(*List[go.shape.int]).Push` is `main.(*List).Push`.
pub fn strip_type_args(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The instantiations of generic function `name` (full name or a unique `.`/`/`
/// suffix, type arguments left out), in address order; empty when there are none or
/// the suffix names more than one function.
fn generic_instances(t: &Target, name: &str) -> Vec<Func> {
    let p = t.pclntab();
    let matches = |full: &str| {
        full == name
            || full
                .strip_suffix(name)
                .is_some_and(|pre| pre.ends_with('.') || pre.ends_with('/'))
    };
    let found: Vec<(String, Func)> = p
        .funcs()
        .filter_map(|f| {
            let n = p.name(&f);
            if !n.contains('[') {
                return None;
            }
            let base = strip_type_args(n);
            matches(&base).then_some((base, f))
        })
        .collect();
    // A suffix must name one generic function (its instantiations share the name).
    if found.windows(2).any(|w| w[0].0 != w[1].0) {
        return Vec::new();
    }
    found.into_iter().map(|(_, f)| f).collect()
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Function, file and line of a run-time address.
pub fn describe(t: &Target, a: Addr) -> Resolved {
    let link = a.sub(t.bias());
    let p = t.pclntab();
    let (function, file, line) = match p.func_for_pc(link) {
        Some(f) => {
            let (file, line) = p
                .file_line(&f, link)
                .map(|(f, l)| (f.to_string(), l))
                .unwrap_or_default();
            (p.name(&f).to_string(), file, line)
        }
        None => (String::new(), String::new(), 0),
    };
    Resolved {
        addrs: vec![a],
        function,
        file,
        line,
    }
}

/// A function by full name, else by a unique `.`/`/`-separated suffix.
pub fn find_function(t: &Target, name: &str) -> Result<Func, ExecError> {
    let p = t.pclntab();
    if let Some(f) = p.func_by_name(name) {
        return Ok(f);
    }
    let mut cands: Vec<Func> = p
        .funcs()
        .filter(|f| {
            p.name(f)
                .strip_suffix(name)
                .is_some_and(|pre| pre.ends_with('.') || pre.ends_with('/'))
        })
        .collect();
    match cands.len() {
        1 => Ok(cands.swap_remove(0)),
        0 => Err(ExecError::Location(format!(
            "location \"{name}\" not found"
        ))),
        _ => Err(ExecError::Location(format!(
            "location \"{name}\" is ambiguous: {}",
            cands
                .iter()
                .map(|f| p.name(f).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// A source file by exact name or unique path suffix.
pub fn find_file(t: &Target, file: &str) -> Result<String, ExecError> {
    let files = t.pclntab().files();
    if files.contains(&file) {
        return Ok(file.to_string());
    }
    let suffix = format!("/{}", file.trim_start_matches("./"));
    let mut cands: Vec<&str> = files.into_iter().filter(|f| f.ends_with(&suffix)).collect();
    cands.sort_unstable();
    cands.dedup();
    match cands.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(ExecError::Location(format!(
            "location \"{file}\" not found"
        ))),
        many => Err(ExecError::Location(format!(
            "location \"{file}\" is ambiguous: {}",
            many.join(", ")
        ))),
    }
}

/// The line rows of a function (link-time addresses): DWARF's when the binary has it,
/// else derived from the pclntab at each instruction boundary (a row where the line
/// changes counts as a statement).
pub fn line_rows(t: &Target, f: &Func) -> Vec<LineRow> {
    if let Some(d) = t.dwarf() {
        if let Ok(rows) = d.line_rows(f.entry.get(), f.end.get()) {
            if !rows.is_empty() {
                return rows;
            }
        }
    }
    let p = t.pclntab();
    let mut out: Vec<LineRow> = Vec::new();
    for pc in instruction_starts(t, f) {
        let Some((file, line)) = p.file_line(f, Addr(pc)) else {
            continue;
        };
        let changed = out.last().is_none_or(|r| r.line != line || r.file != file);
        if changed {
            out.push(LineRow {
                addr: pc,
                file: file.to_string(),
                line,
                is_stmt: true,
                prologue_end: false,
            });
        }
    }
    out
}

/// Link-time addresses of every instruction of `f`, decoded from the binary file.
pub fn instruction_starts(t: &Target, f: &Func) -> Vec<u64> {
    let len = f
        .end
        .get()
        .saturating_sub(f.entry.get())
        .min(MAX_FUNC_BYTES) as usize;
    let Some(code) = t.binary().vaddr_bytes(f.entry) else {
        return Vec::new();
    };
    let code = code.get(..len.min(code.len())).unwrap_or(code);
    let mut d = Decoder::with_ip(64, code, f.entry.get(), DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let ins = d.decode();
        out.push(ins.ip());
    }
    out
}

/// Delve's first PC after the prologue: the DWARF `prologue_end` row; else (a leaf
/// function without a stack check) the first statement row, as Delve falls back to;
/// without DWARF, the end of the stack-growth check and frame setup found by decoding.
pub fn after_prologue(t: &Target, f: &Func) -> Addr {
    if let Some(rows) = t
        .dwarf()
        .and_then(|d| d.line_rows(f.entry.get(), f.end.get()).ok())
        .filter(|r| !r.is_empty())
    {
        if let Some(r) = rows.iter().find(|r| r.prologue_end) {
            return Addr(r.addr);
        }
        if let Some(r) = rows.iter().find(|r| r.is_stmt) {
            return Addr(r.addr);
        }
    }
    Addr(prologue_by_decoding(t, f))
}

fn prologue_by_decoding(t: &Target, f: &Func) -> u64 {
    let len = f.end.get().saturating_sub(f.entry.get()).min(256) as usize;
    let Some(code) = t.binary().vaddr_bytes(f.entry) else {
        return f.entry.get();
    };
    let code = code.get(..len.min(code.len())).unwrap_or(code);
    let mut d = Decoder::with_ip(64, code, f.entry.get(), DecoderOptions::NONE);
    let mut after = f.entry.get();
    let mut saw_check = false;
    // Go's prologue: [lea r12,[rsp-N]] cmp rsp|r12, [r14+0x10]; jbe morestack;
    // push rbp; mov rbp, rsp; sub rsp, N (or add rsp, -N).
    for _ in 0..8 {
        if !d.can_decode() {
            break;
        }
        let ins = d.decode();
        let frame_setup = match ins.mnemonic() {
            Mnemonic::Cmp | Mnemonic::Lea if !saw_check => {
                saw_check = ins.mnemonic() == Mnemonic::Cmp;
                true
            }
            Mnemonic::Jbe | Mnemonic::Jb => true,
            Mnemonic::Push => {
                ins.op0_kind() == OpKind::Register && ins.op0_register() == Register::RBP
            }
            Mnemonic::Mov => {
                ins.op0_register() == Register::RBP && ins.op1_register() == Register::RSP
            }
            Mnemonic::Sub | Mnemonic::Add => ins.op0_register() == Register::RSP,
            _ => false,
        };
        if !frame_setup {
            break;
        }
        after = ins.next_ip();
    }
    after
}

/// A function breakpoint: the first PC after the prologue, as run-time address.
pub fn function_entry(t: &Target, f: &Func) -> Resolved {
    let a = after_prologue(t, f).add(t.bias());
    let mut r = describe(t, a);
    r.function = t.pclntab().name(f).to_string();
    r
}

/// `file:line`: in every function of the file with a statement row on that line, the
/// lowest address of the line.
pub fn file_line(t: &Target, file: &str, line: u32) -> Result<Resolved, ExecError> {
    let p = t.pclntab();
    let mut addrs: Vec<Addr> = Vec::new();
    let mut function = String::new();
    for f in p.funcs() {
        // Functions whose entry is in the file. Copies of the line inlined into
        // functions of other files are not found yet (Delve finds them through the
        // DWARF inlined-subroutine entries).
        if p.file_line(&f, f.entry).is_none_or(|(ff, _)| ff != file) {
            continue;
        }
        // The compiler's wrappers for `go f(x)` / `defer f(x)` statements carry the
        // statement's line too; the user means the function that has the statement.
        let name = p.name(&f);
        if name.contains(".gowrap") || name.contains(".deferwrap") {
            continue;
        }
        let rows = line_rows(t, &f);
        if let Some(r) = rows
            .iter()
            .filter(|r| r.line == line && r.file == file && r.is_stmt)
            .min_by_key(|r| r.addr)
            .or_else(|| {
                rows.iter()
                    .filter(|r| r.line == line && r.file == file)
                    .min_by_key(|r| r.addr)
            })
        {
            if function.is_empty() {
                function = p.name(&f).to_string();
            }
            addrs.push(Addr(r.addr).add(t.bias()));
        }
    }
    if addrs.is_empty() {
        return Err(ExecError::Location(format!(
            "could not find statement at {file}:{line}, please use a line with a statement"
        )));
    }
    addrs.sort();
    addrs.dedup();
    Ok(Resolved {
        addrs,
        function,
        file: file.to_string(),
        line,
    })
}
