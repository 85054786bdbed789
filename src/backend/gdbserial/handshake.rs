//! Opening a session with a stub: what it supports (`qSupported`), no-ack mode, the
//! first stop, its register layout, threads, executable and auxv; and the query
//! helpers (`qXfer`, thread lists, `vFile`) the process also uses at every stop.

use super::conn::{Conn, ConnError};
use super::packet::{hex_encode, is_error, parse_hex_u64};
use super::process::{remote, GdbRemote, RemoteInterrupter, State};
use super::regs::RegMap;
use super::snapshot::{ReadMode, Shared};
use super::stop::{self, StopReply, ThreadId};
use crate::backend::BackendError;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

/// What the stub said it supports (`qSupported`, plus probes).
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub packet_size: usize,
    pub xfer_features: bool,
    pub xfer_auxv: bool,
    pub xfer_exec_file: bool,
    pub xfer_siginfo: bool,
    pub reverse_step: bool,
    pub reverse_continue: bool,
    pub swbreak: bool,
    pub hwbreak: bool,
    pub no_ack: bool,
    pub pass_signals: bool,
    /// `QThreadSuffixSupported`: `;thread:TID;` on `g`/`p`/`P` instead of `Hg`.
    pub thread_suffix: bool,
    /// Actions `vCont?` lists (`c`, `C`, `s`, `S`, `t`, `r`).
    pub vcont: Vec<String>,
    /// The raw `qSupported` reply, for diagnostics.
    pub raw: String,
}

impl Features {
    fn parse(reply: &str) -> Features {
        let mut f = Features {
            raw: reply.to_string(),
            // The protocol's default when the stub does not say (GDB uses 400).
            packet_size: 400,
            ..Features::default()
        };
        for item in reply.split(';') {
            if let Some(v) = item.strip_prefix("PacketSize=") {
                if let Ok(n) = usize::from_str_radix(v, 16) {
                    f.packet_size = n.clamp(64, 1 << 20);
                }
                continue;
            }
            let (name, on) = match item.strip_suffix('+') {
                Some(n) => (n, true),
                None => (item, false),
            };
            if !on {
                continue;
            }
            match name {
                "qXfer:features:read" => f.xfer_features = true,
                "qXfer:auxv:read" => f.xfer_auxv = true,
                "qXfer:exec-file:read" => f.xfer_exec_file = true,
                "qXfer:siginfo:read" => f.xfer_siginfo = true,
                "ReverseStep" => f.reverse_step = true,
                "ReverseContinue" => f.reverse_continue = true,
                "swbreak" => f.swbreak = true,
                "hwbreak" => f.hwbreak = true,
                "QStartNoAckMode" => f.no_ack = true,
                "QPassSignals" => f.pass_signals = true,
                _ => {}
            }
        }
        f
    }
}

impl GdbRemote {
    pub(super) fn handshake(mut conn: Conn, pid: Option<u32>) -> Result<GdbRemote, BackendError> {
        let mut notes = Vec::new();
        conn.write_raw(b"+").map_err(remote)?;
        let sup = conn
            .request(b"qSupported:multiprocess-;swbreak+;hwbreak+;xmlRegisters=i386;qRelocInsn+")
            .map_err(remote)?;
        let mut features = Features::parse(&String::from_utf8_lossy(&sup));
        if features.no_ack && conn.request(b"QStartNoAckMode").map_err(remote)? == b"OK" {
            conn.set_no_ack();
        }
        features.thread_suffix = conn.request(b"QThreadSuffixSupported").map_err(remote)? == b"OK";
        // `?` first: it also selects a thread, and gdbserver 13 asserts (and hangs
        // up) on a target.xml request before any thread is selected.
        let first_stop = conn.request(b"?").map_err(remote)?;
        let mut last_tid = 0;
        match stop::parse(&first_stop) {
            Ok(StopReply::Stopped {
                thread: Some(t), ..
            }) => last_tid = t.tid.max(0) as u32,
            Ok(StopReply::Exited { .. } | StopReply::Terminated { .. }) => {
                return Err(BackendError::Exited)
            }
            _ => {}
        }
        // gdbserver hangs up on qXfer lengths near its PacketSize; 0xfff is what GDB
        // and Delve ask for.
        let chunk = 0xfff;

        let regmap = load_regmap(&mut conn, &features, chunk, &mut notes)?;
        for need in ["rip", "rsp", "rbp"] {
            if regmap.by_name(need).is_none() {
                return Err(BackendError::Remote(format!(
                    "the stub's register list ({}) has no {need}: not an amd64 target?",
                    regmap.source
                )));
            }
        }
        if regmap.by_name("fs_base").is_none() {
            notes.push(
                "the stub does not expose fs_base: thread-local storage (Go's g) cannot be \
                 located from registers; fs_base reads as 0"
                    .into(),
            );
        }

        let read_mode = match conn.request(b"x0,0").map_err(remote)?.as_slice() {
            b"OK" => ReadMode::Binary,
            [b'b', ..] => ReadMode::BinaryPrefixed,
            _ => ReadMode::Hex,
        };
        let vcont = conn.request(b"vCont?").map_err(remote)?;
        if let Some(rest) = vcont.strip_prefix(b"vCont") {
            features.vcont = String::from_utf8_lossy(rest)
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        if features.pass_signals {
            // Let the stub hand Go's SIGURG/SIGPROF straight back without even
            // stopping (GDB numbers, hex): most of them never cost a round trip.
            let cmd = format!(
                "QPassSignals:{}",
                stop::GO_RUNTIME_SIGNALS
                    .iter()
                    .map(|s| format!("{s:x}"))
                    .collect::<Vec<_>>()
                    .join(";")
            );
            let _ = conn.request(cmd.as_bytes()).map_err(remote)?;
        }
        let threads = list_threads(&mut conn).map_err(remote)?;
        if last_tid == 0 {
            last_tid = threads.first().copied().unwrap_or(0);
        }
        // Without multiprocess extensions the stub never names the process; for a
        // program it started or attached to, the first thread is the thread-group
        // leader, whose tid is the pid.
        let pid = pid.or_else(|| threads.first().copied()).unwrap_or(0);

        let exe = if features.xfer_exec_file {
            xfer_read(&mut conn, "exec-file", &format!("{pid:x}"), chunk)
                .map_err(remote)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        } else {
            None
        };
        let auxv = if features.xfer_auxv {
            let raw = xfer_read(&mut conn, "auxv", "", chunk).map_err(remote)?;
            raw.map(|b| {
                b.chunks_exact(16)
                    .map(|c| {
                        let k = u64::from_le_bytes(c[..8].try_into().unwrap_or_default());
                        let v = u64::from_le_bytes(c[8..].try_into().unwrap_or_default());
                        (k, v)
                    })
                    .take_while(|&(k, _)| k != 0)
                    .collect()
            })
            .unwrap_or_default()
        } else {
            notes.push("the stub does not offer qXfer:auxv:read: auxv is empty".into());
            Vec::new()
        };

        let packets = conn.packet_counter();
        let writer = conn.writer();
        let max_read = {
            // Hex doubles every byte; leave room for framing. Whole pages when the
            // packet allows (one request per page run); less when it does not (QEMU's
            // gdbstub takes at most 2,048 bytes per `m`): a page then takes several.
            let by_packet = features.packet_size.saturating_sub(16)
                / if read_mode == ReadMode::Hex { 2 } else { 1 };
            if by_packet >= 4096 {
                ((by_packet / 4096) * 4096).min(64 * 1024)
            } else {
                by_packet.max(64)
            }
        };
        let shared = Arc::new(Shared {
            conn: std::sync::Mutex::new(conn),
            generation: AtomicU64::new(1),
            packets: packets.clone(),
            max_read,
            read_mode,
        });
        let running = Arc::new(AtomicBool::new(false));
        let requested = Arc::new(AtomicBool::new(false));
        Ok(GdbRemote {
            interrupter: Arc::new(RemoteInterrupter {
                writer,
                running: running.clone(),
                requested: requested.clone(),
                packets,
            }),
            shared,
            features,
            regmap,
            pid,
            state: State::Stopped,
            breakpoints: BTreeSet::new(),
            hw_breakpoints: BTreeSet::new(),
            watch: [None; 4],
            pending_signal: None,
            deferred_signals: Vec::new(),
            current: None,
            at_this_stop: Vec::new(),
            queued: None,
            raw_g: HashMap::new(),
            hg: None,
            p_ok: None,
            x_write: None,
            last_tid,
            running,
            interrupt_requested: requested,
            exe,
            auxv,
            vfile: None,
            notes,
            child: None,
            launched: false,
            rr: None,
        })
    }
}

fn load_regmap(
    conn: &mut Conn,
    f: &Features,
    chunk: usize,
    notes: &mut Vec<String>,
) -> Result<RegMap, BackendError> {
    if f.xfer_features {
        if let Some(xml) = xfer_read(conn, "features", "target.xml", chunk).map_err(remote)? {
            let xml = String::from_utf8_lossy(&xml).into_owned();
            let mut err = None;
            let mut fetch = |name: &str| -> Option<String> {
                match xfer_read(conn, "features", name, chunk) {
                    Ok(b) => b.map(|b| String::from_utf8_lossy(&b).into_owned()),
                    Err(e) => {
                        err = Some(e);
                        None
                    }
                }
            };
            let map = RegMap::from_target_xml(&xml, &mut fetch);
            if let Some(e) = err {
                return Err(remote(e));
            }
            if let Some(m) = map {
                return Ok(m);
            }
        }
    }
    let mut infos = Vec::new();
    for i in 0..512u32 {
        let r = conn
            .request(format!("qRegisterInfo{i:x}").as_bytes())
            .map_err(remote)?;
        if r.is_empty() || is_error(&r) {
            break;
        }
        infos.push(String::from_utf8_lossy(&r).into_owned());
    }
    if let Some(m) = RegMap::from_register_info(&infos) {
        return Ok(m);
    }
    notes.push("the stub describes no registers: assuming GNU gdbserver's amd64 layout".into());
    Ok(RegMap::builtin_amd64())
}

/// Read a whole `qXfer` object; `None` if the stub refuses it.
pub(super) fn xfer_read(
    conn: &mut Conn,
    object: &str,
    annex: &str,
    chunk: usize,
) -> Result<Option<Vec<u8>>, ConnError> {
    let mut out = Vec::new();
    loop {
        let cmd = format!("qXfer:{object}:read:{annex}:{:x},{chunk:x}", out.len());
        let r = conn.request(cmd.as_bytes())?;
        match r.split_first() {
            Some((b'm', d)) if !d.is_empty() => out.extend_from_slice(d),
            Some((b'm', _)) => return Ok(Some(out)),
            Some((b'l', d)) => {
                out.extend_from_slice(d);
                return Ok(Some(out));
            }
            _ => return Ok(None),
        }
        if out.len() > 64 << 20 {
            return Err(ConnError::Protocol(format!("qXfer:{object} never ends")));
        }
    }
}

pub(super) fn list_threads(conn: &mut Conn) -> Result<Vec<u32>, ConnError> {
    let mut tids = Vec::new();
    let mut r = conn.request(b"qfThreadInfo")?;
    for _ in 0..100_000 {
        match r.split_first() {
            Some((b'm', list)) => {
                for t in list.split(|&b| b == b',') {
                    if let Some(id) = ThreadId::parse(t) {
                        if id.tid > 0 {
                            tids.push(id.tid as u32);
                        }
                    }
                }
            }
            _ => break,
        }
        r = conn.request(b"qsThreadInfo")?;
    }
    Ok(tids)
}

/// Read a file through the stub's `vFile` (the stub's view of the filesystem);
/// `None` when the stub has no vFile or cannot open it.
pub(super) fn vfile_read(conn: &mut Conn, path: &str) -> Result<Option<Vec<u8>>, ConnError> {
    let open = format!("vFile:open:{},0,0", hex_encode(path.as_bytes()));
    let r = conn.request(open.as_bytes())?;
    let Some(fd) = r
        .strip_prefix(b"F")
        .filter(|v| !v.starts_with(b"-"))
        .and_then(|v| parse_hex_u64(v.split(|&b| b == b';').next().unwrap_or_default()))
    else {
        return Ok(None);
    };
    let mut out = Vec::new();
    loop {
        let r =
            conn.request(format!("vFile:pread:{fd:x},{:x},{:x}", 0x3000, out.len()).as_bytes())?;
        let Some(rest) = r.strip_prefix(b"F") else {
            break;
        };
        let (count, data) = match rest.iter().position(|&b| b == b';') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &b""[..]),
        };
        if count.starts_with(b"-") {
            break;
        }
        let n = parse_hex_u64(count).unwrap_or(0) as usize;
        if n == 0 || data.is_empty() {
            break;
        }
        out.extend_from_slice(&data[..n.min(data.len())]);
        if out.len() > 16 << 20 {
            break;
        }
    }
    let _ = conn.request(format!("vFile:close:{fd:x}").as_bytes())?;
    Ok(Some(out))
}
