//! The domain (`model`) as the wire shows it: conversions at the edge, and the numbering of a
//! stored visitor frame (its payload is kept without `seq`; the number is added when sent).

use super::{
    CandidateWire, FromWire, HandoffCard, HandoffStatusWire, HistoryItem, LeadWire, ModeWire,
    ReplyPayload, VisitorOut,
};
use crate::clock::rfc3339;
use crate::model::{Candidate, Card, HandoffStatus, Lead, Message, Mode, Notice, Sender};

impl From<&Candidate> for CandidateWire {
    fn from(c: &Candidate) -> Self {
        CandidateWire {
            id: c.id.clone(),
            is_intent: c.is_intent,
            question: c.question.clone(),
            confidence: c.confidence,
        }
    }
}

impl From<&Card> for HandoffCard {
    fn from(card: &Card) -> Self {
        HandoffCard {
            reason: card.reason.clone(),
            last_question: card.last_question.clone(),
            candidates: card.candidates.iter().map(CandidateWire::from).collect(),
            page: card.page.clone(),
            lang: card.lang.clone(),
        }
    }
}

impl From<Sender> for FromWire {
    fn from(s: Sender) -> Self {
        match s {
            Sender::Visitor => FromWire::Visitor,
            Sender::Bot => FromWire::Bot,
            Sender::Advisor => FromWire::Advisor,
        }
    }
}

impl From<&Message> for HistoryItem {
    fn from(m: &Message) -> Self {
        HistoryItem {
            from: m.from.into(),
            text: m.text.clone(),
            at: rfc3339(m.at),
            advisor: m.advisor.clone(),
            faq_id: m.faq_id.clone(),
        }
    }
}

impl From<&Lead> for LeadWire {
    fn from(l: &Lead) -> Self {
        LeadWire {
            id: l.id,
            created_at: rfc3339(l.created_at),
            conversation: l.conversation.clone(),
            name: l.name.clone(),
            email: l.email.clone(),
            phone: l.phone.clone(),
            message: l.message.clone(),
            consent: l.consent,
            lang: l.lang.clone(),
            page: l.page.clone(),
        }
    }
}

impl From<Mode> for ModeWire {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Bot => ModeWire::Bot,
            Mode::Queued => ModeWire::Queued,
            Mode::Advisor => ModeWire::Advisor,
        }
    }
}

impl From<HandoffStatus> for HandoffStatusWire {
    fn from(s: HandoffStatus) -> Self {
        match s {
            HandoffStatus::Queued => HandoffStatusWire::Queued,
            HandoffStatus::Assigned => HandoffStatusWire::Assigned,
            HandoffStatus::Unavailable => HandoffStatusWire::Unavailable,
            HandoffStatus::Ended => HandoffStatusWire::Ended,
        }
    }
}

impl From<&Notice> for VisitorOut {
    fn from(n: &Notice) -> Self {
        match n {
            Notice::Reply {
                reply_to,
                reply,
                offer,
            } => VisitorOut::Reply {
                reply_to: reply_to.clone(),
                reply: ReplyPayload::from(reply),
                handoff_offer: *offer,
            },
            Notice::Handoff {
                status,
                position,
                advisor,
            } => VisitorOut::Handoff {
                status: (*status).into(),
                position: *position,
                advisor: advisor.clone(),
            },
            Notice::AdvisorMessage { advisor, text } => VisitorOut::AdvisorMessage {
                text: text.clone(),
                advisor: advisor.clone(),
            },
            Notice::ContactSaved => VisitorOut::Contact { status: "saved" },
        }
    }
}

/// What the store keeps of a notice: its frame's JSON, without `seq`.
pub fn payload(notice: &Notice) -> String {
    VisitorOut::from(notice).to_text()
}

/// The frame sent for a stored payload numbered `seq`: the payload's JSON object with `seq`
/// added.
pub fn numbered(seq: u64, payload: &str) -> String {
    let body = payload.trim_end();
    match body.strip_suffix('}') {
        // A payload is a JSON object with at least its "type": append the field in place,
        // without parsing what was just written.
        Some(open) if open.trim_end().len() > 1 => format!("{open},\"seq\":{seq}}}"),
        _ => {
            let mut value: serde_json::Value =
                serde_json::from_str(body).unwrap_or_else(|_| serde_json::json!({}));
            if let serde_json::Value::Object(map) = &mut value {
                map.insert("seq".to_owned(), seq.into());
            }
            value.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbered_payload_is_the_payload_with_its_seq() {
        let p = payload(&Notice::ContactSaved);
        let framed: serde_json::Value = serde_json::from_str(&numbered(7, &p)).expect("valid JSON");
        assert_eq!(
            framed,
            serde_json::json!({"type": "contact", "status": "saved", "seq": 7})
        );
        // Anything else still comes out as an object with its number.
        let odd: serde_json::Value = serde_json::from_str(&numbered(2, "{}")).expect("JSON");
        assert_eq!(odd, serde_json::json!({"seq": 2}));
    }
}
