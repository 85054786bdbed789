//! `transcript [-t] [-x] FILE` / `transcript -off`, as Delve: every command typed is
//! echoed to FILE after the prompt, and every command's output is appended to it;
//! `-t` truncates FILE first, `-x` sends output only to FILE. Errors are not
//! recorded: like Delve's `Command failed:` they go to stderr only.
//!
//! Recording sits around the outermost [`Session::execute`] /
//! [`Session::execute_streaming`], so commands that run other commands (`source`,
//! `goroutines -exec`, `frame N cmd`) have their output recorded once.

use super::super::Output;
use super::{CommandError, Result, Session};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// The prompt written before each echoed command (the REPL's own).
pub const PROMPT: &str = "(coroner) ";

/// An open transcript file.
pub struct Transcript {
    file: std::io::BufWriter<std::fs::File>,
    /// `-x`: output goes only to the file.
    pub file_only: bool,
}

pub(super) type Shared = Arc<Mutex<Transcript>>;

impl Transcript {
    fn write(&mut self, bytes: &[u8]) {
        // A full disk must not end the session; Delve ignores these errors too.
        let _ = self.file.write_all(bytes);
    }
}

fn with<T>(t: &Shared, f: impl FnOnce(&mut Transcript) -> T) -> T {
    match t.lock() {
        Ok(mut g) => f(&mut g),
        Err(p) => f(&mut p.into_inner()),
    }
}

/// What a streaming command writes goes to the transcript too (and, unless `-x`, to
/// the front end's stream).
struct Tee<'a> {
    out: &'a mut dyn Write,
    t: Shared,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file_only = with(&self.t, |t| {
            t.write(buf);
            t.file_only
        });
        if !file_only {
            self.out.write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        with(&self.t, |t| {
            let _ = t.file.flush();
        });
        self.out.flush()
    }
}

impl Session {
    /// Run one line, recording it when a transcript is open and this is the
    /// outermost command.
    pub(super) fn execute_recorded(&mut self, line: &str, out: Option<&mut dyn Write>) -> Output {
        if self.nesting > 0 {
            return self.dispatch(line, out);
        }
        let t = self.transcript.clone();
        if let Some(t) = &t {
            with(t, |t| t.write(format!("{PROMPT}{line}\n").as_bytes()));
        }
        self.nesting += 1;
        let o = match (out, &t) {
            (Some(out), Some(t)) => {
                let mut tee = Tee { out, t: t.clone() };
                self.dispatch(line, Some(&mut tee))
            }
            (out, _) => self.dispatch(line, out),
        };
        self.nesting -= 1;
        let Some(t) = t else { return o };
        with(&t, |tr| {
            match &o {
                Output::Text(_) | Output::Json(_) => tr.write(o.render().as_bytes()),
                Output::Error(_) | Output::Exit => {}
            }
            let _ = tr.file.flush();
            match o {
                Output::Text(_) | Output::Json(_) if tr.file_only => Output::Text(String::new()),
                o => o,
            }
        })
    }

    /// The `transcript` command (None when the line is another command).
    pub(super) fn transcript_command(&mut self, line: &str) -> Option<Result<Output>> {
        let rest = super::command_args(line, "transcript")?;
        Some(self.transcript_cmd(rest))
    }

    fn transcript_cmd(&mut self, args: &str) -> Result<Output> {
        let (mut truncate, mut file_only, mut off) = (false, false, false);
        let mut path: Option<&str> = None;
        for a in args.split_whitespace() {
            match a {
                "-t" => truncate = true,
                "-x" => file_only = true,
                "-off" => off = true,
                _ if path.is_some() || a.starts_with('-') => {
                    return Err(CommandError::Invalid(format!("unrecognized option {a:?}")))
                }
                _ => path = Some(a),
            }
        }
        if off {
            if path.is_some() {
                return Err(CommandError::Invalid(
                    "-off option specified with an output path".into(),
                ));
            }
            self.close_transcript();
            return Ok(Output::Text(String::new()));
        }
        let path = path.ok_or_else(|| CommandError::Invalid("no output path specified".into()))?;
        let mut o = std::fs::OpenOptions::new();
        o.create(true);
        if truncate {
            o.write(true).truncate(true);
        } else {
            o.append(true);
        }
        let file = o
            .open(path)
            .map_err(|e| CommandError::Failed(format!("open {path}: {e}")))?;
        self.close_transcript();
        self.transcript = Some(Arc::new(Mutex::new(Transcript {
            file: std::io::BufWriter::new(file),
            file_only,
        })));
        Ok(Output::Text(String::new()))
    }

    fn close_transcript(&mut self) {
        if let Some(t) = self.transcript.take() {
            with(&t, |t| {
                let _ = t.file.flush();
            });
        }
    }
}
