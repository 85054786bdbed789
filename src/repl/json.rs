//! JSON forms of goroutines, frames and threads (`--json` batch mode).

use super::debuggee::Location;
use crate::goruntime::Goroutine;
use crate::unwind::Frame;
use serde_json::{json, Value};

pub fn location(l: &Location) -> Value {
    json!({
        "pc": l.pc,
        "file": l.file,
        "line": l.line,
        "function": l.function,
    })
}

pub fn frame(f: &Frame) -> Value {
    json!({
        "pc": f.pc.0,
        "sp": f.sp.0,
        "function": f.function,
        "file": f.file,
        "line": f.line,
        "inlined": f.inlined,
        "source": f.source,
    })
}

pub fn frames(fs: &[Frame]) -> Value {
    Value::Array(fs.iter().map(frame).collect())
}

/// State name without the wait reason (`waiting`, `running`, ...).
pub fn state_name(g: &Goroutine) -> &'static str {
    use crate::goruntime::*;
    match g.state() {
        G_IDLE => "idle",
        G_RUNNABLE => "runnable",
        G_RUNNING => "running",
        G_SYSCALL => "syscall",
        G_WAITING => "waiting",
        G_DEAD => "dead",
        G_COPYSTACK => "copystack",
        G_PREEMPTED => "preempted",
        _ => "unknown",
    }
}

/// The four locations of a goroutine, as the listing computes them.
pub struct GoroutineLocs {
    pub current: Location,
    pub user: Location,
    pub go: Location,
    pub start: Location,
}

pub fn goroutine(g: &Goroutine, locs: &GoroutineLocs, stack: Option<&[Frame]>) -> Value {
    let mut v = json!({
        "id": g.goid,
        "status": state_name(g),
        "status_code": g.status,
        "wait_reason": if g.state() == crate::goruntime::G_WAITING { g.wait_reason.clone() } else { None },
        "thread": g.thread,
        "system": g.system,
        "current": location(&locs.current),
        "user": location(&locs.user),
        "go": location(&locs.go),
        "start": location(&locs.start),
    });
    if let (Some(fs), Some(obj)) = (stack, v.as_object_mut()) {
        obj.insert("frames".into(), frames(fs));
    }
    if let (Some(l), Some(obj)) = (&g.labels, v.as_object_mut()) {
        let m: serde_json::Map<String, Value> =
            l.pairs().map(|(k, v)| (k, Value::String(v))).collect();
        obj.insert("labels".into(), Value::Object(m));
    }
    if let (Some(e), Some(obj)) = (&g.error, v.as_object_mut()) {
        obj.insert("error".into(), Value::String(e.clone()));
    }
    v
}
