//! The analyzers on the hang fixtures (`cores/fixtures-hangs/go1.NN-MODE/`, built by
//! `cores/generate-hangs.sh`): every deadlock and leak must name exactly the goroutines
//! the Go runtime's own traceback (`SCENARIO.stderr[.zst]`) shows in the scenario's
//! functions, with the right objects; the healthy server must have no deadlock.
//! Also: no deadlock on any `cores/fixtures/*/sigquit_service` core, its
//! `sync.Cond.Wait` goroutine mapped to its sync.Cond, the built-in sync.Cond layout
//! against DWARF, and the REPL's `analyze` command.

#[path = "../../tests/support/traceback.rs"]
mod traceback;

use coroner::repl::{Output, Session};
use coroner::target::{OpenOptions, Target};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use traceback::Traceback;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dirs(sub: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join(sub))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn oracle(dir: &Path, scenario: &str) -> Traceback {
    let plain = dir.join(format!("{scenario}.stderr"));
    let text = match std::fs::read_to_string(&plain) {
        Ok(t) => t,
        Err(_) => {
            let z = std::fs::read(dir.join(format!("{scenario}.stderr.zst")))
                .unwrap_or_else(|e| panic!("{}: no traceback: {e}", dir.display()));
            let raw = zstd::stream::decode_all(&z[..]).expect("zstd traceback");
            String::from_utf8(raw).expect("utf-8 traceback")
        }
    };
    traceback::parse(&text).unwrap_or_else(|e| panic!("{}/{scenario}: {e}", dir.display()))
}

/// IDs of the goroutines whose traceback stack has a frame in `func`.
fn ids_in(tb: &Traceback, funcs: &[&str]) -> BTreeSet<u64> {
    tb.goroutines
        .iter()
        .filter(|g| funcs.iter().any(|f| g.has_frame(f)))
        .map(|g| g.id)
        .collect()
}

fn triage(dir: &Path, bin: &str, scenario: &str) -> (Target, Value) {
    let t = Target::open(&OpenOptions {
        binary: dir.join(bin),
        core: dir.join(format!("{scenario}.core.zst")),
        force: false,
    })
    .unwrap_or_else(|e| panic!("{}/{scenario}: {e}", dir.display()));
    let r = coroner_analyzers::registry().triage(&t);
    (t, r.json)
}

fn ids(v: &Value) -> BTreeSet<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn kinds(d: &Value) -> Vec<String> {
    let mut k: Vec<String> = arr(d, "objects")
        .iter()
        .filter_map(|o| o.get("kind").and_then(Value::as_str).map(String::from))
        .collect();
    k.sort();
    k
}

fn names(d: &Value) -> BTreeSet<String> {
    arr(d, "objects")
        .iter()
        .filter_map(|o| o.get("name").and_then(Value::as_str).map(String::from))
        .collect()
}

fn the_deadlock<'a>(label: &str, j: &'a Value) -> &'a Value {
    let ds = arr(j, "deadlocks");
    assert_eq!(ds.len(), 1, "{label}: expected one deadlock, got {ds:#?}");
    &ds[0]
}

#[test]
fn hang_scenarios_match_the_runtime_traceback() {
    let all = dirs("cores/fixtures-hangs");
    if all.is_empty() {
        eprintln!("no cores/fixtures-hangs: skipped");
        return;
    }
    let mut checked = 0;
    for dir in &all {
        let tag = dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let symbols = !tag.ends_with("-stripped");

        // Lock-order inversion on two fields of the package variable `ledger`.
        let label = format!("{tag}/lock_order");
        let tb = oracle(dir, "lock_order");
        let (_, j) = triage(dir, "hangs.zst", "lock_order");
        let d = the_deadlock(&label, &j);
        let want = ids_in(&tb, &["main.transferIn", "main.transferOut"]);
        assert_eq!(want.len(), 2, "{label}: oracle");
        assert_eq!(ids(&d["goroutines"]), want, "{label}");
        assert_eq!(d["kind"], "lock-order inversion", "{label}");
        assert_eq!(kinds(d), vec!["sync.Mutex", "sync.Mutex"], "{label}");
        if symbols {
            let n: BTreeSet<String> = ["main.ledger.accounts", "main.ledger.journal"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(names(d), n, "{label}");
            // transferIn waits for journal while holding accounts.
            let tin = ids_in(&tb, &["main.transferIn"]);
            let m = arr(d, "members")
                .iter()
                .find(|m| tin.contains(&m["goroutine"].as_u64().unwrap_or(0)))
                .expect("transferIn member");
            let objs = arr(d, "objects");
            let obj_name = |id: &Value| {
                objs.iter()
                    .find(|o| o["id"] == *id)
                    .and_then(|o| o["name"].as_str())
                    .unwrap_or("")
                    .to_string()
            };
            assert_eq!(
                obj_name(&m["waits_on"][0]["object"]),
                "main.ledger.journal",
                "{label}"
            );
            assert_eq!(
                obj_name(&m["holds"][0]["object"]),
                "main.ledger.accounts",
                "{label}"
            );
        }
        assert!(arr(&j, "leaks").is_empty(), "{label}: no leak");

        // Channel cycle.
        let label = format!("{tag}/chan_cycle");
        let tb = oracle(dir, "chan_cycle");
        let (_, j) = triage(dir, "hangs.zst", "chan_cycle");
        let d = the_deadlock(&label, &j);
        let want = ids_in(&tb, &["main.ping", "main.pong"]);
        assert_eq!(want.len(), 2, "{label}: oracle");
        assert_eq!(ids(&d["goroutines"]), want, "{label}");
        assert_eq!(d["kind"], "channel cycle", "{label}");
        assert_eq!(kinds(d), vec!["chan", "chan"], "{label}");
        for m in arr(d, "members") {
            assert_eq!(m["waits_on"][0]["direction"], "send", "{label}");
        }

        // RWMutex writer behind a reader that waits on a channel the writer would send on.
        let label = format!("{tag}/rwmutex_starve");
        let tb = oracle(dir, "rwmutex_starve");
        let (_, j) = triage(dir, "hangs.zst", "rwmutex_starve");
        let d = the_deadlock(&label, &j);
        assert_eq!(
            ids(&d["goroutines"]),
            ids_in(&tb, &["main.refresher", "main.invalidator"]),
            "{label}"
        );
        assert_eq!(
            ids(&d["blocked_behind"]),
            ids_in(&tb, &["main.lookup"]),
            "{label}"
        );
        assert_eq!(kinds(d), vec!["chan", "sync.RWMutex"], "{label}");
        if symbols {
            assert!(
                names(d).contains("main.cache.mu"),
                "{label}: {:?}",
                names(d)
            );
        }

        // 3,000 senders nobody receives from.
        let label = format!("{tag}/leak");
        let tb = oracle(dir, "leak");
        let (t, j) = triage(dir, "hangs.zst", "leak");
        assert!(arr(&j, "deadlocks").is_empty(), "{label}: no deadlock");
        let leaks = arr(&j, "leaks");
        assert_eq!(leaks.len(), 1, "{label}: {leaks:#?}");
        let want = ids_in(&tb, &["main.compute"]);
        assert_eq!(want.len(), 3000, "{label}: oracle");
        assert_eq!(leaks[0]["count"], 3000, "{label}");
        assert_eq!(ids(&leaks[0]["goroutines"]), want, "{label}");
        assert_eq!(leaks[0]["object"]["kind"], "chan", "{label}");
        assert_eq!(leaks[0]["unreachable"], true, "{label}");
        assert!(
            leaks[0]["created_by"]
                .as_str()
                .unwrap_or("")
                .starts_with("main.fanOut at "),
            "{label}: {}",
            leaks[0]["created_by"]
        );
        // Groups: the 3,000 share one stack; every goroutine is in exactly one group.
        let groups = arr(&j, "groups");
        let g = groups
            .iter()
            .find(|g| g["count"] == 3000)
            .expect("the leak's group");
        assert_eq!(ids(&g["goroutines"]), want, "{label}");
        assert_eq!(g["state"], "chan send", "{label}");
        let total: u64 = groups.iter().filter_map(|g| g["count"].as_u64()).sum();
        assert_eq!(
            total as usize,
            t.goroutines().len(),
            "{label}: groups cover all"
        );
        assert_eq!(
            groups[0]["count"], 3000,
            "{label}: the largest user group comes first"
        );

        // Healthy busy server: nothing is stuck.
        let label = format!("{tag}/healthy");
        let (_, j) = triage(dir, "hangs.zst", "healthy");
        assert!(
            arr(&j, "deadlocks").is_empty(),
            "{label}: {:#}",
            j["deadlocks"]
        );
        assert!(arr(&j, "leaks").is_empty(), "{label}");

        // A nil channel and select {}: stuck forever, not a deadlock.
        let label = format!("{tag}/nil_wait");
        let tb = oracle(dir, "nil_wait");
        let (_, j) = triage(dir, "hangs.zst", "nil_wait");
        assert!(arr(&j, "deadlocks").is_empty(), "{label}");
        let forever = arr(&j, "blocked_forever");
        let find = |reason: &str| -> BTreeSet<u64> {
            forever
                .iter()
                .filter(|f| f["reason"] == reason)
                .flat_map(|f| ids(&f["goroutines"]))
                .collect()
        };
        assert_eq!(
            find("wait on a nil channel"),
            ids_in(&tb, &["main.waitNil"]),
            "{label}"
        );
        assert_eq!(
            find("select with no cases"),
            ids_in(&tb, &["main.waitForever"]),
            "{label}"
        );

        // The crash section: the runtime aborted after catching SIGQUIT.
        let c = &j["crash"];
        assert_eq!(c["signal"], "SIGABRT: abort", "{label}");
        let v = tag.split('-').next().unwrap_or("");
        assert!(
            c["go_version"].as_str().unwrap_or("").contains(v),
            "{label}: {} vs {v}",
            c["go_version"]
        );
        checked += 1;
    }
    assert!(checked > 0);
    eprintln!("{checked} fixture directories checked");
}

#[test]
fn service_cores_have_no_deadlock() {
    let mut checked = 0;
    for dir in dirs("cores/fixtures") {
        if !dir.join("sigquit_service.core.zst").is_file() {
            continue;
        }
        let label = format!("{}/sigquit_service", dir.display());
        let (_, j) = triage(&dir, "scenarios.zst", "sigquit_service");
        assert!(
            arr(&j, "deadlocks").is_empty(),
            "{label}: {:#}",
            j["deadlocks"]
        );
        // The nil-channel receiver and the `select {}` goroutine are stuck forever.
        let tb = oracle(&dir, "sigquit_service");
        let forever: BTreeSet<u64> = arr(&j, "blocked_forever")
            .iter()
            .filter(|f| {
                f["reason"] == "wait on a nil channel" || f["reason"] == "select with no cases"
            })
            .flat_map(|f| ids(&f["goroutines"]))
            .collect();
        let want = ids_in(
            &tb,
            &[
                "example.com/scenarios/internal/service.(*Service).nilReceiver",
                "example.com/scenarios/internal/service.(*Service).forever",
            ],
        );
        assert_eq!(forever, want, "{label}");

        // The one goroutine in sync.(*Cond).Wait waits on `s.Cond`. The traceback
        // prints notifyListWait's first argument, `&c.notify`: the Cond is 16 bytes
        // below (after `noCopy` and `L Locker`).
        let cond_g = ids_in(&tb, &["sync.(*Cond).Wait"]);
        assert_eq!(cond_g.len(), 1, "{label}: oracle");
        let notify = notify_list_arg(&dir);
        let symbols = !dir.to_string_lossy().ends_with("-stripped");
        let conds: Vec<&Value> = arr(&j, "sync_waits")
            .iter()
            .filter(|w| w["object"]["kind"] == "sync.Cond")
            .collect();
        assert_eq!(conds.len(), 1, "{label}: {:#}", j["sync_waits"]);
        let c = conds[0];
        assert_eq!(ids(&c["goroutines"]), cond_g, "{label}");
        assert_eq!(
            c["object"]["address"],
            format!("{:#x}", notify - 16),
            "{label}"
        );
        assert_eq!(c["doomed"], false, "{label}");
        if symbols {
            assert_eq!(
                c["object"]["name"],
                "s.Cond in example.com/scenarios/internal/service.(*Service).condWaiter",
                "{label}"
            );
        } else {
            assert!(c["object"]["name"].is_null(), "{label}: {c:#}");
        }
        assert!(
            !arr(&j, "waitgraph_problems")
                .iter()
                .any(|p| p.as_str().unwrap_or("").contains("sync.Cond")),
            "{label}: {:#}",
            j["waitgraph_problems"]
        );
        checked += 1;
    }
    eprintln!("{checked} service cores checked");
    assert!(checked > 0 || dirs("cores/fixtures").is_empty());
}

/// `&c.notify` as the runtime's traceback prints it: the first argument of the only
/// `sync.runtime_notifyListWait` frame of `sigquit_service.stderr`.
fn notify_list_arg(dir: &Path) -> u64 {
    let text = std::fs::read_to_string(dir.join("sigquit_service.stderr"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let args: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("sync.runtime_notifyListWait(0x"))
        .filter_map(|rest| {
            let hex = rest.split([',', ')']).next()?;
            u64::from_str_radix(hex, 16).ok()
        })
        .collect();
    assert_eq!(args.len(), 1, "{}: {args:x?}", dir.display());
    args[0]
}

/// The built-in sync.Cond layout (used on stripped binaries) equals DWARF on every
/// unstripped scenarios binary, whose service uses a sync.Cond.
#[test]
fn builtin_cond_layout_equals_dwarf() {
    use coroner::goruntime::waits::CondLayouts;
    use coroner::goruntime::GoVersion;
    use coroner::symbols::dwarf::Dwarf;
    use coroner::symbols::{buildinfo, Binary};
    let mut checked = 0;
    for dir in dirs("cores/fixtures") {
        let label = dir.display().to_string();
        if label.ends_with("-stripped") || !dir.join("scenarios.zst").is_file() {
            continue;
        }
        let bin =
            Binary::open(&dir.join("scenarios.zst")).unwrap_or_else(|e| panic!("{label}: {e}"));
        let v = buildinfo::read(&bin)
            .and_then(|b| GoVersion::parse(&b.go_version))
            .unwrap_or_else(|| panic!("{label}: no Go version"));
        let d = Dwarf::load(&std::sync::Arc::new(bin))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("{label}: no DWARF"));
        let from_dwarf = CondLayouts::from_dwarf(&d)
            .unwrap_or_else(|| panic!("{label}: DWARF lacks sync.Cond or notifyList"));
        assert_eq!(
            CondLayouts::builtin(v.major, v.minor),
            Some(from_dwarf),
            "{label} ({})",
            v.raw
        );
        checked += 1;
    }
    eprintln!("{checked} binaries: built-in sync.Cond layout equals DWARF");
}

#[test]
fn repl_analyze_command() {
    let Some(dir) = dirs("cores/fixtures-hangs")
        .into_iter()
        .find(|d| d.ends_with("go1.22-opt"))
    else {
        eprintln!("no go1.22-opt hang fixtures: skipped");
        return;
    };
    let t = Target::open(&OpenOptions {
        binary: dir.join("hangs.zst"),
        core: dir.join("lock_order.core.zst"),
        force: false,
    })
    .expect("open");
    let mut s = Session::new(t);
    assert!(
        matches!(s.execute("analyze"), Output::Error(_)),
        "no analyzers registered yet"
    );
    s.set_analyzers(coroner_analyzers::registry());
    match s.execute("analyze waitgraph") {
        Output::Text(t) => {
            assert!(t.contains("DEADLOCK 1 (lock-order inversion)"), "{t}");
            assert!(t.contains("main.ledger.journal"), "{t}");
        }
        o => panic!("{o:?}"),
    }
    match s.execute("analyze nosuch") {
        Output::Error(e) => assert!(
            e.contains("available: crash, waitgraph, leaks, groups"),
            "{e}"
        ),
        o => panic!("{o:?}"),
    }
    match s.execute("analyze list") {
        Output::Text(t) => assert_eq!(t.lines().count(), 4, "{t}"),
        o => panic!("{o:?}"),
    }
    s.json = true;
    match s.execute("analyze") {
        Output::Json(v) => {
            for k in ["crash", "groups", "deadlocks", "leaks", "blocked_forever"] {
                assert!(v.get(k).is_some(), "missing {k}");
            }
            assert_eq!(arr(&v, "deadlocks").len(), 1);
        }
        o => panic!("{o:?}"),
    }
    // Other commands still work after the hook.
    assert!(!matches!(s.execute("goroutines"), Output::Error(_)));
}
