//! setBreakpoints, setFunctionBreakpoints and log points, over the debugger's
//! breakpoint table (conditions and hit counts are the engine's; a log point is a
//! breakpoint whose hit prints its message and resumes, as in Delve's DAP server).

use super::handlers::in_frame;
use super::session::{ids, parse_log_message, Dap};
use super::types;
use super::vars::{Conv, Refs, DAP_LOAD};
use super::wire::Request;
use crate::exec::breakpoints::{HitCondition, HitOp};
use crate::vars::expr::Scope;
use serde_json::{json, Value};

impl Dap<'_> {
    /// Breakpoint arguments common to source and function breakpoints.
    fn make_breakpoint(
        &mut self,
        spec: &str,
        cond: &str,
        hit: &str,
        log: &str,
    ) -> Result<i64, String> {
        let hitcond = parse_hit_condition(hit)?;
        let log = parse_log_message(log)?;
        let d = self
            .s
            .as_mut()
            .and_then(|s| s.debugger_mut())
            .ok_or("can not set breakpoints on a core process")?;
        let cond = (!cond.trim().is_empty()).then_some(cond.trim());
        let ids = d
            .set_breakpoint(None, spec, cond, false, None)
            .map_err(|e| e.to_string())?;
        let id = *ids.first().ok_or("unable to set breakpoint")?;
        for extra in ids.iter().skip(1) {
            let _ = d.clear_breakpoint(&extra.to_string());
        }
        if hitcond.is_some() {
            d.set_condition(&id.to_string(), None, hitcond, false)
                .map_err(|e| e.to_string())?;
        }
        if let Some(m) = log {
            self.log_points.insert(id, m);
        }
        Ok(id)
    }

    fn clear_ids(&mut self, ids: &[i64]) {
        for id in ids {
            self.log_points.remove(id);
            self.function_bps.remove(id);
            if let Some(d) = self.s.as_mut().and_then(|s| s.debugger_mut()) {
                let _ = d.clear_breakpoint(&id.to_string());
            }
        }
    }

    fn breakpoint_reply(&self, r: Result<i64, String>) -> Value {
        match r {
            Err(e) => json!({"verified": false, "message": e}),
            Ok(id) => {
                let b = self
                    .s
                    .as_ref()
                    .and_then(|s| s.debugger())
                    .and_then(|d| d.breakpoints.get(id));
                let mut v = json!({"verified": true, "id": id});
                if let Some(b) = b.filter(|b| !b.file.is_empty()) {
                    let base = b.file.rsplit('/').next().unwrap_or(&b.file);
                    v["line"] = json!(b.line);
                    v["source"] = json!({"name": base, "path": b.file});
                }
                v
            }
        }
    }

    pub(super) fn set_breakpoints(&mut self, req: &Request) {
        const F: &str = "Unable to set or clear breakpoints";
        let a: types::SetBreakpointsArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_SET_BREAKPOINTS, F, &e),
        };
        if a.source.path.is_empty() {
            return self.fail(req, ids::UNABLE_TO_SET_BREAKPOINTS, F, "empty file path");
        }
        // The file's previous set goes; the request's set replaces it.
        let old = self.source_bps.remove(&a.source.path).unwrap_or_default();
        self.clear_ids(&old);
        let mut wanted: Vec<types::SourceBreakpoint> = a.breakpoints;
        wanted.extend(a.lines.iter().map(|&line| types::SourceBreakpoint {
            line,
            ..Default::default()
        }));
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for b in &wanted {
            let spec = format!("{}:{}", a.source.path, b.line);
            let r = self.make_breakpoint(&spec, &b.condition, &b.hit_condition, &b.log_message);
            if let Ok(id) = r {
                ids.push(id);
            }
            out.push(self.breakpoint_reply(r));
        }
        self.source_bps.insert(a.source.path, ids);
        self.ok(req, json!({ "breakpoints": out }));
    }

    pub(super) fn set_function_breakpoints(&mut self, req: &Request) {
        const F: &str = "Unable to set or clear breakpoints";
        let a: types::SetFunctionBreakpointsArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_SET_BREAKPOINTS, F, &e),
        };
        let old: Vec<i64> = self.function_bps.iter().copied().collect();
        self.clear_ids(&old);
        let mut out = Vec::new();
        for b in &a.breakpoints {
            let r = if b.name.trim().is_empty() {
                Err("no function name given".to_string())
            } else {
                self.make_breakpoint(b.name.trim(), &b.condition, &b.hit_condition, "")
            };
            if let Ok(id) = r {
                self.function_bps.insert(id);
            }
            out.push(self.breakpoint_reply(r));
        }
        self.ok(req, json!({ "breakpoints": out }));
    }

    /// A log point was hit: print its message and report whether to resume.
    pub(super) fn log_point_hit(&mut self, id: i64) -> bool {
        let Some(msg) = self.log_points.get(&id).cloned() else {
            return false;
        };
        let Some(s) = self.s.as_ref() else {
            return false;
        };
        let goid = s.current_goroutine();
        let mut text = String::new();
        for (lit, expr) in &msg.parts {
            text.push_str(lit);
            if let Some(e) = expr {
                let r = in_frame(s, goid, 0, |loader, locals, package| {
                    let scope = Scope {
                        loader,
                        locals,
                        package,
                    };
                    let mut v = scope.eval(e, &DAP_LOAD).map_err(|e| e.to_string())?;
                    let conv = Conv {
                        loader: Some(loader),
                        cfg: DAP_LOAD,
                        types: false,
                        frame: None,
                    };
                    Ok(conv.convert(&mut Refs::default(), &mut v, "", true).0)
                });
                match r {
                    Ok(v) => text.push_str(&v),
                    Err(err) => text.push_str(&format!("{{eval err: {err}}}")),
                }
            }
        }
        let b = s.debugger().and_then(|d| d.breakpoints.get(id));
        let mut body = json!({
            "category": "stdout",
            "output": format!("> [Go {}]: {text}\n", goid.unwrap_or(0)),
        });
        if let Some(b) = b {
            body["source"] = json!({"path": b.file});
            body["line"] = json!(b.line);
        }
        self.out.event("output", body);
        true
    }
}

/// A DAP hit condition: `N` (== N) or `OP N`, Delve's syntax.
pub fn parse_hit_condition(s: &str) -> Result<Option<HitCondition>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let split = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let (op, n) = s.split_at(split);
    let op = match op.trim() {
        "" => HitOp::Eq,
        o => HitOp::parse(o).ok_or_else(|| {
            format!("unable to parse breakpoint hit condition: {s:?}: invalid operator {o:?}")
        })?,
    };
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("unable to parse breakpoint hit condition: {s:?}: hit conditions should be of the form \"number\" or \"OP number\""))?;
    Ok(Some(HitCondition {
        op,
        n,
        per_goroutine: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_conditions_as_delve_parses_them() {
        let hc = |s: &str| parse_hit_condition(s).map(|h| h.map(|h| (h.op, h.n)));
        assert_eq!(hc(""), Ok(None));
        assert_eq!(hc("5"), Ok(Some((HitOp::Eq, 5))));
        assert_eq!(hc(">= 3"), Ok(Some((HitOp::Ge, 3))));
        assert_eq!(hc("% 2"), Ok(Some((HitOp::Mod, 2))));
        assert!(hc("~ 2").is_err());
        assert!(hc("> x").is_err());
    }

    #[test]
    fn log_messages_interpolate_braces() {
        let m = parse_log_message("x={x} y={ f(y) }!").ok().flatten();
        let parts = m.map(|m| m.parts).unwrap_or_default();
        assert_eq!(
            parts,
            vec![
                ("x=".to_string(), Some("x".to_string())),
                (" y=".to_string(), Some(" f(y) ".to_string())),
                ("!".to_string(), None),
            ]
        );
        assert!(parse_log_message("a{b").is_err());
        assert!(parse_log_message("a}b").is_err());
        assert_eq!(parse_log_message(""), Ok(None));
    }
}
