//! Command-line parsing with Delve's command names, aliases and flags.

use super::CommandError;

/// Which location of a goroutine a listing shows or a filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocKind {
    /// Topmost frame not in a private runtime function (Delve's default, `-u`).
    #[default]
    User,
    /// Topmost frame (`-r`, `curloc`).
    Current,
    /// The `go` statement that created the goroutine (`-g`, `goloc`).
    Go,
    /// The goroutine's start function (`-s`, `startloc`).
    Start,
}

impl LocKind {
    /// The label Delve prints before the location.
    pub fn label(self) -> &'static str {
        match self {
            LocKind::User => "User",
            LocKind::Current => "Runtime",
            LocKind::Go => "Go",
            LocKind::Start => "Start",
        }
    }
    fn from_word(w: &str) -> Option<LocKind> {
        Some(match w {
            "userloc" | "user-loc" => LocKind::User,
            "curloc" | "cur" | "current" => LocKind::Current,
            "goloc" | "go" => LocKind::Go,
            "startloc" | "start" => LocKind::Start,
            _ => return None,
        })
    }
    /// Name used in group headers (`goloc=...`).
    pub fn key(self) -> &'static str {
        match self {
            LocKind::User => "userloc",
            LocKind::Current => "curloc",
            LocKind::Go => "goloc",
            LocKind::Start => "startloc",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterKind {
    /// The location's text (`file:line function`) contains the string.
    Loc(LocKind, String),
    /// The goroutine has the label key (and value, when given).
    Label(String, Option<String>),
    Running,
    User,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `-without`: keep goroutines that do NOT match.
    pub negate: bool,
    pub kind: FilterKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Loc(LocKind),
    Running,
    User,
    Label(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoroutinesArgs {
    pub loc: LocKind,
    /// `-t [depth]`: print each goroutine's stack to this depth.
    pub stack_depth: Option<usize>,
    pub labels: bool,
    pub filters: Vec<Filter>,
    pub group: Option<GroupBy>,
    /// `-exec CMD`: run CMD on every listed goroutine.
    pub exec: Option<String>,
}

/// Where `list` and `disassemble -l` look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocSpec {
    /// `file.go:N` (matched as a path suffix).
    FileLine(String, u32),
    /// `pkg.Func` (full name, or a unique suffix of one).
    Func(String),
    /// `*0xADDR`
    Addr(u64),
    /// `N`: a line in the current file.
    Line(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemFormat {
    #[default]
    Hex,
    Oct,
    Dec,
    Bin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamineArgs {
    pub format: MemFormat,
    pub count: usize,
    pub size: usize,
    pub addr: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    #[default]
    Intel,
    Gnu,
    Go,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisassTarget {
    /// The current frame's function.
    Current,
    Range(u64, u64),
    Loc(LocSpec),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisassArgs {
    pub target: DisassTarget,
    pub flavor: Option<Flavor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigArgs {
    List,
    /// `config -save`: write the persistent configuration file.
    Save,
    /// `config NAME` (show) or `config NAME VALUE...` (set).
    Set(String, Vec<String>),
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Goroutines(GoroutinesArgs),
    Goroutine {
        id: Option<u64>,
        cmd: Option<String>,
    },
    Stack {
        depth: Option<usize>,
        full: bool,
    },
    Frame {
        n: usize,
        cmd: Option<String>,
    },
    Up(usize),
    Down(usize),
    Threads,
    Thread(Option<u32>),
    Regs {
        all: bool,
    },
    List(Option<LocSpec>),
    Funcs(Option<String>),
    Sources(Option<String>),
    Types(Option<String>),
    Examine(ExamineArgs),
    Disassemble(DisassArgs),
    Config(ConfigArgs),
    Help(Option<String>),
    Exit,
    /// A command that needs a running target (continue, break, ...).
    Execution(&'static str),
    /// A command that needs variables (print, locals, ...): next release.
    Variables(&'static str),
    /// A Delve command coroner does not offer on snapshots.
    Unsupported(&'static str),
}

/// Static description of one command: names, help group and text.
pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub group: Group,
    pub summary: &'static str,
    pub help: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Running,
    Breakpoints,
    Data,
    Goroutines,
    Stack,
    Other,
}

impl Group {
    pub fn title(self) -> &'static str {
        match self {
            Group::Running => "Running the program",
            Group::Breakpoints => "Manipulating breakpoints",
            Group::Data => "Viewing program variables and memory",
            Group::Goroutines => "Listing and switching between threads and goroutines",
            Group::Stack => "Viewing the call stack and selecting frames",
            Group::Other => "Other commands",
        }
    }
    pub const ALL: [Group; 6] = [
        Group::Running,
        Group::Breakpoints,
        Group::Data,
        Group::Goroutines,
        Group::Stack,
        Group::Other,
    ];
}

/// Find a command's spec by name or alias.
pub fn lookup(word: &str) -> Option<&'static CommandSpec> {
    super::help::COMMANDS
        .iter()
        .find(|c| c.name == word || c.aliases.contains(&word))
}

/// Split a line into words; double quotes group words, `\"` escapes a quote.
pub fn split_words(line: &str) -> Result<Vec<String>, CommandError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(CommandError::Invalid("unterminated quoted string".into()));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parse an integer in Go/Delve notation: decimal, `0x`, `0o`/leading `0`, `0b`.
pub fn parse_int(s: &str) -> Option<u64> {
    let s = s.trim().replace('_', "");
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h.to_string(), 16)
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (b.to_string(), 2)
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (o.to_string(), 8)
    } else if s.len() > 1 && s.starts_with('0') {
        (s[1..].to_string(), 8)
    } else {
        (s.clone(), 10)
    };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Evaluate an address expression: integers joined by `+` and `-`
/// (`0xc000010000 + 8`). Variables come with the expression evaluator.
pub fn eval_address(expr: &str) -> Result<u64, CommandError> {
    let spaced = expr.replace('+', " + ").replace('-', " - ");
    let mut total: u64 = 0;
    let mut sign = 1i8;
    let mut expect_num = true;
    let mut any = false;
    for tok in spaced.split_whitespace() {
        if expect_num {
            let v = parse_int(tok).ok_or_else(|| {
                CommandError::NotYet(format!(
                    "cannot evaluate {expr:?}: only integer addresses and +/- arithmetic are supported until expressions arrive in the next release (issue 3)"
                ))
            })?;
            total = if sign > 0 {
                total.wrapping_add(v)
            } else {
                total.wrapping_sub(v)
            };
            expect_num = false;
            any = true;
        } else {
            sign = match tok {
                "+" => 1,
                "-" => -1,
                _ => {
                    return Err(CommandError::Invalid(format!(
                        "cannot evaluate {expr:?}: expected + or -"
                    )))
                }
            };
            expect_num = true;
        }
    }
    if !any || expect_num {
        return Err(CommandError::Invalid(format!(
            "cannot evaluate {expr:?}: incomplete expression"
        )));
    }
    Ok(total)
}

pub fn parse_location(s: &str) -> Result<LocSpec, CommandError> {
    let s = s.trim();
    if let Some(a) = s.strip_prefix('*') {
        return eval_address(a).map(LocSpec::Addr);
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u32>()
            .map(LocSpec::Line)
            .map_err(|_| CommandError::Invalid(format!("invalid line number {s}")));
    }
    if let Some((file, line)) = s.rsplit_once(':') {
        if let Ok(n) = line.parse::<u32>() {
            if !file.is_empty() {
                return Ok(LocSpec::FileLine(file.to_string(), n));
            }
        }
        return Err(CommandError::Invalid(format!("malformed location {s:?}")));
    }
    if s.is_empty() {
        return Err(CommandError::Invalid("empty location".into()));
    }
    Ok(LocSpec::Func(s.to_string()))
}

fn need_usize(flag: &str, v: Option<&String>) -> Result<usize, CommandError> {
    let v = v.ok_or_else(|| CommandError::Invalid(format!("{flag} needs a number")))?;
    parse_int(v)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| CommandError::Invalid(format!("{flag}: invalid number {v:?}")))
}

fn parse_goroutines(args: &[String], rest_of_line: &str) -> Result<GoroutinesArgs, CommandError> {
    let mut out = GoroutinesArgs::default();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        match a.as_str() {
            "-u" => out.loc = LocKind::User,
            "-r" => out.loc = LocKind::Current,
            "-g" => out.loc = LocKind::Go,
            "-s" => out.loc = LocKind::Start,
            "-l" => out.labels = true,
            "-t" => {
                let mut depth = 10;
                if let Some(n) = args.get(i).and_then(|v| parse_int(v)) {
                    depth = usize::try_from(n).unwrap_or(usize::MAX);
                    i += 1;
                }
                out.stack_depth = Some(depth);
            }
            "-with" | "-w" | "-without" | "-wo" => {
                let negate = a == "-without" || a == "-wo";
                let kind_word = args
                    .get(i)
                    .ok_or_else(|| CommandError::Invalid(format!("wrong argument: '{a}'")))?;
                i += 1;
                let kind = match kind_word.as_str() {
                    "running" => FilterKind::Running,
                    "user" => FilterKind::User,
                    "label" => {
                        let kv = args.get(i).ok_or_else(|| {
                            CommandError::Invalid(format!("wrong argument: '{a} label'"))
                        })?;
                        i += 1;
                        match kv.split_once('=') {
                            Some((k, v)) => FilterKind::Label(k.into(), Some(v.into())),
                            None => FilterKind::Label(kv.clone(), None),
                        }
                    }
                    w => {
                        let lk = LocKind::from_word(w).ok_or_else(|| {
                            CommandError::Invalid(format!("wrong argument: '{a} {w}'"))
                        })?;
                        let expr = args.get(i).ok_or_else(|| {
                            CommandError::Invalid(format!(
                                "wrong argument: '{a} {w}' needs a string"
                            ))
                        })?;
                        i += 1;
                        FilterKind::Loc(lk, expr.clone())
                    }
                };
                out.filters.push(Filter { negate, kind });
            }
            "-group" => {
                let w = args
                    .get(i)
                    .ok_or_else(|| CommandError::Invalid("wrong argument: '-group'".into()))?;
                i += 1;
                out.group = Some(match w.as_str() {
                    "running" => GroupBy::Running,
                    "user" => GroupBy::User,
                    "label" => {
                        let k = args.get(i).ok_or_else(|| {
                            CommandError::Invalid(
                                "wrong argument: '-group label' needs a key".into(),
                            )
                        })?;
                        i += 1;
                        GroupBy::Label(k.clone())
                    }
                    w => GroupBy::Loc(LocKind::from_word(w).ok_or_else(|| {
                        CommandError::Invalid(format!("wrong argument: '-group {w}'"))
                    })?),
                });
            }
            "-exec" => {
                // Everything after -exec is the command, verbatim.
                let cmd = rest_of_line
                    .split_once("-exec")
                    .map(|(_, r)| r.trim().to_string())
                    .unwrap_or_default();
                if cmd.is_empty() {
                    return Err(CommandError::Invalid("-exec needs a command".into()));
                }
                out.exec = Some(cmd);
                break;
            }
            other => return Err(CommandError::Invalid(format!("wrong argument: '{other}'"))),
        }
    }
    Ok(out)
}

fn parse_examine(args: &[String]) -> Result<ExamineArgs, CommandError> {
    let mut format = MemFormat::Hex;
    let mut count = 1usize;
    let mut size = 1usize;
    let mut addr = None;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        match a.as_str() {
            "-fmt" => {
                let f = args
                    .get(i)
                    .ok_or_else(|| CommandError::Invalid("-fmt needs a format".into()))?;
                i += 1;
                format = match f.as_str() {
                    "hex" | "hexadecimal" | "x" => MemFormat::Hex,
                    "oct" | "octal" | "o" => MemFormat::Oct,
                    "dec" | "decimal" | "d" => MemFormat::Dec,
                    "bin" | "binary" | "b" => MemFormat::Bin,
                    _ => return Err(CommandError::Invalid(format!("unknown format {f:?}"))),
                };
            }
            "-count" | "-len" => {
                count = need_usize(a, args.get(i))?;
                i += 1;
            }
            "-size" => {
                size = need_usize(a, args.get(i))?;
                i += 1;
            }
            "-x" => {
                let rest = args.get(i..).unwrap_or_default().join(" ");
                addr = Some(eval_address(&rest)?);
                break;
            }
            _ => {
                let rest = args.get(i - 1..).unwrap_or_default().join(" ");
                addr = Some(eval_address(&rest)?);
                break;
            }
        }
    }
    if ![1, 2, 4, 8].contains(&size) {
        return Err(CommandError::Invalid(
            "size must be 1, 2, 4 or 8 bytes".into(),
        ));
    }
    if count == 0 || !matches!(count.checked_mul(size), Some(n) if n <= 1000) {
        return Err(CommandError::Invalid(
            "count * size must be between 1 and 1000 bytes".into(),
        ));
    }
    let addr = addr.ok_or_else(|| CommandError::Invalid("no address specified".into()))?;
    Ok(ExamineArgs {
        format,
        count,
        size,
        addr,
    })
}

fn parse_disassemble(args: &[String]) -> Result<DisassArgs, CommandError> {
    let mut target = DisassTarget::Current;
    let mut flavor = None;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        i += 1;
        match a.as_str() {
            "-a" => {
                let (s, e) = match (args.get(i), args.get(i + 1)) {
                    (Some(s), Some(e)) => (s, e),
                    _ => {
                        return Err(CommandError::Invalid(
                            "wrong number of arguments: disassemble -a <start> <end>".into(),
                        ))
                    }
                };
                i += 2;
                let s = eval_address(s)?;
                let e = eval_address(e)?;
                if e <= s {
                    return Err(CommandError::Invalid(
                        "end address must be after the start address".into(),
                    ));
                }
                target = DisassTarget::Range(s, e);
            }
            "-l" => {
                let l = args.get(i).ok_or_else(|| {
                    CommandError::Invalid("wrong number of arguments: disassemble -l <locspec>".into())
                })?;
                i += 1;
                target = DisassTarget::Loc(parse_location(l)?);
            }
            "-s" => {
                let f = args
                    .get(i)
                    .ok_or_else(|| CommandError::Invalid("-s needs intel, gnu or go".into()))?;
                i += 1;
                flavor = Some(parse_flavor(f)?);
            }
            other => {
                return Err(CommandError::Invalid(format!(
                    "wrong argument: '{other}' (disassemble [-a <start> <end>] [-l <locspec>] [-s intel|gnu|go])"
                )))
            }
        }
    }
    Ok(DisassArgs { target, flavor })
}

pub fn parse_flavor(f: &str) -> Result<Flavor, CommandError> {
    match f {
        "intel" => Ok(Flavor::Intel),
        "gnu" | "att" => Ok(Flavor::Gnu),
        "go" => Ok(Flavor::Go),
        _ => Err(CommandError::Invalid(format!(
            "unknown disassembly flavor {f:?}: use intel, gnu or go"
        ))),
    }
}

fn optional_regex(args: &[String]) -> Option<String> {
    if args.is_empty() {
        None
    } else {
        Some(args.join(" "))
    }
}

fn count_arg(cmd: &str, args: &[String]) -> Result<usize, CommandError> {
    match args.first() {
        None => Ok(1),
        Some(a) => parse_int(a)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| CommandError::Invalid(format!("{cmd}: invalid number {a:?}"))),
    }
}

/// The words after the first `n` words of `line`, as typed.
fn rest_after_words(line: &str, n: usize) -> Option<String> {
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest.get(end..)?.trim_start();
    }
    if rest.is_empty() {
        None
    } else {
        Some(rest.to_string())
    }
}

/// Parse one command line (non-empty).
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let words = split_words(line)?;
    let Some((first, args)) = words.split_first() else {
        return Err(CommandError::Invalid("empty command".into()));
    };
    let spec = lookup(first).ok_or(CommandError::NotAvailable)?;
    Ok(match spec.name {
        "goroutines" => Command::Goroutines(parse_goroutines(args, line)?),
        "goroutine" => {
            match args.first() {
                None => Command::Goroutine {
                    id: None,
                    cmd: None,
                },
                Some(a) => Command::Goroutine {
                    id: Some(parse_int(a).ok_or_else(|| {
                        CommandError::Invalid(format!("invalid goroutine id {a:?}"))
                    })?),
                    cmd: rest_after_words(line, 2),
                },
            }
        }
        "stack" => {
            let mut depth = None;
            let mut full = false;
            for a in args {
                match a.as_str() {
                    "-full" => full = true,
                    a if a.starts_with('-') => {
                        return Err(CommandError::Invalid(format!("unsupported stack flag {a}")))
                    }
                    a => {
                        depth = Some(
                            parse_int(a)
                                .and_then(|n| usize::try_from(n).ok())
                                .ok_or_else(|| {
                                    CommandError::Invalid(format!("invalid stack depth {a:?}"))
                                })?,
                        )
                    }
                }
            }
            Command::Stack { depth, full }
        }
        "frame" => {
            let a = args.first().ok_or_else(|| {
                CommandError::Invalid("not enough arguments: frame <n> [command]".into())
            })?;
            let n = parse_int(a)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| CommandError::Invalid(format!("invalid frame {a:?}")))?;
            Command::Frame {
                n,
                cmd: rest_after_words(line, 2),
            }
        }
        "up" => Command::Up(count_arg("up", args)?),
        "down" => Command::Down(count_arg("down", args)?),
        "threads" => Command::Threads,
        "thread" => match args.first() {
            None => Command::Thread(None),
            Some(a) => Command::Thread(Some(
                parse_int(a)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| CommandError::Invalid(format!("invalid thread id {a:?}")))?,
            )),
        },
        "regs" => Command::Regs {
            all: args.iter().any(|a| a == "-a"),
        },
        "list" => match args.first() {
            None => Command::List(None),
            Some(_) => Command::List(Some(parse_location(&args.join(" "))?)),
        },
        "funcs" => Command::Funcs(optional_regex(args)),
        "sources" => Command::Sources(optional_regex(args)),
        "types" => Command::Types(optional_regex(args)),
        "examinemem" => Command::Examine(parse_examine(args)?),
        "disassemble" => Command::Disassemble(parse_disassemble(args)?),
        "config" => match args.split_first() {
            None => {
                return Err(CommandError::Invalid(
                    "wrong number of arguments to config: config -list | config <name> [value]"
                        .into(),
                ))
            }
            Some((f, _)) if f == "-list" => Command::Config(ConfigArgs::List),
            Some((f, _)) if f == "-save" => Command::Config(ConfigArgs::Save),
            Some((name, vals)) => Command::Config(ConfigArgs::Set(name.clone(), vals.to_vec())),
        },
        "help" => Command::Help(args.first().cloned()),
        "exit" => Command::Exit,
        name => match spec.group {
            Group::Running | Group::Breakpoints => Command::Execution(name),
            _ if super::help::VARIABLE_COMMANDS.contains(&name) => Command::Variables(name),
            _ => Command::Unsupported(name),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap_or_default()
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(w("a  b\t\"c d\" e"), vec!["a", "b", "c d", "e"]);
        assert_eq!(w(r#"x "a\"b""#), vec!["x", "a\"b"]);
        assert!(split_words("x \"open").is_err());
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("0b11"), Some(3));
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("zz"), None);
        assert_eq!(parse_int("0x"), None);
        assert_eq!(eval_address("0x10 + 8 - 2").ok(), Some(22));
        assert_eq!(eval_address("0x10+8").ok(), Some(24));
        assert!(eval_address("&x").is_err());
        assert!(eval_address("0x10 +").is_err());
    }

    #[test]
    fn aliases_resolve() {
        for (alias, name) in [
            ("grs", "goroutines"),
            ("gr", "goroutine"),
            ("bt", "stack"),
            ("tr", "thread"),
            ("ls", "list"),
            ("l", "list"),
            ("x", "examinemem"),
            ("disass", "disassemble"),
            ("q", "exit"),
            ("quit", "exit"),
            ("c", "continue"),
            ("n", "next"),
            ("s", "step"),
            ("b", "break"),
            ("p", "print"),
        ] {
            assert_eq!(lookup(alias).map(|c| c.name), Some(name), "{alias}");
        }
        assert!(matches!(
            parse("frobnicate"),
            Err(CommandError::NotAvailable)
        ));
    }

    #[test]
    fn goroutines_flags() {
        let Ok(Command::Goroutines(g)) = parse("grs -t 3 -g -with user -without curloc main.main")
        else {
            panic!("parse failed")
        };
        assert_eq!(g.stack_depth, Some(3));
        assert_eq!(g.loc, LocKind::Go);
        assert_eq!(
            g.filters,
            vec![
                Filter {
                    negate: false,
                    kind: FilterKind::User
                },
                Filter {
                    negate: true,
                    kind: FilterKind::Loc(LocKind::Current, "main.main".into())
                }
            ]
        );
        let Ok(Command::Goroutines(g)) = parse("goroutines -t") else {
            panic!("parse failed")
        };
        assert_eq!(g.stack_depth, Some(10));
        let Ok(Command::Goroutines(g)) = parse("goroutines -group startloc -exec stack 2") else {
            panic!("parse failed")
        };
        assert_eq!(g.group, Some(GroupBy::Loc(LocKind::Start)));
        assert_eq!(g.exec.as_deref(), Some("stack 2"));
        let Ok(Command::Goroutines(g)) = parse("goroutines -with label k=v -group label k") else {
            panic!("parse failed")
        };
        assert_eq!(
            g.filters[0].kind,
            FilterKind::Label("k".into(), Some("v".into()))
        );
        assert_eq!(g.group, Some(GroupBy::Label("k".into())));
        assert!(parse("goroutines -group").is_err());
        assert!(parse("goroutines -group nonsense").is_err());
        assert!(parse("goroutines -bogus").is_err());
    }

    #[test]
    fn navigation() {
        assert_eq!(
            parse("gr 18 bt 3").ok(),
            Some(Command::Goroutine {
                id: Some(18),
                cmd: Some("bt 3".into())
            })
        );
        assert_eq!(
            parse("frame 2 list").ok(),
            Some(Command::Frame {
                n: 2,
                cmd: Some("list".into())
            })
        );
        assert_eq!(parse("up").ok(), Some(Command::Up(1)));
        assert_eq!(parse("down 3").ok(), Some(Command::Down(3)));
        assert_eq!(
            parse("bt 5 -full").ok(),
            Some(Command::Stack {
                depth: Some(5),
                full: true
            })
        );
        assert_eq!(parse("tr 7").ok(), Some(Command::Thread(Some(7))));
        assert!(parse("frame").is_err());
        assert!(parse("frame x").is_err());
    }

    #[test]
    fn locations() {
        assert_eq!(
            parse_location("main.go:13").ok(),
            Some(LocSpec::FileLine("main.go".into(), 13))
        );
        assert_eq!(
            parse_location("main.main").ok(),
            Some(LocSpec::Func("main.main".into()))
        );
        assert_eq!(parse_location("*0x10").ok(), Some(LocSpec::Addr(16)));
        assert_eq!(parse_location("40").ok(), Some(LocSpec::Line(40)));
        assert!(parse_location("main.go:").is_err());
    }

    #[test]
    fn examine() {
        let Ok(Command::Examine(x)) = parse("x -fmt dec -len 4 -size 8 0x1000") else {
            panic!("parse failed")
        };
        assert_eq!(
            x,
            ExamineArgs {
                format: MemFormat::Dec,
                count: 4,
                size: 8,
                addr: 0x1000
            }
        );
        let Ok(Command::Examine(x)) = parse("examinemem -x 0x1000 + 8") else {
            panic!("parse failed")
        };
        assert_eq!((x.addr, x.count, x.size), (0x1008, 1, 1));
        assert!(parse("x -size 3 0x10").is_err());
        assert!(parse("x -count 2000 0x10").is_err());
        assert!(parse("x").is_err());
    }

    #[test]
    fn disassemble() {
        assert_eq!(
            parse("disass -a 0x10 0x20 -s gnu").ok(),
            Some(Command::Disassemble(DisassArgs {
                target: DisassTarget::Range(0x10, 0x20),
                flavor: Some(Flavor::Gnu)
            }))
        );
        assert_eq!(
            parse("disassemble -l main.crash").ok(),
            Some(Command::Disassemble(DisassArgs {
                target: DisassTarget::Loc(LocSpec::Func("main.crash".into())),
                flavor: None
            }))
        );
        assert!(parse("disassemble -a 0x20 0x10").is_err());
        assert!(parse("disassemble -s masm").is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(parse("continue").ok(), Some(Command::Execution("continue")));
        assert_eq!(parse("b main.main").ok(), Some(Command::Execution("break")));
        assert_eq!(parse("print x").ok(), Some(Command::Variables("print")));
        assert_eq!(parse("locals").ok(), Some(Command::Variables("locals")));
        assert_eq!(
            parse("config -list").ok(),
            Some(Command::Config(ConfigArgs::List))
        );
        assert_eq!(parse("q").ok(), Some(Command::Exit));
    }
}
