//! The binary: ELF container, Go build info, the Go pclntab, DWARF and call-frame info.
//!
//! Everything here reads the binary's own bytes, memory-mapped (or decompressed once
//! when the file is zstd/xz/lz4-compressed). Nothing is parsed eagerly beyond the ELF
//! headers; DWARF is loaded on first use.

pub mod buildinfo;
pub mod cfi;
pub mod debuginfo;
pub mod dwarf;
pub mod elf;
mod name_index;
pub mod native;
pub mod pclntab;
pub mod shared_bytes;
pub mod symtab;

pub use elf::{pe, Binary};
pub use pclntab::{Func, Pclntab, SourceFrame};
pub use shared_bytes::SharedBytes;

#[derive(Debug, thiserror::Error)]
pub enum SymError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not an ELF or PE executable")]
    NotElf(String),
    #[error("{path}: malformed ELF: {msg}")]
    BadElf { path: String, msg: String },
    #[error("{path}: malformed PE executable: {msg}")]
    BadPe { path: String, msg: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("no Go pclntab found: is this a Go binary?")]
    NoPclntab,
    #[error("malformed pclntab: {0}")]
    BadPclntab(String),
    #[error("DWARF: {0}")]
    Dwarf(String),
    #[error("decompression failed: {0}")]
    Decompress(String),
}
