//! The committed live fixture programs (`cores/live-fixtures/BUILD/live.zst`, built
//! from `cores/live`) and what every live test needs first: is ptrace usable here, the
//! binary unpacked, a source line by its `// LINE: NAME` marker, a scratch directory.
//!
//! Include it with `#[path = "support/live.rs"] mod live;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Every committed build: Go 1.19, 1.22, 1.25, 1.27, optimised and -N -l.
pub const BUILDS: [&str; 8] = [
    "go1.19-opt",
    "go1.19-noopt",
    "go1.22-opt",
    "go1.22-noopt",
    "go1.25-opt",
    "go1.25-noopt",
    "go1.27-opt",
    "go1.27-noopt",
];

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cores/live-fixtures")
}

/// Whether this machine lets coroner trace a process; says loudly why not, naming the
/// test (`what`), when it does not.
pub fn ptrace_works(what: &str) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_coroner"))
        .args(["exec", "/bin/true"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("ptrace") => {
            eprintln!(
                "SKIPPED: {what}: ptrace is unavailable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED: {what}: cannot run coroner: {e}");
            false
        }
    }
}

/// The build's `live` binary, decompressed into `dir`.
pub fn unpack(build: &str, dir: &Path) -> PathBuf {
    let dst = dir.join(format!("live-{build}"));
    let f = std::fs::File::open(fixtures().join(build).join("live.zst")).expect("open live.zst");
    let mut d = zstd::stream::read::Decoder::new(f).expect("zstd");
    d.window_log_max(27).expect("window log");
    let mut out = std::fs::File::create(&dst).expect("create");
    std::io::copy(&mut d, &mut out).expect("decompress");
    drop(out);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dst
}

/// The line of `cores/live/FILE` carrying `// LINE: MARKER`.
pub fn marker_line(file: &str, marker: &str) -> usize {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cores/live")
        .join(file);
    let text = std::fs::read_to_string(&src).expect("read scenario source");
    text.lines()
        .position(|l| l.contains(&format!("// LINE: {marker}")))
        .map(|i| i + 1)
        .expect("marker")
}

/// A scratch directory removed at the end.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("coroner-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
