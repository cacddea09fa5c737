//! What the bot missed: which questions count as missed, the rates of the bot's decisions,
//! missed questions grouped by wording, and the most answered entries. Pure: no I/O.
//!
//! The chat service records misses with [`classify`] and [`outcome_of`]; `faqbot report` and
//! `GET /api/knowledge/missed` read them from the store and [`build`] a [`Report`].

mod group;

pub use group::{group, Basis, Group, GroupCandidate, Suggested, SIMILAR_AT};

use crate::matcher::{Reply, ReplyKind};
use crate::model::{Decisions, MissKind, Outcome, StoredMiss, PICK};

/// Default `report.low_confidence`: answers below it count as missed. About one answer in
/// twelve of the tuned evaluation sets (dev, tune) falls below it; the cross-validated answer
/// thresholds are 0.59–0.66 since the eighth session (0.6 then flagged none).
pub const LOW_CONFIDENCE: f32 = 0.85;

/// The decisions on typed questions, in report order.
pub const KINDS: [ReplyKind; 6] = [
    ReplyKind::Answer,
    ReplyKind::Clarify,
    ReplyKind::Fallback,
    ReplyKind::Handoff,
    ReplyKind::Smalltalk,
    ReplyKind::Emergency,
];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("since `{0}`: give a date (2025-01-31), a time (2025-01-31T08:00:00Z) or days or hours back (7d, 12h)")]
    Since(String),
}

/// How the bot missed a typed question, or `None` when it did not.
pub fn classify(reply: &Reply, low_confidence: f32) -> Option<MissKind> {
    match reply.kind {
        ReplyKind::Fallback => Some(MissKind::Fallback),
        ReplyKind::Clarify => Some(MissKind::Clarify),
        ReplyKind::Handoff => Some(MissKind::Handoff),
        ReplyKind::Answer if reply.confidence < low_confidence => Some(MissKind::LowConfidence),
        _ => None,
    }
}

/// The outcome a typed question gives the miss before it.
pub fn outcome_of(reply: &Reply, low_confidence: f32) -> Outcome {
    match (classify(reply, low_confidence), &reply.faq_id) {
        (Some(MissKind::Handoff), _) => Outcome::AskedPerson,
        (Some(_), _) => Outcome::AskedAgain,
        (None, Some(id)) if reply.kind == ReplyKind::Answer => Outcome::Answered(id.clone()),
        (None, _) => Outcome::Other,
    }
}

/// The outcome a new miss starts with: asking for a person in words is already the visitor's
/// answer; anything else waits for their next action.
pub fn first_outcome(kind: MissKind) -> Outcome {
    match kind {
        MissKind::Handoff => Outcome::AskedPerson,
        _ => Outcome::None,
    }
}

/// One decision kind over the typed questions.
#[derive(Debug, Clone, PartialEq)]
pub struct KindCount {
    pub kind: &'static str,
    pub count: u64,
    /// Share of typed questions, 0 to 1.
    pub rate: f64,
}

/// The bot's decisions over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Typed questions the bot replied to (answers to picked suggestions aside).
    pub questions: u64,
    /// In [`KINDS`] order.
    pub kinds: Vec<KindCount>,
    /// Answers below `report.low_confidence` (counted in `answer` too).
    pub low_confidence: u64,
    /// Suggestions picked.
    pub picks: u64,
    /// Missed questions recorded.
    pub misses: u64,
    pub conversations: u64,
    /// Handoffs requested by words or by the button (queued, or unavailable).
    pub handoff_requests: u64,
}

/// How often an entry was given.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryCount {
    pub faq_id: String,
    /// As the answer to a typed question.
    pub answers: u64,
    /// As the answer to a picked suggestion.
    pub picks: u64,
}

/// Everything `faqbot report` prints and `/api/knowledge/missed` answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Unix milliseconds; `None`: since the start.
    pub since: Option<i64>,
    pub stats: Stats,
    /// The biggest groups first, at most the limit.
    pub groups: Vec<Group>,
    /// Groups in all, before the limit.
    pub groups_total: usize,
    /// The most given entries first, at most the limit.
    pub entries: Vec<EntryCount>,
}

/// The report over `misses` and `decisions` (read with the same `since`), `limit` groups and
/// entries at most.
pub fn build(
    misses: &[StoredMiss],
    decisions: &Decisions,
    since: Option<i64>,
    limit: usize,
) -> Report {
    let count_of = |name: &str| {
        decisions
            .kinds
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let questions: u64 = KINDS.iter().map(|k| count_of(k.as_str())).sum();
    let kinds = KINDS
        .iter()
        .map(|k| {
            let count = count_of(k.as_str());
            KindCount {
                kind: k.as_str(),
                count,
                rate: if questions == 0 {
                    0.0
                } else {
                    count as f64 / questions as f64
                },
            }
        })
        .collect();
    let stats = Stats {
        questions,
        kinds,
        low_confidence: misses
            .iter()
            .filter(|m| m.miss.kind == MissKind::LowConfidence)
            .count() as u64,
        picks: count_of(PICK),
        misses: misses.len() as u64,
        conversations: decisions.conversations,
        handoff_requests: decisions.handoff_requests,
    };
    let mut groups = group(misses);
    let groups_total = groups.len();
    groups.truncate(limit);
    let mut entries: Vec<EntryCount> = decisions
        .entries
        .iter()
        .map(|(id, answers, picks)| EntryCount {
            faq_id: id.clone(),
            answers: *answers,
            picks: *picks,
        })
        .collect();
    entries.sort_by(|a, b| {
        (b.answers + b.picks)
            .cmp(&(a.answers + a.picks))
            .then(a.faq_id.cmp(&b.faq_id))
    });
    entries.truncate(limit);
    Report {
        since,
        stats,
        groups,
        groups_total,
        entries,
    }
}

/// `--since` / `?since=`: a date (UTC midnight), an RFC 3339 time, or `7d` / `12h` back from
/// `now` (Unix milliseconds). Returns Unix milliseconds.
pub fn parse_since(s: &str, now: i64) -> Result<i64, ReportError> {
    let s = s.trim();
    let bad = || ReportError::Since(s.to_owned());
    let back = |unit: &str, ms: i64| -> Option<i64> {
        let n: i64 = s.strip_suffix(unit)?.trim().parse().ok()?;
        (n >= 0).then(|| now.saturating_sub(n.saturating_mul(ms)))
    };
    if let Some(t) = back("d", 86_400_000).or_else(|| back("h", 3_600_000)) {
        return Ok(t);
    }
    let time = if s.len() == 10 {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, format)
            .map_err(|_| bad())?
            .midnight()
            .assume_utc()
    } else {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad())?
    };
    Ok((time.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The report as readable text (what `faqbot report` prints).
pub fn text(report: &Report) -> String {
    use std::fmt::Write;
    let s = &report.stats;
    let mut out = String::new();
    let period = match report.since {
        Some(ms) => format!("since {}", crate::clock::rfc3339(ms)),
        None => "since the start".to_owned(),
    };
    // Writing to a String cannot fail: the results are ignored.
    let _ = writeln!(out, "What the bot missed, {period}");
    let _ = writeln!(
        out,
        "\n{} typed questions in {} conversations:",
        s.questions, s.conversations
    );
    for k in &s.kinds {
        let _ = write!(
            out,
            "  {:<10} {:>5}  {:>5.1} %",
            k.kind,
            k.count,
            k.rate * 100.0
        );
        if k.kind == "answer" && s.low_confidence > 0 {
            let _ = write!(out, "  ({} with low confidence)", s.low_confidence);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "suggestions picked: {}, handoff requests: {}, missed questions: {}",
        s.picks, s.handoff_requests, s.misses
    );

    let _ = writeln!(
        out,
        "\nMissed questions by wording ({} of {} groups):",
        report.groups.len(),
        report.groups_total
    );
    if report.groups.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (i, g) in report.groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>3}. {}× [{}] {}, then {}",
            i + 1,
            g.count,
            g.lang,
            g.kind().as_str(),
            g.outcome()
        );
        let examples: Vec<String> = g.examples.iter().map(|e| format!("\"{e}\"")).collect();
        let _ = writeln!(out, "     {}", examples.join(" · "));
        let _ = writeln!(out, "     terms: {}", g.terms.join(" "));
        if !g.candidates.is_empty() {
            let candidates: Vec<String> = g
                .candidates
                .iter()
                .map(|c| {
                    let intent = if c.is_intent { " (intent)" } else { "" };
                    format!("{}{intent} {:.2}", c.id, c.confidence)
                })
                .collect();
            let _ = writeln!(out, "     candidates: {}", candidates.join(", "));
        }
        match &g.suggestion {
            Some(x) => {
                let why = match x.basis {
                    Basis::Picked => "picked by visitors",
                    Basis::TopCandidate => "the bot's best candidate",
                };
                let _ = writeln!(
                    out,
                    "     → add as a phrasing of `{}` ({why}, {}×)",
                    x.faq_id, x.votes
                );
            }
            // Asking for a person is no question to answer: no entry either way.
            None if g.kind() == MissKind::Handoff => {
                let _ = writeln!(out, "     → no entry suggested");
            }
            None => {
                let _ = writeln!(out, "     → new entry");
            }
        }
    }

    let _ = writeln!(out, "\nMost given entries:");
    if report.entries.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for e in &report.entries {
        let _ = writeln!(
            out,
            "  {:<28} answered {:>5}  picked {:>4}",
            e.faq_id, e.answers, e.picks
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Miss;

    fn reply(kind: ReplyKind, confidence: f32, faq_id: Option<&str>) -> Reply {
        Reply::stub(kind, faq_id, confidence)
    }

    #[test]
    fn misses_and_outcomes_follow_the_reply() {
        let low = LOW_CONFIDENCE;
        let cases = [
            (
                ReplyKind::Answer,
                0.9,
                Some("cout"),
                None,
                Outcome::Answered("cout".into()),
            ),
            (
                ReplyKind::Answer,
                0.5,
                Some("cout"),
                Some(MissKind::LowConfidence),
                Outcome::AskedAgain,
            ),
            (
                ReplyKind::Clarify,
                0.7,
                None,
                Some(MissKind::Clarify),
                Outcome::AskedAgain,
            ),
            (
                ReplyKind::Fallback,
                0.0,
                None,
                Some(MissKind::Fallback),
                Outcome::AskedAgain,
            ),
            (
                ReplyKind::Handoff,
                1.0,
                None,
                Some(MissKind::Handoff),
                Outcome::AskedPerson,
            ),
            (ReplyKind::Smalltalk, 1.0, None, None, Outcome::Other),
            (ReplyKind::Emergency, 1.0, None, None, Outcome::Other),
        ];
        for (kind, confidence, faq_id, miss, outcome) in cases {
            let r = reply(kind, confidence, faq_id);
            assert_eq!(classify(&r, low), miss, "{kind:?} {confidence}");
            assert_eq!(outcome_of(&r, low), outcome, "{kind:?} {confidence}");
        }
        assert_eq!(first_outcome(MissKind::Handoff), Outcome::AskedPerson);
        assert_eq!(first_outcome(MissKind::Clarify), Outcome::None);
    }

    #[test]
    fn rates_count_typed_questions_only() {
        let decisions = Decisions {
            kinds: vec![
                ("answer".into(), 6),
                ("clarify".into(), 1),
                ("fallback".into(), 2),
                ("handoff".into(), 1),
                (PICK.into(), 3),
            ],
            entries: vec![("b".into(), 1, 3), ("a".into(), 5, 0), ("c".into(), 1, 0)],
            conversations: 4,
            handoff_requests: 2,
        };
        let miss = |id: i64, kind: MissKind| StoredMiss {
            id,
            conversation: "c".into(),
            at: id,
            miss: Miss {
                lang: "fr".into(),
                question: format!("q{id}"),
                terms: vec![format!("t{id}")],
                kind,
                confidence: 0.5,
                candidates: Vec::new(),
                outcome: Outcome::None,
            },
        };
        let misses = vec![
            miss(1, MissKind::LowConfidence),
            miss(2, MissKind::Fallback),
            miss(3, MissKind::Fallback),
        ];
        let r = build(&misses, &decisions, None, 2);
        assert_eq!(r.stats.questions, 10);
        assert_eq!(r.stats.kinds[0].kind, "answer");
        assert!((r.stats.kinds[0].rate - 0.6).abs() < 1e-9);
        assert_eq!(r.stats.kinds[4].count, 0, "smalltalk");
        assert_eq!(
            (r.stats.picks, r.stats.low_confidence, r.stats.misses),
            (3, 1, 3)
        );
        assert_eq!((r.groups.len(), r.groups_total), (2, 3));
        let ids: Vec<&str> = r.entries.iter().map(|e| e.faq_id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b"]);
        let text = text(&r);
        assert!(
            text.contains("10 typed questions in 4 conversations"),
            "{text}"
        );
        assert!(
            text.contains("answer         6   60.0 %  (1 with low confidence)"),
            "{text}"
        );
        assert!(text.contains("(2 of 3 groups)"), "{text}");

        let empty = build(&[], &Decisions::default(), Some(0), 10);
        assert!(empty.stats.kinds.iter().all(|k| k.rate == 0.0));
    }

    #[test]
    fn since_takes_dates_times_and_durations() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_since("7d", now).ok(), Some(now - 7 * 86_400_000));
        assert_eq!(parse_since("12h", now).ok(), Some(now - 12 * 3_600_000));
        assert_eq!(parse_since("2024-01-02", now).ok(), Some(1_704_153_600_000));
        assert_eq!(
            parse_since("2024-01-02T01:00:00+01:00", now).ok(),
            Some(1_704_153_600_000)
        );
        for bad in ["yesterday", "-3d", "2024-13-01", ""] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
