//! Address types that must not mix: an address in the process (what pointers and
//! registers hold) versus an offset in a file (core or binary).

use std::fmt;

/// A virtual address in the debugged process.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Addr(pub u64);

impl Addr {
    pub const NULL: Addr = Addr(0);

    pub fn get(self) -> u64 {
        self.0
    }
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
    /// Wrapping add: garbage pointers must not panic in debug builds (which is why
    /// this is not `std::ops::Add`, whose overflow panics in debug).
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, off: u64) -> Addr {
        Addr(self.0.wrapping_add(off))
    }
    pub fn offset(self, off: i64) -> Addr {
        Addr(self.0.wrapping_add(off as u64))
    }
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, off: u64) -> Addr {
        Addr(self.0.wrapping_sub(off))
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::LowerHex for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// An offset into a file on disk (a core or a binary).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct FileOffset(pub u64);
