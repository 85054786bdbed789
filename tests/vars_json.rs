//! `--json` (Session.json) answers of print, locals, args, vars and whatis: value
//! trees with name, type, kind, value, len/cap, address, children and the reason a
//! value is unreadable, on the committed values cores.

use coroner::repl::{Output, Session};
use serde_json::Value;
use std::collections::BTreeMap;

#[path = "support/values.rs"]
mod values;

/// A session in `--json` mode.
fn open(tag: &str) -> anyhow::Result<(tempfile::TempDir, Session)> {
    let (dir, mut s) = values::open(tag)?;
    s.json = true;
    Ok((dir, s))
}

fn json(s: &mut Session, cmd: &str) -> Value {
    match s.execute(cmd) {
        Output::Json(v) => v,
        other => panic!("{cmd}: not JSON: {other:?}"),
    }
}

/// `goroutine G frame F` prefix for the frame running `func`.
fn frame_of(s: &Session, func: &str) -> String {
    let t = s.target().expect("target");
    for g in t.goroutines() {
        let st = t.goroutine_stack(g, 64);
        if let Some(n) = st.frames.iter().position(|f| f.function == func) {
            return format!("goroutine {} frame {n}", g.goid);
        }
    }
    panic!("no frame runs {func}");
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

#[test]
fn print_and_whatis_trees() {
    let (_d, mut s) = open("go1.27-noopt").expect("open");

    let m = json(&mut s, "print main.GMapSmall");
    assert_eq!(m["expr"], "main.GMapSmall");
    let v = &m["value"];
    assert_eq!(v["kind"], "map");
    assert_eq!(v["type"], "map[string]int");
    assert_eq!(v["len"], 3);
    let entries: BTreeMap<String, String> = v["children"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["key"]["value"].as_str().unwrap_or("").to_string(),
                e["value"]["value"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: BTreeMap<String, String> = [("one", "1"), ("three", "3"), ("two", "2")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(entries, want);

    // Pointers are followed: the struct's fields are children of the pointee.
    let p = json(&mut s, "print main.GPtr");
    let v = &p["value"];
    assert_eq!(v["kind"], "ptr");
    assert!(v["address"].as_str().is_some_and(|a| a.starts_with("0x")));
    let outer = &v["children"][0];
    assert_eq!(outer["type"], "main.Outer");
    assert_eq!(
        names(&outer["children"]),
        ["ID", "In", "Ptr", "Arr", "Flag"]
    );
    assert_eq!(outer["children"][0]["value"], "1001");
    assert_eq!(outer["children"][2]["nil"], true);
    assert_eq!(outer["children"][3]["len"], 3);

    // Channels: buffered count and size.
    let c = json(&mut s, "print main.GChan");
    assert_eq!(c["value"]["kind"], "chan");
    assert_eq!(c["value"]["len"], 5);
    assert_eq!(c["value"]["cap"], 5);

    let w = json(&mut s, "whatis main.GErr");
    assert_eq!(w["type"], "error");
    assert_eq!(w["kind"], "interface");
    assert_eq!(w["concrete_type"], "*fmt.wrapError");

    let g = json(&mut s, "vars ^main.GInt$");
    assert_eq!(g["vars"][0]["name"], "main.GInt");
    assert_eq!(g["vars"][0]["value"], "42");

    // Errors stay errors (front ends print them as {"command", "error"}).
    match s.execute("print main.NoSuchGlobal") {
        Output::Error(e) => assert!(e.contains("NoSuchGlobal"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn frame_args_and_locals_trees() {
    let (_d, mut s) = open("go1.27-noopt").expect("open");
    let at = frame_of(&s, "main.holder");
    let a = json(&mut s, &format!("{at} args"));
    let args = &a["args"];
    assert_eq!(names(args), ["n", "s", "o", "m", "wait", "ready"]);
    assert_eq!(args[0]["value"], "21");
    assert_eq!(args[1]["value"], "hello");
    assert_eq!(args[1]["len"], 5);
    // Not followed without -v: the pointee is only an address.
    assert_eq!(args[2]["children"][0]["loaded"], false);
    let l = json(&mut s, &format!("{at} locals -v"));
    let locals = &l["locals"];
    let ptr = locals
        .as_array()
        .expect("locals")
        .iter()
        .find(|v| v["name"] == "ptr")
        .expect("ptr");
    assert_eq!(ptr["children"][0]["children"][0]["value"], "local inner");
}

#[test]
fn unreadable_reasons_in_trees() {
    let (_d, mut s) = open("go1.27-opt").expect("open");
    let at = frame_of(&s, "main.crash");
    let l = json(&mut s, &format!("{at} locals"));
    let msg = l["locals"]
        .as_array()
        .expect("locals")
        .iter()
        .find(|v| v["name"] == "msg")
        .expect("msg");
    assert!(
        msg["unreadable"]
            .as_str()
            .is_some_and(|r| r.starts_with("could not find loclist entry")),
        "{msg}"
    );
    assert!(msg.get("value").is_none());
}
