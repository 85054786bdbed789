//! Separate debug info: DWARF kept apart from a stripped binary (Debian's `-dbgsym`
//! packages, `objcopy --only-keep-debug`, a build-ID-keyed symbol store), found the way
//! gdb and Delve find it:
//!
//! 1. by GNU build ID: `DIR/.build-id/xx/yyyy.debug` for each debug directory (a
//!    directory that is itself a `.build-id` store, as Delve's default
//!    `/usr/lib/debug/.build-id`, works too);
//! 2. by `.gnu_debuglink` name, its CRC32 checked: next to the binary, in its `.debug/`
//!    subdirectory, under `DIR/<binary's directory>/` and directly in `DIR`;
//! 3. Go binaries usually have no GNU build ID nor debuglink: `NAME.debug` in those same
//!    places, accepted only when its Go build ID is the binary's.
//!
//! Debug directories: `--debug-info-directories` ([`set_debug_info_directories`]),
//! then `debug-info-directories` of coroner's and Delve's `config.yml`, then
//! `/usr/lib/debug`. A candidate whose build ID (GNU or Go) differs from the binary's,
//! or whose CRC differs from the debuglink's, is refused with a warning.

use super::dwarf::Dwarf;
use super::Binary;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// Why a separate debug file was not used.
#[derive(Debug, thiserror::Error)]
pub enum DebugInfoError {
    #[error("{path}: unreadable: {why}")]
    Unreadable { path: String, why: String },
    #[error("{path}: CRC32 {found:#010x}, but {binary}'s .gnu_debuglink expects {want:#010x}")]
    Crc {
        path: String,
        binary: String,
        found: u32,
        want: u32,
    },
    #[error(
        "{path}: {kind} build ID {found}, but {binary}'s is {want}: debug info of another build"
    )]
    BuildId {
        path: String,
        binary: String,
        kind: &'static str,
        found: String,
        want: String,
    },
    #[error("{path}: no build ID to check against {binary}'s")]
    Unverified { path: String, binary: String },
    #[error("{path}: has no DWARF")]
    NoDwarf { path: String },
}

static EXTRA_DIRS: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Directories searched before the configured ones (the `--debug-info-directories`
/// flag). Process-wide because every binary opened afterwards should use them.
pub fn set_debug_info_directories(dirs: Vec<PathBuf>) {
    if let Ok(mut d) = EXTRA_DIRS.write() {
        *d = dirs;
    }
}

/// `debug-info-directories` from a Delve-style `config.yml`: either a flow list
/// (`[a, b]`) or a block list (`- a` lines). Only this key is read here.
pub fn parse_config_dirs(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        let t = line.trim_end();
        if let Some(rest) = t.strip_prefix("debug-info-directories:") {
            let rest = rest.trim();
            in_block = rest.is_empty();
            if let Some(list) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                out.extend(
                    list.split(',')
                        .map(|s| s.trim().trim_matches('"').trim_matches('\''))
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from),
                );
            }
            continue;
        }
        if in_block {
            match t.trim_start().strip_prefix("- ") {
                Some(item) => out.push(PathBuf::from(
                    item.trim().trim_matches('"').trim_matches('\''),
                )),
                None if t.trim().is_empty() || t.trim_start().starts_with('#') => {}
                None => in_block = false,
            }
        }
    }
    out
}

fn config_dirs() -> Vec<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    let Some(base) = base else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for app in ["coroner", "dlv"] {
        if let Ok(text) = std::fs::read_to_string(base.join(app).join("config.yml")) {
            out.extend(parse_config_dirs(&text));
        }
    }
    out
}

/// Every debug directory, in search order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = EXTRA_DIRS.read().map(|d| d.clone()).unwrap_or_default();
    dirs.extend(config_dirs());
    dirs.push(PathBuf::from("/usr/lib/debug"));
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// `.gnu_debuglink`: a NUL-terminated file name, padding to 4 bytes, then its CRC32.
pub fn debuglink(bin: &Binary) -> Option<(String, u32)> {
    let d = bin.section_data(".gnu_debuglink")?;
    let nul = d.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(d.get(..nul)?).ok()?.to_string();
    let at = (nul + 1).div_ceil(4) * 4;
    let crc = u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?);
    (!name.is_empty() && !name.contains('/')).then_some((name, crc))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn has_dwarf(bin: &Binary) -> bool {
    bin.section(".debug_info").is_some() || bin.section(".zdebug_info").is_some()
}

/// How a candidate was found: decides what must be checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    BuildId,
    Debuglink(u32),
    Name,
}

/// A separate debug file accepted for a binary.
pub struct DebugFile {
    pub path: PathBuf,
    pub binary: Binary,
    /// How it was found and checked, for the header ("GNU build ID", ...).
    pub how: String,
}

/// Candidate paths, in search order.
fn candidates(bin: &Binary, dirs: &[PathBuf]) -> Vec<(PathBuf, Found)> {
    let mut out = Vec::new();
    if let Some(id) = bin.build_id().filter(|id| id.len() >= 2) {
        let (head, tail) = (hex(&id[..1]), hex(&id[1..]));
        for d in dirs {
            let leaf = Path::new(&head).join(format!("{tail}.debug"));
            out.push((d.join(".build-id").join(&leaf), Found::BuildId));
            out.push((d.join(&leaf), Found::BuildId));
        }
    }
    let path = std::fs::canonicalize(&bin.path).unwrap_or_else(|_| bin.path.clone());
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // `/usr/lib/debug` + `/usr/bin`: join would drop the first part on an absolute path.
    let rel = dir.strip_prefix("/").unwrap_or(&dir).to_path_buf();
    let mut by_name = |name: &str, how: Found| {
        out.push((dir.join(name), how));
        out.push((dir.join(".debug").join(name), how));
        for d in dirs {
            out.push((d.join(&rel).join(name), how));
            out.push((d.join(name), how));
        }
    };
    if let Some((name, crc)) = debuglink(bin) {
        by_name(&name, Found::Debuglink(crc));
    }
    if let Some(stem) = path.file_name().and_then(|s| s.to_str()) {
        let stem = stem.trim_end_matches(".zst").trim_end_matches(".xz");
        by_name(&format!("{stem}.debug"), Found::Name);
    }
    // The binary itself (e.g. `prog.debug` opened as the binary) is never its own.
    out.retain(|(p, _)| std::fs::canonicalize(p).ok().as_ref() != Some(&path));
    out
}

/// Check one candidate against the binary.
fn check(bin: &Binary, path: &Path, how: Found) -> Result<DebugFile, DebugInfoError> {
    let p = path.display().to_string();
    let name = bin.path.display().to_string();
    if let Found::Debuglink(want) = how {
        let bytes = std::fs::read(path).map_err(|e| DebugInfoError::Unreadable {
            path: p.clone(),
            why: e.to_string(),
        })?;
        let found = crc32fast::hash(&bytes);
        if found != want {
            return Err(DebugInfoError::Crc {
                path: p,
                binary: name,
                found,
                want,
            });
        }
    }
    let dbg = Binary::open(path).map_err(|e| DebugInfoError::Unreadable {
        path: p.clone(),
        why: e.to_string(),
    })?;
    let mut verified = matches!(how, Found::Debuglink(_));
    if let (Some(a), Some(b)) = (bin.build_id(), dbg.build_id()) {
        if a != b {
            return Err(DebugInfoError::BuildId {
                path: p,
                binary: name,
                kind: "GNU",
                found: hex(b),
                want: hex(a),
            });
        }
        verified = true;
    }
    if let (Some(a), Some(b)) = (bin.go_build_id(), dbg.go_build_id()) {
        if a != b {
            return Err(DebugInfoError::BuildId {
                path: p,
                binary: name,
                kind: "Go",
                found: format!("{b:?}"),
                want: format!("{a:?}"),
            });
        }
        verified = true;
    }
    if !verified {
        return Err(DebugInfoError::Unverified {
            path: p,
            binary: name,
        });
    }
    if !has_dwarf(&dbg) {
        return Err(DebugInfoError::NoDwarf { path: p });
    }
    let how = match how {
        Found::BuildId => "found by GNU build ID".to_string(),
        Found::Debuglink(crc) => format!(".gnu_debuglink, CRC32 {crc:#010x} matches"),
        Found::Name => "found by name, Go build ID matches".to_string(),
    };
    Ok(DebugFile {
        path: path.to_path_buf(),
        binary: dbg,
        how,
    })
}

/// The separate debug file of `bin`, if it has no DWARF of its own and one is found
/// in `dirs`; refused candidates are reported in `warnings`.
pub fn find(bin: &Binary, dirs: &[PathBuf], warnings: &mut Vec<String>) -> Option<DebugFile> {
    if has_dwarf(bin) {
        return None;
    }
    let mut tried = std::collections::HashSet::new();
    for (path, how) in candidates(bin, dirs) {
        if !path.is_file() || !tried.insert(path.clone()) {
            continue;
        }
        match check(bin, &path, how) {
            Ok(f) => return Some(f),
            Err(e) => warnings.push(format!(
                "separate debug info refused, continuing without it: {e}"
            )),
        }
    }
    None
}

/// The binary's DWARF: its own, else a separate debug file's. Problems and the file
/// the DWARF came from are added to `warnings` ("debug info: ..." for the latter,
/// which the header shows on its own line).
pub fn load_dwarf(bin: &std::sync::Arc<Binary>, warnings: &mut Vec<String>) -> Option<Dwarf> {
    let unreadable = |e: super::SymError, w: &mut Vec<String>| {
        w.push(format!("DWARF unreadable, continuing without it: {e}"));
        None
    };
    if has_dwarf(bin) {
        return Dwarf::load(bin).unwrap_or_else(|e| unreadable(e, warnings));
    }
    let f = find(bin, &search_dirs(), warnings)?;
    let note = format!("{DEBUG_INFO_NOTE}{} ({})", f.path.display(), f.how);
    match Dwarf::load(&std::sync::Arc::new(f.binary)) {
        // The file's sections are read when first needed: an unreadable
        // .debug_info shows then, as a missing answer, not here.
        Ok(Some(d)) if d.has_units() => {
            warnings.push(note);
            Some(d)
        }
        Ok(Some(_)) => unreadable(
            super::SymError::Dwarf(".debug_info holds no readable unit".into()),
            warnings,
        ),
        Ok(None) => None,
        Err(e) => unreadable(e, warnings),
    }
}

/// Prefix of the note saying where the DWARF came from.
pub const DEBUG_INFO_NOTE: &str = "debug info: DWARF read from ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists() {
        let flow =
            "substitute-path: []\ndebug-info-directories: [\"/a\", /b]\nmax-string-len: 64\n";
        assert_eq!(
            parse_config_dirs(flow),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        let block = "debug-info-directories:\n  - /usr/lib/debug/.build-id\n  # c\n  - '/x y'\nother: 1\n- /no\n";
        assert_eq!(
            parse_config_dirs(block),
            vec![
                PathBuf::from("/usr/lib/debug/.build-id"),
                PathBuf::from("/x y")
            ]
        );
        assert!(parse_config_dirs("aliases: {}\n").is_empty());
    }
}
