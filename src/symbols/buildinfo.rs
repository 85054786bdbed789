//! Go build info from `.go.buildinfo`. OWNER: pclntab engineer.
//!
//! The blob starts with the 14-byte magic `\xff Go buildinf:`, then ptrSize and flags
//! bytes. With flags bit 2 set (Go 1.18+) the Go version and the module info follow
//! the 32-byte header inline as varint-length-prefixed strings; before, the header
//! holds two pointers to Go string headers. Stripped binaries keep the blob, which is
//! why this is the first source of the Go version.

use crate::addr::Addr;
use crate::symbols::Binary;

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: usize = 16;

/// A module of the build (main module or dependency).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    /// The `=>` replacement, if any.
    pub replace: Option<Box<Module>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// As the toolchain wrote it, e.g. "go1.22.10" or "devel go1.27-abc".
    pub go_version: String,
    /// The main package path.
    pub path: String,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `build` lines: (-compiler, gc), (GOOS, linux), (vcs.revision, ...), ...
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    /// The value of a build setting, e.g. `setting("GOARCH")`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// (major, minor, patch) of `go_version`.
    pub fn version_triple(&self) -> Option<(u32, u32, u32)> {
        parse_go_version(&self.go_version)
    }
}

/// Read the build info of `bin`: the `.go.buildinfo` section, or a scan of writable
/// data segments for the magic (16-byte aligned) when there are no section headers.
pub fn read(bin: &Binary) -> Option<BuildInfo> {
    let read_mem = |addr: u64, buf: &mut [u8]| bin.read_vaddr(Addr(addr), buf);
    if let (Some(sec), Some(data)) = (
        bin.section(".go.buildinfo"),
        bin.section_data(".go.buildinfo"),
    ) {
        if let Some(bi) = parse_blob(&data, &read_mem) {
            return Some(bi);
        }
        // The section may start before the aligned blob; fall back to a scan of it.
        if let Some(bi) = scan(&data, sec.addr.get(), &read_mem) {
            return Some(bi);
        }
    }
    let bytes = bin.bytes();
    bin.segments()
        .iter()
        .filter(|s| s.flags & 2 != 0)
        .find_map(|s| {
            let start = usize::try_from(s.offset).ok()?;
            let len = usize::try_from(s.filesz).ok()?;
            let data = bytes.get(start..start.checked_add(len)?)?;
            scan(data, s.vaddr.get(), &read_mem)
        })
}

/// Find and parse the blob in `data` (bytes at link-time address `vaddr`).
pub fn scan(
    data: &[u8],
    vaddr: u64,
    read_mem: &dyn Fn(u64, &mut [u8]) -> bool,
) -> Option<BuildInfo> {
    let mis = (vaddr % ALIGN as u64) as usize;
    let mut off = (ALIGN - mis) % ALIGN;
    while let Some(rest) = data.get(off..) {
        if rest.len() < HEADER_SIZE {
            return None;
        }
        if rest.starts_with(MAGIC) {
            if let Some(bi) = parse_blob(rest, read_mem) {
                return Some(bi);
            }
        }
        off += ALIGN;
    }
    None
}

/// Parse a blob starting at the magic. `read_mem` reads link-time addresses, for the
/// pre-1.18 pointer format.
pub fn parse_blob(blob: &[u8], read_mem: &dyn Fn(u64, &mut [u8]) -> bool) -> Option<BuildInfo> {
    if !blob.starts_with(MAGIC) || blob.len() < HEADER_SIZE {
        return None;
    }
    let ptr_size = *blob.get(14)?;
    let flags = *blob.get(15)?;
    let (vers, modinfo) = if flags & 2 != 0 {
        let rest = blob.get(HEADER_SIZE..)?;
        let (vers, n) = varint_bytes(rest)?;
        let (modinfo, _) = varint_bytes(rest.get(n..)?)?;
        (lossy(vers), lossy(strip_sentinels(modinfo)))
    } else {
        // Big-endian pointer blobs are not produced for the targets we support.
        if flags & 1 != 0 || ptr_size != 8 {
            return None;
        }
        let vp = u64::from_le_bytes(blob.get(16..24)?.try_into().ok()?);
        let mp = u64::from_le_bytes(blob.get(24..32)?.try_into().ok()?);
        let vers = read_go_string(vp, read_mem)?;
        let modinfo = read_go_string(mp, read_mem).unwrap_or_default();
        (lossy(&vers), lossy(strip_sentinels(&modinfo)))
    };
    if !vers.starts_with("go") && !vers.starts_with("devel") {
        return None;
    }
    let mut bi = parse_modinfo(&modinfo);
    bi.go_version = vers;
    Some(bi)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The linker wraps modinfo in two 16-byte binary sentinels; they are not UTF-8, so
/// strip them on bytes (as debug/buildinfo does) before any text conversion.
fn strip_sentinels(b: &[u8]) -> &[u8] {
    if b.len() >= 33 && b.get(b.len() - 17) == Some(&b'\n') {
        b.get(16..b.len() - 16).unwrap_or(b)
    } else {
        b
    }
}

/// A uvarint length then that many bytes; returns them and the bytes consumed.
fn varint_bytes(b: &[u8]) -> Option<(&[u8], usize)> {
    let mut len: u64 = 0;
    let mut shift = 0u32;
    let mut n = 0usize;
    loop {
        let c = *b.get(n)?;
        n += 1;
        if shift > 63 {
            return None;
        }
        len |= u64::from(c & 0x7f) << shift;
        if c & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let len = usize::try_from(len).ok()?;
    let s = b.get(n..n.checked_add(len)?)?;
    Some((s, n + len))
}

/// Read a Go string header (ptr, len) at `addr`, then its bytes.
fn read_go_string(addr: u64, read_mem: &dyn Fn(u64, &mut [u8]) -> bool) -> Option<Vec<u8>> {
    let mut hdr = [0u8; 16];
    if !read_mem(addr, &mut hdr) {
        return None;
    }
    let ptr = u64::from_le_bytes(hdr.get(..8)?.try_into().ok()?);
    let len = u64::from_le_bytes(hdr.get(8..)?.try_into().ok()?);
    // modinfo is small; refuse absurd lengths from garbage.
    if len > 1 << 24 {
        return None;
    }
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    if !read_mem(ptr, &mut buf) {
        return None;
    }
    Some(buf)
}

/// Parse the modinfo text (runtime/debug.BuildInfo.String format), sentinels
/// already stripped.
pub fn parse_modinfo(s: &str) -> BuildInfo {
    let mut bi = BuildInfo::default();
    // Which module the next "=>" line replaces.
    enum Last {
        None,
        Main,
        Dep,
    }
    let mut last = Last::None;
    for line in s.lines() {
        let mut parts = line.split('\t');
        let kind = parts.next().unwrap_or("");
        let fields: Vec<&str> = parts.collect();
        let module = |f: &[&str]| Module {
            path: f.first().copied().unwrap_or("").to_string(),
            version: f.get(1).copied().unwrap_or("").to_string(),
            sum: f.get(2).copied().unwrap_or("").to_string(),
            replace: None,
        };
        match kind {
            "path" => bi.path = fields.first().copied().unwrap_or("").to_string(),
            "mod" => {
                bi.main = Some(module(&fields));
                last = Last::Main;
            }
            "dep" => {
                bi.deps.push(module(&fields));
                last = Last::Dep;
            }
            "=>" => {
                let m = Some(Box::new(module(&fields)));
                match last {
                    Last::Main => {
                        if let Some(main) = bi.main.as_mut() {
                            main.replace = m;
                        }
                    }
                    Last::Dep => {
                        if let Some(d) = bi.deps.last_mut() {
                            d.replace = m;
                        }
                    }
                    Last::None => {}
                }
                last = Last::None;
            }
            "build" => {
                let kv = fields.join("\t");
                if let Some((k, v)) = split_setting(&kv) {
                    bi.settings.push((k, v));
                }
            }
            _ => {}
        }
    }
    bi
}

/// `KEY=VALUE`, where key and value may be Go-quoted strings.
fn split_setting(s: &str) -> Option<(String, String)> {
    let (key, rest) = if s.starts_with('"') {
        let (k, n) = unquote_prefix(s)?;
        (k, s.get(n..)?.strip_prefix('=')?)
    } else {
        let (k, v) = s.split_once('=')?;
        (k.to_string(), v)
    };
    let value = if rest.starts_with('"') {
        unquote_prefix(rest)
            .map(|(v, _)| v)
            .unwrap_or_else(|| rest.to_string())
    } else {
        rest.to_string()
    };
    Some((key, value))
}

/// Decode a Go double-quoted string at the start of `s`; returns it and bytes used.
fn unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' => {
                        let h: String = [chars.next()?.1, chars.next()?.1].iter().collect();
                        out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                    }
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let mut h = String::new();
                        for _ in 0..n {
                            h.push(chars.next()?.1);
                        }
                        out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// (major, minor, patch) from "go1.22.10", "go1.23rc1", "go1.21", "devel go1.27-abc",
/// or "go1.24.0 X:nocoverageredesign". Pre-releases and devel builds count as .0.
pub fn parse_go_version(s: &str) -> Option<(u32, u32, u32)> {
    let s = s.trim();
    let s = s.strip_prefix("devel ").unwrap_or(s);
    let s = s.strip_prefix("go")?;
    let num = |t: &str| -> Option<(u32, usize)> {
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        Some((t.get(..n)?.parse().ok()?, n))
    };
    let (major, n) = num(s)?;
    let rest = s.get(n..)?;
    let Some(rest) = rest.strip_prefix('.') else {
        return Some((major, 0, 0));
    };
    let (minor, n) = num(rest)?;
    let rest = rest.get(n..)?;
    let patch = rest
        .strip_prefix('.')
        .and_then(|r| num(r).map(|(p, _)| p))
        .unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions() {
        assert_eq!(parse_go_version("go1.22.10"), Some((1, 22, 10)));
        assert_eq!(parse_go_version("go1.23rc1"), Some((1, 23, 0)));
        assert_eq!(
            parse_go_version("devel go1.27-abc123 Mon"),
            Some((1, 27, 0))
        );
        assert_eq!(parse_go_version("go1.21"), Some((1, 21, 0)));
        assert_eq!(parse_go_version("go1.24.0 X:foo"), Some((1, 24, 0)));
        assert_eq!(parse_go_version("1.22"), None);
        assert_eq!(parse_go_version("go"), None);
    }

    #[test]
    fn modinfo() {
        let body = "path\texample.com/x\nmod\texample.com/x\t(devel)\t\n\
                    dep\tgolang.org/y\tv1.0.0\th1:abc=\n=>\t../y\t\t\n\
                    build\t-compiler=gc\nbuild\tGOOS=linux\n\
                    build\t-ldflags=\"-s -w\"\n";
        let mut wrapped = vec![0xffu8; 16];
        wrapped.extend_from_slice(body.as_bytes());
        wrapped.extend_from_slice(&[0xf9; 16]);
        let bi = parse_modinfo(&lossy(strip_sentinels(&wrapped)));
        assert_eq!(bi.path, "example.com/x");
        assert_eq!(
            bi.main.as_ref().map(|m| m.version.as_str()),
            Some("(devel)")
        );
        assert_eq!(bi.deps.len(), 1);
        assert_eq!(
            bi.deps
                .first()
                .and_then(|d| d.replace.as_ref())
                .map(|r| r.path.as_str()),
            Some("../y")
        );
        assert_eq!(bi.setting("GOOS"), Some("linux"));
        assert_eq!(bi.setting("-ldflags"), Some("-s -w"));
    }

    #[test]
    fn pointer_blob() {
        // Pre-1.18: header pointers to Go string headers elsewhere in memory.
        let mut blob = Vec::from(&MAGIC[..]);
        blob.extend_from_slice(&[8, 0]);
        blob.extend_from_slice(&0x1000u64.to_le_bytes());
        blob.extend_from_slice(&0x2000u64.to_le_bytes());
        let mut mem = vec![0u8; 0x3000];
        let put = |mem: &mut Vec<u8>, at: usize, b: &[u8]| {
            if let Some(d) = mem.get_mut(at..at + b.len()) {
                d.copy_from_slice(b);
            }
        };
        let vers = b"go1.17.13";
        let mut modinfo = vec![0x30u8; 16];
        modinfo.extend_from_slice(b"path\tcmd/x\nbuild\tGOOS=linux\n");
        modinfo.extend_from_slice(&[0xf9; 16]);
        put(&mut mem, 0x1000, &0x1100u64.to_le_bytes());
        put(&mut mem, 0x1008, &(vers.len() as u64).to_le_bytes());
        put(&mut mem, 0x1100, vers);
        put(&mut mem, 0x2000, &0x2100u64.to_le_bytes());
        put(&mut mem, 0x2008, &(modinfo.len() as u64).to_le_bytes());
        put(&mut mem, 0x2100, &modinfo);
        let read = |addr: u64, buf: &mut [u8]| {
            let a = addr as usize;
            match mem.get(a..a + buf.len()) {
                Some(d) => {
                    buf.copy_from_slice(d);
                    true
                }
                None => false,
            }
        };
        let bi = parse_blob(&blob, &read);
        assert_eq!(
            bi.as_ref().map(|b| b.go_version.as_str()),
            Some("go1.17.13")
        );
        assert_eq!(bi.as_ref().map(|b| b.path.as_str()), Some("cmd/x"));
        assert_eq!(bi.as_ref().and_then(|b| b.setting("GOOS")), Some("linux"));
        // Dangling pointers: no result, no panic.
        assert!(parse_blob(&blob, &|_, _| false).is_none());
    }

    #[test]
    fn inline_blob() {
        let mut blob = Vec::from(&MAGIC[..]);
        blob.extend_from_slice(&[8, 2]);
        blob.resize(32, 0);
        blob.push(9);
        blob.extend_from_slice(b"go1.22.10");
        blob.push(0);
        let bi = parse_blob(&blob, &|_, _| false);
        assert_eq!(bi.map(|b| b.go_version), Some("go1.22.10".to_string()));
        // Truncated string: no panic, no result.
        assert!(parse_blob(blob.get(..36).unwrap_or(&[]), &|_, _| false).is_none());
    }
}
