//! Wire formats: the JSON lines of `faqbot ask --json` and the WebSocket frames. The only place
//! that derives Serialize/Deserialize for the outside world; conversions happen here, at the edge.

use serde::{Deserialize, Serialize};

use crate::matcher::{Reply, ReplyKind, Suggestion};

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

/// A frame the server sends to a visitor. Conversation frames get their `seq` when stored
/// (see [`VisitorOut::encode`]).
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
    /// The JSON text of a conversation frame numbered `seq`.
    pub fn encode(&self, seq: u64) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("seq".to_owned(), seq.into());
        }
        value.to_string()
    }

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
    Error {
        code: &'static str,
        message: String,
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

/// Contact requests as CSV (header line first), for `faqbot leads` and `GET /api/leads?format=csv`.
pub fn leads_csv(leads: &[LeadWire]) -> String {
    let mut out =
        String::from("id,created_at,conversation,name,email,phone,message,consent,lang,page\n");
    for l in leads {
        let opt = |s: &Option<String>| csv_field(s.as_deref().unwrap_or(""));
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            l.id,
            csv_field(&l.created_at),
            opt(&l.conversation),
            csv_field(&l.name),
            opt(&l.email),
            opt(&l.phone),
            opt(&l.message),
            l.consent,
            opt(&l.lang),
            opt(&l.page)
        ));
    }
    out
}

/// One CSV field, quoted. A leading `=` or `@` is escaped so spreadsheets do not run it.
fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    format!("\"{}\"", field.replace('"', "\"\""))
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
