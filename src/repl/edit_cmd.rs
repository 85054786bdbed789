//! `edit [LOC]` / `ed`: open the current frame's source line, or LOC's, in the user's
//! editor, as Delve does: `$DELVE_EDITOR` (else `$EDITOR`) run as `EDITOR +LINE FILE`
//! with the terminal handed over until it exits.

use super::super::Output;
use super::parse;
use super::{CommandError, Result, Session};

impl Session {
    /// The `edit` command (None when the line is another command).
    pub(super) fn edit_command(&mut self, line: &str) -> Option<Result<Output>> {
        let args = super::command_args(line, "edit").or_else(|| super::command_args(line, "ed"))?;
        Some(self.edit(args.trim()))
    }

    fn edit(&self, args: &str) -> Result<Output> {
        let (file, line) = if args.is_empty() {
            let f = self.current_frame_of(self.frame)?;
            if f.file.is_empty() {
                return Err(CommandError::Failed(format!(
                    "no source file for frame {} ({:#x})",
                    self.frame, f.pc.0
                )));
            }
            (f.file, f.line)
        } else {
            let (file, line, _) = self.resolve(&parse::parse_location(args)?)?;
            (file, line)
        };
        // The recorded path is the build machine's; substitute-path maps it here.
        let file = self.config.substitute(&file);
        let editor = ["DELVE_EDITOR", "EDITOR"]
            .iter()
            .filter_map(std::env::var_os)
            .find(|v| !v.is_empty())
            .ok_or_else(|| CommandError::Failed("Neither DELVE_EDITOR or EDITOR is set".into()))?;
        // Delve runs the variable as one program name, not a shell command line.
        let status = std::process::Command::new(&editor)
            .arg(format!("+{line}"))
            .arg(&file)
            .status()
            .map_err(|e| {
                CommandError::Failed(format!("cannot run {}: {e}", editor.to_string_lossy()))
            })?;
        if !status.success() {
            return Err(CommandError::Failed(format!(
                "{} {status}",
                editor.to_string_lossy()
            )));
        }
        Ok(Output::Text(String::new()))
    }
}
