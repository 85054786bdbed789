//! `coroner connect ADDR`: a client of a JSON-RPC v2 server — coroner's own
//! `--headless` or Delve's — with coroner's REPL commands. Like Delve's
//! pkg/terminal, each command sends the RPCs Delve's terminal sends and prints the
//! replies; the printing is the REPL's own code (`vars::format`, `repl::format`) fed
//! with the server's `api.*` values, so the output is what `coroner core`/`exec` print
//! locally. See docs/architecture.md ("coroner connect") for why this design.
//!
//! The client keeps what Delve's terminal keeps: the selected frame (`frame`, `up`,
//! `down`), the display list, and the scope a `goroutine N CMD` / `frame N CMD`
//! prefix gives one command. Everything else is the server's.
//!
//! - `stop.rs`: what a stop prints (Delve's printcontext, printPos, displays);
//! - `data.rs`: print, locals, args, whatis, set, display, regs, x, list, disassemble;
//! - `bps.rs`: break, clear, clearall, toggle, condition, on, breakpoints;
//! - `goroutines.rs`: goroutines (flags, groups, stacks), goroutine, threads, thread,
//!   stack, frame, up, down.

mod bps;
mod browse;
mod client;
mod data;
mod goroutines;
mod remote;
mod stop;
mod wire;

use anyhow::Context;
use client::Client;
use coroner::repl::format::shorten_path;
use coroner::repl::Config;
use remote::SharedClient;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use wire::{full_cfg, Scope};

#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// The server: `HOST:PORT` or `unix:PATH`.
    pub addr: String,
    /// The program's binary, for the browser (default: the server's process's
    /// executable, when it runs on this machine).
    pub binary: Option<PathBuf>,
    /// The REPL even on a terminal (a terminal gets the browser otherwise).
    #[arg(long)]
    pub repl: bool,
    /// Run the commands in FILE first (one per line; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
}

struct Term {
    c: SharedClient,
    cwd: Option<PathBuf>,
    multiclient: bool,
    /// runtime.waitReasonStrings, read from the target as needed.
    wait_reasons: std::collections::HashMap<i64, String>,
    /// The user's config file (load limits, substitute-path, listing size).
    config: Config,
    /// The selected frame (Delve's `Commands.frame`): 0 after every stop.
    frame: i64,
    /// `display -a` expressions with their format; removed ones stay as None so the
    /// numbers of the others do not change (as Delve's list).
    displays: Vec<Option<(String, String)>>,
    /// The binary's modification time the server reports, for Delve's stale-listing
    /// warning.
    binary_mtime: Option<std::time::SystemTime>,
    /// What a failed command printed before it failed (a stop before the error of
    /// the next step): shown above `Command failed: `.
    before_error: String,
}

type Out = Result<Option<String>, String>;

impl Term {
    /// The scope of an unprefixed command.
    fn scope(&self) -> Scope {
        Scope {
            goroutine: -1,
            frame: self.frame,
        }
    }

    /// One command line; Ok(None) ends the session.
    fn run(&mut self, line: &str) -> Out {
        let s = self.scope();
        self.run_in(line, s)
    }

    /// One command in a scope (a `goroutine N` / `frame N` prefix sets it).
    fn run_in(&mut self, line: &str, sc: Scope) -> Out {
        let line = line.trim();
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        Ok(Some(match cmd {
            "print" | "p" => self.print(rest, sc)?,
            "locals" | "args" => self.locals_or_args(cmd, rest, sc)?,
            "whatis" => self.whatis(rest, sc)?,
            "set" => self.set(rest, sc)?,
            "display" => self.display(rest)?,
            "regs" => self.regs(rest, sc)?,
            "examinemem" | "x" => self.examine(rest, sc)?,
            "list" | "ls" | "l" => self.list(rest, sc)?,
            "disassemble" | "disass" => self.disassemble(rest, sc)?,
            "bt" | "stack" => self.stack(rest, sc)?,
            "goroutines" | "grs" => self.goroutines(line, sc)?,
            "goroutine" | "gr" => return self.goroutine(rest, sc),
            "frame" => return self.frame_cmd(rest, sc, 0),
            "up" => return self.frame_cmd(rest, sc, 1),
            "down" => return self.frame_cmd(rest, sc, -1),
            "threads" => self.threads()?,
            "thread" | "tr" => self.thread(rest)?,
            "break" | "b" => self.set_breakpoint(rest)?,
            "clear" => self.clear(rest)?,
            "clearall" => self.clearall(rest)?,
            "toggle" => self.toggle(rest)?,
            "condition" | "cond" => self.condition(rest)?,
            "on" => self.on(rest)?,
            "breakpoints" | "bp" => self.breakpoints(rest)?,
            "watch" => self.watch(rest, sc)?,
            "continue" | "c" => self.resume("continue", rest)?,
            "next" | "n" => self.resume("next", rest)?,
            "step" | "s" => self.resume("step", rest)?,
            "stepout" | "so" => self.resume("stepOut", rest)?,
            "step-instruction" | "si" => self.resume("stepInstruction", rest)?,
            "next-instruction" | "ni" => self.resume("nextInstruction", rest)?,
            "call" => self.call(rest, sc)?,
            "rewind" | "rw" => self.resume("rewind", rest)?,
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
                self.resume(name, "")?
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
                self.frame = 0;
                if rest.is_empty() {
                    let pid = self.c.call("ProcessPid", json!({}))?["Pid"].clone();
                    format!("Process restarted with PID {pid}\n")
                } else {
                    let st = self.state()?;
                    self.stop_text(&st)
                }
            }
            "config" => self.config_cmd(line)?,
            "exit" | "quit" | "q" => {
                self.leave()?;
                return Ok(None);
            }
            other => return Err(format!("{other:?} is not available in coroner connect yet")),
        }))
    }

    /// `config -list`, `config NAME [VALUES]`: the client's settings (Delve's
    /// terminal keeps them client side too: load limits, substitute-path, listings).
    fn config_cmd(&mut self, line: &str) -> Result<String, String> {
        let words = coroner::repl::parse::split_words(line).map_err(|e| e.to_string())?;
        match words.get(1..).unwrap_or_default() {
            [] => Err(
                "wrong number of arguments to config: config -list | config <name> [value]".into(),
            ),
            [l] if l == "-list" => Ok(self.config.list()),
            [name] => self
                .config
                .list()
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name.as_str()))
                .map(|l| format!("{l}\n"))
                .ok_or_else(|| format!("unknown configuration parameter {name:?}")),
            [name, vals @ ..] => {
                self.config.set(name, vals).map_err(|e| e.to_string())?;
                Ok(String::new())
            }
        }
    }

    fn state(&mut self) -> Result<Value, String> {
        Ok(self.c.call("State", json!({"NonBlocking": false}))?["State"].clone())
    }

    fn path(&self, p: &str) -> String {
        shorten_path(p, self.cwd.as_deref())
    }

    /// `Eval` of EXPR in a scope with a load config.
    fn eval(&mut self, expr: &str, sc: Scope, cfg: Value) -> Result<Value, String> {
        Ok(self.c.call(
            "Eval",
            json!({"Scope": sc.json(), "Expr": expr, "Cfg": cfg}),
        )?["Variable"]
            .clone())
    }

    fn eval_full(&mut self, expr: &str, sc: Scope) -> Result<Value, String> {
        let cfg = full_cfg(&self.config);
        self.eval(expr, sc, cfg)
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
    // Delve's client reads the binary's modification time once, for its warning that
    // a listing may not match a stale executable.
    let binary_mtime = c
        .call("LastModified", json!({}))
        .ok()
        .and_then(|r| r["Time"].as_str().and_then(parse_rfc3339));
    let halter = c.halter();
    let mut t = Term {
        c: SharedClient::new(c),
        cwd: std::env::current_dir().ok(),
        multiclient,
        wait_reasons: Default::default(),
        config: crate::user_config(),
        frame: 0,
        displays: Vec::new(),
        binary_mtime,
        before_error: String::new(),
    };
    use std::io::IsTerminal;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if tty && !a.repl && a.init.is_none() {
        let msg = browse::run(t, halter, &a)?;
        if !msg.is_empty() {
            eprintln!("{msg}");
        }
        return Ok(());
    }
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
            Err(e) => {
                out.write_all(std::mem::take(&mut t.before_error).as_bytes())?;
                writeln!(out, "Command failed: {e}")?
            }
        }
        out.flush()?;
    }
    t.leave().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// RFC 3339 as Go's `time.Time` marshals it (`2026-12-04T01:02:03.456789012Z` or with
/// a `+hh:mm` offset), to a SystemTime; None when it is not one.
fn parse_rfc3339(s: &str) -> Option<std::time::SystemTime> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let tz_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (clock, tz) = rest.split_at(tz_at);
    let mut c = clock.split(':');
    let h: i64 = c.next()?.parse().ok()?;
    let mi: i64 = c.next()?.parse().ok()?;
    let sec = c.next()?;
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let whole: i64 = whole.parse().ok()?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").get(..9)?.parse().ok()?
    };
    let offset = match tz.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let (oh, om) = tz.get(1..)?.split_once(':')?;
            let o = oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60;
            if sign == '+' {
                o
            } else {
                -o
            }
        }
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + whole - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
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

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn go_times_parse() {
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1))
        );
        assert_eq!(
            parse_rfc3339("2026-12-04T01:02:03.5+01:00"),
            Some(UNIX_EPOCH + Duration::new(1_796_346_123 - 3600, 500_000_000))
        );
        assert_eq!(parse_rfc3339("garbage"), None);
    }
}
