//! Where each register sits in the stub's `g` packet and what it is called there:
//! from `target.xml` (following `<xi:include>`), from lldb-server's `qRegisterInfoN`,
//! or, when the stub offers neither, the amd64 layout GNU gdbserver uses.

use crate::snapshot::Registers;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegInfo {
    pub name: String,
    /// The number `p`/`P` and expedited stop-reply registers use.
    pub regnum: u32,
    pub bits: u32,
    /// Byte offset in the `g` reply.
    pub offset: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegMap {
    pub regs: Vec<RegInfo>,
    /// Where the map came from, for `describe` and notes.
    pub source: &'static str,
}

impl RegMap {
    pub fn by_name(&self, name: &str) -> Option<&RegInfo> {
        self.regs.iter().find(|r| r.name == name)
    }
    pub fn by_num(&self, n: u32) -> Option<&RegInfo> {
        self.regs.iter().find(|r| r.regnum == n)
    }

    /// Give registers without an explicit offset their place in `g`: regnum order,
    /// each as wide as its bit size (what GDB assumes for target.xml stubs).
    fn assign_offsets(&mut self) {
        self.regs.sort_by_key(|r| r.regnum);
        let mut off = 0;
        for r in &mut self.regs {
            r.offset = off;
            off += (r.bits as usize).div_ceil(8);
        }
    }

    /// GNU gdbserver's amd64 GNU/Linux description (amd64-linux: core, sse, linux,
    /// segments), used when the stub describes nothing.
    pub fn builtin_amd64() -> RegMap {
        let mut regs = Vec::new();
        let mut n = 0u32;
        let mut add = |name: &str, bits: u32| {
            regs.push(RegInfo {
                name: name.to_string(),
                regnum: n,
                bits,
                offset: 0,
            });
            n += 1;
        };
        for r in [
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
            "r12", "r13", "r14", "r15", "rip",
        ] {
            add(r, 64);
        }
        for r in ["eflags", "cs", "ss", "ds", "es", "fs", "gs"] {
            add(r, 32);
        }
        for i in 0..8 {
            add(&format!("st{i}"), 80);
        }
        for r in [
            "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
        ] {
            add(r, 32);
        }
        for i in 0..16 {
            add(&format!("xmm{i}"), 128);
        }
        add("mxcsr", 32);
        add("orig_rax", 64);
        add("fs_base", 64);
        add("gs_base", 64);
        let mut m = RegMap {
            regs,
            source: "built-in amd64 layout",
        };
        m.assign_offsets();
        m
    }

    /// Parse target.xml. `fetch` returns the text of an included file by name.
    pub fn from_target_xml(
        xml: &str,
        fetch: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Option<RegMap> {
        let mut regs = Vec::new();
        let mut next = 0u32;
        collect_xml(xml, fetch, &mut regs, &mut next, 0);
        if regs.is_empty() {
            return None;
        }
        let mut m = RegMap {
            regs,
            source: "target.xml",
        };
        m.assign_offsets();
        Some(m)
    }

    /// Parse lldb-server's `qRegisterInfoN` replies, in order.
    pub fn from_register_info(replies: &[String]) -> Option<RegMap> {
        let mut regs = Vec::new();
        for (i, r) in replies.iter().enumerate() {
            let mut info = RegInfo {
                name: String::new(),
                regnum: i as u32,
                bits: 0,
                offset: usize::MAX,
            };
            for kv in r.split(';') {
                let Some((k, v)) = kv.split_once(':') else {
                    continue;
                };
                match k {
                    "name" => info.name = v.to_string(),
                    "bitsize" => info.bits = v.parse().unwrap_or(0),
                    "offset" => info.offset = v.parse().unwrap_or(usize::MAX),
                    _ => {}
                }
            }
            if info.name.is_empty() || info.bits == 0 {
                return None;
            }
            regs.push(info);
        }
        if regs.is_empty() {
            return None;
        }
        let mut m = RegMap {
            regs,
            source: "qRegisterInfo",
        };
        if m.regs.iter().any(|r| r.offset == usize::MAX) {
            m.assign_offsets();
        }
        Some(m)
    }

    /// The general-purpose registers from a `g` reply, plus registers fetched one by
    /// one (`extra`, by regnum) for those past the end of `g`.
    pub fn decode(&self, g: &[u8], extra: &[(u32, Vec<u8>)]) -> Registers {
        let mut out = Registers::default();
        for r in &self.regs {
            let Some(slot) = field(&mut out, &r.name) else {
                continue;
            };
            let n = (r.bits as usize).div_ceil(8).min(8);
            let bytes = match extra.iter().find(|(num, _)| *num == r.regnum) {
                Some((_, v)) => v.get(..n),
                None => g.get(r.offset..r.offset + n),
            };
            if let Some(b) = bytes {
                let mut w = [0u8; 8];
                w[..b.len()].copy_from_slice(b);
                *slot = u64::from_le_bytes(w);
            }
        }
        out
    }

    /// The registers we map that a `g` reply of `g_len` bytes does not contain.
    pub fn missing_from_g(&self, g_len: usize) -> Vec<&RegInfo> {
        self.regs
            .iter()
            .filter(|r| GPR_NAMES.contains(&r.name.as_str()))
            .filter(|r| r.offset + (r.bits as usize).div_ceil(8) > g_len)
            .collect()
    }

    /// Value of register `name` in `regs`, little-endian, `bits` wide.
    pub fn encode(&self, r: &RegInfo, regs: &Registers) -> Option<Vec<u8>> {
        let mut copy = regs.clone();
        let v = *field(&mut copy, &r.name)?;
        let n = (r.bits as usize).div_ceil(8);
        let mut b = v.to_le_bytes().to_vec();
        b.resize(n, 0);
        Some(b)
    }
}

/// Names of the registers [`Registers`] holds, as GDB calls them.
pub const GPR_NAMES: &[&str] = &[
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "orig_rax", "fs_base",
    "gs_base",
];

fn field<'a>(r: &'a mut Registers, name: &str) -> Option<&'a mut u64> {
    r.by_name_mut(name)
}

/// Value of attribute `name` in one tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before_ok = i == 0 || rest[..i].ends_with(|c: char| c.is_whitespace());
        let after = rest[i + name.len()..].trim_start();
        if before_ok {
            if let Some(after) = after.strip_prefix('=') {
                let after = after.trim_start();
                let q = after.chars().next()?;
                if q == '"' || q == '\'' {
                    let body = &after[1..];
                    return body.find(q).map(|e| &body[..e]);
                }
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

/// Walk the tags of one document in order: `<reg>` adds a register, `<xi:include>`
/// recurses into the named document (depth-limited: a stub could loop).
fn collect_xml(
    xml: &str,
    fetch: &mut dyn FnMut(&str) -> Option<String>,
    regs: &mut Vec<RegInfo>,
    next: &mut u32,
    depth: u32,
) {
    if depth > 8 {
        return;
    }
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        // A comment may hold tags (QEMU's i386-64bit.xml comments out ss_base,
        // ds_base and es_base): counting them would shift every later register.
        if let Some(comment) = rest[start..].strip_prefix("<!--") {
            match comment.find("-->") {
                Some(e) => {
                    rest = &comment[e + 3..];
                    continue;
                }
                None => return,
            }
        }
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            return;
        };
        let tag = &after[..end];
        rest = &after[end + 1..];
        if let Some(t) = tag.strip_prefix("reg") {
            if !t.starts_with(char::is_whitespace) {
                continue;
            }
            let (Some(name), Some(bits)) = (attr(t, "name"), attr(t, "bitsize")) else {
                continue;
            };
            let Ok(bits) = bits.parse::<u32>() else {
                continue;
            };
            let regnum = attr(t, "regnum")
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(*next);
            *next = regnum.saturating_add(1);
            regs.push(RegInfo {
                name: name.to_string(),
                regnum,
                bits,
                offset: 0,
            });
        } else if let Some(t) = tag.strip_prefix("xi:include") {
            if let Some(href) = attr(t, "href") {
                if let Some(doc) = fetch(href) {
                    collect_xml(&doc, fetch, regs, next, depth + 1);
                }
            }
        }
    }
}
