//! Offsets of the runtime structures coroner reads.
//!
//! DWARF is the truth when the binary has it. Stripped binaries (`-ldflags=-s -w`) have
//! none, so these built-in tables, one per Go release, were read off the DWARF of real
//! binaries of each release (see `docs/architecture.md`, "Built-in layouts"); a test
//! checks them against DWARF on every fixture so a new release's change is caught.

use crate::symbols::dwarf::Dwarf;

/// Offsets inside `runtime.g`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GLayout {
    pub size: u64,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub panic: u64,
    pub m: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub sched_ctxt: u64,
    pub sched_lr: u64,
    pub sched_bp: u64,
    pub syscallsp: u64,
    pub syscallpc: u64,
    pub atomicstatus: u64,
    pub goid: u64,
    pub waitsince: u64,
    pub waitreason: u64,
    pub sig: u64,
    pub sigcode0: u64,
    pub sigcode1: u64,
    pub sigpc: u64,
    /// Go 1.21+.
    pub parent_goid: Option<u64>,
    pub gopc: u64,
    pub startpc: u64,
    pub waiting: u64,
    pub labels: u64,
    pub lockedm: u64,
}

/// Offsets inside `runtime.m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MLayout {
    pub g0: u64,
    pub gsignal: u64,
    pub procid: u64,
    pub curg: u64,
    pub id: u64,
    pub alllink: u64,
    pub vdso_sp: u64,
    pub vdso_pc: u64,
}

/// Offsets inside `runtime._panic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicLayout {
    pub arg: u64,
    pub link: u64,
    pub recovered: u64,
}

/// Offsets inside `runtime.moduledata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuledataLayout {
    pub types: u64,
    pub etypes: u64,
    pub text: u64,
    pub etext: u64,
    pub next: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layouts {
    pub g: GLayout,
    pub m: MLayout,
    pub panic: PanicLayout,
    pub moduledata: ModuledataLayout,
}

/// Where the layouts came from, for the `config`/header diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutSource {
    Dwarf,
    BuiltIn { major: u32, minor: u32 },
}

struct Row {
    minor: u32,
    g: [u64; 24],
    parent_goid: Option<u64>,
    lockedm: u64,
    m: [u64; 8],
    panic: [u64; 3],
    md: [u64; 5],
}

// g: size stack.lo stack.hi _panic m sched.sp sched.pc sched.ctxt sched.lr sched.bp
//    syscallsp syscallpc atomicstatus goid waitsince waitreason sig sigcode0 sigcode1
//    sigpc gopc startpc waiting labels
// m: g0 gsignal procid curg id alllink vdsoSP vdsoPC
// panic: arg link recovered;   moduledata: types etypes text etext next
#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row {
        minor: 19,
        g: [
            392, 0, 8, 32, 48, 56, 64, 80, 96, 104, 112, 120, 144, 152, 168, 176, 240, 272,
            280, 288, 296, 312, 328, 360,
        ],
        parent_goid: None,
        lockedm: 232,
        m: [0, 80, 72, 192, 232, 336, 800, 808],
        panic: [8, 24, 48],
        md: [280, 288, 176, 184, 544],
    },
    // Go 1.20 has no fixture toolchain here; its g matches 1.21 but for parentGoid
    // (added in 1.21), and m's vdso fields match 1.21.
    Row {
        minor: 20,
        g: [
            392, 0, 8, 32, 48, 56, 64, 80, 96, 104, 112, 120, 144, 152, 168, 176, 216, 248,
            256, 264, 280, 296, 312, 344,
        ],
        parent_goid: None,
        lockedm: 208,
        m: [0, 80, 72, 192, 232, 336, 808, 816],
        panic: [8, 24, 48],
        md: [296, 304, 176, 184, 584],
    },
    Row {
        minor: 21,
        g: [
            408, 0, 8, 32, 48, 56, 64, 80, 96, 104, 112, 120, 144, 152, 168, 176, 216, 248,
            256, 264, 280, 296, 312, 344,
        ],
        parent_goid: Some(272),
        lockedm: 208,
        m: [0, 80, 72, 192, 232, 336, 808, 816],
        panic: [8, 24, 48],
        md: [296, 304, 176, 184, 584],
    },
    Row {
        minor: 22,
        g: [
            424, 0, 8, 32, 48, 56, 64, 80, 96, 104, 112, 120, 144, 152, 168, 176, 216, 248,
            256, 264, 280, 296, 312, 344,
        ],
        parent_goid: Some(272),
        lockedm: 208,
        m: [0, 80, 72, 192, 232, 328, 1120, 1128],
        panic: [8, 24, 96],
        md: [296, 304, 176, 184, 584],
    },
    Row {
        minor: 23,
        g: [
            432, 0, 8, 32, 48, 56, 64, 80, 96, 104, 112, 120, 152, 160, 176, 184, 224, 256,
            264, 272, 288, 304, 320, 352,
        ],
        parent_goid: Some(280),
        lockedm: 216,
        m: [0, 80, 72, 192, 232, 328, 856, 864],
        panic: [8, 24, 96],
        md: [296, 304, 176, 184, 576],
    },
    Row {
        minor: 24,
        g: [
            440, 0, 8, 32, 48, 56, 64, 80, 96, 104, 112, 120, 152, 160, 176, 184, 228, 256,
            264, 272, 288, 304, 320, 352,
        ],
        parent_goid: Some(280),
        lockedm: 216,
        m: [0, 80, 72, 192, 232, 352, 904, 912],
        panic: [8, 24, 96],
        md: [296, 304, 176, 184, 576],
    },
    // Go 1.25 dropped gobuf.ret: sched.lr/bp moved down by 8.
    Row {
        minor: 25,
        g: [
            440, 0, 8, 32, 48, 56, 64, 80, 88, 96, 104, 112, 144, 152, 168, 176, 220, 248,
            256, 264, 280, 296, 312, 344,
        ],
        parent_goid: Some(272),
        lockedm: 208,
        m: [0, 72, 64, 184, 224, 344, 896, 904],
        panic: [8, 24, 96],
        md: [296, 304, 176, 184, 576],
    },
    Row {
        minor: 26,
        g: [
            456, 0, 8, 32, 48, 56, 64, 80, 88, 96, 104, 112, 144, 152, 168, 176, 224, 256,
            264, 272, 288, 304, 320, 352,
        ],
        parent_goid: Some(280),
        lockedm: 208,
        m: [0, 72, 64, 184, 232, 352, 896, 904],
        panic: [0, 16, 88],
        md: [296, 304, 176, 184, 584],
    },
    Row {
        minor: 27,
        g: [
            456, 0, 8, 32, 48, 56, 64, 80, 88, 96, 104, 112, 144, 152, 168, 176, 224, 256,
            264, 272, 288, 304, 320, 352,
        ],
        parent_goid: Some(280),
        lockedm: 208,
        m: [0, 72, 64, 184, 232, 352, 896, 904],
        panic: [0, 16, 88],
        md: [296, 312, 176, 184, 560],
    },
];

impl Layouts {
    /// The built-in layout for Go 1.`minor` (the nearest older known release for an
    /// unknown one, newest for a future one). None before Go 1.19.
    pub fn builtin(major: u32, minor: u32) -> Option<(Layouts, LayoutSource)> {
        if major != 1 || minor < 19 {
            return None;
        }
        let row = ROWS.iter().rev().find(|r| r.minor <= minor)?;
        let g = &row.g;
        let l = Layouts {
            g: GLayout {
                size: g[0],
                stack_lo: g[1],
                stack_hi: g[2],
                panic: g[3],
                m: g[4],
                sched_sp: g[5],
                sched_pc: g[6],
                sched_ctxt: g[7],
                sched_lr: g[8],
                sched_bp: g[9],
                syscallsp: g[10],
                syscallpc: g[11],
                atomicstatus: g[12],
                goid: g[13],
                waitsince: g[14],
                waitreason: g[15],
                sig: g[16],
                sigcode0: g[17],
                sigcode1: g[18],
                sigpc: g[19],
                parent_goid: row.parent_goid,
                gopc: g[20],
                startpc: g[21],
                waiting: g[22],
                labels: g[23],
                lockedm: row.lockedm,
            },
            m: MLayout {
                g0: row.m[0],
                gsignal: row.m[1],
                procid: row.m[2],
                curg: row.m[3],
                id: row.m[4],
                alllink: row.m[5],
                vdso_sp: row.m[6],
                vdso_pc: row.m[7],
            },
            panic: PanicLayout {
                arg: row.panic[0],
                link: row.panic[1],
                recovered: row.panic[2],
            },
            moduledata: ModuledataLayout {
                types: row.md[0],
                etypes: row.md[1],
                text: row.md[2],
                etext: row.md[3],
                next: row.md[4],
            },
        };
        Some((
            l,
            LayoutSource::BuiltIn {
                major,
                minor: row.minor,
            },
        ))
    }

    /// Layouts read from DWARF; None if any required field is missing.
    pub fn from_dwarf(d: &Dwarf) -> Option<Layouts> {
        let g = |p: &str| d.field_offset("runtime.g", p);
        let m = |p: &str| d.field_offset("runtime.m", p);
        let pa = |p: &str| d.field_offset("runtime._panic", p);
        let md = |p: &str| d.field_offset("runtime.moduledata", p);
        Some(Layouts {
            g: GLayout {
                size: d.type_size("runtime.g")?,
                stack_lo: g("stack.lo")?,
                stack_hi: g("stack.hi")?,
                panic: g("_panic")?,
                m: g("m")?,
                sched_sp: g("sched.sp")?,
                sched_pc: g("sched.pc")?,
                sched_ctxt: g("sched.ctxt")?,
                sched_lr: g("sched.lr")?,
                sched_bp: g("sched.bp")?,
                syscallsp: g("syscallsp")?,
                syscallpc: g("syscallpc")?,
                atomicstatus: g("atomicstatus")?,
                goid: g("goid")?,
                waitsince: g("waitsince")?,
                waitreason: g("waitreason")?,
                sig: g("sig")?,
                sigcode0: g("sigcode0")?,
                sigcode1: g("sigcode1")?,
                sigpc: g("sigpc")?,
                parent_goid: g("parentGoid"),
                gopc: g("gopc")?,
                startpc: g("startpc")?,
                waiting: g("waiting")?,
                labels: g("labels")?,
                lockedm: g("lockedm")?,
            },
            m: MLayout {
                g0: m("g0")?,
                gsignal: m("gsignal")?,
                procid: m("procid")?,
                curg: m("curg")?,
                id: m("id")?,
                alllink: m("alllink")?,
                vdso_sp: m("vdsoSP")?,
                vdso_pc: m("vdsoPC")?,
            },
            panic: PanicLayout {
                arg: pa("arg")?,
                link: pa("link")?,
                recovered: pa("recovered")?,
            },
            moduledata: ModuledataLayout {
                types: md("types")?,
                etypes: md("etypes")?,
                text: md("text")?,
                etext: md("etext")?,
                next: md("next")?,
            },
        })
    }
}
