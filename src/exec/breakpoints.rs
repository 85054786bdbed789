//! The breakpoint table as Delve keeps it: logical breakpoints (one per `break`, with a
//! name, a condition, hit counts, a tracepoint flag and `on` commands) over physical
//! addresses that the backend patches. Delve's implicit breakpoints on unrecovered
//! panics and fatal throws have ids -1 and -2.

use crate::addr::Addr;
use std::collections::BTreeMap;

pub const UNRECOVERED_PANIC_ID: i64 = -1;
pub const FATAL_THROW_ID: i64 = -2;
pub const UNRECOVERED_PANIC: &str = "unrecovered-panic";
pub const FATAL_THROW: &str = "runtime-fatal-throw";

/// `condition -hitcount BP OP N`: compare the hit count with N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    /// `% N`: every Nth hit.
    Mod,
}

impl HitOp {
    pub fn parse(s: &str) -> Option<HitOp> {
        Some(match s {
            "==" => HitOp::Eq,
            "!=" => HitOp::Ne,
            ">" => HitOp::Gt,
            ">=" => HitOp::Ge,
            "<" => HitOp::Lt,
            "<=" => HitOp::Le,
            "%" => HitOp::Mod,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            HitOp::Eq => "==",
            HitOp::Ne => "!=",
            HitOp::Gt => ">",
            HitOp::Ge => ">=",
            HitOp::Lt => "<",
            HitOp::Le => "<=",
            HitOp::Mod => "%",
        }
    }
    pub fn holds(self, hits: u64, n: u64) -> bool {
        match self {
            HitOp::Eq => hits == n,
            HitOp::Ne => hits != n,
            HitOp::Gt => hits > n,
            HitOp::Ge => hits >= n,
            HitOp::Lt => hits < n,
            HitOp::Le => hits <= n,
            HitOp::Mod => n != 0 && hits.is_multiple_of(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitCondition {
    pub op: HitOp,
    pub n: u64,
    /// `-per-g-hitcount`: compare the hitting goroutine's own count.
    pub per_goroutine: bool,
}

/// One logical breakpoint.
#[derive(Debug, Clone, Default)]
pub struct Breakpoint {
    pub id: i64,
    /// `break NAME LOC` names it; implicit ones carry Delve's names.
    pub name: String,
    pub addrs: Vec<Addr>,
    /// Where it was set, for listings: function, file, line of the first address.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// The location as typed (Delve's ExprString): a disabled breakpoint is listed by it.
    pub spec: String,
    /// A Go boolean expression evaluated in the hitting goroutine's frame 0.
    pub cond: Option<String>,
    pub hitcond: Option<HitCondition>,
    pub total_hits: u64,
    /// Hits per goroutine id.
    pub hits: BTreeMap<u64, u64>,
    /// `trace`: print and go on instead of stopping.
    pub tracepoint: bool,
    /// A tracepoint's RET instructions, where it prints the returned values.
    pub ret_addrs: Vec<Addr>,
    /// `coroner trace --stack N`: frames printed with each trace line.
    pub stack: usize,
    /// `on BP CMD`: commands the front end runs when it stops here (other than the
    /// `print`, `args` and `locals` forms, which Delve keeps as flags and expressions).
    pub on: Vec<String>,
    /// `on BP args` / `on BP locals`: show them with the stop line.
    pub load_args: bool,
    pub load_locals: bool,
    /// Expressions printed at each stop (`unrecovered-panic` prints the panic value).
    pub variables: Vec<String>,
    pub enabled: bool,
    /// A hardware watchpoint instead of a code breakpoint (`watch`).
    pub watch: Option<Watch>,
}

/// What a watchpoint watches, and the debug-register slot it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub addr: Addr,
    pub len: u8,
    pub kind: crate::backend::WatchKind,
    pub slot: u8,
    /// For a variable on a goroutine's stack: the frame's return address, the goroutine
    /// and the caller frame's distance from the stack top. When that goroutine gets
    /// there, the variable is gone and the watchpoint ends (as in Delve).
    pub scope: Option<(Addr, u64, u64)>,
}

impl Breakpoint {
    /// How Delve names it in stop lines and listings: the name, else the number.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.to_string()
        } else {
            self.name.clone()
        }
    }
}

/// Every logical breakpoint, by id.
#[derive(Debug, Default)]
pub struct Breakpoints {
    pub list: Vec<Breakpoint>,
    next_id: i64,
}

impl Breakpoints {
    pub fn new() -> Breakpoints {
        Breakpoints {
            list: Vec::new(),
            next_id: 1,
        }
    }

    /// Allocate the next user id (Delve never reuses one).
    pub fn alloc_id(&mut self) -> i64 {
        if self.next_id < 1 {
            self.next_id = 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn get(&self, id: i64) -> Option<&Breakpoint> {
        self.list.iter().find(|b| b.id == id)
    }
    pub fn get_mut(&mut self, id: i64) -> Option<&mut Breakpoint> {
        self.list.iter_mut().find(|b| b.id == id)
    }
    /// By number or by name, as `clear`, `condition`, `toggle` and `on` take them.
    pub fn find(&self, spec: &str) -> Option<&Breakpoint> {
        match spec.parse::<i64>() {
            Ok(id) => self.get(id),
            Err(_) => self.list.iter().find(|b| b.name == spec),
        }
    }
    pub fn find_id(&self, spec: &str) -> Option<i64> {
        self.find(spec).map(|b| b.id)
    }
    /// Enabled logical breakpoints with a physical address at `pc`.
    pub fn at(&self, pc: Addr) -> Vec<i64> {
        self.list
            .iter()
            .filter(|b| b.enabled && (b.addrs.contains(&pc) || b.ret_addrs.contains(&pc)))
            .map(|b| b.id)
            .collect()
    }
    /// Every address some enabled breakpoint needs patched.
    pub fn wanted_addrs(&self) -> Vec<Addr> {
        let mut v: Vec<Addr> = self
            .list
            .iter()
            .filter(|b| b.enabled)
            .flat_map(|b| b.addrs.iter().chain(&b.ret_addrs).copied())
            .collect();
        v.sort();
        v.dedup();
        v
    }
    pub fn remove(&mut self, id: i64) -> Option<Breakpoint> {
        let i = self.list.iter().position(|b| b.id == id)?;
        Some(self.list.remove(i))
    }
    /// Listing order: implicit breakpoints (negative ids, -2 first as Delve), then users'.
    pub fn sorted(&self) -> Vec<&Breakpoint> {
        let mut v: Vec<&Breakpoint> = self.list.iter().collect();
        v.sort_by_key(|b| b.id);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_conditions() {
        assert!(HitOp::parse(">").is_some_and(|o| o.holds(3, 2)));
        assert!(HitOp::parse("%").is_some_and(|o| o.holds(4, 2) && !o.holds(3, 2)));
        assert!(!HitOp::Mod.holds(3, 0));
        assert!(HitOp::parse("=>").is_none());
    }

    #[test]
    fn ids_and_lookup() {
        let mut t = Breakpoints::new();
        let a = t.alloc_id();
        t.list.push(Breakpoint {
            id: a,
            name: "here".into(),
            addrs: vec![Addr(0x10)],
            enabled: true,
            ..Default::default()
        });
        let b = t.alloc_id();
        assert_eq!((a, b), (1, 2));
        assert_eq!(t.find("here").map(|b| b.id), Some(1));
        assert_eq!(t.find("1").map(|b| b.id), Some(1));
        assert_eq!(t.at(Addr(0x10)), vec![1]);
        if let Some(b) = t.get_mut(1) {
            b.enabled = false;
        }
        assert!(t.at(Addr(0x10)).is_empty());
        assert!(t.wanted_addrs().is_empty());
    }
}
