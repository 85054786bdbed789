//! rr's extensions to the protocol, as Delve uses them: `qRRCmd` (`when`,
//! `checkpoint`, `info checkpoints`, `delete checkpoint`) and `vRun` to go back to the
//! start of the recording, a checkpoint or an event.

use super::packet::{hex_decode, hex_encode};
use super::process::{GdbRemote, State};
use super::stop::{self, StopReply};
use crate::backend::{BackendError, Direction, Resume};
use std::sync::atomic::Ordering;

impl GdbRemote {
    /// Send `qRRCmd:CMD:-1[:HEXARG]...` (rr ≥ 5.8's form) and decode the hex reply.
    /// None when the stub is not rr (it answered the first one with nothing).
    pub(super) fn rr_command(
        &mut self,
        cmd: &str,
        args: &[&str],
    ) -> Option<Result<String, BackendError>> {
        if self.rr == Some(false) {
            return None;
        }
        if let Err(e) = self.check_stopped() {
            return Some(Err(e));
        }
        let mut pkt = format!("qRRCmd:{cmd}:-1");
        for a in args {
            pkt.push(':');
            pkt.push_str(&hex_encode(a.as_bytes()));
        }
        let r = match self.with_conn(|conn, _| conn.request(pkt.as_bytes())) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        if r.is_empty() {
            // "Unsupported": not rr.
            self.rr = Some(false);
            return None;
        }
        self.rr = Some(true);
        let text = hex_decode(&r)
            .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
            .unwrap_or_else(|| String::from_utf8_lossy(&r).into_owned());
        Some(Ok(text))
    }

    /// `vRun;` (the start) or `vRun;;HEX(POS)` (`cN` or an event number), as Delve
    /// sends it, then continue to the position as GDB does.
    pub(super) fn rr_restart(&mut self, at: Option<&str>) -> Result<(), BackendError> {
        self.check_stopped()?;
        if self.rr != Some(true) && self.rr_command("when", &[]).is_none() {
            return Err(BackendError::Unsupported(
                "restart a recording (the stub is not rr)",
            ));
        }
        let pkt = match at {
            None => "vRun;".to_string(),
            Some(p) => format!("vRun;;{}", hex_encode(p.as_bytes())),
        };
        let shared = self.shared.clone();
        let reply = self.with_conn(|conn, _| {
            shared.generation.fetch_add(1, Ordering::SeqCst);
            conn.request(pkt.as_bytes())
        })?;
        self.current = None;
        self.at_this_stop.clear();
        self.raw_g.clear();
        // rr drops every breakpoint and watchpoint on a restart: forget ours, so that
        // the execution layer's re-insertion sends them again (and no removal later
        // names one rr does not have: rr aborts on that).
        self.breakpoints.clear();
        self.hw_breakpoints.clear();
        self.watch = Default::default();
        match stop::parse(&reply) {
            Ok(StopReply::Stopped { thread, .. }) => {
                if let Some(t) = thread.filter(|t| t.tid > 0) {
                    self.last_tid = t.tid as u32;
                }
            }
            Ok(_) | Err(_) if reply.starts_with(b"E") => {
                return Err(BackendError::Remote(format!(
                    "rr cannot restart at {}: {}",
                    at.unwrap_or("the start"),
                    String::from_utf8_lossy(&reply)
                )))
            }
            _ => {}
        }
        self.state = State::Stopped;
        self.pending_signal = None;
        self.deferred_signals.clear();
        // rr answers the first resume after a vRun with a stop where it already is
        // ("signal 0"): gdb and Delve send one `vCont;c` right away and drop that stop,
        // so that the user's next command moves. No breakpoint is inserted yet (the
        // execution layer re-inserts them after this).
        self.send_resume(Resume::Continue, Direction::Forward, None)?;
        let t = self.shared.lock().timeouts.resume;
        match self.wait_timeout(t)? {
            ev if ev.is_exit() => Err(BackendError::Remote(format!(
                "rr ran to the end of the recording after restarting at {}",
                at.unwrap_or("the start")
            ))),
            // (The resume dropped the cached snapshot; the stop delivers nothing.)
            _ => {
                self.pending_signal = None;
                Ok(())
            }
        }
    }
}
