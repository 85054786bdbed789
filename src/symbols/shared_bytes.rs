//! Bytes of the binary shared without copying: a range of the file's mapping that
//! keeps the mapping alive, or a heap buffer when the bytes came from elsewhere.
//!
//! The pclntab of a 130 MB binary is 26 MB and the funcdata region before it as large:
//! copying both into the heap at open cost more than everything else `coroner core`
//! does before its first prompt (page faults on fresh memory, then the copy, then the
//! free at exit). A read-only mapping is immutable for as long as we hold it, so a
//! range of it can be handed out like an `Arc<[u8]>`.

use crate::snapshot::compressed::FileBytes;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
enum Owner {
    File(Arc<FileBytes>),
    Heap(Arc<[u8]>),
}

/// An immutable byte range, cheap to clone, `Send + Sync`; derefs to `[u8]`.
#[derive(Clone)]
pub struct SharedBytes {
    owner: Owner,
    start: usize,
    len: usize,
}

impl SharedBytes {
    /// `part` as a range of `file` when it lies inside it (no copy), else a copy.
    pub fn within(file: &Arc<FileBytes>, part: &[u8]) -> SharedBytes {
        let whole: &[u8] = file;
        let base = whole.as_ptr() as usize;
        let at = part.as_ptr() as usize;
        match at.checked_sub(base) {
            Some(start)
                if start
                    .checked_add(part.len())
                    .is_some_and(|e| e <= whole.len()) =>
            {
                SharedBytes {
                    owner: Owner::File(Arc::clone(file)),
                    start,
                    len: part.len(),
                }
            }
            _ => SharedBytes::copy_of(part),
        }
    }

    /// A heap copy of `b` (bytes that are not in a mapped file: tests, synthetic input).
    pub fn copy_of(b: &[u8]) -> SharedBytes {
        SharedBytes::from(Arc::<[u8]>::from(b))
    }

    /// Whether the bytes are a range of a file's mapping rather than a heap copy.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.owner, Owner::File(_))
    }
}

impl From<Arc<[u8]>> for SharedBytes {
    fn from(a: Arc<[u8]>) -> SharedBytes {
        let len = a.len();
        SharedBytes {
            owner: Owner::Heap(a),
            start: 0,
            len,
        }
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(v: Vec<u8>) -> SharedBytes {
        SharedBytes::from(Arc::<[u8]>::from(v))
    }
}

impl Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let whole: &[u8] = match &self.owner {
            Owner::File(f) => f,
            Owner::Heap(h) => h,
        };
        // The range was checked against these same immutable bytes when it was made.
        whole.get(self.start..self.start + self.len).unwrap_or(&[])
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.len)
            .field("borrowed", &self.is_borrowed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_of_the_file_is_borrowed_and_anything_else_copied() {
        let file = Arc::new(FileBytes::from_vec("x", (0u8..=255).collect()));
        let inside = SharedBytes::within(&file, &file[10..20]);
        assert!(inside.is_borrowed());
        assert_eq!(&*inside, &(10u8..20).collect::<Vec<_>>()[..]);
        let whole = SharedBytes::within(&file, &file[..]);
        assert!(whole.is_borrowed());
        assert_eq!(whole.len(), 256);
        let other = vec![1u8, 2, 3];
        let outside = SharedBytes::within(&file, &other);
        assert!(!outside.is_borrowed());
        assert_eq!(&*outside, &[1, 2, 3]);
        let empty = SharedBytes::within(&file, &file[256..]);
        assert_eq!(empty.len(), 0);
    }
}
