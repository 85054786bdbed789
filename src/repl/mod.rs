//! Delve-compatible REPL commands: parse, run against a [`crate::target::Target`],
//! format as Delve does (or as JSON). OWNER: REPL engineer.
