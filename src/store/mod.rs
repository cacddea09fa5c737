//! Durable storage of conversations, messages, numbered visitor frames, handoffs, contact
//! requests, advisors and missed questions, behind the [`Store`] trait (SQLite today,
//! PostgreSQL later).
//!
//! **Invariant:** a frame is sent to a visitor only after the [`Turn`] that created it is
//! committed, so whatever a client has seen is on disk. A `Turn` is one transaction: a visitor
//! message, the bot's reply, its frames, any handoff change, the missed question it is and the
//! outcome it gives the previous one land together or not at all.

mod shared;
mod sqlite;

pub use shared::SharedStore;

pub use sqlite::SqliteStore;

use crate::protocol::{CandidateWire, HandoffCard, HistoryItem, LeadWire, VisitorOut};

/// A storage failure. Callers log it and answer "try again"; details never reach a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("an advisor named `{0}` already exists: pick another name")]
    AdvisorExists(String),
    #[error("the storage task failed: {0}")]
    Task(String),
    #[error("there is no database at {0}: pass --data with the service's data folder")]
    NoDatabase(std::path::PathBuf),
    #[error("the database at {path} has schema version {found}, this faqbot needs {needed}: run this version of `faqbot serve` on it once to upgrade it")]
    Outdated {
        path: std::path::PathBuf,
        found: i64,
        needed: i64,
    },
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Visitor,
    Bot,
    Advisor,
}

/// Who is answering a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bot,
    /// Waiting in the handoff queue; the bot still answers.
    Queued,
    /// An advisor has it; the bot is silent except for emergencies.
    Advisor,
}

/// A conversation's state as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds of the last visitor activity (resume window).
    pub last_active: i64,
    pub lang: String,
    pub page: Option<String>,
    pub mode: Mode,
    /// The advisor's name while `mode` is `Advisor`.
    pub advisor: Option<String>,
    /// The `seq` of the last stored frame (0 when none).
    pub last_seq: u64,
    /// Fallback replies in a row.
    pub fallbacks: u32,
    /// Why the bot last offered an advisor, if its last reply did.
    pub offer_reason: Option<String>,
    pub last_question: Option<String>,
    /// The bot's best candidates for `last_question`.
    pub last_candidates: Vec<CandidateWire>,
}

/// A message to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub from: Sender,
    pub text: String,
    pub faq_id: Option<String>,
    pub confidence: Option<f32>,
    pub advisor: Option<String>,
    /// On a bot reply, the decision: a [`crate::ReplyKind`] name for a typed question, or
    /// [`PICK`] for the answer to a picked suggestion (what the report's rates count).
    pub kind: Option<&'static str>,
}

/// The decision kind stored for the answer to a picked suggestion: it is not a typed question,
/// so it stays out of the answer rate.
pub const PICK: &str = "pick";

impl NewMessage {
    pub fn visitor(text: impl Into<String>) -> NewMessage {
        NewMessage {
            from: Sender::Visitor,
            text: text.into(),
            faq_id: None,
            confidence: None,
            advisor: None,
            kind: None,
        }
    }
}

/// Why a question counts as missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MissKind {
    Fallback,
    Clarify,
    /// Answered, but with a confidence below `report.low_confidence`.
    LowConfidence,
    /// The visitor asked for a person in words.
    Handoff,
}

impl MissKind {
    pub const ALL: [MissKind; 4] = [
        MissKind::Fallback,
        MissKind::Clarify,
        MissKind::LowConfidence,
        MissKind::Handoff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MissKind::Fallback => "fallback",
            MissKind::Clarify => "clarify",
            MissKind::LowConfidence => "low_confidence",
            MissKind::Handoff => "handoff",
        }
    }

    pub fn parse(s: &str) -> Option<MissKind> {
        MissKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What the visitor did right after a missed question (their next action in the conversation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Nothing yet: the visitor has not acted since (or left).
    None,
    /// Picked this suggested entry.
    Picked(String),
    /// Asked again and got a confident answer from this entry.
    Answered(String),
    /// Asked again and was missed again.
    AskedAgain,
    /// Asked for a person: the advisor button, or in words.
    AskedPerson,
    /// Small talk or an emergency.
    Other,
}

impl Outcome {
    /// The stored name (`picked` and `answered` also store their entry).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::None => "none",
            Outcome::Picked(_) => "picked",
            Outcome::Answered(_) => "answered",
            Outcome::AskedAgain => "asked_again",
            Outcome::AskedPerson => "asked_person",
            Outcome::Other => "other",
        }
    }

    /// The entry picked or answered.
    pub fn entry(&self) -> Option<&str> {
        match self {
            Outcome::Picked(id) | Outcome::Answered(id) => Some(id),
            _ => None,
        }
    }

    /// From the stored name and entry; an unknown name reads as `None` (nothing known).
    pub fn parse(name: &str, entry: Option<String>) -> Outcome {
        match (name, entry) {
            ("picked", Some(id)) => Outcome::Picked(id),
            ("answered", Some(id)) => Outcome::Answered(id),
            ("asked_again", _) => Outcome::AskedAgain,
            ("asked_person", _) => Outcome::AskedPerson,
            ("other", _) => Outcome::Other,
            _ => Outcome::None,
        }
    }
}

/// A question the bot missed, as recorded with the turn that answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub lang: String,
    /// As typed.
    pub question: String,
    /// The matcher's terms for it (stems and `#concepts`, greetings removed): what groups it.
    pub terms: Vec<String>,
    pub kind: MissKind,
    pub confidence: f32,
    /// The bot's best candidates, best first.
    pub candidates: Vec<CandidateWire>,
    pub outcome: Outcome,
}

/// A recorded missed question.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMiss {
    pub id: i64,
    pub conversation: String,
    /// Unix milliseconds.
    pub at: i64,
    pub miss: Miss,
}

/// How the bot's decisions add up over a period (for the report's rates and top entries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decisions {
    /// Bot replies per stored decision kind (`answer`, `clarify`, …, [`PICK`]).
    pub kinds: Vec<(String, u64)>,
    /// Per FAQ entry: (id, answers to typed questions, answers to picked suggestions).
    pub entries: Vec<(String, u64, u64)>,
    /// Conversations with at least one visitor message.
    pub conversations: u64,
    /// Handoffs requested (queued or unavailable).
    pub handoff_requests: u64,
}

/// A contact request to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
    pub consent: bool,
}

/// How an advisor's part ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndStatus {
    /// Back to the bot.
    Released,
    Closed,
}

impl EndStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndStatus::Released => "released",
            EndStatus::Closed => "closed",
        }
    }
}

/// A change to the conversation's handoff, applied with the turn.
#[derive(Debug, Clone, PartialEq)]
pub enum HandoffChange {
    /// Joins the queue.
    Open(HandoffCard),
    /// Asked while nobody could answer: recorded for the leads, not queued.
    Unavailable(HandoffCard),
    /// Taken by an advisor: fails with [`Applied::Conflict`] unless the conversation is queued.
    Claim { advisor: String },
    /// Fails with [`Applied::Conflict`] unless `advisor` holds the conversation.
    End { advisor: String, status: EndStatus },
}

/// Changes to the conversation's own fields (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationUpdate {
    pub lang: Option<String>,
    pub fallbacks: Option<u32>,
    pub offer_reason: Option<Option<String>>,
    pub last_question: Option<String>,
    pub last_candidates: Option<Vec<CandidateWire>>,
    /// The visitor was active (moves the resume window).
    pub touch: bool,
}

/// Everything one event changes in one conversation, committed as one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Turn {
    pub conversation: String,
    /// The visitor's message id: a turn whose id is already stored is not applied again.
    pub client_id: Option<String>,
    pub messages: Vec<NewMessage>,
    /// Visitor frames, numbered in order when stored.
    pub frames: Vec<VisitorOut>,
    pub update: ConversationUpdate,
    pub handoff: Option<HandoffChange>,
    pub contact: Option<NewContact>,
    /// The visitor's action, as the outcome of the conversation's last missed question (set
    /// only while that one has none yet).
    pub outcome: Option<Outcome>,
    /// This turn's question, when the bot missed it.
    pub miss: Option<Miss>,
}

/// A frame as stored: its number and its JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    pub seq: u64,
    pub text: String,
}

/// What [`Store::apply`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Committed; these frames are to be delivered.
    Done { frames: Vec<StoredFrame> },
    /// The message id was already stored: nothing changed; these frames answered it.
    Duplicate { frames: Vec<StoredFrame> },
    /// The handoff change's condition failed (already claimed, not yours): nothing changed.
    Conflict,
}

/// A handoff waiting in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedHandoff {
    pub conversation: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub card: HandoffCard,
    pub escalated: bool,
}

/// An advisor account (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisor {
    pub name: String,
    pub role: String,
}

/// The storage operations the service needs. Calls block: run them off the async runtime.
pub trait Store: Send {
    fn create_conversation(
        &mut self,
        id: &str,
        token_hash: &str,
        lang: &str,
        page: Option<&str>,
        now: i64,
    ) -> Result<Conversation, StoreError>;
    fn conversation_by_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<Conversation>, StoreError>;
    fn conversation(&mut self, id: &str) -> Result<Option<Conversation>, StoreError>;
    /// Records a reconnection: activity time, and the page when the widget says it moved.
    fn touch(&mut self, id: &str, page: Option<&str>, now: i64) -> Result<(), StoreError>;
    fn history(&mut self, id: &str) -> Result<Vec<HistoryItem>, StoreError>;
    fn frames_after(&mut self, id: &str, seq: u64) -> Result<Vec<StoredFrame>, StoreError>;
    fn apply(&mut self, turn: Turn, now: i64) -> Result<Applied, StoreError>;
    /// Queued handoffs, first come first.
    fn queue(&mut self) -> Result<Vec<QueuedHandoff>, StoreError>;
    /// The latest handoff card of a conversation.
    fn handoff_card(&mut self, conversation: &str) -> Result<Option<HandoffCard>, StoreError>;
    /// Conversations an advisor holds.
    fn assigned_to(&mut self, advisor: &str) -> Result<Vec<String>, StoreError>;
    /// Marks queued handoffs created before `before` as escalated and returns them.
    fn escalate(&mut self, before: i64, now: i64) -> Result<Vec<QueuedHandoff>, StoreError>;
    fn leads(&mut self) -> Result<Vec<LeadWire>, StoreError>;
    fn add_advisor(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    fn advisor_by_token(&mut self, token_hash: &str) -> Result<Option<Advisor>, StoreError>;
    /// Missed questions recorded at or after `since` (Unix milliseconds), oldest first.
    fn misses(&mut self, since: i64) -> Result<Vec<StoredMiss>, StoreError>;
    /// The bot's decisions at or after `since`, counted.
    fn decisions(&mut self, since: i64) -> Result<Decisions, StoreError>;
    /// Checks the database answers (readiness).
    fn ping(&mut self) -> Result<(), StoreError>;
    /// Folds the write-ahead log into the database file (shutdown).
    fn checkpoint(&mut self) -> Result<(), StoreError>;
}

/// The hex SHA-256 of a secret token: what is stored and looked up instead of the token.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random secret: 32 bytes, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new random conversation id: 12 bytes, hex (public to advisors, unlike the session token).
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
