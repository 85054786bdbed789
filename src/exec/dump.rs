//! `dump FILE`: write an ELF core of the stopped process that coroner, gdb and Delve
//! read: one NT_PRSTATUS per thread (the registers as the kernel would save them),
//! NT_PRPSINFO, NT_AUXV and NT_FILE notes, and a PT_LOAD segment with the contents of
//! every readable mapping. Breakpoints are already hidden by the snapshot, so the core
//! holds the program's own code bytes.

use crate::addr::Addr;
use crate::snapshot::{Registers, Snapshot};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x4649_4c45;
const PAGE: u64 = 4096;
/// Bytes copied per read of process memory.
const CHUNK: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot write {0}: {1}")]
    Io(String, std::io::Error),
}

/// What `dump` wrote.
#[derive(Debug, Clone, Default)]
pub struct DumpStats {
    pub threads: usize,
    pub segments: usize,
    pub bytes: u64,
    /// Bytes of mappings that could not be read (written as zeros).
    pub unreadable: u64,
}

fn user_regs(r: &Registers) -> [u64; 27] {
    [
        r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx,
        r.rsi, r.rdi, r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds,
        r.es, r.fs, r.gs,
    ]
}

fn note(out: &mut Vec<u8>, ty: u32, desc: &[u8]) {
    let name = b"CORE\0";
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(name);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(desc);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn notes(snap: &dyn Snapshot, pid: u32) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let threads = snap.threads();
    for t in threads {
        // struct elf_prstatus (x86_64): siginfo 12, cursig 2 + pad 2, sigpend 8,
        // sighold 8, pid/ppid/pgrp/sid 16, four timevals 64, pr_reg 216, fpvalid 4 + 4.
        let mut d = vec![0u8; 336];
        d[12..14].copy_from_slice(&(t.signal as u16).to_le_bytes());
        d[32..36].copy_from_slice(&t.tid.to_le_bytes());
        d[40..44].copy_from_slice(&pid.to_le_bytes());
        for (i, w) in user_regs(&t.regs).iter().enumerate() {
            let o = 112 + 8 * i;
            d[o..o + 8].copy_from_slice(&w.to_le_bytes());
        }
        note(&mut out, NT_PRSTATUS, &d);
    }
    // struct elf_prpsinfo: state, sname, zomb, nice, pad, flag 8, uid, gid, pid, ppid,
    // pgrp, sid, fname[16], psargs[80].
    let mut p = vec![0u8; 136];
    p[1] = b'R';
    p[24..28].copy_from_slice(&pid.to_le_bytes());
    if let Some(info) = snap.process() {
        let name = info.name.as_bytes();
        let n = name.len().min(15);
        p[40..40 + n].copy_from_slice(&name[..n]);
        let args = info.args.as_bytes();
        let n = args.len().min(79);
        p[56..56 + n].copy_from_slice(&args[..n]);
    }
    note(&mut out, NT_PRPSINFO, &p);
    let mut a = Vec::new();
    for (k, v) in snap.auxv() {
        a.extend_from_slice(&k.to_le_bytes());
        a.extend_from_slice(&v.to_le_bytes());
    }
    if !a.is_empty() {
        note(&mut out, NT_AUXV, &a);
    }
    let files = snap.mapped_files();
    if !files.is_empty() {
        let mut f = Vec::new();
        f.extend_from_slice(&(files.len() as u64).to_le_bytes());
        f.extend_from_slice(&PAGE.to_le_bytes());
        for m in files {
            f.extend_from_slice(&m.start.get().to_le_bytes());
            f.extend_from_slice(&m.end.get().to_le_bytes());
            f.extend_from_slice(&(m.file_offset / PAGE).to_le_bytes());
        }
        for m in files {
            f.extend_from_slice(m.path.to_string_lossy().as_bytes());
            f.push(0);
        }
        note(&mut out, NT_FILE, &f);
    }
    (out, threads.len())
}

/// Write the core. Mappings that cannot be read at all (e.g. `[vvar]`) are left out;
/// pages that fail inside a readable mapping are written as zeros and counted.
pub fn write_core(snap: &dyn Snapshot, pid: u32, path: &Path) -> Result<DumpStats, DumpError> {
    let io = |e: std::io::Error| DumpError::Io(path.display().to_string(), e);
    let mut regions: Vec<(Addr, Addr)> = Vec::new();
    let mut probe = [0u8; 1];
    for (lo, hi) in snap.regions() {
        if hi > lo && snap.read(lo, &mut probe).is_ok() {
            regions.push((lo, hi));
        }
    }
    let (note_bytes, threads) = notes(snap, pid);
    let phnum = 1 + regions.len();
    let headers = 64 + 56 * phnum as u64;
    let mut data_off = headers + note_bytes.len() as u64;
    data_off = data_off.div_ceil(PAGE) * PAGE;

    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(CHUNK, file);
    // ELF header.
    let mut eh = vec![0u8; 64];
    eh[..4].copy_from_slice(b"\x7fELF");
    eh[4] = 2; // 64-bit
    eh[5] = 1; // little endian
    eh[6] = 1; // version
    eh[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    eh[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    eh[20..24].copy_from_slice(&1u32.to_le_bytes());
    eh[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    eh[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    eh[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    eh[56..58].copy_from_slice(&(phnum.min(0xffff) as u16).to_le_bytes());
    w.write_all(&eh).map_err(io)?;
    let ph = |ty: u32, flags: u32, off: u64, vaddr: u64, size: u64, align: u64| {
        let mut p = vec![0u8; 56];
        p[0..4].copy_from_slice(&ty.to_le_bytes());
        p[4..8].copy_from_slice(&flags.to_le_bytes());
        p[8..16].copy_from_slice(&off.to_le_bytes());
        p[16..24].copy_from_slice(&vaddr.to_le_bytes());
        p[32..40].copy_from_slice(&size.to_le_bytes());
        p[40..48].copy_from_slice(&size.to_le_bytes());
        p[48..56].copy_from_slice(&align.to_le_bytes());
        p
    };
    w.write_all(&ph(PT_NOTE, 4, headers, 0, note_bytes.len() as u64, 4))
        .map_err(io)?;
    let mut off = data_off;
    for (lo, hi) in &regions {
        let size = hi.get() - lo.get();
        // Readable and writable: the snapshot does not say, and readers only need R.
        w.write_all(&ph(PT_LOAD, 4 | 2, off, lo.get(), size, PAGE))
            .map_err(io)?;
        off += size;
    }
    w.write_all(&note_bytes).map_err(io)?;
    w.seek(SeekFrom::Start(data_off)).map_err(io)?;
    let mut stats = DumpStats {
        threads,
        segments: regions.len(),
        ..Default::default()
    };
    let mut buf = vec![0u8; CHUNK];
    for (lo, hi) in &regions {
        let mut a = lo.get();
        while a < hi.get() {
            let n = ((hi.get() - a) as usize).min(CHUNK);
            let chunk = &mut buf[..n];
            if snap.read(Addr(a), chunk).is_err() {
                // Page by page, so one bad page costs only itself.
                for (i, page) in chunk.chunks_mut(PAGE as usize).enumerate() {
                    let pa = a + (i as u64) * PAGE;
                    if snap.read(Addr(pa), page).is_err() {
                        page.fill(0);
                        stats.unreadable += page.len() as u64;
                    }
                }
            }
            w.write_all(chunk).map_err(io)?;
            stats.bytes += n as u64;
            a += n as u64;
        }
    }
    w.flush().map_err(io)?;
    Ok(stats)
}
