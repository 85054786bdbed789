//! `crash`: what killed the process.

use crate::common::{self, md_cell};
use coroner::analyze::{Analyzer, Report};
use coroner::target::Target;
use serde_json::json;
use std::fmt::Write;

pub struct CrashAnalyzer;

/// GOMAXPROCS at the time of the snapshot (runtime.gomaxprocs), when the variable can
/// be found (symbols or DWARF).
fn gomaxprocs(t: &Target) -> Option<i32> {
    let bias = t.bias();
    let a = match t.binary().symbol("runtime.gomaxprocs") {
        Some(s) => s.addr.add(bias),
        None => t.dwarf()?.global("runtime.gomaxprocs")?.0.add(bias),
    };
    t.memory().read_u32(a).ok().map(|v| v as i32)
}

impl Analyzer for CrashAnalyzer {
    fn name(&self) -> &'static str {
        "crash"
    }
    fn description(&self) -> &'static str {
        "what killed the process: signal, faulting goroutine, panics, fatal error, Go version"
    }
    fn run(&self, t: &Target) -> Report {
        let c = t.crash();
        let experiments = t
            .buildinfo()
            .and_then(|b| b.setting("GOEXPERIMENT"))
            .map(|s| {
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let procs = gomaxprocs(t);
        let g = c.goroutine.and_then(|id| t.goroutine(id));
        let (top, frames) = match g {
            Some(g) => {
                let st = t.goroutine_stack(g, common::STACK_DEPTH);
                let top = common::top_user_frame(&st).map(common::frame_loc);
                let frames: Vec<String> =
                    st.frames.iter().take(12).map(common::frame_loc).collect();
                (top, frames)
            }
            None => (None, Vec::new()),
        };
        let mut text = String::from("CRASH\n");
        let mut md = String::from("## Crash\n\n| | |\n|---|---|\n");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(text, "  {k:<12} {v}");
            let _ = writeln!(md, "| {k} | {} |", md_cell(&v));
        };
        // The cause is what the runtime printed first; the final signal (the runtime's
        // own SIGABRT with GOTRACEBACK=crash) only says how the process ended.
        for (i, l) in c.cause.lines.iter().enumerate() {
            row(
                if i == 0 { "cause" } else { "" },
                l.trim_start().to_string(),
            );
        }
        if c.cause.lines.is_empty() {
            row(
                "cause",
                "unknown (no signal handler frame, panic or fatal error found)".into(),
            );
        }
        if let Some(s) = c.cause.sender_text() {
            row("sender", s);
        }
        row(
            "final signal",
            c.final_signal
                .clone()
                .unwrap_or_else(|| "none (the process was running)".into()),
        );
        if let Some(a) = c.fault_addr {
            row("fault addr", format!("{a:#x}"));
        }
        if let Some(f) = &c.fatal {
            row("fatal error", f.clone());
        }
        for (i, p) in c.panics.iter().enumerate() {
            row(if i == 0 { "panic" } else { "  caused by" }, p.clone());
        }
        row(
            "thread",
            c.thread
                .map(|t| t.to_string())
                .unwrap_or_else(|| "?".into()),
        );
        row(
            "goroutine",
            c.goroutine
                .map(|g| g.to_string())
                .unwrap_or_else(|| "none (not on a goroutine)".into()),
        );
        if let Some(tp) = &top {
            row("at", tp.clone());
        }
        row("Go", c.go_version.clone().unwrap_or_else(|| "?".into()));
        row(
            "GOEXPERIMENT",
            if experiments.is_empty() {
                "(default)".into()
            } else {
                experiments.join(",")
            },
        );
        row(
            "GOMAXPROCS",
            procs
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown (no symbols or DWARF)".into()),
        );
        row("goroutines", t.goroutines().len().to_string());
        if !frames.is_empty() {
            let _ = writeln!(text, "  stack:");
            for f in &frames {
                let _ = writeln!(text, "    {f}");
            }
            md.push_str("\n```\n");
            for f in &frames {
                let _ = writeln!(md, "{f}");
            }
            md.push_str("```\n");
        }
        let json = json!({
            "crash": {
                "cause": c.cause.kind,
                "cause_lines": c.cause.lines,
                "cause_signal": (c.cause.signo != 0).then(|| coroner::target::signal_name(c.cause.signo)),
                "cause_pc": c.cause.pc,
                "cause_m": c.cause.m,
                "cause_in_cgo": c.cause.in_cgo,
                "sender": c.cause.sender,
                "final_signal": c.final_signal,
                "signal": c.signal,
                "signo": c.signo,
                "code": c.code,
                "fault_addr": c.fault_addr,
                "go_signal": c.go_signal,
                "thread": c.thread,
                "goroutine": c.goroutine,
                "top_user_frame": top,
                "stack": frames,
                "panic": c.panics,
                "fatal": c.fatal,
                "go_version": c.go_version,
                "goexperiment": experiments,
                "gomaxprocs": procs,
                "goos": c.goos,
                "goarch": c.goarch,
            }
        });
        Report {
            text,
            markdown: md,
            json,
        }
    }
}
