//! `config`: show and change settings (Delve's names), `config alias`, and
//! `config -save` to the persistent file (see config_file.rs).

use super::super::config_file;
use super::parse::{self, ConfigArgs, Flavor};
use super::{CommandError, Config, Output, Result, Session};
use std::fmt::Write;

impl Config {
    /// `config -list`: every setting, as Delve prints them.
    pub fn list(&self) -> String {
        let c = self;
        let opt = |v: Option<u64>| v.map_or("<not defined>".to_string(), |v| v.to_string());
        let subst = c
            .substitute_path
            .iter()
            .map(|(f, t)| format!("{{{f} {t}}}"))
            .collect::<Vec<_>>()
            .join(" ");
        // Go's %v of a map[string][]string, as Delve's `config -list` prints it.
        let aliases = c
            .aliases
            .iter()
            .map(|(k, v)| format!("{k}:[{}]", v.join(" ")))
            .collect::<Vec<_>>()
            .join(" ");
        let dirs = c
            .debug_info_directories
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let rows = [
            ("aliases", format!("map[{aliases}]")),
            ("substitute-path", format!("[{subst}]")),
            ("max-string-len", opt(c.max_string_len)),
            ("max-array-values", opt(c.max_array_values)),
            ("max-variable-recurse", opt(c.max_variable_recurse)),
            (
                "disassemble-flavor",
                match c.disassemble_flavor {
                    None => "<not defined>".into(),
                    Some(Flavor::Intel) => "intel".into(),
                    Some(Flavor::Gnu) => "gnu".into(),
                    Some(Flavor::Go) => "go".into(),
                },
            ),
            ("show-location-expr", c.show_location_expr.to_string()),
            (
                "source-list-line-count",
                opt(c.source_list_line_count.map(u64::from)),
            ),
            ("debug-info-directories", format!("[{dirs}]")),
        ];
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<25} {v}");
        }
        out
    }
}

impl Session {
    pub(super) fn config_list(&self) -> String {
        self.config.list()
    }

    pub(super) fn config_cmd(&mut self, c: ConfigArgs) -> Result<Output> {
        let (name, vals) = match c {
            ConfigArgs::List => return Ok(Output::Text(self.config_list())),
            ConfigArgs::Save => {
                return config_file::save(&self.config)
                    .map(|p| Output::Text(format!("Configuration saved to {}\n", p.display())))
                    .map_err(|e| CommandError::Failed(e.to_string()))
            }
            ConfigArgs::Set(n, v) if n == "alias" => return self.config_alias(&v),
            ConfigArgs::Set(n, v) => (n, v),
        };
        if vals.is_empty() {
            let list = self.config_list();
            return list
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name.as_str()))
                .map(|l| Output::Text(format!("{l}\n")))
                .ok_or_else(|| {
                    CommandError::Invalid(format!("unknown configuration parameter {name:?}"))
                });
        }
        self.config.set(&name, &vals)?;
        Ok(Output::Text(String::new()))
    }
}

impl Config {
    /// `config NAME VALUES...`: change one setting (Delve's names and errors).
    pub fn set(&mut self, name: &str, vals: &[String]) -> Result<()> {
        let number = |v: &[String]| -> Result<u64> {
            v.first().and_then(|s| parse::parse_int(s)).ok_or_else(|| {
                CommandError::Invalid(format!("argument to {name:?} must be a number"))
            })
        };
        let cfg = self;
        match name {
            "max-string-len" => cfg.max_string_len = Some(number(vals)?),
            "max-array-values" => cfg.max_array_values = Some(number(vals)?),
            "max-variable-recurse" => cfg.max_variable_recurse = Some(number(vals)?),
            "source-list-line-count" => {
                cfg.source_list_line_count = Some(u32::try_from(number(vals)?).map_err(|_| {
                    CommandError::Invalid(format!("argument to {name:?} is too large"))
                })?)
            }
            "show-location-expr" => {
                cfg.show_location_expr = match vals.first().map(String::as_str) {
                    Some("true") => true,
                    Some("false") => false,
                    _ => {
                        return Err(CommandError::Invalid(format!(
                            "argument to {name:?} must be true or false"
                        )))
                    }
                }
            }
            "disassemble-flavor" => {
                cfg.disassemble_flavor = Some(parse::parse_flavor(
                    vals.first().map(String::as_str).unwrap_or(""),
                )?)
            }
            "debug-info-directories" => {
                match vals {
                    [op, dir] if op == "-add" => cfg.debug_info_directories.push(dir.into()),
                    [op, dir] if op == "-rm" => cfg
                        .debug_info_directories
                        .retain(|d| d.as_os_str() != dir.as_str()),
                    [op] if op == "-clear" => cfg.debug_info_directories.clear(),
                    _ => return Err(CommandError::Invalid(
                        "usage: config debug-info-directories -add <path> | -rm <path> | -clear"
                            .into(),
                    )),
                }
            }
            "substitute-path" => match vals {
                [c] if c == "-clear" => cfg.substitute_path.clear(),
                [from] => cfg.substitute_path.retain(|(f, _)| f != from),
                [from, to] => {
                    cfg.substitute_path.retain(|(f, _)| f != from);
                    cfg.substitute_path.push((from.clone(), to.clone()));
                }
                _ => {
                    return Err(CommandError::Invalid(
                        "usage: config substitute-path <from> [<to>] | -clear".into(),
                    ))
                }
            },
            _ => {
                return Err(CommandError::Invalid(format!(
                    "unknown configuration parameter {name:?}"
                )))
            }
        }
        Ok(())
    }
}

impl Session {
    /// `config alias <command> <alias>` adds an alias, `config alias <alias>` removes
    /// it (Delve's wording for the errors).
    fn config_alias(&mut self, vals: &[String]) -> Result<Output> {
        match vals {
            [cmd, alias] => {
                if parse::lookup(cmd).is_none() {
                    return Err(CommandError::Invalid(format!(
                        "command {cmd:?} does not exist"
                    )));
                }
                let list = self.config.aliases.entry(cmd.clone()).or_default();
                if !list.contains(alias) {
                    list.push(alias.clone());
                }
            }
            [alias] => {
                for list in self.config.aliases.values_mut() {
                    list.retain(|a| a != alias);
                }
                self.config.aliases.retain(|_, l| !l.is_empty());
            }
            _ => return Err(CommandError::Invalid(
                "wrong number of arguments: config alias <command> <alias> | config alias <alias>"
                    .into(),
            )),
        }
        Ok(Output::Text(String::new()))
    }

    /// The line with a user alias in first position replaced by its command.
    pub(super) fn expand_alias(&self, line: &str) -> Option<String> {
        let t = line.trim_start();
        let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let (cmd, _) = self
            .config
            .aliases
            .iter()
            .find(|(_, names)| names.iter().any(|n| n == word))?;
        Some(if rest.is_empty() {
            cmd.clone()
        } else {
            format!("{cmd} {rest}")
        })
    }
}
