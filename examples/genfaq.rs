//! Writes the generated 10 000-entry FAQ of `benches/matching.rs` to a folder, for `loadtime`,
//! `faqbot ask --faq DIR/faq` and callgrind: `cargo run --release --example genfaq -- DIR [N]`.

#[path = "../benches/support/genfaq.rs"]
mod genfaq;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "target/faq10k".into());
    let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let article = std::fs::read_to_string("faq/source/article.txt")?;
    genfaq::generate_faq(std::path::Path::new(&dir), &article, n)?;
    println!("{n} entries written to {dir}/faq");
    Ok(())
}
