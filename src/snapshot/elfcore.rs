//! ELF core backend. OWNER: ELF-layer engineer.
