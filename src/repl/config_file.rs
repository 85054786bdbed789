//! The persistent configuration: `$XDG_CONFIG_HOME/coroner/config.yml` (default
//! `~/.config/coroner/config.yml`), else Delve's own `config.yml`, in Delve's format
//! (the same keys, so one file serves both debuggers).
//!
//! A bad file never stops a session: it gives a one-line warning naming the file and
//! line, and the defaults are used. Unknown keys are kept when `config -save` rewrites
//! coroner's file (Delve's colour settings, for instance, stay for Delve).

use super::parse::{self, Flavor};
use super::Config;
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The configuration read at start-up, and where it came from.
#[derive(Debug, Default)]
pub struct UserConfig {
    pub config: Config,
    /// The file the settings were read from (None: no file, defaults).
    pub path: Option<PathBuf>,
    /// One line each: unreadable file, bad YAML, a key with a value of the wrong type.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("no home directory: set HOME or XDG_CONFIG_HOME")]
    NoHome,
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("cannot encode the configuration: {0}")]
    Encode(String),
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// coroner's own file (what `config -save` writes).
pub fn coroner_path() -> Option<PathBuf> {
    let base = env_dir("XDG_CONFIG_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".config")))?;
    Some(base.join("coroner").join("config.yml"))
}

/// Delve's files, in the order Delve looks for them.
pub fn delve_paths() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(x) = env_dir("XDG_CONFIG_HOME") {
        v.push(x.join("dlv").join("config.yml"));
    }
    if let Some(h) = env_dir("HOME") {
        v.push(h.join(".config").join("dlv").join("config.yml"));
        v.push(h.join(".dlv").join("config.yml"));
    }
    v
}

/// The file to read: coroner's when it exists, else the first of Delve's that does.
pub fn existing_path() -> Option<PathBuf> {
    coroner_path()
        .into_iter()
        .chain(delve_paths())
        .find(|p| p.is_file())
}

/// Read the user's configuration (never fails: problems become warnings).
pub fn load_user() -> UserConfig {
    match existing_path() {
        Some(p) => load_from(&p),
        None => UserConfig::default(),
    }
}

/// Read one file.
pub fn load_from(path: &Path) -> UserConfig {
    let mut out = UserConfig {
        path: Some(path.to_path_buf()),
        ..UserConfig::default()
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            out.warnings.push(format!(
                "cannot read {}: {e}; using defaults",
                path.display()
            ));
            return out;
        }
    };
    match parse_text(&text) {
        Ok((config, warnings)) => {
            out.config = config;
            out.warnings.extend(
                warnings
                    .into_iter()
                    .map(|w| format!("{}: {w}", path.display())),
            );
        }
        Err(w) => out
            .warnings
            .push(format!("{}{w}; using defaults", path.display())),
    }
    out
}

/// Parse a config file's text. Err is the whole-file problem, as `:LINE: message`
/// (to follow the file name); Ok carries per-key warnings.
pub fn parse_text(text: &str) -> Result<(Config, Vec<String>), String> {
    let v: Value = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!(":{}: bad YAML: {e}", l.line()),
        None => format!(": bad YAML: {e}"),
    })?;
    let map = match v {
        Value::Null => return Ok((Config::default(), Vec::new())),
        Value::Mapping(m) => m,
        _ => return Err(":1: not a YAML mapping of settings".into()),
    };
    let mut c = Config::default();
    let mut warnings = Vec::new();
    for (k, v) in &map {
        let Some(key) = k.as_str() else { continue };
        if let Err(why) = apply_key(&mut c, key, v) {
            warnings.push(format!("{key}: {why}; ignored"));
        }
    }
    Ok((c, warnings))
}

fn apply_key(c: &mut Config, key: &str, v: &Value) -> Result<(), String> {
    let number = || {
        v.as_u64()
            .ok_or_else(|| format!("expected a non-negative number, got {}", brief(v)))
    };
    let strings = |v: &Value| -> Result<Vec<String>, String> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Sequence(s) => s
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("expected strings, got {}", brief(x)))
                })
                .collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            other => Err(format!("expected a list, got {}", brief(other))),
        }
    };
    match key {
        // Delve writes unset numbers as absent, but tolerate an explicit null.
        _ if v.is_null() && key != "aliases" && key != "substitute-path" => {}
        "max-string-len" => c.max_string_len = Some(number()?),
        "max-array-values" => c.max_array_values = Some(number()?),
        "max-variable-recurse" => c.max_variable_recurse = Some(number()?),
        "source-list-line-count" => {
            c.source_list_line_count =
                Some(u32::try_from(number()?).map_err(|_| "too large".to_string())?)
        }
        "show-location-expr" => {
            c.show_location_expr = v
                .as_bool()
                .ok_or_else(|| format!("expected true or false, got {}", brief(v)))?
        }
        "disassemble-flavor" => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("expected intel, gnu or go, got {}", brief(v)))?;
            c.disassemble_flavor = Some(parse::parse_flavor(s).map_err(|e| e.to_string())?);
        }
        "debug-info-directories" => {
            c.debug_info_directories = strings(v)?.into_iter().map(PathBuf::from).collect()
        }
        "substitute-path" => {
            let Value::Sequence(rules) = v else {
                if v.is_null() {
                    return Ok(());
                }
                return Err(format!("expected a list of {{from, to}}, got {}", brief(v)));
            };
            for r in rules {
                let field = |name: &str| r.get(name).and_then(Value::as_str).map(str::to_string);
                match (field("from"), field("to")) {
                    (Some(f), Some(t)) => c.substitute_path.push((f, t)),
                    // Delve allows an empty "to" (strip the prefix) written as `to: ""`;
                    // a missing one is an error in the file.
                    _ => return Err(format!("a rule without from/to: {}", brief(r))),
                }
            }
        }
        "aliases" => {
            let Value::Mapping(m) = v else {
                if v.is_null() {
                    return Ok(());
                }
                return Err(format!("expected a mapping, got {}", brief(v)));
            };
            for (cmd, names) in m {
                let Some(cmd) = cmd.as_str() else { continue };
                c.aliases.insert(cmd.to_string(), strings(names)?);
            }
        }
        // Delve's terminal settings (colours, pager, tab width...) mean nothing here.
        _ => {}
    }
    Ok(())
}

fn brief(v: &Value) -> String {
    let s = serde_yaml_ng::to_string(v).unwrap_or_default();
    let s = s.trim();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

fn flavor_name(f: Flavor) -> &'static str {
    match f {
        Flavor::Intel => "intel",
        Flavor::Gnu => "gnu",
        Flavor::Go => "go",
    }
}

/// The YAML text `config -save` writes: `base` (the file's current keys, kept when
/// coroner does not know them) with every known key set from `c`.
pub fn render(c: &Config, mut base: Mapping) -> Result<String, ConfigFileError> {
    let mut set = |k: &str, v: Option<Value>| match v {
        Some(v) => {
            base.insert(Value::from(k), v);
        }
        None => {
            base.remove(k);
        }
    };
    let aliases: Mapping = c
        .aliases
        .iter()
        .map(|(k, v)| {
            (
                Value::from(k.as_str()),
                Value::Sequence(v.iter().map(|a| Value::from(a.as_str())).collect()),
            )
        })
        .collect();
    set("aliases", Some(Value::Mapping(aliases)));
    let rules = c
        .substitute_path
        .iter()
        .map(|(f, t)| {
            let mut m = Mapping::new();
            m.insert("from".into(), f.as_str().into());
            m.insert("to".into(), t.as_str().into());
            Value::Mapping(m)
        })
        .collect();
    set("substitute-path", Some(Value::Sequence(rules)));
    set("max-string-len", c.max_string_len.map(Value::from));
    set("max-array-values", c.max_array_values.map(Value::from));
    set(
        "max-variable-recurse",
        c.max_variable_recurse.map(Value::from),
    );
    set(
        "disassemble-flavor",
        c.disassemble_flavor.map(|f| flavor_name(f).into()),
    );
    set("show-location-expr", Some(c.show_location_expr.into()));
    set(
        "source-list-line-count",
        c.source_list_line_count.map(Value::from),
    );
    set(
        "debug-info-directories",
        Some(Value::Sequence(
            c.debug_info_directories
                .iter()
                .map(|d| d.to_string_lossy().into_owned().into())
                .collect(),
        )),
    );
    serde_yaml_ng::to_string(&Value::Mapping(base))
        .map_err(|e| ConfigFileError::Encode(e.to_string()))
}

/// `config -save`: write `c` to coroner's file (creating its directory), keeping the
/// keys coroner does not know from that file, or from Delve's when coroner has none
/// yet. Returns the path written.
pub fn save(c: &Config) -> Result<PathBuf, ConfigFileError> {
    let path = coroner_path().ok_or(ConfigFileError::NoHome)?;
    let base = existing_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_yaml_ng::from_str::<Value>(&t).ok())
        .and_then(|v| match v {
            Value::Mapping(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    let text = render(c, base)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ConfigFileError::Write(dir.to_path_buf(), e))?;
    }
    let body = format!("# coroner's configuration (Delve's config.yml keys).\n{text}");
    std::fs::write(&path, body).map_err(|e| ConfigFileError::Write(path.clone(), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delve_format_parses() {
        let text = "aliases:\n  goroutines: [gs, grr]\nsubstitute-path:\n  - {from: /build, to: /src}\n  - {from: /x, to: \"\"}\nmax-string-len: 99\nshow-location-expr: true\ndisassemble-flavor: gnu\nsource-list-line-count: 3\ndebug-info-directories: [\"/usr/lib/debug/.build-id\"]\nsource-list-line-color: \"\\x1b[34m\"\n";
        let (c, w) = parse_text(text).expect("parses");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.aliases["goroutines"], vec!["gs", "grr"]);
        assert_eq!(
            c.substitute_path,
            vec![
                ("/build".into(), "/src".into()),
                ("/x".into(), String::new())
            ]
        );
        assert_eq!(c.max_string_len, Some(99));
        assert!(c.show_location_expr);
        assert_eq!(c.disassemble_flavor, Some(Flavor::Gnu));
        assert_eq!(c.source_list_line_count, Some(3));
        assert_eq!(c.debug_info_directories.len(), 1);
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let e = parse_text("max-string-len: 5\naliases: [unclosed\n").expect_err("bad");
        assert!(
            e.starts_with(":2: bad YAML") || e.starts_with(":3: bad YAML"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_warn_per_key() {
        let (c, w) = parse_text("max-string-len: lots\nmax-array-values: 7\n").expect("parses");
        assert_eq!(c.max_array_values, Some(7));
        assert_eq!(c.max_string_len, None);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("max-string-len:"), "{w:?}");
    }

    #[test]
    fn render_keeps_unknown_keys_and_round_trips() {
        let mut base = Mapping::new();
        base.insert("source-list-line-color".into(), "34".into());
        let c = Config {
            max_string_len: Some(10),
            substitute_path: vec![("/a".into(), "/b".into())],
            ..Config::default()
        };
        let text = render(&c, base).expect("renders");
        assert!(text.contains("source-list-line-color"), "{text}");
        let (back, w) = parse_text(&text).expect("parses");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(back, c);
    }
}
