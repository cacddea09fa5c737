//! What the bot missed, for support staff: `GET /api/knowledge/missed` (JSON) and `faqbot
//! report --csv`, both built from one [`Report`].

use serde::Serialize;

use super::csv::CsvOut;
use crate::report::Report;

/// `GET /api/knowledge/missed`: what the bot missed (shape documented in `server::missed`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissedWire {
    /// RFC 3339, UTC; `null`: since the start.
    pub since: Option<String>,
    /// Answers below this confidence count as missed (`report.low_confidence`).
    pub low_confidence: f32,
    pub stats: MissedStatsWire,
    pub groups: Vec<MissedGroupWire>,
    /// Groups in all (`groups` stops at the limit).
    pub groups_total: usize,
    pub entries: Vec<EntryCountWire>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissedStatsWire {
    pub questions: u64,
    pub conversations: u64,
    /// `answer`, `clarify`, `fallback`, `handoff`, `smalltalk`, `emergency`, in that order.
    pub kinds: Vec<KindRateWire>,
    pub low_confidence: u64,
    pub picks: u64,
    pub misses: u64,
    pub handoff_requests: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindRateWire {
    pub kind: &'static str,
    pub count: u64,
    /// 0 to 1, four decimals.
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissedGroupWire {
    pub id: i64,
    pub lang: String,
    pub count: usize,
    pub terms: Vec<String>,
    pub examples: Vec<String>,
    /// The most frequent kind: `fallback`, `clarify`, `low_confidence` or `handoff`.
    pub kind: &'static str,
    /// Count per kind.
    pub kinds: std::collections::BTreeMap<&'static str, usize>,
    /// The most frequent outcome: `none`, `picked`, `answered`, `asked_again`,
    /// `asked_person` or `other`.
    pub outcome: &'static str,
    pub outcomes: std::collections::BTreeMap<&'static str, usize>,
    pub candidates: Vec<GroupCandidateWire>,
    /// `null`: a new entry.
    pub suggestion: Option<SuggestedEntryWire>,
    pub first_at: String,
    pub last_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupCandidateWire {
    pub id: String,
    pub is_intent: bool,
    pub question: String,
    pub count: usize,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuggestedEntryWire {
    pub faq_id: String,
    pub question: Option<String>,
    /// `picked` (visitors picked it) or `top_candidate` (the bot's usual best candidate).
    pub basis: &'static str,
    pub votes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryCountWire {
    pub faq_id: String,
    pub answers: u64,
    pub picks: u64,
}

/// Rounded for people and for stable JSON across platforms.
fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl MissedWire {
    pub fn new(report: &Report, low_confidence: f32) -> MissedWire {
        use crate::clock::rfc3339;
        let s = &report.stats;
        MissedWire {
            since: report.since.map(rfc3339),
            low_confidence,
            stats: MissedStatsWire {
                questions: s.questions,
                conversations: s.conversations,
                kinds: s
                    .kinds
                    .iter()
                    .map(|k| KindRateWire {
                        kind: k.kind,
                        count: k.count,
                        rate: round(k.rate, 4),
                    })
                    .collect(),
                low_confidence: s.low_confidence,
                picks: s.picks,
                misses: s.misses,
                handoff_requests: s.handoff_requests,
            },
            groups: report
                .groups
                .iter()
                .map(|g| MissedGroupWire {
                    id: g.id,
                    lang: g.lang.clone(),
                    count: g.count,
                    terms: g.terms.clone(),
                    examples: g.examples.clone(),
                    kind: g.kind().as_str(),
                    kinds: g.kinds.iter().map(|(k, n)| (k.as_str(), *n)).collect(),
                    outcome: g.outcome(),
                    outcomes: g.outcomes.iter().copied().collect(),
                    candidates: g
                        .candidates
                        .iter()
                        .map(|c| GroupCandidateWire {
                            id: c.id.clone(),
                            is_intent: c.is_intent,
                            question: c.question.clone(),
                            count: c.count,
                            confidence: c.confidence,
                        })
                        .collect(),
                    suggestion: g.suggestion.as_ref().map(|x| SuggestedEntryWire {
                        faq_id: x.faq_id.clone(),
                        question: x.question.clone(),
                        basis: x.basis.as_str(),
                        votes: x.votes,
                    }),
                    first_at: rfc3339(g.first_at),
                    last_at: rfc3339(g.last_at),
                })
                .collect(),
            groups_total: report.groups_total,
            entries: report
                .entries
                .iter()
                .map(|e| EntryCountWire {
                    faq_id: e.faq_id.clone(),
                    answers: e.answers,
                    picks: e.picks,
                })
                .collect(),
        }
    }
}

/// The columns of [`report_csv`]; one row per statistic, decision kind, missed group and entry.
pub const REPORT_CSV_HEADER: &str =
    "section,rank,name,lang,count,rate,picks,kind,outcome,suggested_entry,basis,examples,terms,candidates";

/// `faqbot report --csv`: one table whose `section` says what a row is:
/// - `stat`: `name` (`questions`, `conversations`, `low_confidence`, `picks`, `misses`,
///   `handoff_requests`) and `count`;
/// - `rate`: `name` a decision kind, its `count` and `rate` (0 to 1) over typed questions;
/// - `missed`: a group: `rank`, `name` (its id), `lang`, `count`, `rate` (share of the misses),
///   most common `kind` and `outcome`, `suggested_entry` and its `basis` (empty: new entry),
///   `examples` and `candidates` (`id:confidence`) joined by ` | `, `terms` by spaces;
/// - `entry`: `rank`, `name` (the FAQ id), `count` (times given) and `picks` (of which picked).
///
/// Fields are quoted when they need it and defused ([`defuse_csv_field`]): the examples are
/// visitors' own words.
///
/// [`defuse_csv_field`]: super::defuse_csv_field
pub fn report_csv(report: &Report) -> Result<String, csv::Error> {
    let s = &report.stats;
    let mut out = CsvOut::new();
    out.row(REPORT_CSV_HEADER.split(','))?;
    let mut rows = Vec::new();
    for (name, count) in [
        ("questions", s.questions),
        ("conversations", s.conversations),
        ("low_confidence", s.low_confidence),
        ("picks", s.picks),
        ("misses", s.misses),
        ("handoff_requests", s.handoff_requests),
    ] {
        rows.push(CsvRow {
            section: "stat",
            name: name.into(),
            count: count.to_string(),
            ..CsvRow::default()
        });
    }
    for k in &s.kinds {
        rows.push(CsvRow {
            section: "rate",
            name: k.kind.into(),
            count: k.count.to_string(),
            rate: format!("{:.4}", k.rate),
            ..CsvRow::default()
        });
    }
    for (i, g) in report.groups.iter().enumerate() {
        let share = if s.misses == 0 {
            0.0
        } else {
            g.count as f64 / s.misses as f64
        };
        let candidates: Vec<String> = g
            .candidates
            .iter()
            .map(|c| format!("{}:{:.3}", c.id, c.confidence))
            .collect();
        rows.push(CsvRow {
            section: "missed",
            rank: (i + 1).to_string(),
            name: g.id.to_string(),
            lang: g.lang.clone(),
            count: g.count.to_string(),
            rate: format!("{share:.4}"),
            kind: g.kind().as_str(),
            outcome: g.outcome(),
            suggested_entry: g
                .suggestion
                .as_ref()
                .map_or_else(String::new, |x| x.faq_id.clone()),
            basis: g.suggestion.as_ref().map_or("", |x| x.basis.as_str()),
            examples: g.examples.join(" | "),
            terms: g.terms.join(" "),
            candidates: candidates.join(" | "),
            ..CsvRow::default()
        });
    }
    for (i, e) in report.entries.iter().enumerate() {
        rows.push(CsvRow {
            section: "entry",
            rank: (i + 1).to_string(),
            name: e.faq_id.clone(),
            count: (e.answers + e.picks).to_string(),
            picks: e.picks.to_string(),
            ..CsvRow::default()
        });
    }
    for row in rows {
        out.row([
            row.section,
            &row.rank,
            &row.name,
            &row.lang,
            &row.count,
            &row.rate,
            &row.picks,
            row.kind,
            row.outcome,
            &row.suggested_entry,
            row.basis,
            &row.examples,
            &row.terms,
            &row.candidates,
        ])?;
    }
    out.finish()
}

/// One row of [`report_csv`].
#[derive(Default)]
struct CsvRow {
    section: &'static str,
    rank: String,
    name: String,
    lang: String,
    count: String,
    rate: String,
    picks: String,
    kind: &'static str,
    outcome: &'static str,
    suggested_entry: String,
    basis: &'static str,
    examples: String,
    terms: String,
    candidates: String,
}
