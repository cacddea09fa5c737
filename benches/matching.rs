//! Matching speed on the real FAQ and on a generated 10 000-entry FAQ, and load+index time.
//! Run with `cargo bench`; besides criterion's means it prints per-question median and p99.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use faqbot::Matcher;

#[path = "support/genfaq.rs"]
mod genfaq;

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
    // A reload of the real FAQ: read, index, train the re-ranker (both languages).
    let mut reloads: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            black_box(load(&root().join("faq"), &root().join("intents")));
            start.elapsed()
        })
        .collect();
    reloads.sort();
    println!(
        "real FAQ load+index+training: median {:?}, max {:?} (20 runs)",
        reloads[10], reloads[19]
    );
    // One word of 2 000 letters, then three: bounded work (typo search and n-grams are capped).
    let long = "a".repeat(2000);
    let start = Instant::now();
    black_box(real.reply(&long, None));
    let three = format!("{long} {long} {long} combien ça coûte");
    black_box(real.reply(&three, None));
    println!(
        "a 2 000-letter word, then three of them and a question: {:?} for both",
        start.elapsed()
    );
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
    let article =
        std::fs::read_to_string(root().join("faq/source/article.txt")).unwrap_or_default();
    genfaq::generate_faq(dir.path(), &article, 10_000).expect("write the generated FAQ");
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
