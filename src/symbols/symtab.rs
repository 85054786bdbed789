//! The binary's symbol table, by address and by name, with names borrowed from the
//! file's string table (ELF `.symtab`/`.dynsym`) or, for PE, from one owned buffer.
//!
//! Read on first use, straight from the mapped bytes: one 24-byte record per symbol,
//! no string per symbol. The table of a 1,000-package binary has 155,000 symbols;
//! goblin's parse into owned strings and a map of them took a fifth of opening it.

use super::name_index::NameIndex;
use crate::addr::Addr;

/// One symbol; the name is borrowed from the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub addr: Addr,
    pub size: u64,
}

/// A symbol before it is stored (PE builds these from COFF records).
#[derive(Debug, Clone)]
pub(crate) struct NewSymbol {
    pub name: String,
    pub addr: Addr,
    pub size: u64,
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    addr: u64,
    size: u64,
    /// Offset of the name in the names bytes, and its length (no NUL).
    name: u32,
    len: u32,
}

/// Where the names live.
enum Names {
    /// A string table in the file: its byte range.
    File {
        start: usize,
        len: usize,
    },
    Owned(Vec<u8>),
}

impl Names {
    fn bytes<'a>(&'a self, file: &'a [u8]) -> &'a [u8] {
        match self {
            Names::File { start, len } => file.get(*start..start + len).unwrap_or(&[]),
            Names::Owned(v) => v,
        }
    }
}

/// Symbols sorted by address (then size), with an index by name.
pub(crate) struct SymbolTable {
    recs: Vec<Rec>,
    names: Names,
    by_name: NameIndex,
}

const STT_SECTION: u8 = 3;
const STT_FILE: u8 = 4;
const SYM_SIZE: usize = 24;

fn rd_u32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}
fn rd_u64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

impl SymbolTable {
    pub(crate) fn empty() -> SymbolTable {
        SymbolTable::finish(Vec::new(), Names::Owned(Vec::new()), &[])
    }

    /// Defined symbols of the ELF64 little-endian symbol table at `syms` (file byte
    /// range) whose names are in the string table at `strs`. Records that point
    /// outside the string table or whose names are not UTF-8 are skipped; a table
    /// that runs past the file is read up to the file's end.
    pub(crate) fn from_elf(file: &[u8], syms: (usize, usize), strs: (usize, usize)) -> SymbolTable {
        let strtab = strs
            .0
            .checked_add(strs.1)
            .and_then(|e| file.get(strs.0..e))
            .unwrap_or(&[]);
        let table = file
            .get(syms.0..syms.0.saturating_add(syms.1).min(file.len()))
            .unwrap_or(&[]);
        let mut recs = Vec::with_capacity(table.len() / SYM_SIZE);
        for r in table.chunks_exact(SYM_SIZE) {
            let (Some(name), Some(info), Some(shndx), Some(value), Some(size)) = (
                rd_u32(r, 0),
                r.get(4),
                r.get(6..8),
                rd_u64(r, 8),
                rd_u64(r, 16),
            ) else {
                continue;
            };
            let ty = info & 0xf;
            if value == 0 || shndx == [0, 0] || ty == STT_SECTION || ty == STT_FILE {
                continue;
            }
            let Some(rest) = strtab.get(name as usize..) else {
                continue;
            };
            let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let Some(bytes) = rest.get(..len) else {
                continue;
            };
            if len == 0 || std::str::from_utf8(bytes).is_err() {
                continue;
            }
            let Ok(len) = u32::try_from(len) else {
                continue;
            };
            recs.push(Rec {
                addr: value,
                size,
                name,
                len,
            });
        }
        let names = Names::File {
            start: strs.0,
            len: strtab.len(),
        };
        SymbolTable::finish(recs, names, file)
    }

    /// A table of symbols made elsewhere (PE's COFF symbols).
    pub(crate) fn from_owned(list: Vec<NewSymbol>) -> SymbolTable {
        let mut names = Vec::new();
        let mut recs = Vec::with_capacity(list.len());
        for s in list {
            let (Ok(name), Ok(len)) = (u32::try_from(names.len()), u32::try_from(s.name.len()))
            else {
                break;
            };
            if len == 0 {
                continue;
            }
            names.extend_from_slice(s.name.as_bytes());
            recs.push(Rec {
                addr: s.addr.get(),
                size: s.size,
                name,
                len,
            });
        }
        SymbolTable::finish(recs, Names::Owned(names), &[])
    }

    fn finish(mut recs: Vec<Rec>, names: Names, file: &[u8]) -> SymbolTable {
        // Stable: among equal (address, size) the table's own order stays.
        recs.sort_by_key(|r| (r.addr, r.size));
        let bytes = names.bytes(file);
        let by_name = NameIndex::build(recs.len(), |i| name_bytes(bytes, recs.get(i)?));
        SymbolTable {
            recs,
            names,
            by_name,
        }
    }

    /// The view that resolves names; `file` is the binary's bytes.
    pub(crate) fn view<'a>(&'a self, file: &'a [u8]) -> Symbols<'a> {
        Symbols {
            t: self,
            names: self.names.bytes(file),
        }
    }
}

fn name_bytes<'a>(names: &'a [u8], r: &Rec) -> Option<&'a [u8]> {
    let s = r.name as usize;
    names.get(s..s + r.len as usize)
}

/// The binary's symbols, sorted by address (then size).
#[derive(Clone, Copy)]
pub struct Symbols<'a> {
    t: &'a SymbolTable,
    names: &'a [u8],
}

impl<'a> Symbols<'a> {
    pub fn len(&self) -> usize {
        self.t.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.recs.is_empty()
    }

    /// The i-th symbol in address order.
    pub fn get(&self, i: usize) -> Option<Symbol<'a>> {
        let r = self.t.recs.get(i)?;
        // Validated as UTF-8 when the table was read.
        let name = std::str::from_utf8(name_bytes(self.names, r)?).ok()?;
        Some(Symbol {
            name,
            addr: Addr(r.addr),
            size: r.size,
        })
    }

    /// How many symbols start at or below `addr`.
    pub fn count_upto(&self, addr: Addr) -> usize {
        self.t.recs.partition_point(|r| r.addr <= addr.get())
    }

    /// The symbol named `name` (the lowest-addressed one when several share it).
    pub fn by_name(&self, name: &str) -> Option<Symbol<'a>> {
        let recs = &self.t.recs;
        let names = self.names;
        let i = self
            .t
            .by_name
            .find(name.as_bytes(), |i| name_bytes(names, recs.get(i)?))?;
        self.get(i)
    }

    /// The symbol containing `addr` (a sized symbol covering it, or a zero-sized one at
    /// exactly `addr`), looking back `window` symbols (several can share an address).
    pub fn covering(&self, addr: Addr, window: usize) -> impl Iterator<Item = Symbol<'a>> + 'a {
        let end = self.count_upto(addr);
        let me = *self;
        (end.saturating_sub(window)..end)
            .rev()
            .filter_map(move |i| me.get(i))
            .filter(move |s| {
                if s.size == 0 {
                    s.addr == addr
                } else {
                    addr.get()
                        .checked_sub(s.addr.get())
                        .is_some_and(|d| d < s.size)
                }
            })
    }

    pub fn iter(&self) -> impl Iterator<Item = Symbol<'a>> + 'a {
        let me = *self;
        (0..self.len()).filter_map(move |i| me.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF symbol record.
    fn sym(name: u32, info: u8, shndx: u16, value: u64, size: u64) -> Vec<u8> {
        let mut r = Vec::with_capacity(SYM_SIZE);
        r.extend_from_slice(&name.to_le_bytes());
        r.push(info);
        r.push(0);
        r.extend_from_slice(&shndx.to_le_bytes());
        r.extend_from_slice(&value.to_le_bytes());
        r.extend_from_slice(&size.to_le_bytes());
        r
    }

    #[test]
    fn elf_records_are_filtered_sorted_and_found_by_name_and_address() {
        let strtab = b"\0main.main\0runtime.allgs\0dup\0file.go\0\xff\xfe\0".to_vec();
        let mut table = Vec::new();
        table.extend(sym(0, 0, 0, 0, 0)); // the null symbol
        table.extend(sym(11, 1, 5, 0x5000, 8)); // runtime.allgs (object)
        table.extend(sym(1, 2, 1, 0x1000, 0x40)); // main.main (func)
        table.extend(sym(25, 2, 1, 0x2000, 0)); // dup at 0x2000
        table.extend(sym(25, 2, 1, 0x1800, 0)); // dup at 0x1800: the lower one wins
        table.extend(sym(29, STT_FILE, 0xfff1, 0x10, 0)); // file symbol: skipped
        table.extend(sym(1, STT_SECTION, 1, 0x1000, 0)); // section symbol: skipped
        table.extend(sym(1, 2, 0, 0x3000, 0)); // undefined: skipped
        table.extend(sym(37, 2, 1, 0x4000, 0)); // not UTF-8: skipped
        table.extend(sym(9999, 2, 1, 0x4100, 0)); // name outside the table: skipped
        let mut file = vec![0u8; 64];
        let syms = (file.len(), table.len() + 7); // runs past the end: read what is there
        file.extend(&table);
        let strs = (file.len(), strtab.len());
        file.extend(&strtab);
        let t = SymbolTable::from_elf(&file, syms, strs);
        let v = t.view(&file);
        let all: Vec<(&str, u64)> = v.iter().map(|s| (s.name, s.addr.get())).collect();
        assert_eq!(
            all,
            [
                ("main.main", 0x1000),
                ("dup", 0x1800),
                ("dup", 0x2000),
                ("runtime.allgs", 0x5000)
            ]
        );
        assert_eq!(v.by_name("dup").map(|s| s.addr), Some(Addr(0x1800)));
        assert_eq!(v.by_name("runtime.allgs").map(|s| s.size), Some(8));
        assert_eq!(v.by_name("file.go"), None);
        let at = |a: u64| v.covering(Addr(a), 16).next().map(|s| s.name);
        assert_eq!(at(0x1000), Some("main.main"));
        assert_eq!(at(0x103f), Some("main.main"));
        assert_eq!(at(0x1040), None);
        assert_eq!(at(0x1800), Some("dup"));
        assert_eq!(at(0x5007), Some("runtime.allgs"));
        // Every truncation reads without panicking.
        for n in 0..file.len() {
            let t = SymbolTable::from_elf(&file[..n], syms, strs);
            assert!(t.view(&file[..n]).len() <= 4);
        }
    }

    #[test]
    fn owned_symbols_keep_their_names() {
        let t = SymbolTable::from_owned(vec![
            NewSymbol {
                name: "b".into(),
                addr: Addr(0x20),
                size: 4,
            },
            NewSymbol {
                name: String::new(),
                addr: Addr(0x30),
                size: 4,
            },
            NewSymbol {
                name: "a".into(),
                addr: Addr(0x10),
                size: 4,
            },
        ]);
        let v = t.view(&[]);
        assert_eq!(v.len(), 2);
        assert_eq!(v.get(0).map(|s| s.name), Some("a"));
        assert_eq!(v.by_name("b").map(|s| s.addr), Some(Addr(0x20)));
        assert!(SymbolTable::empty().view(&[]).is_empty());
    }
}
