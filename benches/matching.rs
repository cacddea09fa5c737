//! Matching speed on the real FAQ and on a generated 10 000-entry FAQ, and load+index time.
//! Run with `cargo bench`; besides criterion's means it prints per-question median and p99.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use faqbot::Matcher;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(faq: &Path, intents: &Path) -> Matcher {
    let (knowledge, _) = faqbot::knowledge::load(faq, intents);
    Matcher::new(Arc::new(knowledge))
}

/// The visitor questions of the eval files: realistic lengths, styles and languages.
fn questions() -> Vec<String> {
    let mut out = Vec::new();
    for file in ["dev.jsonl", "heldout.jsonl"] {
        let Ok(text) = std::fs::read_to_string(root().join("tests/data").join(file)) else {
            continue;
        };
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(q) = v["q"].as_str() {
                    out.push(q.to_owned());
                }
            }
        }
    }
    out
}

/// A deterministic pseudo-random generator (xorshift), so every run builds the same FAQ.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Zipf-like pick: low indexes far more often, as in real text.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

/// Writes a FAQ of `n` French entries built from the real FAQ's words plus invented ones, so
/// the vocabulary grows with the FAQ as it would (about 20 000 distinct words).
fn generate_faq(dir: &Path, n: usize) {
    let real = std::fs::read_to_string(root().join("faq/source/article.txt")).unwrap_or_default();
    let mut words: Vec<String> = real
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
    std::fs::create_dir_all(&fr).expect("create generated faq dir");
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
        std::fs::write(fr.join(format!("e{i}.md")), text).expect("write generated entry");
    }
    std::fs::create_dir_all(dir.join("faq/en")).expect("create en dir");
}

fn percentiles(matcher: &Matcher, questions: &[String], label: &str) {
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..20 {
        for q in questions {
            let start = Instant::now();
            black_box(matcher.reply(black_box(q), None));
            times.push(start.elapsed());
        }
    }
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{label}: {} questions × 20: median {:?}, p90 {:?}, p99 {:?}, max {:?}",
        questions.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn bench(c: &mut Criterion) {
    let questions = questions();
    let real = load(&root().join("faq"), &root().join("intents"));
    percentiles(&real, &questions, "real FAQ");
    c.bench_function(
        "match one question, real FAQ (mean over the eval questions)",
        |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % questions.len();
                black_box(real.reply(&questions[i], None))
            })
        },
    );

    let dir = tempfile::tempdir().expect("temp dir");
    generate_faq(dir.path(), 10_000);
    let faq = dir.path().join("faq");
    let intents = root().join("intents");
    let start = Instant::now();
    let big = load(&faq, &intents);
    println!(
        "load+index of 10 000 generated entries (one cold run): {:?}",
        start.elapsed()
    );
    percentiles(&big, &questions, "10 000 entries");
    let mut group = c.benchmark_group("10k");
    group.sample_size(10);
    group.bench_function("load+index 10 000 entries", |b| {
        b.iter(|| black_box(load(&faq, &intents)))
    });
    group.finish();
    c.bench_function("match one question, 10 000 entries", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % questions.len();
            black_box(big.reply(&questions[i], None))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
