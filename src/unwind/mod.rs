//! One unwinder, written against [`crate::snapshot::Memory`], for Go frames (pclntab
//! stack deltas, inlined frames expanded), stack switches (systemstack, mcall,
//! morestack), signal frames, and non-Go frames (DWARF CFI, then frame pointers).

use crate::addr::Addr;

/// How a frame was found: every frame says so, like rust-minidump's trust levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameSource {
    /// The innermost frame, from a thread's registers or a goroutine's saved context.
    Context,
    /// The Go pclntab's SP delta at the PC gave the caller.
    Pclntab,
    /// An inlined call, expanded from the pclntab's inline tree.
    Inlined,
    /// DWARF call frame information (.eh_frame / .debug_frame).
    Cfi,
    /// The frame-pointer chain.
    FramePointer,
    /// Registers restored from a signal frame's ucontext.
    SignalFrame,
    /// A switch between stacks (systemstack, mcall, morestack, cgo callback).
    StackSwitch,
}

/// One frame of a stack, innermost first.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The PC in this frame: the return address for outer frames (Delve's convention);
    /// use [`Frame::lookup_pc`] for symbolisation.
    pub pc: Addr,
    /// Stack pointer in this frame (value of SP while executing in it).
    pub sp: Addr,
    /// Canonical frame address (SP before the call that created it), if known.
    pub cfa: Addr,
    /// Frame pointer (RBP) in this frame, if known.
    pub bp: Addr,
    /// Entry of the function, when the PC is in a known function.
    pub func_entry: Option<Addr>,
    /// Function name, "?" when unknown.
    pub function: String,
    /// Source file and line (runtime convention: the line of the call for outer and
    /// parked frames).
    pub file: String,
    pub line: u32,
    pub inlined: bool,
    pub source: FrameSource,
    /// Registers known in this frame as DWARF reg number -> value (pc, sp, bp and any
    /// restored by CFI), for variable locations.
    pub regs: Vec<(u16, u64)>,
}

impl Frame {
    /// The PC to symbolise: one before the return address for frames that made a call,
    /// the PC itself for the innermost and signal-interrupted frames.
    pub fn lookup_pc(&self) -> Addr {
        self.pc
    }
}

/// A stack with the reason it stopped early, if it did (partial results, not failure).
#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub frames: Vec<Frame>,
    /// Why unwinding stopped before reaching the goroutine's or thread's start.
    pub error: Option<String>,
}

/// Read access to a frame's pc and source position, so formatting code serves both
/// [`Frame`] and [`LiteFrame`].
pub trait FrameView {
    fn pc(&self) -> Addr;
    fn sp(&self) -> Addr;
    /// Function name, "?" or empty when unknown.
    fn function(&self) -> &str;
    fn file(&self) -> &str;
    fn line(&self) -> u32;
}

impl FrameView for Frame {
    fn pc(&self) -> Addr {
        self.pc
    }
    fn sp(&self) -> Addr {
        self.sp
    }
    fn function(&self) -> &str {
        &self.function
    }
    fn file(&self) -> &str {
        &self.file
    }
    fn line(&self) -> u32 {
        self.line
    }
}

/// A frame of a bulk listing: pc and sp plus a shared, memoized [`PcInfo`] instead of
/// owned strings (a 100,000-goroutine listing would otherwise copy every name millions
/// of times).
#[derive(Debug, Clone)]
pub struct LiteFrame {
    pub pc: Addr,
    pub sp: Addr,
    info: std::sync::Arc<PcInfo>,
    /// Index into `info.frames`.
    idx: usize,
}

impl LiteFrame {
    fn sym(&self) -> Option<&SymFrame> {
        self.info.frames.get(self.idx)
    }
    pub fn inlined(&self) -> bool {
        self.sym().is_some_and(|s| s.inlined)
    }
    /// Everything known about this frame's PC.
    pub fn info(&self) -> &PcInfo {
        &self.info
    }
}

impl FrameView for LiteFrame {
    fn pc(&self) -> Addr {
        self.pc
    }
    fn sp(&self) -> Addr {
        self.sp
    }
    fn function(&self) -> &str {
        self.sym().map_or("?", |s| s.function.as_str())
    }
    fn file(&self) -> &str {
        self.sym().map_or("", |s| s.file.as_str())
    }
    fn line(&self) -> u32 {
        self.sym().map_or(0, |s| s.line)
    }
}

/// A stack of [`LiteFrame`]s, with the reason the walk stopped early, if it did.
#[derive(Debug, Clone, Default)]
pub struct LiteStack {
    pub frames: Vec<LiteFrame>,
    pub error: Option<String>,
}

pub mod arch;
pub mod cache;
mod cgo;
pub mod walk;
pub use cache::{PcCache, PcInfo, SymFrame};
pub use walk::{Start, Unwinder};
