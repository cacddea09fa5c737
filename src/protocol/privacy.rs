//! A visitor's data as `faqbot visitor export` prints it (the right of access): one JSON object
//! with the conversation, every message, the handoffs, the contact requests and the questions
//! the bot missed. Times are RFC 3339, UTC. Frames are left out: they are the same messages as
//! the visitor's screen showed them.

use serde::Serialize;

use super::{HandoffCard, HistoryItem, LeadWire, ModeWire};
use crate::clock::rfc3339;
use crate::model::{Conversation, Handoff, StoredMiss, VisitorRecord};

/// Everything stored about one conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitorExportWire {
    pub exported_at: String,
    pub conversation: ConversationWire,
    /// Oldest first: the visitor's, the bot's and the advisors' messages.
    pub messages: Vec<HistoryItem>,
    pub handoffs: Vec<HandoffWire>,
    pub contact_requests: Vec<LeadWire>,
    pub missed_questions: Vec<MissedQuestionWire>,
}

/// The conversation's own fields (its session token is stored only as a hash, and left out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationWire {
    pub id: String,
    pub created_at: String,
    pub last_active: String,
    pub lang: String,
    /// The page the widget was on.
    pub page: Option<String>,
    pub mode: ModeWire,
    pub advisor: Option<String>,
    pub last_question: Option<String>,
}

/// A request for an advisor and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandoffWire {
    pub created_at: String,
    /// `queued`, `assigned`, `unavailable`, `released` or `closed`.
    pub status: String,
    pub advisor: Option<String>,
    pub claimed_at: Option<String>,
    pub escalated_at: Option<String>,
    pub ended_at: Option<String>,
    /// What the advisor was shown: the reason, the last question, the bot's candidates.
    pub card: HandoffCard,
}

/// A question the bot could not answer well, as recorded for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissedQuestionWire {
    pub at: String,
    pub lang: String,
    pub question: String,
    /// `fallback`, `clarify`, `low_confidence` or `handoff`.
    pub kind: &'static str,
    pub confidence: f32,
    /// What the visitor did next: `none`, `picked`, `answered`, `asked_again`, `asked_person`,
    /// `other`.
    pub outcome: &'static str,
}

impl VisitorExportWire {
    /// The record as exported at `now` (Unix milliseconds).
    pub fn new(record: &VisitorRecord, now: i64) -> VisitorExportWire {
        VisitorExportWire {
            exported_at: rfc3339(now),
            conversation: ConversationWire::from(&record.conversation),
            messages: record.messages.iter().map(HistoryItem::from).collect(),
            handoffs: record.handoffs.iter().map(HandoffWire::from).collect(),
            contact_requests: record.contacts.iter().map(LeadWire::from).collect(),
            missed_questions: record.misses.iter().map(MissedQuestionWire::from).collect(),
        }
    }
}

impl From<&Conversation> for ConversationWire {
    fn from(c: &Conversation) -> Self {
        ConversationWire {
            id: c.id.clone(),
            created_at: rfc3339(c.created_at),
            last_active: rfc3339(c.last_active),
            lang: c.lang.clone(),
            page: c.page.clone(),
            mode: c.mode.into(),
            advisor: c.advisor.clone(),
            last_question: c.last_question.clone(),
        }
    }
}

impl From<&Handoff> for HandoffWire {
    fn from(h: &Handoff) -> Self {
        HandoffWire {
            created_at: rfc3339(h.created_at),
            status: h.status.clone(),
            advisor: h.advisor.clone(),
            claimed_at: h.claimed_at.map(rfc3339),
            escalated_at: h.escalated_at.map(rfc3339),
            ended_at: h.ended_at.map(rfc3339),
            card: HandoffCard::from(&h.card),
        }
    }
}

impl From<&StoredMiss> for MissedQuestionWire {
    fn from(m: &StoredMiss) -> Self {
        MissedQuestionWire {
            at: rfc3339(m.at),
            lang: m.miss.lang.clone(),
            question: m.miss.question.clone(),
            kind: m.miss.kind.as_str(),
            confidence: m.miss.confidence,
            outcome: m.miss.outcome.as_str(),
        }
    }
}
