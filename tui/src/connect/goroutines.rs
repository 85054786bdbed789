//! Goroutine, thread and frame commands as Delve's terminal sends them:
//! `goroutines` with its flags (filters and grouping done by the server, stacks
//! fetched per goroutine), `goroutine [N [CMD]]`, `threads`, `thread N`, `stack`,
//! `frame N [CMD]`, `up`, `down`.

use super::bps::split2;
use super::wire::{self, Scope};
use super::{Out, Term};
use coroner::repl::format::{location_text, push_goroutine_line, stack_text, thread_line, LocRef};
use coroner::repl::parse::{self, Command, FilterKind, GroupBy, LocKind};
use serde_json::{json, Value};

/// Go's g status values Delve shows wait reasons for (_Gsyscall, _Gwaiting).
const G_SYSCALL: u64 = 3;
const G_WAITING: u64 = 4;
/// Delve's `stack` default depth.
const STACK_DEPTH: i64 = 50;
/// Delve's goroutineBatchSize, maxGroupMembers and maxGoroutineGroups.
const BATCH: i64 = 10_000;
const GROUP_MEMBERS: i64 = 5;
const GROUPS: i64 = 50;

/// Delve's GoroutineField numbers for filters and grouping.
fn field(k: LocKind) -> i64 {
    match k {
        LocKind::Current => 1,
        LocKind::User => 2,
        LocKind::Go => 3,
        LocKind::Start => 4,
    }
}
const FIELD_LABEL: i64 = 5;
const FIELD_RUNNING: i64 = 6;
const FIELD_USER: i64 = 7;

fn loc_key(k: LocKind) -> &'static str {
    match k {
        LocKind::Current => "currentLoc",
        LocKind::User => "userCurrentLoc",
        LocKind::Go => "goStatementLoc",
        LocKind::Start => "startLoc",
    }
}

impl Term {
    /// `goroutines [-u|-r|-g|-s] [-t [N]] [-l] [-with|-without F] [-group G] [-exec CMD]`.
    pub(super) fn goroutines(&mut self, line: &str, sc: Scope) -> Result<String, String> {
        let a = match parse::parse(line).map_err(|e| e.to_string())? {
            Command::Goroutines(a) => a,
            _ => return Err("wrong arguments".into()),
        };
        let filters: Vec<Value> = a
            .filters
            .iter()
            .map(|f| {
                let (kind, arg) = match &f.kind {
                    FilterKind::Loc(k, s) => (field(*k), s.clone()),
                    FilterKind::Label(k, Some(v)) => (FIELD_LABEL, format!("{k}={v}")),
                    FilterKind::Label(k, None) => (FIELD_LABEL, k.clone()),
                    FilterKind::Running => (FIELD_RUNNING, String::new()),
                    FilterKind::User => (FIELD_USER, String::new()),
                };
                json!({"Kind": kind, "Negated": f.negate, "Arg": arg})
            })
            .collect();
        let (group_by, group_key) = match &a.group {
            None => (0, String::new()),
            Some(GroupBy::Loc(k)) => (field(*k), String::new()),
            Some(GroupBy::Running) => (FIELD_RUNNING, String::new()),
            Some(GroupBy::User) => (FIELD_USER, String::new()),
            Some(GroupBy::Label(k)) => (FIELD_LABEL, k.clone()),
        };
        let cur = self.state()?["currentGoroutine"]["id"].as_i64();
        let depth = a.stack_depth.map(|d| i64::try_from(d).unwrap_or(i64::MAX));
        let mut out = String::new();
        let mut listed = 0usize;
        let mut start = 0i64;
        while start >= 0 {
            let r = self.c.call(
                "ListGoroutines",
                json!({"Start": start, "Count": if group_by != 0 { 0 } else { BATCH },
                    "Filters": filters, "GroupBy": group_by, "GroupByKey": group_key,
                    "MaxGroupMembers": GROUP_MEMBERS, "MaxGroups": GROUPS,
                    "EvalScope": {"GoroutineID": -1, "Frame": sc.frame, "DeferredCall": 0}}),
            )?;
            let mut gs = r["Goroutines"].as_array().cloned().unwrap_or_default();
            let groups = r["Groups"].as_array().cloned().unwrap_or_default();
            if !groups.is_empty() {
                for (i, grp) in groups.iter().enumerate() {
                    out.push_str(&format!("{}\n", grp["Name"].as_str().unwrap_or("")));
                    let off = grp["Offset"].as_u64().unwrap_or(0) as usize;
                    let n = grp["Count"].as_u64().unwrap_or(0) as usize;
                    let members: Vec<Value> = gs.iter().skip(off).take(n).cloned().collect();
                    for g in &members {
                        out.push_str(&self.goroutine_entry(g, cur, "\t", &a, depth)?);
                    }
                    out.push_str(&format!("\tTotal: {}\n", grp["Total"]));
                    if i + 1 != groups.len() {
                        out.push('\n');
                    }
                }
                if r["TooManyGroups"].as_bool() == Some(true) {
                    out.push_str("Too many groups\n");
                }
            } else {
                gs.sort_by_key(|g| g["id"].as_i64().unwrap_or(0));
                for g in &gs {
                    out.push_str(&self.goroutine_entry(g, cur, "", &a, depth)?);
                }
                listed += gs.len();
            }
            start = r["Nextg"].as_i64().unwrap_or(-1);
            if start == 0 {
                break;
            }
        }
        if listed > 0 {
            out.push_str(&format!("[{listed} goroutines]\n"));
        }
        Ok(out)
    }

    /// One goroutine of a listing: its line, labels, stack and `-exec` command.
    fn goroutine_entry(
        &mut self,
        g: &Value,
        cur: Option<i64>,
        indent: &str,
        a: &parse::GoroutinesArgs,
        depth: Option<i64>,
    ) -> Result<String, String> {
        let mut out = self.goroutine_row(g, cur, indent, a.loc);
        if a.labels {
            out.push_str(&labels_line(g, &format!("{indent}\t")));
        }
        let id = g["id"].as_i64().unwrap_or(0);
        if let Some(d) = depth {
            let r = self
                .c
                .call("Stacktrace", json!({"Id": id, "Depth": d, "Full": false}))?;
            let frames = wire::frames_of(&r["Locations"])?;
            out.push_str(&self.stack_lines(&frames, &format!("{indent}\t")));
        }
        if let Some(cmd) = &a.exec {
            let sc = Scope {
                goroutine: id,
                frame: 0,
            };
            match self.run_in(cmd, sc) {
                Ok(Some(t)) => out.push_str(&t),
                Ok(None) => {}
                Err(e) => return Err(format!("{out}{e}")),
            }
        }
        Ok(out)
    }

    /// `  Goroutine N - User: file:line fn (0xpc) (thread T) [wait]`.
    pub(super) fn goroutine_row(
        &mut self,
        g: &Value,
        cur: Option<i64>,
        indent: &str,
        kind: LocKind,
    ) -> String {
        let mut out = String::from(indent);
        if let Some(u) = g["unreadable"].as_str().filter(|u| !u.is_empty()) {
            out.push_str(&format!("  Goroutine (unreadable {u})\n"));
            return out;
        }
        let goid = g["id"].as_u64().unwrap_or(0);
        let loc = wire::location(&g[loc_key(kind)]);
        let thread = g["threadID"].as_u64().filter(|t| *t != 0).map(|t| t as u32);
        let wait = self.wait_of(g);
        push_goroutine_line(
            &mut out,
            Some(goid as i64) == cur,
            goid,
            kind,
            LocRef::from(&loc),
            thread,
            wait.as_deref(),
            self.cwd.as_deref(),
        );
        out.push('\n');
        out
    }

    /// The bracketed wait reason of a waiting goroutine: the wire has the runtime's
    /// code, and its text is the target's own `runtime.waitReasonStrings[code]`.
    fn wait_of(&mut self, g: &Value) -> Option<String> {
        let status = g["status"].as_u64().unwrap_or(0);
        let code = g["waitReason"].as_i64().unwrap_or(0);
        if !(status == G_WAITING || status == G_SYSCALL) || code == 0 {
            return None;
        }
        if !self.wait_reasons.contains_key(&code) {
            let expr = format!("runtime.waitReasonStrings[{code}]");
            let text = self
                .eval_full(&expr, self.scope())
                .ok()
                .and_then(|v| v["value"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("wait reason {code}"));
            self.wait_reasons.insert(code, text);
        }
        let mut s = self.wait_reasons.get(&code).cloned().unwrap_or_default();
        let since = g["waitSince"].as_i64().unwrap_or(0);
        if since > 0 {
            s.push_str(&format!(" {since}"));
        }
        Some(s)
    }

    /// Delve's writeGoroutineLong: the four locations and the labels.
    pub(super) fn goroutine_long(&self, g: &Value, prefix: &str) -> String {
        let loc = |k: &str| location_text(&wire::location(&g[k]), self.cwd.as_deref());
        let mut out = format!(
            "{prefix}Goroutine {}:\n{prefix}\tRuntime: {}\n{prefix}\tUser: {}\n{prefix}\tGo: {}\n{prefix}\tStart: {}\n",
            g["id"],
            loc("currentLoc"),
            loc("userCurrentLoc"),
            loc("goStatementLoc"),
            loc("startLoc"),
        );
        out.push_str(&labels_line(g, &format!("{prefix}\t")));
        out
    }

    /// `goroutine`: the selected thread and goroutine; `goroutine N`: switch to it;
    /// `goroutine N CMD`: CMD in goroutine N's scope.
    pub(super) fn goroutine(&mut self, rest: &str, sc: Scope) -> Out {
        let (id, cmd) = split2(rest);
        if id.is_empty() {
            let st = self.state()?;
            let th = &st["currentThread"];
            let mut out = if th.is_object() {
                format!(
                    "Thread {} at {}:{}\n",
                    th["id"],
                    self.path(th["file"].as_str().unwrap_or("")),
                    th["line"]
                )
            } else {
                "Thread <nil>\n".to_string()
            };
            if st["currentGoroutine"].is_object() {
                out.push_str(&self.goroutine_long(&st["currentGoroutine"], ""));
            }
            return Ok(Some(out));
        }
        let goid: i64 = id
            .parse()
            .map_err(|_| format!("strconv.ParseInt: parsing {id:?}: invalid syntax"))?;
        if !cmd.is_empty() {
            let sc = Scope {
                goroutine: goid,
                frame: sc.frame,
            };
            return self.run_in(cmd, sc);
        }
        let old = self.state()?["currentGoroutine"]["id"]
            .as_i64()
            .unwrap_or(0);
        let r = self.c.call(
            "Command",
            json!({"name": "switchGoroutine", "goroutineID": goid}),
        )?;
        self.frame = 0;
        let tid = r["State"]["currentThread"]["id"].as_i64().unwrap_or(0);
        Ok(Some(format!(
            "Switched from {old} to {goid} (thread {tid})\n"
        )))
    }

    /// `frame N [CMD]` (dir 0), `up [N] [CMD]` (1), `down [N] [CMD]` (-1).
    pub(super) fn frame_cmd(&mut self, rest: &str, sc: Scope, dir: i64) -> Out {
        let (n, cmd) = split2(rest);
        let n: i64 = if n.is_empty() {
            if dir == 0 {
                return Err("not enough arguments".into());
            }
            1
        } else {
            n.parse()
                .map_err(|_| format!("strconv.Atoi: parsing {n:?}: invalid syntax"))?
        };
        let frame = match dir {
            0 => n,
            d => self.frame + d * n,
        };
        if !cmd.is_empty() {
            let sc = Scope {
                goroutine: sc.goroutine,
                frame,
            };
            return self.run_in(cmd, sc);
        }
        if frame < 0 {
            return Err(format!("Invalid frame {frame}"));
        }
        let r = self.c.call(
            "Stacktrace",
            json!({"Id": sc.goroutine, "Depth": frame, "Full": false}),
        )?;
        let frames = r["Locations"].as_array().cloned().unwrap_or_default();
        let f = usize::try_from(frame)
            .ok()
            .and_then(|i| frames.get(i))
            .cloned()
            .ok_or_else(|| format!("Invalid frame {frame}"))?;
        self.frame = frame;
        let st = self.state()?;
        let mut out = self.context(&st);
        let (file, line) = (
            f["file"].as_str().unwrap_or(""),
            f["line"].as_u64().unwrap_or(0),
        );
        out.push_str(&format!(
            "Frame {frame}: {}:{line} (PC: {:x})\n",
            self.path(file),
            f["pc"].as_u64().unwrap_or(0)
        ));
        out.push_str(&self.source(file, line, true));
        Ok(Some(out))
    }

    /// `stack [N] [-full]` of the scope's goroutine.
    pub(super) fn stack(&mut self, rest: &str, sc: Scope) -> Result<String, String> {
        let mut depth = STACK_DEPTH;
        let mut full = false;
        for a in rest.split_whitespace() {
            match a {
                "-full" => full = true,
                a => {
                    depth = a
                        .parse()
                        .map_err(|_| format!("invalid stack depth {a:?}"))?
                }
            }
        }
        let mut q = json!({"Id": sc.goroutine, "Depth": depth, "Full": full});
        if full {
            q["Cfg"] = wire::SHORT_CFG();
        }
        let r = self.c.call("Stacktrace", q)?;
        let frames = wire::frames_of(&r["Locations"])?;
        if !full {
            return Ok(self.stack_lines(&frames, ""));
        }
        // -full: each frame's arguments and locals under it, indented past the frame
        // number, and a blank line after each frame (Delve's PrintStack).
        let raw = r["Locations"].as_array().cloned().unwrap_or_default();
        let text = self.stack_lines(&frames, "");
        let lines: Vec<&str> = text.lines().collect();
        let digits = frames.len().saturating_sub(1).to_string().len();
        let pad = " ".repeat(digits + 2);
        let vars: Vec<String> = raw
            .iter()
            .take(frames.len())
            .map(|raw| {
                let mut s = String::new();
                for key in ["Arguments", "Locals"] {
                    for v in wire::vars_of(&raw[key]).unwrap_or_default() {
                        s.push_str(&format!(
                            "{pad}    {} = {}\n",
                            v.name,
                            coroner::vars::format::singleline(&v)
                        ));
                    }
                }
                s
            })
            .collect();
        let gap = vars.iter().any(|v| !v.is_empty());
        let mut out = String::new();
        for (i, v) in vars.iter().enumerate() {
            for l in lines.iter().skip(2 * i).take(2) {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(v);
            if gap {
                out.push('\n');
            }
        }
        if let Some(t) = lines.get(2 * frames.len()) {
            out.push_str(t);
            out.push('\n');
        }
        Ok(out)
    }

    /// Delve's PrintStack: the frames, and `(truncated)` when the last one is not
    /// the bottom of the stack.
    fn stack_lines(&self, frames: &[wire::ApiFrame], indent: &str) -> String {
        let mut out = stack_text(frames, indent, self.cwd.as_deref());
        if frames.last().is_some_and(|f| !f.bottom) {
            out.push_str(&format!("{indent}(truncated)\n"));
        }
        out
    }

    pub(super) fn threads(&mut self) -> Result<String, String> {
        let cur = self.state()?["currentThread"]["id"].as_i64().unwrap_or(0);
        let r = self.c.call("ListThreads", json!({}))?;
        let mut ts = r["Threads"].as_array().cloned().unwrap_or_default();
        ts.sort_by_key(|t| t["id"].as_i64().unwrap_or(0));
        let mut out = String::new();
        for t in &ts {
            let id = t["id"].as_i64().unwrap_or(0);
            let line = thread_line(
                id == cur,
                u32::try_from(id).unwrap_or(0),
                &wire::location(t),
                self.cwd.as_deref(),
            );
            out.push_str(&line);
            out.push('\n');
        }
        Ok(out)
    }

    /// `thread N`: switch the current thread.
    pub(super) fn thread(&mut self, rest: &str) -> Result<String, String> {
        if rest.is_empty() {
            return Err("you must specify a thread".into());
        }
        let tid: i64 = rest
            .parse()
            .map_err(|_| format!("strconv.Atoi: parsing {rest:?}: invalid syntax"))?;
        let old = self.state()?["currentThread"]["id"].clone();
        let old = if old.is_null() {
            "<nil>".to_string()
        } else {
            old.to_string()
        };
        let r = self
            .c
            .call("Command", json!({"name": "switchThread", "threadID": tid}))?;
        self.frame = 0;
        let new = r["State"]["currentThread"]["id"].clone();
        Ok(format!("Switched from {old} to {new}\n"))
    }
}

/// Delve's writeGoroutineLabels: up to five `"k":"v"` pairs, sorted.
fn labels_line(g: &Value, prefix: &str) -> String {
    let Some(m) = g["labels"].as_object().filter(|m| !m.is_empty()) else {
        return String::new();
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let more = keys.len().saturating_sub(5);
    let shown: Vec<String> = keys
        .iter()
        .take(5)
        .map(|k| {
            format!(
                "{}:{}",
                coroner::vars::format::go_quote(k),
                coroner::vars::format::go_quote(m[*k].as_str().unwrap_or(""))
            )
        })
        .collect();
    let mut out = format!("{prefix}Labels: {}", shown.join(", "));
    if more > 0 {
        out.push_str(&format!("... ({more} more)"));
    }
    out.push('\n');
    out
}
