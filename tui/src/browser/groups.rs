//! Goroutines grouped by identical stack, computed in a background thread so the
//! first screen never waits for 100,000 stack walks.

use coroner::goruntime::Goroutine;
use coroner::target::Target;
use coroner::unwind::{FrameView, PcCache, Unwinder};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

/// Frames walked per goroutine for the grouping key: deep enough that stacks that
/// differ only far down (deep recursion) still group by their inner frames.
const KEY_DEPTH: usize = 64;
/// Goroutines per progress step (one rayon batch).
const BATCH: usize = 2048;

/// One stack frame as the goroutines pane shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrameSummary {
    pub function: String,
    pub file: String,
    pub line: u32,
}

/// Goroutines with the same state and the same stack (same PCs, frame by frame).
#[derive(Debug, Clone)]
pub struct Group {
    /// Goroutine IDs, ascending.
    pub members: Vec<u64>,
    /// Runtime status text (`running`, `chan receive`, ...).
    pub state: String,
    /// First frame outside the runtime's private functions, innermost first.
    pub top_user: Option<FrameSummary>,
    /// Innermost frame.
    pub top: Option<FrameSummary>,
    /// Every function on the stack, for the `/` filter.
    pub functions: Vec<String>,
    /// The goroutine that took the fatal signal is in this group.
    pub crash: bool,
    /// Frames on the stack (up to the walk's limit): groups that differ only deep
    /// down (recursion depth) otherwise look alike.
    pub depth: usize,
    /// Every member's pprof labels as `k=v`, deduplicated, for the `/` filter.
    pub labels: Vec<String>,
}

/// A goroutine's labels as `k=v` pairs, in key order (empty without labels).
pub fn label_pairs(g: &Goroutine) -> Vec<String> {
    g.labels
        .as_ref()
        .map(|l| l.pairs().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default()
}

impl Group {
    /// Whether `needle` (lower-case) matches the state, wait reason or a function.
    pub fn matches(&self, needle: &str) -> bool {
        if needle.is_empty() {
            return true;
        }
        self.state.to_lowercase().contains(needle)
            || self
                .functions
                .iter()
                .any(|f| f.to_lowercase().contains(needle))
            || self
                .top_user
                .as_ref()
                .is_some_and(|f| f.file.to_lowercase().contains(needle))
            || self
                .labels
                .iter()
                .any(|l| l.to_lowercase().contains(needle))
    }

    /// Goroutine the stack pane shows for this group: the crashing one, else the first.
    pub fn representative(&self, crash_goid: Option<u64>) -> Option<u64> {
        crash_goid
            .filter(|g| self.crash && self.members.contains(g))
            .or_else(|| self.members.first().copied())
    }
}

/// Delve's notion of a frame the user did not write: the REPL's own rule.
pub use coroner::repl::is_private_runtime;

/// Progress of the background grouping, shared with the UI thread.
pub struct Loading {
    pub done: Arc<AtomicUsize>,
    pub total: usize,
    cancel: Arc<AtomicBool>,
    rx: Receiver<Vec<Group>>,
}

impl Loading {
    /// Start grouping the live goroutines of `target` in a background thread.
    pub fn start(target: Arc<Target>) -> Loading {
        let done = Arc::new(AtomicUsize::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let total = target.goroutines().iter().filter(|g| !g.is_dead()).count();
        let (tx, rx) = std::sync::mpsc::channel();
        let (d, c) = (done.clone(), cancel.clone());
        std::thread::spawn(move || {
            let groups = compute(&target, &d, &c);
            // The receiver is gone only when the browser quit meanwhile.
            let _ = tx.send(groups);
        });
        Loading {
            done,
            total,
            cancel,
            rx,
        }
    }

    /// The groups, once ready; `Err(true)` while still running, `Err(false)` if the
    /// worker died without a result.
    pub fn poll(&self) -> Result<Vec<Group>, bool> {
        match self.rx.try_recv() {
            Ok(g) => Ok(g),
            Err(TryRecvError::Empty) => Err(true),
            Err(TryRecvError::Disconnected) => Err(false),
        }
    }

    /// Block until the groups are ready (tests, and batch snapshots).
    #[allow(dead_code)] // used by tests/browser_snapshots.rs
    pub fn wait(&self) -> Option<Vec<Group>> {
        self.rx.recv().ok()
    }

    pub fn progress(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

impl Drop for Loading {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Key of one goroutine: its state and the PCs of its frames (inlined frames share a
/// PC, so the function names are part of the key through the PC).
type Key = (String, Vec<u64>);

struct Walked {
    goid: u64,
    key: Key,
    frames: Vec<FrameSummary>,
}

fn walk_one(t: &Target, unw: &Unwinder<'_>, cache: &PcCache, g: &Goroutine) -> Walked {
    let state = g.traceback_status();
    let summarize = |f: &dyn FrameView| FrameSummary {
        function: f.function().to_string(),
        file: f.file().to_string(),
        line: f.line(),
    };
    if let Some(st) = unw.goroutine_lite(g, KEY_DEPTH, cache, None) {
        let pcs = st.frames.iter().map(|f| f.pc.0).collect();
        let frames = st.frames.iter().map(|f| summarize(f)).collect();
        return Walked {
            goid: g.goid,
            key: (state, pcs),
            frames,
        };
    }
    let st = t.goroutine_stack(g, KEY_DEPTH);
    let pcs = st.frames.iter().map(|f| f.pc.0).collect();
    let frames = st.frames.iter().map(|f| summarize(f)).collect();
    Walked {
        goid: g.goid,
        key: (state, pcs),
        frames,
    }
}

/// Group every live goroutine; `done` counts goroutines walked so far.
pub fn compute(t: &Target, done: &AtomicUsize, cancel: &AtomicBool) -> Vec<Group> {
    let gs: Vec<&Goroutine> = t.goroutines().iter().filter(|g| !g.is_dead()).collect();
    // CFI is left out as in the REPL's listings: the lite walk declines non-Go frames
    // and those goroutines take the full path.
    let unw = Unwinder {
        mem: t.memory(),
        pcln: t.pclntab(),
        cfi: None,
        bin: t.binary(),
        rt: t.runtime(),
        native: None,
    };
    let cache = PcCache::new();
    let crash = t.crash().goroutine;
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for batch in gs.chunks(BATCH) {
        if cancel.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let walked: Vec<Walked> = batch
            .par_iter()
            .map(|g| walk_one(t, &unw, &cache, g))
            .collect();
        for (w, g) in walked.into_iter().zip(batch) {
            let labels = label_pairs(g);
            match index.get(&w.key) {
                Some(&i) => {
                    if let Some(gr) = groups.get_mut(i) {
                        gr.members.push(w.goid);
                        gr.crash |= crash == Some(w.goid);
                        for l in labels {
                            if !gr.labels.contains(&l) {
                                gr.labels.push(l);
                            }
                        }
                    }
                }
                None => {
                    let mut functions: Vec<String> = Vec::new();
                    for f in &w.frames {
                        if !functions.contains(&f.function) {
                            functions.push(f.function.clone());
                        }
                    }
                    index.insert(w.key.clone(), groups.len());
                    groups.push(Group {
                        members: vec![w.goid],
                        state: w.key.0.clone(),
                        top_user: w
                            .frames
                            .iter()
                            .find(|f| !is_private_runtime(&f.function))
                            .cloned(),
                        top: w.frames.first().cloned(),
                        functions,
                        crash: crash == Some(w.goid),
                        depth: w.frames.len(),
                        labels,
                    });
                }
            }
        }
        done.fetch_add(batch.len(), Ordering::Relaxed);
    }
    sort_groups(&mut groups);
    groups
}

/// The crashing goroutine's group first, then groups with user code, then by size
/// (largest first), then by lowest goroutine ID so the order is stable.
pub fn sort_groups(groups: &mut [Group]) {
    for g in groups.iter_mut() {
        g.members.sort_unstable();
    }
    groups.sort_by(|a, b| {
        b.crash
            .cmp(&a.crash)
            .then(b.top_user.is_some().cmp(&a.top_user.is_some()))
            .then(b.members.len().cmp(&a.members.len()))
            .then(a.members.first().cmp(&b.members.first()))
    });
}
