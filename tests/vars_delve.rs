//! Variables: coroner must print what Delve 1.27 printed on the same cores
//! (cores/fixtures-values/go1.NN-MODE/values.delve127.{cmds,txt}, recorded by
//! `DLV127=... cores/generate-values.sh` on every Go version of the corpus, opt and
//! noopt), line for line; map entries are compared as a set. Delve 1.27 is the
//! format of record: the older Delve 1.20 transcripts (values.delve.txt) are kept
//! as recorded but no longer checked where the two Delves differ.
//! Also: every version and mode prints the known globals, and stripped binaries say
//! once that variables need DWARF.

use coroner::repl::{Output, Session};

const MARK: &str = "\"----8<----\"";

#[path = "support/values.rs"]
mod values;
use values::fixtures;

use values::open;

fn text(s: &mut Session, cmd: &str) -> String {
    match s.execute(cmd) {
        Output::Text(t) => t,
        Output::Error(e) => format!("Command failed: {e}\n"),
        other => format!("{other:?}"),
    }
}

/// FUNC names a frame's function, also a generic one printed as FUNC[...].
fn is_func(name: &str, f: &str) -> bool {
    name.strip_prefix(f)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('['))
}

/// Resolve `@@FUNC` (goroutine running FUNC) and `@FUNC` (its frame) for coroner.
fn resolve(s: &mut Session, line: &str) -> String {
    let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
    let mut goid = None;
    if words.first().map(String::as_str) == Some("goroutine") {
        if let Some(f) = words
            .get(1)
            .and_then(|w| w.strip_prefix("@@"))
            .map(str::to_string)
        {
            let t = s.target().expect("target");
            let g = t
                .goroutines()
                .iter()
                .find(|g| {
                    t.goroutine_stack(g, 64)
                        .frames
                        .iter()
                        .any(|fr| is_func(&fr.function, &f))
                })
                .map(|g| g.goid)
                .expect("goroutine");
            words[1] = g.to_string();
            goid = Some(g);
        }
    }
    if let Some(i) = words.iter().position(|w| w == "frame") {
        if let Some(f) = words
            .get(i + 1)
            .and_then(|w| w.strip_prefix('@'))
            .map(str::to_string)
        {
            let t = s.target().expect("target");
            let g = t.goroutine(goid.expect("goroutine first")).expect("g");
            let n = t
                .goroutine_stack(g, 64)
                .frames
                .iter()
                .position(|fr| is_func(&fr.function, &f))
                .expect("frame");
            words[i + 1] = n.to_string();
        }
    }
    words.join(" ")
}

/// Delve reports errors of its --init script as `FILE:LINE: msg`, coroner's test
/// harness as `Command failed: msg`. Values held in registers have no address:
/// Delve numbers them from 0xbeef000000000000 in the order its session built
/// them, coroner from its synthetic base; either is "no address".
fn normalise_line(l: &str) -> String {
    static INIT_ERR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static FAKE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let init = INIT_ERR.get_or_init(|| regex::Regex::new(r"^/\S+\.cmds:\d+: ").expect("regex"));
    let fake = FAKE.get_or_init(|| {
        regex::Regex::new(r"0x(beef[0-9a-f]{12}|fffff[0-9a-f]{11})").expect("regex")
    });
    let l = init.replace(l, "Command failed: ");
    fake.replace_all(&l, "<no address>").into_owned()
}

fn normalise(block: &str) -> Vec<String> {
    let mut lines: Vec<String> = block.lines().map(normalise_line).collect();
    // Map entries print in bucket order; compare them as a set.
    if lines.first().is_some_and(|l| l.starts_with("map[")) {
        let (first, rest) = lines.split_at_mut(1);
        let _ = first;
        rest.sort();
    }
    lines
}

fn check_delve(tag: &str) {
    let base = fixtures().join(tag);
    let Ok(cmds) = std::fs::read_to_string(base.join("values.delve127.cmds")) else {
        panic!("missing {tag}/values.delve127.cmds: run DLV127=... cores/generate-values.sh");
    };
    let want = std::fs::read_to_string(base.join("values.delve127.txt")).expect("delve transcript");
    let blocks: Vec<&str> = want.split(&format!("{MARK}\n")).skip(1).collect();
    let cmds: Vec<&str> = cmds.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        blocks.len(),
        cmds.len(),
        "{tag}: transcript/commands mismatch"
    );
    let (_d, mut s) = open(tag).expect("open");
    let mut failures = Vec::new();
    for (cmd, want) in cmds.iter().zip(blocks) {
        let line = resolve(&mut s, cmd);
        let got = text(&mut s, &line);
        if normalise(&got) != normalise(want) {
            failures.push(format!(
                "{tag}: {line}\n--- delve\n{want}--- coroner\n{got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cmds.len(),
        failures.join("\n")
    );
}

#[test]
fn delve127_go119_noopt() {
    check_delve("go1.19-noopt");
}

#[test]
fn delve127_go119_opt() {
    check_delve("go1.19-opt");
}

#[test]
fn delve127_go121_noopt() {
    check_delve("go1.21-noopt");
}

#[test]
fn delve127_go121_opt() {
    check_delve("go1.21-opt");
}

#[test]
fn delve127_go122_noopt() {
    check_delve("go1.22-noopt");
}

#[test]
fn delve127_go122_opt() {
    check_delve("go1.22-opt");
}

#[test]
fn delve127_go123_noopt() {
    check_delve("go1.23-noopt");
}

#[test]
fn delve127_go123_opt() {
    check_delve("go1.23-opt");
}

#[test]
fn delve127_go124_noopt() {
    check_delve("go1.24-noopt");
}

#[test]
fn delve127_go124_opt() {
    check_delve("go1.24-opt");
}

#[test]
fn delve127_go125_noopt() {
    check_delve("go1.25-noopt");
}

#[test]
fn delve127_go125_opt() {
    check_delve("go1.25-opt");
}

#[test]
fn delve127_go126_noopt() {
    check_delve("go1.26-noopt");
}

#[test]
fn delve127_go126_opt() {
    check_delve("go1.26-opt");
}

#[test]
fn delve127_go127_noopt() {
    check_delve("go1.27-noopt");
}

#[test]
fn delve127_go127_opt() {
    check_delve("go1.27-opt");
}

#[test]
fn globals_on_every_version() {
    for v in [
        "1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27",
    ] {
        for mode in ["opt", "noopt"] {
            let tag = format!("go{v}-{mode}");
            let (_d, mut s) = open(&tag).expect("open");
            let cases = [
                ("print main.GInt", "42\n"),
                ("print main.GString", "\"global string\"\n"),
                // A slice of a string is that string's bytes (was printed "").
                ("print main.GString[0:6]", "\"global\"\n"),
                ("print main.GString[7:]", "\"string\"\n"),
                ("print len(main.GString[7:])", "6\n"),
                ("print main.GSliceCap", "[]int len: 2, cap: 10, [10,20]\n"),
                ("print main.GArr", "[4]int16 [-1,0,1,2]\n"),
                ("print len(main.GMapStr)", "300\n"),
                ("print main.GMapInt[14]", "\"v2\"\n"),
                ("print main.GMapSmall[\"three\"]", "3\n"),
                ("print main.GC128", "(3 + 4.25i)\n"),
                ("print main.GColor", "Blue (2)\n"),
                ("print main.GNilMap", "map[string]int nil\n"),
                ("print main.GFunc", "strings.ToUpper\n"),
                ("print main.GIface", "interface {}(int) 7\n"),
                ("print main.GOuter.In.Name", "\"nested\"\n"),
                ("print main.GPtr.Arr[2] * 10", "30\n"),
                (
                    "whatis main.GBox",
                    "main.Box[main.Pair[string,main.Box[int]]]\n",
                ),
            ];
            for (cmd, want) in cases {
                assert_eq!(text(&mut s, cmd), want, "{tag}: {cmd}");
            }
            // Delve's words for names that resolve to nothing: a package-qualified
            // one, a plain one.
            for (cmd, want) in [
                (
                    "print main.NoSuchVar",
                    "could not find symbol main.NoSuchVar",
                ),
                ("print nosuchpkg.X", "could not find symbol nosuchpkg.X"),
                (
                    "print nosuchvar",
                    "could not find symbol value for nosuchvar",
                ),
            ] {
                match s.execute(cmd) {
                    coroner::repl::Output::Error(e) => assert_eq!(e, want, "{tag}: {cmd}"),
                    other => panic!("{tag}: {cmd}: {other:?}"),
                }
            }
            // The map of 300 entries: 64 shown, the rest counted.
            let m = text(&mut s, "print main.GMapStr");
            assert!(m.contains("...+236 more"), "{tag}: {m}");
            assert_eq!(m.lines().filter(|l| l.contains(": ")).count(), 64, "{tag}");
        }
    }
}

#[test]
fn stripped_binaries_say_variables_need_dwarf() {
    let (_d, mut s) = open("go1.27-stripped").expect("open");
    let e = text(&mut s, "print main.GInt");
    assert!(e.contains("need DWARF"), "{e}");
    // Stacks still work.
    assert!(text(&mut s, "stack").contains("main.crash"));
}
