//! Parses every committed fixture traceback (cores/fixtures/*/*.stderr) and
//! checks both general sanity and known facts about each scenario.

#[path = "support/traceback.rs"]
mod traceback;

use std::path::{Path, PathBuf};
use traceback::{TbGoroutine, Traceback};

struct Fixture {
    dir: String,
    scenario: String,
    go_minor: u32,
    mode: String,
    path: PathBuf,
}

fn fixtures() -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures");
    let mut out = Vec::new();
    let dirs = std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for dir in dirs {
        let dir = dir.expect("read_dir entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        // go1.NN-MODE
        let Some((ver, mode)) = name.strip_prefix("go1.").and_then(|r| r.split_once('-')) else {
            continue;
        };
        let go_minor: u32 = ver.parse().expect("go minor version");
        for f in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = f.expect("entry").path();
            let fname = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some(scenario) = fname.strip_suffix(".stderr") {
                out.push(Fixture {
                    dir: name.clone(),
                    scenario: scenario.to_string(),
                    go_minor,
                    mode: mode.to_string(),
                    path: path.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.dir, &a.scenario).cmp(&(&b.dir, &b.scenario)));
    out
}

fn load(f: &Fixture) -> Traceback {
    let text = std::fs::read_to_string(&f.path).expect("read stderr");
    traceback::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.path.display()))
}

fn statuses(tb: &Traceback) -> Vec<&str> {
    tb.goroutines.iter().map(|g| g.status.as_str()).collect()
}

fn find_with_frame<'a>(tb: &'a Traceback, func: &str) -> &'a TbGoroutine {
    tb.goroutines
        .iter()
        .find(|g| g.has_frame(func))
        .unwrap_or_else(|| panic!("no goroutine with frame {func}"))
}

const WORK: &str = "example.com/scenarios/internal/work";
const SERVICE: &str = "example.com/scenarios/internal/service";
const SRC: &str = "/tmp/coroner-fixtures/src";

#[test]
fn every_fixture_parses_sanely() {
    let all = fixtures();
    // 8 versions x 3 modes x 7 scenarios, plus the gcore fixture.
    assert!(all.len() >= 169, "only {} fixture tracebacks", all.len());
    for f in &all {
        let tb = load(f);
        let ctx = format!("{}/{}", f.dir, f.scenario);
        assert!(!tb.header.is_empty(), "{ctx}: no header");
        assert!(
            tb.goroutines.len() >= 4,
            "{ctx}: {} goroutines",
            tb.goroutines.len()
        );
        let mut ids: Vec<u64> = tb.goroutines.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), tb.goroutines.len(), "{ctx}: duplicate ids");
        for g in &tb.goroutines {
            assert!(g.id > 0, "{ctx}: goroutine 0 kept");
            assert!(!g.status.is_empty(), "{ctx}: g{} status", g.id);
            for fr in g.frames.iter().chain(g.created_by.iter()) {
                assert!(!fr.function.is_empty(), "{ctx}: g{} empty function", g.id);
                assert!(fr.line > 0, "{ctx}: g{} {} line 0", g.id, fr.function);
                assert!(
                    fr.file.ends_with(".go") || fr.file.ends_with(".s"),
                    "{ctx}: g{} odd file {}",
                    g.id,
                    fr.file
                );
                // GOTRACEBACK=crash prints fp/sp/pc for every non-inlined frame.
                if !fr.inlined && g.frames.iter().any(|x| std::ptr::eq(x, fr)) {
                    assert!(
                        fr.pc.is_some() && fr.sp.is_some(),
                        "{ctx}: g{} {fr:?}",
                        g.id
                    );
                }
            }
            // Every user goroutine's outermost frame is goexit, unless the
            // stack is unavailable or Go < 1.21 elided the outer frames.
            if let Some(last) = g.frames.last() {
                if (g.created_by.is_some() || g.id == 1) && !(g.elided && f.go_minor < 21) {
                    assert_eq!(last.function, "runtime.goexit", "{ctx}: g{}", g.id);
                }
            }
        }
    }
}

#[test]
fn panic_main() {
    for f in fixtures().iter().filter(|f| f.scenario == "panic_main") {
        let tb = load(f);
        let ctx = &f.dir;
        assert_eq!(
            tb.header[0], "panic: config limit=42: limit out of range",
            "{ctx}"
        );
        assert_eq!(tb.crashing, Some(1), "{ctx}");
        let g1 = tb.goroutine(1).expect("goroutine 1");
        let names: Vec<&str> = g1.frames.iter().map(|f| f.function.as_str()).collect();
        let at = names
            .iter()
            .position(|n| *n == "main.checkLimit")
            .unwrap_or_else(|| panic!("{ctx}: {names:?}"));
        assert_eq!(
            &names[at..at + 5],
            &[
                "main.checkLimit",
                "main.applyLimit",
                "main.loadConfig",
                "main.panicMain",
                "main.main"
            ],
            "{ctx}"
        );
        let check = &g1.frames[at];
        assert_eq!(check.file, format!("{SRC}/panic_main.go"), "{ctx}");
        assert_eq!(check.line, 73, "{ctx}");
        // Inlined only when optimised.
        assert_eq!(check.inlined, f.mode != "noopt", "{ctx}");
        assert_eq!(check.pc_offset.is_none(), f.mode != "noopt", "{ctx}");
        let st = statuses(&tb);
        for want in ["chan receive", "chan send", "select", "sleep"] {
            assert!(st.contains(&want), "{ctx}: {want} not in {st:?}");
        }
        let mutex = if f.go_minor >= 20 {
            "sync.Mutex.Lock"
        } else {
            "semacquire"
        };
        let waiter = find_with_frame(&tb, &format!("{WORK}.waitMutex"));
        assert_eq!(waiter.status, mutex, "{ctx}");
        let sel = find_with_frame(&tb, &format!("{WORK}.waitSelect"));
        assert_eq!(sel.status, "select", "{ctx}");
        let cb = sel.created_by.as_ref().expect("created by");
        assert_eq!(cb.function, format!("{WORK}.ParkFive"), "{ctx}");
        assert_eq!(cb.file, format!("{SRC}/internal/work/park.go"), "{ctx}");
        let creator = if f.go_minor >= 21 { Some(1) } else { None };
        assert_eq!(sel.created_in_goroutine, creator, "{ctx}");
    }
}

#[test]
fn nil_goroutine() {
    for f in fixtures().iter().filter(|f| f.scenario == "nil_goroutine") {
        let tb = load(f);
        let ctx = &f.dir;
        assert!(
            tb.header[0].ends_with("invalid memory address or nil pointer dereference"),
            "{ctx}"
        );
        assert!(tb.header[1].starts_with("[signal SIGSEGV"), "{ctx}");
        let id = tb.crashing.expect("crashing goroutine");
        assert_ne!(id, 1, "{ctx}");
        let g = tb.goroutine(id).expect("crashing goroutine");
        let names: Vec<&str> = g.frames.iter().map(|f| f.function.as_str()).collect();
        let at = names
            .iter()
            .position(|n| *n == format!("{WORK}.describe"))
            .unwrap_or_else(|| panic!("{ctx}: {names:?}"));
        assert_eq!(names[at + 1], format!("{WORK}.visit"), "{ctx}");
        assert_eq!(names[at + 2], format!("{WORK}.Process"), "{ctx}");
        assert_eq!(
            at.checked_sub(1).and_then(|i| names.get(i)),
            Some(&"runtime.sigpanic"),
            "{ctx}"
        );
        assert_eq!(
            g.frames[at].file,
            format!("{SRC}/internal/work/nilderef.go"),
            "{ctx}"
        );
        assert_eq!(g.frames[at].line, 35, "{ctx}");
        let cb = g.created_by.as_ref().expect("created by");
        assert_eq!(cb.function, "main.nilGoroutine", "{ctx}");
        let main = tb.goroutine(1).expect("main goroutine");
        assert!(main.has_frame("sync.(*WaitGroup).Wait"), "{ctx}");
    }
}

#[test]
fn sigquit_service() {
    let mut seen = 0;
    for f in fixtures()
        .iter()
        .filter(|f| f.scenario == "sigquit_service" || f.scenario == "service_wait")
    {
        seen += 1;
        let tb = load(f);
        let ctx = format!("{}/{}", f.dir, f.scenario);
        assert_eq!(tb.header[0], "SIGQUIT: quit", "{ctx}");
        let expect = |method: &str, status: &str| {
            let g = find_with_frame(&tb, &format!("{SERVICE}.(*Service).{method}"));
            assert_eq!(g.status, status, "{ctx}: {method}");
        };
        let new = f.go_minor >= 20;
        expect("receiver", "chan receive");
        expect("sender", "chan send");
        expect("selector", "select");
        expect(
            "mutexWaiter",
            if new { "sync.Mutex.Lock" } else { "semacquire" },
        );
        expect(
            "rwWriter",
            if new {
                "sync.RWMutex.Lock"
            } else {
                "semacquire"
            },
        );
        expect(
            "rwReader",
            if new {
                "sync.RWMutex.RLock"
            } else {
                "semacquire"
            },
        );
        expect("condWaiter", "sync.Cond.Wait");
        expect(
            "groupWaiter",
            if f.go_minor >= 24 {
                "sync.WaitGroup.Wait"
            } else {
                "semacquire"
            },
        );
        expect("sleeper", "sleep");
        expect("acceptor", "IO wait");
        expect("nilReceiver", "chan receive (nil chan)");
        expect("forever", "select (no cases)");
        // The spinner is running or runnable; when running on another M
        // its stack comes from that M's dump.
        let spinner = tb.goroutines.iter().find(|g| {
            g.created_by.as_ref().map(|c| c.function.as_str()) == Some(&format!("{SERVICE}.Start"))
                && g.status.starts_with("run")
        });
        assert!(
            spinner.is_some(),
            "{ctx}: no running spinner in {:?}",
            statuses(&tb)
        );
    }
    assert!(seen >= 25, "{seen} service fixtures");
}

#[test]
fn deep_recursion() {
    for f in fixtures().iter().filter(|f| f.scenario == "deep_recursion") {
        let tb = load(f);
        let ctx = &f.dir;
        assert_eq!(
            tb.header[0], "panic: bottom reached after 200 calls",
            "{ctx}"
        );
        let g1 = tb.goroutine(1).expect("goroutine 1");
        assert!(g1.elided, "{ctx}");
        let n = g1
            .frames
            .iter()
            .filter(|f| f.function == "main.recurse")
            .count();
        // Go 1.19/1.20 print the first 100 frames; 1.21+ the first 50 and
        // the last 50 of the stack.
        if f.go_minor >= 21 {
            assert!((90..100).contains(&n), "{ctx}: {n} recurse frames");
            assert_eq!(
                g1.frames.last().map(|f| f.function.as_str()),
                Some("runtime.goexit"),
                "{ctx}"
            );
        } else {
            assert!((95..=100).contains(&n), "{ctx}: {n} recurse frames");
        }
        assert_eq!(g1.frames[1].function, "main.recurse", "{ctx}");
        assert_eq!(g1.frames[1].line, 16, "{ctx}");
    }
}

#[test]
fn generics_closures() {
    for f in fixtures()
        .iter()
        .filter(|f| f.scenario == "generics_closures")
    {
        let tb = load(f);
        let ctx = &f.dir;
        assert_eq!(
            tb.header[0], "panic: runtime error: index out of range [3] with length 3",
            "{ctx}"
        );
        let g1 = tb.goroutine(1).expect("goroutine 1");
        let apply = format!("{WORK}.Apply[...]");
        assert!(g1.has_frame(&apply), "{ctx}: {:?}", g1.frames);
        assert!(
            g1.frames
                .iter()
                .any(|f| f.function.starts_with("main.genericsClosures.func")),
            "{ctx}"
        );
        let a = g1
            .frames
            .iter()
            .find(|f| f.function == apply)
            .expect("Apply frame");
        assert_eq!(a.file, format!("{SRC}/internal/work/generic.go"), "{ctx}");
        assert_eq!(a.line, 15, "{ctx}");
    }
}

#[test]
fn deadlock() {
    for f in fixtures().iter().filter(|f| f.scenario == "deadlock") {
        let tb = load(f);
        let ctx = &f.dir;
        assert_eq!(
            tb.header[0], "fatal error: all goroutines are asleep - deadlock!",
            "{ctx}"
        );
        assert_eq!(tb.crashing, None, "{ctx}");
        assert!(!tb.system_stacks.is_empty(), "{ctx}");
        assert!(
            tb.system_stacks[0]
                .iter()
                .any(|f| f.function == "runtime.checkdead"),
            "{ctx}: {:?}",
            tb.system_stacks[0]
        );
        let st = statuses(&tb);
        assert!(st.iter().all(|s| !s.starts_with("run")), "{ctx}: {st:?}");
        assert_eq!(
            tb.goroutine(1).map(|g| g.status.as_str()),
            Some("chan receive"),
            "{ctx}"
        );
    }
}

#[test]
fn concurrent_map_writes() {
    for f in fixtures()
        .iter()
        .filter(|f| f.scenario == "concurrent_map_writes")
    {
        let tb = load(f);
        let ctx = &f.dir;
        assert_eq!(tb.header[0], "fatal error: concurrent map writes", "{ctx}");
        let id = tb.crashing.expect("crashing goroutine");
        let g = tb.goroutine(id).expect("crashing goroutine");
        assert!(g.has_frame("main.writer"), "{ctx}: {:?}", g.frames);
    }
}
