//! The store's writer alone, under the turns `scripts/load` makes: visitors asking the questions
//! of `tests/data/dev.jsonl` (replies and turns made as the service makes them), at most
//! `--in-flight` turns waiting at once (the service's batches hold ~33). Prints the CPU time of
//! the writer and checkpointer threads per turn and the bytes they hand to the kernel per turn
//! (`wchar`: log frames, then checkpoint copies), and the CPU time of the rest (the visitors'
//! tasks: each turn's conversation read and the turn itself), far steadier on a shared machine than a whole
//! load run. `cargo run --release --example writebench -- --help`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use faqbot::dialogue::{self, Context, Rules, VisitorEvent};
use faqbot::store::{Db, SqliteStore};
use faqbot::{Matcher, Reply};
use serde_json::Value;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100)]
    conversations: usize,
    /// Questions per conversation.
    #[arg(long, default_value_t = 200)]
    questions: usize,
    /// Turns handed to the writer at once at most.
    #[arg(long, default_value_t = 33)]
    in_flight: usize,
    #[arg(long, default_value = "tests/data/dev.jsonl")]
    data: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (knowledge, _) = faqbot::knowledge::load("faq".as_ref(), "intents".as_ref());
    let matcher = Matcher::new(Arc::new(knowledge));
    let questions: Vec<String> = std::fs::read_to_string(&args.data)
        .with_context(|| format!("cannot read {}", args.data.display()))?
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["q"].as_str().map(str::to_owned))
        .collect();
    // Matched once: the writer, not the matcher, is measured.
    let replies: Arc<Vec<(String, Reply, Vec<String>)>> = Arc::new(
        questions
            .iter()
            .map(|q| {
                let (reply, terms) = matcher.reply_with_terms(q);
                (q.clone(), reply, terms)
            })
            .collect(),
    );

    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path())?;
    let db = Db::sqlite(
        store,
        Arc::new(|_: &str, _: &[_], _: bool| {}),
        Box::new(|_: usize, _: std::time::Duration| {}),
    )?;
    let mut ids = Vec::new();
    for c in 0..args.conversations {
        let id = format!("{:024x}", 0x5eed_u128 * 7919 + c as u128 * 104_729);
        db.create_conversation(id.clone(), format!("token-{c}"), "fr", None)
            .await?;
        ids.push(id);
    }

    let before = threads();
    let started = Instant::now();
    let slots = Arc::new(tokio::sync::Semaphore::new(args.in_flight));
    let mut tasks = Vec::new();
    for (c, id) in ids.into_iter().enumerate() {
        let (db, replies, slots) = (db.clone(), replies.clone(), slots.clone());
        let questions = args.questions;
        tasks.push(tokio::spawn(async move {
            let rules = Rules {
                offer_on: Vec::new(),
                fallbacks_before_offer: 2,
            };
            for q in 0..questions {
                let (text, reply, terms) = &replies[(c + q) % replies.len()];
                let _slot = slots.acquire().await.expect("open");
                let conv = db.conversation(&id).await?.context("conversation")?;
                let ctx = Context {
                    rules: &rules,
                    low_confidence: 0.5,
                    advisors_available: false,
                    queue: &[],
                };
                let event = VisitorEvent::Asked {
                    text: text.clone(),
                    id: Some(format!("v{c}-q{q}")),
                    reply: reply.clone(),
                    terms: terms.clone(),
                };
                let effects = dialogue::visitor_turn(&conv, event, &ctx);
                db.apply(effects.turn.map_frames(|n| faqbot::protocol::payload(&n)))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let after = threads();
    let turns = (args.conversations * args.questions) as f64;
    let per_turn = |f: fn(&Sample) -> f64| (f(&after) - f(&before)) / turns;
    println!(
        "RESULT turns={turns} secs={secs:.2} writer_cpu_us={:.1} checkpointer_cpu_us={:.1} rest_cpu_us={:.1} wchar_kb={:.2} db_kb={:.2}",
        per_turn(|s| s.writer_us),
        per_turn(|s| s.checkpointer_us),
        per_turn(|s| s.rest_us),
        per_turn(|s| s.wchar) / 1024.0,
        std::fs::metadata(dir.path().join("faqbot.db"))?.len() as f64 / turns / 1024.0,
    );
    db.close().await?;
    Ok(())
}

struct Sample {
    writer_us: f64,
    checkpointer_us: f64,
    /// The other threads: the visitors' tasks (the per-turn conversation read, the turn).
    rest_us: f64,
    wchar: f64,
}

/// CPU time of the store's threads (utime + stime, clock ticks of 10 ms) and the process's
/// bytes written.
fn threads() -> Sample {
    let mut sample = Sample {
        writer_us: 0.0,
        checkpointer_us: 0.0,
        rest_us: 0.0,
        wchar: 0.0,
    };
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // Fields after the parenthesised name: utime and stime are the 12th and 13th.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            let ticks: f64 = fields
                .get(11..13)
                .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
                .unwrap_or(0.0);
            match comm.trim() {
                "faqbot-writer" => sample.writer_us += ticks * 10_000.0,
                "faqbot-checkpoi" => sample.checkpointer_us += ticks * 10_000.0,
                _ => sample.rest_us += ticks * 10_000.0,
            }
        }
    }
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    sample.wchar = io
        .lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    sample
}
