//! The `faqbot` command: ask, explain and check the knowledge from the command line.
//! Parses arguments, loads files, prints; all logic lives in the library.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use faqbot::knowledge::{self, Knowledge};
use faqbot::protocol::{AskLine, ReplyPayload};
use faqbot::{Lang, Matcher, Reply};

#[derive(Parser)]
#[command(
    name = "faqbot",
    version,
    about = "A clinic's website chat assistant: FAQ answers, small talk, emergencies and handoff to advisors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct KnowledgeArgs {
    /// The FAQ folder (with fr/ and en/ inside).
    #[arg(long, default_value = "faq", env = "FAQBOT_FAQ")]
    faq: PathBuf,
    /// The intents folder (intents, synonyms.toml, spelling.toml).
    #[arg(long, default_value = "intents", env = "FAQBOT_INTENTS")]
    intents: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Answer questions (given as arguments, or one per line on stdin).
    Ask {
        /// One JSON object per line instead of readable text.
        #[arg(long)]
        json: bool,
        /// Force the language (fr or en) instead of detecting it.
        #[arg(long, value_parser = parse_lang)]
        lang: Option<Lang>,
        #[command(flatten)]
        knowledge: KnowledgeArgs,
        /// The question; without it, questions are read from stdin, one per line.
        question: Vec<String>,
    },
    /// Show how a question is understood: tokens, corrections, synonyms, candidates, decision.
    Explain {
        #[arg(long, value_parser = parse_lang)]
        lang: Option<Lang>,
        #[command(flatten)]
        knowledge: KnowledgeArgs,
        question: Vec<String>,
    },
    /// Validate faq/ and intents/; exits non-zero with file:line messages on any problem.
    Check {
        #[command(flatten)]
        knowledge: KnowledgeArgs,
    },
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_code(s).ok_or_else(|| format!("unknown language `{s}`: use fr or en"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ask {
            json,
            lang,
            knowledge,
            question,
        } => ask(&knowledge, json, lang, &question),
        Command::Explain {
            lang,
            knowledge,
            question,
        } => explain(&knowledge, lang, &question.join(" ")),
        Command::Check { knowledge } => check(&knowledge),
    }
}

/// Loads the knowledge for answering: problems are printed as warnings, and what loaded serves.
fn load_for_answers(args: &KnowledgeArgs) -> anyhow::Result<Matcher> {
    let (knowledge, errors) = knowledge::load(&args.faq, &args.intents);
    for e in &errors {
        eprintln!("warning: {e}");
    }
    if knowledge.entries.is_empty() {
        bail!(
            "no FAQ entry could be loaded from {}: run from the project folder or pass --faq DIR (and `faqbot check` to see what is wrong)",
            args.faq.display()
        );
    }
    Ok(Matcher::new(Arc::new(knowledge)))
}

fn ask(
    args: &KnowledgeArgs,
    json: bool,
    lang: Option<Lang>,
    question: &[String],
) -> anyhow::Result<()> {
    let matcher = load_for_answers(args)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let answer = |q: &str, out: &mut dyn Write| -> anyhow::Result<()> {
        let reply = matcher.reply(q, lang);
        if json {
            let line = AskLine {
                question: q.to_owned(),
                reply: ReplyPayload::from(&reply),
            };
            serde_json::to_writer(&mut *out, &line)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", readable(q, &reply))?;
        }
        Ok(())
    };
    if !question.is_empty() {
        answer(&question.join(" "), &mut out)?;
    } else {
        let stdin = std::io::stdin();
        let mut line = Vec::new();
        let mut reader = stdin.lock();
        loop {
            line.clear();
            // Bytes, not `lines()`: one invalid UTF-8 line must not stop the batch.
            if reader
                .read_until(b'\n', &mut line)
                .context("reading questions from stdin")?
                == 0
            {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let q = text.trim_end_matches(['\n', '\r']);
            answer(q, &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One readable line per question: kind, confidence, then the text on the same line.
fn readable(question: &str, reply: &Reply) -> String {
    let mut s = format!("[{} {:.2}", reply.kind.as_str(), reply.confidence);
    if let Some(id) = reply.faq_id.as_deref().or(reply.intent.as_deref()) {
        s.push(' ');
        s.push_str(id);
    }
    s.push_str("] ");
    s.push_str(&reply.text.replace('\n', " "));
    if let Some(source) = &reply.source {
        s.push_str(&format!(" (source : {source})"));
    }
    if question.is_empty() {
        return s;
    }
    s
}

fn explain(args: &KnowledgeArgs, lang: Option<Lang>, question: &str) -> anyhow::Result<()> {
    let matcher = load_for_answers(args)?;
    let e = matcher.explain(question, lang);
    println!("question:  {question}");
    println!(
        "language:  {}{}",
        e.lang,
        if e.lang_forced {
            " (forced)"
        } else {
            " (detected)"
        }
    );
    println!("tokens:");
    for t in &e.analysis.tokens {
        let mut line = format!("  {:<16}", t.word);
        if let Some(c) = &t.corrected {
            line.push_str(&format!(" typo → {c}"));
        }
        line.push_str(&format!(" stem={}", t.stem));
        if let Some(c) = &t.concept {
            line.push_str(&format!(" synonym → #{c}"));
        }
        if t.stop {
            line.push_str(" (stop word)");
        }
        println!("{line}");
    }
    println!("terms:     {}", e.terms.join(" "));
    if !e.unknown.is_empty() {
        println!(
            "unknown:   {} (count against every entry)",
            e.unknown.join(" ")
        );
    }
    println!("top candidates:");
    for (id, kind, s) in &e.top {
        println!(
            "  {:<24} {:<6} confidence={:.3} coverage={:.2} similarity={:.2} recall={:.2} evidence={:.2}",
            id, kind, s.confidence, s.coverage, s.similarity, s.recall, s.evidence
        );
    }
    println!("decision:  {}", e.reason);
    println!("reply:     {}", readable(question, &e.reply));
    Ok(())
}

fn check(args: &KnowledgeArgs) -> anyhow::Result<()> {
    let (knowledge, mut problems) = knowledge::load(&args.faq, &args.intents);
    if problems.is_empty() {
        // Matching checks only make sense on files that all load.
        let matcher = Matcher::new(Arc::new(knowledge.clone()));
        problems.extend(faqbot::matcher::self_check(&matcher));
    }
    report_check(&knowledge, &problems, &args.faq, &args.intents)
}

fn report_check(
    knowledge: &Knowledge,
    problems: &[faqbot::LoadError],
    faq: &Path,
    intents: &Path,
) -> anyhow::Result<()> {
    for p in problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!(
            "ok: {} FAQ entries, {} intents, {} synonym concepts in {} and {}",
            knowledge.entries.len(),
            knowledge.intents.len(),
            knowledge.concepts.len(),
            faq.display(),
            intents.display()
        );
        Ok(())
    } else {
        bail!(
            "{} problem(s) found: fix them and run `faqbot check` again",
            problems.len()
        )
    }
}
