//! Result rows to the domain's types, written once for both databases: each backend's row type
//! says how to read one column as an integer, a text, a float or a flag ([`Columns`]), and the
//! mappers here do the rest (the same columns, defaults and lenient JSON either way).

use super::StoredFrame;
use crate::model::{
    Advisor, Card, Conversation, HandoffReason, Lead, Message, Miss, MissKind, Mode, Outcome,
    QueuedHandoff, Sender, StoredMiss,
};

/// One result row, column by column (0-based).
pub(super) trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn real(&self, i: usize) -> Result<f64, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn real(&self, i: usize) -> rusqlite::Result<f64> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
}

impl Columns for tokio_postgres::Row {
    type Error = tokio_postgres::Error;
    fn int(&self, i: usize) -> Result<i64, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<String, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn real(&self, i: usize) -> Result<f64, tokio_postgres::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, tokio_postgres::Error> {
        self.try_get(i)
    }
}

/// The columns [`conversation_row`] reads. A macro, so that `concat!` writes each statement at
/// compile time: the per-turn read formatted its SQL on every call. The last column says
/// whether the conversation's latest miss still waits for its outcome: SQLite finds that miss
/// from the conversation's `last_miss` (it has no index of misses by conversation, see its
/// migration 8), PostgreSQL through its index.
macro_rules! conversation_columns {
    () => {
        conversation_columns!(
            "(SELECT m.outcome = 'none' FROM misses m WHERE m.conversation_id = conversations.id ORDER BY m.id DESC LIMIT 1)"
        )
    };
    (last_miss) => {
        conversation_columns!(
            "(SELECT m.outcome = 'none' FROM misses m WHERE m.id = conversations.last_miss)"
        )
    };
    ($awaiting:literal) => {
        concat!(
            "id, created_at, last_active, lang, page, mode, advisor, last_seq, fallbacks, offer_reason, last_question, last_candidates,
         COALESCE(",
            $awaiting,
            ", FALSE)"
        )
    };
}
pub(super) use conversation_columns;

pub(super) fn conversation_row<R: Columns>(row: &R) -> Result<Conversation, R::Error> {
    let candidates = row.opt_text(11)?;
    Ok(Conversation {
        id: row.text(0)?,
        created_at: row.int(1)?,
        last_active: row.int(2)?,
        lang: row.text(3)?,
        page: row.opt_text(4)?,
        mode: Mode::parse(&row.text(5)?),
        advisor: row.opt_text(6)?,
        last_seq: row.int(7)?.max(0) as u64,
        fallbacks: row.int(8)?.clamp(0, i64::from(u32::MAX)) as u32,
        offer_reason: row.opt_text(9)?.as_deref().and_then(HandoffReason::parse),
        last_question: row.opt_text(10)?,
        // A card we cannot read is shown empty rather than failing the whole conversation.
        last_candidates: candidates
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
        awaiting_outcome: row.flag(12)?,
    })
}

pub(super) const LEAD_COLUMNS: &str =
    "id, created_at, conversation_id, name, email, phone, message, consent, lang, page";

pub(super) fn lead_row<R: Columns>(row: &R) -> Result<Lead, R::Error> {
    Ok(Lead {
        id: row.int(0)?,
        created_at: row.int(1)?,
        conversation: row.opt_text(2)?,
        name: row.text(3)?,
        email: row.opt_text(4)?,
        phone: row.opt_text(5)?,
        message: row.opt_text(6)?,
        consent: row.flag(7)?,
        lang: row.opt_text(8)?,
        page: row.opt_text(9)?,
    })
}

pub(super) const MISS_COLUMNS: &str = "id, conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome, outcome_faq_id";

pub(super) fn miss_row<R: Columns>(row: &R) -> Result<StoredMiss, R::Error> {
    let terms = row.text(5)?;
    let kind = row.text(6)?;
    let candidates = row.text(8)?;
    let outcome = row.text(9)?;
    Ok(StoredMiss {
        id: row.int(0)?,
        conversation: row.text(1)?,
        at: row.int(2)?,
        miss: Miss {
            lang: row.text(3)?,
            question: row.text(4)?,
            // A row we cannot read in full still counts, with what can be read.
            terms: serde_json::from_str(&terms).unwrap_or_default(),
            kind: MissKind::parse(&kind).unwrap_or(MissKind::Fallback),
            confidence: row.real(7)? as f32,
            candidates: serde_json::from_str(&candidates).unwrap_or_default(),
            outcome: Outcome::parse(&outcome, row.opt_text(10)?),
        },
    })
}

/// `sender, text, at, advisor, faq_id`.
pub(super) fn message_row<R: Columns>(row: &R) -> Result<Message, R::Error> {
    Ok(Message {
        from: Sender::parse(&row.text(0)?),
        text: row.text(1)?,
        at: row.int(2)?,
        advisor: row.opt_text(3)?,
        faq_id: row.opt_text(4)?,
    })
}

/// `seq, payload`.
pub(super) fn frame_row<R: Columns>(row: &R) -> Result<StoredFrame, R::Error> {
    Ok(StoredFrame {
        seq: row.int(0)?.max(0) as u64,
        payload: row.text(1)?,
    })
}

/// `conversation_id, created_at, card, escalated_at`.
pub(super) fn queued_row<R: Columns>(row: &R) -> Result<QueuedHandoff, R::Error> {
    Ok(QueuedHandoff {
        conversation: row.text(0)?,
        created_at: row.int(1)?,
        card: parse_card(&row.text(2)?),
        escalated: row.opt_int(3)?.is_some(),
    })
}

/// `name, role`.
pub(super) fn advisor_row<R: Columns>(row: &R) -> Result<Advisor, R::Error> {
    Ok(Advisor {
        name: row.text(0)?,
        role: row.text(1)?,
    })
}

pub(super) fn parse_card(json: &str) -> Card {
    serde_json::from_str(json).unwrap_or_else(|_| Card::unreadable())
}

pub(super) fn card_json(card: &Card) -> String {
    serde_json::to_string(card).unwrap_or_else(|_| "{}".into())
}
