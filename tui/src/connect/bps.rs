//! Breakpoint commands as Delve's terminal sends them: `break [NAME] LOC [if COND]`
//! (FindLocation, then one CreateBreakpoint per location), `clear`, `clearall`,
//! `toggle`, `condition`, `on BP CMD` (AmendBreakpoint with what CMD asks the server
//! to collect at each hit) and `breakpoints`.

use super::wire::{self, Scope};
use super::Term;
use serde_json::{json, Value};

/// Delve's formatBreakpointName: `Breakpoint 1`, `tracepoint t`, `Watchpoint w on [x]`.
pub(super) fn bp_name(bp: &Value, upcase: bool) -> String {
    let mut thing = if bp["WatchExpr"].as_str().is_some_and(|w| !w.is_empty()) {
        "watchpoint"
    } else if bp["continue"].as_bool() == Some(true) {
        "tracepoint"
    } else {
        "breakpoint"
    }
    .to_string();
    if upcase {
        thing = format!("{}{}", thing[..1].to_uppercase(), &thing[1..]);
    }
    let id = match bp["name"].as_str().filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => bp["id"].to_string(),
    };
    match bp["WatchExpr"].as_str().filter(|w| !w.is_empty()) {
        Some(w) if Some(w) != bp["name"].as_str() => format!("{thing} {id} on [{w}]"),
        _ => format!("{thing} {id}"),
    }
}

/// Delve's ValidBreakpointName: letters and digits, not a number.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.parse::<i64>().is_err() && s.chars().all(char::is_alphanumeric)
}

impl Term {
    /// Delve's formatBreakpointLocation: the addresses, then the function and line.
    fn bp_location(&self, bp: &Value) -> String {
        let addrs: Vec<String> = match bp["addrs"].as_array().filter(|a| !a.is_empty()) {
            Some(a) => a
                .iter()
                .map(|x| format!("{:#x}", x.as_u64().unwrap_or(0)))
                .collect(),
            None => vec![format!("{:#x}", bp["addr"].as_u64().unwrap_or(0))],
        };
        let mut out = addrs.join(",");
        if bp["WatchExpr"].as_str().is_none_or(str::is_empty) {
            out.push_str(" for ");
            if let Some(f) = bp["functionName"].as_str().filter(|f| !f.is_empty()) {
                out.push_str(&format!("{f}() "));
            }
            out.push_str(&format!(
                "{}:{}",
                self.path(bp["file"].as_str().unwrap_or("")),
                bp["line"]
            ));
        }
        out
    }

    /// `break [NAME] LOC [if COND]`.
    pub(super) fn set_breakpoint(&mut self, args: &str) -> Result<String, String> {
        self.create_breakpoints(args, false).map(|(t, _)| t)
    }

    /// Delve's setBreakpoint: the created breakpoints' lines and ids.
    pub(super) fn create_breakpoints(
        &mut self,
        argstr: &str,
        tracepoint: bool,
    ) -> Result<(String, Vec<i64>), String> {
        let parse = |argstr: &str| -> (String, String) {
            let (first, rest) = split2(argstr);
            if rest.is_empty() {
                let spec = if first.is_empty() { "+0" } else { argstr };
                (String::new(), spec.to_string())
            } else if valid_name(first) {
                (first.to_string(), rest.to_string())
            } else {
                (String::new(), argstr.to_string())
            }
        };
        let (mut name, mut spec) = parse(argstr);
        let mut cond = String::new();
        let mut found = self.find(&spec);
        if found.is_err() {
            // The condition is only split off when the whole line is not a location.
            let at = if let Some(r) = argstr.strip_prefix("if ") {
                Some((0, argstr.len() - r.len()))
            } else {
                argstr.find(" if ").map(|i| (i, i + 4))
            };
            if let Some((start, end)) = at {
                cond = argstr[end..].to_string();
                (name, spec) = parse(&argstr[..start]);
                found = self.find(&spec);
            }
        }
        if found.is_err() && !name.is_empty() {
            name.clear();
            spec = argstr.to_string();
            if let Ok(l) = self.find(&spec) {
                found = Ok(l);
            }
        }
        let locs = found?;
        let mut out = String::new();
        let mut ids = Vec::new();
        for loc in &locs {
            let mut bp = json!({"addr": loc["pc"], "addrs": loc["pcs"], "addrpid": loc["pcpids"],
                "name": name, "Cond": cond, "continue": tracepoint});
            if tracepoint {
                bp["LoadArgs"] = wire::SHORT_CFG();
            }
            let r = self.c.call(
                "CreateBreakpoint",
                json!({"Breakpoint": bp, "LocExpr": spec, "SubstitutePathRules": [], "Suspended": false}),
            )?;
            let b = &r["Breakpoint"];
            ids.push(b["id"].as_i64().unwrap_or(0));
            out.push_str(&format!(
                "{} set at {}\n",
                bp_name(b, true),
                self.bp_location(b)
            ));
        }
        Ok((out, ids))
    }

    /// FindLocation as `break` asks it (non-executable lines included).
    fn find(&mut self, spec: &str) -> Result<Vec<Value>, String> {
        let sc = Scope {
            goroutine: -1,
            frame: self.frame,
        };
        let r = self.c.call(
            "FindLocation",
            json!({"Scope": sc.json(), "Loc": spec, "IncludeNonExecutableLines": true,
                "SubstitutePathRules": []}),
        )?;
        let locs = r["Locations"].as_array().cloned().unwrap_or_default();
        if locs.is_empty() {
            return Err(format!("location {spec:?} not found"));
        }
        Ok(locs)
    }

    /// A breakpoint by id or name (Delve's getBreakpointByIDOrName).
    fn breakpoint(&mut self, arg: &str) -> Result<Value, String> {
        let q = match arg.parse::<i64>() {
            Ok(id) => json!({"Id": id}),
            Err(_) => json!({"Name": arg}),
        };
        Ok(self.c.call("GetBreakpoint", q)?["Breakpoint"].clone())
    }

    fn amend(&mut self, bp: Value) -> Result<String, String> {
        self.c.call("AmendBreakpoint", json!({"Breakpoint": bp}))?;
        Ok(String::new())
    }

    pub(super) fn clear(&mut self, rest: &str) -> Result<String, String> {
        if rest.is_empty() {
            return Err("not enough arguments".into());
        }
        let q = match rest.parse::<i64>() {
            Ok(id) => json!({"Id": id}),
            Err(_) => json!({"Name": rest}),
        };
        let r = self.c.call("ClearBreakpoint", q)?;
        let bp = &r["Breakpoint"];
        Ok(format!(
            "{} cleared at {}\n",
            bp_name(bp, true),
            self.bp_location(bp)
        ))
    }

    /// `clearall [LOC]`: every user breakpoint (at LOC).
    pub(super) fn clearall(&mut self, rest: &str) -> Result<String, String> {
        let bps = self.list_breakpoints(false)?;
        let pcs: Option<Vec<u64>> = if rest.is_empty() {
            None
        } else {
            let mut pcs = Vec::new();
            for l in self.find(rest)? {
                pcs.extend(
                    l["pcs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_u64),
                );
                pcs.extend(l["pc"].as_u64());
            }
            Some(pcs)
        };
        let mut out = String::new();
        for bp in bps {
            let addr = bp["addr"].as_u64().unwrap_or(0);
            if pcs.as_ref().is_some_and(|p| !p.contains(&addr)) {
                continue;
            }
            let id = bp["id"].as_i64().unwrap_or(0);
            if id < 0 {
                continue;
            }
            if let Err(e) = self.c.call("ClearBreakpoint", json!({"Id": id})) {
                out.push_str(&format!(
                    "Couldn't delete {} at {}: {e}\n",
                    bp_name(&bp, false),
                    self.bp_location(&bp)
                ));
            }
            out.push_str(&format!(
                "{} cleared at {}\n",
                bp_name(&bp, true),
                self.bp_location(&bp)
            ));
        }
        Ok(out)
    }

    pub(super) fn toggle(&mut self, rest: &str) -> Result<String, String> {
        if rest.is_empty() {
            return Err("not enough arguments".into());
        }
        let q = match rest.parse::<i64>() {
            Ok(id) => json!({"Id": id}),
            Err(_) => json!({"Name": rest}),
        };
        let r = self.c.call("ToggleBreakpoint", q)?;
        let bp = &r["Breakpoint"];
        Ok(format!(
            "{} toggled at {}\n",
            bp_name(bp, true),
            self.bp_location(bp)
        ))
    }

    /// `condition BP EXPR`, `condition -hitcount BP OP N`, `-per-g-hitcount`, `-clear`.
    pub(super) fn condition(&mut self, argstr: &str) -> Result<String, String> {
        let (first, rest) = split2(argstr);
        if rest.is_empty() {
            return Err("not enough arguments".into());
        }
        let per_g = first == "-per-g-hitcount";
        if first == "-hitcount" || per_g {
            let (id, cond) = split2(rest);
            if cond.is_empty() {
                return Err("not enough arguments".into());
            }
            let mut bp = self.breakpoint(id)?;
            bp["HitCond"] = json!(cond);
            bp["HitCondPerG"] = json!(per_g);
            return self.amend(bp);
        }
        if first == "-clear" {
            let mut bp = self.breakpoint(rest)?;
            bp["Cond"] = json!("");
            return self.amend(bp);
        }
        let mut bp = self.breakpoint(first)?;
        bp["Cond"] = json!(rest);
        self.amend(bp)
    }

    /// `on BP CMD`: what the server collects at each hit (print, stack, goroutine,
    /// args, locals) or a condition, as Delve's `onPrefix` commands change the
    /// breakpoint before AmendBreakpoint.
    pub(super) fn on(&mut self, argstr: &str) -> Result<String, String> {
        let (id, cmdline) = split2(argstr);
        if cmdline.is_empty() {
            return Err("not enough arguments".into());
        }
        let mut bp = self.breakpoint(id)?;
        let (cmd, rest) = split2(cmdline);
        match cmd {
            "print" | "p" => {
                if rest.is_empty() {
                    return Err("not enough arguments".into());
                }
                let mut vars = bp["variables"].as_array().cloned().unwrap_or_default();
                vars.push(json!(rest));
                bp["variables"] = Value::Array(vars);
            }
            "stack" | "bt" => {
                let depth = if rest.is_empty() {
                    50
                } else {
                    rest.parse::<i64>()
                        .map_err(|_| format!("invalid stack depth {rest:?}"))?
                };
                bp["stacktrace"] = json!(depth);
            }
            "goroutine" | "gr" => {
                if !rest.is_empty() {
                    return Err("too many arguments to goroutine".into());
                }
                bp["goroutine"] = json!(true);
            }
            "args" | "locals" => {
                let cfg = if rest == "-v" {
                    wire::LONG_CFG()
                } else {
                    wire::SHORT_CFG()
                };
                let key = if cmd == "args" {
                    "LoadArgs"
                } else {
                    "LoadLocals"
                };
                bp[key] = cfg;
            }
            "condition" | "cond" => {
                let (first, more) = split2(rest);
                if first == "-hitcount" || first == "-per-g-hitcount" {
                    bp["HitCond"] = json!(more);
                    bp["HitCondPerG"] = json!(first == "-per-g-hitcount");
                } else {
                    bp["Cond"] = json!(rest);
                }
            }
            "trace" => bp["continue"] = json!(true),
            other => return Err(format!("{other} not available as breakpoint command")),
        }
        self.amend(bp)
    }

    /// `watch -r|-w|-rw EXPR`: a hardware watchpoint (CreateWatchpoint).
    pub(super) fn watch(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let (flag, expr) = split2(rest);
        if expr.is_empty() {
            return Err("wrong number of arguments: watch [-r|-w|-rw] <expr>".into());
        }
        let ty = match flag {
            "-r" => 1,
            "-w" => 2,
            "-rw" => 3,
            other => return Err(format!("wrong argument {other:?} to watch")),
        };
        let r = self.c.call(
            "CreateWatchpoint",
            json!({"Scope": sc.json(), "Expr": expr, "Type": ty}),
        )?;
        let bp = &r["Breakpoint"];
        Ok(format!(
            "{} set at {}\n",
            bp_name(bp, true),
            self.bp_location(bp)
        ))
    }

    fn list_breakpoints(&mut self, all: bool) -> Result<Vec<Value>, String> {
        let r = self.c.call("ListBreakpoints", json!({"All": all}))?;
        let mut bps = r["Breakpoints"].as_array().cloned().unwrap_or_default();
        bps.sort_by_key(|b| b["id"].as_i64().unwrap_or(0));
        Ok(bps)
    }

    /// `breakpoints [-a]`, in Delve's format.
    pub(super) fn breakpoints(&mut self, rest: &str) -> Result<String, String> {
        let bps = self.list_breakpoints(rest.split_whitespace().any(|a| a == "-a"))?;
        let mut out = String::new();
        for bp in &bps {
            let expr = bp["ExprString"].as_str().unwrap_or("");
            let state = if bp["disabled"].as_bool() == Some(true) {
                "(disabled)"
            } else if !expr.is_empty() {
                "(suspended)"
            } else {
                "(enabled)"
            };
            out.push_str(&format!("{} {state}", bp_name(bp, true)));
            if expr.is_empty() {
                out.push_str(&format!(
                    " at {} ({})\n",
                    self.bp_location(bp),
                    bp["totalHitCount"]
                ));
            } else {
                out.push_str(&format!(" at {expr}\n"));
            }
            for a in bp_attrs(bp) {
                out.push_str(&format!("\t{a}\n"));
            }
        }
        Ok(out)
    }
}

/// Delve's formatBreakpointAttrs (without the trace line).
fn bp_attrs(bp: &Value) -> Vec<String> {
    let mut a = Vec::new();
    let s = |k: &str| bp[k].as_str().unwrap_or("").to_string();
    if !s("Cond").is_empty() {
        a.push(format!("cond {}", s("Cond")));
    }
    if !s("HitCond").is_empty() {
        if bp["HitCondPerG"].as_bool() == Some(true) {
            a.push(format!("cond -per-g-hitcount {}", s("HitCond")));
        } else {
            a.push(format!("cond -hitcount {}", s("HitCond")));
        }
    }
    if bp["stacktrace"].as_i64().unwrap_or(0) > 0 {
        a.push(format!("stack {}", bp["stacktrace"]));
    }
    if bp["goroutine"].as_bool() == Some(true) {
        a.push("goroutine".into());
    }
    for (key, word) in [("LoadArgs", "args"), ("LoadLocals", "locals")] {
        if bp[key].is_object() {
            if bp[key] == wire::LONG_CFG() {
                a.push(format!("{word} -v"));
            } else {
                a.push(word.to_string());
            }
        }
    }
    for v in bp["variables"].as_array().into_iter().flatten() {
        a.push(format!("print {}", v.as_str().unwrap_or("")));
    }
    for v in bp["VerboseDescr"].as_array().into_iter().flatten() {
        a.push(v.as_str().unwrap_or("").to_string());
    }
    a
}

/// Delve's Split2PartsBySpace: the first word and the rest, trimmed.
pub(super) fn split2(s: &str) -> (&str, &str) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((a, b)) => (a, b.trim()),
        None => (s, ""),
    }
}
