//! Transparent reading of zstd/xz/lz4/gzip-compressed files. OWNER: ELF-layer engineer.
//!
//! [`open_file`] memory-maps a file read-only. When the file starts with a compression
//! magic (systemd-coredump writes `core.*.zst`/`.xz`/`.lz4`; people ship compressed
//! binaries), it is decompressed once, streaming, into an unlinked temporary file which
//! is mapped instead: the rest of the engine always sees plain bytes and never holds a
//! multi-gigabyte core on the heap.

use memmap2::Mmap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// The compression formats recognised by their magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    Xz,
    Lz4,
    Gzip,
}

impl Compression {
    /// The format a file starting with `head` is compressed with, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            Some(Compression::Lz4)
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
            Compression::Gzip => "gzip",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot decompress {path}: {format}: {msg}; is the file complete?")]
    Corrupt {
        path: String,
        format: Compression,
        msg: String,
    },
    #[error(
        "cannot decompress {path} into a temporary file in {tmpdir}: {source} \
         (set TMPDIR to a directory with enough space)"
    )]
    TempFile {
        path: String,
        tmpdir: String,
        #[source]
        source: io::Error,
    },
}

/// The bytes of a file: a read-only mapping of the file itself, or of its decompressed
/// copy. Cheap to share between threads (`Send + Sync`), derefs to `[u8]`.
pub struct FileBytes {
    backing: Backing,
    path: PathBuf,
    compression: Option<Compression>,
}

impl FileBytes {
    /// The path the bytes were opened from (the compressed file, if it was one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The compression the file was stored with, `None` for a plain file.
    pub fn compression(&self) -> Option<Compression> {
        self.compression
    }

    /// Bytes held in memory rather than mapped (tests, synthetic inputs).
    pub fn from_vec(path: impl Into<PathBuf>, data: Vec<u8>) -> FileBytes {
        FileBytes {
            backing: Backing::Owned(data),
            path: path.into(),
            compression: None,
        }
    }
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.backing {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
            Backing::Empty => &[],
        }
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBytes")
            .field("path", &self.path)
            .field("len", &self.len())
            .field("compression", &self.compression)
            .finish()
    }
}

enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
    /// An empty file (mmap of length 0 fails).
    Empty,
}

/// Map `f` read-only.
fn map_file(f: &File) -> io::Result<Backing> {
    if f.metadata()?.len() == 0 {
        return Ok(Backing::Empty);
    }
    // SAFETY: the mapping is read-only and private. Another process truncating or
    // rewriting the file while we hold the map is outside our control (it can raise
    // SIGBUS), the same trade-off every mmap-based debugger makes for huge cores; the
    // decompressed copies are unlinked temp files nobody else can reach.
    let map = unsafe { Mmap::map(f)? };
    Ok(Backing::Map(map))
}

/// Files above this size report decompression progress (when stderr is a terminal).
const PROGRESS_MIN: u64 = 64 << 20;

/// Open `path` read-only, decompressing zstd/xz/lz4/gzip transparently.
pub fn open_file(path: &Path) -> Result<FileBytes, FileError> {
    let io_err = |source| FileError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = File::open(path).map_err(io_err)?;
    let plain = FileBytes {
        backing: map_file(&f).map_err(io_err)?,
        path: path.to_path_buf(),
        compression: None,
    };
    let Some(format) = Compression::detect(&plain) else {
        return Ok(plain);
    };
    let out = decompress_to_temp(path, &plain, format)?;
    let backing = map_file(&out).map_err(|source| FileError::TempFile {
        path: path.display().to_string(),
        tmpdir: std::env::temp_dir().display().to_string(),
        source,
    })?;
    Ok(FileBytes {
        backing,
        path: path.to_path_buf(),
        compression: Some(format),
    })
}

/// Decompress `input` (the whole compressed file) into an unlinked temp file.
fn decompress_to_temp(path: &Path, input: &[u8], format: Compression) -> Result<File, FileError> {
    let tmp_err = |source| FileError::TempFile {
        path: path.display().to_string(),
        tmpdir: std::env::temp_dir().display().to_string(),
        source,
    };
    let corrupt = |e: io::Error| FileError::Corrupt {
        path: path.display().to_string(),
        format,
        msg: e.to_string(),
    };
    let mut out = tempfile::tempfile().map_err(tmp_err)?;
    let total = input.len() as u64;
    let show = total >= PROGRESS_MIN && io::stderr().is_terminal();
    let reader = Progress {
        input,
        pos: 0,
        total,
        last_pct: None,
        show,
        name: path.display().to_string(),
    };
    let mut w = BufWriter::with_capacity(1 << 20, &mut out);
    let res = match format {
        Compression::Zstd => match zstd::stream::read::Decoder::new(reader) {
            Ok(mut d) => copy_checked(&mut d, &mut w),
            Err(e) => Err(CopyError::Read(e)),
        },
        Compression::Xz => {
            copy_checked(&mut xz2::read::XzDecoder::new_multi_decoder(reader), &mut w)
        }
        Compression::Lz4 => copy_checked(&mut lz4_flex::frame::FrameDecoder::new(reader), &mut w),
        Compression::Gzip => copy_checked(&mut flate2::read::MultiGzDecoder::new(reader), &mut w),
    };
    if show {
        eprint!("\r\x1b[K");
    }
    match res {
        Ok(()) => {}
        Err(CopyError::Read(e)) => return Err(corrupt(e)),
        Err(CopyError::Write(e)) => return Err(tmp_err(e)),
    }
    w.flush().map_err(tmp_err)?;
    drop(w);
    Ok(out)
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

impl From<io::Error> for CopyError {
    fn from(e: io::Error) -> Self {
        CopyError::Read(e)
    }
}

/// Like `io::copy`, but tells decoder errors (corrupt input) from write errors (disk
/// full), which need different advice.
fn copy_checked<R: Read, W: Write>(r: &mut R, w: &mut W) -> Result<(), CopyError> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        let chunk = buf
            .get(..n)
            .ok_or_else(|| CopyError::Read(io::Error::other("decoder returned a bad length")))?;
        w.write_all(chunk).map_err(CopyError::Write)?;
    }
}

/// A reader over the compressed bytes that prints a percentage of input consumed.
struct Progress<'a> {
    input: &'a [u8],
    pos: usize,
    total: u64,
    last_pct: Option<u64>,
    show: bool,
    name: String,
}

impl Read for Progress<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.input.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos = self.pos.saturating_add(n);
        if self.show && self.total > 0 {
            let pct = (self.pos as u64).saturating_mul(100) / self.total;
            if self.last_pct != Some(pct) {
                self.last_pct = Some(pct);
                eprint!("\rdecompressing {}: {pct}%", self.name);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_compressed_files_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, &data).unwrap();
        let fb = open_file(&plain).unwrap();
        assert_eq!(&*fb, &data[..]);
        assert_eq!(fb.compression(), None);

        let zst = dir.path().join("x.zst");
        std::fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        let fb = open_file(&zst).unwrap();
        assert_eq!(fb.compression(), Some(Compression::Zstd));
        assert_eq!(&*fb, &data[..]);

        let xz = dir.path().join("x.xz");
        let mut enc = xz2::write::XzEncoder::new(Vec::new(), 1);
        enc.write_all(&data).unwrap();
        std::fs::write(&xz, enc.finish().unwrap()).unwrap();
        let fb = open_file(&xz).unwrap();
        assert_eq!(fb.compression(), Some(Compression::Xz));
        assert_eq!(&*fb, &data[..]);

        let lz = dir.path().join("x.lz4");
        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(&data).unwrap();
        std::fs::write(&lz, enc.finish().unwrap()).unwrap();
        let fb = open_file(&lz).unwrap();
        assert_eq!(fb.compression(), Some(Compression::Lz4));
        assert_eq!(&*fb, &data[..]);
    }

    #[test]
    fn corrupt_and_missing_files_give_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![42u8; 100_000];
        let z = zstd::encode_all(&data[..], 3).unwrap();
        let cut = dir.path().join("cut.zst");
        std::fs::write(&cut, &z[..z.len() / 2]).unwrap();
        let e = open_file(&cut).unwrap_err().to_string();
        assert!(e.starts_with("cannot decompress "), "{e}");
        assert!(e.contains("zstd: "), "{e}");
        assert!(e.ends_with("is the file complete?"), "{e}");
        assert!(!e.contains('\n'));

        let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
        enc.write_all(&data).unwrap();
        let l = enc.finish().unwrap();
        let cut = dir.path().join("cut.lz4");
        std::fs::write(&cut, &l[..l.len() / 2]).unwrap();
        let e = open_file(&cut).unwrap_err().to_string();
        assert!(
            e.contains("lz4: ") && e.ends_with("is the file complete?"),
            "{e}"
        );

        let missing = dir.path().join("nope");
        let e = open_file(&missing).unwrap_err().to_string();
        assert!(e.starts_with("cannot read ") && e.contains("nope"), "{e}");
        assert!(!e.contains('\n'));

        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(open_file(&empty).unwrap().len(), 0);
    }
}
