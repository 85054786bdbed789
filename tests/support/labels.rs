//! Opening the labels fixtures (`cores/fixtures-labels/go1.NN-MODE/`), shared by the
//! label tests: binary and core are decompressed into a temp dir kept alive by the
//! returned guard.

use coroner::repl::Session;
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

/// Every build cores/generate-labels.sh makes.
pub const TAGS: [&str; 12] = [
    "go1.19-opt",
    "go1.19-noopt",
    "go1.19-stripped",
    "go1.22-opt",
    "go1.22-noopt",
    "go1.22-stripped",
    "go1.25-opt",
    "go1.25-noopt",
    "go1.25-stripped",
    "go1.27-opt",
    "go1.27-noopt",
    "go1.27-stripped",
];

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures-labels")
}

fn unzstd(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::open(src)?;
    let mut d = zstd::stream::read::Decoder::new(f)?;
    d.window_log_max(27)?;
    let mut out = std::fs::File::create(dst)?;
    std::io::copy(&mut d, &mut out)?;
    Ok(())
}

/// A session on the fixture `tag` (e.g. "go1.22-noopt").
pub fn open(tag: &str) -> anyhow::Result<(tempfile::TempDir, Session)> {
    let dir = tempfile::tempdir()?;
    let base = fixtures().join(tag);
    let bin = dir.path().join("labels");
    let core = dir.path().join("core");
    unzstd(&base.join("labels.zst"), &bin)?;
    unzstd(&base.join("labels.core.zst"), &core)?;
    let t = Target::open(&OpenOptions {
        binary: bin,
        core,
        force: false,
    })?;
    Ok((dir, Session::new(t)))
}
