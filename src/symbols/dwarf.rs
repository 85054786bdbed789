//! DWARF, loaded lazily through gimli. OWNER: DWARF engineer.
