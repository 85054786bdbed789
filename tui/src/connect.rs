//! `coroner connect ADDR`: a client of a JSON-RPC v2 server — coroner's own
//! `--headless` or Delve's — with coroner's REPL commands. Like Delve's
//! pkg/terminal, each command sends the RPCs Delve's terminal sends and prints the
//! replies; the printing is the REPL's own code (`vars::format`, `repl::format`) fed
//! with the server's `api.*` values, so the output is what `coroner core`/`exec` print
//! locally. See docs/architecture.md ("coroner connect") for why this design.
//!
//! Commands: print/p, locals, args, bt/stack [N], goroutines, goroutine N, threads,
//! break/b LOC [if COND], clear N, continue/c, next/n, step/s, stepout/so,
//! rewind/rw, rev next|step|stepout|si|ni|continue, checkpoint, checkpoints,
//! clear-checkpoint, restart [cN|EVENT],
//! exit/quit/q. Others answer that they are
//! not available remotely yet.

use anyhow::Context;
use coroner::repl::format::{
    push_goroutine_line, shorten_path, source_listing, stack_text, thread_line, LocRef,
};
use coroner::repl::{Config, Location};
use coroner::unwind::FrameView;
use coroner::vars::{format, Kind, Var};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The server: `HOST:PORT` or `unix:PATH`.
    pub addr: String,
    /// Run the commands in FILE first (one per line; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
}

trait Conn: std::io::Read + Write + Send {}
impl<T: std::io::Read + Write + Send> Conn for T {}

/// Newline-delimited JSON-RPC 1.0, one call at a time.
struct Client {
    r: BufReader<Box<dyn Conn>>,
    id: u64,
}

impl Client {
    fn dial(addr: &str) -> anyhow::Result<Client> {
        let c: Box<dyn Conn> = match addr.strip_prefix("unix:") {
            Some(p) => Box::new(
                std::os::unix::net::UnixStream::connect(p)
                    .with_context(|| format!("cannot connect to {addr}"))?,
            ),
            None => Box::new(
                std::net::TcpStream::connect(addr)
                    .with_context(|| format!("cannot connect to {addr}"))?,
            ),
        };
        Ok(Client {
            r: BufReader::new(c),
            id: 0,
        })
    }

    /// One call; Err is the server's error text (or why the connection failed).
    fn call(&mut self, method: &str, arg: Value) -> Result<Value, String> {
        self.id += 1;
        let req = json!({"method": format!("RPCServer.{method}"), "params": [arg], "id": self.id});
        let w = self.r.get_mut();
        w.write_all(format!("{req}\n").as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| format!("lost the server: {e}"))?;
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("lost the server: {e}")),
            }
            let v: Value = serde_json::from_str(&line)
                .map_err(|e| format!("the server sent a malformed reply: {e}"))?;
            // Replies to calls this client gave up on are skipped.
            if v.get("id") != Some(&json!(self.id)) {
                continue;
            }
            return match v.get("error") {
                Some(Value::String(e)) => Err(e.clone()),
                _ => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
            };
        }
    }
}

/// `api.Variable` as the server sends it.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiVar {
    name: String,
    addr: u64,
    #[serde(rename = "onlyAddr")]
    only_addr: bool,
    #[serde(rename = "type")]
    ty: String,
    kind: u64,
    value: String,
    len: i64,
    cap: i64,
    children: Vec<ApiVar>,
    base: u64,
    unreadable: String,
}

/// The engine's value tree from the wire form (the inverse of the server's
/// conversion), so the REPL's formatter prints it.
fn to_var(a: ApiVar) -> Var {
    let kind = Kind::from_go(a.kind);
    Var {
        // The engine keeps a string's loaded byte count in `cap` (Delve sends 0).
        cap: if kind == Kind::String {
            a.value.len() as i64
        } else {
            a.cap
        },
        name: a.name,
        addr: a.addr,
        only_addr: a.only_addr,
        ty: a.ty,
        kind,
        value: a.value,
        len: a.len,
        base: a.base,
        children: a.children.into_iter().map(to_var).collect(),
        unreadable: a.unreadable,
        ..Default::default()
    }
}

fn var_of(v: &Value) -> Result<Var, String> {
    ApiVar::deserialize(v)
        .map(to_var)
        .map_err(|e| format!("the server sent a malformed variable: {e}"))
}

/// A frame of `Stacktrace` (Location flattened).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiFrame {
    pc: u64,
    file: String,
    /// Delve 1.20 sends -1 for frames it has no line for.
    line: i64,
    function: Option<ApiFunc>,
}
#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiFunc {
    name: String,
}
impl FrameView for ApiFrame {
    fn pc(&self) -> coroner::addr::Addr {
        coroner::addr::Addr(self.pc)
    }
    fn sp(&self) -> coroner::addr::Addr {
        coroner::addr::Addr(0)
    }
    fn function(&self) -> &str {
        self.function.as_ref().map_or("", |f| f.name.as_str())
    }
    fn file(&self) -> &str {
        &self.file
    }
    fn line(&self) -> u32 {
        u32::try_from(self.line).unwrap_or(0)
    }
}

/// Delve's terminal load configs: `print` (LoadFullValue) and `locals`/`args`
/// (ShortLoadConfig), with the user's config file's `max-string-len`,
/// `max-array-values` and `max-variable-recurse` as Delve's client applies them.
fn full_cfg(c: &Config) -> Value {
    json!({"FollowPointers": true,
        "MaxVariableRecurse": c.max_variable_recurse.unwrap_or(1),
        "MaxStringLen": c.max_string_len.unwrap_or(64),
        "MaxArrayValues": c.max_array_values.unwrap_or(64),
        "MaxStructFields": -1})
}
fn short_cfg(c: &Config) -> Value {
    json!({"FollowPointers": false, "MaxVariableRecurse": 0,
        "MaxStringLen": c.max_string_len.unwrap_or(64),
        "MaxArrayValues": 0, "MaxStructFields": 3})
}

struct Term {
    c: Client,
    cwd: Option<PathBuf>,
    multiclient: bool,
    /// runtime.waitReasonStrings, read from the target as needed.
    wait_reasons: std::collections::HashMap<i64, String>,
    /// The user's config file (load limits, substitute-path, listing size).
    config: Config,
}

/// Go's g status values Delve shows wait reasons for (_Gsyscall, _Gwaiting).
const G_SYSCALL: u64 = 3;
const G_WAITING: u64 = 4;

/// `api.Location` (and the location part of `api.Thread`).
fn location(v: &Value) -> Location {
    Location {
        pc: v["pc"].as_u64().unwrap_or(0),
        file: v["file"].as_str().unwrap_or("").to_string(),
        line: v["line"]
            .as_u64()
            .and_then(|l| u32::try_from(l).ok())
            .unwrap_or(0),
        function: v["function"]["name"].as_str().unwrap_or("").to_string(),
    }
}

const SCOPE: fn() -> Value = || json!({"GoroutineID": -1, "Frame": 0, "DeferredCall": 0});

impl Term {
    /// One command line; Ok(None) ends the session.
    fn run(&mut self, line: &str) -> Result<Option<String>, String> {
        let line = line.trim();
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        Ok(Some(match cmd {
            "print" | "p" => {
                let r = self.c.call(
                    "Eval",
                    json!({"Scope": SCOPE(), "Expr": rest, "Cfg": full_cfg(&self.config)}),
                )?;
                format!("{}\n", format::multiline(&var_of(&r["Variable"])?))
            }
            "locals" | "args" => {
                let (method, key, none) = if cmd == "locals" {
                    ("ListLocalVars", "Variables", "(no locals)")
                } else {
                    ("ListFunctionArgs", "Args", "(no args)")
                };
                let r = self.c.call(
                    method,
                    json!({"Scope": SCOPE(), "Cfg": short_cfg(&self.config)}),
                )?;
                let vars = r[key].as_array().cloned().unwrap_or_default();
                if vars.is_empty() {
                    return Ok(Some(format!("{none}\n")));
                }
                let mut out = String::new();
                for v in &vars {
                    let v = var_of(v)?;
                    out.push_str(&format!("{} = {}\n", v.name, format::singleline(&v)));
                }
                out
            }
            "bt" | "stack" => {
                let depth: i64 = if rest.is_empty() {
                    50
                } else {
                    rest.parse()
                        .map_err(|_| format!("invalid stack depth {rest:?}"))?
                };
                let r = self.c.call(
                    "Stacktrace",
                    json!({"Id": -1, "Depth": depth, "Full": false}),
                )?;
                let frames: Vec<ApiFrame> = Vec::<ApiFrame>::deserialize(&r["Locations"])
                    .map_err(|e| format!("the server sent a malformed stack: {e}"))?;
                let mut out = stack_text(&frames, "", self.cwd.as_deref());
                // Servers send frames 0..=Depth; one past the depth means more exist.
                if frames.len() as i64 > depth {
                    out.push_str("(truncated)\n");
                }
                out
            }
            "break" | "b" => self.set_breakpoint(rest)?,
            "goroutines" | "grs" if rest.is_empty() => self.goroutines()?,
            "threads" => {
                let cur = self.state()?["currentThread"]["id"].as_i64().unwrap_or(0);
                let r = self.c.call("ListThreads", json!({}))?;
                let mut ts = r["Threads"].as_array().cloned().unwrap_or_default();
                ts.sort_by_key(|t| t["id"].as_i64().unwrap_or(0));
                let mut out = String::new();
                for t in &ts {
                    let id = t["id"].as_i64().unwrap_or(0);
                    let line = thread_line(id == cur, id as u32, &location(t), self.cwd.as_deref());
                    out.push_str(&line);
                    out.push('\n');
                }
                out
            }
            "goroutine" | "gr" if !rest.is_empty() => {
                let goid: i64 = rest
                    .parse()
                    .map_err(|_| format!("invalid goroutine id {rest:?}"))?;
                let old = self.state()?["currentGoroutine"]["id"]
                    .as_i64()
                    .unwrap_or(0);
                let r = self.c.call(
                    "Command",
                    json!({"name": "switchGoroutine", "goroutineID": goid}),
                )?;
                let tid = r["State"]["currentThread"]["id"].as_i64().unwrap_or(0);
                format!("Switched from {old} to {goid} (thread {tid})\n")
            }
            "clear" => {
                let id: i64 = rest
                    .parse()
                    .map_err(|_| format!("invalid breakpoint id {rest:?}"))?;
                let r = self.c.call("ClearBreakpoint", json!({"Id": id}))?;
                let bp = &r["Breakpoint"];
                format!(
                    "Breakpoint {} cleared at {:#x} for {}() {}:{}\n",
                    id,
                    bp["addr"].as_u64().unwrap_or(0),
                    bp["functionName"].as_str().unwrap_or("?"),
                    self.path(bp["file"].as_str().unwrap_or("")),
                    bp["line"]
                )
            }
            "continue" | "c" => self.resume("continue")?,
            "next" | "n" => self.resume("next")?,
            "step" | "s" => self.resume("step")?,
            "stepout" | "so" => self.resume("stepOut")?,
            "rewind" | "rw" => self.resume("rewind")?,
            "rev" => {
                let name = match rest {
                    "next" | "n" => "reverseNext",
                    "step" | "s" => "reverseStep",
                    "stepout" | "so" => "reverseStepOut",
                    "step-instruction" | "si" => "reverseStepInstruction",
                    "next-instruction" | "ni" => "reverseNextInstruction",
                    "continue" | "c" => "rewind",
                    "" => return Err("not enough arguments".into()),
                    other => return Err(format!("rev {other}: not a reversible command")),
                };
                self.resume(name)?
            }
            "checkpoint" | "check" => {
                let r = self.c.call("Checkpoint", json!({"Where": rest}))?;
                format!("Checkpoint c{} created.\n", r["ID"])
            }
            "checkpoints" => {
                let r = self.c.call("ListCheckpoints", json!({}))?;
                let rows: Vec<[String; 3]> = r["Checkpoints"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|c| {
                                [
                                    format!("c{}", c["ID"]),
                                    c["When"].as_str().unwrap_or("").to_string(),
                                    c["Where"].as_str().unwrap_or("").to_string(),
                                ]
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                checkpoint_table(rows)
            }
            "clear-checkpoint" | "clearcheck" => {
                let id: u64 = rest
                    .strip_prefix('c')
                    .and_then(|n| n.parse().ok())
                    .ok_or("clear-checkpoint argument must be a checkpoint ID")?;
                self.c.call("ClearCheckpoint", json!({"ID": id}))?;
                String::new()
            }
            "restart" | "r" => {
                self.c.call(
                    "Restart",
                    json!({"Position": rest, "ResetArgs": false, "NewArgs": [], "Rerecord": false, "Rebuild": false}),
                )?;
                if rest.is_empty() {
                    let pid = self.c.call("ProcessPid", json!({}))?["Pid"].clone();
                    format!("Process restarted with PID {pid}\n")
                } else {
                    let st = self.state()?;
                    self.stop_text(&st)
                }
            }
            "exit" | "quit" | "q" => {
                self.leave()?;
                return Ok(None);
            }
            other => return Err(format!("{other:?} is not available in coroner connect yet")),
        }))
    }

    fn state(&mut self) -> Result<Value, String> {
        Ok(self.c.call("State", json!({"NonBlocking": false}))?["State"].clone())
    }

    /// `goroutines`: every goroutine's user location, as the REPL lists them.
    fn goroutines(&mut self) -> Result<String, String> {
        let cur = self.state()?["currentGoroutine"]["id"]
            .as_u64()
            .unwrap_or(0);
        let mut all = Vec::new();
        let mut start = 0;
        loop {
            let r = self
                .c
                .call("ListGoroutines", json!({"Start": start, "Count": 10000}))?;
            all.extend(r["Goroutines"].as_array().cloned().unwrap_or_default());
            match r["Nextg"].as_i64() {
                Some(n) if n > 0 => start = n,
                _ => break,
            }
        }
        let mut out = String::new();
        for g in &all {
            let goid = g["id"].as_u64().unwrap_or(0);
            let loc = location(&g["userCurrentLoc"]);
            let thread = g["threadID"].as_u64().filter(|t| *t != 0).map(|t| t as u32);
            let wait = self.wait_of(g);
            push_goroutine_line(
                &mut out,
                goid == cur,
                goid,
                Default::default(),
                LocRef::from(&loc),
                thread,
                wait.as_deref(),
                self.cwd.as_deref(),
            );
            out.push('\n');
        }
        out.push_str(&format!("[{} goroutines]\n", all.len()));
        Ok(out)
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
                .c
                .call(
                    "Eval",
                    json!({"Scope": SCOPE(), "Expr": expr, "Cfg": full_cfg(&self.config)}),
                )
                .ok()
                .and_then(|r| r["Variable"]["value"].as_str().map(str::to_string))
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

    fn path(&self, p: &str) -> String {
        shorten_path(p, self.cwd.as_deref())
    }

    /// `break LOC [if COND]`: FindLocation, then CreateBreakpoint at its address.
    fn set_breakpoint(&mut self, args: &str) -> Result<String, String> {
        let (spec, cond) = match args.split_once(" if ") {
            Some((s, c)) => (s.trim(), c.trim()),
            None => (args, ""),
        };
        let r = self.c.call(
            "FindLocation",
            json!({"Scope": SCOPE(), "Loc": spec, "IncludeNonExecutableLines": false}),
        )?;
        let loc = r["Locations"]
            .get(0)
            .cloned()
            .ok_or_else(|| format!("location {spec:?} not found"))?;
        let bp = json!({"addr": loc["pc"], "addrs": loc["pcs"], "Cond": cond});
        let r = self.c.call(
            "CreateBreakpoint",
            json!({"Breakpoint": bp, "LocExpr": spec}),
        )?;
        let b = &r["Breakpoint"];
        Ok(format!(
            "Breakpoint {} set at {:#x} for {}() {}:{}\n",
            b["id"],
            b["addr"].as_u64().unwrap_or(0),
            b["functionName"].as_str().unwrap_or("?"),
            self.path(b["file"].as_str().unwrap_or("")),
            b["line"]
        ))
    }

    /// An execution command, then the stop as Delve's terminal prints it: the stop
    /// line of the current thread and five lines of source either side.
    fn resume(&mut self, name: &str) -> Result<String, String> {
        let r = self.c.call(
            "Command",
            json!({"name": name, "ReturnInfoLoadConfig": full_cfg(&self.config)}),
        )?;
        let st = &r["State"];
        if st["exited"].as_bool() == Some(true) {
            let pid = self.c.call("ProcessPid", json!({}))?["Pid"].clone();
            return Ok(format!(
                "Process {pid} has exited with status {}\n",
                st["exitStatus"]
            ));
        }
        let mut out = self.stop_text(st);
        // rr's event under the stop line, as Delve's terminal prints State.When.
        if let Some(w) = st["When"].as_str().filter(|w| !w.is_empty()) {
            if let Some(nl) = out.find('\n') {
                out.insert_str(nl + 1, &format!("{w}\n"));
            }
        }
        Ok(out)
    }

    /// The stop line of the current thread and the source around it.
    fn stop_text(&self, st: &Value) -> String {
        let th = &st["currentThread"];
        let (file, line, pc) = (
            th["file"].as_str().unwrap_or(""),
            th["line"].as_u64().unwrap_or(0),
            th["pc"].as_u64().unwrap_or(0),
        );
        let func = th["function"]["name"].as_str().unwrap_or("?");
        let mut out = match th.get("breakPoint").filter(|b| !b.is_null()) {
            None => format!("> {func}() {}:{line} (PC: {pc:#x})\n", self.path(file)),
            Some(bp) => {
                let tag = match bp["name"].as_str().filter(|n| !n.is_empty()) {
                    Some(n) => format!("[{n}] "),
                    None => format!("[Breakpoint {}] ", bp["id"]),
                };
                let g = th["goroutineID"].to_string();
                let hits = match bp["hitCount"].get(&g) {
                    Some(n) => format!("hits goroutine({g}):{n} total:{}", bp["totalHitCount"]),
                    None => format!("hits total:{}", bp["totalHitCount"]),
                };
                format!(
                    "> {tag}{func}() {}:{line} ({hits}) (PC: {pc:#x})\n",
                    self.path(file)
                )
            }
        };
        // The source is read here, as Delve's client does (after substitute-path).
        let local = self.config.substitute(file);
        let n = self.config.source_list_line_count.unwrap_or(5);
        match std::fs::read_to_string(&local) {
            Ok(text) => out.push_str(&source_listing(&text, line as u32, n, true)),
            Err(e) => out.push_str(&format!("Command failed: open {local}: {}\n", no_such(&e))),
        }
        out
    }

    /// Leave as `exit` does: a single-client server ends with us (killing what it
    /// launched, detaching from what it attached); a multiclient server keeps the
    /// target for the next client.
    fn leave(&mut self) -> Result<(), String> {
        if self.multiclient {
            return Ok(());
        }
        let attached =
            self.c.call("AttachedToExistingProcess", json!({}))?["Answer"].as_bool() == Some(true);
        self.c.call("Detach", json!({"Kill": !attached}))?;
        Ok(())
    }
}

/// Go's wording for a missing file (what Delve's client prints).
fn no_such(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "no such file or directory".into()
    } else {
        e.to_string()
    }
}

pub fn run(a: ConnectArgs) -> anyhow::Result<()> {
    let mut c = Client::dial(&a.addr)?;
    // Delve's handshake: API version, multiclient, and a halt if the target runs.
    c.call("SetApiVersion", json!({"APIVersion": 2}))
        .map_err(|e| anyhow::anyhow!("{} refused API version 2: {e}", a.addr))?;
    let multiclient = c
        .call("IsMulticlient", json!({}))
        .map_err(|e| anyhow::anyhow!("{e}"))?["IsMulticlient"]
        .as_bool()
        == Some(true);
    if multiclient {
        let st = c
            .call("State", json!({"NonBlocking": true}))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if st["State"]["Running"].as_bool() == Some(true) {
            c.call("Command", json!({"name": "halt"}))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let mut t = Term {
        c,
        cwd: std::env::current_dir().ok(),
        multiclient,
        wait_reasons: Default::default(),
        config: crate::user_config(),
    };
    println!("Type 'help' for list of commands.");
    let mut lines: Vec<String> = Vec::new();
    if let Some(p) = &a.init {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        lines.extend(text.lines().map(str::to_string));
    }
    let mut stdin = std::io::stdin().lock().lines();
    let mut next = move || -> Option<String> {
        if !lines.is_empty() {
            return Some(lines.remove(0));
        }
        stdin.next().and_then(Result::ok)
    };
    let mut out = std::io::stdout().lock();
    while let Some(l) = next() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        match t.run(l) {
            Ok(Some(text)) => out.write_all(text.as_bytes())?,
            Ok(None) => return Ok(()),
            Err(e) => writeln!(out, "Command failed: {e}")?,
        }
        out.flush()?;
    }
    t.leave().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Delve's `checkpoints` table (its tabwriter: minwidth 4, padding 2).
fn checkpoint_table(list: Vec<[String; 3]>) -> String {
    let rows: Vec<[String; 3]> = std::iter::once(["ID".into(), "When".into(), "Note".into()])
        .chain(list)
        .collect();
    let width = |k: usize| {
        rows.iter()
            .map(|r| r[k].chars().count() + 2)
            .max()
            .unwrap_or(0)
            .max(4)
    };
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for [id, when, note] in &rows {
        out.push_str(&format!("{id:<w0$}{when:<w1$}{note}\n"));
    }
    out
}
