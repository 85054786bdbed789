//! Variables of every frame against Delve 1.27.1 (issue #11 part 3): for every
//! goroutine of every fixture core with DWARF, `args` and `locals` of each frame
//! must print what Delve printed on the same core
//! (`cores/delve-frames/FIXTURES/go1.NN-MODE/SCENARIO.{cmds,txt.zst}` for the core
//! `cores/FIXTURES/go1.NN-MODE/SCENARIO.core.zst`, recorded by
//! `cores/record-frames-delve.sh`).
//!
//! A frame is compared when coroner's frame of that number is Delve's: the same PC
//! and function (Delve's stacks differ from the runtime's around signal frames, and
//! the runtime's traceback is the oracle of stacks, checked elsewhere). Variables
//! are compared one by one, in order: the same names, and the same value, except
//! where Delve could not read one (`(unreadable ...)`) or failed the command
//! altogether: there coroner may do better, but must still list the variable; and
//! where Delve printed a zero value read from a register this frame does not have
//! (an outer frame's caller-saved register) and coroner says so.

use coroner::repl::{Output, Session};
use coroner::target::{OpenOptions, Target};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MARK: &str = "\"----8<----\"";

fn unzstd(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::open(src)?;
    let mut d = zstd::stream::read::Decoder::new(f)?;
    d.window_log_max(27)?;
    let mut out = std::fs::File::create(dst)?;
    std::io::copy(&mut d, &mut out)?;
    Ok(())
}

fn unzstd_string(src: &Path) -> anyhow::Result<String> {
    let f = std::fs::File::open(src)?;
    let mut d = zstd::stream::read::Decoder::new(f)?;
    d.window_log_max(27)?;
    let mut s = String::new();
    std::io::Read::read_to_string(&mut d, &mut s)?;
    Ok(s)
}

/// Every recorded transcript: (fixture directory, transcript directory, scenario).
fn transcripts() -> Vec<(PathBuf, PathBuf, String)> {
    let cores = Path::new(env!("CARGO_MANIFEST_DIR")).join("cores");
    let root = cores.join("delve-frames");
    let mut out = Vec::new();
    for top in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for d in std::fs::read_dir(top.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let fixture = cores.join(top.file_name()).join(d.file_name());
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let n = f.file_name().to_string_lossy().into_owned();
                if let Some(s) = n.strip_suffix(".cmds") {
                    out.push((fixture.clone(), d.path(), s.to_string()));
                }
            }
        }
    }
    out.sort();
    out
}

/// The binary of a fixture directory: the one `NAME.zst` that is not a core.
fn binary(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().into_owned());
            n.is_some_and(|n| n.ends_with(".zst") && n.matches('.').count() == 1)
        })
}

fn text(s: &mut Session, cmd: &str) -> String {
    match s.execute(cmd) {
        Output::Text(t) => t,
        Output::Error(e) => format!("Command failed: {e}\n"),
        other => format!("{other:?}\n"),
    }
}

/// One of Delve's frames in a `stack -offsets` answer.
struct DelveFrame {
    n: usize,
    pc: u64,
    function: String,
    line: u32,
    /// The CFA as an offset from the goroutine's stack top.
    offset: i64,
}

fn delve_frames(stack: &str) -> Vec<DelveFrame> {
    let head = regex::Regex::new(r"^\s*(\d+)\s+0x([0-9a-f]+) in (\S+)").expect("regex");
    let at = regex::Regex::new(r"^\s*at .*:(\d+)$").expect("regex");
    let offs = regex::Regex::new(r"^\s*frame: ([-+]?)0x([0-9a-f]+) ").expect("regex");
    let mut out = Vec::new();
    let mut cur: Option<DelveFrame> = None;
    for l in stack.lines() {
        if let Some(c) = head.captures(l) {
            cur = match (c[1].parse(), u64::from_str_radix(&c[2], 16)) {
                (Ok(n), Ok(pc)) => Some(DelveFrame {
                    n,
                    pc,
                    function: c[3].to_string(),
                    line: 0,
                    offset: 0,
                }),
                _ => None,
            };
        } else if let (Some(c), Some(f)) = (at.captures(l), cur.as_mut()) {
            f.line = c[1].parse().unwrap_or(0);
        } else if let Some(c) = offs.captures(l) {
            if let (Some(mut f), Ok(v)) = (cur.take(), i64::from_str_radix(&c[2], 16)) {
                f.offset = if &c[1] == "-" { -v } else { v };
                out.push(f);
            }
        }
    }
    out
}

/// Pairs Delve's frame numbers with coroner's: the same PC and function, and the
/// same CFA once Delve's offset is moved by its stack's top. The tops are found by
/// vote: every (pc, function) match proposes one, and the most proposed pair
/// their frames first (a recursion's frames agree on the true top, each shifted
/// top wins one frame fewer); frames on another stack (a signal handler's) come
/// with tops of their own. Repeats at one CFA (a function inlined into itself)
/// pair in order.
fn pair_frames(
    delve: &[DelveFrame],
    ours: &[coroner::unwind::Frame],
) -> HashMap<usize, (usize, bool)> {
    let same =
        |d: &DelveFrame, o: &coroner::unwind::Frame| o.pc.0 == d.pc && o.function == d.function;
    let mut votes: HashMap<i64, usize> = HashMap::new();
    for d in delve {
        for o in ours.iter().filter(|o| same(d, o)) {
            *votes
                .entry((o.cfa.0 as i64).wrapping_sub(d.offset))
                .or_default() += 1;
        }
    }
    let mut tops: Vec<(i64, usize)> = votes.into_iter().collect();
    tops.sort_by_key(|&(top, n)| (std::cmp::Reverse(n), top));
    let mut used = vec![false; ours.len()];
    let mut out = HashMap::new();
    for (top, _) in tops {
        for d in delve {
            if out.contains_key(&d.n) {
                continue;
            }
            let cfa = d.offset.wrapping_add(top) as u64;
            if let Some(m) =
                (0..ours.len()).find(|&m| !used[m] && same(d, &ours[m]) && ours[m].cfa.0 == cfa)
            {
                used[m] = true;
                out.insert(d.n, (m, ours[m].line == d.line));
            }
        }
    }
    out
}

/// Delve numbers values without an address from 0xbeef000000000000 in the order
/// its session built them, coroner from its own synthetic base: both mean "none".
fn normalise(l: &str) -> String {
    static FAKE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let fake = FAKE.get_or_init(|| {
        regex::Regex::new(r"0x(beef[0-9a-f]{12}|fffff[0-9a-f]{11})").expect("regex")
    });
    fake.replace_all(l, "<no address>").into_owned()
}

/// An `args`/`locals` answer as (name, value) pairs, a value's continuation lines
/// joined to it; `None` when the command failed.
fn vars(answer: &str) -> Option<Vec<(String, String)>> {
    static INIT_ERR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let init = INIT_ERR.get_or_init(|| regex::Regex::new(r"^/\S+\.cmds:\d+: ").expect("regex"));
    let first = answer.lines().next().unwrap_or("");
    if first.starts_with("Command failed: ") || init.is_match(first) {
        return None;
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for l in answer.lines() {
        if l == "(no args)" || l == "(no locals)" {
            continue;
        }
        match (l.starts_with(['\t', ' ']), l.split_once(" = ")) {
            (false, Some((name, value))) => out.push((name.to_string(), normalise(value))),
            _ => match out.last_mut() {
                Some(last) => {
                    last.1.push('\n');
                    last.1.push_str(&normalise(l));
                }
                None => out.push((String::new(), normalise(l))),
            },
        }
    }
    Some(out)
}

/// Go's zero values as Delve prints them.
fn is_zero_value(v: &str) -> bool {
    matches!(v, "false" | "0" | "nil" | "\"\"" | "0.0" | "(0 + 0i)") || v.ends_with(" nil")
}

/// How coroner's answer falls short of Delve's, if it does. `same_line`: both put
/// the frame on the same line; where they do not (Delve names the line after the
/// one the runtime names for parked goroutines' innermost frames and for frames
/// interrupted by asyncPreempt), which locals are in scope may differ, and only
/// the variables both list are compared.
fn differs(want: &str, got: &str, same_line: bool) -> Option<String> {
    let Some(w) = vars(want) else {
        // Delve failed the command: coroner may answer, or fail too.
        return None;
    };
    let Some(g) = vars(got) else {
        return Some("coroner failed where Delve answered".into());
    };
    let wn: Vec<String> = w.iter().map(|(n, _)| n.clone()).collect();
    let gn: Vec<String> = g.iter().map(|(n, _)| n.clone()).collect();
    let (w, g) = if same_line {
        if wn != gn {
            return Some(format!("names: Delve {wn:?}, coroner {gn:?}"));
        }
        (w, g)
    } else {
        let w: Vec<_> = w.into_iter().filter(|(n, _)| gn.contains(n)).collect();
        let g: Vec<_> = g.into_iter().filter(|(n, _)| wn.contains(n)).collect();
        if w.len() != g.len() {
            return Some(format!("names: Delve {wn:?}, coroner {gn:?}"));
        }
        (w, g)
    };
    for ((name, wv), (_, gv)) in w.iter().zip(&g) {
        if wv.starts_with("(unreadable ") {
            continue;
        }
        // A variable held in a register the unwinder does not restore in an outer
        // frame (Go keeps no callee-saved registers): Delve reads the missing
        // register as empty and prints the zero value; coroner says it cannot know.
        if gv.starts_with("(unreadable register ") && is_zero_value(wv) {
            continue;
        }
        if wv != gv {
            return Some(format!("{name}: Delve `{wv}`, coroner `{gv}`"));
        }
    }
    None
}

struct Tally {
    transcripts: usize,
    compared: usize,
    stack_differs: usize,
    other_line: usize,
    failures: Vec<String>,
}

fn check(dir: &Path, tdir: &Path, scen: &str, tally: &mut Tally) {
    let tag = format!(
        "{}/{scen}",
        dir.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("cores"))
            .unwrap_or(dir)
            .display()
    );
    let cmds = std::fs::read_to_string(tdir.join(format!("{scen}.cmds"))).expect("commands");
    let want = unzstd_string(&tdir.join(format!("{scen}.txt.zst")))
        .unwrap_or_else(|e| panic!("{tag}: transcript: {e}"));
    let blocks: Vec<&str> = want.split(&format!("{MARK}\n")).skip(1).collect();
    let cmds: Vec<&str> = cmds.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        blocks.len(),
        cmds.len(),
        "{tag}: transcript/commands mismatch"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let bin = tmp.path().join("bin");
    let core = tmp.path().join("core");
    unzstd(&binary(dir).expect("binary"), &bin).expect("binary");
    unzstd(&dir.join(format!("{scen}.core.zst")), &core).expect("core");
    let t = Target::open(&OpenOptions {
        binary: bin,
        core,
        force: false,
    })
    .unwrap_or_else(|e| panic!("{tag}: open: {e}"));
    let mut s = Session::new(t);
    tally.transcripts += 1;

    // goroutine N -> Delve's frame number -> coroner's.
    let mut pairs: HashMap<String, HashMap<usize, (usize, bool)>> = HashMap::new();
    let frame_re = regex::Regex::new(r"^goroutine (\d+) frame (\d+) (args|locals)$").expect("re");
    for (cmd, want) in cmds.iter().zip(blocks) {
        if let Some(g) = cmd
            .strip_prefix("goroutine ")
            .and_then(|r| r.split_once(" stack "))
            .map(|(g, _)| g.to_string())
        {
            let t = s.target().expect("target");
            let ours = g
                .parse()
                .ok()
                .and_then(|id| t.goroutine(id))
                .map(|gr| t.goroutine_stack(gr, 1024).frames)
                .unwrap_or_default();
            let d = delve_frames(want);
            if std::env::var("FRAMES_DEBUG").is_ok_and(|v| v == format!("{tag} {g}")) {
                for x in &d {
                    eprintln!(
                        "delve {} {:#x} {}:{} {:#x}",
                        x.n, x.pc, x.function, x.line, x.offset
                    );
                }
                for o in &ours {
                    eprintln!("ours {:#x} {} cfa {:#x}", o.pc.0, o.function, o.cfa.0);
                }
            }
            pairs.insert(g, pair_frames(&d, &ours));
            continue;
        }
        let Some(c) = frame_re.captures(cmd) else {
            panic!("{tag}: unexpected command {cmd}");
        };
        let n: usize = c[2].parse().expect("frame");
        let Some((m, same_line)) = pairs.get(&c[1]).and_then(|p| p.get(&n)).copied() else {
            tally.stack_differs += 1;
            if std::env::var_os("FRAMES_DEBUG").is_some() {
                eprintln!("unpaired {tag} goroutine {} frame {n}", &c[1]);
            }
            continue;
        };
        let cmd = format!("goroutine {} frame {m} {}", &c[1], &c[3]);
        let cmd = cmd.as_str();
        tally.compared += 1;
        let got = text(&mut s, cmd);
        tally.other_line += usize::from(!same_line);
        if let Some(why) = differs(want, &got, same_line) {
            tally.failures.push(format!(
                "{tag}: {cmd}: {why}\n--- delve\n{want}--- coroner\n{got}"
            ));
        }
    }
}

#[test]
fn every_frames_variables_print_as_delve_1_27_prints_them() {
    let list = transcripts();
    assert!(
        !list.is_empty(),
        "no transcript under cores/delve-frames: run cores/record-frames-delve.sh"
    );
    let mut tally = Tally {
        transcripts: 0,
        compared: 0,
        stack_differs: 0,
        other_line: 0,
        failures: Vec::new(),
    };
    for (dir, tdir, scen) in &list {
        check(dir, tdir, scen, &mut tally);
    }
    eprintln!(
        "{} cores, {} frame commands compared ({} where Delve names another line), {} skipped where Delve's stack differs, {} differ",
        tally.transcripts,
        tally.compared,
        tally.other_line,
        tally.stack_differs,
        tally.failures.len()
    );
    assert!(tally.compared > 0);
    assert!(
        tally.failures.is_empty(),
        "{} of {} differ:\n{}",
        tally.failures.len(),
        tally.compared,
        tally.failures.join("\n")
    );
}
