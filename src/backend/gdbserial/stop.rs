//! Stop replies (`T`, `S`, `W`, `X`, `N`) and the GDB signal numbering they use.
//!
//! GDB numbers signals its own way (`gdb/signals.def`), not the host's: Linux SIGURG
//! (23) arrives as 16, SIGUSR1 (10) as 30. Everything past this module uses host
//! (Linux amd64) numbers.

use super::packet::{hex_decode_regs, hex_val, parse_hex_u64};

/// Watchpoint flavour named in a `T` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchHit {
    Write,
    Read,
    Access,
}

/// Why a `T` stop happened, beyond its signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Watch(WatchHit, u64),
    SwBreak,
    HwBreak,
    /// rr and QEMU: replay reached the start (`begin`) or the end of the recording.
    ReplayLog {
        begin: bool,
    },
    /// Thread created/exited, fork, exec, library load: we never ask for them, but a
    /// stub may send them anyway; the process resumes past them.
    Event(String),
}

/// A thread id as the stub writes it: `tid`, or `pPID.TID` in multiprocess mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadId {
    pub pid: Option<u64>,
    /// -1 means all threads, 0 any thread.
    pub tid: i64,
}

impl ThreadId {
    pub fn parse(s: &[u8]) -> Option<ThreadId> {
        let one = |s: &[u8]| -> Option<i64> {
            if s == b"-1" {
                Some(-1)
            } else {
                parse_hex_u64(s).map(|v| v as i64)
            }
        };
        if let Some(rest) = s.strip_prefix(b"p") {
            let mut it = rest.splitn(2, |&b| b == b'.');
            let pid = one(it.next()?)?;
            let tid = match it.next() {
                Some(t) => one(t)?,
                None => -1,
            };
            Some(ThreadId {
                pid: Some(pid as u64),
                tid,
            })
        } else {
            Some(ThreadId {
                pid: None,
                tid: one(s)?,
            })
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReply {
    /// `S`/`T`: stopped with a GDB signal number.
    Stopped {
        gdb_signal: u8,
        thread: Option<ThreadId>,
        core: Option<u32>,
        reason: Option<Reason>,
        /// Registers the stub sent along (`n:value`), by register number, raw bytes.
        expedited: Vec<(u32, Vec<u8>)>,
    },
    /// `W`: exited with this status.
    Exited { status: u8, pid: Option<u64> },
    /// `X`: killed by this GDB signal.
    Terminated { gdb_signal: u8, pid: Option<u64> },
    /// `N`: no thread is left to resume.
    NoResumed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a stop reply: {0}")]
pub struct BadStop(pub String);

fn hex_u8(s: &[u8]) -> Option<u8> {
    match s {
        [h, l] => Some(hex_val(*h)? << 4 | hex_val(*l)?),
        _ => None,
    }
}

fn bad(p: &[u8]) -> BadStop {
    BadStop(super::conn::describe(p))
}

pub fn parse(p: &[u8]) -> Result<StopReply, BadStop> {
    let (&kind, rest) = p.split_first().ok_or_else(|| bad(p))?;
    match kind {
        b'S' | b'T' => {
            let sig = hex_u8(rest.get(..2).ok_or_else(|| bad(p))?).ok_or_else(|| bad(p))?;
            let mut out = StopReply::Stopped {
                gdb_signal: sig,
                thread: None,
                core: None,
                reason: None,
                expedited: Vec::new(),
            };
            if kind == b'T' {
                if let StopReply::Stopped {
                    thread,
                    core,
                    reason,
                    expedited,
                    ..
                } = &mut out
                {
                    for pair in rest[2..].split(|&b| b == b';') {
                        if pair.is_empty() {
                            continue;
                        }
                        let (key, val) = match pair.iter().position(|&b| b == b':') {
                            Some(i) => (&pair[..i], &pair[i + 1..]),
                            None => (pair, &b""[..]),
                        };
                        match key {
                            b"thread" => *thread = ThreadId::parse(val),
                            b"core" => *core = parse_hex_u64(val).map(|v| v as u32),
                            b"watch" | b"rwatch" | b"awatch" => {
                                let kind = match key {
                                    b"watch" => WatchHit::Write,
                                    b"rwatch" => WatchHit::Read,
                                    _ => WatchHit::Access,
                                };
                                let addr = parse_hex_u64(val).ok_or_else(|| bad(p))?;
                                *reason = Some(Reason::Watch(kind, addr));
                            }
                            b"swbreak" => *reason = Some(Reason::SwBreak),
                            b"hwbreak" => *reason = Some(Reason::HwBreak),
                            b"replaylog" => {
                                *reason = Some(Reason::ReplayLog {
                                    begin: val == b"begin",
                                })
                            }
                            b"library" | b"fork" | b"vfork" | b"vforkdone" | b"exec"
                            | b"create" | b"syscall_entry" | b"syscall_return" => {
                                *reason =
                                    Some(Reason::Event(String::from_utf8_lossy(key).into_owned()))
                            }
                            _ => {
                                // A register: hex number, hex bytes. Unknown keys
                                // (future extensions) are skipped as the spec says.
                                if let (Some(n), Some(v)) =
                                    (parse_hex_u64(key), hex_decode_regs(val))
                                {
                                    expedited.push((n as u32, v));
                                }
                            }
                        }
                    }
                }
            }
            Ok(out)
        }
        b'W' | b'X' => {
            let mut parts = rest.split(|&b| b == b';');
            let code = hex_u8(parts.next().unwrap_or_default()).ok_or_else(|| bad(p))?;
            let pid = parts
                .find_map(|s| s.strip_prefix(b"process:"))
                .and_then(parse_hex_u64);
            Ok(if kind == b'W' {
                StopReply::Exited { status: code, pid }
            } else {
                StopReply::Terminated {
                    gdb_signal: code,
                    pid,
                }
            })
        }
        b'N' => Ok(StopReply::NoResumed),
        _ => Err(bad(p)),
    }
}

/// GDB signal numbers (gdb/signals.def) against Linux amd64 ones, for the signals a
/// Linux program can receive. GDB's 1..=15 equal Linux's.
const GDB_LINUX: &[(u8, i32)] = &[
    (16, 23), // URG
    (17, 19), // STOP
    (18, 20), // TSTP
    (19, 18), // CONT
    (20, 17), // CHLD
    (21, 21), // TTIN
    (22, 22), // TTOU
    (23, 29), // IO
    (24, 24), // XCPU
    (25, 25), // XFSZ
    (26, 26), // VTALRM
    (27, 27), // PROF
    (28, 28), // WINCH
    (30, 10), // USR1
    (31, 12), // USR2
    (32, 30), // PWR
    (12, 31), // SYS
    (10, 7),  // BUS
];

/// Host signal for a GDB signal number; real-time signals (GDB 45.. = SIGRTMIN+1..,
/// GDB 77 = SIGRTMIN) follow GDB's table; unknown numbers pass through unchanged.
pub fn gdb_to_host(g: u8) -> i32 {
    if let Some(&(_, h)) = GDB_LINUX.iter().find(|(gg, _)| *gg == g) {
        return h;
    }
    match g {
        1..=15 => g as i32,
        77 => 32,
        45..=76 => g as i32 - 45 + 33,
        _ => g as i32,
    }
}

pub fn host_to_gdb(h: i32) -> u8 {
    if let Some(&(g, _)) = GDB_LINUX.iter().find(|(_, hh)| *hh == h) {
        return g;
    }
    match h {
        1..=15 => h as u8,
        32 => 77,
        33..=64 => (h - 33 + 45) as u8,
        _ => h.clamp(0, 255) as u8,
    }
}

pub const GDB_SIGINT: u8 = 2;
pub const GDB_SIGTRAP: u8 = 5;
pub const GDB_SIGKILL: u8 = 9;
/// Go's preemption signal (SIGURG) and profiler tick (SIGPROF), in GDB numbering:
/// the runtime's own business, passed straight back and never surfaced.
pub const GO_RUNTIME_SIGNALS: [u8; 2] = [16, 27];
