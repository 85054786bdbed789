//! `source FILE`: run the commands in FILE, one per line, as Delve does: blank lines
//! and lines starting with `#` are skipped, a failing command prints
//! `FILE:LINE: error` and the rest still run, `exit` ends the session. Nested
//! `source` works up to [`MAX_SOURCE_DEPTH`] (Delve has no limit and overflows its
//! stack on a file that sources itself).

use super::super::Output;
use super::{CommandError, Result, Session};
use std::io::Write;

/// How deep `source` may nest.
pub const MAX_SOURCE_DEPTH: usize = 16;

impl Session {
    /// The `source` command (None when the line is another command). With `out`, each
    /// command's output is written as it runs; otherwise it is gathered and returned.
    pub(super) fn source_command(
        &mut self,
        line: &str,
        out: Option<&mut dyn Write>,
    ) -> Option<Result<Output>> {
        let path = super::command_args(line, "source")?.trim();
        Some(self.source_file(path, out))
    }

    fn source_file(&mut self, path: &str, mut out: Option<&mut dyn Write>) -> Result<Output> {
        if path.is_empty() {
            return Err(CommandError::Invalid(
                "wrong number of arguments: source <filename>".into(),
            ));
        }
        if path == "-" || path.ends_with(".star") {
            return Err(CommandError::NotYet(
                "source: Starlark scripts are not supported by coroner".into(),
            ));
        }
        if self.source_depth >= MAX_SOURCE_DEPTH {
            return Err(CommandError::Failed(format!(
                "source: nested more than {MAX_SOURCE_DEPTH} deep (does {path} source itself?)"
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| CommandError::Failed(format!("open {path}: {e}")))?;
        self.source_depth += 1;
        let mut gathered = String::new();
        let mut json = Vec::new();
        let mut exit = false;
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let o = self.dispatch(l, reborrow(&mut out));
            let shown = match o {
                Output::Exit => {
                    exit = true;
                    break;
                }
                Output::Error(e) => format!("{path}:{}: {e}\n", i + 1),
                Output::Json(v) if out.is_none() => {
                    json.push(v);
                    continue;
                }
                o => o.render(),
            };
            match reborrow(&mut out) {
                Some(w) => {
                    // The front end's stream is gone (closed pipe): stop, as a
                    // terminal front end would on its next write.
                    if w.write_all(shown.as_bytes())
                        .and_then(|()| w.flush())
                        .is_err()
                    {
                        break;
                    }
                }
                None => gathered.push_str(&shown),
            }
        }
        self.source_depth -= 1;
        if exit {
            return Ok(Output::Exit);
        }
        if !json.is_empty() && gathered.is_empty() {
            return Ok(Output::Json(serde_json::Value::Array(json)));
        }
        for v in json {
            gathered.push_str(&Output::Json(v).render());
        }
        Ok(Output::Text(gathered))
    }
}

/// A shorter-lived copy of the optional stream (the trait object's lifetime shrinks
/// with it, which `Option::as_deref_mut` cannot do behind `&mut`).
fn reborrow<'a>(o: &'a mut Option<&mut dyn Write>) -> Option<&'a mut dyn Write> {
    match o {
        Some(w) => Some(&mut **w),
        None => None,
    }
}
