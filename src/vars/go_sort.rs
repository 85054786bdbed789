//! Go's `slices.SortFunc` (pattern-defeating quicksort), step for step.
//!
//! It is not stable, and Delve sorts a type's constants with it before picking the
//! first whose value matches: where several constants share a value (`EAGAIN` and
//! `EWOULDBLOCK` are both 11; Go 1.24's `internal/reflectlite` re-declares
//! `abi.Kind`'s names), which name Delve prints is whatever this algorithm leaves
//! first. To print what Delve prints, coroner sorts the same input the same way:
//! every comparison and swap below is the one Go makes (Go 1.21 to 1.27 share it).

use std::cmp::Ordering;

const MAX_INSERTION: usize = 12;

/// Sorts `data` exactly as Go's `slices.SortFunc(data, cmp)` does.
pub fn sort_func<T>(data: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let n = data.len();
    let limit = bit_len(n);
    let mut less = |v: &[T], i: usize, j: usize| cmp(&v[i], &v[j]) == Ordering::Less;
    pdqsort(data, 0, n, limit, &mut less);
}

/// Go's `bits.Len`: the number of bits needed to represent `n`.
fn bit_len(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()) as usize
}

type Less<'a, T> = dyn FnMut(&[T], usize, usize) -> bool + 'a;

fn insertion_sort<T>(d: &mut [T], a: usize, b: usize, less: &mut Less<'_, T>) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(d, j, j - 1) {
            d.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sift_down<T>(d: &mut [T], lo: usize, hi: usize, first: usize, less: &mut Less<'_, T>) {
    let mut root = lo;
    loop {
        let mut child = 2 * root + 1;
        if child >= hi {
            return;
        }
        if child + 1 < hi && less(d, first + child, first + child + 1) {
            child += 1;
        }
        if !less(d, first + root, first + child) {
            return;
        }
        d.swap(first + root, first + child);
        root = child;
    }
}

fn heap_sort<T>(d: &mut [T], a: usize, b: usize, less: &mut Less<'_, T>) {
    let first = a;
    let hi = b - a;
    for i in (0..=(hi.saturating_sub(1)) / 2).rev() {
        if hi == 0 {
            break;
        }
        sift_down(d, i, hi, first, less);
    }
    for i in (0..hi).rev() {
        d.swap(first, first + i);
        sift_down(d, 0, i, first, less);
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Hint {
    Unknown,
    Increasing,
    Decreasing,
}

fn pdqsort<T>(d: &mut [T], mut a: usize, mut b: usize, mut limit: usize, less: &mut Less<'_, T>) {
    let mut was_balanced = true;
    let mut was_partitioned = true;
    loop {
        let length = b - a;
        if length <= MAX_INSERTION {
            insertion_sort(d, a, b, less);
            return;
        }
        if limit == 0 {
            heap_sort(d, a, b, less);
            return;
        }
        if !was_balanced {
            break_patterns(d, a, b);
            limit -= 1;
        }
        let (mut pivot, mut hint) = choose_pivot(d, a, b, less);
        if hint == Hint::Decreasing {
            d[a..b].reverse();
            pivot = (b - 1) - (pivot - a);
            hint = Hint::Increasing;
        }
        if was_balanced
            && was_partitioned
            && hint == Hint::Increasing
            && partial_insertion_sort(d, a, b, less)
        {
            return;
        }
        // Many equal elements: put those equal to the pivot first and go on after them.
        if a > 0 && !less(d, a - 1, pivot) {
            a = partition_equal(d, a, b, pivot, less);
            continue;
        }
        let (mid, already) = partition(d, a, b, pivot, less);
        was_partitioned = already;
        let (left, right) = (mid - a, b - mid);
        let threshold = length / 8;
        if left < right {
            was_balanced = left >= threshold;
            pdqsort(d, a, mid, limit, less);
            a = mid + 1;
        } else {
            was_balanced = right >= threshold;
            pdqsort(d, mid + 1, b, limit, less);
            b = mid;
        }
    }
}

fn partition<T>(
    d: &mut [T],
    a: usize,
    b: usize,
    pivot: usize,
    less: &mut Less<'_, T>,
) -> (usize, bool) {
    d.swap(a, pivot);
    // i and j are inclusive bounds of what is left to partition; j may go below a.
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    let at = |x: isize| x as usize;
    while i <= j && less(d, at(i), a) {
        i += 1;
    }
    while i <= j && !less(d, at(j), a) {
        j -= 1;
    }
    if i > j {
        d.swap(at(j), a);
        return (at(j), true);
    }
    d.swap(at(i), at(j));
    i += 1;
    j -= 1;
    loop {
        while i <= j && less(d, at(i), a) {
            i += 1;
        }
        while i <= j && !less(d, at(j), a) {
            j -= 1;
        }
        if i > j {
            break;
        }
        d.swap(at(i), at(j));
        i += 1;
        j -= 1;
    }
    d.swap(at(j), a);
    (at(j), false)
}

fn partition_equal<T>(
    d: &mut [T],
    a: usize,
    b: usize,
    pivot: usize,
    less: &mut Less<'_, T>,
) -> usize {
    d.swap(a, pivot);
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    let at = |x: isize| x as usize;
    loop {
        while i <= j && !less(d, a, at(i)) {
            i += 1;
        }
        while i <= j && less(d, a, at(j)) {
            j -= 1;
        }
        if i > j {
            break;
        }
        d.swap(at(i), at(j));
        i += 1;
        j -= 1;
    }
    at(i)
}

fn partial_insertion_sort<T>(d: &mut [T], a: usize, b: usize, less: &mut Less<'_, T>) -> bool {
    const MAX_STEPS: usize = 5;
    const SHORTEST_SHIFTING: usize = 50;
    let mut i = a + 1;
    for _ in 0..MAX_STEPS {
        while i < b && !less(d, i, i - 1) {
            i += 1;
        }
        if i == b {
            return true;
        }
        if b - a < SHORTEST_SHIFTING {
            return false;
        }
        d.swap(i, i - 1);
        // Shift the smaller one left (Go's loop runs down to index 1 of the whole
        // slice, not to a: kept as it is).
        if i - a >= 2 {
            let mut j = i - 1;
            while j >= 1 {
                if !less(d, j, j - 1) {
                    break;
                }
                d.swap(j, j - 1);
                j -= 1;
            }
        }
        if b - i >= 2 {
            for j in i + 1..b {
                if !less(d, j, j - 1) {
                    break;
                }
                d.swap(j, j - 1);
            }
        }
    }
    false
}

fn break_patterns<T>(d: &mut [T], a: usize, b: usize) {
    let length = b - a;
    if length < 8 {
        return;
    }
    let mut random = length as u64;
    let modulus = 1usize << bit_len(length);
    let base = a + (length / 4) * 2;
    for idx in base - 1..=base + 1 {
        random ^= random << 13;
        random ^= random >> 17;
        random ^= random << 5;
        let mut other = (random as usize) & (modulus - 1);
        if other >= length {
            other -= length;
        }
        d.swap(idx, a + other);
    }
}

fn choose_pivot<T>(d: &mut [T], a: usize, b: usize, less: &mut Less<'_, T>) -> (usize, Hint) {
    const SHORTEST_NINTHER: usize = 50;
    const MAX_SWAPS: usize = 4 * 3;
    let l = b - a;
    let mut swaps = 0;
    let mut i = a + l / 4;
    let mut j = a + l / 4 * 2;
    let mut k = a + l / 4 * 3;
    if l >= 8 {
        if l >= SHORTEST_NINTHER {
            i = median(d, i - 1, i, i + 1, &mut swaps, less);
            j = median(d, j - 1, j, j + 1, &mut swaps, less);
            k = median(d, k - 1, k, k + 1, &mut swaps, less);
        }
        j = median(d, i, j, k, &mut swaps, less);
    }
    match swaps {
        0 => (j, Hint::Increasing),
        MAX_SWAPS => (j, Hint::Decreasing),
        _ => (j, Hint::Unknown),
    }
}

fn order2<T>(
    d: &[T],
    a: usize,
    b: usize,
    swaps: &mut usize,
    less: &mut Less<'_, T>,
) -> (usize, usize) {
    if less(d, b, a) {
        *swaps += 1;
        (b, a)
    } else {
        (a, b)
    }
}

fn median<T>(
    d: &[T],
    a: usize,
    b: usize,
    c: usize,
    swaps: &mut usize,
    less: &mut Less<'_, T>,
) -> usize {
    let (a, b) = order2(d, a, b, swaps, less);
    let (b, c) = order2(d, b, c, swaps, less);
    let _ = c;
    let (_a, b) = order2(d, a, b, swaps, less);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorts; equal keys keep whatever order Go leaves them in, but keys are ordered.
    #[test]
    fn sorts_every_length_and_shape() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..400usize {
            for shape in 0..4 {
                let mut v: Vec<(i64, usize)> = (0..n)
                    .map(|i| {
                        seed ^= seed << 7;
                        seed ^= seed >> 9;
                        let k = match shape {
                            0 => (seed % 1000) as i64,
                            1 => i as i64,
                            2 => (n - i) as i64,
                            _ => (seed % 5) as i64,
                        };
                        (k, i)
                    })
                    .collect();
                sort_func(&mut v, |x, y| x.0.cmp(&y.0));
                assert!(
                    v.windows(2).all(|w| w[0].0 <= w[1].0),
                    "n={n} shape={shape}"
                );
                let mut idx: Vec<usize> = v.iter().map(|x| x.1).collect();
                idx.sort_unstable();
                assert_eq!(idx, (0..n).collect::<Vec<_>>());
            }
        }
    }

    /// Up to 12 elements Go sorts by insertion: stable.
    #[test]
    fn short_slices_are_stable() {
        let mut v = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd')];
        sort_func(&mut v, |x, y| x.0.cmp(&y.0));
        assert_eq!(v, vec![(1, 'b'), (1, 'd'), (2, 'a'), (2, 'c')]);
    }
}
