//! `waitgraph`: deadlocks (cycles of goroutines waiting on each other through mutexes
//! and channels) and waits that can never end. See [`crate::hangs`] for the model.

use crate::common::md_cell;
use crate::hangs::{Hangs, ObjKind, Object};
use coroner::analyze::{Analyzer, Report};
use coroner::target::Target;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

pub struct WaitgraphAnalyzer;

impl Analyzer for WaitgraphAnalyzer {
    fn name(&self) -> &'static str {
        "waitgraph"
    }
    fn description(&self) -> &'static str {
        "who waits on what: deadlocks (lock-order inversions, channel cycles) and waits that can never end"
    }
    fn run(&self, target: &Target) -> Report {
        report(&Hangs::cached(target))
    }
}

fn obj_text(h: &Hangs, o: usize) -> String {
    h.objects
        .get(o)
        .map(Object::describe)
        .unwrap_or_else(|| "?".into())
}

/// One member of a deadlock: what it waits on, where, and what it holds.
fn member_json(h: &Hangs, g: u64, objs: &[usize]) -> Value {
    let w = h.waits.get(&g);
    let waits: Vec<Value> = w
        .map(|w| {
            w.cases
                .iter()
                .map(|c| {
                    json!({
                        "object": c.obj,
                        "direction": c.dir.map(|d| d.as_str()),
                        "woken_by": h.edges.get(&g).map(|e| e.iter().copied().collect::<Vec<_>>()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let holds: Vec<Value> = h
        .held_by(g, objs)
        .into_iter()
        .map(|(o, at)| json!({"object": o, "at": at}))
        .collect();
    json!({
        "goroutine": g,
        "at": w.and_then(|w| w.at.clone()),
        "waits_on": waits,
        "holds": holds,
    })
}

pub fn report(h: &Hangs) -> Report {
    let mut text = String::new();
    let mut md = String::from("## Deadlocks and stuck goroutines\n\n");
    let objects_json = |ids: &[usize]| -> Vec<Value> {
        ids.iter()
            .filter_map(|o| {
                h.objects.get(*o).map(|ob| {
                    let mut v = ob.json();
                    if let Some(m) = v.as_object_mut() {
                        m.insert("id".into(), json!(o));
                    }
                    v
                })
            })
            .collect()
    };
    let mut deadlocks = Vec::new();
    if h.deadlocks.is_empty() {
        text.push_str("No deadlock found.\n");
        md.push_str("No deadlock found.\n\n");
    }
    for (i, d) in h.deadlocks.iter().enumerate() {
        let _ = writeln!(
            text,
            "DEADLOCK {} ({}): goroutines {}",
            i + 1,
            d.kind,
            join(&d.goroutines)
        );
        let _ = writeln!(
            md,
            "### Deadlock {} — {}\n\nGoroutines {}\n\n| goroutine | waits on | at | holds |\n|---|---|---|---|",
            i + 1,
            d.kind,
            join(&d.goroutines)
        );
        for g in &d.goroutines {
            let w = h.waits.get(g);
            let waits: Vec<String> = w
                .map(|w| {
                    w.cases
                        .iter()
                        .map(|c| match c.dir {
                            Some(dir) => format!("{} {}", dir.as_str(), obj_text(h, c.obj)),
                            None => obj_text(h, c.obj),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let at = w.and_then(|w| w.at.clone()).unwrap_or_else(|| "?".into());
            let holds: Vec<String> = h
                .held_by(*g, &d.objects)
                .into_iter()
                .map(|(o, at)| match at {
                    Some(at) => format!("{} (from {at})", obj_text(h, o)),
                    None => obj_text(h, o),
                })
                .collect();
            let _ = writeln!(text, "  goroutine {g} waits on {}", waits.join(" | "));
            let _ = writeln!(text, "      at {at}");
            for x in &holds {
                // A goroutine "holds" a lock it references; it only "can reach" a channel.
                let verb = if x.starts_with("chan ") {
                    "references"
                } else {
                    "holds"
                };
                let _ = writeln!(text, "      {verb} {x}");
            }
            let _ = writeln!(
                md,
                "| {g} | {} | {} | {} |",
                md_cell(&waits.join(", ")),
                md_cell(&at),
                md_cell(&holds.join(", "))
            );
        }
        if !d.blocked_behind.is_empty() {
            let _ = writeln!(
                text,
                "  blocked behind it: goroutines {}",
                join(&d.blocked_behind)
            );
            let _ = writeln!(
                md,
                "\nBlocked behind it: goroutines {}",
                join(&d.blocked_behind)
            );
        }
        md.push('\n');
        deadlocks.push(json!({
            "kind": d.kind,
            "goroutines": d.goroutines,
            "objects": objects_json(&d.objects),
            "members": d.goroutines.iter().map(|g| member_json(h, *g, &d.objects)).collect::<Vec<_>>(),
            "blocked_behind": d.blocked_behind,
        }));
    }
    let mut forever = Vec::new();
    for f in &h.forever {
        let obj = f.object.map(|o| obj_text(h, o));
        let _ = writeln!(
            text,
            "STUCK FOREVER ({}){}: {} goroutine(s): {}",
            f.reason,
            obj.as_ref().map(|o| format!(" on {o}")).unwrap_or_default(),
            f.goroutines.len(),
            join_capped(&f.goroutines, 20)
        );
        let _ = writeln!(
            md,
            "- **stuck forever** ({}){}: {} goroutine(s): {}",
            f.reason,
            obj.as_ref()
                .map(|o| format!(" on `{o}`"))
                .unwrap_or_default(),
            f.goroutines.len(),
            join_capped(&f.goroutines, 20)
        );
        let at = f
            .goroutines
            .first()
            .and_then(|g| h.waits.get(g))
            .and_then(|w| w.at.clone());
        if let Some(at) = &at {
            let _ = writeln!(text, "  at {at}");
        }
        forever.push(json!({
            "reason": f.reason,
            "object": f.object.and_then(|o| h.objects.get(o)).map(Object::json),
            "goroutines": f.goroutines,
            "at": at,
            "blocked_behind": f.blocked_behind,
        }));
    }
    let sync_waits = sync_waits(h, &mut text, &mut md);
    for p in &h.problems {
        let _ = writeln!(text, "note: {p}");
        let _ = writeln!(md, "\n> note: {p}");
    }
    Report {
        text,
        markdown: md,
        json: json!({
            "deadlocks": deadlocks,
            "blocked_forever": forever,
            "sync_waits": sync_waits,
            "waitgraph_problems": h.problems,
        }),
    }
}

/// Sync objects shown in the text report (all are in the JSON).
const MAX_SYNC_TEXT: usize = 20;

/// Every `sync` object (Mutex, RWMutex, WaitGroup, Cond, bare semaphore) some goroutine
/// waits on, most waiters first, whether or not the wait can end: which lock or
/// condition a stuck service piles up on is the first question of a hang.
fn sync_waits(h: &Hangs, text: &mut String, md: &mut String) -> Vec<Value> {
    let mut by_obj: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for w in h.waits.values() {
        for c in &w.cases {
            if h.objects
                .get(c.obj)
                .is_some_and(|o| o.kind != ObjKind::Chan)
            {
                by_obj.entry(c.obj).or_default().push(w.goid);
            }
        }
    }
    let mut rows: Vec<(usize, Vec<u64>)> = by_obj.into_iter().collect();
    rows.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    if !rows.is_empty() {
        text.push_str("\nSYNC WAITS\n");
        md.push_str("\n### Goroutines waiting on sync objects\n\n");
    }
    let mut out = Vec::new();
    for (i, (o, gs)) in rows.iter().enumerate() {
        let at = gs
            .first()
            .and_then(|g| h.waits.get(g))
            .and_then(|w| w.at.clone());
        if i < MAX_SYNC_TEXT {
            let _ = writeln!(
                text,
                "  {}: {} goroutine(s): {}",
                obj_text(h, *o),
                gs.len(),
                join_capped(gs, 20)
            );
            if let Some(at) = &at {
                let _ = writeln!(text, "      at {at}");
            }
            let _ = writeln!(
                md,
                "- `{}`: {} goroutine(s): {}",
                obj_text(h, *o),
                gs.len(),
                join_capped(gs, 20)
            );
        } else if i == MAX_SYNC_TEXT {
            let _ = writeln!(text, "  ... {} more objects", rows.len() - i);
        }
        out.push(json!({
            "object": h.objects.get(*o).map(Object::json),
            "goroutines": gs,
            "at": at,
            "doomed": gs.iter().all(|g| h.doomed.contains(g)),
        }));
    }
    out
}

fn join(ids: &[u64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn join_capped(ids: &[u64], n: usize) -> String {
    let mut s = join(ids.get(..n.min(ids.len())).unwrap_or(ids));
    if ids.len() > n {
        let _ = write!(s, ", ... ({} more)", ids.len() - n);
    }
    s
}
