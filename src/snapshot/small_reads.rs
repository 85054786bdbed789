//! Small reads of a mapped core through `pread(2)` and a per-thread page cache.
//!
//! Walking 100,000 goroutines reads a few words from each of 100,000 scattered stacks.
//! Through the mapping, each first touch is a page fault that maps the whole 64 KB
//! fault-around window, and those pages then count in the process's RSS until they
//! are dropped again (`madvise`), to be refaulted by the next pass: on the triage of
//! such a core, faults and drops were a third of the time. A `pread` of the one page
//! copies it from the page cache without touching our page tables; a few pages per
//! thread are kept, since consecutive reads (one stack's frames, one g's fields) fall
//! on the same page. Bulk reads and zero-copy slices still use the mapping.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

const PAGE: u64 = 4096;
/// Reads up to this long go through the cache.
pub const SMALL_READ: usize = 1024;
/// Pages kept per thread.
const KEPT: usize = 16;

/// Tells cores apart in the per-thread cache (an address could be reused by a later
/// core; a counter is not).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct SmallReads {
    file: File,
    id: u64,
}

struct Kept {
    owner: u64,
    pages: Vec<(u64, usize, Box<[u8]>)>,
    next: usize,
}

thread_local! {
    static KEPT_PAGES: RefCell<Kept> = const {
        RefCell::new(Kept {
            owner: 0,
            pages: Vec::new(),
            next: 0,
        })
    };
}

impl SmallReads {
    pub fn new(file: File) -> SmallReads {
        SmallReads {
            file,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Fill `dst` from file offset `off`; false when the file gave fewer bytes (the
    /// caller then copies from the mapping).
    pub fn read(&self, off: u64, dst: &mut [u8]) -> bool {
        KEPT_PAGES.with(|k| {
            let Ok(mut k) = k.try_borrow_mut() else {
                return false;
            };
            if k.owner != self.id {
                k.owner = self.id;
                k.pages.clear();
                k.next = 0;
            }
            let mut done = 0usize;
            while done < dst.len() {
                let o = off + done as u64;
                let page = o & !(PAGE - 1);
                let at = (o - page) as usize;
                let n = (PAGE as usize - at).min(dst.len() - done);
                let i = match k.pages.iter().position(|(p, _, _)| *p == page) {
                    Some(i) => i,
                    None => match self.fetch(&mut k, page) {
                        Some(i) => i,
                        None => return false,
                    },
                };
                let (_, valid, bytes) = &k.pages[i];
                match (bytes.get(at..at + n), dst.get_mut(done..done + n)) {
                    (Some(src), Some(d)) if at + n <= *valid => d.copy_from_slice(src),
                    _ => return false,
                }
                done += n;
            }
            true
        })
    }

    fn fetch(&self, k: &mut Kept, page: u64) -> Option<usize> {
        // The slot to fill, and its buffer (an evicted page's, once all are in use).
        let i = if k.pages.len() < KEPT {
            k.pages
                .push((u64::MAX, 0, vec![0u8; PAGE as usize].into_boxed_slice()));
            k.pages.len() - 1
        } else {
            let i = k.next % KEPT;
            k.next = k.next.wrapping_add(1);
            i
        };
        let slot = k.pages.get_mut(i)?;
        *slot = (u64::MAX, 0, std::mem::take(&mut slot.2));
        let mut valid = 0usize;
        while valid < slot.2.len() {
            match self.file.read_at(&mut slot.2[valid..], page + valid as u64) {
                Ok(0) => break,
                Ok(n) => valid += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        slot.0 = page;
        slot.1 = valid;
        Some(i)
    }
}
