//! Reading `/proc/PID/*`: maps, auxv, comm and cmdline, status fields, task lists.
//! These are read at attach, at exec and lazily per snapshot, never per breakpoint hit.

use crate::addr::Addr;
use crate::snapshot::{MappedFile, ProcessInfo};
use std::path::PathBuf;

/// One line of /proc/PID/maps.
#[derive(Debug, Clone)]
pub struct MapLine {
    pub start: u64,
    pub end: u64,
    pub readable: bool,
    pub offset: u64,
    pub path: String,
}

pub fn maps(pid: i32) -> std::io::Result<Vec<MapLine>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    Ok(text.lines().filter_map(parse_map_line).collect())
}

fn parse_map_line(line: &str) -> Option<MapLine> {
    let mut it = line.splitn(6, ' ');
    let range = it.next()?;
    let perms = it.next()?;
    let offset = u64::from_str_radix(it.next()?, 16).ok()?;
    let _dev = it.next()?;
    let _inode = it.next()?;
    let path = it.next().unwrap_or("").trim_start().to_string();
    let (s, e) = range.split_once('-')?;
    Some(MapLine {
        start: u64::from_str_radix(s, 16).ok()?,
        end: u64::from_str_radix(e, 16).ok()?,
        readable: perms.starts_with('r'),
        offset,
        path,
    })
}

/// Files mapped from disk (paths starting with '/'), as the snapshot reports them.
pub fn mapped_files(lines: &[MapLine]) -> Vec<MappedFile> {
    lines
        .iter()
        .filter(|l| l.path.starts_with('/'))
        .map(|l| MappedFile {
            start: Addr(l.start),
            end: Addr(l.end),
            file_offset: l.offset,
            // The kernel appends " (deleted)" for unlinked files; keep the path usable.
            path: PathBuf::from(l.path.trim_end_matches(" (deleted)")),
        })
        .collect()
}

/// Readable regions, sorted and with adjacent ranges merged.
pub fn regions(lines: &[MapLine]) -> Vec<(Addr, Addr)> {
    let mut v: Vec<(u64, u64)> = lines
        .iter()
        // [vvar] is readable in maps but faults on read through /proc/PID/mem.
        .filter(|l| l.readable && l.path != "[vvar]" && l.path != "[vvar_vclock]")
        .map(|l| (l.start, l.end))
        .collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => out.push((s, e)),
        }
    }
    out.into_iter().map(|(s, e)| (Addr(s), Addr(e))).collect()
}

pub fn auxv(pid: i32) -> std::io::Result<Vec<(u64, u64)>> {
    let bytes = std::fs::read(format!("/proc/{pid}/auxv"))?;
    let mut out = Vec::new();
    for pair in bytes.chunks_exact(16) {
        let mut k = [0u8; 8];
        let mut v = [0u8; 8];
        k.copy_from_slice(&pair[..8]);
        v.copy_from_slice(&pair[8..]);
        let (k, v) = (u64::from_le_bytes(k), u64::from_le_bytes(v));
        if k == 0 {
            break;
        }
        out.push((k, v));
    }
    Ok(out)
}

pub fn process_info(pid: i32) -> ProcessInfo {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default();
    let args = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    ProcessInfo { pid, name, args }
}

/// A field of /proc/PID/status (e.g. "TracerPid", "State", "Uid").
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field_of(&text, field)
}

pub fn status_field_of(text: &str, field: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == field).then(|| v.trim().to_string())
    })
}

pub fn tracer_pid(pid: i32) -> Option<i32> {
    status_field(pid, "TracerPid")?.parse().ok()
}

/// The first letter of the State field: R, S, D, T, t, Z, ...
pub fn state(pid: i32) -> Option<char> {
    status_field(pid, "State")?.chars().next()
}

pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".to_string())
}

/// Whether thread `tid` of `pid` still exists (running, stopped or a zombie not yet
/// reaped).
pub fn task_exists(pid: i32, tid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}/task/{tid}")).exists()
}

pub fn tasks(pid: i32) -> std::io::Result<Vec<i32>> {
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

/// Whether a SIGSTOP is queued for the process (its shared set) or for any of its
/// threads: the `ShdPnd`/`SigPnd` hex masks of `/proc/PID/task/TID/status`.
pub fn stop_pending(pid: i32) -> bool {
    let bit = 1u64 << (libc::SIGSTOP - 1);
    let has = |text: &str, field: &str| {
        status_field_of(text, field)
            .and_then(|m| u64::from_str_radix(&m, 16).ok())
            .is_some_and(|m| m & bit != 0)
    };
    tasks(pid).unwrap_or_default().into_iter().any(|tid| {
        std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
            .is_ok_and(|t| has(&t, "ShdPnd") || has(&t, "SigPnd"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let l = parse_map_line(
            "00400000-00452000 r-xp 00001000 08:02 173521      /usr/bin/dbus-daemon",
        )
        .unwrap();
        assert_eq!((l.start, l.end, l.offset), (0x400000, 0x452000, 0x1000));
        assert!(l.readable);
        assert_eq!(l.path, "/usr/bin/dbus-daemon");
        let anon = parse_map_line("7ffd1000-7ffd2000 ---p 00000000 00:00 0").unwrap();
        assert!(!anon.readable);
        assert_eq!(anon.path, "");
    }

    #[test]
    fn merges_adjacent_regions() {
        let lines = vec![
            MapLine {
                start: 0x2000,
                end: 0x3000,
                readable: true,
                offset: 0,
                path: String::new(),
            },
            MapLine {
                start: 0x1000,
                end: 0x2000,
                readable: true,
                offset: 0,
                path: String::new(),
            },
            MapLine {
                start: 0x5000,
                end: 0x6000,
                readable: false,
                offset: 0,
                path: String::new(),
            },
        ];
        assert_eq!(regions(&lines), vec![(Addr(0x1000), Addr(0x3000))]);
    }
}
