//! Handing conversations to advisors: live presence and delivery ([`Hub`]), availability
//! (presence and opening hours), handoff cards, the queue frame and alerts (webhook).
//!
//! **Invariant:** a claim is decided by the store in one conditional update, never in memory,
//! so exactly one advisor wins even across restarts or two service instances.

mod alerts;
mod hub;

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
pub fn queue_frame(queue: &[QueuedHandoff]) -> AdvisorOut {
    AdvisorOut::Queue {
        conversations: queue
            .iter()
            .map(|h| QueueItem {
                id: h.conversation.clone(),
                waiting_since: rfc3339(h.created_at),
                preview: h
                    .card
                    .last_question
                    .as_deref()
                    .map(preview)
                    .unwrap_or_default(),
                lang: h.card.lang.clone(),
                card: HandoffCard::from(&h.card),
                escalated: h.escalated,
            })
            .collect(),
    }
}

/// The first 140 characters of a question, on a character boundary.
fn preview(text: &str) -> String {
    match text.char_indices().nth(140) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
