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

use std::collections::{HashMap, HashSet};

use crate::clock::rfc3339;
use crate::config::Schedule;
use crate::model::QueuedHandoff;
use crate::protocol::{AdvisorOut, HandoffCard, QueueItem};

/// Whether a visitor asking now can be queued: some of `advisors` online (on any node), and
/// inside opening hours.
pub fn available(advisors: usize, schedule: Option<&Schedule>, now: time::OffsetDateTime) -> bool {
    advisors > 0 && schedule.is_none_or(|s| s.is_open(now))
}

/// The queue as advisors are shown it: its first [`QUEUE_FRAME_MAX`] conversations and how
/// many wait in all, each question cut to [`CARD_QUESTION_MAX`] characters (the claim's
/// transcript has it whole). Bounded whatever the queue: two thousand visitors who queue and
/// leave cost a console ~50 KB when it connects, and one item per change after.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueView {
    pub items: Vec<QueueItem>,
    pub total: usize,
}

impl QueueView {
    pub fn of(queue: &[QueuedHandoff]) -> QueueView {
        QueueView {
            total: queue.len(),
            items: queue.iter().take(QUEUE_FRAME_MAX).map(item).collect(),
        }
    }

    /// The whole view, for a console that connects.
    pub fn frame(&self) -> AdvisorOut {
        AdvisorOut::Queue {
            conversations: self.items.clone(),
            total: self.total,
        }
    }

    /// The frames that take a console showing `self` to `next`: the items that left, those
    /// that changed, those that joined (in queue order: they come after every item kept, since
    /// the queue is in arrival order), or the total alone when no item moved.
    pub fn changes(&self, next: &QueueView) -> Vec<AdvisorOut> {
        let total = next.total;
        let before: HashMap<&str, &QueueItem> =
            self.items.iter().map(|i| (i.id.as_str(), i)).collect();
        let after: HashSet<&str> = next.items.iter().map(|i| i.id.as_str()).collect();
        let mut frames: Vec<AdvisorOut> = self
            .items
            .iter()
            .filter(|i| !after.contains(i.id.as_str()))
            .map(|i| AdvisorOut::QueueRemoved {
                conversation: i.id.clone(),
                total,
            })
            .collect();
        for item in &next.items {
            match before.get(item.id.as_str()) {
                Some(old) if *old == item => {}
                Some(_) => frames.push(AdvisorOut::QueueUpdated {
                    item: item.clone(),
                    total,
                }),
                None => frames.push(AdvisorOut::QueueAdded {
                    item: item.clone(),
                    total,
                }),
            }
        }
        if frames.is_empty() && self.total != total {
            frames.push(AdvisorOut::QueueTotal { total });
        }
        frames
    }
}

/// One queued conversation as listed.
fn item(h: &QueuedHandoff) -> QueueItem {
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

    fn queued(ids: impl IntoIterator<Item = i64>) -> Vec<QueuedHandoff> {
        ids.into_iter()
            .map(|i| QueuedHandoff {
                conversation: format!("c{i}"),
                created_at: i,
                card: Card::unreadable(),
                escalated: false,
            })
            .collect()
    }

    /// What a console shows after `frames`, from `view`.
    fn apply(view: &QueueView, frames: &[AdvisorOut]) -> QueueView {
        let mut shown = view.clone();
        for f in frames {
            match f {
                AdvisorOut::QueueAdded { item, total } => {
                    shown.items.push(item.clone());
                    shown.total = *total;
                }
                AdvisorOut::QueueRemoved {
                    conversation,
                    total,
                } => {
                    shown.items.retain(|i| &i.id != conversation);
                    shown.total = *total;
                }
                AdvisorOut::QueueUpdated { item, total } => {
                    for i in shown.items.iter_mut().filter(|i| i.id == item.id) {
                        *i = item.clone();
                    }
                    shown.total = *total;
                }
                AdvisorOut::QueueTotal { total } => shown.total = *total,
                other => panic!("not a queue change: {other:?}"),
            }
        }
        shown
    }

    #[test]
    fn queue_changes_are_sent_as_the_items_that_left_changed_or_joined() {
        let ids = |frames: &[AdvisorOut]| -> Vec<String> {
            frames
                .iter()
                .map(|f| match f {
                    AdvisorOut::QueueAdded { item, .. } => format!("+{}", item.id),
                    AdvisorOut::QueueRemoved { conversation, .. } => format!("-{conversation}"),
                    AdvisorOut::QueueUpdated { item, .. } => format!("~{}", item.id),
                    AdvisorOut::QueueTotal { total } => format!("={total}"),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let mut steps = vec![
            (queued(0..3), vec!["+c0", "+c1", "+c2"]),
            // c0 claimed, c3 arrives.
            (queued(1..4), vec!["-c0", "+c3"]),
            (queued(1..4), vec![]),
        ];
        let mut escalated = queued(1..4);
        escalated[0].escalated = true;
        steps.push((escalated, vec!["~c1"]));
        // Beyond the list only the total moves; when a listed one leaves, the next comes in.
        steps.push((queued(1..1 + QUEUE_FRAME_MAX as i64), vec![]));
        steps.push((queued(1..2 + QUEUE_FRAME_MAX as i64), vec!["=51"]));
        steps.push((queued(2..2 + QUEUE_FRAME_MAX as i64), vec!["-c1", "+c51"]));
        let mut shown = QueueView::default();
        for (i, (queue, expected)) in steps.into_iter().enumerate() {
            let next = QueueView::of(&queue);
            let frames = shown.changes(&next);
            if i != 4 {
                assert_eq!(ids(&frames), expected, "step {i}");
            }
            shown = apply(&shown, &frames);
            assert_eq!(shown, next, "step {i}: the console shows the queue");
        }
    }

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
        let text = QueueView::of(&queue).frame().to_text();
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
