//! The wait-for graph shared by the `waitgraph` and `leaks` analyzers.
//!
//! Edges, from the runtime's own records (`coroner::goruntime::waits`): a goroutine
//! waits on a channel (each select case, with its direction), on a semaphore, which
//! the waiting goroutine's frames map back to the `sync.Mutex`, `RWMutex` or
//! `WaitGroup` that owns it, or on a `sync.Cond` (its notifyList). Who could end a wait is not recorded anywhere, so it is
//! inferred conservatively: the goroutines whose stacks hold a pointer to the object
//! (a lock holder keeps one for its `Unlock`, a channel peer for its next operation),
//! minus those waiting on the same side of it. A goroutine is *doomed* when every
//! goroutine that could wake it is doomed too (greatest fixed point); a wait on a
//! channel no goroutine references is doomed, one on a mutex whose holder is unknown
//! is not. Cycles among doomed goroutines are deadlocks.

use crate::common::{self, hex};
use coroner::addr::Addr;
use coroner::goruntime::waits::{ChanDir, Channel, Waits};
use coroner::goruntime::{Goroutine, G_DEAD, G_RUNNING, G_SYSCALL};
use coroner::repl::frame_vars;
use coroner::snapshot::Memory;
use coroner::symbols::dwarf::Dwarf;
use coroner::target::Target;
use coroner::unwind::Stack;
use coroner::vars::location::Overlay;

/// Goroutines whose stacks are scanned between two releases of the core's pages.
const SCAN_BATCH: usize = 4096;
use coroner::vars::Kind;
use rayon::prelude::*;
// Maps keyed by addresses and indices, filled per goroutine: the fast hasher.
use coroner::fasthash::{FastMap as HashMap, FastSet as HashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Bytes of one goroutine stack scanned for references.
const MAX_STACK_SCAN: u64 = 1 << 20;
/// Bytes of package data scanned for references.
const MAX_DATA_SCAN: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjKind {
    Chan,
    Mutex,
    RWMutex,
    WaitGroup,
    Cond,
    /// A bare runtime semaphore (e.g. internal/poll's fdMutex).
    Sema,
}

impl ObjKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjKind::Chan => "chan",
            ObjKind::Mutex => "sync.Mutex",
            ObjKind::RWMutex => "sync.RWMutex",
            ObjKind::WaitGroup => "sync.WaitGroup",
            ObjKind::Cond => "sync.Cond",
            ObjKind::Sema => "semaphore",
        }
    }
    fn size(self) -> u64 {
        match self {
            // Pointers to a channel point at its hchan.
            ObjKind::Chan => 1,
            ObjKind::Mutex => 8,
            ObjKind::RWMutex => 24,
            ObjKind::WaitGroup => 16,
            // noCopy, L (an interface), notify (a notifyList), checker.
            ObjKind::Cond => 56,
            ObjKind::Sema => 4,
        }
    }
}

/// Something goroutines wait on.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: ObjKind,
    pub addr: Addr,
    /// The package variable (and field) holding it, or pointing at it.
    pub name: Option<String>,
    pub chan: Option<Channel>,
    /// A package variable points at it: any goroutine might reach it.
    pub global_ref: bool,
}

impl Object {
    pub fn describe(&self) -> String {
        let mut s = match &self.chan {
            Some(c) => format!(
                "chan {}{}",
                c.elem_type.as_deref().unwrap_or("(element type unknown)"),
                if c.dataqsiz > 0 {
                    format!(" (buffered {}/{})", c.qcount, c.dataqsiz)
                } else {
                    String::new()
                }
            ),
            None => self.kind.as_str().to_string(),
        };
        s.push_str(&format!(" {}", hex(self.addr)));
        if let Some(n) = &self.name {
            s.push_str(&format!(" ({n})"));
        }
        s
    }

    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "kind": self.kind.as_str(),
            "address": hex(self.addr),
            "name": self.name,
        });
        if let (Some(c), Some(m)) = (&self.chan, v.as_object_mut()) {
            m.insert("elem_type".into(), serde_json::json!(c.elem_type));
            m.insert("buffer".into(), serde_json::json!(c.dataqsiz));
            m.insert("queued".into(), serde_json::json!(c.qcount));
            m.insert("closed".into(), serde_json::json!(c.closed));
            m.insert("timer".into(), serde_json::json!(c.timer));
        }
        v
    }
}

/// One thing a goroutine waits on (one select case, or its lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub obj: usize,
    pub dir: Option<ChanDir>,
}

/// How a goroutine is blocked.
#[derive(Debug, Clone)]
pub struct Wait {
    pub goid: u64,
    pub cases: Vec<Case>,
    /// Set for waits the runtime itself can never end (nil channel, `select {}`).
    pub forever: Option<&'static str>,
    /// The frame that blocked (innermost user frame), `function at file:line`.
    pub at: Option<String>,
}

/// A pointer to an object found in a goroutine's stack.
#[derive(Debug, Clone, Copy)]
pub struct Ref {
    pub goid: u64,
    pub at: Addr,
}

/// A cycle of goroutines that can never proceed.
#[derive(Debug, Clone)]
pub struct Deadlock {
    pub kind: &'static str,
    pub goroutines: Vec<u64>,
    pub objects: Vec<usize>,
    /// Doomed goroutines that wait (directly or not) on this cycle.
    pub blocked_behind: Vec<u64>,
}

/// Goroutines whose wait can never end without being part of a cycle.
#[derive(Debug, Clone)]
pub struct Forever {
    pub reason: String,
    pub object: Option<usize>,
    pub goroutines: Vec<u64>,
    pub blocked_behind: Vec<u64>,
}

/// The whole graph.
#[derive(Debug, Default)]
pub struct Hangs {
    pub objects: Vec<Object>,
    pub waits: BTreeMap<u64, Wait>,
    /// Per object: pointers to it on goroutine stacks.
    pub refs: Vec<Vec<Ref>>,
    pub doomed: BTreeSet<u64>,
    /// Doomed goroutine -> goroutines that could wake it (all doomed).
    pub edges: BTreeMap<u64, BTreeSet<u64>>,
    pub deadlocks: Vec<Deadlock>,
    pub forever: Vec<Forever>,
    pub problems: Vec<String>,
    /// Stacks unwound while building the graph (sema waiters and deadlock members).
    pub stacks: HashMap<u64, Arc<Stack>>,
}

/// What a semaphore belongs to, from the `sync` frames of the goroutine parked on it.
fn classify_sema(st: &Stack, sema: Addr) -> (ObjKind, Addr) {
    let sync: Vec<&str> = st
        .frames
        .iter()
        .map(|f| f.function.as_str())
        .filter(|n| {
            (n.starts_with("sync.") || n.starts_with("internal/sync.")) && !n.contains(".runtime_")
        })
        .collect();
    let any = |pat: &str| sync.iter().any(|n| n.contains(pat));
    if any("(*RWMutex).RLock") {
        (ObjKind::RWMutex, sema.sub(12))
    } else if any("(*RWMutex).Lock") {
        // Writers first take rw.w (a Mutex at offset 0), then wait on writerSem.
        if any("(*Mutex).") {
            (ObjKind::RWMutex, sema.sub(4))
        } else {
            (ObjKind::RWMutex, sema.sub(8))
        }
    } else if any("(*Mutex).") {
        (ObjKind::Mutex, sema.sub(4))
    } else if any("(*WaitGroup).Wait") {
        (ObjKind::WaitGroup, sema.sub(8))
    } else {
        (ObjKind::Sema, sema)
    }
}

/// The last graph built, keyed by a fingerprint of the snapshot's goroutines:
/// `triage` runs `waitgraph` and `leaks` on the same target, and the graph is the
/// costly part of both. A content key (not the target's address, which a later target
/// may reuse) means a hit is the same snapshot, so the same result.
static CACHE: Mutex<Option<(common::CacheKey, Arc<Hangs>)>> = Mutex::new(None);

impl Hangs {
    /// [`Hangs::build`], reusing the previous result for the same snapshot.
    pub fn cached(t: &Target) -> Arc<Hangs> {
        let key = common::fingerprint(t);
        if let Ok(c) = CACHE.lock() {
            if let Some((k, h)) = c.as_ref() {
                if *k == key {
                    return h.clone();
                }
            }
        }
        let h = Arc::new(Hangs::build(t));
        if let Ok(mut c) = CACHE.lock() {
            *c = Some((key, h.clone()));
        }
        h
    }

    pub fn build(t: &Target) -> Hangs {
        let waits = Waits::read(t);
        let mut h = Hangs {
            problems: waits.problems.clone(),
            ..Default::default()
        };
        let by_addr: HashMap<Addr, &Goroutine> =
            t.goroutines().iter().map(|g| (g.addr, g)).collect();
        let mut obj_index: HashMap<Addr, usize> = HashMap::default();
        let mut add_obj = |h: &mut Hangs, kind: ObjKind, addr: Addr, chan: Option<&Channel>| {
            *obj_index.entry(addr).or_insert_with(|| {
                h.objects.push(Object {
                    kind,
                    addr,
                    name: None,
                    chan: chan.cloned(),
                    global_ref: false,
                });
                h.objects.len() - 1
            })
        };

        // Semaphore waiters: their frames say which sync type owns the semaphore.
        let sema_gs: Vec<&Goroutine> = t
            .goroutines()
            .iter()
            .filter(|g| {
                !g.system
                    && g.is_waiting()
                    && (waits.sema_waits.contains_key(&g.addr)
                        || waits.cond_waits.contains_key(&g.addr))
            })
            .collect();
        let sema_stacks = common::stacks_dedup(t, &sema_gs, common::STACK_DEPTH);
        for (g, (st, _)) in sema_gs.iter().zip(sema_stacks) {
            h.stacks.insert(g.goid, st);
        }

        for g in t.goroutines() {
            if g.system || !g.is_waiting() {
                continue;
            }
            let reason = g.wait_reason.as_deref().unwrap_or("");
            let mut w = Wait {
                goid: g.goid,
                cases: Vec::new(),
                forever: None,
                at: None,
            };
            if reason.contains("(nil chan)") {
                w.forever = Some("wait on a nil channel");
            } else if reason == "select (no cases)" {
                w.forever = Some("select with no cases");
            } else if let Some(list) = waits
                .chan_waits
                .get(&g.addr)
                .filter(|l| l.iter().any(|cw| waits.channels.contains_key(&cw.chan)))
            {
                for cw in list {
                    let Some(ch) = waits.channels.get(&cw.chan) else {
                        continue;
                    };
                    let obj = add_obj(&mut h, ObjKind::Chan, cw.chan, Some(ch));
                    w.cases.push(Case { obj, dir: cw.dir });
                }
            } else if let Some(sw) = waits.sema_waits.get(&g.addr) {
                let (kind, base) = match h.stacks.get(&g.goid) {
                    Some(st) => classify_sema(st, sw.sema),
                    None => (ObjKind::Sema, sw.sema),
                };
                let obj = add_obj(&mut h, kind, base, None);
                w.cases.push(Case { obj, dir: None });
            } else if let Some(cw) = waits.cond_waits.get(&g.addr) {
                let obj = add_obj(&mut h, ObjKind::Cond, cw.cond, None);
                w.cases.push(Case { obj, dir: None });
            } else {
                // Sleep, I/O, timers, GC...: not ours to judge.
                continue;
            }
            h.waits.insert(g.goid, w);
        }

        h.refs = vec![Vec::new(); h.objects.len()];
        if !h.objects.is_empty() {
            h.scan_stacks(t);
            h.scan_globals(t);
            h.name_from_frames(t);
        }
        h.solve(&by_addr);
        h.find_cycles();
        // Where each involved goroutine blocked.
        let involved: Vec<u64> = h
            .deadlocks
            .iter()
            .flat_map(|d| d.goroutines.iter().chain(d.blocked_behind.iter()))
            .chain(h.forever.iter().flat_map(|f| f.goroutines.iter().take(16)))
            .copied()
            .filter(|id| !h.stacks.contains_key(id))
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .collect();
        let gs: Vec<&Goroutine> = involved.iter().filter_map(|id| t.goroutine(*id)).collect();
        let sts = common::stacks(t, &gs, common::STACK_DEPTH);
        for (g, st) in gs.iter().zip(sts) {
            h.stacks.insert(g.goid, Arc::new(st));
        }
        let ats: Vec<(u64, String)> = h
            .waits
            .keys()
            .filter_map(|id| {
                let st = h.stacks.get(id)?;
                Some((*id, common::frame_loc(common::top_user_frame(st)?)))
            })
            .collect();
        for (id, at) in ats {
            if let Some(w) = h.waits.get_mut(&id) {
                w.at = Some(at);
            }
        }
        h
    }

    /// Sorted (start, end, object) ranges for reference lookups.
    fn ranges(&self) -> Vec<(u64, u64, usize)> {
        let mut r: Vec<(u64, u64, usize)> = self
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let a = o.addr.get();
                (a, a.saturating_add(o.kind.size()), i)
            })
            .collect();
        r.sort_unstable();
        r
    }

    /// Conservative scan of every live goroutine's stack for pointers to the objects.
    fn scan_stacks(&mut self, t: &Target) {
        let ranges = self.ranges();
        let (Some(lo_all), Some(hi_all)) = (
            ranges.first().map(|r| r.0),
            ranges.iter().map(|r| r.1).max(),
        ) else {
            return;
        };
        let mem = t.memory();
        // In batches, dropping the core pages each batch read: 100,000 stacks would
        // otherwise keep ~400 MB of the core mapping resident.
        let mut hits: Vec<(usize, Ref)> = Vec::new();
        for batch in t.goroutines().chunks(SCAN_BATCH) {
            hits.extend(self.scan_batch(t, mem, batch, &ranges, lo_all, hi_all));
            coroner::snapshot::elfcore::release_resident_pages();
        }
        self.keep_live(t, hits);
    }

    /// The references to the objects in these goroutines' live stack words.
    fn scan_batch(
        &self,
        t: &Target,
        mem: &dyn Memory,
        batch: &[Goroutine],
        ranges: &[(u64, u64, usize)],
        lo_all: u64,
        hi_all: u64,
    ) -> Vec<(usize, Ref)> {
        batch
            .par_iter()
            .filter(|g| g.state() != G_DEAD && !g.system)
            .flat_map_iter(|g| {
                let mut out = Vec::new();
                let (lo, hi) = (g.stack_lo.get(), g.stack_hi.get());
                // Only live frames count: below the SP lie stale words of returned
                // calls (a setup function's channels would look held forever).
                let start = live_sp(t, g)
                    .filter(|sp| *sp >= lo && *sp < hi)
                    .unwrap_or(lo);
                let start = start.max(hi.saturating_sub(MAX_STACK_SCAN)) & !7;
                let len = hi.saturating_sub(start);
                if len == 0 || hi <= lo {
                    return out.into_iter();
                }
                let Ok(bytes) = mem.read_bytes(Addr(start), len as usize) else {
                    return out.into_iter();
                };
                for (i, w) in bytes.chunks_exact(8).enumerate() {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(w);
                    let v = u64::from_le_bytes(b);
                    if v < lo_all || v >= hi_all {
                        continue;
                    }
                    if let Some(obj) = lookup(ranges, v) {
                        out.push((
                            obj,
                            Ref {
                                goid: g.goid,
                                at: Addr(start + 8 * i as u64),
                            },
                        ));
                    }
                }
                out.into_iter()
            })
            .collect()
    }

    /// Keeps the references in live stack slots (see `scan_stacks`).
    fn keep_live(&mut self, t: &Target, hits: Vec<(usize, Ref)>) {
        // A goroutine waiting on an object references it from its own runtime frames;
        // waiters are never wakers of their own object (the other side of a channel
        // comes from its queue), so only other goroutines' references matter.
        let waiting_on: HashSet<(u64, usize)> = self
            .waits
            .values()
            .flat_map(|w| w.cases.iter().map(move |c| (w.goid, c.obj)))
            .collect();
        // Keep only words the compiler says are live (stack maps): a frame's slots may
        // still hold pointers of calls that returned long ago.
        let mut by_g: HashMap<u64, Vec<(usize, Ref)>> = HashMap::default();
        for (obj, r) in hits {
            if !waiting_on.contains(&(r.goid, obj)) {
                by_g.entry(r.goid).or_default().push((obj, r));
            }
        }
        let groups: Vec<(u64, Vec<(usize, Ref)>)> = by_g.into_iter().collect();
        // Goroutines with the same frame-pointer key have the same frames at the same
        // offsets from their saved SP, so one unwind and one reading of the stack maps
        // serve them all, shifted (100,000 parked goroutines have a few hundred keys).
        // The live words' values, and so the stack objects they reach, stay each
        // goroutine's own.
        let table = common::fp_keys(t);
        let keys: Vec<Option<&common::PcKey>> = groups
            .iter()
            .map(|(goid, _)| t.goroutine(*goid).and_then(|g| table.get(&g.addr)))
            .collect();
        let first = common::representatives(&keys);
        let slots_of = |goid: u64| -> (u64, Vec<FrameSlots>) {
            match t.goroutine(goid) {
                Some(g) => (
                    g.sched.sp.get(),
                    live_frames(t, &t.goroutine_stack(g, common::STACK_DEPTH)),
                ),
                None => (0, Vec::new()),
            }
        };
        let reps: Vec<usize> = (0..first.len())
            .filter(|&i| first.get(i) == Some(&Some(i)))
            .collect();
        let shared: HashMap<usize, (u64, Vec<FrameSlots>)> = reps
            .par_iter()
            .filter_map(|&i| Some((i, slots_of(groups.get(i)?.0))))
            .collect();
        let kept: Vec<(usize, Ref)> = groups
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, (goid, rs))| {
                let rep = first.get(i).copied().flatten().and_then(|r| shared.get(&r));
                let sp = t.goroutine(*goid).map(|g| g.sched.sp.get());
                let frames = match (rep, sp) {
                    (Some((rep_sp, slots)), Some(sp)) => shifted(slots, sp.wrapping_sub(*rep_sp)),
                    _ => slots_of(*goid).1,
                };
                let frames = live_ranges(t, &frames);
                rs.iter()
                    .filter(|(_, r)| is_live_slot(&frames, r.at.get()))
                    .copied()
                    .collect::<Vec<_>>()
                    .into_iter()
            })
            .collect();
        for (obj, r) in kept {
            if let Some(v) = self.refs.get_mut(obj) {
                v.push(r);
            }
        }
    }

    /// Package variables: objects they contain get a name; objects they point at get a
    /// name and count as reachable by anyone.
    fn scan_globals(&mut self, t: &Target) {
        let ranges = self.ranges();
        let bin = t.binary();
        let bias = t.bias();
        // Objects that live inside a package variable.
        for o in self.objects.iter_mut() {
            let link = Addr(o.addr.get().wrapping_sub(bias));
            if let Some(s) = bin.symbol_at(link).filter(|s| s.size > 0) {
                let off = link.get().saturating_sub(s.addr.get());
                o.name = Some(global_field_name(t, s.name, off, false));
            }
        }
        let mem = t.memory();
        for sec in bin.sections() {
            if sec.name != ".data" && sec.name != ".bss" {
                continue;
            }
            let start = sec.addr.add(bias);
            let len = sec.size.min(MAX_DATA_SCAN) as usize;
            let Ok(bytes) = mem.read_bytes(start, len) else {
                self.problems.push(format!(
                    "{} not readable: package variables not scanned",
                    sec.name
                ));
                continue;
            };
            for (i, w) in bytes.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                let v = u64::from_le_bytes(b);
                let Some(obj) = lookup(&ranges, v) else {
                    continue;
                };
                let at = sec.addr.add(8 * i as u64);
                let Some(o) = self.objects.get_mut(obj) else {
                    continue;
                };
                o.global_ref = true;
                if o.name.is_none() {
                    o.name = Some(match bin.symbol_at(at) {
                        Some(s) => {
                            let off = at.get().saturating_sub(s.addr.get());
                            global_field_name(t, s.name, off, true)
                        }
                        None => format!("pointed to by package data at {}", hex(at.add(bias))),
                    });
                }
            }
        }
    }

    /// Sync objects no package variable names: named after the variable of the
    /// waiter's innermost user frame that holds them or points at them (DWARF), e.g.
    /// `s.Cond in pkg.(*Service).condWaiter` for a Cond a local `*Service` points at.
    fn name_from_frames(&mut self, t: &Target) {
        let Some(d) = t.dwarf() else { return };
        let mut waiter: HashMap<usize, u64> = HashMap::default();
        for w in self.waits.values() {
            for c in &w.cases {
                waiter.entry(c.obj).or_insert(w.goid);
            }
        }
        let mut named = Vec::new();
        for (i, o) in self.objects.iter().enumerate() {
            if o.name.is_some() || o.kind == ObjKind::Chan {
                continue;
            }
            let Some(st) = waiter.get(&i).and_then(|g| self.stacks.get(g)) else {
                continue;
            };
            let Some(no) = st
                .frames
                .iter()
                .position(|f| common::is_user_func(&f.function))
            else {
                continue;
            };
            let Some(f) = st.frames.get(no) else { continue };
            let mut overlay = Overlay::new(t.memory());
            let Ok(vars) = frame_vars(t, f, no, &mut overlay) else {
                continue;
            };
            let target = o.addr.get();
            let found = vars
                .iter()
                .filter(|v| v.unreadable.is_empty())
                .find_map(|v| {
                    let path = match v.kind {
                        Kind::Ptr => {
                            let p = overlay.read_u64(Addr(v.addr)).ok()?;
                            if p == target {
                                Some(String::new())
                            } else {
                                let ty = v.ty.strip_prefix('*')?;
                                path_to(d, &overlay, ty, p, target, o.kind, 0)
                            }
                        }
                        Kind::Struct => path_to(d, &overlay, &v.ty, v.addr, target, o.kind, 0),
                        _ => None,
                    }?;
                    Some(format!("{}{path} in {}", v.name, f.function))
                });
            if let Some(n) = found {
                named.push((i, n));
            }
        }
        for (i, n) in named {
            if let Some(o) = self.objects.get_mut(i) {
                o.name = Some(n);
            }
        }
    }

    /// Candidates that could end `case` for goroutine waiting in it: referencing
    /// goroutines minus those waiting on the same side; `None` means "anyone could"
    /// (a timer, a package variable, a closed channel, or an unknown lock holder).
    fn candidates(
        &self,
        case: Case,
        same_side: &HashMap<(usize, Option<ChanDir>), BTreeSet<u64>>,
        by_addr: &HashMap<Addr, &Goroutine>,
    ) -> Option<BTreeSet<u64>> {
        let o = self.objects.get(case.obj)?;
        let empty = BTreeSet::new();
        let waiting_same = same_side.get(&(case.obj, case.dir)).unwrap_or(&empty);
        let mut c: BTreeSet<u64> = self
            .refs
            .get(case.obj)
            .map(|v| v.iter().map(|r| r.goid).collect())
            .unwrap_or_default();
        c.retain(|g| !waiting_same.contains(g));
        match &o.chan {
            Some(ch) => {
                if ch.timer || ch.closed || o.global_ref {
                    return None;
                }
                // Goroutines queued on the other side would complete the operation.
                let other = match case.dir {
                    Some(ChanDir::Send) => &ch.recvq,
                    Some(ChanDir::Recv) => &ch.sendq,
                    None => return None,
                };
                for q in other {
                    if let Some(g) = by_addr.get(&q.g) {
                        c.insert(g.goid);
                    }
                }
                Some(c)
            }
            None => {
                if c.is_empty() {
                    None
                } else {
                    Some(c)
                }
            }
        }
    }

    fn solve(&mut self, by_addr: &HashMap<Addr, &Goroutine>) {
        // Who waits on each (object, side); a semaphore has one side.
        let mut same_side: HashMap<(usize, Option<ChanDir>), BTreeSet<u64>> = HashMap::default();
        for w in self.waits.values() {
            for c in &w.cases {
                let key = match self.objects.get(c.obj).map(|o| o.kind) {
                    Some(ObjKind::Chan) => (c.obj, c.dir),
                    _ => (c.obj, None),
                };
                same_side.entry(key).or_default().insert(w.goid);
            }
        }
        let mut cands: BTreeMap<u64, Option<BTreeSet<u64>>> = BTreeMap::new();
        let mut cache: HashMap<(usize, Option<ChanDir>), Option<BTreeSet<u64>>> =
            HashMap::default();
        for w in self.waits.values() {
            if w.forever.is_some() {
                cands.insert(w.goid, Some(BTreeSet::new()));
                continue;
            }
            let mut all = Some(BTreeSet::new());
            for c in &w.cases {
                let key = match self.objects.get(c.obj).map(|o| o.kind) {
                    Some(ObjKind::Chan) => (c.obj, c.dir),
                    _ => (c.obj, None),
                };
                let cs = cache
                    .entry(key)
                    .or_insert_with(|| {
                        self.candidates(
                            Case {
                                obj: c.obj,
                                dir: key.1,
                            },
                            &same_side,
                            by_addr,
                        )
                    })
                    .clone();
                match (cs, all.as_mut()) {
                    (Some(cs), Some(a)) => a.extend(cs.into_iter().filter(|g| *g != w.goid)),
                    _ => all = None,
                }
            }
            cands.insert(w.goid, all);
        }
        // Greatest fixed point: drop any goroutine someone outside the set could wake.
        let mut doomed: BTreeSet<u64> = cands
            .iter()
            .filter(|(_, c)| c.is_some())
            .map(|(g, _)| *g)
            .collect();
        loop {
            let drop: Vec<u64> = doomed
                .iter()
                .filter(|g| match cands.get(g) {
                    Some(Some(c)) => c.iter().any(|h| !doomed.contains(h)),
                    _ => true,
                })
                .copied()
                .collect();
            if drop.is_empty() {
                break;
            }
            for g in drop {
                doomed.remove(&g);
            }
        }
        for g in &doomed {
            if let Some(Some(c)) = cands.get(g) {
                self.edges.insert(*g, c.clone());
            }
        }
        self.doomed = doomed;
    }

    fn find_cycles(&mut self) {
        let sccs = tarjan(&self.doomed, &self.edges);
        let mut in_cycle: HashMap<u64, usize> = HashMap::default();
        for scc in sccs.into_iter().filter(|s| s.len() >= 2) {
            let mut objs: BTreeSet<usize> = BTreeSet::new();
            for g in &scc {
                if let Some(w) = self.waits.get(g) {
                    objs.extend(w.cases.iter().map(|c| c.obj));
                }
            }
            let kinds: BTreeSet<bool> = objs
                .iter()
                .filter_map(|o| self.objects.get(*o))
                .map(|o| o.kind == ObjKind::Chan)
                .collect();
            let kind = match (kinds.contains(&true), kinds.contains(&false)) {
                (true, false) => "channel cycle",
                (false, true) => "lock-order inversion",
                _ => "lock and channel cycle",
            };
            let idx = self.deadlocks.len();
            let mut members: Vec<u64> = scc.into_iter().collect();
            members.sort_unstable();
            for g in &members {
                in_cycle.insert(*g, idx);
            }
            self.deadlocks.push(Deadlock {
                kind,
                goroutines: members,
                objects: objs.into_iter().collect(),
                blocked_behind: Vec::new(),
            });
        }
        // Edge-less doomed goroutines: waits nothing can end, grouped by object.
        let mut forever_idx: HashMap<(String, Option<usize>), usize> = HashMap::default();
        let mut root_of: HashMap<u64, (bool, usize)> = HashMap::default();
        for (g, idx) in &in_cycle {
            root_of.insert(*g, (true, *idx));
        }
        for g in &self.doomed {
            if in_cycle.contains_key(g) || self.edges.get(g).is_some_and(|e| !e.is_empty()) {
                continue;
            }
            let Some(w) = self.waits.get(g) else { continue };
            let (reason, object) = match w.forever {
                Some(r) => (r.to_string(), None),
                None => (
                    "no other goroutine references the channel".to_string(),
                    w.cases.first().map(|c| c.obj),
                ),
            };
            let key = (reason.clone(), object);
            let idx = *forever_idx.entry(key).or_insert_with(|| {
                self.forever.push(Forever {
                    reason,
                    object,
                    goroutines: Vec::new(),
                    blocked_behind: Vec::new(),
                });
                self.forever.len() - 1
            });
            if let Some(f) = self.forever.get_mut(idx) {
                f.goroutines.push(*g);
            }
            root_of.insert(*g, (false, idx));
        }
        // Everyone else doomed waits behind a cycle or a forever wait: find which.
        for g in self.doomed.clone() {
            if root_of.contains_key(&g) {
                continue;
            }
            let mut seen = BTreeSet::new();
            let mut todo = vec![g];
            let mut found = None;
            while let Some(x) = todo.pop() {
                if !seen.insert(x) {
                    continue;
                }
                if let Some(r) = root_of.get(&x) {
                    found = Some(*r);
                    break;
                }
                if let Some(e) = self.edges.get(&x) {
                    todo.extend(e.iter().copied());
                }
            }
            match found {
                Some((true, i)) => {
                    if let Some(d) = self.deadlocks.get_mut(i) {
                        d.blocked_behind.push(g);
                    }
                }
                Some((false, i)) => {
                    if let Some(f) = self.forever.get_mut(i) {
                        f.blocked_behind.push(g);
                    }
                }
                None => {}
            }
        }
    }

    /// The frame of goroutine `goid` whose stack range holds address `at`.
    pub fn frame_holding(&self, goid: u64, at: Addr) -> Option<String> {
        let st = self.stacks.get(&goid)?;
        st.frames
            .iter()
            .filter(|f| !f.inlined)
            .find(|f| f.sp <= at && (f.cfa.is_null() || at < f.cfa))
            .map(common::frame_loc)
    }

    /// Objects of `objs` that goroutine `goid` references (holds, or will use), with
    /// the frame holding the reference.
    pub fn held_by(&self, goid: u64, objs: &[usize]) -> Vec<(usize, Option<String>)> {
        let mut out = Vec::new();
        let waits_on: BTreeSet<usize> = self
            .waits
            .get(&goid)
            .map(|w| w.cases.iter().map(|c| c.obj).collect())
            .unwrap_or_default();
        for &o in objs {
            if waits_on.contains(&o) {
                continue;
            }
            if let Some(r) = self
                .refs
                .get(o)
                .and_then(|rs| rs.iter().find(|r| r.goid == goid))
            {
                out.push((o, self.frame_holding(goid, r.at)));
            }
        }
        out
    }
}

/// The lowest live stack address of a goroutine: its saved SP when parked or
/// runnable, its syscall SP in a syscall, else its innermost frame on its own stack
/// (a running goroutine's registers are on its thread, maybe behind a signal frame).
fn live_sp(t: &Target, g: &Goroutine) -> Option<u64> {
    let (lo, hi) = (g.stack_lo.get(), g.stack_hi.get());
    let inside = |a: u64| a >= lo && a < hi;
    match g.state() {
        G_SYSCALL if inside(g.syscall_sp.get()) => Some(g.syscall_sp.get()),
        G_RUNNING | G_SYSCALL => t
            .goroutine_stack(g, 16)
            .frames
            .iter()
            .map(|f| f.sp.get())
            .find(|sp| inside(*sp)),
        _ => Some(g.sched.sp.get()).filter(|sp| inside(*sp)),
    }
}

/// `slots` moved by `delta` (wrapping: a goroutine lower on the heap than the one
/// the slots were read from has a "negative" delta). 0 stays 0: it is "no CFA" (the
/// outermost frame), not an address.
fn shifted(slots: &[FrameSlots], delta: u64) -> Vec<FrameSlots> {
    let mv = |a: u64| if a == 0 { 0 } else { a.wrapping_add(delta) };
    slots
        .iter()
        .map(|f| FrameSlots {
            lo: mv(f.lo),
            hi: mv(f.hi),
            conservative: f.conservative,
            words: f.words.iter().map(|&w| mv(w)).collect(),
            objects: f.objects.iter().map(|&(lo, hi)| (mv(lo), mv(hi))).collect(),
        })
        .collect()
}

/// Live pointer slots of one physical frame, from its stack maps.
#[derive(Debug, Default, PartialEq)]
struct FrameSlots {
    /// [sp, cfa) of the frame.
    lo: u64,
    hi: u64,
    /// Maps missing (assembly, unknown PC): every word of the frame counts.
    conservative: bool,
    /// Live pointer words (addresses).
    words: Vec<u64>,
    /// Address-taken stack objects (closures of defers, locals whose address escapes
    /// into a call): scanned whole.
    objects: Vec<(u64, u64)>,
}

const PCDATA_STACK_MAP_INDEX: u32 = 1;
const FUNCDATA_ARGS_POINTER_MAPS: u8 = 0;
const FUNCDATA_LOCALS_POINTER_MAPS: u8 = 1;
const FUNCDATA_STACK_OBJECTS: u8 = 2;

/// One bit vector of a runtime.stackmap: `(nbit, bits)` for index `idx`.
fn stackmap_bits(t: &Target, addr: u64, idx: i32) -> Option<(u64, Vec<u8>)> {
    let mem = t.memory();
    let a = Addr(addr.checked_add(t.bias())?);
    let n = mem.read_u32(a).ok()? as i32;
    let nbit = mem.read_u32(a.add(4)).ok()? as i32;
    if idx < 0 || idx >= n || !(0..1 << 20).contains(&nbit) {
        return None;
    }
    let bytes = (nbit as u64).div_ceil(8);
    let off = 8u64.checked_add((idx as u64).checked_mul(bytes)?)?;
    let bits = mem.read_bytes(a.add(off), bytes as usize).ok()?;
    Some((nbit as u64, bits))
}

/// The live slots of every physical frame, the way the garbage collector finds them
/// (runtime.getStackMap).
fn live_frames(t: &Target, st: &Stack) -> Vec<FrameSlots> {
    let pcln = t.pclntab();
    let bias = t.bias();
    let mut out = Vec::new();
    for (i, f) in st.frames.iter().enumerate().filter(|(_, f)| !f.inlined) {
        let (sp, cfa) = (f.sp.get(), f.cfa.get());
        let mut fs = FrameSlots {
            lo: sp,
            hi: cfa,
            ..Default::default()
        };
        let link = f.pc.get().wrapping_sub(bias);
        let Some(func) = pcln.func_for_pc(Addr(link)) else {
            fs.conservative = true;
            out.push(fs);
            continue;
        };
        // The innermost frame resumes at its PC; outer ones at the return address,
        // whose map is the CALL's.
        let entry = func.entry.get();
        let idx = if link != entry {
            let look = if i == 0 { link } else { link - 1 };
            pcln.pcdata(&func, PCDATA_STACK_MAP_INDEX, Addr(look))
                .unwrap_or(0)
        } else {
            -1
        };
        let idx = if idx < 0 { 0 } else { idx };
        if cfa == 0 || cfa <= sp {
            fs.conservative = true;
            out.push(fs);
            continue;
        }
        // varp: below the return address and the saved frame pointer (amd64).
        let mut varp = cfa - 8;
        if varp > sp {
            varp -= 8;
        }
        let mut any_map = false;
        if let Some(m) = pcln.funcdata(&func, FUNCDATA_LOCALS_POINTER_MAPS) {
            if let Some((nbit, bits)) = stackmap_bits(t, m, idx) {
                any_map = true;
                let base = varp.saturating_sub(nbit * 8);
                for b in 0..nbit {
                    let byte = bits.get((b / 8) as usize).copied().unwrap_or(0);
                    if byte & (1 << (b % 8)) != 0 {
                        fs.words.push(base + 8 * b);
                    }
                }
            }
        }
        if let Some(m) = pcln.funcdata(&func, FUNCDATA_ARGS_POINTER_MAPS) {
            if let Some((nbit, bits)) = stackmap_bits(t, m, idx) {
                any_map = true;
                for b in 0..nbit {
                    let byte = bits.get((b / 8) as usize).copied().unwrap_or(0);
                    if byte & (1 << (b % 8)) != 0 {
                        fs.words.push(cfa + 8 * b);
                    }
                }
            }
        }
        if let Some(p) = pcln.funcdata(&func, FUNCDATA_STACK_OBJECTS) {
            let mem = t.memory();
            let a = Addr(p.wrapping_add(bias));
            let n = mem.read_u64(a).unwrap_or(0).min(1024);
            for k in 0..n {
                let r = a.add(8 + 16 * k);
                let (Ok(off), Ok(size), Ok(ptr)) = (
                    mem.read_u32(r),
                    mem.read_u32(r.add(4)),
                    mem.read_u32(r.add(8)),
                ) else {
                    break;
                };
                // Only the object's pointer-bearing prefix (ptrdata; negative for a GC
                // program, then all of it): pointer-free buffers keep stale bytes.
                let ptr = ptr as i32;
                let size = if ptr >= 0 {
                    u64::from(size).min(ptr as u64)
                } else {
                    u64::from(size)
                };
                if size == 0 {
                    continue;
                }
                let off = off as i32 as i64;
                let start = if off < 0 {
                    (varp as i64).checked_add(off)
                } else {
                    (cfa as i64).checked_add(off)
                };
                if let Some(start) = start.and_then(|s| u64::try_from(s).ok()) {
                    fs.objects.push((start, start.saturating_add(size)));
                }
            }
        }
        // Functions the runtime scans without maps (assembly) hold no Go pointers of
        // their own; keep them conservative only when they are not runtime code.
        fs.conservative = !any_map && !f.function.starts_with("runtime.");
        out.push(fs);
    }
    out
}

/// Live ranges of a stack: live pointer words, conservative frames, and the stack
/// objects a live pointer reaches (transitively), as the garbage collector decides.
fn live_ranges(t: &Target, frames: &[FrameSlots]) -> Vec<(u64, u64)> {
    let mem = t.memory();
    let mut live: Vec<(u64, u64)> = Vec::new();
    let mut values: Vec<u64> = Vec::new();
    for f in frames {
        if f.conservative && f.hi > f.lo {
            live.push((f.lo, f.hi));
        }
        for w in &f.words {
            live.push((*w, w + 8));
            if let Ok(v) = mem.read_u64(Addr(*w)) {
                values.push(v);
            }
        }
    }
    let mut objs: Vec<(u64, u64)> = frames
        .iter()
        .flat_map(|f| f.objects.iter().copied())
        .collect();
    loop {
        type Ranges = Vec<(u64, u64)>;
        let (reached, rest): (Ranges, Ranges) = objs
            .iter()
            .partition(|(lo, hi)| values.iter().any(|v| *lo <= *v && *v < *hi));
        if reached.is_empty() {
            break;
        }
        for (lo, hi) in reached {
            live.push((lo, hi));
            let mut a = lo;
            while a < hi {
                if let Ok(v) = mem.read_u64(Addr(a)) {
                    values.push(v);
                }
                a += 8;
            }
        }
        objs = rest;
    }
    live
}

fn is_live_slot(live: &[(u64, u64)], a: u64) -> bool {
    live.iter().any(|(lo, hi)| *lo <= a && a < *hi)
}

fn lookup(ranges: &[(u64, u64, usize)], v: u64) -> Option<usize> {
    let i = ranges.partition_point(|r| r.0 <= v);
    let r = ranges.get(i.checked_sub(1)?)?;
    (v < r.1).then_some(r.2)
}

/// `pkg.var.field` for offset `off` inside package variable `sym` (DWARF types), or
/// `*pkg.var` (deref) for an object the variable points at.
fn global_field_name(t: &Target, sym: &str, off: u64, deref: bool) -> String {
    let base = if deref {
        format!("*{sym}")
    } else if off == 0 {
        sym.to_string()
    } else {
        format!("{sym}+{off}")
    };
    let Some(d) = t.dwarf() else { return base };
    let Some((_, Some(ty))) = d.global(sym) else {
        return base;
    };
    let (ty, off) = if deref {
        // The pointer points at the object itself: the field at offset 0.
        if off != 0 {
            return base;
        }
        match ty.strip_prefix('*') {
            Some(s) => (s.to_string(), 0),
            // A chan (or other reference) variable: it is the object's name.
            None => return sym.to_string(),
        }
    } else {
        (ty, off)
    };
    let mut path = Vec::new();
    let mut cur = ty;
    let mut rem = off;
    for _ in 0..8 {
        // Stop at the sync type itself rather than naming its first field.
        if rem == 0 && (cur.starts_with("sync.") || cur.starts_with("internal/sync.")) {
            break;
        }
        let Some(l) = d.struct_layout(&cur) else {
            break;
        };
        let Some(f) = l
            .fields
            .iter()
            .rev()
            .find(|f| f.offset <= rem && rem < f.offset + f.size.unwrap_or(1).max(1))
        else {
            break;
        };
        path.push(f.name.clone());
        rem -= f.offset;
        cur = f.type_name.clone();
    }
    if path.is_empty() {
        return if deref || off == 0 {
            sym.to_string()
        } else {
            base
        };
    }
    format!("{sym}.{}", path.join("."))
}

/// Fields followed inside one value when naming an object.
const MAX_FIELD_DEPTH: u32 = 6;

/// The `.field.path` inside a value of DWARF type `ty` at `base` that holds `target`
/// (an object of `kind` embedded in it) or points at it (a pointer field).
fn path_to(
    d: &Dwarf,
    mem: &dyn Memory,
    ty: &str,
    base: u64,
    target: u64,
    kind: ObjKind,
    depth: u32,
) -> Option<String> {
    if depth > MAX_FIELD_DEPTH {
        return None;
    }
    let l = d.struct_layout(ty)?;
    for f in &l.fields {
        if f.type_name.starts_with('*') {
            let at = base.checked_add(f.offset)?;
            if mem.read_u64(Addr(at)).ok() == Some(target) {
                return Some(format!(".{}", f.name));
            }
        }
    }
    let rel = target.checked_sub(base)?;
    let f =
        l.fields.iter().rev().find(|f| {
            f.offset <= rel && rel < f.offset.saturating_add(f.size.unwrap_or(1).max(1))
        })?;
    if rel == f.offset && f.type_name == kind.as_str() {
        return Some(format!(".{}", f.name));
    }
    let inner = path_to(
        d,
        mem,
        &f.type_name,
        base.checked_add(f.offset)?,
        target,
        kind,
        depth + 1,
    )?;
    Some(format!(".{}{inner}", f.name))
}

/// Strongly connected components (iterative Tarjan) of the doomed subgraph.
fn tarjan(nodes: &BTreeSet<u64>, edges: &BTreeMap<u64, BTreeSet<u64>>) -> Vec<Vec<u64>> {
    let mut index: HashMap<u64, usize> = HashMap::default();
    let mut low: HashMap<u64, usize> = HashMap::default();
    let mut on_stack: BTreeSet<u64> = BTreeSet::new();
    let mut stack: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0usize;
    let empty = BTreeSet::new();
    for &root in nodes {
        if index.contains_key(&root) {
            continue;
        }
        // (node, iterator position over its successors)
        let mut call: Vec<(u64, Vec<u64>, usize)> = Vec::new();
        let succ = |n: u64| -> Vec<u64> {
            edges
                .get(&n)
                .unwrap_or(&empty)
                .iter()
                .copied()
                .filter(|m| nodes.contains(m))
                .collect()
        };
        index.insert(root, next);
        low.insert(root, next);
        next += 1;
        stack.push(root);
        on_stack.insert(root);
        call.push((root, succ(root), 0));
        while let Some((v, succs, pos)) = call.last_mut() {
            let v = *v;
            if let Some(&w) = succs.get(*pos) {
                *pos += 1;
                match index.get(&w).copied() {
                    None => {
                        index.insert(w, next);
                        low.insert(w, next);
                        next += 1;
                        stack.push(w);
                        on_stack.insert(w);
                        let s = succ(w);
                        call.push((w, s, 0));
                    }
                    Some(lw) if on_stack.contains(&w) => {
                        if let Some(lv) = low.get_mut(&v) {
                            *lv = (*lv).min(lw);
                        }
                    }
                    Some(_) => {}
                }
                continue;
            }
            call.pop();
            let lv = low.get(&v).copied().unwrap_or(usize::MAX);
            if let Some((parent, _, _)) = call.last() {
                if let Some(lp) = low.get_mut(parent) {
                    *lp = (*lp).min(lv);
                }
            }
            if Some(&lv) == index.get(&v) {
                let mut comp = Vec::new();
                while let Some(x) = stack.pop() {
                    on_stack.remove(&x);
                    comp.push(x);
                    if x == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `keep_live` reads the stack-map slots of one goroutine per frame-pointer key and
    /// shifts them to the others: on every hang fixture core, each goroutine's own
    /// slots must equal its representative's, shifted.
    #[test]
    fn shifted_slots_equal_each_goroutines_own() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/fixtures-hangs");
        let Ok(rd) = std::fs::read_dir(&root) else {
            eprintln!("SKIPPED: {} missing", root.display());
            return;
        };
        let mut shared = 0;
        for dir in rd.flatten().map(|e| e.path()) {
            let Ok(cores) = std::fs::read_dir(&dir) else {
                continue;
            };
            for core in cores.flatten().map(|e| e.path()) {
                if !core.to_string_lossy().ends_with(".core.zst") {
                    continue;
                }
                let t = Target::open(&coroner::target::OpenOptions {
                    binary: dir.join("hangs.zst"),
                    core: core.clone(),
                    force: false,
                })
                .unwrap_or_else(|e| panic!("{}: {e}", core.display()));
                let table = common::fp_keys(&t);
                let mut reps: HashMap<&common::PcKey, (u64, Vec<FrameSlots>)> = HashMap::default();
                for g in t.goroutines() {
                    let Some(k) = table.get(&g.addr) else {
                        continue;
                    };
                    let own = live_frames(&t, &t.goroutine_stack(g, common::STACK_DEPTH));
                    let sp = g.sched.sp.get();
                    match reps.get(k) {
                        Some((rep_sp, slots)) => {
                            shared += 1;
                            assert_eq!(
                                shifted(slots, sp.wrapping_sub(*rep_sp)),
                                own,
                                "{}: goroutine {}",
                                core.display(),
                                g.goid
                            );
                        }
                        None => {
                            reps.insert(k, (sp, own));
                        }
                    }
                }
            }
        }
        assert!(
            shared > 100,
            "only {shared} goroutines shared a key with another"
        );
    }

    #[test]
    fn tarjan_finds_cycles_only() {
        let nodes: BTreeSet<u64> = [1, 2, 3, 4, 5].into_iter().collect();
        let mut e: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        e.insert(1, [2].into_iter().collect());
        e.insert(2, [1].into_iter().collect());
        e.insert(3, [1].into_iter().collect());
        e.insert(4, [5].into_iter().collect());
        let mut big: Vec<Vec<u64>> = tarjan(&nodes, &e)
            .into_iter()
            .filter(|s| s.len() > 1)
            .map(|mut s| {
                s.sort_unstable();
                s
            })
            .collect();
        big.sort();
        assert_eq!(big, vec![vec![1, 2]]);
    }

    #[test]
    fn lookup_ranges() {
        let r = vec![(10, 18, 0), (100, 101, 1)];
        assert_eq!(lookup(&r, 9), None);
        assert_eq!(lookup(&r, 10), Some(0));
        assert_eq!(lookup(&r, 17), Some(0));
        assert_eq!(lookup(&r, 18), None);
        assert_eq!(lookup(&r, 100), Some(1));
        assert_eq!(lookup(&r, 101), None);
    }
}
