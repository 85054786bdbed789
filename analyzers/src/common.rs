//! Helpers shared by the analyzers: user-code detection, locations, creation sites,
//! parallel unwinding.

use coroner::addr::Addr;
use coroner::fasthash::{self, FastMap};
use coroner::goruntime::{Goroutine, G_LEAKED, G_RUNNABLE, G_WAITING};
use coroner::target::Target;
use coroner::unwind::{Frame, Stack};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Frames kept per goroutine stack (the runtime prints 100).
pub const STACK_DEPTH: usize = 100;

/// Whether a function belongs to user code rather than the standard library: its
/// package is `main` or its import path's first element has a dot (a module path).
pub fn is_user_func(name: &str) -> bool {
    // Type arguments can contain paths and dots of their own.
    let name = name.split('[').next().unwrap_or(name);
    let (dir, last) = match name.rfind('/') {
        Some(i) => (name.get(..i).unwrap_or(""), name.get(i + 1..).unwrap_or("")),
        None => ("", name),
    };
    let first = if dir.is_empty() {
        last.split('.').next().unwrap_or("")
    } else {
        dir.split('/').next().unwrap_or("")
    };
    first == "main" || first.contains('.')
}

/// `function at file:line`.
pub fn frame_loc(f: &Frame) -> String {
    format!("{} at {}:{}", f.function, f.file, f.line)
}

/// The innermost user frame, else the innermost frame outside the runtime.
pub fn top_user_frame(st: &Stack) -> Option<&Frame> {
    st.frames
        .iter()
        .find(|f| is_user_func(&f.function))
        .or_else(|| {
            st.frames
                .iter()
                .find(|f| !f.function.starts_with("runtime."))
        })
}

/// Where a goroutine was created (the `go` statement), as the runtime prints it.
pub fn created_by(t: &Target, g: &Goroutine) -> Option<String> {
    // The runtime prints no creator for the main goroutine (its gopc is in rt0).
    if g.gopc.is_null() || g.goid == 1 {
        return None;
    }
    let pcln = t.pclntab();
    let pc = Addr(g.gopc.get().checked_sub(t.bias())?);
    let f = pcln.func_for_pc(pc)?;
    // The return address follows the call: look up the call itself.
    let look = if pc > f.entry { Addr(pc.get() - 1) } else { pc };
    let name = pcln.name(&f).to_string();
    match pcln.file_line(&f, look) {
        Some((file, line)) => Some(format!("{name} at {file}:{line}")),
        None => Some(name),
    }
}

/// Unwind these goroutines in parallel (stacks in the same order).
pub fn stacks(t: &Target, gs: &[&Goroutine], depth: usize) -> Vec<Stack> {
    gs.par_iter().map(|g| t.goroutine_stack(g, depth)).collect()
}

/// Frames followed along a frame-pointer chain.
const MAX_FP_FRAMES: usize = 512;

/// The exact PCs of a parked goroutine's physical frames, read cheaply along the
/// frame-pointer chain (amd64 Go keeps frame pointers): its saved PC, then each saved
/// return address. Two goroutines with the same key have the same stack, since frames
/// are symbolised from PCs alone. None when the goroutine is on a thread or the chain
/// looks wrong; callers then unwind it fully.
pub fn fp_key(t: &Target, g: &Goroutine) -> Option<Vec<u64>> {
    if g.thread.is_some() || !matches!(g.state(), G_WAITING | G_RUNNABLE | G_LEAKED) {
        return None;
    }
    let mem = t.memory();
    let (lo, hi) = (g.stack_lo.get(), g.stack_hi.get());
    let mut key = vec![g.sched.pc.get()];
    let mut bp = g.sched.bp.get();
    while bp != 0 {
        if bp < lo || bp.checked_add(16)? > hi || bp & 7 != 0 || key.len() > MAX_FP_FRAMES {
            return None;
        }
        let next = mem.read_u64(Addr(bp)).ok()?;
        key.push(mem.read_u64(Addr(bp + 8)).ok()?);
        // The chain goes up the stack; 0 ends it (the goroutine's first frame).
        if next != 0 && next <= bp {
            return None;
        }
        bp = next;
    }
    Some(key)
}

/// A stack's exact PCs, shared by the goroutines that have it.
pub type PcKey = Arc<Vec<u64>>;

/// A key of one [`fp_keys`] table by identity: the table interns its keys, so two of
/// them are equal exactly when they are one allocation. Hashing that is one word,
/// where hashing the key hashes every PC of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct KeyId(usize);

fn key_id(k: &PcKey) -> KeyId {
    KeyId(Arc::as_ptr(k) as usize)
}

/// For each entry of `keys` (keys of one [`fp_keys`] table), the index of the first
/// entry with the same key: the one whose stack stands for all of them. None for an
/// entry without a key.
pub fn representatives(keys: &[Option<&PcKey>]) -> Vec<Option<usize>> {
    let mut first: FastMap<KeyId, usize> = FastMap::default();
    keys.iter()
        .enumerate()
        .map(|(i, k)| k.map(|k| *first.entry(key_id(k)).or_insert(i)))
        .collect()
}

pub type CacheKey = (u64, usize);
pub fn fingerprint(t: &Target) -> CacheKey {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = coroner::fasthash::FastState::default().build_hasher();
    t.bias().hash(&mut h);
    t.crash().thread.hash(&mut h);
    for g in t.goroutines() {
        (
            g.addr.get(),
            g.goid,
            g.status,
            g.sched.sp.get(),
            g.sched.pc.get(),
        )
            .hash(&mut h);
        (g.wait_since, g.stack_hi.get(), g.gopc.get()).hash(&mut h);
    }
    (h.finish(), t.goroutines().len())
}

/// Every goroutine's [`fp_key`] (by g address), interned, for the last snapshot seen:
/// the groups analyzer, the semaphore waiters and the live-slot check all want them,
/// and each pass reads every parked goroutine's frame-pointer chain again.
pub type FpKeys = Arc<FastMap<Addr, PcKey>>;
static FP_KEYS: Mutex<Option<(CacheKey, FpKeys)>> = Mutex::new(None);

/// Fetch it once per pass: checking the cache hashes every goroutine.
pub fn fp_keys(t: &Target) -> FpKeys {
    let key = fingerprint(t);
    if let Ok(c) = FP_KEYS.lock() {
        if let Some((k, m)) = c.as_ref() {
            if *k == key {
                return m.clone();
            }
        }
    }
    let keys: Vec<(Addr, Option<Vec<u64>>)> = t
        .goroutines()
        .par_iter()
        .map(|g| (g.addr, fp_key(t, g)))
        .collect();
    let mut interned: FastMap<Vec<u64>, PcKey> = FastMap::default();
    let mut m = fasthash::map_with_capacity(keys.len());
    for (a, k) in keys {
        if let Some(k) = k {
            let shared = interned
                .entry(k)
                .or_insert_with_key(|k| Arc::new(k.clone()))
                .clone();
            m.insert(a, shared);
        }
    }
    let m = Arc::new(m);
    if let Ok(mut c) = FP_KEYS.lock() {
        *c = Some((key, m.clone()));
    }
    m
}

/// Stacks of these goroutines, unwinding only one goroutine per distinct
/// [`fp_key`] (a 100,000-goroutine process has a few hundred distinct stacks).
/// Returns, in order, each goroutine's stack and its key (None: unwound alone).
pub fn stacks_dedup(
    t: &Target,
    gs: &[&Goroutine],
    depth: usize,
) -> Vec<(Arc<Stack>, Option<PcKey>)> {
    let table = fp_keys(t);
    let keys: Vec<Option<&PcKey>> = gs.iter().map(|g| table.get(&g.addr)).collect();
    // Each goroutine's representative: the first with its key, else itself.
    let reps: Vec<usize> = representatives(&keys)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or(i))
        .collect();
    // Unwind representatives (keyless goroutines represent themselves).
    let todo: Vec<usize> = (0..gs.len()).filter(|&i| reps.get(i) == Some(&i)).collect();
    let done: FastMap<usize, Arc<Stack>> = todo
        .par_iter()
        .filter_map(|i| Some((*i, Arc::new(t.goroutine_stack(gs.get(*i)?, depth)))))
        .collect();
    keys.iter()
        .zip(&reps)
        .map(|(k, rep)| {
            let st = done.get(rep).cloned().unwrap_or_default();
            (st, k.map(Arc::clone))
        })
        .collect()
}

/// Hex address as JSON and text show it.
pub fn hex(a: Addr) -> String {
    format!("{:#x}", a.get())
}

/// Escape `|` and newlines for a Markdown table cell.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::is_user_func;

    #[test]
    fn user_functions() {
        assert!(is_user_func("main.compute"));
        assert!(is_user_func("example.com/hangs/internal/x.(*T).M"));
        assert!(is_user_func("github.com/a/b.F.func1"));
        assert!(!is_user_func("runtime.gopark"));
        assert!(!is_user_func("sync.(*Mutex).Lock"));
        assert!(!is_user_func("internal/sync.(*Mutex).lockSlow"));
        assert!(!is_user_func("net/http.(*conn).serve"));
        assert!(!is_user_func(
            "sort.Slice[go.shape.struct { example.com/x.A int }]"
        ));
        assert!(is_user_func("main.Apply[...]"));
    }
}
