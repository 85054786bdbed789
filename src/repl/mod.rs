//! Delve-compatible REPL commands: parse, run against a target, format as Delve does
//! (or as JSON). Front-end independent: the line REPL, batch mode, the TUI and the
//! JSON-RPC server all drive a [`Session`] through [`Session::execute`].

pub mod config_file;
pub mod debuggee;
pub mod disasm;
pub mod disasm_arm64;
pub mod format;
pub mod help;
pub mod json;
mod labels;
pub mod parse;
mod session;
mod startloc;
mod vars_cmd;
pub use vars_cmd::{apply_format, frame_vars};

#[cfg(test)]
mod tests;

pub use debuggee::{Debuggee, FuncInfo, Location};
pub use parse::{parse, Command};
pub use session::{is_private_runtime, Config, Session};

/// The result of one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Text exactly as it should be printed (newline-terminated lines, or empty).
    Text(String),
    /// A machine-readable result (`--json` mode).
    Json(serde_json::Value),
    /// The command failed; front ends print `Command failed: {0}` like Delve.
    Error(String),
    /// The user asked to leave.
    Exit,
}

impl Output {
    /// The text a line front end prints for this output (JSON pretty-printed).
    pub fn render(&self) -> String {
        match self {
            Output::Text(t) => t.clone(),
            Output::Json(v) => {
                let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
                s.push('\n');
                s
            }
            Output::Error(e) => format!("Command failed: {e}\n"),
            Output::Exit => String::new(),
        }
    }
}

/// Why a command could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Delve's wording for an unknown command.
    #[error("command not available")]
    NotAvailable,
    #[error("{0}")]
    Invalid(String),
    /// Execution commands on a snapshot.
    #[error("{0}")]
    NoExecution(String),
    /// Features announced for a later release.
    #[error("{0}")]
    NotYet(String),
    #[error("{0}")]
    Failed(String),
}
