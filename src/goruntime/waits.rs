//! Who waits on what: the sudogs of `g.waiting` (channel operations and select cases),
//! channels' `recvq`/`sendq`, and the runtime's semaphore table (`runtime.semtable`, a
//! treap of sudogs keyed by semaphore address: sync.Mutex, RWMutex, WaitGroup), and
//! the `notifyList` of the `sync.Cond` each `sync.Cond.Wait` goroutine is queued on.
//!
//! Layouts come from DWARF when the binary has it, else from built-in per-release
//! offsets (checked against DWARF by a test, like `layout.rs`). Nothing here fails:
//! what cannot be read is listed in [`Waits::problems`].

use crate::addr::Addr;
use crate::goruntime::locate::rip_relative_operands;
use crate::goruntime::model::Inputs;
use crate::goruntime::rtype::TypeReader;
use crate::goruntime::Goroutine;
use crate::snapshot::Memory;
use crate::symbols::dwarf::Dwarf;
use crate::target::Target;
use rayon::prelude::*;
use std::collections::hash_map::Entry;
// Keyed by addresses, filled per goroutine: the fast hasher.
use crate::fasthash::{FastMap as HashMap, FastSet as HashSet};

/// runtime.semTabSize, unchanged since Go 1.8.
pub const SEM_TAB_SIZE: u64 = 251;
/// Bound on sudogs followed from one list or tree: corrupt memory must not loop.
const MAX_SUDOGS: usize = 1 << 20;
/// A select has at most 65536 cases (runtime.selectgo).
const MAX_SELECT_CASES: usize = 1 << 16;

/// Offsets inside `runtime.sudog`, `runtime.hchan` and the semaphore table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitLayouts {
    pub sudog_g: u64,
    pub sudog_next: u64,
    pub sudog_prev: u64,
    /// Go 1.26+: the `vu` word of `maybeTraceablePtr` (the source of truth).
    pub sudog_elem: u64,
    pub sudog_is_select: u64,
    pub sudog_parent: u64,
    pub sudog_waitlink: u64,
    /// Go 1.26+: the `vu` word of `maybeTraceableChan`.
    pub sudog_c: u64,
    pub hchan_qcount: u64,
    pub hchan_dataqsiz: u64,
    pub hchan_closed: u64,
    /// Go 1.23+: timer feeding the channel (time.Timer/Ticker channels).
    pub hchan_timer: Option<u64>,
    pub hchan_elemtype: u64,
    pub hchan_recvq: u64,
    pub hchan_sendq: u64,
    /// Size of one semtable entry (semaRoot padded to a cache line).
    pub semtab_stride: u64,
    /// Offset of `treap` inside `runtime.semaRoot`.
    pub semaroot_treap: u64,
}

/// Where [`WaitLayouts`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitLayoutSource {
    Dwarf,
    BuiltIn { minor: u32 },
}

impl WaitLayouts {
    /// The built-in layout for Go 1.`minor` (nearest older known release; None before
    /// 1.19). Read off the DWARF of each release's binaries; see the test below.
    pub fn builtin(major: u32, minor: u32) -> Option<WaitLayouts> {
        if major != 1 || minor < 19 {
            return None;
        }
        // sudog gained maybeTraceable{Ptr,Chan} (two words) for elem and c in 1.26.
        let (elem, is_select, parent, waitlink, c) = if minor >= 26 {
            (32, 60, 64, 72, 96)
        } else {
            (24, 52, 56, 64, 80)
        };
        // hchan gained `timer *timer` after `closed` in 1.23.
        let (timer, elemtype, recvq, sendq) = if minor >= 23 {
            (Some(32), 40, 64, 80)
        } else {
            (None, 32, 56, 72)
        };
        Some(WaitLayouts {
            sudog_g: 0,
            sudog_next: 8,
            sudog_prev: 16,
            sudog_elem: elem,
            sudog_is_select: is_select,
            sudog_parent: parent,
            sudog_waitlink: waitlink,
            sudog_c: c,
            hchan_qcount: 0,
            hchan_dataqsiz: 8,
            hchan_closed: 28,
            hchan_timer: timer,
            hchan_elemtype: elemtype,
            hchan_recvq: recvq,
            hchan_sendq: sendq,
            semtab_stride: 64,
            semaroot_treap: 8,
        })
    }

    /// Layouts from DWARF; None if a field is missing.
    pub fn from_dwarf(d: &Dwarf) -> Option<WaitLayouts> {
        let s = |p: &str| d.field_offset("runtime.sudog", p);
        let h = |p: &str| d.field_offset("runtime.hchan", p);
        // 1.26+ wraps elem and c; `vu` holds the address whether or not it is traced.
        let elem = s("elem.vu").or_else(|| s("elem"))?;
        let c = s("c.vu").or_else(|| s("c"))?;
        let stride = d.type_size("runtime.semTable")? / SEM_TAB_SIZE;
        Some(WaitLayouts {
            sudog_g: s("g")?,
            sudog_next: s("next")?,
            sudog_prev: s("prev")?,
            sudog_elem: elem,
            sudog_is_select: s("isSelect")?,
            sudog_parent: s("parent")?,
            sudog_waitlink: s("waitlink")?,
            sudog_c: c,
            hchan_qcount: h("qcount")?,
            hchan_dataqsiz: h("dataqsiz")?,
            hchan_closed: h("closed")?,
            hchan_timer: h("timer"),
            hchan_elemtype: h("elemtype")?,
            hchan_recvq: h("recvq")?,
            hchan_sendq: h("sendq")?,
            semtab_stride: stride,
            semaroot_treap: d.field_offset("runtime.semaRoot", "treap")?,
        })
    }
}

/// Offsets for `sync.Cond` waits: the Cond's `notify` (a `notifyList`), and the
/// sudog queue inside it. Separate from [`WaitLayouts`] because a binary that never
/// uses sync.Cond has no DWARF for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondLayouts {
    /// Offset of `notify` in `sync.Cond` (after `noCopy` and the `L Locker` interface).
    pub cond_notify: u64,
    /// Offsets of `head` and `tail` (sudog pointers) in `notifyList`.
    pub notifylist_head: u64,
    pub notifylist_tail: u64,
    /// Size of `sync.Cond`.
    pub cond_size: u64,
}

impl CondLayouts {
    /// The built-in layout: unchanged from Go 1.19 through 1.27 (read off each
    /// release's DWARF; see `analyzers/tests/hangs_fixtures.rs`).
    pub fn builtin(major: u32, minor: u32) -> Option<CondLayouts> {
        if major != 1 || minor < 19 {
            return None;
        }
        Some(CondLayouts {
            cond_notify: 16,
            notifylist_head: 16,
            notifylist_tail: 24,
            cond_size: 56,
        })
    }

    /// Layouts from DWARF; None if the binary's DWARF lacks sync.Cond.
    pub fn from_dwarf(d: &Dwarf) -> Option<CondLayouts> {
        let c = |p: &str| d.field_offset("sync.Cond", p);
        let notify = c("notify")?;
        Some(CondLayouts {
            cond_notify: notify,
            notifylist_head: c("notify.head")?.checked_sub(notify)?,
            notifylist_tail: c("notify.tail")?.checked_sub(notify)?,
            cond_size: d.type_size("sync.Cond")?,
        })
    }
}

/// A goroutine queued on a `sync.Cond`'s notifyList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondWait {
    pub sudog: Addr,
    pub g: Addr,
    /// The `notifyList` (`&c.notify`) holding the sudog.
    pub list: Addr,
    /// The `sync.Cond` (`list - cond_notify`).
    pub cond: Addr,
}

/// Direction of a channel operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChanDir {
    Send,
    Recv,
}

impl ChanDir {
    pub fn as_str(self) -> &'static str {
        match self {
            ChanDir::Send => "send",
            ChanDir::Recv => "recv",
        }
    }
}

/// One sudog of a goroutine's `g.waiting` list: a channel operation or select case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanWait {
    pub sudog: Addr,
    pub chan: Addr,
    /// From the queue the sudog sits in; None if it is in neither.
    pub dir: Option<ChanDir>,
    pub is_select: bool,
}

/// A goroutine queued on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub sudog: Addr,
    pub g: Addr,
}

/// A channel (`runtime.hchan`) some goroutine waits on.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    pub addr: Addr,
    pub qcount: u64,
    pub dataqsiz: u64,
    pub closed: bool,
    /// Element type as the runtime names it, when type names are readable.
    pub elem_type: Option<String>,
    /// A runtime timer feeds it (hchan.timer on 1.23+, else an element type of
    /// time.Time): it will receive a value without any goroutine sending.
    pub timer: bool,
    pub recvq: Vec<Queued>,
    pub sendq: Vec<Queued>,
}

/// A goroutine parked in the semaphore table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemaWait {
    pub sudog: Addr,
    pub g: Addr,
    /// The semaphore's address (the sudog's elem): a field of a sync primitive.
    pub sema: Addr,
}

/// Everything read about waits in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Waits {
    pub layouts: Option<WaitLayouts>,
    pub source: Option<WaitLayoutSource>,
    /// Per goroutine (runtime.g address): its `g.waiting` list.
    pub chan_waits: HashMap<Addr, Vec<ChanWait>>,
    pub channels: HashMap<Addr, Channel>,
    /// Per goroutine (runtime.g address): the semaphore it is parked on.
    pub sema_waits: HashMap<Addr, SemaWait>,
    /// Address of runtime.semtable, when found.
    pub semtable: Option<Addr>,
    /// Per goroutine (runtime.g address): the sync.Cond it waits on.
    pub cond_waits: HashMap<Addr, CondWait>,
    pub cond_layouts: Option<CondLayouts>,
    /// What could not be read.
    pub problems: Vec<String>,
}

impl Waits {
    /// Read the waits of every waiting goroutine of `t`.
    pub fn read(t: &Target) -> Waits {
        let mut w = Waits::default();
        let v = &t.runtime().version;
        let from_dwarf = t.dwarf().and_then(WaitLayouts::from_dwarf);
        let (l, src) = match from_dwarf {
            Some(l) => (l, WaitLayoutSource::Dwarf),
            None => match WaitLayouts::builtin(v.major, v.minor) {
                Some(l) => (l, WaitLayoutSource::BuiltIn { minor: v.minor }),
                None => {
                    w.problems.push(format!(
                        "no sudog/hchan layout for {}: waits not read",
                        v.raw
                    ));
                    return w;
                }
            },
        };
        if t.dwarf().is_some() && src != WaitLayoutSource::Dwarf {
            w.problems
                .push("DWARF lacks runtime.sudog/hchan/semTable: built-in layouts used".into());
        }
        let mem = t.memory();
        let g_waiting = t.runtime().layouts.g.waiting;
        for g in t.goroutines().iter().filter(|g| g.is_waiting()) {
            let list = read_waiting_list(mem, &l, g, g_waiting);
            if !list.is_empty() {
                w.chan_waits.insert(g.addr, list);
            }
        }
        let tr = t.type_reader();
        let chans: HashSet<Addr> = w
            .chan_waits
            .values()
            .flatten()
            .map(|c| c.chan)
            .filter(|c| !c.is_null())
            .collect();
        for c in chans {
            match read_channel(mem, &l, &tr, c) {
                Ok(ch) => {
                    w.channels.insert(c, ch);
                }
                Err(e) => w.problems.push(format!("channel {c}: {e}")),
            }
        }
        // Direction of each wait: which of its channel's queues holds the sudog. One
        // lookup per wait (tens of thousands of goroutines may wait on one channel:
        // scanning its queue for each was quadratic).
        let queued: HashMap<(Addr, Addr), ChanDir> = w
            .channels
            .values()
            .flat_map(|ch| {
                let send = ch.sendq.iter().map(|q| ((ch.addr, q.sudog), ChanDir::Send));
                let recv = ch.recvq.iter().map(|q| ((ch.addr, q.sudog), ChanDir::Recv));
                // Recv wins when a sudog is in both (it never is; the old order).
                send.chain(recv)
            })
            .collect();
        for list in w.chan_waits.values_mut() {
            for cw in list.iter_mut() {
                if let Some(&d) = queued.get(&(cw.chan, cw.sudog)) {
                    cw.dir = Some(d);
                }
            }
        }
        match find_semtable(t, &l) {
            Some(st) => {
                w.semtable = Some(st);
                let waiters = read_semtable(mem, &l, st);
                let live: HashSet<Addr> = t.goroutines().iter().map(|g| g.addr).collect();
                for sw in waiters {
                    if live.contains(&sw.g) {
                        w.sema_waits.insert(sw.g, sw);
                    }
                }
            }
            None => w
                .problems
                .push("runtime.semtable not found: mutex and WaitGroup waits not mapped".into()),
        }
        read_cond_waits(t, &l, &mut w);
        w.layouts = Some(l);
        w.source = Some(src);
        w
    }
}

/// Wait reason of goroutines parked in `sync.(*Cond).Wait`.
pub const COND_WAIT_REASON: &str = "sync.Cond.Wait";
/// Stack bytes scanned above a Cond waiter's SP when its `Wait` frame is not found.
const COND_SCAN_FALLBACK: u64 = 1024;
/// Bytes above `sync.(*Cond).Wait`'s CFA scanned too: its argument spill slots (the
/// receiver) live at the bottom of its caller's frame.
const COND_SCAN_ARGS: u64 = 64;

/// Map each `sync.Cond.Wait` goroutine to its Cond. The runtime records no link from a
/// parked goroutine to its notifyList (before Go 1.26, which points `g.waiting` at
/// the sudog, whose `elem` is the list), so candidates are the words of the
/// goroutine's innermost frames, through `sync.(*Cond).Wait` and its spilled receiver:
/// each word is tried as `c` and as `&c.notify`, and kept only if that notifyList's
/// sudog chain holds this goroutine and ends at the list's tail.
fn read_cond_waits(t: &Target, l: &WaitLayouts, w: &mut Waits) {
    let waiters: Vec<&Goroutine> = t
        .goroutines()
        .iter()
        .filter(|g| g.is_waiting() && g.wait_reason.as_deref() == Some(COND_WAIT_REASON))
        .collect();
    if waiters.is_empty() {
        return;
    }
    let v = &t.runtime().version;
    let cl = match t.dwarf().and_then(CondLayouts::from_dwarf) {
        Some(cl) => cl,
        None => match CondLayouts::builtin(v.major, v.minor) {
            Some(cl) => cl,
            None => {
                w.problems.push(format!(
                    "no sync.Cond layout for {}: sync.Cond waits not mapped",
                    v.raw
                ));
                return;
            }
        },
    };
    let mem = t.memory();
    let g_waiting = t.runtime().layouts.g.waiting;
    // Unwinding is the costly part: in parallel, yielding each waiter's candidates.
    let cands: Vec<(Addr, Vec<Addr>)> = waiters
        .par_iter()
        .map(|g| (g.addr, cond_candidates(t, l, &cl, g, g_waiting)))
        .collect();
    let live: HashSet<Addr> = t.goroutines().iter().map(|g| g.addr).collect();
    // notifyList -> (goroutine -> its sudog), for lists already validated: many
    // goroutines usually wait on the same Cond.
    let mut lists: HashMap<Addr, HashMap<Addr, Addr>> = HashMap::default();
    let mut rejected: HashSet<Addr> = HashSet::default();
    let mut unmapped = 0usize;
    for (g, cs) in cands {
        let mut found = None;
        for list in cs {
            let q = match lists.entry(list) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    if rejected.contains(&list) {
                        continue;
                    }
                    match read_notify_list(mem, l, &cl, &live, list) {
                        Some(q) => e.insert(q),
                        None => {
                            rejected.insert(list);
                            continue;
                        }
                    }
                }
            };
            if let Some(sudog) = q.get(&g) {
                found = Some((list, *sudog));
                break;
            }
        }
        match found {
            Some((list, sudog)) => {
                w.cond_waits.insert(
                    g,
                    CondWait {
                        sudog,
                        g,
                        list,
                        cond: list.sub(cl.cond_notify),
                    },
                );
            }
            None => unmapped += 1,
        }
    }
    if unmapped > 0 {
        w.problems.push(format!(
            "{unmapped} sync.Cond.Wait goroutine(s): their sync.Cond was not found"
        ));
    }
    w.cond_layouts = Some(cl);
}

/// Candidate notifyList addresses for one Cond waiter, most likely first.
fn cond_candidates(
    t: &Target,
    l: &WaitLayouts,
    cl: &CondLayouts,
    g: &Goroutine,
    g_waiting: u64,
) -> Vec<Addr> {
    let mem = t.memory();
    let mut out = Vec::new();
    // Go 1.26+: g.waiting is the sudog and its elem the notifyList.
    if let Ok(s) = mem.read_ptr(g.addr.add(g_waiting)) {
        if !s.is_null() && mem.read_ptr(s.add(l.sudog_g)).ok() == Some(g.addr) {
            if let Ok(list) = mem.read_ptr(s.add(l.sudog_elem)) {
                if !list.is_null() {
                    out.push(list);
                }
            }
        }
    }
    let (lo, hi) = (g.stack_lo.get(), g.stack_hi.get());
    let sp = g.sched.sp.get();
    if sp < lo || sp >= hi {
        return out;
    }
    let st = t.goroutine_stack(g, 8);
    let end = st
        .frames
        .iter()
        .find(|f| f.function == "sync.(*Cond).Wait")
        .map(|f| f.cfa.get())
        .filter(|cfa| *cfa > sp)
        .map(|cfa| cfa.saturating_add(COND_SCAN_ARGS))
        .unwrap_or_else(|| sp.saturating_add(COND_SCAN_FALLBACK))
        .min(hi);
    let start = sp & !7;
    let Ok(bytes) = mem.read_bytes(Addr(start), end.saturating_sub(start) as usize) else {
        return out;
    };
    for word in bytes.chunks_exact(8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        let v = u64::from_le_bytes(b);
        if v == 0 {
            continue;
        }
        // The word may be `&c.notify` (notifyListWait's argument) or `c` itself.
        for list in [Some(v), v.checked_add(cl.cond_notify)]
            .into_iter()
            .flatten()
        {
            let list = Addr(list);
            if !out.contains(&list) {
                out.push(list);
            }
        }
    }
    out
}

/// The waiters of the notifyList at `list` (goroutine -> sudog), or None if it does
/// not look like one: every sudog must belong to a live goroutine and the chain must
/// end at `tail`, as notifyListWait and notifyListNotify{One,All} keep it.
fn read_notify_list(
    mem: &dyn Memory,
    l: &WaitLayouts,
    cl: &CondLayouts,
    live: &HashSet<Addr>,
    list: Addr,
) -> Option<HashMap<Addr, Addr>> {
    let head = mem.read_ptr(list.add(cl.notifylist_head)).ok()?;
    let tail = mem.read_ptr(list.add(cl.notifylist_tail)).ok()?;
    if head.is_null() || tail.is_null() {
        return None;
    }
    let mut out = HashMap::default();
    let mut seen = HashSet::default();
    let mut s = head;
    let mut last = Addr(0);
    while !s.is_null() {
        if seen.len() >= MAX_SUDOGS || !seen.insert(s) {
            return None;
        }
        let g = mem.read_ptr(s.add(l.sudog_g)).ok()?;
        if !live.contains(&g) {
            return None;
        }
        out.insert(g, s);
        last = s;
        s = mem.read_ptr(s.add(l.sudog_next)).ok()?;
    }
    (last == tail).then_some(out)
}

/// The sudogs of `g.waiting`, following `waitlink` (select cases in lock order).
fn read_waiting_list(mem: &dyn Memory, l: &WaitLayouts, g: &Goroutine, off: u64) -> Vec<ChanWait> {
    let mut out = Vec::new();
    let Ok(mut s) = mem.read_ptr(g.addr.add(off)) else {
        return out;
    };
    let mut seen = HashSet::default();
    while !s.is_null() && out.len() < MAX_SELECT_CASES && seen.insert(s) {
        // A sudog on a wait list belongs to this goroutine; anything else is stale.
        if mem.read_ptr(s.add(l.sudog_g)).ok() != Some(g.addr) {
            break;
        }
        let chan = mem.read_ptr(s.add(l.sudog_c)).unwrap_or_default();
        let is_select = mem.read_u8(s.add(l.sudog_is_select)).unwrap_or(0) != 0;
        // Go 1.26+ also points g.waiting at a semaphore's sudog (no channel): its
        // waitlink chains other goroutines' sudogs, so stop there.
        if chan.is_null() {
            break;
        }
        out.push(ChanWait {
            sudog: s,
            chan,
            dir: None,
            is_select,
        });
        s = mem.read_ptr(s.add(l.sudog_waitlink)).unwrap_or_default();
    }
    out
}

fn read_queue(mem: &dyn Memory, l: &WaitLayouts, first: Addr) -> Vec<Queued> {
    let mut out = Vec::new();
    let mut seen = HashSet::default();
    let mut s = first;
    while !s.is_null() && out.len() < MAX_SUDOGS && seen.insert(s) {
        let Ok(g) = mem.read_ptr(s.add(l.sudog_g)) else {
            break;
        };
        out.push(Queued { sudog: s, g });
        s = mem.read_ptr(s.add(l.sudog_next)).unwrap_or_default();
    }
    out
}

/// Read one hchan and its wait queues.
pub fn read_channel(
    mem: &dyn Memory,
    l: &WaitLayouts,
    tr: &TypeReader<'_>,
    c: Addr,
) -> Result<Channel, crate::snapshot::MemError> {
    let qcount = mem.read_u64(c.add(l.hchan_qcount))?;
    let dataqsiz = mem.read_u64(c.add(l.hchan_dataqsiz))?;
    let closed = mem.read_u32(c.add(l.hchan_closed))? != 0;
    let elemtype = mem.read_ptr(c.add(l.hchan_elemtype)).unwrap_or_default();
    let elem_type = if elemtype.is_null() {
        None
    } else {
        tr.name(elemtype)
    };
    let has_timer = match l.hchan_timer {
        Some(off) => !mem.read_ptr(c.add(off)).unwrap_or_default().is_null(),
        None => false,
    };
    let timer = has_timer || elem_type.as_deref() == Some("time.Time");
    let recvq = read_queue(mem, l, mem.read_ptr(c.add(l.hchan_recvq))?);
    let sendq = read_queue(mem, l, mem.read_ptr(c.add(l.hchan_sendq))?);
    Ok(Channel {
        addr: c,
        qcount,
        dataqsiz,
        closed,
        elem_type,
        timer,
        recvq,
        sendq,
    })
}

/// runtime.semtable: by symbol or DWARF, else among the addresses semacquire1's code
/// references, validated by the treap's own invariant (each root's semaphore hashes to
/// its bucket).
fn find_semtable(t: &Target, l: &WaitLayouts) -> Option<Addr> {
    let inp = Inputs {
        mem: t.memory(),
        bin: t.binary(),
        pcln: t.pclntab(),
        dwarf: t.dwarf(),
        threads: t.threads(),
        bias: t.bias(),
        buildinfo_version: None,
    };
    if let Some(a) = inp.global("runtime.semtable") {
        return Some(a);
    }
    let mut cands: Vec<Addr> = Vec::new();
    for f in ["runtime.semacquire1", "runtime.semrelease1"] {
        for a in rip_relative_operands(&inp, f) {
            if !cands.contains(&a) {
                cands.push(a);
            }
        }
    }
    let mut best: Option<(usize, Addr)> = None;
    for c in cands {
        if let Some(score) = semtable_score(t.memory(), l, c) {
            if !matches!(best, Some((s, _)) if s >= score) {
                best = Some((score, c));
            }
        }
    }
    best.map(|(_, a)| a)
}

/// Number of non-empty buckets if `at` looks like the semaphore table, None if not.
fn semtable_score(mem: &dyn Memory, l: &WaitLayouts, at: Addr) -> Option<usize> {
    let len = usize::try_from(SEM_TAB_SIZE.checked_mul(l.semtab_stride)?).ok()?;
    let bytes = mem.read_bytes(at, len).ok()?;
    let mut score = 0;
    for i in 0..SEM_TAB_SIZE {
        let off = usize::try_from(i * l.semtab_stride + l.semaroot_treap).ok()?;
        let word = bytes.get(off..off.checked_add(8)?)?;
        let p = u64::from_le_bytes(word.try_into().ok()?);
        if p == 0 {
            continue;
        }
        let elem = mem.read_u64(Addr(p).add(l.sudog_elem)).ok()?;
        if (elem >> 3) % SEM_TAB_SIZE != i {
            return None;
        }
        score += 1;
    }
    Some(score)
}

/// Every sudog parked in the semaphore table: the treap nodes (one per semaphore
/// address, children in prev/next) and, from each, its waitlink chain of waiters on
/// the same address.
pub fn read_semtable(mem: &dyn Memory, l: &WaitLayouts, semtable: Addr) -> Vec<SemaWait> {
    let mut out = Vec::new();
    let mut seen = HashSet::default();
    for i in 0..SEM_TAB_SIZE {
        let Some(off) = i
            .checked_mul(l.semtab_stride)
            .and_then(|o| o.checked_add(l.semaroot_treap))
        else {
            break;
        };
        let Ok(root) = mem.read_ptr(semtable.add(off)) else {
            continue;
        };
        let mut todo = vec![root];
        while let Some(node) = todo.pop() {
            if node.is_null() || seen.len() >= MAX_SUDOGS || !seen.insert(node) {
                continue;
            }
            let Ok(sema) = mem.read_ptr(node.add(l.sudog_elem)) else {
                continue;
            };
            let mut s = node;
            let mut chain = HashSet::default();
            while !s.is_null() && chain.len() < MAX_SUDOGS && chain.insert(s) {
                if let Ok(g) = mem.read_ptr(s.add(l.sudog_g)) {
                    if !g.is_null() {
                        out.push(SemaWait { sudog: s, g, sema });
                    }
                }
                s = mem.read_ptr(s.add(l.sudog_waitlink)).unwrap_or_default();
            }
            todo.push(mem.read_ptr(node.add(l.sudog_prev)).unwrap_or_default());
            todo.push(mem.read_ptr(node.add(l.sudog_next)).unwrap_or_default());
        }
    }
    out
}
