//! The Linux streams Breakpad, Crashpad and minidump-writer add: copies of
//! /proc/PID/maps, auxv, status, cmdline and environ, parsed by hand (they are plain
//! text or words; garbage gives fewer entries, never a panic).

use super::super::notes::le_u64;
use super::super::MappedFile;
use super::MapRange;
use crate::addr::Addr;
use std::path::PathBuf;

/// auxv: (type, value) pairs of u64 up to AT_NULL.
pub fn parse_auxv(d: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while let (Some(k), Some(v)) = (le_u64(d, off), le_u64(d, off.saturating_add(8))) {
        if k == 0 {
            break;
        }
        out.push((k, v));
        off += 16;
    }
    out
}

/// /proc/PID/maps: the file-backed mappings, and every mapping's protections.
pub fn parse_maps(d: &[u8]) -> (Vec<MappedFile>, Vec<MapRange>) {
    let text = String::from_utf8_lossy(d);
    let mut files = Vec::new();
    let mut maps = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(range), Some(perms), Some(offset)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(offset)) = (
            u64::from_str_radix(a, 16),
            u64::from_str_radix(b, 16),
            u64::from_str_radix(offset, 16),
        ) else {
            continue;
        };
        if end <= start {
            continue;
        }
        let p = perms.as_bytes();
        maps.push(MapRange {
            start,
            end,
            readable: p.first() == Some(&b'r'),
            writable: p.get(1) == Some(&b'w'),
        });
        // dev, inode, then the path (which may contain spaces).
        let path: Vec<&str> = it.skip(2).collect();
        let path = path.join(" ");
        if path.starts_with('/') {
            files.push(MappedFile {
                start: Addr(start),
                end: Addr(end),
                file_offset: offset,
                path: PathBuf::from(path.trim_end_matches(" (deleted)")),
            });
        }
    }
    (files, maps)
}

/// What /proc/PID/status says that coroner uses.
#[derive(Debug, Default)]
pub struct Status {
    pub name: Option<String>,
    pub pid: Option<i32>,
}

pub fn parse_status(d: &[u8]) -> Status {
    let text = String::from_utf8_lossy(d);
    let mut s = Status::default();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            s.name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Pid:") {
            s.pid = v.trim().parse().ok();
        }
    }
    s
}

/// cmdline and environ: NUL-separated strings.
pub fn nul_separated(d: &[u8]) -> Vec<String> {
    d.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_status_auxv_and_strings() {
        let maps = b"00400000-0048c000 r-xp 00000000 fe:00 10248883   /tmp/md/live 1\n\
c000000000-c000400000 rw-p 00000000 00:00 0 \n\
garbage line\n\
7ffc458e1000-7ffc45902000 rw-p 00000000 00:00 0                          [stack]\n";
        let (files, ranges) = parse_maps(maps);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, PathBuf::from("/tmp/md/live 1"));
        assert_eq!(ranges.len(), 3);
        assert!(ranges[1].writable && ranges[1].readable);
        assert!(!ranges[0].writable);
        let st = parse_status(b"Name:\tlive\nUmask:\t0022\nPid:\t4242\n");
        assert_eq!(st.name.as_deref(), Some("live"));
        assert_eq!(st.pid, Some(4242));
        let mut auxv = Vec::new();
        for x in [9u64, 0x401000, 6, 4096, 0, 0, 7, 7] {
            auxv.extend_from_slice(&x.to_le_bytes());
        }
        assert_eq!(parse_auxv(&auxv), vec![(9, 0x401000), (6, 4096)]);
        assert_eq!(parse_auxv(&auxv[..20]), vec![(9, 0x401000)]);
        assert_eq!(
            nul_separated(b"./live\0service\0"),
            vec!["./live", "service"]
        );
    }
}
