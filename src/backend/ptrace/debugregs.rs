//! amd64 hardware watchpoints: DR0-DR3 hold addresses, DR7 enables them and says what
//! and how much each watches, DR6 says which fired. The kernel keeps a per-thread copy
//! (written with PTRACE_POKEUSER), so every thread, including ones created later, gets
//! the same slots written by the backend.

use super::sys::{self, Errno};
use crate::backend::{BackendError, WatchKind};

pub const SLOTS: u8 = 4;
const DR6: usize = 6;
const DR7: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub addr: u64,
    pub len: u8,
    pub kind: WatchKind,
}

/// Validate a watchpoint: lengths 1/2/4/8, naturally aligned (the CPU masks the low
/// address bits, so a misaligned watch would silently cover other bytes).
pub fn check(addr: u64, len: u8) -> Result<(), BackendError> {
    if !matches!(len, 1 | 2 | 4 | 8) {
        return Err(BackendError::Os {
            op: "set watchpoint",
            why: format!("length {len} is not 1, 2, 4 or 8 bytes"),
        });
    }
    if !addr.is_multiple_of(len as u64) {
        return Err(BackendError::Os {
            op: "set watchpoint",
            why: format!("{addr:#x} is not aligned to its length {len}"),
        });
    }
    Ok(())
}

/// DR7 for these slots: local-enable bit, R/W bits (01 write, 11 read-write: the CPU
/// has no read-only data breakpoint) and LEN bits (00 1, 01 2, 11 4, 10 8 bytes).
pub fn dr7(slots: &[Option<Watch>; SLOTS as usize]) -> u64 {
    let mut v = 0u64;
    for (i, w) in slots.iter().enumerate() {
        let Some(w) = w else { continue };
        let rw: u64 = match w.kind {
            WatchKind::Write => 0b01,
            WatchKind::Read | WatchKind::ReadWrite => 0b11,
        };
        let len: u64 = match w.len {
            1 => 0b00,
            2 => 0b01,
            8 => 0b10,
            _ => 0b11,
        };
        v |= 1 << (2 * i);
        v |= (rw | (len << 2)) << (16 + 4 * i);
    }
    v
}

/// Write every slot's address and then DR7 on one thread. DR7 goes first as 0 so the
/// kernel never validates a new enable bit against an old address.
pub fn apply(tid: i32, slots: &[Option<Watch>; SLOTS as usize]) -> Result<(), Errno> {
    sys::poke_debugreg(tid, DR7, 0)?;
    for (i, w) in slots.iter().enumerate() {
        if let Some(w) = w {
            sys::poke_debugreg(tid, i, w.addr)?;
        }
    }
    let v = dr7(slots);
    if v != 0 {
        sys::poke_debugreg(tid, DR7, v)?;
    }
    Ok(())
}

/// Which slot fired on this thread, if any; clears DR6 so the next trap starts clean.
pub fn fired(tid: i32) -> Result<Option<u8>, Errno> {
    let dr6 = sys::peek_debugreg(tid, DR6)?;
    let hit = (0..SLOTS).find(|&i| dr6 & (1 << i) != 0);
    if dr6 & 0xf != 0 {
        sys::poke_debugreg(tid, DR6, 0)?;
    }
    Ok(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_dr7() {
        let mut s = [None; 4];
        s[0] = Some(Watch {
            addr: 0x1000,
            len: 8,
            kind: WatchKind::Write,
        });
        s[2] = Some(Watch {
            addr: 0x2000,
            len: 1,
            kind: WatchKind::Read,
        });
        let v = dr7(&s);
        assert_eq!(v & 0xff, 0b0001_0001);
        assert_eq!((v >> 16) & 0xf, 0b1001);
        assert_eq!((v >> 24) & 0xf, 0b0011);
    }

    #[test]
    fn rejects_misaligned() {
        assert!(check(0x1001, 2).is_err());
        assert!(check(0x1000, 3).is_err());
        assert!(check(0x1004, 4).is_ok());
    }
}
