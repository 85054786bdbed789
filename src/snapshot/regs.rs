//! amd64 register set, as saved in NT_PRSTATUS (user_regs_struct order).

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
