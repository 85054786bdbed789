//! The live fixture programs were built from /tmp/coroner-fixtures-live/src (their
//! DWARF and Delve's transcripts name files there), so tests that list source, as
//! Delve did when it recorded them, need the sources at that path. A fresh machine has
//! none: copy them from cores/live (each file written beside and renamed, so tests
//! running at once never see a partial one).
//!
//! Include it with `#[path = "support/sources.rs"] mod sources;`.
#![allow(dead_code)]

use std::path::Path;

pub const LIVE_SRC: &str = "/tmp/coroner-fixtures-live/src";

/// Make sure every `cores/live/*.go` (and `go.mod`) is at [`LIVE_SRC`], as committed.
pub fn live_sources() {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live");
    let to = Path::new(LIVE_SRC);
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {LIVE_SRC}: {e}"));
    let entries = std::fs::read_dir(&from).unwrap_or_else(|e| panic!("read cores/live: {e}"));
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.ends_with(".go") || name == "go.mod") {
            continue;
        }
        let want = std::fs::read(e.path()).unwrap_or_else(|e| panic!("read {name}: {e}"));
        let dst = to.join(&*name);
        let stale = std::fs::metadata(&dst)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > std::time::UNIX_EPOCH + std::time::Duration::from_secs(978_307_200));
        if !stale && std::fs::read(&dst).is_ok_and(|have| have == want) {
            continue;
        }
        let tmp = to.join(format!(".{name}.{}", std::process::id()));
        std::fs::write(&tmp, &want).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
        // Older than any binary: Delve warns "listing may not match stale executable"
        // when a source is newer than the executable.
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(978_307_200);
        if let Ok(f) = std::fs::File::options().write(true).open(&tmp) {
            let _ = f.set_modified(old);
        }
        std::fs::rename(&tmp, &dst).unwrap_or_else(|e| panic!("rename to {}: {e}", dst.display()));
    }
}
