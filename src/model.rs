//! The chat service's domain: conversations, their messages and modes, handoffs, contact
//! requests and missed questions. Storage takes and returns these; the wire maps them at the edge.
//!
//! The card and candidate types derive serde because the store keeps them as JSON columns; that
//! format is the store's, not the wire's (see `protocol`).

use serde::{Deserialize, Serialize};

use crate::matcher::Reply;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Visitor,
    Bot,
    Advisor,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Visitor => "visitor",
            Sender::Bot => "bot",
            Sender::Advisor => "advisor",
        }
    }

    /// From the stored name; anything unknown reads as the bot.
    pub fn parse(s: &str) -> Sender {
        match s {
            "visitor" => Sender::Visitor,
            "advisor" => Sender::Advisor,
            _ => Sender::Bot,
        }
    }
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

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bot => "bot",
            Mode::Queued => "queued",
            Mode::Advisor => "advisor",
        }
    }

    /// From the stored name; anything unknown reads as the bot.
    pub fn parse(s: &str) -> Mode {
        match s {
            "queued" => Mode::Queued,
            "advisor" => Mode::Advisor,
            _ => Mode::Bot,
        }
    }
}

/// One of the bot's best candidates for a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub is_intent: bool,
    pub question: String,
    pub confidence: f32,
}

impl Candidate {
    /// The reply's candidates, confidences rounded to three places (they are shown to people).
    pub fn of(reply: &Reply) -> Vec<Candidate> {
        reply
            .candidates
            .iter()
            .map(|c| Candidate {
                id: c.id.clone(),
                is_intent: c.is_intent,
                question: c.question.clone(),
                confidence: (c.confidence * 1000.0).round() / 1000.0,
            })
            .collect()
    }
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
    pub offer_reason: Option<HandoffReason>,
    pub last_question: Option<String>,
    /// The bot's best candidates for `last_question`.
    pub last_candidates: Vec<Candidate>,
    /// Its last missed question has no outcome yet: the visitor's next action is that outcome.
    /// Known here so that a turn with nothing to record asks the store for nothing.
    pub awaiting_outcome: bool,
}

/// Why a conversation is handed to an advisor (shown on the handoff card).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffReason {
    /// The visitor asked for a person.
    Asked,
    /// The visitor asked about a consultation and accepted the offer.
    Consultation,
    /// The bot could not answer twice in a row and the visitor accepted the offer.
    RepeatedFallback,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Asked => "asked",
            HandoffReason::Consultation => "consultation",
            HandoffReason::RepeatedFallback => "repeated_fallback",
        }
    }

    pub fn parse(s: &str) -> Option<HandoffReason> {
        match s {
            "asked" => Some(HandoffReason::Asked),
            "consultation" => Some(HandoffReason::Consultation),
            "repeated_fallback" => Some(HandoffReason::RepeatedFallback),
            _ => None,
        }
    }
}

/// What an advisor needs to start without rereading the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// A [`HandoffReason`] name.
    pub reason: String,
    pub last_question: Option<String>,
    pub candidates: Vec<Candidate>,
    pub page: Option<String>,
    pub lang: String,
}

impl Card {
    /// The card advisors see for `conv` handed off now.
    pub fn of(conv: &Conversation, reason: HandoffReason) -> Card {
        Card {
            reason: reason.as_str().to_owned(),
            last_question: conv.last_question.clone(),
            candidates: conv.last_candidates.clone(),
            page: conv.page.clone(),
            lang: conv.lang.clone(),
        }
    }

    /// What is shown for a stored card that cannot be read.
    pub fn unreadable() -> Card {
        Card {
            reason: HandoffReason::Asked.as_str().to_owned(),
            last_question: None,
            candidates: Vec::new(),
            page: None,
            lang: "fr".to_owned(),
        }
    }
}

/// One stored message of a conversation (a visitor's history, an advisor's transcript).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub from: Sender,
    pub text: String,
    /// Unix milliseconds.
    pub at: i64,
    /// The advisor's name, on advisor messages.
    pub advisor: Option<String>,
    /// The FAQ entry a bot message answered from.
    pub faq_id: Option<String>,
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
    /// The index, in its turn's `frames`, of the frame that tells the visitor this message (a
    /// bot reply, an advisor's message): the store keeps that frame with the message instead
    /// of in a row of its own.
    pub frame: Option<usize>,
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
            frame: None,
        }
    }

    pub fn advisor(name: &str, text: impl Into<String>) -> NewMessage {
        NewMessage {
            from: Sender::Advisor,
            text: text.into(),
            faq_id: None,
            confidence: None,
            advisor: Some(name.to_owned()),
            kind: None,
            frame: None,
        }
    }
}

/// Where a queued or assigned handoff stands, as the visitor is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffStatus {
    Queued,
    Assigned,
    Unavailable,
    Ended,
}

/// Something the visitor is told as part of the conversation: stored, numbered, then sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// The bot's reply to the message `reply_to` (absent for a picked suggestion).
    Reply {
        reply_to: Option<String>,
        reply: Reply,
        /// The bot offers an advisor with this reply.
        offer: bool,
    },
    Handoff {
        status: HandoffStatus,
        /// Place in the queue, 1 first (queued only).
        position: Option<u32>,
        advisor: Option<String>,
    },
    AdvisorMessage {
        advisor: String,
        text: String,
    },
    ContactSaved,
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
    pub candidates: Vec<Candidate>,
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

/// A stored contact request (a lead for the advisors).
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub id: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub conversation: Option<String>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
    pub consent: bool,
    pub lang: Option<String>,
    pub page: Option<String>,
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
    Open(Card),
    /// Asked while nobody could answer: recorded for the leads, not queued.
    Unavailable(Card),
    /// Taken by an advisor: the turn is refused unless the conversation is queued.
    Claim { advisor: String },
    /// Refused unless `advisor` holds the conversation.
    End { advisor: String, status: EndStatus },
}

/// Changes to the conversation's own fields (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationUpdate {
    pub lang: Option<String>,
    pub fallbacks: Option<u32>,
    pub offer_reason: Option<Option<HandoffReason>>,
    pub last_question: Option<String>,
    pub last_candidates: Option<Vec<Candidate>>,
    /// The visitor was active (moves the resume window).
    pub touch: bool,
}

/// Everything one event changes in one conversation: stored together or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn<F = Notice> {
    pub conversation: String,
    /// The visitor's message id: a turn whose id is already stored is not applied again.
    pub client_id: Option<String>,
    pub messages: Vec<NewMessage>,
    /// What the visitor is told, numbered in order when stored.
    pub frames: Vec<F>,
    pub update: ConversationUpdate,
    pub handoff: Option<HandoffChange>,
    pub contact: Option<NewContact>,
    /// The visitor's action, as the outcome of the conversation's last missed question (set
    /// only while that one has none yet).
    pub outcome: Option<Outcome>,
    /// This turn's question, when the bot missed it.
    pub miss: Option<Miss>,
    /// The conversation as the turn was decided from it: the store applies the turn only if
    /// the conversation is still so, and answers [`crate::store::Applied::Stale`] otherwise.
    pub seen: Option<Seen>,
}

/// What a turn's decision read of its conversation that another writer would change: every
/// write to a conversation that is not a turn of its own visitor adds a frame (`last_seq`) or
/// moves its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub last_seq: u64,
    pub mode: Mode,
}

impl Conversation {
    /// What the turn was decided from, for [`Turn::seen`].
    pub fn seen(&self) -> Seen {
        Seen {
            last_seq: self.last_seq,
            mode: self.mode,
        }
    }

    /// The conversation once `turn` is applied and its frames numbered up to `last_seq`: what
    /// the stores write, so that the next turn can be decided without reading it again
    /// (`last_active` aside: the clock here, not the writer's).
    pub fn after<F>(&self, turn: &Turn<F>, last_seq: u64, now: i64) -> Conversation {
        let mut next = self.clone();
        match &turn.handoff {
            None | Some(HandoffChange::Unavailable(_)) => {}
            Some(HandoffChange::Open(_)) => {
                next.mode = Mode::Queued;
                next.advisor = None;
            }
            Some(HandoffChange::Claim { advisor }) => {
                next.mode = Mode::Advisor;
                next.advisor = Some(advisor.clone());
            }
            Some(HandoffChange::End { .. }) => {
                next.mode = Mode::Bot;
                next.advisor = None;
                next.fallbacks = 0;
            }
        }
        let u = &turn.update;
        if let Some(lang) = &u.lang {
            next.lang = lang.clone();
        }
        if let Some(fallbacks) = u.fallbacks {
            next.fallbacks = fallbacks;
        }
        if let Some(reason) = u.offer_reason {
            next.offer_reason = reason;
        }
        if let Some(question) = &u.last_question {
            next.last_question = Some(question.clone());
        }
        if let Some(candidates) = &u.last_candidates {
            next.last_candidates = candidates.clone();
        }
        if u.touch {
            next.last_active = now;
        }
        // As the store applies them: the outcome belongs to the miss before this turn's own.
        if turn.outcome.is_some() {
            next.awaiting_outcome = false;
        }
        if let Some(miss) = &turn.miss {
            next.awaiting_outcome = miss.outcome == Outcome::None;
        }
        next.last_seq = last_seq;
        next
    }
}

impl<F> Default for Turn<F> {
    fn default() -> Self {
        Turn {
            conversation: String::new(),
            client_id: None,
            messages: Vec::new(),
            frames: Vec::new(),
            update: ConversationUpdate::default(),
            handoff: None,
            contact: None,
            outcome: None,
            miss: None,
            seen: None,
        }
    }
}

impl<F> Turn<F> {
    /// The same turn with its frames mapped (to what the store keeps: their wire text).
    pub fn map_frames<G>(self, f: impl FnMut(F) -> G) -> Turn<G> {
        Turn {
            conversation: self.conversation,
            client_id: self.client_id,
            messages: self.messages,
            frames: self.frames.into_iter().map(f).collect(),
            update: self.update,
            handoff: self.handoff,
            contact: self.contact,
            outcome: self.outcome,
            miss: self.miss,
            seen: self.seen,
        }
    }
}

/// A handoff waiting in the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedHandoff {
    pub conversation: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub card: Card,
    pub escalated: bool,
}

/// An advisor account (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisor {
    pub name: String,
    pub role: String,
}

/// A handoff as stored: a request for an advisor and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Handoff {
    /// Unix milliseconds.
    pub created_at: i64,
    /// `queued`, `assigned`, `unavailable`, `released` or `closed`.
    pub status: String,
    pub card: Card,
    pub advisor: Option<String>,
    /// Unix milliseconds of the claim, the escalation and the end, when they happened.
    pub claimed_at: Option<i64>,
    pub escalated_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// Everything stored about one conversation: what a visitor is given when they ask for their data.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitorRecord {
    pub conversation: Conversation,
    /// Oldest first.
    pub messages: Vec<Message>,
    pub handoffs: Vec<Handoff>,
    pub contacts: Vec<Lead>,
    pub misses: Vec<StoredMiss>,
}

/// Rows removed from each table by a purge or an erasure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub conversations: u64,
    pub messages: u64,
    pub frames: u64,
    pub misses: u64,
    pub handoffs: u64,
    pub contacts: u64,
}

impl Removed {
    /// Each table's name and the rows removed from it, conversations first.
    pub fn tables(&self) -> [(&'static str, u64); 6] {
        [
            ("conversations", self.conversations),
            ("messages", self.messages),
            ("frames", self.frames),
            ("misses", self.misses),
            ("handoffs", self.handoffs),
            ("contacts", self.contacts),
        ]
    }

    pub fn total(&self) -> u64 {
        self.tables().iter().map(|(_, n)| n).sum()
    }

    pub fn add(&mut self, other: Removed) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.frames += other.frames;
        self.misses += other.misses;
        self.handoffs += other.handoffs;
        self.contacts += other.contacts;
    }
}

/// What a purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub removed: Removed,
    /// Conversations past the retention period kept because an advisor holds them or they wait
    /// in the queue: purged once they are back with the bot.
    pub kept_in_chat: u64,
}

/// An advisor account as `faqbot advisor list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisorSummary {
    pub name: String,
    pub role: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Sessions (console logins) not yet ended or expired.
    pub live_sessions: u64,
}
