//! The `faqbot` command: serve the chat, ask, explain and check the knowledge, add advisors,
//! list contact requests, report what the bot missed, purge old data and export or erase one
//! visitor's. Parses arguments, loads files, prints; all logic lives in the library.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use faqbot::knowledge::{self, Knowledge};
use faqbot::live::Live;
use faqbot::protocol::{AskLine, ReplyPayload};
use faqbot::store::{Admin, Location};
use faqbot::{Lang, Matcher, Reply};

/// `println!` and `print!` that return a failed write instead of panicking: a closed pipe then
/// ends the command quietly (see `main`).
macro_rules! outln {
    ($($arg:tt)*) => { writeln!(std::io::stdout(), $($arg)*)? };
}
macro_rules! out {
    ($($arg:tt)*) => { write!(std::io::stdout(), $($arg)*)? };
}

/// mimalloc: every turn allocates and frees small buffers (terms, vectors, frames), and
/// glibc's malloc took about a tenth of the service's CPU under load (0.83-0.90x CPU per reply
/// with it, `scripts/load`). Its arena is committed lazily: see `.cargo/config.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands the pages freed after a knowledge load back to the system: mimalloc keeps those of
/// the threads that trained the models, and the service sat at 105 MB of RSS after starting
/// instead of 40.
fn release_memory() {
    extern "C" {
        fn mi_collect(force: bool);
    }
    // SAFETY: `mi_collect` is part of mimalloc's public C API, linked in with the global
    // allocator above; it takes no pointer and may be called from any thread at any time.
    unsafe { mi_collect(true) }
}

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

/// Where a command finds the service's data: the SQLite folder, or its PostgreSQL database.
#[derive(Args, Clone)]
struct DataArgs {
    /// The data folder of the service (SQLite), when no --database is given.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// The service's PostgreSQL database instead: postgres://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long, env = "FAQBOT_STORAGE__DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
}

impl DataArgs {
    fn location(&self) -> Location {
        Location::new(&self.data, self.database.as_deref())
    }
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
    /// Validate faq/ and intents/ and run the quality gates; prints file:line messages and exits
    /// non-zero on any error or warning.
    Check {
        #[command(flatten)]
        knowledge: KnowledgeArgs,
        /// Longest answer, in characters, before it is reported as too long for a chat bubble
        /// (the server reads `[knowledge] max_answer_chars`).
        #[arg(long, default_value_t = faqbot::matcher::gates::DEFAULT_MAX_ANSWER_CHARS, value_parser = parse_positive)]
        max_answer_chars: usize,
    },
    /// Show what the re-ranker learned from the phrasings: per language, the cross-validated
    /// figures, the thresholds they set, and the weights.
    Calibrate {
        #[command(flatten)]
        knowledge: KnowledgeArgs,
    },
    /// Run the chat service: visitor and advisor WebSockets, demo page and console.
    Serve(ServeArgs),
    /// Manage advisor accounts.
    Advisor {
        #[command(subcommand)]
        command: AdvisorCommand,
    },
    /// Print the contact requests as CSV.
    Leads {
        #[command(flatten)]
        data: DataArgs,
    },
    /// What the bot missed: decision rates, missed questions grouped by wording, top entries.
    /// Reads the database without writing: safe while the service runs.
    Report {
        #[command(flatten)]
        data: DataArgs,
        /// One CSV table instead of text (columns in the README).
        #[arg(long)]
        csv: bool,
        /// Only since a date (2025-01-31), an RFC 3339 time, or some days or hours back (7d, 12h).
        #[arg(long)]
        since: Option<String>,
        /// The most missed groups and most given entries shown.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Remove what is past the retention period: conversations last active before it, with
    /// their messages, frames, missed questions, handoffs and contact requests (those an advisor
    /// holds or that wait in the queue are kept), and contact requests left before it. Prints
    /// what it removed from each table. Safe while the service runs (which also purges hourly).
    Purge {
        #[command(flatten)]
        data: DataArgs,
        /// Days to keep, as the service's `[privacy] retention_days`; 0 keeps everything.
        #[arg(long, env = "FAQBOT_PRIVACY__RETENTION_DAYS", default_value_t = faqbot::config::DEFAULT_RETENTION_DAYS, value_parser = parse_days)]
        days: u32,
    },
    /// One visitor's data: print it (right of access) or erase it (right to erasure).
    Visitor {
        #[command(subcommand)]
        command: VisitorCommand,
    },
}

#[derive(Subcommand)]
enum VisitorCommand {
    /// Print everything stored about a conversation as JSON: its fields, every message, the
    /// handoffs, contact requests and missed questions. Reads without writing.
    Export {
        /// The conversation's id, as the leads show it, or its first 6 characters or more, as the
        /// console shows them ("Visiteur 3F2A1B").
        id: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a conversation and everything linked to it (messages, frames, missed questions,
    /// handoffs, contact requests); prints what it removed. An advisor holding it can erase it
    /// from the console instead, which also ends the visitor's open chat.
    Erase {
        /// The conversation's id, or its first 6 characters or more (see `export`).
        id: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    addr: Option<std::net::SocketAddr>,
    /// Data folder (SQLite database) [default: data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// A PostgreSQL database instead of --data (several nodes may share it):
    /// postgres://USER:PASSWORD@HOST:PORT/DB [also: storage.database_url].
    #[arg(long)]
    database: Option<String>,
    /// A TOML settings file; FAQBOT_SECTION__KEY variables override it.
    #[arg(long, env = "FAQBOT_CONFIG")]
    config: Option<PathBuf>,
    /// The FAQ folder [default: faq].
    #[arg(long)]
    faq: Option<PathBuf>,
    /// The intents folder [default: intents].
    #[arg(long)]
    intents: Option<PathBuf>,
    /// The web folder (index.html, widget.js, advisor.html) [default: web].
    #[arg(long)]
    web: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdvisorCommand {
    /// Create an advisor and print their token once (alone on the last line).
    Add {
        /// The name visitors and colleagues see.
        name: String,
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, default_value = "advisor", value_parser = ["advisor", "support"])]
        role: String,
    },
    /// List the advisors: name, role, when added, console logins still open (never a token).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove an advisor: their token and logins stop working at once, and the conversations
    /// they hold go back to the bot (the visitor may ask for an advisor again).
    Remove {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Give an advisor a new token, printed once (alone on the last line): the old one stops
    /// working and their logins end.
    Rotate {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number above 0")),
    }
}

fn parse_days(s: &str) -> Result<u32, String> {
    let max = faqbot::config::MAX_RETENTION_DAYS;
    match s.trim().parse::<u32>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!(
            "`{s}` is not a number of days (from --days or FAQBOT_PRIVACY__RETENTION_DAYS): \
             use 1 to {max}, or 0 to keep everything"
        )),
    }
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_code(s).ok_or_else(|| format!("unknown language `{s}`: use fr or en"))
}

fn main() -> anyhow::Result<()> {
    match run(Cli::parse()) {
        // The reader stopped early (`faqbot ask --json < questions | head`): what it read was
        // written, nothing failed.
        Err(e) if broken_pipe(&e) => Ok(()),
        result => result,
    }
}

/// Whether `e` is a write to a pipe whose reader has gone.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| cause.downcast_ref::<serde_json::Error>()?.io_error_kind());
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
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
        Command::Calibrate { knowledge } => {
            let matcher = load_for_answers(&knowledge)?;
            for lang in [Lang::Fr, Lang::En] {
                outln!("{}", calibration_line(&matcher, lang));
                if let Some(w) = matcher.weights(lang) {
                    let w: Vec<String> = w.iter().map(|(n, v)| format!("{n} {v:+.2}")).collect();
                    outln!("{lang}: weights (standardised features): {}", w.join(", "));
                }
            }
            for line in urgency_lines(&matcher) {
                outln!("{line}");
            }
            Ok(())
        }
        Command::Check {
            knowledge,
            max_answer_chars,
        } => {
            if !check(&knowledge, max_answer_chars)? {
                // The findings and the count are printed already: no anyhow "Error:" line.
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Serve(args) => serve(args),
        Command::Advisor { command } => match command {
            AdvisorCommand::Add { name, data, role } => advisor_add(&name, &data.location(), &role),
            AdvisorCommand::List { data } => advisor_list(&data.location()),
            AdvisorCommand::Remove { name, data } => advisor_remove(&name, &data.location()),
            AdvisorCommand::Rotate { name, data } => advisor_rotate(&name, &data.location()),
        },
        Command::Leads { data } => leads(&data.location()),
        Command::Report {
            data,
            csv,
            since,
            limit,
        } => report(&data.location(), csv, since.as_deref(), limit),
        Command::Purge { data, days } => purge(&data.location(), days),
        Command::Visitor {
            command: VisitorCommand::Export { id, data },
        } => visitor_export(&data.location(), &id),
        Command::Visitor {
            command: VisitorCommand::Erase { id, data },
        } => visitor_erase(&data.location(), &id),
    }
}

/// Loads the knowledge for answering: problems are printed, and what loaded serves.
fn load_for_answers(args: &KnowledgeArgs) -> anyhow::Result<Matcher> {
    let (knowledge, errors) = knowledge::load(&args.faq, &args.intents);
    for e in &errors {
        // An error left something out, which is only a warning for answering questions.
        if e.is_error() {
            eprintln!("warning: {e}");
        } else {
            eprintln!("{e}");
        }
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
    outln!("question:  {question}");
    outln!(
        "language:  {}{}",
        e.lang,
        if e.lang_forced {
            " (forced)"
        } else {
            " (detected)"
        }
    );
    outln!("tokens:");
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
        outln!("{line}");
    }
    outln!("terms:     {}", e.terms.join(" "));
    // Every concept the rules see, those that are no term too ("#experiencing", "#past").
    outln!(
        "concepts:  {}",
        e.analysis
            .concepts
            .iter()
            .map(|c| format!("#{c}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !e.unknown.is_empty() {
        outln!(
            "unknown:   {} (count against every entry)",
            e.unknown.join(" ")
        );
    }
    outln!("top candidates:");
    for (id, kind, s) in &e.top {
        outln!(
            "  {:<24} {:<6} {}={:.3}  lexical={:.3} coverage={:.2} similarity={:.2} recall={:.2} evidence={:.2}  words={:.2} chars={:.2} core_missing={:.2} bayes={:.2}",
            id,
            kind,
            if e.learned { "learned" } else { "confidence" },
            s.confidence,
            s.lexical,
            s.coverage,
            s.similarity,
            s.recall,
            s.evidence,
            s.words,
            s.chars,
            s.core_missing,
            s.bayes
        );
    }
    let t = e.thresholds;
    outln!(
        "thresholds: answer ≥ {:.2} with the next {:.2} below, clarify ≥ {:.2} ({})",
        t.answer,
        t.margin,
        t.clarify,
        if e.learned {
            "cross-validated on the phrasings"
        } else {
            "lexical: too few phrasings to learn from"
        }
    );
    outln!("decision:  {}", e.reason);
    outln!("reply:     {}", readable(question, &e.reply));
    Ok(())
}

/// Prints every finding and a last line with the counts; false if there is any.
fn check(args: &KnowledgeArgs, max_answer_chars: usize) -> anyhow::Result<bool> {
    let (knowledge, mut problems) = knowledge::load(&args.faq, &args.intents);
    if !problems.iter().any(|p| p.is_error()) {
        // Matching gates only make sense on files that all load: a left-out entry would make
        // its phrasings' neighbours look fine or wrong for the wrong reason.
        let matcher = Matcher::new(Arc::new(knowledge.clone()));
        let opts = faqbot::matcher::GateOptions { max_answer_chars };
        problems.extend(faqbot::matcher::gates(&matcher, &opts));
    }
    report_check(&knowledge, &problems, &args.faq, &args.intents)
}

/// What cross-validation over one language's phrasings measured, in one line.
fn calibration_line(matcher: &Matcher, lang: Lang) -> String {
    let (t, cal) = matcher.calibration(lang);
    let Some(c) = cal else {
        return format!(
            "{lang}: too few phrasings to train the re-ranker; lexical thresholds (answer ≥ {:.2}, clarify ≥ {:.2})",
            t.answer, t.clarify
        );
    };
    let pct = |n: usize| 100.0 * n as f64 / c.queries.max(1) as f64;
    let answerable = c.queries - c.without_answer;
    let of_answerable = |n: usize| 100.0 * n as f64 / answerable.max(1) as f64;
    format!(
        "{lang}: {} questions cross-validated (phrasings with themselves left out; {} of the questions padded with unknown words, {} without their entry's core terms): the right entry first {:.1} %, in the top 3 {:.1} %; of all, answered right {:.1} %, answered wrong {:.1} %, clarify {:.1} %, fallback {:.1} %; thresholds: answer ≥ {:.2} and {:.2} ahead, clarify ≥ {:.2}",
        c.queries,
        c.padded,
        c.without_answer,
        of_answerable(c.ranked_first),
        of_answerable(c.ranked_top3),
        pct(c.answered_right),
        pct(c.answered_wrong),
        pct(c.clarified),
        pct(c.fallback),
        t.answer,
        t.margin,
        t.clarify
    )
}

/// What cross-validation measured for the urgency check: a line for the threshold, one for the
/// alarm, then each non-urgent example a rule fires on that it did not withhold, and each urgent
/// example that neither a rule nor the alarm sends to 112.
fn urgency_lines(matcher: &Matcher) -> Vec<String> {
    let Some((threshold, alarm, s)) = matcher.urgency_report() else {
        return vec![
            "urgency check: off (no examples on both sides in intents/urgency/): every \
                     emergency rule's 112 is sent, and no other"
                .to_owned(),
        ];
    };
    let limit = s.limit.as_deref().map_or(String::new(), |text| {
        format!("; the threshold is this urgent example's probability: \"{text}\"")
    });
    let alarm_limit = s
        .alarm_limit
        .as_deref()
        .map_or("; the floor sets it".to_owned(), |text| {
            format!("; this non-urgent example's probability sets it: \"{text}\"")
        });
    let mut lines = vec![
        format!(
            "urgency check: {} urgent and {} non-urgent examples; an emergency rule fires on {} \
             and {} of them; cross-validated by family, a 112 is withheld below \
             {threshold:.4}: {} of the {} non-urgent, {} of the {} urgent{limit}",
            s.urgent,
            s.not_urgent,
            s.fired_urgent,
            s.fired_not_urgent,
            s.withheld_not_urgent,
            s.fired_not_urgent,
            s.withheld_urgent,
            s.fired_urgent
        ),
        format!(
            "urgency alarm: no rule fires on {} urgent and {} non-urgent examples that name a \
             warning sign; cross-validated, a 112 is sent above {alarm:.4}: {} of the urgent, {} \
             of the non-urgent{alarm_limit}",
            s.sign_only_urgent, s.sign_only_not_urgent, s.alarmed_urgent, s.alarmed_not_urgent
        ),
    ];
    lines.extend(
        s.still_alarmed
            .iter()
            .map(|text| format!("  112 not withheld in cross-validation (not urgent): {text}")),
    );
    lines.extend(
        s.missed
            .iter()
            .map(|text| format!("  no 112 in cross-validation (urgent): {text}")),
    );
    lines
}

fn report_check(
    knowledge: &Knowledge,
    problems: &[faqbot::LoadError],
    faq: &Path,
    intents: &Path,
) -> anyhow::Result<bool> {
    for p in problems {
        outln!("{p}");
    }
    if problems.is_empty() {
        outln!(
            "ok: {} FAQ entries, {} intents, {} synonym concepts in {} and {}",
            knowledge.entries.len(),
            knowledge.intents.len(),
            knowledge.concepts.len(),
            faq.display(),
            intents.display()
        );
        Ok(true)
    } else {
        // Warnings fail too: CI keeps the shipped files clean; only the server serves despite them.
        let errors = problems.iter().filter(|p| p.is_error()).count();
        outln!(
            "{errors} error(s), {} warning(s): fix them and run `faqbot check` again",
            problems.len() - errors
        );
        Ok(false)
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Settings first: their privacy section says what the log may hold.
    let mut settings = faqbot::config::Settings::load(args.config.as_deref())?;
    start_logs(&settings.privacy);
    if let Some(addr) = args.addr {
        settings.server.addr = addr;
    }
    if let Some(data) = args.data {
        settings.storage.data_dir = data;
    }
    if let Some(url) = args.database {
        settings.storage.database_url = Some(url);
    }
    if let Some(faq) = args.faq {
        settings.knowledge.faq = faq;
    }
    if let Some(intents) = args.intents {
        settings.knowledge.intents = intents;
    }
    if let Some(web) = args.web {
        settings.server.web_dir = web;
    }
    if let Some(hours) = &settings.handoff.opening_hours {
        for warning in hours.warnings() {
            tracing::warn!("{warning}");
        }
    }

    faqbot::live::release_memory_with(release_memory);
    let (live, errors) = Live::load(&settings.knowledge.faq, &settings.knowledge.intents);
    faqbot::live::release_memory();
    for e in &errors {
        tracing::warn!("{e}");
    }
    let status = live.status();
    if status.entries == 0 {
        bail!(
            "no FAQ entry could be loaded from {}: run from the project folder or pass --faq DIR",
            settings.knowledge.faq.display()
        );
    }
    tracing::info!(
        entries = status.entries,
        intents = status.intents,
        problems = errors.len(),
        "knowledge loaded"
    );
    let live = Arc::new(live.with_gates(settings.knowledge.gate_options()));
    // The gates ask every phrasing: the console shows their findings when they are ready.
    live.check_quality_later();
    if settings.knowledge.watch {
        // Without a watch the service still reloads on SIGHUP and from the console.
        if let Err(e) = live.watch() {
            tracing::warn!(cause = %e, "cannot watch the knowledge folders: reload with SIGHUP or from the console");
        }
    }
    let at = Location::new(
        &settings.storage.data_dir,
        settings.storage.database_url.as_deref(),
    );
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let store: faqbot::store::Opened = match &at {
            Location::Sqlite(dir) => faqbot::store::SqliteStore::open(dir).map(Into::into),
            Location::Postgres(url) => faqbot::store::PgStore::open(url).await.map(Into::into),
        }
        .with_context(|| format!("opening the database in {}", at.shown()))?;
        let listener = tokio::net::TcpListener::bind(settings.server.addr)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: is another faqbot running? pass --addr",
                    settings.server.addr
                )
            })?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data = %at.shown(), "listening");
        tracing::info!("demo page: http://{addr}/ | advisor console: http://{addr}/advisor | knowledge page (support role): http://{addr}/advisor/knowledge");
        let metrics = match settings.metrics.listen {
            Some(at) => {
                let metrics = tokio::net::TcpListener::bind(at).await.with_context(|| {
                    format!("cannot listen on {at} for metrics.listen: is the port taken?")
                })?;
                let addr = metrics.local_addr()?;
                tracing::info!(%addr, "metrics: GET http://{addr}/metrics");
                Some(metrics)
            }
            None => None,
        };
        tokio::spawn(reload_on_hangup(live.clone()));
        let state = faqbot::server::AppState::new(settings, live, store)
            .context("starting the storage writer")?;
        let listeners = faqbot::server::Listeners {
            public: listener,
            metrics,
        };
        faqbot::server::run(listeners, state, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
///
/// Unless `privacy.log_text` is set, two things that would print what visitors write are held
/// back whatever `RUST_LOG` says: the WebSocket library's `trace` output (every frame it reads
/// or writes, text included) and the message of a panic (a string sliced out of bounds quotes
/// the string). faqbot's own events never carry message text, contact details or questions.
fn start_logs(privacy: &faqbot::config::PrivacySettings) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let env = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if privacy.log_text {
        tracing_subscriber::registry()
            .with(fmt.with_filter(env))
            .init();
        return;
    }
    let no_frames = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("tungstenite", LevelFilter::DEBUG)
        .with_target("tokio_tungstenite", LevelFilter::DEBUG);
    tracing_subscriber::registry()
        .with(fmt.with_filter(env.and(no_frames)))
        .init();
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let place = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "an unknown place".to_owned());
        eprintln!(
            "thread '{}' panicked at {place} (message not shown: it may quote what a visitor \
             wrote; set privacy.log_text = true to see it)",
            thread.name().unwrap_or("<unnamed>")
        );
        let trace = std::backtrace::Backtrace::capture();
        if trace.status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{trace}");
        }
    }));
}

/// SIGHUP re-reads the knowledge, as daemons re-read their configuration.
async fn reload_on_hangup(live: Arc<Live>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(cause = %e, "cannot listen for SIGHUP: reload from the console instead");
                return;
            }
        };
        while hangup.recv().await.is_some() {
            let live = live.clone();
            let reload = move || {
                if let faqbot::live::Outcome::Swapped { .. } =
                    live.reload(faqbot::live::Trigger::Signal)
                {
                    live.check_quality_later();
                }
            };
            if let Err(e) = tokio::task::spawn_blocking(reload).await {
                tracing::error!(cause = %e, "reload after SIGHUP failed");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = live;
}

/// Ctrl-C or SIGTERM (what `docker stop` sends).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(cause = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(cause = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn advisor_add(name: &str, data: &Location, role: &str) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        bail!("give the advisor a name of 1 to 80 characters");
    }
    let mut store = open_store(data)?;
    let token = faqbot::accounts::add(&mut store, name, role)?;
    outln!("advisor `{name}` added ({role}) in {}.", data.shown());
    outln!("Their token is shown only now; only its hash is stored. Send it to them privately:");
    outln!("{token}");
    Ok(())
}

fn open_store(data: &Location) -> anyhow::Result<Admin> {
    Admin::open(data).with_context(|| format!("opening the database in {}", data.shown()))
}

/// An unknown name, with the data folder: the likeliest mistake is another `--data`.
fn unknown_advisor(e: faqbot::store::StoreError, data: &Location) -> anyhow::Error {
    match e {
        faqbot::store::StoreError::UnknownAdvisor(name) => anyhow::anyhow!(
            "there is no advisor named `{name}` in {}: `faqbot advisor list {}` shows the names (they are case-sensitive)",
            data.shown(),
            data.flag()
        ),
        other => other.into(),
    }
}

fn advisor_list(data: &Location) -> anyhow::Result<()> {
    let store = open_store(data)?;
    let advisors = faqbot::accounts::list(&store)?;
    if advisors.is_empty() {
        outln!(
            "no advisor in {}: add one with `faqbot advisor add NAME {}`",
            data.shown(),
            data.flag()
        );
        return Ok(());
    }
    let width = advisors
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    outln!(
        "{:<width$}  {:<8}  {:<20}  SESSIONS",
        "NAME",
        "ROLE",
        "CREATED"
    );
    for a in &advisors {
        // Seconds are noise here: the date and minute an account was made.
        let created = faqbot::clock::rfc3339(a.created_at);
        let created = created.get(..16).unwrap_or(&created).replace('T', " ");
        outln!(
            "{:<width$}  {:<8}  {:<20}  {}",
            a.name,
            a.role,
            format!("{created} UTC"),
            a.live_sessions
        );
    }
    Ok(())
}

fn advisor_remove(name: &str, data: &Location) -> anyhow::Result<()> {
    let mut store = open_store(data)?;
    let released =
        faqbot::accounts::remove(&mut store, name).map_err(|e| unknown_advisor(e, data))?;
    outln!(
        "advisor `{name}` removed from {}: their token and logins no longer work.",
        data.shown()
    );
    if released.is_empty() {
        outln!("They held no conversation.");
    } else {
        outln!(
            "{} conversation(s) they held went back to the bot; each visitor is told on their next visit and may ask for an advisor again: {}",
            released.len(),
            released.join(", ")
        );
    }
    Ok(())
}

fn advisor_rotate(name: &str, data: &Location) -> anyhow::Result<()> {
    let mut store = open_store(data)?;
    let token = faqbot::accounts::rotate(&mut store, name).map_err(|e| unknown_advisor(e, data))?;
    outln!(
        "advisor `{name}` in {} has a new token: the old one no longer works and their logins are ended.",
        data.shown()
    );
    outln!("It is shown only now; only its hash is stored. Send it to them privately:");
    outln!("{token}");
    Ok(())
}

fn leads(data: &Location) -> anyhow::Result<()> {
    let store = open_store(data)?;
    let leads: Vec<faqbot::protocol::LeadWire> = store.leads()?.iter().map(Into::into).collect();
    out!("{}", faqbot::protocol::leads_csv(&leads)?);
    Ok(())
}

fn report(data: &Location, csv: bool, since: Option<&str>, limit: usize) -> anyhow::Result<()> {
    let since = since
        .map(|s| faqbot::report::parse_since(s, faqbot::clock::now_ms()))
        .transpose()?;
    let from = since.unwrap_or(0);
    let mut store = Admin::open_read_only(data)
        .with_context(|| format!("opening the database in {}", data.shown()))?;
    let (misses, decisions) = store.misses_and_decisions(from)?;
    let report = faqbot::report::build(&misses, &decisions, since, limit);
    if csv {
        out!("{}", faqbot::protocol::report_csv(&report)?);
    } else {
        out!("{}", faqbot::report::text(&report));
    }
    Ok(())
}

fn purge(data: &Location, days: u32) -> anyhow::Result<()> {
    let mut store = Admin::open_existing(data)
        .with_context(|| format!("opening the database in {}", data.shown()))?;
    let Some(cutoff) = faqbot::config::retention_cutoff(faqbot::clock::now_ms(), days) else {
        outln!("a retention of 0 days keeps everything: nothing purged.");
        return Ok(());
    };
    let purged = store.purge(cutoff)?;
    outln!(
        "purged what was last active before {} ({days} days) from {}:",
        faqbot::clock::rfc3339(cutoff),
        data_file(&store)
    );
    print_removed(&purged.removed)?;
    if purged.kept_in_chat > 0 {
        outln!(
            "kept {} conversation(s) older than that: an advisor holds them or they wait in the \
             queue; they go at the first purge after they are back with the bot (close them in \
             the console).",
            purged.kept_in_chat
        );
    }
    Ok(())
}

/// Rows removed, one line per table.
fn print_removed(removed: &faqbot::model::Removed) -> anyhow::Result<()> {
    for (table, n) in removed.tables() {
        outln!("  {table:<14} {n:>8}");
    }
    Ok(())
}

/// The full id of the conversation `given` names: its id, or the start of it (at least the 6
/// characters the console shows), in any case.
fn conversation_id(store: &Admin, given: &str) -> anyhow::Result<String> {
    let id = given.trim().to_ascii_lowercase();
    if id.len() < 6 || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!(
            "`{given}` is not a conversation id: give it in full (as the leads show it) or its \
             first 6 characters or more (as the console shows them: « Visiteur 3F2A1B »)"
        );
    }
    if store.conversation(&id)?.is_some() {
        return Ok(id);
    }
    let found = store.conversations_starting(&id, 5)?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "there is no conversation `{given}` in {}: check the id, and --data or --database \
             (it may have been erased or purged already)",
            data_file(store)
        ),
        several => {
            bail!(
            "{} conversations start with `{given}` ({}…): give more of the id (the leads show it \
             in full)",
            if several.len() == 5 { "5 or more" } else { "several" },
            several.join(", ")
        )
        }
    }
}

fn data_file(store: &Admin) -> String {
    store.shown()
}

fn visitor_export(data: &Location, given: &str) -> anyhow::Result<()> {
    let mut store = Admin::open_read_only(data)
        .with_context(|| format!("opening the database in {}", data.shown()))?;
    let id = conversation_id(&store, given)?;
    let Some(record) = store.visitor_record(&id)? else {
        bail!("conversation `{id}` was removed while it was being read: nothing to export");
    };
    let wire = faqbot::protocol::VisitorExportWire::new(&record, faqbot::clock::now_ms());
    outln!("{}", serde_json::to_string_pretty(&wire)?);
    Ok(())
}

fn visitor_erase(data: &Location, given: &str) -> anyhow::Result<()> {
    let mut store = Admin::open_existing(data)
        .with_context(|| format!("opening the database in {}", data.shown()))?;
    let id = conversation_id(&store, given)?;
    let Some(removed) = store.erase(&id)? else {
        bail!("conversation `{id}` was removed meanwhile (purged, or erased from the console)");
    };
    outln!("erased conversation {id} from {}:", data_file(&store));
    print_removed(&removed)?;
    Ok(())
}
