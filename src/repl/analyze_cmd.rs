//! The `analyze [name]` REPL command: runs the analyzers the front end registered
//! (`Session::set_analyzers`); the engine itself has none.

use super::Session;
use crate::analyze::Registry;
use crate::repl::Output;

impl Session {
    /// Analyzers for `analyze` (the front end registers them; empty by default).
    pub fn set_analyzers(&mut self, reg: Registry) {
        self.analyzers = reg;
    }

    pub fn analyzers(&self) -> &Registry {
        &self.analyzers
    }

    /// `analyze` (every analyzer, one report), `analyze NAME`, `analyze list`; None if
    /// the line is not an analyze command.
    pub(super) fn analyze_command(&self, line: &str) -> Option<Output> {
        let mut words = line.split_whitespace();
        if words.next()? != "analyze" {
            return None;
        }
        let name = words.next();
        if words.next().is_some() {
            return Some(Output::Error("usage: analyze [NAME | list]".into()));
        }
        let reg = &self.analyzers;
        if reg.all().is_empty() {
            return Some(Output::Error("no analyzers registered".into()));
        }
        if name == Some("list") {
            let mut s = String::new();
            for a in reg.all() {
                s.push_str(&format!("{:<10} {}\n", a.name(), a.description()));
            }
            return Some(Output::Text(s));
        }
        let Some(t) = self.target() else {
            return Some(Output::Error("analyzers need a core target".into()));
        };
        let report = match name {
            None => reg.triage(t),
            Some(n) => match reg.get(n) {
                Some(a) => a.run(t),
                None => {
                    return Some(Output::Error(format!(
                        "unknown analyzer {n:?} (available: {})",
                        reg.names().join(", ")
                    )))
                }
            },
        };
        Some(if self.json {
            Output::Json(report.json)
        } else {
            Output::Text(report.text)
        })
    }
}
