//! A deletion index (SymSpell) over the knowledge's vocabulary: the words within a typo's edit
//! budget come from a few binary searches, not from a distance to every word of similar length.

use std::cmp::Reverse;

use super::typo::{budget_for_chars, typo_distance};

/// The vocabulary, and for each word the hashes of the strings left by deleting characters.
///
/// Why it finds every candidate: the characters that an edit script (insert, delete, substitute,
/// transpose) leaves alone form a common subsequence of the two words, and each edit removes at
/// most one of them on each side. So two words within `k` edits both reach one string with at
/// most `k` deletions. When their first letters are equal, that string can keep the first
/// letter; when they differ, the first-letter penalty of [`typo_distance`] leaves at most
/// `k - 1` edits. Hence the deletions of the full depth that drop the first letter are never
/// needed (a fifth fewer entries). Every candidate is then checked with [`typo_distance`]
/// itself, so hash collisions cost a distance and never change a correction.
pub struct TypoIndex {
    /// The words, concatenated, ordered by length in characters and then alphabetically. A
    /// word's id is its rank in that order, which is the order the former scan read them in:
    /// among equally close and equally frequent words, the lowest id wins, as the scan's first.
    text: String,
    /// Where each word ends in `text`.
    ends: Vec<u32>,
    /// How often each word occurs in the knowledge.
    counts: Vec<u32>,
    /// (hash of a deletion string, word id), sorted.
    deletes: Vec<(u32, u32)>,
}

impl TypoIndex {
    /// Indexes `(word, occurrences)` pairs. Words too short to be any typo's target are left out.
    pub fn new<'a>(words: impl IntoIterator<Item = (&'a str, u32)>) -> TypoIndex {
        let mut list: Vec<(usize, &str, u32)> = words
            .into_iter()
            .map(|(w, count)| (w.chars().count(), w, count))
            .filter(|&(len, _, _)| depth(len) > 0)
            .collect();
        list.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        list.dedup_by(|a, b| a.1 == b.1);

        let mut index = TypoIndex {
            text: String::with_capacity(list.iter().map(|(_, w, _)| w.len()).sum()),
            ends: Vec::with_capacity(list.len()),
            counts: Vec::with_capacity(list.len()),
            deletes: Vec::new(),
        };
        let mut chars: Vec<char> = Vec::new();
        for (id, &(len, word, count)) in list.iter().enumerate() {
            index.text.push_str(word);
            index.ends.push(index.text.len() as u32);
            index.counts.push(count);
            chars.clear();
            chars.extend(word.chars());
            for_each_deletion(&chars, depth(len), |hash| {
                index.deletes.push((hash, id as u32));
            });
        }
        index.deletes.sort_unstable();
        index.deletes.dedup();
        index
    }

    /// Number of words indexed.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no word is indexed.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Number of (deletion, word) entries: the index's size, for measurements.
    pub fn entries(&self) -> usize {
        self.deletes.len()
    }

    fn word(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 {
            0
        } else {
            self.ends[id - 1] as usize
        };
        &self.text[start..self.ends[id] as usize]
    }

    /// The word `typed` most likely stands for: within its typo budget ([`budget_for_chars`]),
    /// the fewest edits by [`typo_distance`], then the most frequent, then the shortest, then
    /// the first alphabetically. None when no word is that close (or the word is too short to
    /// carry a typo).
    pub fn best(&self, typed: &str) -> Option<&str> {
        let chars: Vec<char> = typed.chars().collect();
        let budget = budget_for_chars(chars.len());
        if budget == 0 {
            return None;
        }
        let mut ids: Vec<u32> = Vec::new();
        for_each_deletion(&chars, budget, |hash| {
            let start = self.deletes.partition_point(|&(h, _)| h < hash);
            ids.extend(
                self.deletes[start..]
                    .iter()
                    .take_while(|&&(h, _)| h == hash)
                    .map(|&(_, id)| id),
            );
        });
        ids.sort_unstable();
        ids.dedup();
        let mut best: Option<(usize, Reverse<u32>, u32)> = None;
        for id in ids {
            let distance = typo_distance(typed, self.word(id));
            if distance > budget {
                continue;
            }
            let key = (distance, Reverse(self.counts[id as usize]), id);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        best.map(|(_, _, id)| self.word(id))
    }
}

/// How many deletions to index for a word of `len` characters: the largest budget of a typed
/// word that could be within its budget of it (each edit changes the length by at most one).
/// Words under four letters get none: no typed word with a budget is close enough to them.
fn depth(len: usize) -> usize {
    (len.saturating_sub(2)..=len + 2)
        .filter(|&typed| typed.abs_diff(len) <= budget_for_chars(typed))
        .map(budget_for_chars)
        .max()
        .unwrap_or(0)
}

/// Calls `f` with the hash of the word and of every string left by deleting up to `depth`
/// characters, except, at the full depth, those that delete the first character (see
/// [`TypoIndex`] for why they are not needed). The same string may come more than once.
fn for_each_deletion(chars: &[char], depth: usize, mut f: impl FnMut(u32)) {
    let n = chars.len();
    f(hash_without(chars, n, n));
    if depth == 0 {
        return;
    }
    let first = if depth == 1 { 1 } else { 0 };
    for i in first..n {
        f(hash_without(chars, i, n));
    }
    if depth == 1 {
        return;
    }
    // Depth 2 is the most any budget allows.
    for i in 1..n {
        for j in i + 1..n {
            f(hash_without(chars, i, j));
        }
    }
}

/// FNV-1a over the characters, skipping positions `a` and `b` (pass the length to skip none),
/// folded to 32 bits: the index stays small, and collisions only add candidates to check.
fn hash_without(chars: &[char], a: usize, b: usize) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &c) in chars.iter().enumerate() {
        if i == a || i == b {
            continue;
        }
        h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

#[cfg(test)]
mod tests {
    //! The index gives exactly what the former scan of every word of a similar length gave, on
    //! real French and English words, invented syllable words (dense neighbourhoods, like the
    //! generated 10 000-entry FAQ), accented and non-Latin letters, short and long words.
    use super::*;
    use crate::text::typo_budget;

    /// The former algorithm: every word whose length is within the budget, in order of length
    /// then alphabet, keeping the strictly better (fewer edits, then more frequent).
    fn scan(words: &[(String, u32)], typed: &str) -> Option<String> {
        let mut by_len: Vec<Vec<&(String, u32)>> = Vec::new();
        for w in words {
            let len = w.0.chars().count();
            if by_len.len() <= len {
                by_len.resize(len + 1, Vec::new());
            }
            by_len[len].push(w);
        }
        for bucket in &mut by_len {
            bucket.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let budget = typo_budget(typed);
        let len = typed.chars().count();
        let mut best: Option<(usize, u32, &String)> = None;
        if budget == 0 {
            return None;
        }
        for l in len.saturating_sub(budget)..=len + budget {
            for (candidate, freq) in by_len.get(l).into_iter().flatten().copied() {
                let d = typo_distance(typed, candidate);
                if d > budget {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((bd, bf, _)) => d < bd || (d == bd && *freq > bf),
                };
                if better {
                    best = Some((d, *freq, candidate));
                }
            }
        }
        best.map(|(_, _, w)| w.clone())
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 33) as usize
        }
    }

    /// One random edit: delete, insert, substitute or transpose, anywhere (first letter too).
    fn edit(rng: &mut Rng, word: &str, alphabet: &[char]) -> String {
        let mut chars: Vec<char> = word.chars().collect();
        if chars.is_empty() {
            return word.to_owned();
        }
        let i = rng.next() % chars.len();
        let c = alphabet[rng.next() % alphabet.len()];
        match rng.next() % 4 {
            0 if chars.len() > 1 => {
                chars.remove(i);
            }
            1 => chars.insert(i, c),
            2 => chars[i] = c,
            _ if i + 1 < chars.len() => chars.swap(i, i + 1),
            _ => chars.push(c),
        }
        chars.into_iter().collect()
    }

    fn vocabulary() -> Vec<(String, u32)> {
        let mut words: Vec<String> = Vec::new();
        // Every 60th word of the frequency lists: a spread of lengths and spellings.
        for list in [include_str!("words/fr.txt"), include_str!("words/en.txt")] {
            words.extend(list.lines().step_by(60).map(str::to_owned));
        }
        // Syllable words as in the generated FAQ: many neighbours one or two edits apart.
        let syllables = [
            "ka", "lo", "mi", "ter", "pha", "sin", "dra", "vo", "lu", "mes",
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..300 {
            let n = 2 + rng.next() % 3;
            words.push(
                (0..n)
                    .map(|_| syllables[rng.next() % syllables.len()])
                    .collect(),
            );
        }
        // Letters a fold keeps (ø, ß, ł, Greek), and a long compound.
        for w in [
            "søren",
            "straße",
            "łodzki",
            "hépatite",
            "naïveté",
            "αλφαβητο",
            "hepatocellulaire",
            "anticonstitutionnellement",
        ] {
            words.push(w.to_owned());
        }
        words.sort();
        words.dedup();
        // Few distinct counts, so that ties between equally close words are common.
        words
            .into_iter()
            .enumerate()
            .map(|(i, w)| (w, (i % 4) as u32 + 1))
            .collect()
    }

    #[test]
    fn same_corrections_as_the_scan() {
        let words = vocabulary();
        let index = TypoIndex::new(words.iter().map(|(w, c)| (w.as_str(), *c)));
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyzéøß".chars().collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut typed: Vec<String> = Vec::new();
        for _ in 0..500 {
            let (word, _) = &words[rng.next() % words.len()];
            let once = edit(&mut rng, word, &alphabet);
            typed.push(edit(&mut rng, &once, &alphabet));
            typed.push(once);
        }
        typed.extend(
            [
                "clinque",
                "hepatiqe",
                "cirose",
                "abc",
                "abcd",
                "",
                "søre",
                "strase",
                "hepatocelulaire",
                "anticonstitutionelement",
                "αλφαβετο",
                "kalomite",
            ]
            .map(str::to_owned),
        );
        let mut corrected = 0;
        for t in &typed {
            let expected = scan(&words, t);
            assert_eq!(index.best(t), expected.as_deref(), "typed {t:?}");
            corrected += usize::from(expected.is_some());
        }
        // The comparison means something only if many typed words do get a correction.
        assert!(
            corrected > typed.len() / 3,
            "{corrected} of {}",
            typed.len()
        );
    }

    #[test]
    fn depth_follows_the_budget() {
        assert_eq!(depth(3), 0);
        assert_eq!(depth(4), 1);
        assert_eq!(depth(6), 1);
        assert_eq!(depth(7), 2);
        assert_eq!(depth(20), 2);
    }

    #[test]
    fn ties_go_to_the_more_frequent_then_the_shorter() {
        let index = TypoIndex::new([("cliniques", 1), ("clinique", 1), ("cliniqua", 5)]);
        // One edit from all three: the most frequent wins.
        assert_eq!(index.best("cliniqu"), Some("cliniqua"));
        let index = TypoIndex::new([("cliniques", 2), ("clinique", 2)]);
        assert_eq!(index.best("cliniqes"), Some("cliniques"));
        assert_eq!(index.best("cliniquex"), Some("clinique"));
        assert_eq!(index.best("foie"), None, "no budget under five letters");
    }
}
