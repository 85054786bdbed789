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
        if self
            .scratch
            .as_ref()
            .is_some_and(|(s, b)| (*s..*s + b.len() as u64).contains(&addr))
        {
            // A breakpoint in the scratch area: give the area back to the program.
            self.restore_scratch(mem)
                .map_err(|e| e.os("restore the displaced-stepping area"))?;
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
        write_at(mem, addr, &[orig]).map_err(|e| e.os("remove breakpoint"))?;
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
            v.sort_unstable_by_key(|&(a, _)| a);
            v.dedup_by_key(|&mut (a, _)| a);
        }
        v
    }
}
