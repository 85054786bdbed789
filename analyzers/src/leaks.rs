//! `leaks`: large groups of goroutines parked at the same creation site, ranked by
//! size, with the object they wait on.

use crate::common::{self, md_cell};
use crate::hangs::Hangs;
use coroner::analyze::{Analyzer, Report};
use coroner::fasthash::FastMap as HashMap;
use coroner::goruntime::Goroutine;
use coroner::target::Target;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A creation site with at least this many parked goroutines is reported.
pub const MIN_LEAK: usize = 100;

pub struct LeaksAnalyzer;

impl Analyzer for LeaksAnalyzer {
    fn name(&self) -> &'static str {
        "leaks"
    }
    fn description(&self) -> &'static str {
        "large groups of goroutines parked at the same creation site, with what they wait on"
    }
    fn run(&self, target: &Target) -> Report {
        report(target, &Hangs::cached(target))
    }
}

pub fn report(t: &Target, h: &Hangs) -> Report {
    // (creation PC, wait reason) -> members
    let mut sites: HashMap<(u64, String), Vec<&Goroutine>> = HashMap::default();
    for g in t
        .goroutines()
        .iter()
        .filter(|g| !g.system && g.is_waiting())
    {
        sites
            .entry((g.gopc.get(), g.traceback_status()))
            .or_default()
            .push(g);
    }
    let mut big: Vec<((u64, String), Vec<&Goroutine>)> = sites
        .into_iter()
        .filter(|(_, v)| v.len() >= MIN_LEAK)
        .collect();
    big.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut text = String::new();
    let mut md = String::from("## Goroutine leaks\n\n");
    if big.is_empty() {
        let _ = writeln!(
            text,
            "No goroutine leak (no creation site with {MIN_LEAK}+ parked goroutines)."
        );
        let _ = writeln!(
            md,
            "None (no creation site with {MIN_LEAK}+ parked goroutines)."
        );
    } else {
        md.push_str("| goroutines | state | created by | waits on | top user frame |\n|---|---|---|---|---|\n");
    }
    let mut out = Vec::new();
    for ((_, state), gs) in &big {
        let mut ids: Vec<u64> = gs.iter().map(|g| g.goid).collect();
        ids.sort_unstable();
        let first = gs.iter().min_by_key(|g| g.goid).copied();
        let created = first.and_then(|g| common::created_by(t, g));
        let top = first.and_then(|g| {
            let st = t.goroutine_stack(g, common::STACK_DEPTH);
            common::top_user_frame(&st).map(common::frame_loc)
        });
        // The object most of them wait on.
        let mut objs: BTreeMap<usize, usize> = BTreeMap::new();
        for id in &ids {
            if let Some(w) = h.waits.get(id) {
                for c in &w.cases {
                    *objs.entry(c.obj).or_default() += 1;
                }
            }
        }
        let obj = objs.iter().max_by_key(|(_, n)| **n).map(|(o, _)| *o);
        let obj_desc = obj.and_then(|o| h.objects.get(o));
        let unreachable = h
            .forever
            .iter()
            .any(|f| f.object.is_some() && f.object == obj && !f.goroutines.is_empty());
        let since: Vec<i64> = gs.iter().map(|g| g.wait_since).filter(|w| *w > 0).collect();
        let _ = writeln!(
            text,
            "LEAK? {} goroutines [{}] created by {}",
            ids.len(),
            state,
            created.as_deref().unwrap_or("?")
        );
        if let Some(o) = obj_desc {
            let _ = writeln!(
                text,
                "  waiting on {}{}",
                o.describe(),
                if unreachable {
                    " — no other goroutine references it"
                } else {
                    ""
                }
            );
        }
        if let Some(tp) = &top {
            let _ = writeln!(text, "  at {tp}");
        }
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            ids.len(),
            md_cell(state),
            md_cell(created.as_deref().unwrap_or("?")),
            md_cell(&obj_desc.map(|o| o.describe()).unwrap_or_default()),
            md_cell(top.as_deref().unwrap_or("?"))
        );
        out.push(json!({
            "count": ids.len(),
            "state": state,
            "created_by": created,
            "top_user_frame": top,
            "object": obj_desc.map(|o| o.json()),
            "unreachable": unreachable,
            "wait_since": {"min": since.iter().min(), "max": since.iter().max()},
            "goroutines": ids,
        }));
    }
    Report {
        text,
        markdown: md,
        json: json!({ "leaks": out }),
    }
}
