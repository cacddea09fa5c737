//! The fields of a bot reply and the JSON lines of `faqbot ask --json`. [`ReplyPayload`] is
//! also the body of the WebSocket `reply` frame, flattened into it.

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
