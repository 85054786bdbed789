//! Per-PC facts the walk needs (function, stack delta, flags, source frames), computed
//! once and shared. A 100,000-goroutine core has only a few hundred distinct PCs on its
//! stacks, so memoizing them turns the bulk walk into hash lookups and memory reads,
//! and lets frames borrow their names instead of owning copies.

use crate::addr::Addr;
use crate::fasthash::{FastMap, FastState};
use crate::symbols::native::Native;
use crate::symbols::{Binary, Func, Pclntab};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

/// One source-level frame at a PC (an inlined call or the physical function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymFrame {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub inlined: bool,
}

/// Functions the walk treats specially, by name (matched once per PC, not per frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    Morestack,
    Sigtramp,
    Goexit,
    Mcall,
    Systemstack,
    /// sigpanic, asyncPreempt, debugCallV2: their caller's PC is a trap PC.
    TrapCaller,
    /// Go calling C: on the system stack, its caller is on the goroutine's stack.
    Asmcgocall,
    /// C calling Go: on the goroutine's stack, its caller (crosscall2) is on g0's.
    Cgocallback,
}

/// What is known about one PC (a return address, or a trap PC when `trap`).
#[derive(Debug, Clone)]
pub struct PcInfo {
    /// The Go function (link-time addresses); `None` for non-Go code.
    pub func: Option<Func>,
    /// Run-time entry of the Go function.
    pub entry: Option<Addr>,
    /// The physical function's name ("?" when unknown).
    pub name: String,
    /// Source frames, innermost first; the last is the physical one. Never empty.
    pub frames: Vec<SymFrame>,
    pub(crate) flag: u8,
    pub(crate) sp_delta: Option<i32>,
    pub(crate) special: Special,
}

impl PcInfo {
    /// Look `pc` up (run-time address; `bias` is the load bias). Non-Go PCs are named
    /// by `native` when given (C symbols and lines, shared libraries), else from the
    /// binary's symbol table.
    pub(crate) fn compute(
        pcln: &Pclntab,
        bin: &Binary,
        native: Option<&Native>,
        bias: u64,
        pc: Addr,
        trap: bool,
    ) -> PcInfo {
        let Some(f) = pcln.func_for_pc(pc.sub(bias)) else {
            let (name, file, line) = match native.and_then(|n| n.symbolize(pc, trap)) {
                Some(s) => (s.function, s.file, s.line),
                None => (
                    bin.symbol_at(pc.sub(bias))
                        .map(|s| s.name.to_string())
                        .unwrap_or_else(|| "?".into()),
                    String::new(),
                    0,
                ),
            };
            return PcInfo {
                func: None,
                entry: None,
                frames: vec![SymFrame {
                    function: name.clone(),
                    file,
                    line,
                    inlined: false,
                }],
                name,
                flag: 0,
                sp_delta: None,
                special: Special::None,
            };
        };
        let name = pcln.name(&f).to_string();
        let entry = f.entry.add(bias);
        // Outer frames hold return addresses: symbolise the call instruction.
        let sym_pc = if trap || pc == entry { pc } else { pc.sub(1) };
        let sources = pcln.frames_at(&f, sym_pc.sub(bias));
        let n = sources.len();
        let mut frames: Vec<SymFrame> = sources
            .into_iter()
            .enumerate()
            .map(|(i, sf)| {
                let physical = i + 1 == n;
                SymFrame {
                    function: if physical { name.clone() } else { sf.function },
                    file: sf.file,
                    line: sf.line,
                    inlined: !physical,
                }
            })
            .collect();
        if frames.is_empty() {
            frames.push(SymFrame {
                function: name.clone(),
                file: String::new(),
                line: 0,
                inlined: false,
            });
        }
        let special = match name.as_str() {
            "runtime.morestack" => Special::Morestack,
            "runtime.sigtramp" => Special::Sigtramp,
            "runtime.goexit" => Special::Goexit,
            "runtime.mcall" => Special::Mcall,
            "runtime.systemstack" => Special::Systemstack,
            "runtime.asmcgocall" => Special::Asmcgocall,
            "runtime.cgocallback" => Special::Cgocallback,
            "runtime.sigpanic" | "runtime.asyncPreempt" | "runtime.debugCallV2" => {
                Special::TrapCaller
            }
            _ => Special::None,
        };
        PcInfo {
            flag: pcln.flag(&f),
            sp_delta: pcln.sp_delta(&f, pc.sub(bias)),
            func: Some(f),
            entry: Some(entry),
            name,
            frames,
            special,
        }
    }
}

const SHARDS: usize = 16;

type Shard = Mutex<FastMap<(u64, bool), Arc<PcInfo>>>;

/// A concurrent memo of [`PcInfo`] by (PC, trap), sharded so rayon workers rarely
/// contend. Valid for one binary and load bias: build one per target (or per bulk
/// command) and drop it with the target.
pub struct PcCache {
    shards: Vec<Shard>,
    hasher: FastState,
}

impl Default for PcCache {
    fn default() -> Self {
        PcCache::new()
    }
}

impl std::fmt::Debug for PcCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcCache").field("len", &self.len()).finish()
    }
}

impl PcCache {
    pub fn new() -> PcCache {
        PcCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FastMap::default()))
                .collect(),
            hasher: Default::default(),
        }
    }

    /// Number of distinct PCs cached.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &(u64, bool)) -> Option<&Shard> {
        let h = self.hasher.hash_one(key);
        self.shards.get((h as usize) % SHARDS)
    }

    /// The cached facts for `pc`, computing them on a miss.
    pub(crate) fn get_or_compute(
        &self,
        key: (u64, bool),
        f: impl FnOnce() -> PcInfo,
    ) -> Arc<PcInfo> {
        let Some(shard) = self.shard(&key) else {
            return Arc::new(f());
        };
        if let Some(v) = lock(shard).get(&key) {
            return v.clone();
        }
        // Computed outside the lock: another worker may compute the same PC meanwhile,
        // which only costs a duplicate lookup.
        let v = Arc::new(f());
        lock(shard).entry(key).or_insert(v).clone()
    }
}

/// A poisoned shard only means another thread panicked mid-insert of a complete
/// value; the map itself is still consistent.
fn lock(m: &Shard) -> std::sync::MutexGuard<'_, FastMap<(u64, bool), Arc<PcInfo>>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
