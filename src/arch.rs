//! The CPU architectures coroner reads. The ELF header's `e_machine` of the binary
//! and of the core decides it; everything that differs between them (register sets,
//! frame layout, signal frames, disassembly) is chosen by this type, never by tests
//! scattered through the layers.

/// ELF `e_machine` of x86-64.
pub const EM_X86_64: u16 = 62;
/// ELF `e_machine` of AArch64.
pub const EM_AARCH64: u16 = 183;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Arch {
    /// x86-64 (GOARCH=amd64).
    #[default]
    Amd64,
    /// AArch64 (GOARCH=arm64).
    Arm64,
}

impl Arch {
    /// The architecture of an ELF `e_machine`, if coroner reads it.
    pub fn from_e_machine(m: u16) -> Option<Arch> {
        match m {
            EM_X86_64 => Some(Arch::Amd64),
            EM_AARCH64 => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// The GOARCH name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Data addresses that AArch64 code forms PC-relatively: every `ADRP Xd, page` followed
/// (anywhere later, while Xd is not redefined by another ADRP) by `ADD Xd', Xd, #imm`
/// or a load/store `[Xd, #imm]` (unsigned offset) gives page+imm. This is how Go's
/// arm64 linker addresses package variables (`MOVD runtime.allgs+8(SB), R1` is ADRP +
/// LDR), so the code of a function names the globals it touches even in a stripped
/// binary. `pc` is the address of `code[0]`; trailing bytes short of an instruction
/// are ignored.
pub fn arm64_adrp_refs(code: &[u8], pc: u64) -> Vec<u64> {
    let mut page: [Option<u64>; 32] = [None; 32];
    let mut out = Vec::new();
    for (i, w) in code.chunks_exact(4).enumerate() {
        let insn = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let at = pc.wrapping_add(4 * i as u64);
        let rd = (insn & 0x1f) as usize;
        let rn = ((insn >> 5) & 0x1f) as usize;
        if insn & 0x9f00_0000 == 0x9000_0000 {
            // ADRP: immhi:immlo is a signed 21-bit count of 4 KiB pages.
            let immlo = u64::from((insn >> 29) & 3);
            let immhi = u64::from((insn >> 5) & 0x7_ffff);
            let imm = ((immhi << 2) | immlo) << 12;
            // Sign-extend from bit 32.
            let imm = ((imm << 31) as i64 >> 31) as u64;
            page[rd] = Some((at & !0xfff).wrapping_add(imm));
            continue;
        }
        let Some(base) = page.get(rn).copied().flatten() else {
            continue;
        };
        if insn & 0xff80_0000 == 0x9100_0000 {
            // ADD Xd, Xn, #imm12{, lsl #12}
            let imm = u64::from((insn >> 10) & 0xfff);
            let imm = if insn & (1 << 22) != 0 {
                imm << 12
            } else {
                imm
            };
            out.push(base.wrapping_add(imm));
            if rd != rn {
                page[rd] = None;
            }
        } else if insn & 0x3b00_0000 == 0x3900_0000 {
            // LDR/STR (unsigned immediate), any size: imm12 scaled by the access size.
            let size = insn >> 30;
            let imm = u64::from((insn >> 10) & 0xfff) << size;
            out.push(base.wrapping_add(imm));
        } else {
            // Anything else may redefine its destination register.
            page[rd] = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn adrp_pairs() {
        // 0x10000: adrp x1, 0x1e0000 ; ldr x2, [x1, #0x238] ; add x3, x1, #0x240
        //          str x2, [x3, #8] (x3 is not an ADRP base: ignored)
        // 0x1d0 pages: immlo = 0, immhi = 0x74.
        let adrp = 0x9000_0001 | ((0x1d0 >> 2) << 5);
        let ldr = 0xf940_0000 | ((0x238 / 8) << 10) | (1 << 5) | 2;
        let add = 0x9100_0000 | (0x240 << 10) | (1 << 5) | 3;
        let str = 0xf900_0000 | (1 << 10) | (3 << 5) | 2;
        let refs = arm64_adrp_refs(&bytes(&[adrp, ldr, add, str]), 0x10000);
        assert_eq!(refs, vec![0x1e0238, 0x1e0240]);
        // A negative page offset, and bytes short of an instruction.
        let back = 0x9000_0000 | (3 << 29) | (0x7_ffff << 5); // adrp x0, -1 page
        let add = 0x9100_0000 | (0x10 << 10);
        let mut code = bytes(&[back, add]);
        code.push(0xff);
        assert_eq!(arm64_adrp_refs(&code, 0x5000), vec![0x4010]);
    }
}
