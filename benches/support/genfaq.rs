//! The generated 10 000-entry FAQ of the speed bars, shared by `benches/matching.rs` and
//! `examples/genfaq.rs` so that the bench, callgrind runs and `loadtime` measure the same files.

use std::path::Path;

/// A deterministic pseudo-random generator (xorshift), so every run builds the same FAQ.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Zipf-like pick: low indexes far more often, as in real text.
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

/// Writes a FAQ of `n` French entries under `dir/faq`, built from the words of `article` (the
/// real FAQ's source text) plus invented ones, so the vocabulary grows with the FAQ as it would
/// (a list of 20 000 words, of which 10 000 entries use about 9 300: the Zipf tail is thin).
///
/// Harsher than real text in two ways, kept on purpose: words are drawn by rank in a list
/// sorted alphabetically, so the head of the distribution is the article's first words
/// ("absence", "accumulent"…), which land in nearly every entry (real text's most frequent
/// words are stop words): posting lists of all 10 000 entries are common. And the invented
/// words share 14 syllables, so typos have many neighbours one or two edits away.
pub fn generate_faq(dir: &Path, article: &str, n: usize) -> std::io::Result<()> {
    let mut words: Vec<String> = article
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() > 3)
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    let syllables = [
        "ka", "lo", "mi", "ter", "pha", "sin", "dra", "vo", "lu", "mes", "cor", "ni", "ber", "tal",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    while words.len() < 20_000 {
        let len = 2 + rng.next() as usize % 3;
        let w: String = (0..len)
            .map(|_| syllables[rng.next() as usize % syllables.len()])
            .collect();
        words.push(w);
    }
    let fr = dir.join("faq/fr");
    std::fs::create_dir_all(&fr)?;
    for i in 0..n {
        let sentence = |rng: &mut Rng, len: usize| -> String {
            (0..len)
                .map(|_| words[rng.zipf(words.len())].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let phrasings: Vec<String> = (0..8)
            .map(|_| {
                let len = 5 + rng.next() as usize % 6;
                format!("\"{} ?\"", sentence(&mut rng, len))
            })
            .collect();
        let text = format!(
            "+++\nid = \"e{i}\"\nlang = \"fr\"\nquestion = \"{} ?\"\nsection = \"{}\"\nphrasings = [{}]\nkeywords = [\"{}\"]\n+++\n{}.\n",
            sentence(&mut rng, 7),
            sentence(&mut rng, 4),
            phrasings.join(", "),
            sentence(&mut rng, 1),
            sentence(&mut rng, 40)
        );
        std::fs::write(fr.join(format!("e{i}.md")), text)?;
    }
    std::fs::create_dir_all(dir.join("faq/en"))?;
    Ok(())
}
