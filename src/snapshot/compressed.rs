//! Transparent reading of zstd/xz/lz4-compressed files. OWNER: ELF-layer engineer.
