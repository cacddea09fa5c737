//! Wire formats: the JSON lines of `faqbot ask --json` and the WebSocket frames. The only place
//! that derives Serialize/Deserialize for the outside world; conversions happen here, at the edge.

mod domain;

pub use domain::{numbered, payload};

use serde::{Deserialize, Serialize};

use crate::matcher::{Reply, ReplyKind, Suggestion};
use crate::report::Report;

/// The fields every bot reply carries, on the CLI and on the WebSocket alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyPayload {
    pub kind: KindWire,
    pub text: String,
    pub faq_id: Option<String>,
    pub intent: Option<String>,
    pub confidence: f32,
    pub suggestions: Vec<SuggestionWire>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindWire {
    Answer,
    Clarify,
    Fallback,
    Smalltalk,
    Handoff,
    Emergency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestionWire {
    pub faq_id: String,
    pub question: String,
}

/// One line of `faqbot ask --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AskLine {
    pub question: String,
    #[serde(flatten)]
    pub reply: ReplyPayload,
}

impl From<ReplyKind> for KindWire {
    fn from(kind: ReplyKind) -> Self {
        match kind {
            ReplyKind::Answer => KindWire::Answer,
            ReplyKind::Clarify => KindWire::Clarify,
            ReplyKind::Fallback => KindWire::Fallback,
            ReplyKind::Smalltalk => KindWire::Smalltalk,
            ReplyKind::Handoff => KindWire::Handoff,
            ReplyKind::Emergency => KindWire::Emergency,
        }
    }
}

impl From<&Suggestion> for SuggestionWire {
    fn from(s: &Suggestion) -> Self {
        SuggestionWire {
            faq_id: s.faq_id.clone(),
            question: s.question.clone(),
        }
    }
}

impl From<&Reply> for ReplyPayload {
    fn from(reply: &Reply) -> Self {
        ReplyPayload {
            kind: reply.kind.into(),
            text: reply.text.clone(),
            faq_id: reply.faq_id.clone(),
            intent: reply.intent.clone(),
            // Three decimals are enough for people and keep the JSON stable across platforms.
            confidence: (reply.confidence * 1000.0).round() / 1000.0,
            suggestions: reply.suggestions.iter().map(SuggestionWire::from).collect(),
            source: reply.source.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames.
//
// Visitor frames (`/ws`) and advisor frames (`/ws/advisor`) are JSON text frames, one object
// each, tagged by `"type"`. Conventions, beyond the list:
//
// - **`seq`**: every visitor-bound frame that belongs to the conversation (`reply`, `handoff`,
//   `advisor_message`, `contact`) carries `seq`, increasing by one per conversation, and is
//   stored before it is sent, so `GET /ws?session=…&last_seq=N` replays exactly the frames
//   after N. `welcome` carries the conversation's current last `seq` (0 for a new one), so a
//   client can count from it. `error` frames answer one bad frame on one connection: they are
//   not part of the conversation and carry no `seq`.
// - **`handoff_offer`** on `reply`: `true` when the bot offers to call an advisor (after two
//   fallbacks in a row, or after a consultation/contact answer). The widget shows the
//   "talk to an advisor" button; pressing it sends `{"type":"handoff"}`.
// - Re-sending a visitor `message` with an `id` already stored sends back the stored frames that
//   answered it, with their original `seq` (clients drop a `seq` they already have).
// - The advisor `queue` frame's items carry a `card` (why, last question, the bot's candidates,
//   page, language) and `escalated`. `alert` frames (`new` / `escalated`) announce a handoff.
// ---------------------------------------------------------------------------------------------

/// A frame a visitor sends on `/ws`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorIn {
    /// A question or a message for the advisor. `id` makes re-sending idempotent.
    Message { text: String, id: Option<String> },
    /// Picks a suggestion.
    Choose { faq_id: String },
    /// Asks for an advisor.
    Handoff,
    /// Leaves a contact request (email or phone, and consent, required).
    Contact {
        name: String,
        email: Option<String>,
        phone: Option<String>,
        message: Option<String>,
        consent: bool,
    },
}

impl VisitorIn {
    /// The `type` values a visitor may send, for "unknown type" messages.
    pub const TYPES: [&'static str; 4] = ["message", "choose", "handoff", "contact"];
}

/// The conversation's mode, as the visitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeWire {
    Bot,
    Queued,
    Advisor,
}

/// The status in a visitor `handoff` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandoffStatusWire {
    Queued,
    Assigned,
    Unavailable,
    Ended,
}

/// Who wrote a message of a transcript or history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FromWire {
    Visitor,
    Bot,
    Advisor,
}

/// One message of a `welcome` history or an advisor `transcript`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    pub from: FromWire,
    pub text: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The advisor's name, on advisor messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisor: Option<String>,
    /// The FAQ entry a bot message answered from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faq_id: Option<String>,
}

/// A frame the server sends to a visitor. Conversation frames are stored without `seq` and get
/// it when sent (see [`numbered`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorOut {
    Welcome {
        session: String,
        mode: ModeWire,
        text: String,
        history: Vec<HistoryItem>,
        seq: u64,
    },
    Reply {
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        #[serde(flatten)]
        reply: ReplyPayload,
        handoff_offer: bool,
    },
    Handoff {
        status: HandoffStatusWire,
        #[serde(skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        advisor: Option<String>,
    },
    AdvisorMessage {
        text: String,
        advisor: String,
    },
    Contact {
        status: &'static str,
    },
    Error {
        code: &'static str,
        message: String,
    },
}

impl VisitorOut {
    /// The JSON text of a frame outside the conversation (welcome, error).
    pub fn to_text(&self) -> String {
        // Serialising these types cannot fail: no maps with non-string keys, no foreign types.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A frame an advisor sends on `/ws/advisor`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AdvisorIn {
    Claim {
        conversation: String,
    },
    Message {
        conversation: String,
        text: String,
    },
    /// Hands the conversation back to the bot.
    Release {
        conversation: String,
    },
    /// Ends the advisor's part of the conversation.
    Close {
        conversation: String,
    },
}

impl AdvisorIn {
    pub const TYPES: [&'static str; 4] = ["claim", "message", "release", "close"];
}

/// One of the bot's best candidates, on a handoff card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateWire {
    pub id: String,
    pub is_intent: bool,
    pub question: String,
    pub confidence: f32,
}

/// What an advisor needs to start without rereading the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffCard {
    /// `asked`, `consultation` or `repeated_fallback`.
    pub reason: String,
    pub last_question: Option<String>,
    pub candidates: Vec<CandidateWire>,
    pub page: Option<String>,
    pub lang: String,
}

/// One waiting conversation in the advisor `queue` frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    pub id: String,
    /// RFC 3339, UTC.
    pub waiting_since: String,
    /// The visitor's last question, cut to 140 characters.
    pub preview: String,
    pub lang: String,
    pub card: HandoffCard,
    pub escalated: bool,
}

/// A frame the server sends to an advisor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AdvisorOut {
    /// First frame: who is connected.
    Hello {
        advisor: String,
        role: String,
    },
    Queue {
        conversations: Vec<QueueItem>,
    },
    Transcript {
        conversation: String,
        messages: Vec<HistoryItem>,
        card: Option<HandoffCard>,
    },
    VisitorMessage {
        conversation: String,
        text: String,
    },
    Claimed {
        conversation: String,
        by: String,
    },
    /// The conversation went back to the bot (`released`) or was closed (`closed`).
    Ended {
        conversation: String,
        by: String,
        status: &'static str,
    },
    /// A new handoff (`new`) or one unclaimed for too long (`escalated`).
    Alert {
        kind: &'static str,
        conversation: String,
        card: HandoffCard,
    },
    /// A refused advisor frame. `conversation`, when present, is the one it concerned (absent
    /// for a frame that could not be read, so older consoles see the same fields as before).
    Error {
        code: &'static str,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation: Option<String>,
    },
}

impl AdvisorOut {
    pub fn to_text(&self) -> String {
        // As for `VisitorOut::to_text`: these types always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A contact request as listed by `GET /api/leads`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadWire {
    pub id: i64,
    pub created_at: String,
    pub conversation: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
    pub consent: bool,
    pub lang: Option<String>,
    pub page: Option<String>,
}

/// The body of `POST /api/login`.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginRequest {
    pub token: String,
}

/// The JSON POSTed to the configured webhook on a new or escalated handoff. It carries no
/// message text: webhooks often end in chat tools outside the clinic's health-data boundary.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEvent {
    /// `handoff` or `escalation`.
    pub event: &'static str,
    pub conversation: String,
    pub reason: String,
    pub lang: String,
    pub page: Option<String>,
    pub waiting_since: String,
}

/// The columns of [`leads_csv`].
pub const LEADS_CSV_HEADER: [&str; 10] = [
    "id",
    "created_at",
    "conversation",
    "name",
    "email",
    "phone",
    "message",
    "consent",
    "lang",
    "page",
];

/// Contact requests as CSV (header line first), for `faqbot leads` and `GET /api/leads?format=csv`.
/// Every field goes through [`defuse_csv_field`]: names and messages are typed by visitors.
pub fn leads_csv(leads: &[LeadWire]) -> Result<String, csv::Error> {
    let mut out = CsvOut::new();
    out.row(LEADS_CSV_HEADER)?;
    for l in leads {
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        out.row([
            l.id.to_string(),
            l.created_at.clone(),
            opt(&l.conversation),
            l.name.clone(),
            opt(&l.email),
            opt(&l.phone),
            opt(&l.message),
            l.consent.to_string(),
            opt(&l.lang),
            opt(&l.page),
        ])?;
    }
    out.finish()
}

/// A CSV field made harmless for spreadsheets. One that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return is read as a formula by Excel, LibreOffice and Sheets (which can call
/// out, or run commands through DDE), so it gets a `'` in front and reads as text. A phone
/// number (`+33 6 12 34 56 78`) is left as typed: it names no function and must stay readable.
pub fn defuse_csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) && !phone_like(field) {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// Digits, spaces, dots, dashes and parentheses after an optional leading `+`, with a digit at
/// least: at worst a spreadsheet does arithmetic with it, it cannot call anything.
fn phone_like(field: &str) -> bool {
    let rest = field.strip_prefix('+').unwrap_or(field);
    rest.chars().any(|c| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
}

/// A CSV table written in memory by the `csv` crate (quoting as needed), every field defused.
struct CsvOut(csv::Writer<Vec<u8>>);

impl CsvOut {
    fn new() -> CsvOut {
        CsvOut(csv::Writer::from_writer(Vec::new()))
    }

    fn row<I, F>(&mut self, fields: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<str>,
    {
        self.0.write_record(
            fields
                .into_iter()
                .map(|f| defuse_csv_field(f.as_ref()).into_owned()),
        )
    }

    fn finish(self) -> Result<String, csv::Error> {
        let bytes = self
            .0
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        // Only `&str` went in, so this is UTF-8; the error is kept rather than assumed away.
        String::from_utf8(bytes)
            .map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }
}

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

// ---------------------------------------------------------------------------------------------
// The knowledge console (`/api/knowledge/…`, support staff only).
// ---------------------------------------------------------------------------------------------

/// "Try a question": what the bot would answer and why, as `faqbot explain` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainWire {
    pub question: String,
    pub lang: String,
    pub lang_forced: bool,
    pub tokens: Vec<TokenWire>,
    /// The terms matched against the index (stems, `#concept`).
    pub terms: Vec<String>,
    /// Words known neither to the knowledge nor to the dictionary.
    pub unknown: Vec<String>,
    pub top: Vec<ScoredWire>,
    /// Why this decision.
    pub reason: String,
    pub reply: ReplyPayload,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenWire {
    pub word: String,
    pub corrected: Option<String>,
    pub stem: String,
    pub concept: Option<String>,
    pub stop: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredWire {
    pub id: String,
    /// `faq` or the intent's kind.
    pub kind: String,
    /// What the decision is taken on: the re-ranker's probability (or the lexical confidence
    /// for knowledge too small to train on).
    pub confidence: f32,
    /// The confidence from the lexical evidence alone.
    pub lexical: f32,
    pub coverage: f32,
    pub similarity: f32,
    pub recall: f32,
    pub evidence: f32,
    /// Cosines of the question's terms and character n-grams with the entry's phrasings.
    pub words: f32,
    pub chars: f32,
    /// Share of the entry's core terms the question lacks.
    pub core_missing: f32,
}

impl ExplainWire {
    pub fn new(question: &str, e: &crate::matcher::Explanation) -> ExplainWire {
        ExplainWire {
            question: question.to_owned(),
            lang: e.lang.code().to_owned(),
            lang_forced: e.lang_forced,
            tokens: e
                .analysis
                .tokens
                .iter()
                .map(|t| TokenWire {
                    word: t.word.clone(),
                    corrected: t.corrected.clone(),
                    stem: t.stem.clone(),
                    concept: t.concept.clone(),
                    stop: t.stop,
                })
                .collect(),
            terms: e.terms.clone(),
            unknown: e.unknown.clone(),
            top: e
                .top
                .iter()
                .map(|(id, kind, s)| ScoredWire {
                    id: id.clone(),
                    kind: (*kind).to_owned(),
                    confidence: s.confidence,
                    lexical: s.lexical,
                    coverage: s.coverage,
                    similarity: s.similarity,
                    recall: s.recall,
                    evidence: s.evidence,
                    words: s.words,
                    chars: s.chars,
                    core_missing: s.core_missing,
                })
                .collect(),
            reason: e.reason.clone(),
            reply: ReplyPayload::from(&e.reply),
        }
    }
}

/// One finding of `faqbot check` or of the console's check on save (a [`LoadError`]), as JSON:
/// `{"path":"faq/fr/cout.md","line":6,"severity":"warning","entry":"cout","message":"…"}`.
///
/// [`LoadError`]: crate::knowledge::LoadError
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingWire {
    pub path: String,
    pub line: Option<usize>,
    /// `error` (the reload is refused) or `warning` (served anyway).
    pub severity: String,
    pub entry: Option<String>,
    pub message: String,
}

impl From<&crate::knowledge::LoadError> for FindingWire {
    fn from(e: &crate::knowledge::LoadError) -> Self {
        FindingWire {
            // Lossy: a path that is not UTF-8 must not make the whole list unserializable.
            path: e.path.to_string_lossy().into_owned(),
            line: e.line,
            severity: e.severity.as_str().to_owned(),
            entry: e.entry.clone(),
            message: e.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::LoadError;

    #[test]
    fn csv_fields_that_a_spreadsheet_would_run_get_a_quote_but_phone_numbers_stay() {
        for (field, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
            ("-2+3", "'-2+3"),
            ("@SUM(1)", "'@SUM(1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("+33 6 =1", "'+33 6 =1"),
            ("+", "'+"),
            ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),
            ("+1 (555) 010-0199", "+1 (555) 010-0199"),
            ("06.12.34.56.78", "06.12.34.56.78"),
            ("-0.25", "-0.25"),
            ("Marie = Dupont", "Marie = Dupont"),
            ("", ""),
        ] {
            assert_eq!(defuse_csv_field(field), expected, "{field:?}");
        }
    }

    #[test]
    fn leads_csv_quotes_what_needs_it_and_reads_back_defused() {
        let lead = LeadWire {
            id: 7,
            created_at: "2025-01-31T08:00:00Z".into(),
            conversation: None,
            name: "=cmd|' /C calc'!A0".into(),
            email: Some("ana@example.com".into()),
            phone: Some("+33 6 12 34 56 78".into()),
            message: Some("line 1, \"quoted\"\nline 2".into()),
            consent: true,
            lang: Some("fr".into()),
            page: None,
        };
        let text = leads_csv(&[lead]).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().expect("header").iter().collect::<Vec<_>>(),
            LEADS_CSV_HEADER
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(rows.len(), 1, "{text}");
        let row: Vec<&str> = rows[0].iter().collect();
        assert_eq!(
            row,
            [
                "7",
                "2025-01-31T08:00:00Z",
                "",
                "'=cmd|' /C calc'!A0",
                "ana@example.com",
                "+33 6 12 34 56 78",
                "line 1, \"quoted\"\nline 2",
                "true",
                "fr",
                ""
            ]
        );
    }

    #[test]
    fn a_finding_is_plain_json_with_its_severity() {
        let w = LoadError::warning(std::path::Path::new("faq/fr/cout.md"), Some(6), "few")
            .for_entry("cout");
        let json = serde_json::to_value(FindingWire::from(&w)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"path": "faq/fr/cout.md", "line": 6, "severity": "warning", "entry": "cout", "message": "few"})
        );
    }
}

/// The served knowledge, as the knowledge page shows it (`GET /api/knowledge`).
#[derive(Debug, Clone, Serialize)]
pub struct KnowledgeStatusWire {
    /// Goes up by one with every knowledge swapped in.
    pub version: u64,
    /// Milliseconds since the epoch.
    pub loaded_at: i64,
    /// What loaded it: `startup`, `files`, `signal` or `console`.
    pub trigger: &'static str,
    /// The support advisor who saved or reloaded, for `console`.
    pub by: Option<String>,
    pub entries: usize,
    pub intents: usize,
    /// Load findings: errors tolerated since startup (those files are left out) and warnings.
    pub problems: Vec<FindingWire>,
    /// The quality gates' findings; `null` while they are being computed.
    pub quality: Option<Vec<FindingWire>>,
    /// The last change refused (the previous knowledge kept serving), until one is taken.
    pub refused: Option<RefusalWire>,
    /// Whether file changes are picked up on their own.
    pub watching: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefusalWire {
    pub at: i64,
    pub trigger: &'static str,
    pub by: Option<String>,
    /// The errors that made the change unusable, each with its file and line.
    pub problems: Vec<FindingWire>,
}

fn trigger_wire(t: &crate::live::Trigger) -> (&'static str, Option<String>) {
    use crate::live::Trigger;
    match t {
        Trigger::Startup => ("startup", None),
        Trigger::Files => ("files", None),
        Trigger::Signal => ("signal", None),
        Trigger::Console { advisor } => ("console", Some(advisor.clone())),
    }
}

fn findings(list: &[crate::knowledge::LoadError]) -> Vec<FindingWire> {
    list.iter().map(FindingWire::from).collect()
}

impl From<&crate::live::Status> for KnowledgeStatusWire {
    fn from(s: &crate::live::Status) -> Self {
        let (trigger, by) = trigger_wire(&s.trigger);
        KnowledgeStatusWire {
            version: s.version,
            loaded_at: s.loaded_at,
            trigger,
            by,
            entries: s.entries,
            intents: s.intents,
            problems: findings(&s.problems),
            quality: s.quality.as_deref().map(findings),
            refused: s.refused.as_ref().map(|r| {
                let (trigger, by) = trigger_wire(&r.trigger);
                RefusalWire {
                    at: r.at,
                    trigger,
                    by,
                    problems: findings(&r.problems),
                }
            }),
            watching: s.watching,
        }
    }
}
