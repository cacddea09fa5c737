//! Times loading and indexing a FAQ folder: `cargo run --release --example loadtime -- DIR`.
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "faq".into());
    let t = Instant::now();
    let (k, errors) =
        faqbot::knowledge::load(std::path::Path::new(&dir), std::path::Path::new("intents"));
    println!(
        "load: {:?} ({} entries, {} problems)",
        t.elapsed(),
        k.entries.len(),
        errors.len()
    );
    let t = Instant::now();
    let m = faqbot::Matcher::new(std::sync::Arc::new(k));
    println!("index: {:?}", t.elapsed());
    let t = Instant::now();
    let r = m.reply("combien coûte le traitement ?", None);
    println!("one question: {:?} {:?}", t.elapsed(), r.kind);
}
