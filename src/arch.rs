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
