//! Parser for the Go runtime's own crash traceback (the `.stderr` files of the
//! fixture corpus), used by tests as the oracle for goroutines and stacks.
//!
//! Include it from a test with
//! `#[path = "support/traceback.rs"] mod traceback;`. It depends on std only.
//!
//! Handles the formats of Go 1.19 through 1.27: plain and `gp=… m=… mp=…`
//! goroutine headers, wait minutes and "locked to thread", labels, both
//! "created by" forms, both elision markers, `runtime stack:` sections and the
//! per-M sections after `-----` that GOTRACEBACK=crash prints.
#![allow(dead_code)]

/// A parsed runtime traceback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traceback {
    /// Lines before the first stack: `panic: …`, `fatal error: …`,
    /// `[signal …]`, `SIGQUIT: quit`, `PC=… m=… sigcode=…`.
    pub header: Vec<String>,
    /// Goroutines in the order first printed; each id appears once.
    pub goroutines: Vec<TbGoroutine>,
    /// System (g0 / gsignal) stacks: `runtime stack:` sections and the
    /// `goroutine 0 [idle]:` stacks of the Ms dumped after `-----`.
    pub system_stacks: Vec<Vec<TbFrame>>,
    /// The goroutine running on the crashing M: the first goroutine printed,
    /// when its status is "running". None for e.g. a deadlock, where the
    /// crash happens on the scheduler's stack.
    pub crashing: Option<u64>,
}

/// One `goroutine N [...]:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TbGoroutine {
    pub id: u64,
    /// Status or wait reason, e.g. "chan receive", "running", "select (no cases)".
    pub status: String,
    pub wait_minutes: Option<u64>,
    pub locked_to_thread: bool,
    /// Innermost first.
    pub frames: Vec<TbFrame>,
    /// The runtime skipped frames ("...additional frames elided..." or
    /// "...N frames elided...").
    pub elided: bool,
    pub created_by: Option<TbFrame>,
    /// "created by X in goroutine N" (Go 1.21+).
    pub created_in_goroutine: Option<u64>,
}

/// One logical frame: a function line and its file line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TbFrame {
    /// Function name without the argument list, e.g. "main.(*T).m",
    /// "example.com/scenarios/internal/work.Apply[...]".
    pub function: String,
    /// Printed with "(...)": an inlined call.
    pub inlined: bool,
    pub file: String,
    pub line: u32,
    /// The "+0x…" offset from the function entry.
    pub pc_offset: Option<u64>,
    pub fp: Option<u64>,
    pub sp: Option<u64>,
    pub pc: Option<u64>,
}

/// Why a traceback could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl Traceback {
    /// The goroutine with this id.
    pub fn goroutine(&self, id: u64) -> Option<&TbGoroutine> {
        self.goroutines.iter().find(|g| g.id == id)
    }
}

impl TbGoroutine {
    /// Whether some frame's function equals `name`.
    pub fn has_frame(&self, name: &str) -> bool {
        self.frames.iter().any(|f| f.function == name)
    }
}

/// The header of a goroutine section.
struct GHeader {
    id: u64,
    status: String,
    wait_minutes: Option<u64>,
    locked_to_thread: bool,
}

/// Where the lines being read belong.
enum Section {
    /// Before any stack, or between sections.
    Outside,
    Goroutine(TbGoroutine),
    System(Vec<TbFrame>),
    /// `[originating from goroutine N]:` ancestry lists: not kept.
    Ancestor,
}

/// What the previous function line announced; its file line comes next.
enum Pending {
    None,
    Frame(TbFrame),
    CreatedBy(TbFrame),
}

struct Parser {
    tb: Traceback,
    section: Section,
    pending: Pending,
    /// A goroutine section has been seen (header lines stop being collected).
    seen_stack: bool,
    /// Past a `-----` separator: the per-M dumps of GOTRACEBACK=crash.
    in_m_dumps: bool,
    first_goroutine_seen: bool,
}

/// Parses a whole traceback text.
pub fn parse(text: &str) -> Result<Traceback, ParseError> {
    let mut p = Parser {
        tb: Traceback::default(),
        section: Section::Outside,
        pending: Pending::None,
        seen_stack: false,
        in_m_dumps: false,
        first_goroutine_seen: false,
    };
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        p.line(line).map_err(|message| ParseError {
            line: idx + 1,
            message,
        })?;
    }
    p.finish_section();
    Ok(p.tb)
}

impl Parser {
    fn line(&mut self, line: &str) -> Result<(), String> {
        // A file line completes the function line before it.
        if let Some(rest) = line.strip_prefix('\t') {
            if !matches!(self.pending, Pending::None) {
                return self.file_line(rest);
            }
        }
        if !matches!(self.pending, Pending::None) {
            return Err(format!("expected a file line, got {line:?}"));
        }

        if line.is_empty() {
            self.finish_section();
            return Ok(());
        }
        if line == "-----" {
            self.finish_section();
            self.in_m_dumps = true;
            return Ok(());
        }
        if line == "runtime stack:" {
            self.finish_section();
            self.seen_stack = true;
            self.section = Section::System(Vec::new());
            return Ok(());
        }
        if line.starts_with("goroutine ") && line.ends_with(':') {
            if let Some(h) = parse_goroutine_header(line) {
                self.finish_section();
                self.seen_stack = true;
                self.start_goroutine(h);
                return Ok(());
            }
        }
        if is_exit_status(line) {
            // `go run` appends "exit status 2" right after the last stack.
            self.finish_section();
            return Ok(());
        }
        if line.starts_with("[originating from goroutine ") {
            self.finish_section();
            self.section = Section::Ancestor;
            return Ok(());
        }

        match &mut self.section {
            Section::Outside => {
                if !self.seen_stack && !is_register_line(line) {
                    self.tb.header.push(line.to_string());
                }
                // Anything else outside a stack (register dumps, "exit
                // status 2", the runtime's diagnostics) is not structure.
                Ok(())
            }
            Section::Ancestor => Ok(()),
            Section::Goroutine(g) => {
                if is_elision(line) {
                    g.elided = true;
                    return Ok(());
                }
                if line.starts_with('\t') {
                    // "\tgoroutine running on other thread; stack unavailable"
                    // and similar notes carry no frame.
                    return Ok(());
                }
                if let Some(rest) = line.strip_prefix("created by ") {
                    let (func, goid) = match rest.rsplit_once(" in goroutine ") {
                        Some((f, n)) => {
                            let id = n
                                .trim()
                                .parse::<u64>()
                                .map_err(|e| format!("bad creator goroutine {n:?}: {e}"))?;
                            (f, Some(id))
                        }
                        None => (rest, None),
                    };
                    g.created_in_goroutine = goid;
                    self.pending = Pending::CreatedBy(TbFrame {
                        function: func.to_string(),
                        ..TbFrame::default()
                    });
                    return Ok(());
                }
                if is_register_line(line) {
                    return Ok(());
                }
                self.pending = Pending::Frame(parse_function_line(line)?);
                Ok(())
            }
            Section::System(_) => {
                if is_elision(line) || is_register_line(line) || line.starts_with('\t') {
                    return Ok(());
                }
                self.pending = Pending::Frame(parse_function_line(line)?);
                Ok(())
            }
        }
    }

    fn file_line(&mut self, rest: &str) -> Result<(), String> {
        let pending = std::mem::replace(&mut self.pending, Pending::None);
        match pending {
            Pending::None => Ok(()),
            Pending::Frame(mut f) => {
                fill_location(&mut f, rest)?;
                match &mut self.section {
                    Section::Goroutine(g) => g.frames.push(f),
                    Section::System(frames) => frames.push(f),
                    Section::Outside | Section::Ancestor => {}
                }
                Ok(())
            }
            Pending::CreatedBy(mut f) => {
                fill_location(&mut f, rest)?;
                if let Section::Goroutine(g) = &mut self.section {
                    g.created_by = Some(f);
                }
                Ok(())
            }
        }
    }

    fn start_goroutine(&mut self, h: GHeader) {
        if h.id == 0 {
            // g0 of an M (per-M dumps of GOTRACEBACK=crash): a system stack.
            self.section = Section::System(Vec::new());
            return;
        }
        if !self.first_goroutine_seen {
            self.first_goroutine_seen = true;
            if !self.in_m_dumps && h.status.starts_with("running") {
                self.tb.crashing = Some(h.id);
            }
        }
        self.section = Section::Goroutine(TbGoroutine {
            id: h.id,
            status: h.status,
            wait_minutes: h.wait_minutes,
            locked_to_thread: h.locked_to_thread,
            ..TbGoroutine::default()
        });
    }

    fn finish_section(&mut self) {
        // A function line without its file line (truncated output) is dropped.
        self.pending = Pending::None;
        match std::mem::replace(&mut self.section, Section::Outside) {
            Section::Outside | Section::Ancestor => {}
            Section::System(frames) => self.tb.system_stacks.push(frames),
            Section::Goroutine(g) => {
                match self.tb.goroutines.iter_mut().find(|o| o.id == g.id) {
                    None => self.tb.goroutines.push(g),
                    Some(first) => {
                        // Keep the first print, but a goroutine running on
                        // another thread is first printed without a stack
                        // and only later, by its own M, with one.
                        if first.frames.is_empty() && !g.frames.is_empty() {
                            first.frames = g.frames;
                            first.elided = g.elided;
                            if first.created_by.is_none() {
                                first.created_by = g.created_by;
                                first.created_in_goroutine = g.created_in_goroutine;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn is_exit_status(line: &str) -> bool {
    line.strip_prefix("exit status ")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_elision(line: &str) -> bool {
    line.starts_with("...") && line.ends_with("elided...")
}

/// Register dump lines such as "rax    0x0" or "rip    0x46b5d7".
fn is_register_line(line: &str) -> bool {
    let mut parts = line.split_whitespace();
    let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    name.len() <= 6
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value.starts_with("0x")
}

/// Parses `goroutine 7 [chan receive]:`, `goroutine 1 gp=0x… m=0 mp=0x…
/// [running, locked to thread]:` or with labels `[select] {k=v}:`.
fn parse_goroutine_header(line: &str) -> Option<GHeader> {
    let rest = line.strip_prefix("goroutine ")?;
    let (id_str, rest) = rest.split_once(' ')?;
    let id = id_str.parse::<u64>().ok()?;
    let open = rest.find('[')?;
    // Everything before '[' is "gp=… m=… mp=…" (Go 1.23+ or crash level).
    let before = &rest[..open];
    if !before
        .split_whitespace()
        .all(|w| w.starts_with("gp=") || w.starts_with("m=") || w.starts_with("mp="))
    {
        return None;
    }
    let inner_and_tail = &rest[open + 1..];
    let close = inner_and_tail.find(']')?;
    let inner = &inner_and_tail[..close];
    let tail = &inner_and_tail[close + 1..];
    // After ']' only optional labels " {…}" and the final ':'.
    let tail = tail.strip_suffix(':')?;
    if !(tail.is_empty() || (tail.starts_with(" {") && tail.ends_with('}'))) {
        return None;
    }
    let mut parts = inner.split(", ");
    let mut status = parts.next()?.to_string();
    let mut wait_minutes = None;
    let mut locked_to_thread = false;
    for part in parts {
        if part == "locked to thread" {
            locked_to_thread = true;
        } else if let Some(n) = part.strip_suffix(" minutes") {
            match n.parse::<u64>() {
                Ok(v) => wait_minutes = Some(v),
                Err(_) => {
                    status.push_str(", ");
                    status.push_str(part);
                }
            }
        } else if part.starts_with("synctest bubble ") {
            // Go 1.25+ synctest annotation: not part of the status.
        } else {
            status.push_str(", ");
            status.push_str(part);
        }
    }
    Some(GHeader {
        id,
        status,
        wait_minutes,
        locked_to_thread,
    })
}

/// Parses a function line such as `main.(*T).m(0xc000010000, {0x4b, 0x5})`
/// or `main.checkLimit(...)`.
fn parse_function_line(line: &str) -> Result<TbFrame, String> {
    let body = line
        .strip_suffix(')')
        .ok_or_else(|| format!("function line without argument list: {line:?}"))?;
    // The argument list is the last balanced "(…)"; names themselves may
    // contain parentheses ("main.(*T).m").
    let mut depth = 0usize;
    let mut open = None;
    for (i, c) in body.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => {
                open = Some(i);
                break;
            }
            '(' => depth -= 1,
            _ => {}
        }
    }
    let open = open.ok_or_else(|| format!("unbalanced argument list: {line:?}"))?;
    let function = &body[..open];
    let args = &body[open + 1..];
    if function.is_empty() {
        return Err(format!("empty function name: {line:?}"));
    }
    Ok(TbFrame {
        function: function.to_string(),
        inlined: args == "...",
        ..TbFrame::default()
    })
}

/// Fills file, line and the optional `+0x… fp=0x… sp=0x… pc=0x…` fields
/// from a file line (leading tab removed).
fn fill_location(f: &mut TbFrame, rest: &str) -> Result<(), String> {
    let mut loc = rest.trim_end();
    // Peel the optional fields off the end; the path may contain spaces.
    while let Some((head, last)) = loc.rsplit_once(' ') {
        let parsed = if let Some(v) = last.strip_prefix("+0x") {
            f.pc_offset = Some(parse_hex(v)?);
            true
        } else if let Some(v) = last.strip_prefix("fp=") {
            f.fp = Some(parse_prefixed_hex(v)?);
            true
        } else if let Some(v) = last.strip_prefix("sp=") {
            f.sp = Some(parse_prefixed_hex(v)?);
            true
        } else if let Some(v) = last.strip_prefix("pc=") {
            f.pc = Some(parse_prefixed_hex(v)?);
            true
        } else {
            false
        };
        if !parsed {
            break;
        }
        loc = head;
    }
    let (file, line) = loc
        .rsplit_once(':')
        .ok_or_else(|| format!("file line without ':LINE': {rest:?}"))?;
    f.file = file.to_string();
    f.line = line
        .parse::<u32>()
        .map_err(|e| format!("bad line number {line:?}: {e}"))?;
    Ok(())
}

fn parse_prefixed_hex(v: &str) -> Result<u64, String> {
    let digits = v
        .strip_prefix("0x")
        .ok_or_else(|| format!("expected 0x…, got {v:?}"))?;
    parse_hex(digits)
}

fn parse_hex(digits: &str) -> Result<u64, String> {
    u64::from_str_radix(digits, 16).map_err(|e| format!("bad hex {digits:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO119_PANIC: &str = "panic: boom [recovered]
\tpanic: boom

goroutine 1 [running]:
main.(*T).m(0xc000010000, {0x4b, 0x5})
\t/src/main.go:12 +0x1d
main.f(...)
\t/src/main.go:20
main.main()
\t/src/main.go:30 +0x25

goroutine 6 [chan receive, 5 minutes]:
main.g[...](0x0?)
\t/src/main.go:40 +0x3f
created by main.main
\t/src/main.go:29 +0x8a

goroutine 7 [select, locked to thread]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t/usr/lib/go/src/runtime/proc.go:363 +0xd6
...additional frames elided...
created by main.main
\t/src/main.go:31 +0x9a

goroutine 8 [running]:
\tgoroutine running on other thread; stack unavailable
created by main.main
\t/src/main.go:32 +0xaa
exit status 2
";

    #[test]
    fn parses_go119_format() {
        let tb = parse(GO119_PANIC).expect("parse");
        assert_eq!(tb.header, vec!["panic: boom [recovered]", "\tpanic: boom"]);
        assert_eq!(tb.crashing, Some(1));
        assert_eq!(tb.goroutines.len(), 4);
        let g1 = tb.goroutine(1).expect("g1");
        assert_eq!(g1.status, "running");
        assert_eq!(g1.frames.len(), 3);
        assert_eq!(g1.frames[0].function, "main.(*T).m");
        assert!(!g1.frames[0].inlined);
        assert_eq!(g1.frames[0].file, "/src/main.go");
        assert_eq!(g1.frames[0].line, 12);
        assert_eq!(g1.frames[0].pc_offset, Some(0x1d));
        assert_eq!(g1.frames[1].function, "main.f");
        assert!(g1.frames[1].inlined);
        assert_eq!(g1.frames[1].pc_offset, None);
        assert!(g1.created_by.is_none());
        let g6 = tb.goroutine(6).expect("g6");
        assert_eq!(g6.status, "chan receive");
        assert_eq!(g6.wait_minutes, Some(5));
        assert_eq!(g6.frames[0].function, "main.g[...]");
        let cb = g6.created_by.as_ref().expect("created by");
        assert_eq!(cb.function, "main.main");
        assert_eq!(cb.line, 29);
        assert_eq!(g6.created_in_goroutine, None);
        let g7 = tb.goroutine(7).expect("g7");
        assert_eq!(g7.status, "select");
        assert!(g7.locked_to_thread);
        assert!(g7.elided);
        let g8 = tb.goroutine(8).expect("g8");
        assert!(g8.frames.is_empty());
        assert_eq!(g8.created_by.as_ref().map(|f| f.line), Some(32));
    }

    const GO127_CRASH: &str = "fatal error: concurrent map writes

goroutine 5 gp=0xc000102a80 m=3 mp=0xc000100008 [running, locked to thread] {trace=abc}:
runtime.fatal({0x4b8e2b?, 0x0?})
\t/go/src/runtime/panic.go:1046 +0x5c fp=0xc000051f10 sp=0xc000051ee0 pc=0x436cfc
main.writer(0xc000012100, 0xc000024060, 0x1)
\t/my dir/w.go:21 +0x55 fp=0xc000051fc0 sp=0xc000051f10 pc=0x4b8e55
...12 frames elided...
created by main.concurrentMapWrites in goroutine 1
\t/my dir/w.go:12 +0x51 fp=0xc000051fe0 sp=0xc000051fc0 pc=0x4b8e71

runtime stack:
runtime.throw({0x4b8e2b?, 0x0?})
\t/go/src/runtime/panic.go:1023 +0x5c fp=0x7ffc sp=0x7ff0 pc=0x436c9c

goroutine 1 gp=0xc0000061c0 m=nil [sync.WaitGroup.Wait, 12 minutes]:
sync.(*WaitGroup).Wait(0xc000012100?)
\t/go/src/sync/waitgroup.go:118 +0x48 fp=0xc0000a5f00 sp=0xc0000a5ee0 pc=0x46a0c8

goroutine 6 gp=0xc000102c40 m=nil [running]:
\tgoroutine running on other thread; stack unavailable
created by main.concurrentMapWrites in goroutine 1
\t/my dir/w.go:12 +0x51

goroutine 5 gp=0xc000102a80 m=3 mp=0xc000100008 [running]:
\tgoroutine running on other thread; stack unavailable

-----

SIGQUIT: quit
PC=0x46b5d7 m=1 sigcode=0

goroutine 0 gp=0xc000006540 m=1 mp=0xc000046008 [idle]:
runtime.futex(0x5d2058, 0x80, 0x0, 0x0, 0x0, 0x0)
\t/go/src/runtime/sys_linux_amd64.s:557 +0x21 fp=0xc000059e30 sp=0xc000059e28 pc=0x46b5e1

goroutine 6 gp=0xc000102c40 m=2 mp=0xc000101008 [running]:
main.writer(0xc000012100, 0xc000024060, 0x2)
\t/my dir/w.go:21 +0x40 fp=0xc000052fc0 sp=0xc000052f10 pc=0x4b8e40

rax    0xca
rbx    0x0
";

    #[test]
    fn parses_go127_crash_format() {
        let tb = parse(GO127_CRASH).expect("parse");
        assert_eq!(tb.header, vec!["fatal error: concurrent map writes"]);
        assert_eq!(tb.crashing, Some(5));
        let ids: Vec<u64> = tb.goroutines.iter().map(|g| g.id).collect();
        assert_eq!(ids, vec![5, 1, 6]);
        let g5 = tb.goroutine(5).expect("g5");
        assert_eq!(g5.status, "running");
        assert!(g5.locked_to_thread);
        assert!(g5.elided);
        assert_eq!(g5.frames.len(), 2);
        assert_eq!(g5.frames[1].file, "/my dir/w.go");
        assert_eq!(g5.frames[1].line, 21);
        assert_eq!(g5.frames[1].fp, Some(0xc000051fc0));
        assert_eq!(g5.frames[1].sp, Some(0xc000051f10));
        assert_eq!(g5.frames[1].pc, Some(0x4b8e55));
        assert_eq!(g5.created_in_goroutine, Some(1));
        let g1 = tb.goroutine(1).expect("g1");
        assert_eq!(g1.status, "sync.WaitGroup.Wait");
        assert_eq!(g1.wait_minutes, Some(12));
        assert_eq!(g1.frames[0].function, "sync.(*WaitGroup).Wait");
        // Printed stackless first, then with a stack by its own M.
        let g6 = tb.goroutine(6).expect("g6");
        assert_eq!(g6.frames.len(), 1);
        assert_eq!(g6.frames[0].pc_offset, Some(0x40));
        assert_eq!(tb.system_stacks.len(), 2);
        assert_eq!(tb.system_stacks[0][0].function, "runtime.throw");
        assert_eq!(tb.system_stacks[1][0].function, "runtime.futex");
    }

    #[test]
    fn rejects_function_line_without_file_line() {
        let err = parse("goroutine 1 [running]:\nmain.main()\nmain.f()\n").expect_err("error");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn rejects_bad_line_number() {
        assert!(parse("goroutine 1 [running]:\nmain.main()\n\t/a.go:x +0x1\n").is_err());
        assert!(parse("goroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0xzz\n").is_err());
    }

    #[test]
    fn header_variants() {
        let h = parse_goroutine_header("goroutine 12 [chan receive (nil chan)]:").expect("h");
        assert_eq!((h.id, h.status.as_str()), (12, "chan receive (nil chan)"));
        let h =
            parse_goroutine_header("goroutine 3 m=nil [select (no cases), 3 minutes]:").expect("h");
        assert_eq!(h.status, "select (no cases)");
        assert_eq!(h.wait_minutes, Some(3));
        assert!(parse_goroutine_header("goroutine x [running]:").is_none());
        assert!(parse_goroutine_header("goroutine 1 junk [running]:").is_none());
        assert!(parse_goroutine_header("goroutine 1 [running] junk:").is_none());
    }
}
