//! Register sets as saved in NT_PRSTATUS: amd64 (`user_regs_struct` order) and arm64
//! (`user_pt_regs`).

/// General-purpose registers of one amd64 thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registers {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

impl Registers {
    /// Parse the 27 u64 words of user_regs_struct (little endian), as in NT_PRSTATUS.
    pub fn from_user_regs(words: &[u64; 27]) -> Registers {
        let w = words;
        Registers {
            r15: w[0],
            r14: w[1],
            r13: w[2],
            r12: w[3],
            rbp: w[4],
            rbx: w[5],
            r11: w[6],
            r10: w[7],
            r9: w[8],
            r8: w[9],
            rax: w[10],
            rcx: w[11],
            rdx: w[12],
            rsi: w[13],
            rdi: w[14],
            orig_rax: w[15],
            rip: w[16],
            cs: w[17],
            eflags: w[18],
            rsp: w[19],
            ss: w[20],
            fs_base: w[21],
            gs_base: w[22],
            ds: w[23],
            es: w[24],
            fs: w[25],
            gs: w[26],
        }
    }

    /// Value by DWARF register number (System V amd64 numbering).
    /// A register by its lower-case name (`rip`, `eflags`/`rflags`, `fs_base`, ...),
    /// as gdb's target descriptions and Delve's register lists name them.
    pub fn by_name_mut(&mut self, name: &str) -> Option<&mut u64> {
        Some(match name {
            "rax" => &mut self.rax,
            "rbx" => &mut self.rbx,
            "rcx" => &mut self.rcx,
            "rdx" => &mut self.rdx,
            "rsi" => &mut self.rsi,
            "rdi" => &mut self.rdi,
            "rbp" => &mut self.rbp,
            "rsp" => &mut self.rsp,
            "r8" => &mut self.r8,
            "r9" => &mut self.r9,
            "r10" => &mut self.r10,
            "r11" => &mut self.r11,
            "r12" => &mut self.r12,
            "r13" => &mut self.r13,
            "r14" => &mut self.r14,
            "r15" => &mut self.r15,
            "rip" => &mut self.rip,
            "eflags" | "rflags" => &mut self.eflags,
            "cs" => &mut self.cs,
            "ss" => &mut self.ss,
            "ds" => &mut self.ds,
            "es" => &mut self.es,
            "fs" => &mut self.fs,
            "gs" => &mut self.gs,
            "orig_rax" => &mut self.orig_rax,
            "fs_base" => &mut self.fs_base,
            "gs_base" => &mut self.gs_base,
            _ => return None,
        })
    }

    pub fn by_dwarf(&self, n: u16) -> Option<u64> {
        Some(match n {
            0 => self.rax,
            1 => self.rdx,
            2 => self.rcx,
            3 => self.rbx,
            4 => self.rsi,
            5 => self.rdi,
            6 => self.rbp,
            7 => self.rsp,
            8 => self.r8,
            9 => self.r9,
            10 => self.r10,
            11 => self.r11,
            12 => self.r12,
            13 => self.r13,
            14 => self.r14,
            15 => self.r15,
            16 => self.rip,
            49 => self.eflags,
            58 => self.fs_base,
            59 => self.gs_base,
            _ => return None,
        })
    }

    pub fn set_by_dwarf(&mut self, n: u16, v: u64) -> bool {
        let slot = match n {
            0 => &mut self.rax,
            1 => &mut self.rdx,
            2 => &mut self.rcx,
            3 => &mut self.rbx,
            4 => &mut self.rsi,
            5 => &mut self.rdi,
            6 => &mut self.rbp,
            7 => &mut self.rsp,
            8 => &mut self.r8,
            9 => &mut self.r9,
            10 => &mut self.r10,
            11 => &mut self.r11,
            12 => &mut self.r12,
            13 => &mut self.r13,
            14 => &mut self.r14,
            15 => &mut self.r15,
            16 => &mut self.rip,
            49 => &mut self.eflags,
            58 => &mut self.fs_base,
            59 => &mut self.gs_base,
            _ => return false,
        };
        *slot = v;
        true
    }

    /// Name/value pairs in the order Delve's `regs` prints them.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("Rip", self.rip),
            ("Rsp", self.rsp),
            ("Rax", self.rax),
            ("Rbx", self.rbx),
            ("Rcx", self.rcx),
            ("Rdx", self.rdx),
            ("Rsi", self.rsi),
            ("Rdi", self.rdi),
            ("Rbp", self.rbp),
            ("R8", self.r8),
            ("R9", self.r9),
            ("R10", self.r10),
            ("R11", self.r11),
            ("R12", self.r12),
            ("R13", self.r13),
            ("R14", self.r14),
            ("R15", self.r15),
            ("Orig_rax", self.orig_rax),
            ("Cs", self.cs),
            ("Rflags", self.eflags),
            ("Ss", self.ss),
            ("Fs_base", self.fs_base),
            ("Gs_base", self.gs_base),
            ("Ds", self.ds),
            ("Es", self.es),
            ("Fs", self.fs),
            ("Gs", self.gs),
        ]
    }
}

/// DWARF register numbers of AArch64 (the AAPCS64 DWARF mapping; Go and Delve use 32
/// for the PC).
pub mod arm64_dwarf {
    pub const FP: u16 = 29;
    pub const LR: u16 = 30;
    pub const SP: u16 = 31;
    pub const PC: u16 = 32;
}

/// General-purpose registers of one arm64 thread: the kernel's `user_pt_regs` (as in
/// NT_PRSTATUS: x0–x30, sp, pc, pstate) and the TLS base (`tpidr_el0`, NT_ARM_TLS; 0
/// when the core has no such note, as qemu-user's do not). Go keeps g in x28.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arm64Registers {
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    pub tpidr: u64,
}

impl Arm64Registers {
    /// Words of `user_pt_regs` in NT_PRSTATUS.
    pub const WORDS: usize = 34;

    /// Parse `user_pt_regs` words (x0..x30, sp, pc, pstate).
    pub fn from_user_regs(w: &[u64; Self::WORDS]) -> Arm64Registers {
        let mut x = [0u64; 31];
        x.copy_from_slice(&w[..31]);
        Arm64Registers {
            x,
            sp: w[31],
            pc: w[32],
            pstate: w[33],
            tpidr: 0,
        }
    }

    /// The frame pointer (x29).
    pub fn fp(&self) -> u64 {
        self.x[29]
    }
    /// The link register (x30).
    pub fn lr(&self) -> u64 {
        self.x[30]
    }

    /// Value by DWARF register number (see [`arm64_dwarf`]).
    pub fn by_dwarf(&self, n: u16) -> Option<u64> {
        match n {
            0..=30 => self.x.get(usize::from(n)).copied(),
            arm64_dwarf::SP => Some(self.sp),
            arm64_dwarf::PC => Some(self.pc),
            _ => None,
        }
    }

    pub fn set_by_dwarf(&mut self, n: u16, v: u64) -> bool {
        let slot = match n {
            0..=30 => match self.x.get_mut(usize::from(n)) {
                Some(s) => s,
                None => return false,
            },
            arm64_dwarf::SP => &mut self.sp,
            arm64_dwarf::PC => &mut self.pc,
            _ => return false,
        };
        *slot = v;
        true
    }

    /// Name/value pairs in the order Delve's `regs` prints arm64 registers (PC, SP,
    /// X0..X30; PSTATE is not among them).
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        const X: [&str; 31] = [
            "X0", "X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8", "X9", "X10", "X11", "X12", "X13",
            "X14", "X15", "X16", "X17", "X18", "X19", "X20", "X21", "X22", "X23", "X24", "X25",
            "X26", "X27", "X28", "X29", "X30",
        ];
        let mut v = vec![("PC", self.pc), ("SP", self.sp)];
        v.extend(X.iter().copied().zip(self.x));
        v
    }

    /// The Delve name of a DWARF register number.
    pub fn dwarf_name(n: u16) -> Option<&'static str> {
        let r = Arm64Registers::default();
        let name = match n {
            arm64_dwarf::PC => "PC",
            arm64_dwarf::SP => "SP",
            0..=30 => r.named().get(usize::from(n) + 2)?.0,
            _ => return None,
        };
        Some(name)
    }
}
