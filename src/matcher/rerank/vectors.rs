//! Sparse TF-IDF vectors (character n-grams of the words, and the matching terms) and the
//! cosines the re-ranker reads: a question against a candidate's phrasings, one left out.

/// A sparse vector: `(key, weight)` sorted by key, keys unique.
pub type Sparse = Vec<(u32, f32)>;

/// Longest word read for n-grams: past it a "word" is noise (a pasted blob, a key held down),
/// and reading it whole would let one message cost as much as a book.
pub const MAX_WORD_CHARS: usize = 30;

/// Hashed character n-grams (3 to 5) of a word with its boundaries: " foie " gives " fo",
/// "foi", "oie", "ie ", " foi"… as sklearn's `char_wb` does. Typos and inflections keep most of
/// a word's n-grams, which stems and whole words do not.
pub fn char_grams(word: &str, out: &mut Vec<u32>) {
    let mut chars = [0u32; MAX_WORD_CHARS + 2];
    let mut n = 1;
    chars[0] = u32::from(' ');
    for c in word.chars().take(MAX_WORD_CHARS) {
        chars[n] = u32::from(c);
        n += 1;
    }
    chars[n] = u32::from(' ');
    n += 1;
    for len in 3..=5 {
        for start in 0..n.saturating_sub(len - 1) {
            out.push(hash(&chars[start..start + len]));
        }
    }
}

/// FxHash of a few characters, with their count (so "ab" and "ab\0" differ).
fn hash(chars: &[u32]) -> u32 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let h = chars.iter().fold(chars.len() as u64, |h, &c| {
        (h.rotate_left(5) ^ u64::from(c)).wrapping_mul(SEED)
    });
    (h >> 32) as u32
}

/// Counts of each key in `keys` (sorted in place), as `(key, count)`.
pub fn counts(keys: &mut [u32]) -> Vec<(u32, u32)> {
    keys.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(keys.len());
    for &k in keys.iter() {
        match out.last_mut() {
            Some((last, n)) if *last == k => *n += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

/// The TF-IDF vector of n-gram counts (by dense id; sublinear tf), L2-normalised. N-grams the
/// knowledge never used have no id and are left out: they would lower every cosine alike.
pub fn tf_idf(counts: &[(u32, u32)], idf: &[f32]) -> Sparse {
    let mut v: Sparse = counts
        .iter()
        .filter_map(|&(k, n)| {
            // Most n-grams occur once, and ln 1 = 0: the same weight without the logarithm.
            idf.get(k as usize).map(|&w| {
                (
                    k,
                    if n == 1 {
                        w
                    } else {
                        (1.0 + (n as f32).ln()) * w
                    },
                )
            })
        })
        .collect();
    normalize(&mut v, 0.0);
    v
}

/// Scales `v` to unit length, counting `extra` (squared weight of parts left out of `v`, such as
/// words the knowledge does not know) in its length.
pub fn normalize(v: &mut Sparse, extra: f32) {
    let norm = (v.iter().map(|(_, w)| w * w).sum::<f32>() + extra).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, w)| *w /= norm);
    }
}

/// Dot product of two sparse vectors sorted by key (a merge; both short: training only).
pub fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Dot product of a short vector with a long one kept as sorted `keys` and their `weights`,
/// over the keys of `short` that `may_hold` does not rule out (it must never rule out one of
/// `keys`). Each key of the short one is searched from where the previous one was found, with
/// steps that double (a galloping merge): a few probes per key, where a binary search over the
/// whole long vector took a dozen. The keys apart from the weights: twice as many per cache
/// line for the search. This is the re-ranker's hottest loop.
fn dot_where(
    short: &[(u32, f32)],
    keys: &[u32],
    weights: &[f32],
    may_hold: impl Fn(u32) -> bool,
) -> f32 {
    let mut sum = 0.0;
    let mut lo = 0;
    for &(k, w) in short {
        if !may_hold(k) {
            continue;
        }
        // Gallop: probe `lo + 1, 3, 7, 15…` until a key is at least `k`; everything before
        // the last probe below `k` is below it too.
        let mut bound = 1;
        while lo + bound <= keys.len() && keys[lo + bound - 1] < k {
            bound *= 2;
        }
        let start = lo + bound / 2;
        let end = (lo + bound).min(keys.len());
        match keys[start..end].binary_search(&k) {
            Ok(i) => {
                sum += w * weights[start + i];
                lo = start + i + 1;
            }
            Err(i) => lo = start + i,
        }
        if lo >= keys.len() {
            break;
        }
    }
    sum
}

/// The sum of a candidate's unit phrasing vectors: its direction is the centroid's.
#[derive(Debug, Clone)]
pub struct Centroid {
    /// The sum's weights, by key: found through `keys`.
    weights: Vec<f32>,
    keys: Keys,
    /// Squared length of the sum.
    pub norm2: f32,
}

/// Where each key of a centroid sits among its weights. Two layouts, chosen per centroid by
/// size, as compressed bitmaps choose their containers: a centroid holding a good share of
/// the keys there are (the real FAQ's: a few thousand n-grams of some 20 000) answers from a
/// bitmap in one step, without the search; a sparse one (one entry among 10 000) stays a sorted
/// list, whose size follows its own keys, not everyone's.
#[derive(Debug, Clone)]
enum Keys {
    /// The keys sorted (apart from the weights: see [`dot_where`]), and one bit per `key mod`
    /// its length, set for every key (8 bits a key): most of a question's n-grams are in no
    /// one candidate's phrasings, and a clear bit skips the search for them. No false
    /// negatives, so the dot product is the same to the last bit.
    Sorted { keys: Vec<u32>, filter: Vec<u64> },
    /// Bit `k` set for key `k`, and before each word of bits the number of keys below it: a
    /// key's weight is at that count plus the set bits under it in its word.
    Bitmap { bits: Vec<u64>, before: Vec<u32> },
}

/// Bits of a centroid's key filter per key it holds.
const FILTER_BITS_PER_KEY: usize = 8;

impl Centroid {
    /// `universe`: how many keys there are (ids are below it), which sizes a bitmap.
    pub fn new(vectors: &[&Sparse], universe: usize) -> Centroid {
        // Concatenated, sorted, equal keys summed: cheaper than a map for a few hundred keys.
        let mut all: Sparse = vectors.iter().flat_map(|v| v.iter().copied()).collect();
        all.sort_unstable_by_key(|&(k, _)| k);
        let mut sum: Sparse = Vec::with_capacity(all.len());
        for (k, w) in all {
            match sum.last_mut() {
                Some((last, acc)) if *last == k => *acc += w,
                _ => sum.push((k, w)),
            }
        }
        let norm2 = sum.iter().map(|(_, w)| w * w).sum();
        let universe = universe.max(sum.last().map_or(0, |&(k, _)| k as usize + 1));
        // Bytes of each layout: a bitmap word and its count (12 per 64 keys there are), against
        // a key and a filter byte per key held.
        let words = universe.div_ceil(64);
        let keys = if words * 12 <= sum.len() * (4 + FILTER_BITS_PER_KEY / 8) {
            let mut bits = vec![0u64; words];
            for &(k, _) in &sum {
                bits[k as usize / 64] |= 1 << (k % 64);
            }
            let mut before = Vec::with_capacity(words);
            let mut n = 0u32;
            for b in &bits {
                before.push(n);
                n += b.count_ones();
            }
            Keys::Bitmap { bits, before }
        } else {
            let words = (sum.len() * FILTER_BITS_PER_KEY)
                .next_power_of_two()
                .max(64)
                / 64;
            let mut filter = vec![0u64; words];
            for &(k, _) in &sum {
                let bit = k as usize & (words * 64 - 1);
                filter[bit / 64] |= 1 << (bit % 64);
            }
            Keys::Sorted {
                keys: sum.iter().map(|&(k, _)| k).collect(),
                filter,
            }
        };
        Centroid {
            weights: sum.into_iter().map(|(_, w)| w).collect(),
            keys,
            norm2,
        }
    }

    /// The dot product of `q` with the sum (in `q`'s order: the same sum whichever layout).
    fn dot(&self, q: &[(u32, f32)]) -> f32 {
        match &self.keys {
            Keys::Bitmap { bits, before } => {
                let mut sum = 0.0;
                for &(k, w) in q {
                    let Some(&word) = bits.get(k as usize / 64) else {
                        break;
                    };
                    let bit = 1u64 << (k % 64);
                    if word & bit != 0 {
                        let at = before[k as usize / 64] + (word & (bit - 1)).count_ones();
                        sum += w * self.weights[at as usize];
                    }
                }
                sum
            }
            // The filter has at least one word (see `new`).
            Keys::Sorted { keys, filter } => {
                let may_hold = |k: u32| {
                    let bit = k as usize & (filter.len() * 64 - 1);
                    filter[bit / 64] & (1 << (bit % 64)) != 0
                };
                dot_where(q, keys, &self.weights, may_hold)
            }
        }
    }

    /// Cosine of unit vector `q` with the centroid, without `own` (one of the vectors summed)
    /// when given: leave-one-out, for training.
    pub fn cosine(&self, q: &[(u32, f32)], own: Option<&Sparse>) -> f32 {
        let mut qs = self.dot(q);
        let mut norm2 = self.norm2;
        if let Some(v) = own {
            qs -= dot(q, v);
            norm2 += -2.0 * self.dot(v) + v.iter().map(|(_, w)| w * w).sum::<f32>();
        }
        if norm2 <= 1e-6 {
            return 0.0;
        }
        (qs / norm2.sqrt()).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    //! N-grams of words, bounded for long ones; cosines, with and without one vector.
    use super::*;

    #[test]
    fn grams_include_word_boundaries() {
        let mut g = Vec::new();
        char_grams("foie", &mut g);
        // " foie " has 6 characters: 4 trigrams, 3 four-grams, 2 five-grams.
        assert_eq!(g.len(), 9);
        let mut typo = Vec::new();
        char_grams("foi", &mut typo);
        assert!(typo.iter().filter(|t| g.contains(t)).count() >= 3);
    }

    #[test]
    fn a_long_word_costs_no_more_than_its_first_letters() {
        let mut g = Vec::new();
        char_grams(&"a".repeat(2000), &mut g);
        let mut capped = Vec::new();
        char_grams(&"a".repeat(MAX_WORD_CHARS), &mut capped);
        assert_eq!(g, capped);
        assert!(g.len() < 3 * (MAX_WORD_CHARS + 2));
    }

    #[test]
    fn neither_layout_changes_a_dot_product() {
        // Deterministic pseudo-random sparse vectors of many sizes, keys dense ids as in use:
        // the small ones sorted with their filter, the large ones bitmaps.
        let mut x: u64 = 7;
        let mut next = move |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        for size in [1usize, 3, 50, 700, 3000] {
            let mut keys: Vec<u32> = (0..size).map(|_| next(20_000) as u32).collect();
            keys.sort_unstable();
            keys.dedup();
            let long: Sparse = keys
                .iter()
                .map(|&k| (k, 0.5 + next(100) as f32 / 100.0))
                .collect();
            let c = Centroid::new(&[&long], 20_000);
            let bitmap = matches!(c.keys, Keys::Bitmap { .. });
            assert_eq!(bitmap, size >= 3000, "size {size}");
            for _ in 0..20 {
                let mut q: Vec<u32> = (0..60).map(|_| next(20_000) as u32).collect();
                // Some keys surely shared.
                q.extend(keys.iter().step_by(7).take(10));
                q.sort_unstable();
                q.dedup();
                let q: Sparse = q
                    .into_iter()
                    .map(|k| (k, 0.1 + next(10) as f32 / 10.0))
                    .collect();
                assert_eq!(c.dot(&q).to_bits(), dot(&q, &long).to_bits(), "size {size}");
            }
        }
    }

    #[test]
    fn leave_one_out_cosine_equals_the_centroid_of_the_others() {
        let a: Sparse = vec![(1, 0.6), (2, 0.8)];
        let b: Sparse = vec![(2, 1.0)];
        let c: Sparse = vec![(1, 1.0)];
        let all = Centroid::new(&[&a, &b, &c], 3);
        let others = Centroid::new(&[&b, &c], 3);
        let q: Sparse = vec![(1, 0.6), (2, 0.8)];
        let loo = all.cosine(&q, Some(&a));
        assert!((loo - others.cosine(&q, None)).abs() < 1e-5, "{loo}");
        assert!(all.cosine(&q, None) > loo);
    }

    #[test]
    fn the_galloping_dot_product_matches_the_plain_one() {
        let naive = |a: &[(u32, f32)], b: &[(u32, f32)]| -> f32 {
            a.iter()
                .filter_map(|(k, w)| b.iter().find(|(kb, _)| kb == k).map(|(_, wb)| w * wb))
                .sum()
        };
        // Keys spread and clustered, at both ends, missing and present.
        let long: Sparse = (0..500u32)
            .map(|k| (k * 8 + k % 7, 1.0 + k as f32 / 100.0))
            .collect();
        let shorts: [Sparse; 5] = [
            vec![],
            vec![(0, 1.0)],
            vec![(1, 1.0), (3, 2.0), (4, 0.5), (1500, 1.0), (5000, 3.0)],
            (0..5000u32).step_by(37).map(|k| (k, 0.25)).collect(),
            long.iter().map(|&(k, _)| (k, 2.0)).collect(),
        ];
        for short in &shorts {
            let (fast, plain) = (dot(short, &long), naive(short, &long));
            assert!(
                (fast - plain).abs() <= 1e-3 * plain.abs().max(1.0),
                "{fast} {plain}"
            );
            assert!((dot(&long, short) - plain).abs() <= 1e-3 * plain.abs().max(1.0));
        }
    }
}
