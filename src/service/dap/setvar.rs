//! The requests that change the target from the variables view and the debug
//! console: `setVariable`, and `call f()` through `evaluate` (as Delve's DAP server
//! does them). Both run the REPL's own `set` and `call` in the goroutine and frame the
//! value came from, so they behave exactly as typing them at coroner's prompt.

use super::handlers::in_frame;
use super::session::{ids, Dap};
use super::types::{self, SetVariableArgs};
use super::vars::{type_text, Conv, Refs, DAP_LOAD};
use super::wire::Request;
use crate::repl::{Output, Session};
use crate::vars::expr::Scope;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// `call EXPR` (Delve matches `^\s*call\s+\S+`): the expression.
pub(super) fn call_expr(e: &str) -> Option<&str> {
    let rest = e.trim_start().strip_prefix("call")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    (!rest.is_empty()).then_some(rest)
}

/// The values of the REPL's "Values returned:" block (`\tNAME: VALUE` lines), joined
/// as Delve's evaluate result joins them.
fn returned_values(text: &str) -> Option<String> {
    let (_, block) = text.split_once("Values returned:\n")?;
    let vals: Vec<&str> = block
        .lines()
        .take_while(|l| l.starts_with('\t'))
        .filter(|l| !l.starts_with("\t\t"))
        .filter_map(|l| l.trim_start_matches('\t').split_once(": ").map(|(_, v)| v))
        .collect();
    Some(vals.join(", "))
}

/// Run `line` with goroutine `goid`, frame `frame` selected, then select again what
/// was selected before (the editor's view of the selection must not move).
fn in_scope(s: &mut Session, goid: Option<u64>, frame: usize, line: &str) -> Output {
    let (g0, f0) = (s.current_goroutine(), s.current_frame());
    let moved = goid.is_some() && goid != g0;
    if let Some(g) = goid.filter(|_| moved) {
        if let Output::Error(e) = s.execute(&format!("goroutine {g}")) {
            return Output::Error(e);
        }
    }
    if frame != s.current_frame() {
        if let Output::Error(e) = s.execute(&format!("frame {frame}")) {
            return Output::Error(e);
        }
    }
    let out = s.execute(line);
    if let Some(g) = g0.filter(|_| moved) {
        let _ = s.execute(&format!("goroutine {g}"));
    }
    if s.current_frame() != f0 {
        let _ = s.execute(&format!("frame {f0}"));
    }
    out
}

impl Dap<'_> {
    /// setVariable: the child `name` of a handle, set to `value` with the REPL's `set`
    /// in the handle's goroutine and frame. The reply repeats the value, as Delve's.
    pub(super) fn set_variable(&mut self, req: &Request) {
        const F: &str = "Unable to set variable";
        let a: SetVariableArgs = match types::parse(&req.arguments) {
            Ok(a) => a,
            Err(e) => return self.fail(req, ids::UNABLE_TO_SET_VARIABLE, F, &e),
        };
        let Some(r) = self.refs.get_var(a.variables_reference).cloned() else {
            let e = format!("unknown reference {}", a.variables_reference);
            return self.fail(
                req,
                ids::UNABLE_TO_SET_VARIABLE,
                "Unable to lookup variable",
                &e,
            );
        };
        // The expression the variables listing gave this child (Delve's
        // computeEvaluateName); a scope's children are their own names.
        let conv = Conv {
            loader: None,
            cfg: DAP_LOAD,
            types: false,
            frame: r.frame,
        };
        let listed = conv.variables(&mut Refs::default(), &r, "");
        let Some(child) = listed
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(a.name.as_str()))
        else {
            let e = format!(
                "no variable named {:?} in reference {}",
                a.name, a.variables_reference
            );
            return self.fail(req, ids::UNABLE_TO_SET_VARIABLE, F, &e);
        };
        let expr = child
            .get("evaluateName")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .unwrap_or(a.name.as_str())
            .to_string();
        let (goid, frame) = match r.frame {
            Some((g, n)) => (Some(g), n),
            None => (self.s.as_ref().and_then(|s| s.current_goroutine()), 0),
        };
        let Some(s) = self.s.as_mut() else {
            return self.fail(req, ids::UNABLE_TO_SET_VARIABLE, F, "no debug session");
        };
        if let Output::Error(e) = in_scope(s, goid, frame, &format!("set {expr} = {}", a.value)) {
            return self.fail(req, ids::UNABLE_TO_SET_VARIABLE, F, &e);
        }
        let types = self.types;
        let ty = in_frame(s, goid, frame, |loader, locals, package| {
            let v = Scope {
                loader,
                locals,
                package,
            }
            .eval(&expr, &DAP_LOAD)
            .map_err(|e| e.to_string())?;
            Ok(type_text(&v))
        })
        .ok()
        .filter(|_| types);
        let mut body = json!({ "value": a.value });
        if let Some(t) = ty {
            body["type"] = json!(t);
        }
        self.ok(req, body);
        if self.invalidated {
            // Values cached in every handle may be stale now: the client reloads.
            self.out
                .event("invalidated", json!({"areas": ["variables"]}));
        }
    }

    /// `call EXPR` from the debug console or a watch: the REPL's `call` on the topmost
    /// frame of the goroutine; the result is the returned values, joined.
    pub(super) fn evaluate_call(
        &mut self,
        req: &Request,
        expr: &str,
        frame_id: Option<i64>,
        show: bool,
    ) {
        const F: &str = "Unable to evaluate expression";
        let fail = |d: &Self, e: &str| {
            d.out
                .error(req, ids::UNABLE_TO_EVALUATE_EXPRESSION, F, e, show);
        };
        let (goid, frame) = match frame_id.and_then(|id| self.refs.get_frame(id)) {
            Some((g, n)) => (Some(g), n),
            None => (self.s.as_ref().and_then(|s| s.current_goroutine()), 0),
        };
        // Delve: arguments naming a caller's variables would be read in the top frame.
        if frame > 0 {
            return fail(self, "call is only supported with topmost stack frame");
        }
        let Some(s) = self.s.as_mut() else {
            return fail(self, "no debug session");
        };
        // The target runs the call: a `pause` may interrupt it.
        self.shared.running.store(true, Ordering::SeqCst);
        let out = in_scope(s, goid, 0, &format!("call {expr}"));
        self.shared.running.store(false, Ordering::SeqCst);
        match out {
            Output::Error(e) => fail(self, &e),
            Output::Text(t) => {
                let result = returned_values(&t).unwrap_or_default();
                self.ok(req, json!({"result": result, "variablesReference": 0}));
            }
            _ => self.ok(req, json!({"result": "", "variablesReference": 0})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_expressions_need_the_word_and_an_expression() {
        assert_eq!(call_expr("call Add(1, 2)"), Some("Add(1, 2)"));
        assert_eq!(call_expr("  call  f()"), Some("f()"));
        assert_eq!(call_expr("caller"), None);
        assert_eq!(call_expr("call "), None);
    }

    #[test]
    fn returned_values_are_joined_and_nested_lines_skipped() {
        let t =
            "> main.tick() x.go:3\nValues returned:\n\t~r0: 3\n\t~r1: main.T {\n\t\tA: 1,}\n\nnext";
        assert_eq!(returned_values(t).as_deref(), Some("3, main.T {"));
        assert_eq!(returned_values("nothing"), None);
    }
}
