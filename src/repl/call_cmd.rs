//! `call [-unsafe] EXPR` and `set VAR = VALUE` on a live process, and the
//! "Values returned:" block printed after `stepout` and `call`, as Delve prints them.
//! A child of the session, like exec_cmd.rs.

use super::{format, Output, Session};
use crate::exec::returns::Returned;
use crate::exec::ExecError;
use std::fmt::Write;

/// Delve's block: a header, one `\tNAME: VALUE` line per value, an empty line.
pub(super) fn returned_block(vals: &[Returned]) -> String {
    let mut s = String::from("Values returned:\n");
    for v in vals {
        let _ = writeln!(s, "\t{}: {}", v.name, v.text);
    }
    s.push('\n');
    s
}

/// `LHS = RHS` split at the assignment (not at `==`, `!=`, `<=`, `>=`).
fn split_assignment(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let i = (0..b.len()).find(|&i| {
        b[i] == b'='
            && b.get(i + 1) != Some(&b'=')
            && !matches!(
                i.checked_sub(1).and_then(|j| b.get(j)),
                Some(b'=' | b'!' | b'<' | b'>')
            )
    })?;
    let (l, r) = (s.get(..i)?.trim(), s.get(i + 1..)?.trim());
    (!l.is_empty() && !r.is_empty()).then_some((l, r))
}

impl Session {
    /// `call`: the text to print before a failure (where the goroutine is, as Delve
    /// prints it) and the result.
    pub(super) fn call_cmd(&mut self, args: &str) -> (String, Output) {
        let (unsafe_call, expr) = match args.strip_prefix("-unsafe") {
            Some(e) if e.is_empty() || e.starts_with(char::is_whitespace) => (true, e.trim()),
            _ => (false, args.trim()),
        };
        if expr.is_empty() {
            return (String::new(), Output::Error("not enough arguments".into()));
        }
        let tid = self.goroutine_thread();
        let Some(d) = self.debugger.as_mut() else {
            return (String::new(), Output::Error("no live process".into()));
        };
        let res = match tid {
            Ok(tid) => d.call(tid, expr, unsafe_call),
            Err(e) => Err(ExecError::Invalid(e.into())),
        };
        self.frame = 0;
        match res {
            Ok(stop) => (String::new(), self.after_stop(&stop)),
            Err(e @ ExecError::Exited { .. }) => (String::new(), Output::Text(format!("{e}\n"))),
            Err(e) => {
                self.adopt_current();
                (self.location_line(), Output::Error(e.to_string()))
            }
        }
    }

    /// `call` for front ends that print as they go: the location line reaches `out`
    /// before the error. None when `line` is not a `call` on a live process.
    pub(super) fn call_streaming(
        &mut self,
        line: &str,
        out: &mut dyn std::io::Write,
    ) -> Option<Output> {
        self.debugger.as_ref()?;
        let rest = line.trim().strip_prefix("call")?;
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            return None;
        }
        let (pre, o) = self.call_cmd(rest.trim());
        let _ = out.write_all(pre.as_bytes());
        let _ = out.flush();
        Some(o)
    }

    /// The thread running the selected goroutine, in Delve's words when there is none.
    fn goroutine_thread(&self) -> Result<u32, &'static str> {
        let on_thread = |tid: u32| self.target.thread_goroutine(tid).map(|g| g.goid);
        let Some(goid) = self.goid else {
            return self
                .tid
                .filter(|t| on_thread(*t).is_some())
                .ok_or("no goroutine selected");
        };
        if let Some(tid) = self.tid.filter(|t| on_thread(*t) == Some(goid)) {
            return Ok(tid);
        }
        self.target
            .goroutine(goid)
            .and_then(|g| g.thread)
            .ok_or("selected goroutine not running")
    }

    /// `> FUNC() FILE:LINE (PC: 0x...)` for the current thread, without a listing (what
    /// Delve prints before a failed call).
    fn location_line(&self) -> String {
        let (Some(d), Some(tid)) = (self.debugger.as_ref(), self.tid) else {
            return String::new();
        };
        let st = d.target().thread_frames_quick(tid, 1);
        match st.frames.first() {
            Some(f) => format!(
                "> {}() {}:{} (PC: {:#x})\n",
                if f.function.is_empty() {
                    "?"
                } else {
                    &f.function
                },
                format::shorten_path(&f.file, self.cwd()),
                f.line,
                f.pc.0
            ),
            None => String::new(),
        }
    }

    /// `set VAR = VALUE` in the selected goroutine's frame.
    pub(super) fn set_cmd(&mut self, args: &str) -> Output {
        let Some((lhs, rhs)) = split_assignment(args) else {
            return Output::Error("syntax error: set VAR = VALUE".into());
        };
        let (tid, frame) = (self.goroutine_thread(), self.frame);
        let Some(d) = self.debugger.as_mut() else {
            return Output::Error("no live process".into());
        };
        let Ok(tid) = tid else {
            return Output::Error(
                "the selected goroutine is not running on a thread: switch to one that is".into(),
            );
        };
        match d.set_variable(tid, frame, lhs, rhs) {
            Ok(()) => {
                self.adopt_current();
                Output::Text(String::new())
            }
            Err(e) => Output::Error(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_split_at_the_single_equals() {
        assert_eq!(split_assignment("x = 1"), Some(("x", "1")));
        assert_eq!(split_assignment("b = x == 1"), Some(("b", "x == 1")));
        assert_eq!(split_assignment("a[i] = y <= 2"), Some(("a[i]", "y <= 2")));
        assert_eq!(split_assignment("x == 1"), None);
        assert_eq!(split_assignment("x ="), None);
    }

    #[test]
    fn returned_block_is_delves() {
        let v = vec![Returned {
            name: "~r0".into(),
            text: "3".into(),
            var: Default::default(),
        }];
        assert_eq!(returned_block(&v), "Values returned:\n\t~r0: 3\n\n");
        assert_eq!(returned_block(&[]), "Values returned:\n\n");
    }
}
