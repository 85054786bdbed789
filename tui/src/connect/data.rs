//! Data commands as Delve's terminal sends them: print, locals, args, whatis, set,
//! display, regs, examinemem, list, disassemble. Values are printed by the REPL's
//! own formatter from the wire form.

use super::bps::split2;
use super::wire::{self, Scope};
use super::Term;
use coroner::repl::format;
use coroner::repl::parse::{self, Command};
use coroner::vars::format as vformat;
use serde_json::{json, Value};

/// Goroutines shown under a channel's `print` (Delve's maxPrintVarChanGoroutines).
const CHAN_WAITERS_SHOWN: i64 = 100;
/// Delve's ExamineMemoryLengthLimit: one ExamineMemory call reads at most this.
const EXAMINE_CHUNK: usize = 1 << 16;

impl Term {
    /// `print [%fmt] EXPR`; a channel also lists the goroutines waiting on it.
    pub(super) fn print(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        if rest.is_empty() {
            return Err("not enough arguments".into());
        }
        let (fmt, expr) = match rest.strip_prefix('%') {
            Some(r) => {
                let (f, e) = split2(r);
                (f.to_string(), e.to_string())
            }
            None => (String::new(), rest.to_string()),
        };
        let raw = self.eval_full(&expr, sc)?;
        let v = wire::var_of(&raw)?;
        let mut out = if fmt.is_empty() {
            vformat::multiline(&v)
        } else {
            coroner::repl::apply_format(&v, &fmt)
        };
        out.push('\n');
        if v.kind == coroner::vars::Kind::Chan && fmt.is_empty() {
            out.push('\n');
            let filter = json!([{"Kind": 8, "Negated": false,
                "Arg": format!("*(*{:?})({:#x})", v.ty, v.addr)}]);
            let r = self.c.call(
                "ListGoroutines",
                json!({"Start": 0, "Count": CHAN_WAITERS_SHOWN, "Filters": filter,
                    "GroupBy": 0, "EvalScope": sc.json()}),
            );
            match r {
                Err(e) => out.push_str(&format!("Error reading channel wait queue: {e}")),
                Ok(r) => {
                    out.push_str("Goroutines waiting on this channel:\n");
                    let cur = self.state()?["currentGoroutine"]["id"].as_i64();
                    for g in r["Goroutines"].as_array().into_iter().flatten() {
                        out.push_str(&self.goroutine_row(g, cur, "", parse::LocKind::User));
                    }
                }
            }
        }
        Ok(out)
    }

    /// `locals [-v] [REGEX]` and `args [-v] [REGEX]`.
    pub(super) fn locals_or_args(
        &mut self,
        cmd: &str,
        rest: &str,
        sc: Scope,
    ) -> Result<String, String> {
        let (method, key, what) = if cmd == "locals" {
            ("ListLocalVars", "Variables", "locals")
        } else {
            ("ListFunctionArgs", "Args", "args")
        };
        let (long, filter) = match rest.strip_prefix("-v") {
            Some(r) if r.is_empty() || r.starts_with(char::is_whitespace) => (true, r.trim()),
            _ => (false, rest),
        };
        let re = regex::Regex::new(filter).map_err(|e| format!("error parsing regexp: {e}"))?;
        let cfg = if long {
            wire::full_cfg(&self.config)
        } else {
            wire::short_cfg(&self.config)
        };
        let r = self
            .c
            .call(method, json!({"Scope": sc.json(), "Cfg": cfg}))?;
        let mut out = String::new();
        for v in wire::vars_of(&r[key])? {
            if !re.is_match(&v.name) {
                continue;
            }
            let text = if long {
                vformat::multiline(&v)
            } else {
                vformat::singleline(&v)
            };
            out.push_str(&format!("{} = {text}\n", wire::shown_name(&v)));
        }
        if out.is_empty() {
            out = format!("(no {what})\n");
        }
        Ok(out)
    }

    /// `whatis EXPR`: the type, the real type when it differs, an interface's
    /// concrete type.
    pub(super) fn whatis(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        if rest.is_empty() {
            return Err("not enough arguments".into());
        }
        let cfg = wire::SHORT_CFG();
        let v = wire::api_var(&self.eval(rest, sc, cfg)?)?;
        if v.flags & wire::FLAG_CPU_REGISTER != 0 {
            return Ok("CPU Register\n".into());
        }
        let mut out = String::new();
        if !v.ty.is_empty() {
            out.push_str(&format!("{}\n", v.ty));
        }
        if v.real_type != v.ty {
            out.push_str(&format!("Real type: {}\n", v.real_type));
        }
        if coroner::vars::Kind::from_go(v.kind) == coroner::vars::Kind::Interface {
            if let Some(c) = v.children.first() {
                out.push_str(&format!("Concrete type: {}\n", c.ty));
            }
        }
        if self.config.show_location_expr && !v.location_expr.is_empty() {
            out.push_str(&format!("location: {}\n", v.location_expr));
        }
        Ok(out)
    }

    /// `set LHS = RHS`: split where Go's parser finds the lone `=`.
    pub(super) fn set(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let at = assignment_at(rest).ok_or("syntax error '=' not found")?;
        let (lhs, rhs) = (&rest[..at], &rest[at + 1..]);
        self.c.call(
            "Set",
            json!({"Scope": sc.json(), "Symbol": lhs.trim(), "Value": rhs.trim()}),
        )?;
        Ok(String::new())
    }

    /// `display`, `display -a [%fmt] EXPR`, `display -d N`.
    pub(super) fn display(&mut self, rest: &str) -> Result<String, String> {
        if rest.is_empty() {
            return Ok(self.display_all());
        }
        if let Some(a) = rest.strip_prefix("-a ") {
            let a = a.trim();
            let (fmt, expr) = match a.strip_prefix('%') {
                Some(r) => {
                    let (f, e) = split2(r);
                    (f.to_string(), e.to_string())
                }
                None => (String::new(), a.to_string()),
            };
            if expr.is_empty() {
                return Err("not enough arguments".into());
            }
            self.displays.push(Some((expr, fmt)));
            return Ok(self.display_one(self.displays.len() - 1));
        }
        if let Some(n) = rest.strip_prefix("-d ") {
            let n = n.trim();
            let i: usize = n.parse().map_err(|_| format!("{n:?} is not a number"))?;
            match self.displays.get_mut(i) {
                Some(d @ Some(_)) => *d = None,
                _ => return Err(format!("%{i} is out of range")),
            }
            while self.displays.last().is_some_and(Option::is_none) {
                self.displays.pop();
            }
            return Ok(String::new());
        }
        Err("wrong arguments".into())
    }

    /// `regs [-a]`: the thread's registers at frame 0 of the selected goroutine,
    /// else the scope's (what the unwinder recovered for that frame).
    pub(super) fn regs(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let fp = rest == "-a";
        let q = if sc.goroutine < 0 && sc.frame == 0 {
            json!({"ThreadID": 0, "IncludeFp": fp})
        } else {
            json!({"ThreadID": 0, "IncludeFp": fp, "Scope": sc.json()})
        };
        let r = self.c.call("ListRegisters", q)?;
        let regs = r["Regs"].as_array().cloned().unwrap_or_default();
        let width = regs
            .iter()
            .map(|x| x["Name"].as_str().unwrap_or("").len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for x in &regs {
            out.push_str(&format!(
                "{:>width$} = {}\n",
                x["Name"].as_str().unwrap_or(""),
                x["Value"].as_str().unwrap_or("")
            ));
        }
        out.push('\n');
        Ok(out)
    }

    /// `examinemem [-fmt F] [-count N] [-size S] [-x EXPR | ADDR]`: an expression
    /// operand is evaluated by the server (a pointer's target, an integer's value).
    pub(super) fn examine(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let line = format!("examinemem {rest}");
        let x = match parse::parse(&line) {
            Ok(Command::Examine(x)) => x,
            Ok(_) => return Err("wrong arguments".into()),
            Err(e) => {
                let Some((head, expr)) = rest.split_once("-x ") else {
                    return Err(e.to_string());
                };
                let v = wire::api_var(&self.eval_full(expr.trim(), sc)?)?;
                let addr = match coroner::vars::Kind::from_go(v.kind) {
                    coroner::vars::Kind::Ptr => v
                        .children
                        .first()
                        .map(|c| c.addr)
                        .ok_or_else(|| format!("bug? invalid pointer: {}", v.name))?,
                    k if k.is_int() || k.is_uint() => parse::parse_int(v.value.trim())
                        .ok_or_else(|| format!("bad expression result: {:?}", v.value))?,
                    _ => return Err(format!("unsupported expression type: {}", v.ty)),
                };
                match parse::parse(&format!("examinemem {head} {addr:#x}"))
                    .map_err(|e| e.to_string())?
                {
                    Command::Examine(x) => x,
                    _ => return Err("wrong arguments".into()),
                }
            }
        };
        let mut out = String::new();
        let mut start = x.addr;
        let mut left = x.count * x.size;
        while left > 0 {
            let n = left.min(EXAMINE_CHUNK);
            let r = self
                .c
                .call("ExamineMemory", json!({"Address": start, "Length": n}))?;
            let mem = decode_base64(r["Mem"].as_str().unwrap_or(""))
                .ok_or("the server sent malformed memory")?;
            out.push_str(&format::examine_text(start, &mem, x.size, x.format));
            start = start.wrapping_add(n as u64);
            left -= n;
        }
        Ok(out)
    }

    /// `list [LOC]`: around the selected goroutine's position (with its stop line),
    /// the scope's frame, or a location.
    pub(super) fn list(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let scoped = sc.goroutine >= 0 || sc.frame > 0;
        if rest.is_empty() && !scoped {
            let st = self.state()?;
            let mut out = self.context(&st);
            let g = &st["currentGoroutine"];
            let loc = if g.is_object() {
                &g["currentLoc"]
            } else {
                &st["currentThread"]
            };
            let (file, line) = (
                loc["file"].as_str().unwrap_or("").to_string(),
                loc["line"].as_u64().unwrap_or(0),
            );
            match self.listing(&file, line, true) {
                Ok(t) => out.push_str(&t),
                Err(e) => {
                    self.before_error = out;
                    return Err(e);
                }
            }
            return Ok(out);
        }
        if rest.is_empty() {
            let r = self.c.call(
                "Stacktrace",
                json!({"Id": sc.goroutine, "Depth": sc.frame, "Full": false}),
            )?;
            let frames = r["Locations"].as_array().cloned().unwrap_or_default();
            let f = usize::try_from(sc.frame)
                .ok()
                .and_then(|i| frames.get(i))
                .ok_or_else(|| {
                    format!(
                        "Frame {} does not exist in goroutine {}",
                        sc.frame, sc.goroutine
                    )
                })?
                .clone();
            let mut gid = sc.goroutine;
            if gid < 0 {
                gid = self.state()?["currentGoroutine"]["id"]
                    .as_i64()
                    .unwrap_or(0);
            }
            let (file, line) = (
                f["file"].as_str().unwrap_or(""),
                f["line"].as_u64().unwrap_or(0),
            );
            let mut out = format!(
                "Goroutine {gid} frame {} at {file}:{line} (PC: {:#x})\n",
                sc.frame,
                f["pc"].as_u64().unwrap_or(0)
            );
            match self.listing(file, line, true) {
                Ok(t) => out.push_str(&t),
                Err(e) => {
                    // The header is printed before printfile fails (Delve).
                    self.before_error = out;
                    return Err(e);
                }
            }
            return Ok(out);
        }
        let r = self.c.call(
            "FindLocation",
            json!({"Scope": sc.json(), "Loc": rest, "IncludeNonExecutableLines": false,
                "SubstitutePathRules": []}),
        )?;
        let locs = r["Locations"].as_array().cloned().unwrap_or_default();
        let loc = match locs.as_slice() {
            [l] => l.clone(),
            [] => return Err(format!("location {rest:?} not found")),
            _ => return Err(format!("Location {rest:?} ambiguous")),
        };
        let (file, line) = (
            loc["file"].as_str().unwrap_or(""),
            loc["line"].as_u64().unwrap_or(0),
        );
        let mut out = format!(
            "Showing {file}:{line} (PC: {:#x})\n",
            loc["pc"].as_u64().unwrap_or(0)
        );
        match self.listing(file, line, false) {
            Ok(t) => out.push_str(&t),
            Err(e) => {
                self.before_error = out;
                return Err(e);
            }
        }
        Ok(out)
    }

    /// `disassemble [-a START END] [-l LOC]`: the scope's function by default.
    pub(super) fn disassemble(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        const USAGE: &str =
            "wrong number of arguments: disassemble [-a <start> <end>] [-l <locspec>]";
        let flavour = self.flavour();
        let (cmd, arg) = split2(rest);
        let (start, end) = match cmd {
            "" => (self.scope_pc(sc, "+0")?, 0),
            "-a" => {
                let (a, b) = split2(arg);
                let num = |s: &str| {
                    parse::parse_int(s)
                        .ok_or_else(|| format!("wrong argument: {s:?} is not a number"))
                };
                if b.is_empty() {
                    return Err(USAGE.into());
                }
                (num(a)?, num(b)?)
            }
            "-l" if !arg.is_empty() => (self.scope_pc(sc, arg)?, 0),
            _ => return Err(USAGE.into()),
        };
        let r = self.c.call(
            "Disassemble",
            json!({"Scope": sc.json(), "StartPC": start, "EndPC": end, "Flavour": flavour}),
        )?;
        let insns = r["Disassemble"].as_array().cloned().unwrap_or_default();
        Ok(disasm_text(&insns, true))
    }

    /// Delve's printdisass: the instructions around PC, the function header only when
    /// the window starts at its entry.
    pub(super) fn disassembly_around(&mut self, pc: u64) -> Result<String, String> {
        let flavour = self.flavour();
        let sc = Scope {
            goroutine: -1,
            frame: 0,
        };
        let r = self.c.call(
            "Disassemble",
            json!({"Scope": sc.json(), "StartPC": pc, "EndPC": 0, "Flavour": flavour}),
        )?;
        let mut insns = r["Disassemble"].as_array().cloned().unwrap_or_default();
        let n = self.config.source_list_line_count.unwrap_or(5) as usize;
        let mut header = true;
        if let Some(i) = insns.iter().position(|x| x["AtPC"].as_bool() == Some(true)) {
            let s = i.saturating_sub(n);
            let e = (i + n + 1).min(insns.len());
            header = s == 0;
            insns = insns[s..e].to_vec();
        }
        Ok(disasm_text(&insns, header))
    }

    /// Delve's api.AssemblyFlavour of the disassemble-flavor config: 0 GNU, 1 Intel
    /// (the default), 2 Go.
    fn flavour(&self) -> i64 {
        use coroner::repl::parse::Flavor;
        match self.config.disassemble_flavor {
            Some(Flavor::Gnu) => 0,
            Some(Flavor::Go) => 2,
            _ => 1,
        }
    }

    /// The one PC a location names (FindLocation with non-executable lines).
    fn scope_pc(&mut self, sc: Scope, spec: &str) -> Result<u64, String> {
        let r = self.c.call(
            "FindLocation",
            json!({"Scope": sc.json(), "Loc": spec, "IncludeNonExecutableLines": true,
                "SubstitutePathRules": []}),
        )?;
        let locs = r["Locations"].as_array().cloned().unwrap_or_default();
        match locs.as_slice() {
            [l] => Ok(l["pc"].as_u64().unwrap_or(0)),
            [] => Err(format!("location {spec:?} not found")),
            _ => Err("expression specifies multiple locations".into()),
        }
    }
}

/// Delve's disasmPrint: `TEXT fn(SB) file`, then `=>`, `file:line`, the address
/// (`*` at a breakpoint), the bytes and the text, through Go's tabwriter.
fn disasm_text(insns: &[Value], header: bool) -> String {
    let mut out = String::new();
    if let Some(first) = insns.first() {
        let f = &first["Loc"]["function"];
        if header && f.is_object() {
            out.push_str(&format!(
                "TEXT {}(SB) {}\n",
                f["name"].as_str().unwrap_or(""),
                first["Loc"]["file"].as_str().unwrap_or("")
            ));
        }
    }
    let rows: Vec<Vec<String>> = insns
        .iter()
        .map(|i| {
            let loc = &i["Loc"];
            let file = loc["file"].as_str().unwrap_or("");
            let base = file.rsplit('/').next().unwrap_or(file);
            let bp = if i["Breakpoint"].as_bool() == Some(true) {
                "*"
            } else {
                ""
            };
            let bytes = decode_base64(i["Bytes"].as_str().unwrap_or("")).unwrap_or_default();
            vec![
                if i["AtPC"].as_bool() == Some(true) {
                    "=>"
                } else {
                    ""
                }
                .to_string(),
                format!("{base}:{}", loc["line"]),
                format!("{:#x}{bp}", loc["pc"].as_u64().unwrap_or(0)),
                coroner::repl::disasm::hex_bytes(&bytes),
                i["Text"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    out.push_str(&format::tabwrite(&rows));
    out
}

/// Where `LHS = RHS` splits: the first `=` that is not part of `==`, `!=`, `<=`,
/// `>=` or `:=`, outside quotes.
fn assignment_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' | b'`' => quote = Some(c),
                b'=' => {
                    let prev = i.checked_sub(1).map(|p| b[p]);
                    let next = b.get(i + 1).copied();
                    if next == Some(b'=') {
                        i += 1;
                    } else if !matches!(prev, Some(b'!' | b'<' | b'>' | b':' | b'=')) {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Go's encoding/json form of a byte slice (standard base64, padded).
pub(super) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (k, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * k);
        }
        let bytes = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{assignment_at, decode_base64};

    #[test]
    fn base64_as_go_writes_it() {
        assert_eq!(decode_base64("").as_deref(), Some(&[][..]));
        assert_eq!(decode_base64("AQID").as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(decode_base64("AQI=").as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(decode_base64("AQ==").as_deref(), Some(&[1u8][..]));
        assert_eq!(decode_base64("A"), None);
        assert_eq!(decode_base64("!!!!"), None);
    }

    #[test]
    fn the_assignment_is_the_lone_equals() {
        assert_eq!(assignment_at("x = 1"), Some(2));
        assert_eq!(assignment_at("a[i==1] = 2"), Some(8));
        assert_eq!(assignment_at("s = \"a=b\""), Some(2));
        assert_eq!(assignment_at("x == 1"), None);
        assert_eq!(assignment_at("x != 1"), None);
    }
}
