//! Goroutine labels on real cores (cores/fixtures-labels/go1.NN-MODE/, made by
//! cores/generate-labels.sh: handlers under pprof.Do, then a panic in main):
//!
//! - opt and noopt: coroner replays Delve 1.27.1's recorded session
//!   (labels.delve127.{cmds,txt}: `goroutines -l`, `-with label`, `-without label`,
//!   `-group label`, `goroutine N` + `goroutine`) and must print the same lines. Every
//!   `Labels:` line, group header, total, goroutine id, wait reason and PC is compared
//!   byte for byte; a goroutine line may differ only in its location text (file:line
//!   and function, for the same PC: the differences docs/cli.md lists, such as parked
//!   goroutines' line numbers), and such lines are counted and printed;
//! - stripped (no DWARF, where Delve shows no labels at all): the `goroutines -l`
//!   label lines equal those Delve printed on the same program's opt build;
//! - the label representation coroner assumes per release (a classic map up to Go
//!   1.23, a slice of pairs from 1.24) is the one the binary's DWARF describes.

#[path = "support/labels.rs"]
mod labels;

use coroner::repl::{Output, Session};
use labels::{fixtures, open, TAGS};

const MARK: &str = "\"----8<----\"\n";

fn text(s: &mut Session, cmd: &str) -> String {
    match s.execute(cmd) {
        Output::Text(t) => t,
        Output::Error(e) => format!("Command failed: {e}\n"),
        other => format!("{other:?}\n"),
    }
}

/// A goroutine line (`  Goroutine N - User: LOC (0xPC) ...`) or a location line
/// (`\tRuntime: LOC (0xPC)`) with LOC cut out: what must match when LOC may differ.
fn without_location(l: &str) -> Option<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(.*(?:Goroutine \d+ - \w+|\t(?:Runtime|User|Go|Start)): )\S.* (\(0x[0-9a-f]+\).*)$",
        )
        .expect("regex")
    });
    let c = re.captures(l)?;
    Some(format!("{}<loc> {}", &c[1], &c[2]))
}

fn compare(tag: &str, cmd: &str, want: &str, got: &str, loc_only: &mut usize) -> Vec<String> {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut problems = Vec::new();
    if w.len() != g.len() {
        problems.push(format!(
            "{tag}: `{cmd}`: {} lines, Delve {}:\n--- Delve\n{want}--- coroner\n{got}",
            g.len(),
            w.len()
        ));
        return problems;
    }
    for (a, b) in w.iter().zip(&g) {
        if a == b {
            continue;
        }
        match (without_location(a), without_location(b)) {
            (Some(x), Some(y)) if x == y => *loc_only += 1,
            _ => problems.push(format!("{tag}: `{cmd}`:\n  Delve:   {a}\n  coroner: {b}")),
        }
    }
    problems
}

fn check_delve(tag: &str) -> Vec<String> {
    let base = fixtures().join(tag);
    let cmds = std::fs::read_to_string(base.join("labels.delve127.cmds"))
        .unwrap_or_else(|e| panic!("{tag}: labels.delve127.cmds: {e}"));
    let want = std::fs::read_to_string(base.join("labels.delve127.txt"))
        .unwrap_or_else(|e| panic!("{tag}: labels.delve127.txt: {e}"));
    // Block 0 is Delve's banner; each later block answers one command.
    let blocks: Vec<&str> = want.split(MARK).skip(1).collect();
    let cmds: Vec<&str> = cmds.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        blocks.len(),
        cmds.len(),
        "{tag}: transcript and commands disagree"
    );
    let (_dir, mut s) = open(tag).unwrap_or_else(|e| panic!("{tag}: {e:#}"));
    let mut problems = Vec::new();
    let mut loc_only = 0;
    let mut label_lines = 0;
    for (cmd, block) in cmds.iter().zip(&blocks) {
        // Delve's last block also holds the answer to the closing `exit`: nothing.
        let got = text(&mut s, cmd);
        label_lines += block.lines().filter(|l| l.contains("Labels: ")).count();
        problems.extend(compare(tag, cmd, block, &got, &mut loc_only));
    }
    assert!(
        label_lines > 20,
        "{tag}: the transcript shows only {label_lines} label lines"
    );
    eprintln!("{tag}: {} commands, {label_lines} label lines equal; {loc_only} goroutine lines differ only in their location text", cmds.len());
    problems
}

#[test]
fn labels_match_delve_on_every_release() {
    let mut problems = Vec::new();
    let mut ran = 0;
    for tag in TAGS.iter().filter(|t| !t.ends_with("-stripped")) {
        problems.extend(check_delve(tag));
        ran += 1;
    }
    assert_eq!(ran, 8);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn label_lines(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("\tLabels: "))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn stripped_binaries_show_the_same_labels() {
    for v in ["1.19", "1.22", "1.25", "1.27"] {
        let twin = fixtures().join(format!("go{v}-opt/labels.delve127.txt"));
        let want = std::fs::read_to_string(&twin).expect("opt transcript");
        let first = want.split(MARK).nth(1).expect("goroutines -l block");
        let want = label_lines(first);
        let tag = format!("go{v}-stripped");
        let (_dir, mut s) = open(&tag).unwrap_or_else(|e| panic!("{tag}: {e:#}"));
        let got = label_lines(&text(&mut s, "goroutines -l"));
        assert_eq!(
            got, want,
            "{tag}: label lines differ from Delve's on go{v}-opt"
        );
        assert!(want.len() >= 9, "{tag}: {want:?}");
        // Filters work without DWARF too.
        let out = text(&mut s, "goroutines -with label route=/users");
        assert!(out.ends_with("[2 goroutines]\n"), "{tag}: {out}");
        let out = text(&mut s, "goroutines -group label service");
        assert!(
            out.contains("service=batch\n") && out.contains("\tTotal: 1\n"),
            "{tag}: {out}"
        );
    }
}

#[test]
fn representation_matches_dwarf() {
    for tag in TAGS.iter().filter(|t| !t.ends_with("-stripped")) {
        let (_dir, s) = open(tag).unwrap_or_else(|e| panic!("{tag}: {e:#}"));
        let t = s.target().expect("a core target");
        let minor = t.runtime().version.minor;
        let d = t.dwarf().expect("DWARF");
        // A map type is one pointer; the struct wrapping a slice is three words.
        let size = d.type_size("runtime/pprof.labelMap");
        let want = if minor <= 23 { 8 } else { 24 };
        assert_eq!(size, Some(want), "{tag}: runtime/pprof.labelMap size");
    }
}

#[test]
fn json_carries_labels() {
    let (_dir, mut s) = open("go1.22-opt").expect("open");
    let t = s.target().expect("target");
    let g = t
        .goroutines()
        .iter()
        .find(|g| g.labels.as_ref().is_some_and(|l| l.len() == 11))
        .expect("the goroutine with eleven labels")
        .clone();
    s.json = true;
    let Output::Json(v) = s.execute("goroutines -with label k7=v7") else {
        panic!("goroutines in JSON mode");
    };
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["id"].as_u64(), Some(g.goid));
    assert_eq!(arr[0]["labels"]["k7"], "v7");
    assert_eq!(arr[0]["labels"]["service"], "api");
}
