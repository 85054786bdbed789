//! Call frame information (.eh_frame / .debug_frame). OWNER: DWARF engineer.
