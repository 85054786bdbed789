//! The packet codec and every parser of stub output: known answers, round trips, and
//! deterministic mutation over thousands of inputs (none may panic).

use coroner::backend::gdbserial::packet::{
    checksum, decode_body, escape_binary, frame, hex_decode, parse_hex_u64, Decoder, Frame,
};
use coroner::backend::gdbserial::regs::RegMap;
use coroner::backend::gdbserial::snapshot::{parse_maps, parse_siginfo};
use coroner::backend::gdbserial::stop::{self, Reason, StopReply, ThreadId, WatchHit};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn frames(data: &[u8], chunk: &mut dyn FnMut() -> usize) -> Vec<Frame> {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let n = chunk().max(1).min(data.len() - i);
        d.push(&data[i..i + n]);
        i += n;
        while let Some(f) = d.next_frame() {
            out.push(f);
        }
    }
    out
}

#[test]
fn known_answers() {
    assert_eq!(frame(b"OK"), b"$OK#9a");
    assert_eq!(checksum(b"qSupported"), 0x37);
    // gdbserver's RLE: '0* ' is '0' plus 3 more.
    assert_eq!(decode_body(b"0* ").unwrap(), b"0000");
    assert_eq!(decode_body(b"a*\"b").unwrap(), b"aaaaaab");
    // Escapes: '}' then byte^0x20.
    assert_eq!(decode_body(b"}\x03}\x04}]}\x0a").unwrap(), b"#$}*");
    assert!(decode_body(b"*!").is_err());
    assert!(decode_body(b"a*").is_err());
    assert!(decode_body(b"a}").is_err());
    let f = frames(b"+$OK#9a%Stop:T05#xx-junk$E01#a6", &mut || 1000);
    assert_eq!(f[0], Frame::Ack);
    assert_eq!(f[1], Frame::Packet(b"OK".to_vec()));
    assert!(matches!(f[2], Frame::Corrupt(_)), "{f:?}");
    assert_eq!(f[3], Frame::Nack);
    assert!(matches!(f[4], Frame::Garbage(4)));
    assert_eq!(f[5], Frame::Packet(b"E01".to_vec()));
    let good = frame(b"Stop:T05thread:1;");
    let mut n = vec![b'%'];
    n.extend_from_slice(&good[1..]);
    assert_eq!(
        frames(&n, &mut || 100),
        vec![Frame::Notification(b"Stop:T05thread:1;".to_vec())]
    );
    assert_eq!(parse_hex_u64(b"7fff0000"), Some(0x7fff_0000));
    assert_eq!(parse_hex_u64(b"12345678901234567"), None);
    assert_eq!(hex_decode(b"0a0B"), Some(vec![10, 11]));
    assert_eq!(hex_decode(b"0"), None);
}

#[test]
fn stop_replies() {
    let r = stop::parse(b"T0506:0000000000000000;07:50e6ffffff7f0000;10:704bfef7ff7f0000;thread:21da;core:1;swbreak:;").unwrap();
    let StopReply::Stopped {
        gdb_signal,
        thread,
        core,
        reason,
        expedited,
    } = r
    else {
        panic!()
    };
    assert_eq!(gdb_signal, 5);
    assert_eq!(
        thread,
        Some(ThreadId {
            pid: None,
            tid: 0x21da
        })
    );
    assert_eq!(core, Some(1));
    assert_eq!(reason, Some(Reason::SwBreak));
    assert_eq!(expedited.len(), 3);
    assert_eq!(expedited[2].0, 0x10);
    let r = stop::parse(b"T05thread:p10.11;awatch:601040;").unwrap();
    let StopReply::Stopped { thread, reason, .. } = r else {
        panic!()
    };
    assert_eq!(
        thread,
        Some(ThreadId {
            pid: Some(16),
            tid: 17
        })
    );
    assert_eq!(reason, Some(Reason::Watch(WatchHit::Access, 0x601040)));
    let r = stop::parse(b"T05replaylog:begin;thread:1;").unwrap();
    assert!(matches!(
        r,
        StopReply::Stopped {
            reason: Some(Reason::ReplayLog { begin: true }),
            ..
        }
    ));
    assert_eq!(
        stop::parse(b"W07").unwrap(),
        StopReply::Exited {
            status: 7,
            pid: None
        }
    );
    assert_eq!(
        stop::parse(b"X09;process:1f").unwrap(),
        StopReply::Terminated {
            gdb_signal: 9,
            pid: Some(0x1f)
        }
    );
    assert_eq!(
        stop::parse(b"S1e").unwrap(),
        StopReply::Stopped {
            gdb_signal: 0x1e,
            thread: None,
            core: None,
            reason: None,
            expedited: vec![]
        }
    );
    assert!(stop::parse(b"T").is_err());
    assert!(stop::parse(b"Wzz").is_err());
    assert!(stop::parse(b"").is_err());
    // GDB signal numbering.
    assert_eq!(stop::gdb_to_host(16), 23, "SIGURG");
    assert_eq!(stop::gdb_to_host(30), 10, "SIGUSR1");
    assert_eq!(stop::gdb_to_host(11), 11, "SIGSEGV");
    assert_eq!(stop::gdb_to_host(10), 7, "SIGBUS");
    // Linux SIGSTKFLT (16) has no GDB number; every other signal survives the trip.
    for h in (1..=64).filter(|&h| h != 16) {
        assert_eq!(stop::gdb_to_host(stop::host_to_gdb(h)), h, "signal {h}");
    }
}

#[test]
fn register_maps() {
    let b = RegMap::builtin_amd64();
    assert_eq!(
        b.by_name("rip").map(|r| (r.regnum, r.offset)),
        Some((16, 128))
    );
    assert_eq!(b.by_name("eflags").map(|r| r.offset), Some(136));
    assert_eq!(b.by_name("fs_base").map(|r| r.regnum), Some(58));
    let inc = r#"<feature name="org.gnu.gdb.i386.core"><reg name="rax" bitsize="64" regnum="0"/><reg name="rbx" bitsize="64"/></feature>"#;
    let top = r#"<?xml version="1.0"?><target><xi:include href="core.xml"/><feature><reg name="rip" bitsize='64' regnum="16"/><reg name="fs_base" bitsize="64"/></feature></target>"#;
    let m =
        RegMap::from_target_xml(top, &mut |n| (n == "core.xml").then(|| inc.to_string())).unwrap();
    let got: Vec<_> = m
        .regs
        .iter()
        .map(|r| (r.name.as_str(), r.regnum, r.offset))
        .collect();
    assert_eq!(
        got,
        vec![
            ("rax", 0, 0),
            ("rbx", 1, 8),
            ("rip", 16, 16),
            ("fs_base", 17, 24)
        ]
    );
    let mut g = vec![0u8; 32];
    g[16] = 0x34;
    g[17] = 0x12;
    g[24] = 0x99;
    let regs = m.decode(&g, &[]);
    assert_eq!((regs.rip, regs.fs_base), (0x1234, 0x99));
    assert_eq!(
        m.decode(&g[..24], &[(17, vec![7, 0, 0, 0, 0, 0, 0, 0])])
            .fs_base,
        7
    );
    // QEMU's i386-64bit.xml comments out three registers: a comment's tags do not count.
    let qemu = r#"<feature><reg name="gs" bitsize="32" regnum="23"/>
<!--  <reg name="ss_base" bitsize="64" type="int64"/>
  <reg name="ds_base" bitsize="64" type="int64"/>
  <reg name="es_base" bitsize="64" type="int64"/-->
  <reg name="fs_base" bitsize="64" type="int64"/><reg name="gs_base" bitsize="64"/></feature>"#;
    let q = RegMap::from_target_xml(qemu, &mut |_| None).unwrap();
    let names: Vec<_> = q.regs.iter().map(|r| (r.name.as_str(), r.regnum)).collect();
    assert_eq!(names, vec![("gs", 23), ("fs_base", 24), ("gs_base", 25)]);
    assert!(
        RegMap::from_target_xml("<reg name=\"a\" bitsize=\"64\"/><!-- open", &mut |_| None)
            .is_some_and(|m| m.regs.len() == 1)
    );
    let li = RegMap::from_register_info(&[
        "name:rax;bitsize:64;offset:0;encoding:uint;format:hex;".into(),
        "name:rip;alt-name:pc;bitsize:64;offset:8;generic:pc;".into(),
    ])
    .unwrap();
    assert_eq!(li.by_name("rip").map(|r| r.offset), Some(8));
}

#[test]
fn binary_round_trip() {
    let mut rng = Rng(0x1234_5678);
    for _ in 0..2000 {
        let n = rng.below(600);
        let data = rng.bytes(n);
        let pkt = frame(&escape_binary(&data));
        let f = frames(&pkt, &mut || rng.below(7) + 1);
        assert_eq!(f, vec![Frame::Packet(data)]);
    }
}

/// A stream of plausible stub output: packets, acks, notifications, noise.
fn corpus(rng: &mut Rng) -> Vec<u8> {
    const BODIES: &[&[u8]] = &[
        b"OK",
        b"E01",
        b"T0506:0* ,;07:50e6f*\"7f0* ;10:704bfef7ff7f0* ;thread:21da;core:0;",
        b"W00",
        b"X09",
        b"m21da,21db",
        b"l",
        b"PacketSize=47ff;qXfer:features:read+;QStartNoAckMode+;vContSupported+",
        b"F3",
        b"F10;}]}\x03abc",
        b"l<target><reg name=\"rip\" bitsize=\"64\"/></target>",
    ];
    let mut out = Vec::new();
    for _ in 0..rng.below(8) + 1 {
        match rng.below(6) {
            0 => out.push(b'+'),
            1 => {
                let n = rng.below(10);
                out.extend_from_slice(&rng.bytes(n))
            }
            2 => {
                let mut f = frame(BODIES[rng.below(BODIES.len())]);
                f[0] = b'%';
                out.extend_from_slice(&f);
            }
            _ => out.extend_from_slice(&frame(BODIES[rng.below(BODIES.len())])),
        }
    }
    out
}

fn mutate(rng: &mut Rng, v: &mut Vec<u8>) {
    const SPECIAL: &[u8] = b"$#}*%+-:;,0fx\x03";
    for _ in 0..rng.below(6) + 1 {
        if v.is_empty() {
            v.push(b'$');
        }
        let i = rng.below(v.len());
        match rng.below(6) {
            0 => v[i] ^= 1 << rng.below(8),
            1 => v[i] = SPECIAL[rng.below(SPECIAL.len())],
            2 => v.insert(i, SPECIAL[rng.below(SPECIAL.len())]),
            3 => {
                v.remove(i);
            }
            4 => v.truncate(i),
            _ => {
                let j = rng.below(v.len());
                let seg: Vec<u8> = v[i.min(j)..i.max(j)].to_vec();
                v.splice(i..i, seg);
            }
        }
    }
}

#[test]
fn mutated_streams_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut packets = 0;
    for round in 0..20_000 {
        let mut data = corpus(&mut rng);
        if round % 5 != 0 {
            mutate(&mut rng, &mut data);
        }
        let fs = frames(&data, &mut || rng.below(9) + 1);
        for f in fs {
            if let Frame::Packet(p) | Frame::Notification(p) = f {
                packets += 1;
                // Every parser that sees stub output must take anything.
                let _ = stop::parse(&p);
                let _ = ThreadId::parse(&p);
                let _ = hex_decode(&p);
                let _ = parse_hex_u64(&p);
                let s = String::from_utf8_lossy(&p);
                let _ = parse_maps(&s);
                let _ = parse_siginfo(&p, 1);
                let _ = RegMap::from_target_xml(&s, &mut |_| Some(s.to_string()));
                let _ = RegMap::from_register_info(&[s.to_string()]);
            }
        }
        let _ = decode_body(&data);
    }
    assert!(
        packets > 10_000,
        "the corpus exercises the parsers ({packets})"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..5000 {
        let n = rng.below(300);
        let data = rng.bytes(n);
        let _ = frames(&data, &mut || rng.below(50) + 1);
        let _ = decode_body(&data);
        let _ = stop::parse(&data);
        let _ = parse_maps(&String::from_utf8_lossy(&data));
    }
    // An endless packet is dropped, not buffered forever.
    let mut d = Decoder::new();
    d.push(b"$");
    d.push(&vec![b'a'; (4 << 20) + 10]);
    assert!(matches!(d.next_frame(), Some(Frame::Corrupt(_))));
    assert_eq!(d.pending(), 0);
}
