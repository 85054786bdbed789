//! Session tests on a fake debuggee built from the values of the recorded Delve
//! session (tests/delve-transcripts), so expected texts are Delve's own lines.

use super::debuggee::{Debuggee, FuncInfo};
use super::{Output, Session};
use crate::addr::Addr;
use crate::goruntime::{Goroutine, G_RUNNING, G_WAITING};
use crate::snapshot::{MemError, Memory, Registers, Thread};
use crate::target::CrashInfo;
use crate::unwind::{Frame, FrameSource, Stack};

struct Mem;
impl Memory for Mem {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        // 0x1000.. holds bytes equal to the low address byte; nothing else is mapped.
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.0.wrapping_add(i as u64);
            if !(0x1000..0x2000).contains(&a) {
                return Err(MemError::Unmapped(Addr(a)));
            }
            *b = a as u8;
        }
        Ok(())
    }
}

struct Fake {
    gs: Vec<Goroutine>,
    threads: Vec<Thread>,
    crash: CrashInfo,
}

const RT: &str = "/opt/go/go1.19/src/runtime";

fn fr(pc: u64, f: &str, file: &str, line: u32) -> Frame {
    Frame {
        pc: Addr(pc),
        sp: Addr(0xc000032700),
        cfa: Addr(0),
        bp: Addr(0),
        func_entry: None,
        function: f.into(),
        file: file.into(),
        line,
        inlined: false,
        source: FrameSource::Pclntab,
        regs: vec![(16, pc), (7, 0xc000032700)],
    }
}

fn funcs() -> Vec<(u64, u64, &'static str, String, u32)> {
    vec![
        (
            0x43a500,
            0x43a660,
            "runtime.gopark",
            format!("{RT}/proc.go"),
            364,
        ),
        (
            0x405a00,
            0x405f00,
            "runtime.chanrecv",
            format!("{RT}/chan.go"),
            583,
        ),
        (
            0x49cdc0,
            0x49ce02,
            "main.chanRecv",
            "/tmp/p/main.go".into(),
            13,
        ),
        (
            0x49cf80,
            0x49cfb6,
            "main.crash",
            "/tmp/p/main.go".into(),
            32,
        ),
        (0x49d000, 0x49d300, "main.main", "/tmp/p/main.go".into(), 52),
        (
            0x43a000,
            0x43a300,
            "runtime.main",
            format!("{RT}/proc.go"),
            250,
        ),
        (
            0x4667a0,
            0x4667c0,
            "runtime.goexit",
            format!("{RT}/asm_amd64.s"),
            1594,
        ),
        (
            0x468100,
            0x468120,
            "runtime.raise",
            format!("{RT}/sys_linux_amd64.s"),
            159,
        ),
    ]
}

impl Debuggee for Fake {
    fn goroutines(&self) -> &[Goroutine] {
        &self.gs
    }
    fn goroutine(&self, goid: u64) -> Option<&Goroutine> {
        self.gs.iter().find(|g| g.goid == goid)
    }
    fn threads(&self) -> &[Thread] {
        &self.threads
    }
    fn thread_goroutine(&self, tid: u32) -> Option<&Goroutine> {
        self.gs.iter().find(|g| g.thread == Some(tid))
    }
    fn goroutine_stack(&self, g: &Goroutine, depth: usize) -> Stack {
        let mut frames = match g.goid {
            1 => vec![
                fr(
                    0x468101,
                    "runtime.raise",
                    &format!("{RT}/sys_linux_amd64.s"),
                    159,
                ),
                fr(0x49cfa0, "main.crash", "/tmp/p/main.go", 32),
                fr(0x49d278, "main.main", "/tmp/p/main.go", 52),
                fr(0x43a1d8, "runtime.main", &format!("{RT}/proc.go"), 250),
                fr(
                    0x4667a1,
                    "runtime.goexit",
                    &format!("{RT}/asm_amd64.s"),
                    1594,
                ),
            ],
            2 => vec![
                fr(0x43a5fd, "runtime.gopark", &format!("{RT}/proc.go"), 364),
                fr(
                    0x4667a1,
                    "runtime.goexit",
                    &format!("{RT}/asm_amd64.s"),
                    1594,
                ),
            ],
            _ => vec![
                fr(0x43a5fd, "runtime.gopark", &format!("{RT}/proc.go"), 364),
                fr(0x405e39, "runtime.chanrecv", &format!("{RT}/chan.go"), 583),
                fr(0x49cde5, "main.chanRecv", "/tmp/p/main.go", 13),
                fr(
                    0x4667a1,
                    "runtime.goexit",
                    &format!("{RT}/asm_amd64.s"),
                    1594,
                ),
            ],
        };
        frames.truncate(depth);
        Stack {
            frames,
            error: None,
        }
    }
    fn thread_stack(&self, _t: &Thread, depth: usize) -> Stack {
        let mut frames = vec![fr(0x468683, "runtime.futex", "sys.s", 560)];
        frames.truncate(depth);
        Stack {
            frames,
            error: None,
        }
    }
    fn memory(&self) -> &dyn Memory {
        &Mem
    }
    fn crash(&self) -> &CrashInfo {
        &self.crash
    }
    fn warnings(&self) -> &[String] {
        &[]
    }
    fn func_at(&self, pc: Addr) -> Option<FuncInfo> {
        funcs()
            .into_iter()
            .find(|f| f.0 <= pc.0 && pc.0 < f.1)
            .map(|f| FuncInfo {
                name: f.2.into(),
                entry: Addr(f.0),
                end: Addr(f.1),
            })
    }
    fn func_by_name(&self, name: &str) -> Option<FuncInfo> {
        funcs().into_iter().find(|f| f.2 == name).map(|f| FuncInfo {
            name: f.2.into(),
            entry: Addr(f.0),
            end: Addr(f.1),
        })
    }
    fn file_line(&self, pc: Addr) -> Option<(String, u32)> {
        funcs()
            .into_iter()
            .find(|f| f.0 <= pc.0 && pc.0 < f.1)
            .map(|f| (f.3, f.4))
    }
    fn function_names(&self) -> Vec<String> {
        funcs().into_iter().map(|f| f.2.to_string()).collect()
    }
    fn source_files(&self) -> Vec<String> {
        vec![
            "/tmp/p/main.go".into(),
            "/tmp/q/main.go".into(),
            "/x/a.go".into(),
        ]
    }
    fn type_names(&self) -> Result<Vec<String>, String> {
        Err("no DWARF".into())
    }
}

fn g(goid: u64, status: u32, wait: Option<&str>, thread: Option<u32>, system: bool) -> Goroutine {
    Goroutine {
        goid,
        status,
        wait_reason: wait.map(str::to_string),
        wait_reason_code: u8::from(wait.is_some()),
        thread,
        system,
        gopc: Addr(0x49d052),
        start_pc: Addr(0x49cdc0),
        sched: crate::goruntime::Sched {
            pc: Addr(0x43a5fd),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn session() -> Session {
    let fake = Fake {
        gs: vec![
            g(1, G_RUNNING, None, Some(7722), false),
            g(2, G_WAITING, Some("force gc (idle)"), None, true),
            g(18, G_WAITING, Some("chan receive"), None, false),
        ],
        threads: vec![
            Thread {
                tid: 7723,
                regs: Registers {
                    rip: 0x468683,
                    ..Default::default()
                },
                signal: 0,
                arm64: None,
                g_slots: Vec::new(),
            },
            Thread {
                tid: 7722,
                regs: Registers {
                    rip: 0x468101,
                    eflags: 0x246,
                    ..Default::default()
                },
                signal: 6,
                arm64: None,
                g_slots: Vec::new(),
            },
        ],
        crash: CrashInfo {
            thread: Some(7722),
            goroutine: Some(1),
            ..Default::default()
        },
    };
    let mut s = Session::with_debuggee(Box::new(fake));
    s.cwd = Some("/tmp/p".into());
    s
}

fn text(s: &mut Session, line: &str) -> String {
    match s.execute(line) {
        Output::Text(t) => t,
        other => panic!("{line}: expected text, got {other:?}"),
    }
}

fn error(s: &mut Session, line: &str) -> String {
    match s.execute(line) {
        Output::Error(e) => e,
        other => panic!("{line}: expected an error, got {other:?}"),
    }
}

#[test]
fn goroutines_listing() {
    let mut s = session();
    assert_eq!(
        text(&mut s, "goroutines"),
        "* Goroutine 1 - User: ./main.go:32 main.crash (0x49cfa0) (thread 7722)\n  Goroutine 2 - User: /opt/go/go1.19/src/runtime/proc.go:364 runtime.gopark (0x43a5fd) [force gc (idle)]\n  Goroutine 18 - User: ./main.go:13 main.chanRecv (0x49cde5) [chan receive]\n[3 goroutines]\n"
    );
    let r = text(&mut s, "grs -r");
    assert!(r.contains("* Goroutine 1 - Runtime: /opt/go/go1.19/src/runtime/sys_linux_amd64.s:159 runtime.raise (0x468101) (thread 7722)\n"));
    // Go location: the line of gopc-1, printed with gopc itself.
    assert!(text(&mut s, "grs -g").contains("Goroutine 18 - Go: ./main.go:52 main.main (0x49d052)"));
    assert!(text(&mut s, "grs -s")
        .contains("Goroutine 18 - Start: ./main.go:13 main.chanRecv (0x49cdc0)"));
    let w = text(&mut s, "grs -with user");
    assert!(w.ends_with("[2 goroutines]\n") && !w.contains("Goroutine 2 "));
    assert_eq!(text(&mut s, "grs -without running").lines().count(), 3);
    assert_eq!(text(&mut s, "grs -with curloc main.main"), "");
    let t = text(&mut s, "grs -t 1 -with running");
    assert_eq!(
        t,
        "* Goroutine 1 - User: ./main.go:32 main.crash (0x49cfa0) (thread 7722)\n\t0  0x0000000000468101 in runtime.raise\n\t    at /opt/go/go1.19/src/runtime/sys_linux_amd64.s:159\n\t1  0x000000000049cfa0 in main.crash\n\t    at ./main.go:32\n\t(truncated)\n[1 goroutines]\n"
    );
    let gr = text(&mut s, "goroutines -group user");
    assert!(gr.starts_with("user=false\n\t  Goroutine 2 - User:"));
    assert!(gr.contains("\tTotal: 1\n\nuser=true\n\t* Goroutine 1"));
    let ex = text(&mut s, "goroutines -with userloc chanRecv -exec bt 0");
    assert!(ex.contains("Goroutine 18 - User"));
    assert!(ex.contains("0  0x000000000043a5fd in runtime.gopark\n"));
    assert!(ex.ends_with("[1 goroutines]\n"));
    // No goroutine of the fake has labels: Delve prints nothing for no match.
    assert_eq!(text(&mut s, "goroutines -with label k=v"), "");
    assert!(text(&mut s, "goroutines -without label k -l").ends_with("[3 goroutines]\n"));
    assert!(text(&mut s, "goroutines -group label k").starts_with("k=\n"));
}

#[test]
fn goroutine_switching_and_frames() {
    let mut s = session();
    let info = text(&mut s, "goroutine");
    assert!(info.starts_with("Thread 7722 at /opt/go/go1.19/src/runtime/sys_linux_amd64.s:159\nGoroutine 1:\n\tRuntime: "));
    assert_eq!(
        text(&mut s, "gr 18"),
        "Switched from 1 to 18 (thread 7722)\n"
    );
    assert_eq!(s.current_goroutine(), Some(18));
    let st = text(&mut s, "stack");
    assert!(st.starts_with(
        "0  0x000000000043a5fd in runtime.gopark\n   at /opt/go/go1.19/src/runtime/proc.go:364\n"
    ));
    assert!(!st.contains("truncated"));
    assert!(text(&mut s, "bt 1").ends_with("(truncated)\n"));
    // `frame N cmd` does not move the frame; `frame N` does.
    assert!(text(&mut s, "frame 2 stack 0").starts_with("0  0x000000000043a5fd"));
    assert_eq!(s.current_frame(), 0);
    let f = text(&mut s, "frame 2");
    assert!(f.starts_with("> runtime.gopark() /opt/go/go1.19/src/runtime/proc.go:364 (PC: 0x43a5fd)\nFrame 2: ./main.go:13 (PC: 49cde5)\n"));
    assert!(f.contains("source not available"));
    assert_eq!(s.current_frame(), 2);
    assert!(text(&mut s, "up").contains("Frame 3: "));
    assert!(text(&mut s, "down 2").contains("Frame 1: "));
    assert_eq!(error(&mut s, "frame 99"), "Invalid frame 99");
    assert_eq!(error(&mut s, "down 5"), "Invalid frame -4");
    assert_eq!(error(&mut s, "goroutine 999"), "unknown goroutine 999");
    // gr N cmd runs in N's context without switching.
    assert!(text(&mut s, "gr 1 bt 0").contains("runtime.raise"));
    assert_eq!(s.current_goroutine(), Some(18));
}

#[test]
fn threads_and_regs() {
    let mut s = session();
    assert_eq!(
        text(&mut s, "threads"),
        "* Thread 7722 at 0x468101 /opt/go/go1.19/src/runtime/sys_linux_amd64.s:159 runtime.raise\n  Thread 7723 at 0x468683 proc.go:364 runtime.gopark\n"
            .replace("0x468683 proc.go:364 runtime.gopark", "0x468683 ?:0 ?")
    );
    assert!(text(&mut s, "regs").contains(" Rflags = 0x0000000000000246\t[PF ZF IF IOPL=0]\n"));
    assert_eq!(error(&mut s, "thread"), "you must specify a thread");
    assert_eq!(error(&mut s, "thread 1"), "unknown thread 1");
    assert_eq!(text(&mut s, "tr 7723"), "Switched from 7722 to 7723\n");
    assert_eq!(s.current_goroutine(), None);
    assert!(text(&mut s, "bt").contains("runtime.futex"));
    // A parked goroutine's frame shows only the registers the unwinder knows.
    text(&mut s, "gr 18");
    let r = text(&mut s, "regs");
    assert_eq!(
        r,
        "    Rip = 0x000000000043a5fd\n    Rsp = 0x000000c000032700\n\n"
    );
}

#[test]
fn memory_and_errors() {
    let mut s = session();
    assert_eq!(
        text(&mut s, "x -count 2 -size 2 0x1002"),
        "0x1002:   0x0302   0x0504   \n"
    );
    assert!(error(&mut s, "x 0x10").starts_with("cannot read memory at 0x10"));
    assert!(error(&mut s, "continue").contains("a core file cannot run"));
    assert!(error(&mut s, "break main.main").contains("a core file cannot run"));
    assert!(error(&mut s, "locals").contains("cannot read variables"));
    assert_eq!(error(&mut s, "frobnicate"), "command not available");
    assert_eq!(s.execute("exit"), Output::Exit);
    assert_eq!(s.execute("   "), Output::Text(String::new()));
    assert!(error(&mut s, "types").contains("no DWARF"));
}

#[test]
fn symbols_listing_and_locations() {
    let mut s = session();
    assert_eq!(
        text(&mut s, "funcs ^main\\."),
        "main.chanRecv\nmain.crash\nmain.main\n"
    );
    assert!(error(&mut s, "funcs (").starts_with("invalid regex"));
    assert_eq!(text(&mut s, "sources a\\.go"), "/x/a.go\n");
    // A bare file name matching two files is ambiguous; a longer suffix is not.
    assert!(error(&mut s, "list main.go:3").contains("ambiguous"));
    assert!(text(&mut s, "list p/main.go:3").starts_with("Showing /tmp/p/main.go:3"));
    assert!(text(&mut s, "list chanRecv").starts_with("Showing /tmp/p/main.go:13 (PC: 0x49cdc0)\n"));
    assert!(error(&mut s, "list nope.Nope").contains("not found"));
    assert!(
        text(&mut s, "list *0x49cf90").starts_with("Showing /tmp/p/main.go:32 (PC: 0x49cf90)\n")
    );
}

#[test]
fn config_and_listing_with_real_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let src: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.path().join("main.go"), src).unwrap_or_else(|e| panic!("write: {e}"));
    let mut s = session();
    let to = dir.path().to_string_lossy().to_string();
    assert_eq!(
        text(&mut s, &format!("config substitute-path /tmp/p {to}")),
        ""
    );
    text(&mut s, "config source-list-line-count 1");
    assert_eq!(
        text(&mut s, "list main.crash")
            .lines()
            .skip(1)
            .collect::<Vec<_>>(),
        vec!["    31:\tline 31", "    32:\tline 32", "    33:\tline 33"]
    );
    text(&mut s, "frame 1");
    let l = text(&mut s, "list");
    assert!(l.starts_with("Goroutine 1 frame 1 at /tmp/p/main.go:32 (PC: 0x49cfa0)\n"));
    assert!(l.contains("=>  32:\tline 32\n"));
    let list = text(&mut s, "config -list");
    assert!(list.contains(&format!("substitute-path           [{{/tmp/p {to}}}]\n")));
    assert!(list.contains("source-list-line-count    1\n"));
    assert_eq!(
        error(&mut s, "config max-string-len x"),
        "argument to \"max-string-len\" must be a number"
    );
    assert!(error(&mut s, "config nope 1").contains("unknown configuration parameter"));
    text(&mut s, "config substitute-path -clear");
    assert!(text(&mut s, "config -list").contains("substitute-path           []\n"));
}

#[test]
fn json_mode() {
    let mut s = session();
    s.json = true;
    let Output::Json(v) = s.execute("goroutines -t 0") else {
        panic!("expected JSON")
    };
    let arr = v.as_array().cloned().unwrap_or_default();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], 1);
    assert_eq!(arr[0]["status"], "running");
    assert_eq!(arr[0]["thread"], 7722);
    assert_eq!(arr[0]["user"]["function"], "main.crash");
    assert_eq!(arr[2]["wait_reason"], "chan receive");
    assert_eq!(arr[2]["frames"].as_array().map(Vec::len), Some(1));
    let Output::Json(v) = s.execute("stack") else {
        panic!("expected JSON")
    };
    assert_eq!(v[1]["function"], "main.crash");
    assert_eq!(v[1]["line"], 32);
    assert_eq!(v[1]["source"], "pclntab");
    let Output::Json(v) = s.execute("threads") else {
        panic!("expected JSON")
    };
    assert_eq!(v[0]["id"], 7722);
    assert_eq!(v[0]["goroutine"], 1);
}

#[test]
fn disassemble_current_function() {
    let mut s = session();
    // The fake's memory is unmapped at main.crash: a clear error, no panic.
    assert!(error(&mut s, "frame 1 disassemble").starts_with("cannot read code at 0x49cf80"));
    assert!(error(&mut s, "disassemble -a 0x1000 0x1000").contains("end address"));
    let d = text(&mut s, "disassemble -a 0x1000 0x1004");
    // Bytes 00 01 02 03: `add [rcx], al` then `add al, [rbx]`; no function there.
    assert!(!d.starts_with("TEXT"));
    assert_eq!(d.lines().count(), 2);
    assert!(d.starts_with("\t?\t0x1000\t0001\t"));
}

/// `source` through the non-streaming entry point (what the JSON-RPC server and DAP
/// use): output gathered in order, failures as FILE:LINE, aliases applied inside.
#[test]
fn source_transcript_and_aliases_without_a_stream() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let script = dir.path().join("cmds");
    std::fs::write(&script, "# c\nthr\n\nbogus\nframe 1\n").unwrap_or_else(|e| panic!("{e}"));
    let mut s = session();
    text(&mut s, "config alias threads thr");
    let direct = text(&mut s, "threads");
    let t = dir.path().join("t.txt");
    text(&mut s, &format!("transcript -x {}", t.display()));
    // -x: nothing comes back to the front end, all goes to the file.
    assert_eq!(text(&mut s, &format!("source {}", script.display())), "");
    text(&mut s, "transcript -off");
    let rec = std::fs::read_to_string(&t).unwrap_or_else(|e| panic!("{e}"));
    let want_head = format!(
        "(coroner) source {}\n{direct}{}:4: command not available\n",
        script.display(),
        script.display()
    );
    assert!(rec.starts_with(&want_head), "{rec}\nwant:\n{want_head}");
    // The nested commands are not echoed (Delve echoes only what was typed).
    assert!(!rec.contains("(coroner) thr"), "{rec}");
    assert!(rec.ends_with("(coroner) transcript -off\n"), "{rec}");
    assert_eq!(s.current_frame(), 1);
    text(&mut s, "config alias thr");
    assert_eq!(error(&mut s, "thr"), "command not available");
    assert_eq!(
        error(&mut s, "source"),
        "wrong number of arguments: source <filename>"
    );
}
