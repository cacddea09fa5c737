//! The SQLite [`Store`]: one file `faqbot.db` in WAL mode with `synchronous=FULL`, so a commit
//! survives a crash of the process and of the machine. Migrations run on open.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    rfc3339, Advisor, Applied, Conversation, Decisions, HandoffChange, Miss, MissKind, Mode,
    Outcome, QueuedHandoff, Sender, Store, StoreError, StoredFrame, StoredMiss, Turn, PICK,
};
use crate::protocol::{FromWire, HandoffCard, HistoryItem, LeadWire};

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_active INTEGER NOT NULL,
    lang TEXT NOT NULL,
    page TEXT,
    mode TEXT NOT NULL DEFAULT 'bot',
    advisor TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    fallbacks INTEGER NOT NULL DEFAULT 0,
    offer_reason TEXT,
    last_question TEXT,
    last_candidates TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    at INTEGER NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    faq_id TEXT,
    confidence REAL,
    advisor TEXT,
    client_id TEXT
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE UNIQUE INDEX messages_by_client_id ON messages(conversation_id, client_id) WHERE client_id IS NOT NULL;
CREATE TABLE frames (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    reply_to TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE TABLE handoffs (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    card TEXT NOT NULL,
    advisor TEXT,
    claimed_at INTEGER,
    escalated_at INTEGER,
    ended_at INTEGER
);
CREATE INDEX handoffs_by_status ON handoffs(status, id);
CREATE INDEX handoffs_by_conversation ON handoffs(conversation_id, id);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT,
    created_at INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    message TEXT,
    consent INTEGER NOT NULL,
    lang TEXT,
    page TEXT
);
CREATE TABLE advisors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
"#,
    // 2: what the bot missed. `messages.kind` is the bot's decision for each reply (the report's
    // rates); `misses` keeps each fallback, clarify, low-confidence answer and handoff in words,
    // with what the visitor did next (`outcome`, set by their next action).
    r#"
ALTER TABLE messages ADD COLUMN kind TEXT;
CREATE INDEX messages_by_kind ON messages(kind, at) WHERE kind IS NOT NULL;
CREATE TABLE misses (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    at INTEGER NOT NULL,
    lang TEXT NOT NULL,
    question TEXT NOT NULL,
    terms TEXT NOT NULL,
    kind TEXT NOT NULL,
    confidence REAL NOT NULL,
    candidates TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'none',
    outcome_faq_id TEXT
);
CREATE INDEX misses_by_conversation ON misses(conversation_id, id);
CREATE INDEX misses_by_at ON misses(at);
"#,
];

/// The SQLite store. Not shared: the service wraps it in one mutex (see `server::Db`).
pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) `DATA_DIR/faqbot.db` and runs pending migrations.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(data_dir.join("faqbot.db"))?;
        // WAL lets `faqbot leads` read while the service writes; FULL syncs the log on every
        // commit, which is the promise made to visitors (acknowledged means on disk).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing `DATA_DIR/faqbot.db` read-only, for reports: it never creates, migrates
    /// or writes, and WAL lets it read while `faqbot serve` writes.
    pub fn open_read_only(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        use rusqlite::OpenFlags;
        let path = data_dir.join("faqbot.db");
        if !path.is_file() {
            return Err(StoreError::NoDatabase(path));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let needed = MIGRATIONS.len() as i64;
        if found < needed {
            return Err(StoreError::Outdated {
                path,
                found,
                needed,
            });
        }
        Ok(SqliteStore { conn })
    }

    /// Runs `f` in one read transaction, so that all it reads is one snapshot even while the
    /// service commits turns (a report's rates and misses then agree).
    pub fn snapshot<T>(
        &mut self,
        f: impl FnOnce(&mut SqliteStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.execute_batch("BEGIN")?;
        let result = f(self);
        // Nothing was written: ending the transaction either way loses nothing.
        let end = self
            .conn
            .execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        let value = result?;
        end?;
        Ok(value)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let done: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn parse_mode(s: &str) -> Mode {
    match s {
        "queued" => Mode::Queued,
        "advisor" => Mode::Advisor,
        _ => Mode::Bot,
    }
}

fn sender_str(from: Sender) -> &'static str {
    match from {
        Sender::Visitor => "visitor",
        Sender::Bot => "bot",
        Sender::Advisor => "advisor",
    }
}

const CONVERSATION_COLUMNS: &str = "id, created_at, last_active, lang, page, mode, advisor, last_seq, fallbacks, offer_reason, last_question, last_candidates";

fn conversation_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let candidates: Option<String> = row.get(11)?;
    Ok(Conversation {
        id: row.get(0)?,
        created_at: row.get(1)?,
        last_active: row.get(2)?,
        lang: row.get(3)?,
        page: row.get(4)?,
        mode: parse_mode(&row.get::<_, String>(5)?),
        advisor: row.get(6)?,
        last_seq: row.get::<_, i64>(7)?.max(0) as u64,
        fallbacks: row.get::<_, i64>(8)?.clamp(0, i64::from(u32::MAX)) as u32,
        offer_reason: row.get(9)?,
        last_question: row.get(10)?,
        // A card we cannot read is shown empty rather than failing the whole conversation.
        last_candidates: candidates
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
    })
}

fn queued_row(row: &Row<'_>) -> rusqlite::Result<QueuedHandoff> {
    let card: String = row.get(2)?;
    Ok(QueuedHandoff {
        conversation: row.get(0)?,
        created_at: row.get(1)?,
        card: parse_card(&card),
        escalated: row.get::<_, Option<i64>>(3)?.is_some(),
    })
}

fn parse_card(json: &str) -> HandoffCard {
    serde_json::from_str(json).unwrap_or_else(|_| HandoffCard {
        reason: "asked".into(),
        last_question: None,
        candidates: Vec::new(),
        page: None,
        lang: "fr".into(),
    })
}

fn card_json(card: &HandoffCard) -> String {
    serde_json::to_string(card).unwrap_or_else(|_| "{}".into())
}

impl Store for SqliteStore {
    fn create_conversation(
        &mut self,
        id: &str,
        token_hash: &str,
        lang: &str,
        page: Option<&str>,
        now: i64,
    ) -> Result<Conversation, StoreError> {
        self.conn.execute(
            "INSERT INTO conversations (id, token_hash, created_at, last_active, lang, page) VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
            params![id, token_hash, now, lang, page],
        )?;
        self.conversation(id)?
            .ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    fn conversation_by_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE token_hash = ?1");
        Ok(self
            .conn
            .query_row(&sql, [token_hash], conversation_row)
            .optional()?)
    }

    fn conversation(&mut self, id: &str) -> Result<Option<Conversation>, StoreError> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1");
        Ok(self
            .conn
            .query_row(&sql, [id], conversation_row)
            .optional()?)
    }

    fn touch(&mut self, id: &str, page: Option<&str>, now: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE conversations SET last_active = ?2, page = COALESCE(?3, page) WHERE id = ?1",
            params![id, now, page],
        )?;
        Ok(())
    }

    fn history(&mut self, id: &str) -> Result<Vec<HistoryItem>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sender, text, at, advisor, faq_id FROM messages WHERE conversation_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([id], |row| {
            let from = match row.get::<_, String>(0)?.as_str() {
                "visitor" => FromWire::Visitor,
                "advisor" => FromWire::Advisor,
                _ => FromWire::Bot,
            };
            Ok(HistoryItem {
                from,
                text: row.get(1)?,
                at: rfc3339(row.get(2)?),
                advisor: row.get(3)?,
                faq_id: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn frames_after(&mut self, id: &str, seq: u64) -> Result<Vec<StoredFrame>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, body FROM frames WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![id, seq as i64], |row| {
            Ok(StoredFrame {
                seq: row.get::<_, i64>(0)? as u64,
                text: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn apply(&mut self, turn: Turn, now: i64) -> Result<Applied, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let conv = turn.conversation.as_str();

        if let Some(client_id) = &turn.client_id {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT id FROM messages WHERE conversation_id = ?1 AND client_id = ?2",
                    params![conv, client_id],
                    |r| r.get(0),
                )
                .optional()?;
            if seen.is_some() {
                let mut stmt = tx.prepare("SELECT seq, body FROM frames WHERE conversation_id = ?1 AND reply_to = ?2 ORDER BY seq")?;
                let frames = stmt
                    .query_map(params![conv, client_id], |row| {
                        Ok(StoredFrame {
                            seq: row.get::<_, i64>(0)? as u64,
                            text: row.get(1)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?;
                return Ok(Applied::Duplicate { frames });
            }
        }

        match &turn.handoff {
            None => {}
            Some(HandoffChange::Open(card)) => {
                tx.execute(
                    "INSERT INTO handoffs (conversation_id, created_at, status, reason, card) VALUES (?1, ?2, 'queued', ?3, ?4)",
                    params![conv, now, card.reason, card_json(card)],
                )?;
                tx.execute(
                    "UPDATE conversations SET mode = 'queued', advisor = NULL WHERE id = ?1",
                    [conv],
                )?;
            }
            Some(HandoffChange::Unavailable(card)) => {
                tx.execute(
                    "INSERT INTO handoffs (conversation_id, created_at, status, reason, card, ended_at) VALUES (?1, ?2, 'unavailable', ?3, ?4, ?2)",
                    params![conv, now, card.reason, card_json(card)],
                )?;
            }
            Some(HandoffChange::Claim { advisor }) => {
                // The claim is decided here, in one conditional UPDATE inside an IMMEDIATE
                // transaction: of two advisors clicking at once exactly one changes a row.
                let changed = tx.execute(
                    "UPDATE handoffs SET status = 'assigned', advisor = ?2, claimed_at = ?3 WHERE conversation_id = ?1 AND status = 'queued'",
                    params![conv, advisor, now],
                )?;
                if changed == 0 {
                    return Ok(Applied::Conflict);
                }
                tx.execute(
                    "UPDATE conversations SET mode = 'advisor', advisor = ?2 WHERE id = ?1",
                    params![conv, advisor],
                )?;
            }
            Some(HandoffChange::End { advisor, status }) => {
                let changed = tx.execute(
                    "UPDATE handoffs SET status = ?3, ended_at = ?4 WHERE conversation_id = ?1 AND status = 'assigned' AND advisor = ?2",
                    params![conv, advisor, status.as_str(), now],
                )?;
                if changed == 0 {
                    return Ok(Applied::Conflict);
                }
                tx.execute("UPDATE conversations SET mode = 'bot', advisor = NULL, fallbacks = 0 WHERE id = ?1", [conv])?;
            }
        }

        for (i, m) in turn.messages.iter().enumerate() {
            // The client id marks the visitor's message, the first one of the turn.
            let client_id = if i == 0 && m.from == Sender::Visitor {
                turn.client_id.as_deref()
            } else {
                None
            };
            tx.execute(
                "INSERT INTO messages (conversation_id, at, sender, text, faq_id, confidence, advisor, client_id, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![conv, now, sender_str(m.from), m.text, m.faq_id, m.confidence.map(f64::from), m.advisor, client_id, m.kind],
            )?;
        }

        // The outcome first: it belongs to the miss before this turn's own.
        if let Some(outcome) = &turn.outcome {
            tx.execute(
                "UPDATE misses SET outcome = ?2, outcome_faq_id = ?3
                 WHERE id = (SELECT MAX(id) FROM misses WHERE conversation_id = ?1) AND outcome = 'none'",
                params![conv, outcome.as_str(), outcome.entry()],
            )?;
        }
        if let Some(m) = &turn.miss {
            let terms = serde_json::to_string(&m.terms).unwrap_or_else(|_| "[]".into());
            let candidates = serde_json::to_string(&m.candidates).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO misses (conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome, outcome_faq_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![conv, now, m.lang, m.question, terms, m.kind.as_str(), f64::from(m.confidence), candidates, m.outcome.as_str(), m.outcome.entry()],
            )?;
        }

        let mut frames = Vec::with_capacity(turn.frames.len());
        if !turn.frames.is_empty() {
            let mut seq: i64 = tx.query_row(
                "SELECT last_seq FROM conversations WHERE id = ?1",
                [conv],
                |r| r.get(0),
            )?;
            for frame in &turn.frames {
                seq += 1;
                let text = frame.encode(seq as u64);
                tx.execute(
                    "INSERT INTO frames (conversation_id, seq, at, reply_to, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![conv, seq, now, turn.client_id, text],
                )?;
                frames.push(StoredFrame {
                    seq: seq as u64,
                    text,
                });
            }
            tx.execute(
                "UPDATE conversations SET last_seq = ?2 WHERE id = ?1",
                params![conv, seq],
            )?;
        }

        let u = &turn.update;
        if let Some(lang) = &u.lang {
            tx.execute(
                "UPDATE conversations SET lang = ?2 WHERE id = ?1",
                params![conv, lang],
            )?;
        }
        if let Some(n) = u.fallbacks {
            tx.execute(
                "UPDATE conversations SET fallbacks = ?2 WHERE id = ?1",
                params![conv, n],
            )?;
        }
        if let Some(reason) = &u.offer_reason {
            tx.execute(
                "UPDATE conversations SET offer_reason = ?2 WHERE id = ?1",
                params![conv, reason],
            )?;
        }
        if let Some(q) = &u.last_question {
            tx.execute(
                "UPDATE conversations SET last_question = ?2 WHERE id = ?1",
                params![conv, q],
            )?;
        }
        if let Some(c) = &u.last_candidates {
            let json = serde_json::to_string(c).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "UPDATE conversations SET last_candidates = ?2 WHERE id = ?1",
                params![conv, json],
            )?;
        }
        if u.touch {
            tx.execute(
                "UPDATE conversations SET last_active = ?2 WHERE id = ?1",
                params![conv, now],
            )?;
        }

        if let Some(c) = &turn.contact {
            tx.execute(
                "INSERT INTO contacts (conversation_id, created_at, name, email, phone, message, consent, lang, page)
                 SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, lang, page FROM conversations WHERE id = ?1",
                params![conv, now, c.name, c.email, c.phone, c.message, c.consent],
            )?;
        }

        tx.commit()?;
        Ok(Applied::Done { frames })
    }

    fn queue(&mut self) -> Result<Vec<QueuedHandoff>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT conversation_id, created_at, card, escalated_at FROM handoffs WHERE status = 'queued' ORDER BY id")?;
        let rows = stmt.query_map([], queued_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn handoff_card(&mut self, conversation: &str) -> Result<Option<HandoffCard>, StoreError> {
        let card: Option<String> = self
            .conn
            .query_row(
                "SELECT card FROM handoffs WHERE conversation_id = ?1 ORDER BY id DESC LIMIT 1",
                [conversation],
                |r| r.get(0),
            )
            .optional()?;
        Ok(card.as_deref().map(parse_card))
    }

    fn assigned_to(&mut self, advisor: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT conversation_id FROM handoffs WHERE status = 'assigned' AND advisor = ?1 ORDER BY id")?;
        let rows = stmt.query_map([advisor], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn escalate(&mut self, before: i64, now: i64) -> Result<Vec<QueuedHandoff>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due: Vec<QueuedHandoff> = {
            let mut stmt = tx.prepare(
                "SELECT conversation_id, created_at, card, escalated_at FROM handoffs
                 WHERE status = 'queued' AND escalated_at IS NULL AND created_at <= ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([before], queued_row)?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute(
            "UPDATE handoffs SET escalated_at = ?2 WHERE status = 'queued' AND escalated_at IS NULL AND created_at <= ?1",
            params![before, now],
        )?;
        tx.commit()?;
        Ok(due
            .into_iter()
            .map(|h| QueuedHandoff {
                escalated: true,
                ..h
            })
            .collect())
    }

    fn leads(&mut self) -> Result<Vec<LeadWire>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, created_at, conversation_id, name, email, phone, message, consent, lang, page FROM contacts ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(LeadWire {
                id: row.get(0)?,
                created_at: rfc3339(row.get(1)?),
                conversation: row.get(2)?,
                name: row.get(3)?,
                email: row.get(4)?,
                phone: row.get(5)?,
                message: row.get(6)?,
                consent: row.get(7)?,
                lang: row.get(8)?,
                page: row.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_advisor(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let exists: Option<i64> = self
            .conn
            .query_row("SELECT id FROM advisors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::AdvisorExists(name.to_owned()));
        }
        self.conn.execute(
            "INSERT INTO advisors (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role, token_hash, now],
        )?;
        Ok(())
    }

    fn advisor_by_token(&mut self, token_hash: &str) -> Result<Option<Advisor>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, role FROM advisors WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(Advisor {
                        name: r.get(0)?,
                        role: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn misses(&mut self, since: i64) -> Result<Vec<StoredMiss>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome, outcome_faq_id
             FROM misses WHERE at >= ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([since], |row| {
            let terms: String = row.get(5)?;
            let kind: String = row.get(6)?;
            let candidates: String = row.get(8)?;
            let outcome: String = row.get(9)?;
            Ok(StoredMiss {
                id: row.get(0)?,
                conversation: row.get(1)?,
                at: row.get(2)?,
                miss: Miss {
                    lang: row.get(3)?,
                    question: row.get(4)?,
                    // A row we cannot read in full still counts, with what can be read.
                    terms: serde_json::from_str(&terms).unwrap_or_default(),
                    kind: MissKind::parse(&kind).unwrap_or(MissKind::Fallback),
                    confidence: row.get::<_, f64>(7)? as f32,
                    candidates: serde_json::from_str(&candidates).unwrap_or_default(),
                    outcome: Outcome::parse(&outcome, row.get(10)?),
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn decisions(&mut self, since: i64) -> Result<Decisions, StoreError> {
        let count = |v: i64| v.max(0) as u64;
        let kinds = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT kind, COUNT(*) FROM messages WHERE kind IS NOT NULL AND at >= ?1 GROUP BY kind ORDER BY kind",
            )?;
            let rows = stmt.query_map([since], |r| Ok((r.get(0)?, count(r.get(1)?))))?;
            rows.collect::<Result<_, _>>()?
        };
        let entries = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT faq_id, SUM(kind = 'answer'), SUM(kind = ?2) FROM messages
                 WHERE kind IN ('answer', ?2) AND faq_id IS NOT NULL AND at >= ?1
                 GROUP BY faq_id ORDER BY faq_id",
            )?;
            let rows = stmt.query_map(params![since, PICK], |r| {
                Ok((r.get(0)?, count(r.get(1)?), count(r.get(2)?)))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let conversations = self.conn.query_row(
            "SELECT COUNT(DISTINCT conversation_id) FROM messages WHERE sender = 'visitor' AND at >= ?1",
            [since],
            |r| r.get(0),
        )?;
        let handoff_requests = self.conn.query_row(
            "SELECT COUNT(*) FROM handoffs WHERE created_at >= ?1",
            [since],
            |r| r.get(0),
        )?;
        Ok(Decisions {
            kinds,
            entries,
            conversations: count(conversations),
            handoff_requests: count(handoff_requests),
        })
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewMessage;

    fn miss(question: &str) -> Miss {
        Miss {
            lang: "fr".into(),
            question: question.into(),
            terms: vec!["xyzzy".into()],
            kind: MissKind::Fallback,
            confidence: 0.0,
            candidates: Vec::new(),
            outcome: Outcome::None,
        }
    }

    fn turn(client_id: &str, miss: Option<Miss>, outcome: Option<Outcome>) -> Turn {
        Turn {
            conversation: "c1".into(),
            client_id: Some(client_id.into()),
            messages: vec![NewMessage::visitor(client_id)],
            miss,
            outcome,
            ..Turn::default()
        }
    }

    #[test]
    fn a_miss_is_recorded_once_and_gets_the_next_action_as_outcome() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = SqliteStore::open(dir.path()).expect("open");
        store
            .create_conversation("c1", "hash", "fr", None, 1)
            .expect("conversation");
        store
            .apply(turn("a", Some(miss("xyzzy")), None), 10)
            .expect("a");
        // The same message id again (a resend): not recorded twice.
        let again = store.apply(turn("a", Some(miss("xyzzy")), None), 11);
        assert!(matches!(again, Ok(Applied::Duplicate { .. })));
        store
            .apply(
                turn("b", Some(miss("plugh")), Some(Outcome::AskedAgain)),
                20,
            )
            .expect("b");
        store
            .apply(turn("c", None, Some(Outcome::Picked("cout".into()))), 30)
            .expect("c");
        // An outcome is given once: a later action does not overwrite it.
        store
            .apply(turn("d", None, Some(Outcome::Other)), 40)
            .expect("d");

        let mut reader = SqliteStore::open_read_only(dir.path()).expect("read-only");
        let misses = reader.snapshot(|s| s.misses(0)).expect("misses");
        let outcomes: Vec<(&str, &Outcome)> = misses
            .iter()
            .map(|m| (m.miss.question.as_str(), &m.miss.outcome))
            .collect();
        assert_eq!(
            outcomes,
            vec![
                ("xyzzy", &Outcome::AskedAgain),
                ("plugh", &Outcome::Picked("cout".into()))
            ]
        );
        assert_eq!(reader.misses(15).expect("since").len(), 1);
        assert!(
            reader.apply(turn("e", None, None), 50).is_err(),
            "read-only"
        );
    }

    #[test]
    fn reports_refuse_a_missing_or_outdated_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            SqliteStore::open_read_only(dir.path()),
            Err(StoreError::NoDatabase(_))
        ));
        let conn = Connection::open(dir.path().join("faqbot.db")).expect("create");
        conn.execute_batch(MIGRATIONS[0]).expect("first schema");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        drop(conn);
        let err = SqliteStore::open_read_only(dir.path()).err();
        assert!(
            matches!(err, Some(StoreError::Outdated { found: 1, .. })),
            "{err:?}"
        );
        // The service upgrades it on open; then reports can read it.
        SqliteStore::open(dir.path()).expect("migrated");
        assert!(SqliteStore::open_read_only(dir.path()).is_ok());
    }
}
