//! The source pane's text: the frame's file with line numbers (after `config
//! substitute-path`), or the disassembly around the PC when the file is not on this
//! machine.

use coroner::addr::Addr;
use coroner::repl::disasm;
use coroner::repl::parse::Flavor;
use coroner::repl::{Config, Debuggee};
use coroner::target::Target;
use coroner::unwind::Frame;
use std::collections::HashMap;
use std::sync::Arc;

/// Functions larger than this are disassembled only around the PC.
const MAX_DISASM: u64 = 64 * 1024;
/// Bytes each side of the PC disassembled in a huge function.
const DISASM_WINDOW: u64 = 512;

/// What the source pane shows for one frame.
#[derive(Debug, Clone, Default)]
pub struct SourceView {
    pub title: String,
    /// Display lines, numbered (`  42 | text`, `=>` marks the frame's line).
    pub lines: Vec<String>,
    /// Index in `lines` of the marked line.
    pub mark: Option<usize>,
    pub disassembly: bool,
    /// The file as the binary names it (before substitute-path), for a source view:
    /// line `i` of `lines` is its line `i + 1`.
    pub file: String,
    /// For a disassembly: the address of each line's instruction.
    pub addrs: Vec<u64>,
}

/// Source files read so far (None: not readable here).
#[derive(Default)]
pub struct FileCache {
    files: HashMap<String, Option<Arc<Vec<String>>>>,
}

impl FileCache {
    fn get(&mut self, path: &str) -> Option<Arc<Vec<String>>> {
        self.files
            .entry(path.to_string())
            .or_insert_with(|| {
                std::fs::read(path).ok().map(|b| {
                    Arc::new(
                        String::from_utf8_lossy(&b)
                            .lines()
                            .map(|l| l.replace('\t', "    "))
                            .collect(),
                    )
                })
            })
            .clone()
    }
}

/// The view for `frame`; `trap`: its PC is the instruction itself (innermost or
/// signal-interrupted frame), else a return address and the call before it is marked.
pub fn for_frame(
    t: &Target,
    cfg: &Config,
    cache: &mut FileCache,
    frame: &Frame,
    trap: bool,
) -> SourceView {
    let path = cfg.substitute(&frame.file);
    if let Some(v) = for_file(cfg, cache, &frame.file, frame.line, true) {
        return v;
    }
    let pc = if trap {
        frame.pc.0
    } else {
        frame.pc.0.saturating_sub(1)
    };
    let mut v = disassembly(t, cfg, pc);
    let why = if frame.file.is_empty() {
        "no source file".to_string()
    } else {
        format!("{path} not found")
    };
    v.title = format!("disassembly ({why})");
    v
}

/// The source file `file` (as the binary names it) with `line` marked `=>` when
/// `arrow`; None when the file cannot be read here.
pub fn for_file(
    cfg: &Config,
    cache: &mut FileCache,
    file: &str,
    line: u32,
    arrow: bool,
) -> Option<SourceView> {
    if file.is_empty() || line == 0 {
        return None;
    }
    let path = cfg.substitute(file);
    let text = cache.get(&path)?;
    let width = text.len().to_string().len().max(4);
    let lines = text
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let n = i + 1;
            let mark = if arrow && n == line as usize {
                "=>"
            } else {
                "  "
            };
            format!("{mark}{n:>width$} │ {l}")
        })
        .collect();
    Some(SourceView {
        title: format!("{path}:{line}"),
        lines,
        mark: Some((line as usize).saturating_sub(1)),
        disassembly: false,
        file: file.to_string(),
        addrs: Vec::new(),
    })
}

/// Instructions of the function around `pc`, the one containing `pc` marked.
pub fn disassembly(t: &Target, cfg: &Config, pc: u64) -> SourceView {
    let (lo, hi) = match Debuggee::func_at(t, Addr(pc)) {
        Some(f) if f.end.0 > f.entry.0 && f.end.0 - f.entry.0 <= MAX_DISASM => (f.entry.0, f.end.0),
        Some(f) => (
            pc.saturating_sub(DISASM_WINDOW).max(f.entry.0),
            pc.saturating_add(DISASM_WINDOW),
        ),
        None => (pc.saturating_sub(64), pc.saturating_add(DISASM_WINDOW)),
    };
    let len = usize::try_from(hi.saturating_sub(lo)).unwrap_or(0);
    let Ok(code) = t.memory().read_bytes(Addr(lo), len) else {
        return SourceView {
            lines: vec![format!("memory at {lo:#x} is not in the core")],
            disassembly: true,
            ..Default::default()
        };
    };
    let names = Debuggee::operand_names(t, &code, lo);
    let flavor = cfg.disassemble_flavor.unwrap_or(Flavor::Intel);
    let insns = disasm::decode(&code, lo, flavor, names);
    let mut mark = None;
    let mut lines = Vec::with_capacity(insns.len());
    let mut addrs = Vec::with_capacity(insns.len());
    for (i, ins) in insns.iter().enumerate() {
        let end = ins.pc.saturating_add(ins.bytes.len() as u64);
        let here = ins.pc <= pc && pc < end;
        if here {
            mark = Some(i);
        }
        let loc = Debuggee::file_line(t, Addr(ins.pc))
            .map(|(f, l)| {
                let base = f.rsplit('/').next().unwrap_or("").to_string();
                format!("{base}:{l}")
            })
            .unwrap_or_default();
        addrs.push(ins.pc);
        lines.push(format!(
            "{}{:#x}  {:<20} {}",
            if here { "=>" } else { "  " },
            ins.pc,
            loc,
            ins.text
        ));
    }
    SourceView {
        title: "disassembly".into(),
        lines,
        mark,
        disassembly: true,
        file: String::new(),
        addrs,
    }
}
