//! Commands of recorded targets, as Delve's terminal has them: `rewind`/`rw`, `rev
//! next|step|stepout|step-instruction|next-instruction`, `checkpoint [NOTE]`, `checkpoints`,
//! `clear-checkpoint cN`, `restart cN|EVENT`; and rr's event (`when`) under the stop
//! line. On a target that is not a recording Delve does not offer them: "command not
//! available".

use super::exec_cmd::Listing;
use super::{Output, Session};
use crate::exec::{Debugger, ExecError, Stop};
use std::fmt::Write;

const NOT_AVAILABLE: &str = "command not available";

impl Session {
    /// Handle a recorded-target command; None when `cmd` is not one (`restart` of a
    /// process that is not a recording is exec_cmd's).
    pub(super) fn reverse_command(&mut self, cmd: &str, rest: &str) -> Option<Output> {
        let d = self.debugger.as_ref()?;
        let (recorded, reversible) = (d.recorded(), d.reversible());
        let is_ours = matches!(
            cmd,
            "rewind"
                | "rw"
                | "rev"
                | "checkpoint"
                | "check"
                | "checkpoints"
                | "clear-checkpoint"
                | "clearcheck"
        ) || (matches!(cmd, "restart" | "r") && recorded);
        if !is_ours {
            return None;
        }
        // A stub that runs backwards but keeps no checkpoints (QEMU's record/replay)
        // offers the reverse commands only.
        let reverse_only = matches!(cmd, "rewind" | "rw" | "rev");
        if !(recorded || (reversible && reverse_only)) {
            return Some(Output::Error(NOT_AVAILABLE.into()));
        }
        Some(match cmd {
            "rewind" | "rw" => self.run_recorded(|d, _| d.rewind()),
            "rev" => {
                let (sub, _) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                match sub {
                    "next" | "n" => self.run_recorded(|d, tid| d.reverse_next(tid)),
                    "step" | "s" => self.run_recorded(|d, tid| d.reverse_step(tid)),
                    "stepout" | "so" => self.run_recorded(|d, tid| d.reverse_stepout(tid)),
                    // The instructions around the PC, as the forward forms (Delve).
                    "step-instruction" | "si" => self.run_stop_as(Listing::Disassembly, |d, tid| {
                        d.reverse_step_instruction(tid)
                    }),
                    "next-instruction" | "ni" => self.run_stop_as(Listing::Disassembly, |d, tid| {
                        d.reverse_next_instruction(tid)
                    }),
                    "continue" | "c" => self.run_recorded(|d, _| d.rewind()),
                    "" => Output::Error("not enough arguments".into()),
                    other => Output::Error(format!(
                        "rev {other}: coroner runs backwards with next, step, stepout, step-instruction, next-instruction and continue"
                    )),
                }
            }
            "checkpoint" | "check" => self.checkpoint_cmd(rest),
            "checkpoints" => self.checkpoints_cmd(),
            _ if cmd.starts_with("clear") => self.clear_checkpoint_cmd(rest),
            // Delve prints no event after a restart.
            _ => self.restart_recorded(rest),
        })
    }

    fn restart_recorded(&mut self, at: &str) -> Output {
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        // Plain `restart` goes back to the start of the recording, as Delve's does.
        let at = at.trim();
        match d.restart_recording((!at.is_empty()).then_some(at)) {
            Ok(stop) => self.after_stop(&stop),
            Err(e) => {
                self.adopt_current();
                Output::Error(e.to_string())
            }
        }
    }

    /// Run, print the stop as every execution command does, then rr's event.
    fn run_recorded(
        &mut self,
        f: impl FnOnce(&mut Debugger, u32) -> Result<Stop, ExecError>,
    ) -> Output {
        let tid = self.tid;
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        let tid = tid
            .or_else(|| d.target().threads().first().map(|t| t.tid))
            .unwrap_or(0);
        match f(d, tid) {
            Ok(stop) => {
                let o = self.after_stop(&stop);
                self.with_when(o)
            }
            Err(e) => {
                self.adopt_current();
                Output::Error(e.to_string())
            }
        }
    }

    /// rr's `when` ("Current event: N") on the line after the stop line, as Delve's
    /// terminal prints DebuggerState.When.
    pub(super) fn with_when(&mut self, o: Output) -> Output {
        let Output::Text(text) = o else {
            return o;
        };
        let Some(when) = self.debugger.as_mut().and_then(|d| d.when()) else {
            return Output::Text(text);
        };
        let mut out = String::with_capacity(text.len() + when.len() + 1);
        let mut done = false;
        for l in text.split_inclusive('\n') {
            out.push_str(l);
            if !done && l.starts_with("> ") {
                let _ = writeln!(out, "{when}");
                done = true;
            }
        }
        Output::Text(out)
    }

    fn checkpoint_cmd(&mut self, note: &str) -> Output {
        let where_ = if note.is_empty() {
            // Delve names an unnamed checkpoint by where the program is.
            match self.current_frame_of(0) {
                Ok(f) => format!("{}() {}:{} ({:#x})", f.function, f.file, f.line, f.pc.get()),
                Err(_) => String::new(),
            }
        } else {
            note.to_string()
        };
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        match d.checkpoint(&where_) {
            Ok(id) => Output::Text(format!("Checkpoint c{id} created.\n")),
            Err(e) => Output::Error(e.to_string()),
        }
    }

    fn checkpoints_cmd(&mut self) -> Output {
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        match d.checkpoints() {
            Ok(list) => {
                // Delve's tabwriter (minwidth 4, padding 2) over `ID  When  Note`.
                let rows: Vec<[String; 3]> =
                    std::iter::once(["ID".into(), "When".into(), "Note".into()])
                        .chain(
                            list.into_iter()
                                .map(|c| [format!("c{}", c.id), c.when, c.where_]),
                        )
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
                    let _ = writeln!(out, "{id:<w0$}{when:<w1$}{note}");
                }
                Output::Text(out)
            }
            Err(e) => Output::Error(e.to_string()),
        }
    }

    fn clear_checkpoint_cmd(&mut self, arg: &str) -> Output {
        let Some(id) = arg.strip_prefix('c').and_then(|n| n.parse::<u64>().ok()) else {
            return Output::Error("clear-checkpoint argument must be a checkpoint ID".into());
        };
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        match d.clear_checkpoint(id) {
            Ok(()) => Output::Text(String::new()),
            Err(e) => Output::Error(e.to_string()),
        }
    }
}
