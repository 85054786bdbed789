//! Software breakpoints: an `int3` (0xCC) over the first byte of an instruction, with
//! the original byte kept so reads can hide it and removal can restore it.
//!
//! The table is behind an `Arc<Mutex<_>>` only so `emergency_cleanup` can restore the
//! original bytes from another thread (through `/proc/PID/mem`, which any thread of the
//! tracer process may write); the tracer thread is its only other user.

use super::sys::Errno;
use crate::backend::BackendError;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

pub const INT3: u8 = 0xCC;

#[derive(Default)]
pub struct Table {
    /// address -> original byte.
    pub inserted: BTreeMap<u64, u8>,
    /// Addresses that held a breakpoint and no longer do. A thread that executed the
    /// 0xCC just before its removal may report the SIGTRAP only later (its interrupt
    /// stop came first); that trap is a lost hit to rewind, never a signal to deliver.
    pub removed: BTreeSet<u64>,
    /// The displaced-stepping area (see `displaced.rs`) and the bytes it covered, once
    /// it has been written: restored with the breakpoints.
    pub scratch: Option<(u64, Vec<u8>)>,
    /// Which breakpoint's instruction the scratch area holds now.
    pub scratch_holds: Option<u64>,
    /// Breakpoints whose instruction is overwritten by a `jmp` to a condition pad
    /// (`condpad.rs`) instead of an `int3`, by address. Each is also in `inserted`,
    /// with its first original byte.
    pub jumps: BTreeMap<u64, Jump>,
    /// The int3 of every condition pad's true path (`condpad.rs`): made nops when
    /// everything is restored, in case a thread is about to run one when we let go.
    pub pad_traps: Vec<u64>,
    /// Holes whose jump is gone but whose `jmp` stays until every thread is stopped
    /// and none is on it (`Tracee::settle_holes`): a thread that took the short jump
    /// just before it went must still find its way, not an int3. (hole, breakpoint
    /// address, the hole's own bytes.)
    pub stale_holes: Vec<(u64, u64, Vec<u8>)>,
}

/// The bytes a condition jump changed.
#[derive(Debug, Clone)]
pub struct Jump {
    /// The program's bytes at the breakpoint, and the `jmp` over them.
    pub orig: Vec<u8>,
    pub patch: Vec<u8>,
    /// A hole the short `jmp` goes to: its address, its own bytes, the `jmp` in it.
    pub hole: Option<(u64, Vec<u8>, Vec<u8>)>,
}

impl Jump {
    fn overlaps(&self, pc: u64, lo: u64, hi: u64) -> bool {
        let cut = |a: u64, n: usize| a < hi && lo < a + n as u64;
        cut(pc, self.patch.len()) || self.hole.as_ref().is_some_and(|(h, b, _)| cut(*h, b.len()))
    }
}

pub type Shared = Arc<Mutex<Table>>;

pub fn lock(t: &Shared) -> MutexGuard<'_, Table> {
    // A panic while holding the lock leaves the table itself consistent (every update
    // is a single map operation), so recover it rather than propagate the poison.
    t.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn write_at(mem: &File, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
    match mem.write_at(bytes, addr) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(Errno(libc::EIO)),
        Err(e) => Err(Errno(e.raw_os_error().unwrap_or(libc::EIO))),
    }
}

pub fn read_at(mem: &File, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    match mem.read_at(buf, addr) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(_) => Err(Errno(libc::EIO)),
        Err(e) => Err(Errno(e.raw_os_error().unwrap_or(libc::EIO))),
    }
}

impl Table {
    pub fn insert(&mut self, mem: &File, addr: u64) -> Result<(), BackendError> {
        if self.inserted.contains_key(&addr) {
            return Ok(());
        }
        // A breakpoint inside bytes a jump changed (`break *ADDR` anywhere): the jump
        // goes, the int3 under it stays.
        for a in self.jumps_over(addr, addr + 1) {
            if a != addr {
                self.disarm_jump(mem, a)
                    .map_err(|e| e.os("remove a condition jump"))?;
            }
        }
        let mut orig = [0u8; 1];
        read_at(mem, addr, &mut orig).map_err(|e| BackendError::Os {
            op: "insert breakpoint",
            why: format!("cannot read {addr:#x}: {}", e.describe()),
        })?;
        write_at(mem, addr, &[INT3]).map_err(|e| BackendError::Os {
            op: "insert breakpoint",
            why: format!("cannot write {addr:#x}: {}", e.describe()),
        })?;
        self.inserted.insert(addr, orig[0]);
        self.removed.remove(&addr);
        Ok(())
    }

    pub fn remove(&mut self, mem: &File, addr: u64) -> Result<(), BackendError> {
        let Some(&orig) = self.inserted.get(&addr) else {
            return Ok(());
        };
        if let Some(j) = self.jumps.remove(&addr) {
            self.unpatch(mem, addr, j)
                .map_err(|e| e.os("remove breakpoint"))?;
        } else {
            write_at(mem, addr, &[orig]).map_err(|e| e.os("remove breakpoint"))?;
        }
        self.inserted.remove(&addr);
        self.removed.insert(addr);
        Ok(())
    }

    /// Put back the program's own bytes under the displaced-stepping area.
    pub fn restore_scratch(&mut self, mem: &File) -> Result<(), Errno> {
        if let Some((at, orig)) = self.scratch.take() {
            self.scratch_holds = None;
            if let Err(e) = write_at(mem, at, &orig) {
                self.scratch = Some((at, orig));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Restore every original byte; used by detach and emergency cleanup. Keeps going
    /// past failures so as many as possible are restored, and reports the first.
    pub fn remove_all(&mut self, mem: &File) -> Result<(), BackendError> {
        let mut first = None;
        if let Err(e) = self.restore_scratch(mem) {
            first = Some(e.os("restore the displaced-stepping area"));
        }
        for (a, j) in std::mem::take(&mut self.jumps) {
            if let Err(e) = self.unpatch(mem, a, j) {
                first.get_or_insert(e.os("remove breakpoint"));
            }
        }
        // Best effort: after an orderly detach the pads are unmapped already.
        for a in self.pad_traps.drain(..) {
            let _ = write_at(mem, a, &[0x90]);
        }
        for (&a, &orig) in &self.inserted {
            if let Err(e) = write_at(mem, a, &[orig]) {
                first.get_or_insert(e.os("remove breakpoint"));
            }
        }
        let gone: Vec<u64> = self.inserted.keys().copied().collect();
        self.removed.extend(gone);
        self.inserted.clear();
        first.map_or(Ok(()), Err)
    }

    /// Write program memory, keeping breakpoints inserted: bytes that land on a
    /// breakpoint become its new original byte and the 0xCC stays in memory.
    pub fn write_memory(&mut self, mem: &File, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        let end = addr.saturating_add(bytes.len() as u64);
        // Code under a condition jump changes: back to the int3 (its pad holds the old
        // instruction); the debugger may arm it again.
        for a in self.jumps_over(addr, end) {
            self.disarm_jump(mem, a)?;
        }
        let hit: Vec<u64> = self.inserted.range(addr..end).map(|(&a, _)| a).collect();
        if hit.is_empty() {
            return write_at(mem, addr, bytes);
        }
        let mut patched = bytes.to_vec();
        for a in hit {
            let i = (a - addr) as usize;
            self.inserted.insert(a, bytes[i]);
            patched[i] = INT3;
        }
        write_at(mem, addr, &patched)
    }

    /// Address -> the program's own byte, for every byte we changed, sorted: snapshot
    /// reads show the program's code, not our 0xCCs and scratch instructions.
    pub fn shadow(&self) -> Vec<(u64, u8)> {
        let mut v: Vec<(u64, u8)> = self.inserted.iter().map(|(&a, &b)| (a, b)).collect();
        if let Some((at, orig)) = &self.scratch {
            v.extend(orig.iter().enumerate().map(|(i, &b)| (at + i as u64, b)));
        }
        for (&a, j) in &self.jumps {
            v.extend(j.orig.iter().enumerate().map(|(i, &b)| (a + i as u64, b)));
            if let Some((h, orig, _)) = &j.hole {
                v.extend(orig.iter().enumerate().map(|(i, &b)| (h + i as u64, b)));
            }
        }
        for (h, _, orig) in &self.stale_holes {
            v.extend(orig.iter().enumerate().map(|(i, &b)| (h + i as u64, b)));
        }
        v.sort_unstable_by_key(|&(a, _)| a);
        v.dedup_by_key(|&mut (a, _)| a);
        v
    }

    /// The breakpoints whose condition jumps changed bytes in `lo..hi`.
    pub fn jumps_over(&self, lo: u64, hi: u64) -> Vec<u64> {
        self.jumps
            .iter()
            .filter(|(&a, j)| j.overlaps(a, lo, hi))
            .map(|(&a, _)| a)
            .collect()
    }

    /// The breakpoint whose jump goes (or went) through the hole at `addr`.
    pub fn hole_owner(&self, addr: u64) -> Option<u64> {
        self.jumps
            .iter()
            .find(|(_, j)| j.hole.as_ref().is_some_and(|(h, _, _)| *h == addr))
            .map(|(&a, _)| a)
            .or_else(|| {
                self.stale_holes
                    .iter()
                    .find(|(h, _, _)| *h == addr)
                    .map(|&(_, pc, _)| pc)
            })
    }

    /// Put the program's instruction back over a jump, safely while threads run: the
    /// int3 first (a thread arriving traps, and the trap is rewound as a removed
    /// breakpoint's), the tail behind it, the first byte last. The hole waits
    /// (`stale_holes`).
    fn unpatch(&mut self, mem: &File, pc: u64, j: Jump) -> Result<(), Errno> {
        write_at(mem, pc, &[INT3])?;
        write_at(mem, pc + 1, &j.orig[1..])?;
        write_at(mem, pc, &j.orig[..1])?;
        if let Some((h, b, _)) = j.hole {
            self.stale_holes.push((h, pc, b));
        }
        Ok(())
    }

    /// Give the holes their own bytes back. Every thread must be stopped and off them.
    pub fn restore_holes(&mut self, mem: &File) -> Result<(), Errno> {
        while let Some((h, pc, b)) = self.stale_holes.pop() {
            if let Err(e) = write_at(mem, h, &b) {
                self.stale_holes.push((h, pc, b));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Overwrite the inserted breakpoint at `pc` with `patch` (a `jmp` to its condition
    /// pad, or to `hole`, which gets `(address, jmp)`). Threads may be running: no one
    /// runs the hole before the patch is in, and the patch goes in behind the int3.
    pub fn arm_jump(
        &mut self,
        mem: &File,
        pc: u64,
        patch: &[u8],
        hole: Option<(u64, &[u8])>,
    ) -> Result<(), Errno> {
        let Some(&first) = self.inserted.get(&pc) else {
            return Err(Errno(libc::ENOENT));
        };
        if self.jumps.contains_key(&pc) {
            return Ok(());
        }
        let mut orig = vec![0u8; patch.len()];
        read_at(mem, pc, &mut orig)?;
        orig[0] = first;
        let hole = match hole {
            Some((h, jmp)) => {
                let mut b = vec![0u8; jmp.len()];
                read_at(mem, h, &mut b)?;
                // The hole first: nothing jumps there until the patch is in.
                write_at(mem, h, jmp)?;
                Some((h, b, jmp.to_vec()))
            }
            None => None,
        };
        // Behind the int3 first, then the opcode over it: a thread running meanwhile
        // sees the int3 (and traps) or the whole jmp, never a mix.
        let written =
            write_at(mem, pc + 1, &patch[1..]).and_then(|()| write_at(mem, pc, &patch[..1]));
        if let Err(e) = written {
            let _ = write_at(mem, pc, &[INT3]);
            let _ = write_at(mem, pc + 1, &orig[1..]);
            if let Some((h, b, _)) = &hole {
                let _ = write_at(mem, *h, b);
            }
            return Err(e);
        }
        let patch = patch.to_vec();
        self.jumps.insert(pc, Jump { orig, patch, hole });
        Ok(())
    }

    /// Back from a `jmp` to a plain `int3` at `pc`. The `int3` goes in first, so a
    /// thread that runs meanwhile traps instead of jumping into a torn `jmp`.
    pub fn disarm_jump(&mut self, mem: &File, pc: u64) -> Result<(), Errno> {
        let Some(j) = self.jumps.get(&pc).cloned() else {
            return Ok(());
        };
        write_at(mem, pc, &[INT3])?;
        write_at(mem, pc + 1, &j.orig[1..])?;
        if let Some((h, b, _)) = j.hole {
            self.stale_holes.push((h, pc, b));
        }
        self.jumps.remove(&pc);
        Ok(())
    }

    /// Put the program's own instruction back at the breakpoint `pc` for one step
    /// (`relower` undoes it). False when no breakpoint is there.
    pub fn lift(&self, mem: &File, pc: u64) -> Result<bool, Errno> {
        if let Some(j) = self.jumps.get(&pc) {
            return write_at(mem, pc, &j.orig).map(|()| true);
        }
        match self.inserted.get(&pc) {
            Some(&b) => write_at(mem, pc, &[b]).map(|()| true),
            None => Ok(false),
        }
    }

    /// The breakpoint at `pc` back in place after `lift`.
    pub fn relower(&self, mem: &File, pc: u64) -> Result<(), Errno> {
        match self.jumps.get(&pc) {
            Some(j) => write_at(mem, pc, &j.patch),
            None => write_at(mem, pc, &[INT3]),
        }
    }

    /// Show the program's own bytes in `buf`, read from `addr`.
    pub fn hide(&self, addr: u64, buf: &mut [u8]) {
        let end = addr.saturating_add(buf.len() as u64);
        for (a, b) in self.shadow() {
            if (addr..end).contains(&a) {
                buf[(a - addr) as usize] = b;
            }
        }
    }
}
