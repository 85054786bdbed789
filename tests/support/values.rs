//! Opening the values fixtures (`cores/fixtures-values/go1.NN-MODE/`), shared by the
//! variables tests. The files are decompressed into a temp dir kept alive by the
//! returned guard, so each test reads its own plain copies.

use coroner::repl::Session;
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cores/fixtures-values")
}

pub fn unzstd(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::open(src)?;
    let mut d = zstd::stream::read::Decoder::new(f)?;
    d.window_log_max(27)?;
    let mut out = std::fs::File::create(dst)?;
    std::io::copy(&mut d, &mut out)?;
    Ok(())
}

/// A session on the `values` scenario of fixture directory `tag` (e.g. "go1.22-noopt").
pub fn open(tag: &str) -> anyhow::Result<(tempfile::TempDir, Session)> {
    let dir = tempfile::tempdir()?;
    let base = fixtures().join(tag);
    let bin = dir.path().join("values");
    let core = dir.path().join("core");
    unzstd(&base.join("values.zst"), &bin)?;
    unzstd(&base.join("values.core.zst"), &core)?;
    let t = Target::open(&OpenOptions {
        binary: bin,
        core,
        force: false,
    })?;
    Ok((dir, Session::new(t)))
}
