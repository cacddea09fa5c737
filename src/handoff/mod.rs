//! Handing conversations to advisors: live presence and delivery ([`Hub`]), availability
//! (presence and opening hours), handoff cards, the queue frame and alerts (webhook).
//!
//! **Invariant:** a claim is decided by the store in one conditional update, never in memory,
//! so exactly one advisor wins even across restarts or two service instances.

mod alerts;
mod hub;
pub mod queue;

pub use alerts::Webhook;
pub use hub::{Hub, Outbound};

use crate::clock::rfc3339;
use crate::config::Schedule;
use crate::model::QueuedHandoff;
use crate::protocol::{AdvisorOut, HandoffCard, QueueItem};

/// Whether a visitor asking now can be queued: some advisor online, and inside opening hours.
pub fn available(hub: &Hub, schedule: Option<&Schedule>, now: time::OffsetDateTime) -> bool {
    hub.advisors_online() > 0 && schedule.is_none_or(|s| s.is_open(now))
}

/// The advisor `queue` frame.
///
/// Bounded whatever the queue: its first [`QUEUE_FRAME_MAX`] conversations and the total, each
/// question cut to [`CARD_QUESTION_MAX`] characters (the claim's transcript has it whole). Two
/// thousand visitors who queue and leave cost each advisor ~50 KB per change, not megabytes.
pub fn queue_frame(queue: &[QueuedHandoff]) -> AdvisorOut {
    AdvisorOut::Queue {
        total: queue.len(),
        conversations: queue
            .iter()
            .take(QUEUE_FRAME_MAX)
            .map(|h| {
                let mut card = HandoffCard::from(&h.card);
                card.last_question = card
                    .last_question
                    .as_deref()
                    .map(|q| cut(q, CARD_QUESTION_MAX));
                QueueItem {
                    id: h.conversation.clone(),
                    waiting_since: rfc3339(h.created_at),
                    preview: h
                        .card
                        .last_question
                        .as_deref()
                        .map(|q| cut(q, 140))
                        .unwrap_or_default(),
                    lang: h.card.lang.clone(),
                    card,
                    escalated: h.escalated,
                }
            })
            .collect(),
    }
}

/// Conversations a queue frame lists at most; the console says how many more wait.
pub const QUEUE_FRAME_MAX: usize = 50;
/// Characters of the visitor's question on a queued card.
pub const CARD_QUESTION_MAX: usize = 200;

/// The first `max` characters of a text, on a character boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Card;

    #[test]
    fn a_queue_frame_is_bounded_whatever_the_queue() {
        let long = "é".repeat(2_000);
        let queue: Vec<QueuedHandoff> = (0..2_000)
            .map(|i| QueuedHandoff {
                conversation: format!("c{i}"),
                created_at: i,
                card: Card {
                    last_question: Some(long.clone()),
                    ..Card::unreadable()
                },
                escalated: false,
            })
            .collect();
        let text = queue_frame(&queue).to_text();
        let frame: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(frame["total"], 2_000);
        let items = frame["conversations"].as_array().expect("items");
        assert_eq!(items.len(), QUEUE_FRAME_MAX);
        assert_eq!(items[0]["id"], "c0", "first come first");
        let question = items[0]["card"]["last_question"]
            .as_str()
            .expect("question");
        assert_eq!(
            question.chars().count(),
            CARD_QUESTION_MAX + 1,
            "cut, with …"
        );
        assert!(text.len() < 60_000, "{} bytes", text.len());
    }
}
