//! Running backwards on a recording (rr, or any stub offering ReverseContinue+ /
//! ReverseStep+): `rewind`, `rev step-instruction`, goroutine-aware `rev next` and
//! `rev stepout` as Delve does them, and rr's checkpoints and `restart cN|EVENT`.

use super::{locate, Debugger, ExecError, Stop, StopReason};
use crate::addr::Addr;
use crate::backend::{BackendError, Direction, Resume, StopEvent};

/// What Delve says when the target cannot run backwards.
pub const NO_REVERSE: &str = "backwards execution is only supported on recorded targets";

/// One rr checkpoint (`info checkpoints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub id: u64,
    pub when: String,
    pub where_: String,
}

impl Debugger {
    fn reverse_ok(&mut self) -> Result<(), ExecError> {
        self.alive_or_recorded()?;
        if !self.proc.capabilities().reverse {
            return Err(ExecError::Invalid(NO_REVERSE.into()));
        }
        Ok(())
    }

    /// A replay whose program exited can still go backwards; anything else that
    /// exited cannot.
    fn alive_or_recorded(&self) -> Result<(), ExecError> {
        if self.exit.is_some() && !self.recorded() {
            return self.alive();
        }
        Ok(())
    }

    /// The target is a recording (rr answers its own commands).
    pub fn recorded(&self) -> bool {
        self.proc.capabilities().checkpoints
    }

    /// `rewind`: run backwards to a breakpoint or the start of the recording.
    pub fn rewind(&mut self) -> Result<Stop, ExecError> {
        self.reverse_ok()?;
        let mut trace = Vec::new();
        loop {
            self.sync_breakpoints()?;
            self.proc.resume(Resume::Continue, Direction::Reverse)?;
            let ev = self.proc.wait()?;
            self.exit = None;
            if let Some(mut stop) = self.user_stop(ev, &mut trace)? {
                stop.trace = std::mem::take(&mut trace);
                self.last = stop.clone();
                return Ok(stop);
            }
        }
    }

    /// `rev step-instruction`: one instruction backwards on `tid`.
    pub fn reverse_step_instruction(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.reverse_ok()?;
        self.sync_breakpoints()?;
        self.proc.resume(Resume::Step(tid), Direction::Reverse)?;
        let ev = self.proc.wait()?;
        self.exit = None;
        let mut trace = Vec::new();
        let stop = match ev {
            StopEvent::Breakpoint { tid, .. } | StopEvent::Stepped { tid } => {
                self.refresh()?;
                self.stop_on(StopReason::Step, tid)
            }
            other => self
                .user_stop(other, &mut trace)?
                .unwrap_or_else(|| self.stop_on(StopReason::Step, tid)),
        };
        self.last = stop.clone();
        Ok(stop)
    }

    /// The CALL instruction that returns to `ret` (Go on amd64: `call rel32`, 5 bytes;
    /// `call reg`/`call [reg]`, 2 or 3 bytes).
    fn call_before(&self, ret: Addr) -> Option<Addr> {
        let mut b = [0u8; 5];
        self.target.memory().read(ret.sub(5), &mut b).ok()?;
        let modrm_is_call = |m: u8| (m >> 3) & 7 == 2;
        if b[0] == 0xe8 {
            Some(ret.sub(5))
        } else if b[3] == 0xff && modrm_is_call(b[4]) {
            Some(ret.sub(2))
        } else if b[2] & 0xf0 == 0x40 && b[3] == 0xff && modrm_is_call(b[4]) {
            Some(ret.sub(3))
        } else if b[2] == 0xff && modrm_is_call(b[3]) {
            // call [reg+disp8]
            Some(ret.sub(3))
        } else {
            None
        }
    }

    /// `rev stepout`: back to the call of the current function in its caller, on
    /// this goroutine.
    pub fn reverse_stepout(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.reverse_ok()?;
        let o = self.step_origin(tid)?;
        let (ret, roff) = o
            .ret
            .ok_or_else(|| ExecError::Invalid("could not find the caller's frame".into()))?;
        let call = self.call_before(ret).ok_or_else(|| {
            ExecError::Invalid(format!(
                "no call instruction before the return address {ret}"
            ))
        })?;
        self.temp.insert(call);
        let res = self.run_until_dir(
            &o,
            &move |pc, off| pc == call && off == roff,
            Direction::Reverse,
        );
        self.end_step()?;
        let s = res?;
        self.exit = None;
        self.last = s.clone();
        Ok(s)
    }

    /// `rev next`: back to the previous statement of this function on this goroutine
    /// (over calls), or to the call of this function when it is the first.
    pub fn reverse_next(&mut self, tid: u32) -> Result<Stop, ExecError> {
        self.reverse_ok()?;
        let o = self.step_origin(tid)?;
        let t = self.target.clone();
        let bias = t.bias();
        let f = t
            .pclntab()
            .func_for_pc(o.pc.sub(bias))
            .ok_or_else(|| ExecError::Invalid(format!("no function at {}", o.pc)))?;
        for r in locate::line_rows(&t, &f) {
            let a = Addr(r.addr).add(bias);
            if r.is_stmt && a != o.pc && !(r.line == o.line && r.file == o.file) {
                self.temp.insert(a);
            }
        }
        let call = o
            .ret
            .and_then(|(ret, roff)| Some((self.call_before(ret)?, roff)));
        if let Some((c, _)) = call {
            self.temp.insert(c);
        }
        let fo = o.frame_off;
        let res = self.run_until_dir(
            &o,
            &move |pc, off| off == fo || call.is_some_and(|(c, roff)| pc == c && off == roff),
            Direction::Reverse,
        );
        self.end_step()?;
        let s = res?;
        self.exit = None;
        self.last = s.clone();
        Ok(s)
    }

    fn rr(&mut self, cmd: &str, args: &[&str]) -> Result<String, ExecError> {
        match self.proc.recording_command(cmd, args) {
            Some(r) => Ok(r?),
            None => Err(ExecError::Invalid(
                "checkpoints are only supported on recorded targets".into(),
            )),
        }
    }

    /// rr's event number at this stop (`when`), e.g. "Completed event: 42"; None on a
    /// target that is not a recording.
    pub fn when(&mut self) -> Option<String> {
        if !self.recorded() {
            return None;
        }
        self.proc
            .recording_command("when", &[])
            .and_then(Result::ok)
    }

    /// `checkpoint WHERE`: the new checkpoint's id.
    pub fn checkpoint(&mut self, where_: &str) -> Result<u64, ExecError> {
        let r = self.rr("checkpoint", &[where_])?;
        // "Checkpoint 1 at WHERE"
        r.strip_prefix("Checkpoint ")
            .and_then(|x| x.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or(ExecError::Invalid(format!("rr: {r}")))
    }

    /// `checkpoints`.
    pub fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, ExecError> {
        let r = self.rr("info checkpoints", &[])?;
        Ok(r.lines()
            .skip(1)
            .filter_map(|l| {
                let mut it = l.splitn(3, '\t');
                Some(Checkpoint {
                    id: it.next()?.parse().ok()?,
                    when: it.next()?.to_string(),
                    where_: it.next().unwrap_or("").to_string(),
                })
            })
            .collect())
    }

    /// `clear-checkpoint N`.
    pub fn clear_checkpoint(&mut self, id: u64) -> Result<(), ExecError> {
        let r = self.rr("delete checkpoint", &[&id.to_string()])?;
        if r.starts_with("Deleted checkpoint ") {
            Ok(())
        } else {
            Err(ExecError::Invalid(r))
        }
    }

    /// `restart [cN|EVENT]` on a recording: back to the start, a checkpoint or an
    /// event, breakpoints kept (hit counts reset).
    pub fn restart_recording(&mut self, at: Option<&str>) -> Result<Stop, ExecError> {
        if !self.recorded() {
            return Err(ExecError::Backend(BackendError::Unsupported(
                "restart at a checkpoint or event (not a recording)",
            )));
        }
        self.temp.clear();
        for a in std::mem::take(&mut self.inserted) {
            self.proc.remove_breakpoint(a)?;
        }
        self.proc.restart_recording(at)?;
        self.exit = None;
        for b in &mut self.breakpoints.list {
            b.total_hits = 0;
            b.hits.clear();
        }
        self.refresh()?;
        self.sync_breakpoints()?;
        let tid = self.target.threads().first().map(|t| t.tid);
        let s = match tid {
            Some(t) => self.stop_on(StopReason::Entry, t),
            None => Stop::new(StopReason::Entry),
        };
        self.last = s.clone();
        Ok(s)
    }
}
