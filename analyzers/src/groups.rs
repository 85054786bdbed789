//! `groups`: goroutines bucketed by identical stack (function and line of every frame,
//! plus state); each bucket also counts its distinct exact-PC stacks. User code first.

use crate::common::{self, md_cell};
use coroner::analyze::{Analyzer, Report};
use coroner::fasthash::FastMap as HashMap;
use coroner::goruntime::{Goroutine, G_DEAD};
use coroner::target::Target;
use coroner::unwind::Stack;
use serde_json::json;
use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::Arc;

/// Groups shown in the text report (the JSON has all).
const SHOWN: usize = 30;
/// Member IDs shown per group in text.
const IDS_SHOWN: usize = 10;

pub struct GroupsAnalyzer;

/// One bucket.
pub struct Group {
    pub state: String,
    pub frames: Vec<(String, String, u32)>,
    pub goroutines: Vec<u64>,
    pub exact_stacks: usize,
    pub user: bool,
    pub system: bool,
    pub created_by: Option<String>,
    pub top_user_frame: Option<String>,
    pub wait_since: Option<(i64, i64)>,
}

pub fn group(t: &Target) -> Vec<Group> {
    let gs: Vec<&Goroutine> = t
        .goroutines()
        .iter()
        .filter(|g| g.state() != G_DEAD)
        .collect();
    let stacks = common::stacks_dedup(t, &gs, common::STACK_DEPTH);
    // First by (state, shared stack): cheap, no frame text compared per goroutine.
    let mut buckets: HashMap<(String, *const Stack), Vec<usize>> = HashMap::default();
    let mut order: Vec<(String, *const Stack)> = Vec::new();
    for (i, (g, (st, _))) in gs.iter().zip(stacks.iter()).enumerate() {
        let k = (g.traceback_status(), Arc::as_ptr(st));
        let e = buckets.entry(k.clone()).or_default();
        if e.is_empty() {
            order.push(k);
        }
        e.push(i);
    }
    type Key = (String, Vec<(String, String, u32)>);
    let mut idx: HashMap<Key, usize> = HashMap::default();
    let mut groups: Vec<(Group, BTreeSet<Vec<u64>>)> = Vec::new();
    for bk in order {
        let Some(members) = buckets.get(&bk) else {
            continue;
        };
        let Some(&first) = members.first() else {
            continue;
        };
        let (Some(g), Some((st, fpk))) = (gs.get(first), stacks.get(first)) else {
            continue;
        };
        let frames: Vec<(String, String, u32)> = st
            .frames
            .iter()
            .map(|f| (f.function.clone(), f.file.clone(), f.line))
            .collect();
        let pcs: Vec<u64> = match fpk {
            Some(k) => k.as_ref().clone(),
            None => st.frames.iter().map(|f| f.pc.get()).collect(),
        };
        let key = (bk.0.clone(), frames);
        let gi = match idx.get(&key) {
            Some(i) => *i,
            None => {
                let user = st.frames.iter().any(|f| common::is_user_func(&f.function));
                groups.push((
                    Group {
                        state: key.0.clone(),
                        frames: key.1.clone(),
                        goroutines: Vec::new(),
                        exact_stacks: 0,
                        user,
                        system: g.system,
                        created_by: common::created_by(t, g),
                        top_user_frame: common::top_user_frame(st).map(common::frame_loc),
                        wait_since: None,
                    },
                    BTreeSet::new(),
                ));
                idx.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let Some((gr, exact)) = groups.get_mut(gi) else {
            continue;
        };
        exact.insert(pcs);
        for m in members {
            let Some(g) = gs.get(*m) else { continue };
            gr.goroutines.push(g.goid);
            if g.wait_since > 0 {
                gr.wait_since = Some(match gr.wait_since {
                    Some((lo, hi)) => (lo.min(g.wait_since), hi.max(g.wait_since)),
                    None => (g.wait_since, g.wait_since),
                });
            }
        }
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(mut g, exact)| {
            g.exact_stacks = exact.len();
            g.goroutines.sort_unstable();
            g
        })
        .collect();
    out.sort_by(|a, b| {
        (b.user && !b.system)
            .cmp(&(a.user && !a.system))
            .then(b.goroutines.len().cmp(&a.goroutines.len()))
            .then(a.goroutines.first().cmp(&b.goroutines.first()))
    });
    out
}

impl Analyzer for GroupsAnalyzer {
    fn name(&self) -> &'static str {
        "groups"
    }
    fn description(&self) -> &'static str {
        "goroutines grouped by identical stack and state, user code first"
    }
    fn run(&self, t: &Target) -> Report {
        let groups = group(t);
        let total: usize = groups.iter().map(|g| g.goroutines.len()).sum();
        let mut text = format!(
            "GOROUTINE GROUPS: {total} goroutines in {} groups\n",
            groups.len()
        );
        let mut md = format!(
            "## Goroutine groups\n\n{total} goroutines in {} groups.\n\n| count | state | top user frame | created by | IDs |\n|---|---|---|---|---|\n",
            groups.len()
        );
        for g in groups.iter().take(SHOWN) {
            let ids: Vec<String> = g
                .goroutines
                .iter()
                .take(IDS_SHOWN)
                .map(|i| i.to_string())
                .collect();
            let more = g.goroutines.len().saturating_sub(IDS_SHOWN);
            let ids = if more > 0 {
                format!("{} (+{more})", ids.join(" "))
            } else {
                ids.join(" ")
            };
            let _ = writeln!(
                text,
                "{:>7} [{}] {}{}",
                g.goroutines.len(),
                g.state,
                g.top_user_frame.as_deref().unwrap_or("?"),
                if g.system { " (runtime)" } else { "" }
            );
            if let Some(c) = &g.created_by {
                let _ = writeln!(text, "          created by {c}");
            }
            let _ = writeln!(text, "          goroutines {ids}");
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                g.goroutines.len(),
                md_cell(&g.state),
                md_cell(g.top_user_frame.as_deref().unwrap_or("?")),
                md_cell(g.created_by.as_deref().unwrap_or("")),
                md_cell(&ids)
            );
        }
        if groups.len() > SHOWN {
            let _ = writeln!(
                text,
                "  ... {} more groups (see --json)",
                groups.len() - SHOWN
            );
        }
        let json_groups: Vec<serde_json::Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "count": g.goroutines.len(),
                    "state": g.state,
                    "user": g.user,
                    "system": g.system,
                    "top_user_frame": g.top_user_frame,
                    "created_by": g.created_by,
                    "exact_stacks": g.exact_stacks,
                    "wait_since": g.wait_since.map(|(a, b)| json!({"min": a, "max": b})),
                    "frames": g.frames.iter().map(|(f, file, l)| format!("{f} at {file}:{l}")).collect::<Vec<_>>(),
                    "goroutines": g.goroutines,
                })
            })
            .collect();
        Report {
            text,
            markdown: md,
            json: json!({ "groups": json_groups }),
        }
    }
}
