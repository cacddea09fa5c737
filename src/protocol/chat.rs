//! WebSocket frames: visitor frames (`/ws`) and advisor frames (`/ws/advisor`) are JSON text
//! frames, one object each, tagged by `"type"`.

// Conventions, beyond the list:
//
// - **`seq`**: every visitor-bound frame that belongs to the conversation (`reply`, `handoff`,
//   `advisor_message`, `contact`) carries `seq`, increasing by one per conversation, and is
//   stored before it is sent, so `GET /ws?session=…&last_seq=N` replays exactly the frames
//   after N. `welcome` carries the `seq` the client can count from: the conversation's last
//   one (0 for a new one), or, on a resume with `last_seq=N`, N (at most the last one), the
//   replayed frames following it. `error` frames answer one bad frame on one connection: they are
//   not part of the conversation and carry no `seq`.
// - **`handoff_offer`** on `reply`: `true` when the bot offers to call an advisor (after two
//   fallbacks in a row, or after a consultation/contact answer). The widget shows the
//   "talk to an advisor" button; pressing it sends `{"type":"handoff"}`.
// - Re-sending a visitor `message` with an `id` already stored sends back the stored frames that
//   answered it, with their original `seq` (clients drop a `seq` they already have).
// - The advisor `queue` frame's items carry a `card` (why, last question, the bot's candidates,
//   page, language) and `escalated`. `alert` frames (`new` / `escalated`) announce a handoff.
// - An advisor `erase` removes a conversation they hold from the store; every advisor gets
//   `erased`, and the visitor's connection is closed with code 4001 (the widget then forgets
//   the conversation).

use serde::{Deserialize, Serialize};

use super::cli::ReplyPayload;

/// A frame a visitor sends on `/ws`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VisitorIn {
    /// A question or a message for the advisor. `id` makes re-sending idempotent: a resent id
    /// among the conversation's last 32 gets the frames that answered it, not a second answer.
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
/// it when sent (see [`super::numbered`]).
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
        /// On `rate_limited`: milliseconds after which the frame may be sent again.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
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
    /// Erases the conversation the advisor holds, and everything stored with it (the visitor's
    /// right to erasure); the visitor's connection is closed.
    Erase {
        conversation: String,
    },
}

impl AdvisorIn {
    pub const TYPES: [&'static str; 5] = ["claim", "message", "release", "close", "erase"];
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
    /// The queue's first conversations (at most `handoff::QUEUE_FRAME_MAX`, first come
    /// first) and how many wait in all: sent when an advisor connects; changes follow as the
    /// four frames below, each with the new total.
    Queue {
        conversations: Vec<QueueItem>,
        total: usize,
    },
    /// A conversation joined the list, at its end (the list is in arrival order: a newcomer, or
    /// the next one in line when a listed one left).
    QueueAdded {
        item: QueueItem,
        total: usize,
    },
    /// A listed conversation left the queue (claimed, back with the bot, erased).
    QueueRemoved {
        conversation: String,
        total: usize,
    },
    /// A listed conversation changed where it is (escalated).
    QueueUpdated {
        item: QueueItem,
        total: usize,
    },
    /// Only the number waiting beyond the list changed.
    QueueTotal {
        total: usize,
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
    /// The conversation was erased by advisor `by`: nothing of it is stored any more.
    Erased {
        conversation: String,
        by: String,
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
