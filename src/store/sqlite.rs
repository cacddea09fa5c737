//! The SQLite backend: one file `faqbot.db` in WAL mode with `synchronous=FULL`, so a commit
//! survives a crash of the process and of the machine. Migrations run when the writer opens it.
//!
//! Reads are methods of [`SqliteStore`]; writes are functions of [`write`] over a connection
//! inside a transaction the caller opened, so the service's writer can put many turns in one
//! transaction (one fsync) while the CLI commits each on its own.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::rows::{
    card_json, conversation_columns, conversation_row, frame_row, lead_row, message_row, miss_row,
    parse_card, queued_row, LEAD_COLUMNS, MISS_COLUMNS,
};
use super::{Applied, StoreError, StoredFrame};
use crate::model::{
    Advisor, AdvisorSummary, Card, Conversation, Decisions, Handoff, HandoffChange, HandoffReason,
    Lead, Message, Mode, Purged, QueuedHandoff, Removed, Sender, StoredMiss, Turn, VisitorRecord,
    PICK,
};

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
    // 3: frames keep their payload without `seq` (the number is its own column, added to the
    // JSON when sent), and live in a rowid table: in the `WITHOUT ROWID` one each ~1 KB reply
    // went to an overflow page, ~6 KiB on disk per message. No index on `reply_to`: only a
    // resent message id looks frames up by it, within its conversation's frames, and every
    // index is one more page written per turn.
    r#"
CREATE TABLE frames_v3 (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    reply_to TEXT,
    body TEXT NOT NULL
);
INSERT INTO frames_v3 (conversation_id, seq, at, reply_to, body)
    SELECT conversation_id, seq, at, reply_to, json_remove(body, '$.seq') FROM frames ORDER BY conversation_id, seq;
DROP TABLE frames;
ALTER TABLE frames_v3 RENAME TO frames;
CREATE UNIQUE INDEX frames_by_seq ON frames(conversation_id, seq);
"#,
    // 4: advisor sessions. A login exchanges the advisor's token for a random session id, kept
    // here as its hash (a copy of the database signs nobody in) with its expiry; a logout
    // deletes the row. Removing an advisor removes their sessions.
    r#"
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    advisor_id INTEGER NOT NULL REFERENCES advisors(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_advisor ON sessions(advisor_id);
"#,
    // 5: a bot reply or an advisor's message is stored once: its message row also keeps the
    // frame it was sent as (`frame`, numbered `seq`, answering `reply_to`); `frames` keeps the
    // other frames (handoff status, contact saved) and the replies stored before this version.
    // A message's `seq` is its frame's, or, for one not sent as a frame (a visitor's), the
    // conversation's last `seq` when it was written: (`seq`, `id`) is a conversation's order,
    // and rows from before, at 0, come first. `messages_by_seq` takes the place of
    // `messages_by_conversation`: one index for the history, the replay and erasure, one page
    // less written per turn (and the reply's JSON no longer copied into a second table).
    r#"
ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN frame TEXT;
ALTER TABLE messages ADD COLUMN reply_to TEXT;
CREATE INDEX messages_by_seq ON messages(conversation_id, seq);
DROP INDEX messages_by_conversation;
"#,
    // 6: a resent message id is recognised from the conversation's row, which every turn
    // rewrites anyway: `recent_ids` holds the last [`RECENT_IDS`] visitor message ids with the
    // `seq` each was stored at (a JSON array of `[id, seq]`, oldest first). The unique index
    // it replaces put one more scattered page in the log of every turn: ~10 % of the
    // service's CPU per reply under load (`scripts/load`).
    r#"
ALTER TABLE conversations ADD COLUMN recent_ids TEXT;
UPDATE conversations SET recent_ids = (
    SELECT json_group_array(json_array(client_id, seq) ORDER BY seq, id) FROM (
        SELECT client_id, seq, id FROM messages m
        WHERE m.conversation_id = conversations.id AND client_id IS NOT NULL
        ORDER BY seq DESC, id DESC LIMIT 32));
DROP INDEX messages_by_client_id;
"#,
    // 7: a conversation's messages are found by following `prev` (the rowid of the message
    // before, in (`seq`, `id`) order, which is the order they were written in) back from the
    // conversation's `last_message`, not through an index on `(conversation_id, seq)`: that
    // index's leaf is one page per conversation, so every turn put one more scattered 4 KiB
    // page in the log and the checkpointer copied it again (`scripts/ab`, 6 rounds of 100 ×
    // 200: 113.8 against 96.8 µs of CPU a reply without it). Reads walk the chain by rowid:
    // the latest messages first, which is what a resume, a resend and the history want.
    r#"
ALTER TABLE messages ADD COLUMN prev INTEGER;
ALTER TABLE conversations ADD COLUMN last_message INTEGER;
UPDATE messages SET prev = (
    SELECT m2.id FROM messages m2
    WHERE m2.conversation_id = messages.conversation_id
      AND (m2.seq < messages.seq OR (m2.seq = messages.seq AND m2.id < messages.id))
    ORDER BY m2.seq DESC, m2.id DESC LIMIT 1);
UPDATE conversations SET last_message = (
    SELECT id FROM messages m WHERE m.conversation_id = conversations.id
    ORDER BY seq DESC, id DESC LIMIT 1);
DROP INDEX messages_by_seq;
"#,
    // 8: two indexes that put scattered pages in every commit's log. `messages_by_kind`
    // (`kind`, `at`) grew at one end per kind, ~5 pages a commit; `messages_by_at` (`at`,
    // `kind`, `faq_id`) grows at one end only and still covers the report's counts since a
    // time. `misses_by_conversation` had one leaf per conversation, ~4.5 pages a commit (WAL
    // frames of `scripts/load` counted by table): a conversation's misses are chained instead,
    // like its messages (migration 7), each to the one before (`prev`) from the conversation's
    // `last_miss`, and its outcome is set through that.
    r#"
DROP INDEX messages_by_kind;
CREATE INDEX messages_by_at ON messages(at, kind, faq_id) WHERE kind IS NOT NULL;
ALTER TABLE misses ADD COLUMN prev INTEGER;
ALTER TABLE conversations ADD COLUMN last_miss INTEGER;
UPDATE misses SET prev = (
    SELECT MAX(m2.id) FROM misses m2
    WHERE m2.conversation_id = misses.conversation_id AND m2.id < misses.id);
UPDATE conversations SET last_miss = (
    SELECT MAX(id) FROM misses m WHERE m.conversation_id = conversations.id);
DROP INDEX misses_by_conversation;
"#,
];

/// A conversation's misses, newest first, as a recursive `misses_chain(id)` to select from:
/// from its `last_miss` back along `prev` (`?1` is the conversation; see migration 8).
macro_rules! misses_chain {
    () => {
        "WITH RECURSIVE misses_chain(id) AS (
             SELECT last_miss FROM conversations WHERE id = ?1 AND last_miss IS NOT NULL
             UNION ALL
             SELECT m.prev FROM misses_chain JOIN misses m ON m.id = misses_chain.id
             WHERE m.prev IS NOT NULL)"
    };
}

/// A conversation's messages, newest first, as a recursive `chain(id, prev)` to select from:
/// from its `last_message` back along `prev` while `seq` is above `?3`, `?2` of them at most
/// (`?1` is the conversation). By rowid only: no index per conversation (see migration 7).
macro_rules! chain {
    () => {
        "WITH RECURSIVE chain(id, prev) AS (
             SELECT m.id, m.prev FROM conversations c JOIN messages m ON m.id = c.last_message
             WHERE c.id = ?1 AND m.seq > ?3
             UNION ALL
             SELECT m.id, m.prev FROM chain JOIN messages m ON m.id = chain.prev
             WHERE m.seq > ?3
             LIMIT ?2)"
    };
}

/// Visitor message ids a conversation remembers: a resent one among them gets the frames that
/// answered it, an older one would be answered again. The widget keeps at most 20 unanswered
/// messages to send again; migration 6 keeps the same number.
pub(super) const RECENT_IDS: usize = 32;
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(Box::new(e))
    }
}

/// A connection to `faqbot.db`: the service's writer, one of its readers, or a CLI command's.
pub struct SqliteStore {
    conn: Connection,
    /// The database file, to open more connections to it.
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) `DATA_DIR/faqbot.db` for writing and runs pending migrations.
    /// The file is readable by its owner only: it holds visitors' health questions.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let new_dir = !data_dir.exists();
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        if new_dir {
            // Ours: nobody else needs even the names of the files in it. A folder that existed
            // keeps the permissions its owner gave it.
            set_mode(data_dir, 0o700)?;
        }
        let path = data_dir.join("faqbot.db");
        owner_only(&path)?;
        let conn = Connection::open(&path)?;
        // WAL lets readers (the service's and `faqbot leads`) read while the writer writes;
        // FULL syncs the log on every commit, which is the promise made to visitors
        // (acknowledged means on disk).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Many turns share a transaction: keep their statements prepared.
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = SqliteStore { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another connection to the same (opened and migrated) database, for reading only.
    pub fn reader(&self) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteStore {
            conn,
            path: self.path.clone(),
        })
    }

    /// Opens an existing `DATA_DIR/faqbot.db` read-only, for reports: it never creates, migrates
    /// or writes, and WAL lets it read while `faqbot serve` writes.
    pub fn open_read_only(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = existing(data_dir)?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        up_to_date(&conn, &path)?;
        Ok(SqliteStore { conn, path })
    }

    /// Opens an existing `DATA_DIR/faqbot.db` for writing, for commands that remove data
    /// (`faqbot purge`, `faqbot visitor erase`): it never creates a database (a mistyped `--data`
    /// is an error, not a new empty database) nor migrates one. It may run beside `faqbot serve`:
    /// each of its transactions waits for the service's writer, which waits for it.
    pub fn open_existing(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = existing(data_dir)?;
        owner_only(&path)?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        up_to_date(&conn, &path)?;
        Ok(SqliteStore { conn, path })
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

    /// Runs `f` in its own IMMEDIATE transaction (one fsync).
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Another connection to the same database that may checkpoint it (the service's
    /// checkpointer thread).
    pub(super) fn checkpointer(&self) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(SqliteStore {
            conn,
            path: self.path.clone(),
        })
    }

    /// Copies what it can of the write-ahead log into the database without waiting for the
    /// writer or readers (`PASSIVE`).
    pub(super) fn checkpoint_passive(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Makes the writer checkpoint only once the log holds `pages` pages. The service's
    /// checkpointer thread copies the log as it grows; the writer's own checkpoint is what lets
    /// the log start over (only a writer can reset it, and only once all of it is copied), and
    /// has little left to copy by then.
    pub(super) fn auto_checkpoint_at(&self, pages: u32) -> Result<(), StoreError> {
        self.conn
            .query_row(&format!("PRAGMA wal_autocheckpoint = {pages}"), [], |_| {
                Ok(())
            })?;
        Ok(())
    }

    /// The connection, for the service's writer (which batches transactions itself).
    pub(super) fn connection(&mut self) -> &mut Connection {
        &mut self.conn
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

    pub fn conversation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let sql = concat!(
            "SELECT ",
            conversation_columns!(last_miss),
            " FROM conversations WHERE token_hash = ?1"
        );
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row([token_hash], |r| conversation_row(r))
            .optional()?)
    }

    pub fn conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        conversation(&self.conn, id)
    }

    /// The conversation's messages, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Message>, StoreError> {
        self.recent_history(id, usize::MAX)
    }

    /// The conversation's latest `limit` messages, oldest first.
    pub fn recent_history(&self, id: &str, limit: usize) -> Result<Vec<Message>, StoreError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            chain!(),
            " SELECT m.sender, m.text, m.at, m.advisor, m.faq_id
             FROM chain c JOIN messages m ON m.id = c.id ORDER BY m.seq, m.id"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![id, limit, i64::MIN], |r| message_row(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The conversation's frames numbered above `seq`, in order, `limit` at most: those kept
    /// with their message and the others.
    pub fn frames_after(
        &self,
        id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredFrame>, StoreError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            chain!(),
            " SELECT seq, body FROM frames WHERE conversation_id = ?1 AND seq > ?3
             UNION ALL
             SELECT m.seq, m.frame FROM chain c JOIN messages m ON m.id = c.id
             WHERE m.frame IS NOT NULL
             ORDER BY seq LIMIT ?4"
        ))?;
        let rows = stmt.query_map(params![id, i64::MAX, seq as i64, limit as i64], |r| {
            frame_row(r)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queued conversations whose visitor was last active before `before` (Unix ms).
    pub fn quiet_in_queue(&self, before: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT h.conversation_id FROM handoffs h JOIN conversations c ON c.id = h.conversation_id
             WHERE h.status = 'queued' AND c.last_active <= ?1 ORDER BY h.id",
        )?;
        let rows = stmt.query_map([before], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queued handoffs, first come first.
    pub fn queue(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT conversation_id, created_at, card, escalated_at FROM handoffs WHERE status = 'queued' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| queued_row(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many handoffs are queued.
    pub fn queue_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM handoffs WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The latest handoff card of a conversation.
    pub fn handoff_card(&self, conversation: &str) -> Result<Option<Card>, StoreError> {
        let card: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT card FROM handoffs WHERE conversation_id = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([conversation], |r| r.get(0))
            .optional()?;
        Ok(card.as_deref().map(parse_card))
    }

    /// Conversations an advisor holds.
    pub fn assigned_to(&self, advisor: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT conversation_id FROM handoffs WHERE status = 'assigned' AND advisor = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([advisor], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn leads(&self) -> Result<Vec<Lead>, StoreError> {
        let sql = format!("SELECT {LEAD_COLUMNS} FROM contacts ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], |r| lead_row(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn advisor_by_token(&self, token_hash: &str) -> Result<Option<Advisor>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT name, role FROM advisors WHERE token_hash = ?1")?
            .query_row([token_hash], |r| {
                Ok(Advisor {
                    name: r.get(0)?,
                    role: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// The advisor signed in by the session whose id hashes to `id_hash`, unless it expired
    /// by `now`.
    pub fn advisor_by_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<Advisor>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT a.name, a.role FROM sessions s JOIN advisors a ON a.id = s.advisor_id
                 WHERE s.id_hash = ?1 AND s.expires_at > ?2",
            )?
            .query_row(params![id_hash, now], |r| {
                Ok(Advisor {
                    name: r.get(0)?,
                    role: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Every advisor, by name, with their sessions still live at `now`.
    pub fn advisors(&self, now: i64) -> Result<Vec<AdvisorSummary>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.name, a.role, a.created_at,
                    (SELECT COUNT(*) FROM sessions s WHERE s.advisor_id = a.id AND s.expires_at > ?1)
             FROM advisors a ORDER BY a.name",
        )?;
        let rows = stmt.query_map([now], |r| {
            Ok(AdvisorSummary {
                name: r.get(0)?,
                role: r.get(1)?,
                created_at: r.get(2)?,
                live_sessions: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Missed questions recorded at or after `since` (Unix milliseconds), oldest first.
    pub fn misses(&self, since: i64) -> Result<Vec<StoredMiss>, StoreError> {
        let sql = format!("SELECT {MISS_COLUMNS} FROM misses WHERE at >= ?1 ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([since], |r| miss_row(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ids of the conversations whose id starts with `prefix` (as the console shows them:
    /// their first six characters), in order, `limit` at most.
    pub fn conversations_starting(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        // A range on the primary key rather than LIKE: the index answers it, and `%` or `_` in
        // the prefix mean nothing. Ids are lowercase hex, all below the prefix followed by `g`.
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM conversations WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![prefix, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything stored about conversation `id`, or `None` if there is no such conversation.
    /// Run it in a [`SqliteStore::snapshot`] so that its parts agree.
    pub fn visitor_record(&self, id: &str) -> Result<Option<VisitorRecord>, StoreError> {
        let Some(conversation) = self.conversation(id)? else {
            return Ok(None);
        };
        let handoffs = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT created_at, status, card, advisor, claimed_at, escalated_at, ended_at
                 FROM handoffs WHERE conversation_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([id], |row| {
                Ok(Handoff {
                    created_at: row.get(0)?,
                    status: row.get(1)?,
                    card: parse_card(&row.get::<_, String>(2)?),
                    advisor: row.get(3)?,
                    claimed_at: row.get(4)?,
                    escalated_at: row.get(5)?,
                    ended_at: row.get(6)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let contacts = {
            let sql = format!(
                "SELECT {LEAD_COLUMNS} FROM contacts WHERE conversation_id = ?1 ORDER BY id"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([id], |r| lead_row(r))?;
            rows.collect::<Result<_, _>>()?
        };
        let misses = {
            let sql = format!(
                "{} SELECT {MISS_COLUMNS} FROM misses WHERE id IN (SELECT id FROM misses_chain) ORDER BY id",
                misses_chain!()
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([id], |r| miss_row(r))?;
            rows.collect::<Result<_, _>>()?
        };
        Ok(Some(VisitorRecord {
            messages: self.history(id)?,
            conversation,
            handoffs,
            contacts,
            misses,
        }))
    }

    /// Conversations with the bot whose last activity is before `cutoff`, in id order after
    /// `after`, `limit` at most: the next batch a purge removes. Read apart from the writer, so
    /// that the scan (`last_active` has no index) never holds it.
    pub fn purgeable(
        &self,
        cutoff: i64,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM conversations WHERE id > ?1 AND last_active < ?2 AND mode = 'bot'
             ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![after, cutoff, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Conversations past `cutoff` that a purge keeps: an advisor holds them or they are queued.
    pub fn kept_in_chat(&self, cutoff: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM conversations WHERE last_active < ?1 AND mode != 'bot'",
            )?
            .query_row([cutoff], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// Removes the conversations last active before `cutoff` (but those an advisor holds or
    /// that are queued) with everything linked to them, and the contact requests left before
    /// `cutoff`, a batch per transaction (`faqbot purge`).
    pub fn purge(&mut self, cutoff: i64) -> Result<Purged, StoreError> {
        let mut removed = Removed::default();
        let mut after = String::new();
        loop {
            let ids = self.purgeable(cutoff, &after, PURGE_BATCH)?;
            let Some(last) = ids.last() else { break };
            after = last.clone();
            let (batch, _) = self.write(|c| write::purge_conversations(c, &ids, cutoff))?;
            removed.add(batch);
        }
        loop {
            let contacts = self.write(|c| write::purge_contacts(c, cutoff, PURGE_BATCH))?;
            removed.contacts += contacts;
            if contacts < PURGE_BATCH as u64 {
                break;
            }
        }
        Ok(Purged {
            removed,
            kept_in_chat: self.kept_in_chat(cutoff)?,
        })
    }

    /// Removes conversation `id` and everything linked to it in one transaction; `None` if
    /// there is no such conversation (`faqbot visitor erase`).
    pub fn erase(&mut self, id: &str) -> Result<Option<Removed>, StoreError> {
        self.write(|c| write::erase(c, id))
    }

    /// The bot's decisions at or after `since`, counted.
    pub fn decisions(&self, since: i64) -> Result<Decisions, StoreError> {
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

    /// Checks the database answers (readiness).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }

    /// Folds the write-ahead log into the database file (shutdown).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn create_conversation(
        &mut self,
        id: &str,
        token_hash: &str,
        lang: &str,
        page: Option<&str>,
        now: i64,
    ) -> Result<Conversation, StoreError> {
        self.write(|c| write::create_conversation(c, id, token_hash, lang, page, now))
    }

    pub fn apply(&mut self, turn: &Turn<String>, now: i64) -> Result<Applied, StoreError> {
        self.write(|c| write::apply(c, turn, now))
    }

    pub fn add_advisor(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|c| write::add_advisor(c, name, role, token_hash, now))
    }

    /// Stores a session for `advisor` (see [`write::create_session`]).
    pub fn create_session(
        &mut self,
        id_hash: &str,
        advisor: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.write(|c| write::create_session(c, id_hash, advisor, now, expires_at, None))
    }

    /// Gives `name` a new token (stored as `token_hash`) and ends their sessions.
    pub fn rotate_token(&mut self, name: &str, token_hash: &str) -> Result<(), StoreError> {
        self.write(|c| write::rotate_token(c, name, token_hash))
    }

    /// Removes `name`: each conversation they hold first gets the turn `end` makes for it (in
    /// the same transaction), then their sessions and account go. Returns those conversations.
    pub fn remove_advisor(
        &mut self,
        name: &str,
        now: i64,
        end: impl Fn(&str) -> Turn<String>,
    ) -> Result<Vec<String>, StoreError> {
        self.write(|c| write::remove_advisor(c, name, now, &end))
    }
}

/// Conversations (or contact requests) removed per transaction by a purge: each batch waits
/// in the writer's queue like a turn, so a purge of months of data never holds it for long.
pub(super) const PURGE_BATCH: usize = 100;

/// A conversation's `recent_ids`: the last [`RECENT_IDS`] visitor message ids and the `seq`
/// each was stored at, oldest first. Every turn reads and rewrites it on the writer thread, so
/// the ids are borrowed from the row: with an owned `String` per id it was ~2 % of the
/// service's CPU under load.
#[derive(Debug, Default)]
struct RecentIds<'a> {
    ids: Vec<RecentId<'a>>,
    changed: bool,
}

/// One id and its `seq`, `["id",seq]` in the column (as migration 6 wrote it). Borrowed from
/// the column unless the id holds a character JSON escapes (a quote, a backslash).
#[derive(Debug, Serialize, Deserialize)]
struct RecentId<'a>(#[serde(borrow)] Cow<'a, str>, i64);

impl<'a> RecentIds<'a> {
    /// Reads the column; a value it cannot read counts as none (the ids are a resend guard,
    /// not data: the row stays usable).
    fn parse(json: Option<&'a str>) -> RecentIds<'a> {
        let ids = json
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        RecentIds {
            ids,
            changed: false,
        }
    }

    fn seq_of(&self, id: &str) -> Option<i64> {
        let key = recent_key(id);
        self.ids
            .iter()
            .rev()
            // A row written before keys were digested holds the whole id.
            .find(|RecentId(i, _)| *i == key || i == id)
            .map(|&RecentId(_, seq)| seq)
    }

    fn push(&mut self, id: &'a str, seq: i64) {
        self.ids.push(RecentId(recent_key(id), seq));
        let over = self.ids.len().saturating_sub(RECENT_IDS);
        self.ids.drain(..over);
        self.changed = true;
    }

    fn changed(&self) -> bool {
        self.changed
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.ids).unwrap_or_else(|_| "[]".into())
    }
}

/// Ids up to this long are kept as they are in `recent_ids`; longer ones as a digest.
const RECENT_KEY_MAX: usize = 16;

/// How an id is kept in `recent_ids`: itself when short, else "~" and a 64-bit FNV-1a digest
/// in 11 characters. The widget's ids are UUIDs (36 characters): 32 of them made the row,
/// rewritten on every turn, ~1.4 KB (`writebench` with such ids: ~10 % more writer CPU a
/// turn). Two ids with one digest would only make one conversation's resend get the frames of
/// its other message; the digest is fixed, so it survives a restart.
fn recent_key(id: &str) -> Cow<'_, str> {
    if id.len() <= RECENT_KEY_MAX {
        return Cow::Borrowed(id);
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut key = String::with_capacity(12);
    key.push('~');
    for i in 0..11 {
        key.push(char::from(DIGITS[((h >> (6 * i)) & 63) as usize]));
    }
    Cow::Owned(key)
}

/// The database file in `data_dir`, if there is one.
fn existing(data_dir: &Path) -> Result<PathBuf, StoreError> {
    let path = data_dir.join("faqbot.db");
    if !path.is_file() {
        return Err(StoreError::NoDatabase(path));
    }
    Ok(path)
}

/// Refuses a database older than this faqbot's schema (only `faqbot serve` migrates).
fn up_to_date(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let needed = MIGRATIONS.len() as i64;
    if found < needed {
        return Err(StoreError::Outdated {
            path: path.to_owned(),
            found,
            needed,
        });
    }
    Ok(())
}

/// Makes the database file at `path` readable and writable by its owner only (Unix), creating
/// it empty (an empty file is an empty database) so that it never exists with wider rights,
/// and narrows its `-wal` and `-shm` files if a former run left them wider. SQLite creates
/// those two with the database file's permissions, so once the file is 0600 they are too.
/// Elsewhere the folder's permissions apply.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|source| StoreError::DataDir {
                path: path.to_owned(),
                source,
            })?;
        set_mode(path, 0o600)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if side.exists() {
                set_mode(&side, 0o600)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Sets a file's or folder's Unix permissions (nothing elsewhere).
fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| StoreError::DataDir {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn conversation(conn: &Connection, id: &str) -> Result<Option<Conversation>, StoreError> {
    let sql = concat!(
        "SELECT ",
        conversation_columns!(last_miss),
        " FROM conversations WHERE id = ?1"
    );
    Ok(conn
        .prepare_cached(sql)?
        .query_row([id], |r| conversation_row(r))
        .optional()?)
}

/// Writes, each over a connection inside a transaction the caller opened and commits.
pub(super) mod write {
    use super::*;

    pub fn create_conversation(
        conn: &Connection,
        id: &str,
        token_hash: &str,
        lang: &str,
        page: Option<&str>,
        now: i64,
    ) -> Result<Conversation, StoreError> {
        conn.prepare_cached(
            "INSERT INTO conversations (id, token_hash, created_at, last_active, lang, page) VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
        )?
        .execute(params![id, token_hash, now, lang, page])?;
        conversation(conn, id)?.ok_or(StoreError::Vanished)
    }

    /// Records a reconnection: activity time, and the page when the widget says it moved.
    pub fn touch(
        conn: &Connection,
        id: &str,
        page: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        conn.prepare_cached(
            "UPDATE conversations SET last_active = ?2, page = COALESCE(?3, page) WHERE id = ?1",
        )?
        .execute(params![id, now, page])?;
        Ok(())
    }

    /// What [`apply`] reads of a conversation before it writes.
    struct Current {
        last_seq: i64,
        mode: String,
        recent_ids: Option<String>,
        last_message: Option<i64>,
        last_miss: Option<i64>,
    }

    pub fn apply(conn: &Connection, turn: &Turn<String>, now: i64) -> Result<Applied, StoreError> {
        let conv = turn.conversation.as_str();

        // One read of the conversation's row for both checks: a message id seen before, and
        // a turn decided from a state that has changed since; and for the links the turn
        // writes: its first message follows the last one, its miss the last miss.
        let row: Option<Current> = if turn.client_id.is_some()
            || turn.seen.is_some()
            || !turn.messages.is_empty()
            || turn.miss.is_some()
        {
            conn.prepare_cached(
                "SELECT last_seq, mode, recent_ids, last_message, last_miss FROM conversations WHERE id = ?1",
            )?
            .query_row(params![conv], |r| {
                Ok(Current {
                    last_seq: r.get(0)?,
                    mode: r.get(1)?,
                    recent_ids: r.get(2)?,
                    last_message: r.get(3)?,
                    last_miss: r.get(4)?,
                })
            })
            .optional()?
        } else {
            None
        };
        let mut recent = RecentIds::parse(row.as_ref().and_then(|r| r.recent_ids.as_deref()));
        if let Some(client_id) = &turn.client_id {
            if let Some(asked) = recent.seq_of(client_id) {
                // The frames that answered it are numbered after the visitor's message.
                let mut stmt = conn.prepare_cached(concat!(
                    chain!(),
                    " SELECT seq, body FROM frames
                     WHERE conversation_id = ?1 AND seq > ?3 AND reply_to = ?4
                     UNION ALL
                     SELECT m.seq, m.frame FROM chain c JOIN messages m ON m.id = c.id
                     WHERE m.reply_to = ?4 AND m.frame IS NOT NULL
                     ORDER BY seq"
                ))?;
                let frames = stmt
                    .query_map(params![conv, i64::MAX, asked, client_id], |r| frame_row(r))?
                    .collect::<Result<_, _>>()?;
                return Ok(Applied::Duplicate { frames });
            }
        }
        // A turn decided from what it saw runs only if that is still so; its frames then follow
        // the `last_seq` it saw (a handoff change below does not move it).
        let mut known_last = None;
        if let Some(seen) = turn.seen {
            let now = row
                .as_ref()
                .map(|r| (r.last_seq as u64, Mode::parse(&r.mode)));
            if now != Some((seen.last_seq, seen.mode)) {
                return Ok(Applied::Stale);
            }
            known_last = i64::try_from(seen.last_seq).ok();
        }

        match &turn.handoff {
            None => {}
            Some(HandoffChange::Open(card)) => {
                conn.prepare_cached(
                    "INSERT INTO handoffs (conversation_id, created_at, status, reason, card) VALUES (?1, ?2, 'queued', ?3, ?4)",
                )?
                .execute(params![conv, now, card.reason, card_json(card)])?;
                conn.prepare_cached(
                    "UPDATE conversations SET mode = 'queued', advisor = NULL WHERE id = ?1",
                )?
                .execute([conv])?;
            }
            Some(HandoffChange::Unavailable(card)) => {
                conn.prepare_cached(
                    "INSERT INTO handoffs (conversation_id, created_at, status, reason, card, ended_at) VALUES (?1, ?2, 'unavailable', ?3, ?4, ?2)",
                )?
                .execute(params![conv, now, card.reason, card_json(card)])?;
            }
            Some(HandoffChange::Claim { advisor }) => {
                // The claim is decided here, in one conditional UPDATE inside the writer's
                // transaction: of two advisors clicking at once exactly one changes a row.
                let changed = conn
                    .prepare_cached(
                        "UPDATE handoffs SET status = 'assigned', advisor = ?2, claimed_at = ?3 WHERE conversation_id = ?1 AND status = 'queued'",
                    )?
                    .execute(params![conv, advisor, now])?;
                if changed == 0 {
                    return Ok(Applied::Conflict);
                }
                conn.prepare_cached(
                    "UPDATE conversations SET mode = 'advisor', advisor = ?2 WHERE id = ?1",
                )?
                .execute(params![conv, advisor])?;
            }
            Some(HandoffChange::End { advisor, status }) => {
                let changed = conn
                    .prepare_cached(
                        "UPDATE handoffs SET status = ?3, ended_at = ?4 WHERE conversation_id = ?1 AND status = 'assigned' AND advisor = ?2",
                    )?
                    .execute(params![conv, advisor, status.as_str(), now])?;
                if changed == 0 {
                    return Ok(Applied::Conflict);
                }
                conn.prepare_cached(
                    "UPDATE conversations SET mode = 'bot', advisor = NULL, fallbacks = 0 WHERE id = ?1",
                )?
                .execute([conv])?;
            }
        }

        // The frames are numbered here, by the one writer, in commit order: whoever produced
        // them, a conversation's `seq` has no gap and no duplicate. The turn's come after the
        // last one stored.
        let last: i64 = if turn.messages.is_empty() && turn.frames.is_empty() {
            0
        } else if let Some(last) = known_last {
            last
        } else if let Some(r) = &row {
            // Read above, and nothing since moves it.
            r.last_seq
        } else {
            conn.prepare_cached("SELECT last_seq FROM conversations WHERE id = ?1")?
                .query_row([conv], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::Vanished)?
        };
        let seq_of = |frame: usize| last + frame as i64 + 1;
        // Each message follows the one written before it in its conversation.
        let mut last_message = row.as_ref().and_then(|r| r.last_message);
        let mut wrote_message = false;
        if !turn.messages.is_empty() {
            let mut insert = conn.prepare_cached(
                "INSERT INTO messages (conversation_id, at, sender, text, faq_id, confidence, advisor, client_id, kind, seq, frame, reply_to, prev)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for (i, m) in turn.messages.iter().enumerate() {
                // The client id marks the visitor's message, the first one of the turn.
                let client_id = if i == 0 && m.from == Sender::Visitor {
                    turn.client_id.as_deref()
                } else {
                    None
                };
                // A message sent as a frame keeps it; any other sits after the last frame.
                let told = m.frame.and_then(|k| Some((k, turn.frames.get(k)?)));
                let (seq, frame, reply_to) = match told {
                    Some((k, payload)) => (seq_of(k), Some(payload), turn.client_id.as_deref()),
                    None => (last, None, None),
                };
                if let Some(id) = client_id {
                    recent.push(id, seq);
                }
                insert.execute(params![
                    conv,
                    now,
                    m.from.as_str(),
                    m.text,
                    m.faq_id,
                    m.confidence.map(f64::from),
                    m.advisor,
                    client_id,
                    m.kind,
                    seq,
                    frame,
                    reply_to,
                    last_message
                ])?;
                last_message = Some(conn.last_insert_rowid());
                wrote_message = true;
            }
        }

        // The outcome first: it belongs to the miss before this turn's own.
        if let Some(outcome) = &turn.outcome {
            conn.prepare_cached(
                "UPDATE misses SET outcome = ?2, outcome_faq_id = ?3
                 WHERE id = (SELECT last_miss FROM conversations WHERE id = ?1) AND outcome = 'none'",
            )?
            .execute(params![conv, outcome.as_str(), outcome.entry()])?;
        }
        let mut last_miss = None;
        if let Some(m) = &turn.miss {
            let terms = serde_json::to_string(&m.terms).unwrap_or_else(|_| "[]".into());
            let candidates = serde_json::to_string(&m.candidates).unwrap_or_else(|_| "[]".into());
            let prev = row.as_ref().and_then(|r| r.last_miss);
            conn.prepare_cached(
                "INSERT INTO misses (conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome, outcome_faq_id, prev)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![conv, now, m.lang, m.question, terms, m.kind.as_str(), f64::from(m.confidence), candidates, m.outcome.as_str(), m.outcome.entry(), prev])?;
            last_miss = Some(conn.last_insert_rowid());
        }

        // The frames no message keeps get a row of their own.
        let mut frames = Vec::with_capacity(turn.frames.len());
        let mut last_seq: Option<i64> = None;
        if !turn.frames.is_empty() {
            let mut insert = conn.prepare_cached(
                "INSERT INTO frames (conversation_id, seq, at, reply_to, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (k, payload) in turn.frames.iter().enumerate() {
                let seq = seq_of(k);
                if !turn.messages.iter().any(|m| m.frame == Some(k)) {
                    insert.execute(params![conv, seq, now, turn.client_id, payload])?;
                }
                frames.push(StoredFrame {
                    seq: seq as u64,
                    payload: payload.clone(),
                });
                last_seq = Some(seq);
            }
        }

        // One statement for every field of the conversation the turn changes.
        let u = &turn.update;
        let candidates = u
            .last_candidates
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_else(|_| "[]".into()));
        conn.prepare_cached(
            "UPDATE conversations SET
                 lang = COALESCE(?2, lang),
                 fallbacks = COALESCE(?3, fallbacks),
                 offer_reason = CASE WHEN ?4 THEN ?5 ELSE offer_reason END,
                 last_question = COALESCE(?6, last_question),
                 last_candidates = COALESCE(?7, last_candidates),
                 last_active = CASE WHEN ?8 THEN ?9 ELSE last_active END,
                 last_seq = COALESCE(?10, last_seq),
                 recent_ids = COALESCE(?11, recent_ids),
                 last_message = COALESCE(?12, last_message),
                 last_miss = COALESCE(?13, last_miss)
             WHERE id = ?1",
        )?
        .execute(params![
            conv,
            u.lang,
            u.fallbacks,
            u.offer_reason.is_some(),
            u.offer_reason.flatten().map(HandoffReason::as_str),
            u.last_question,
            candidates,
            u.touch,
            now,
            last_seq,
            recent.changed().then(|| recent.to_json()),
            wrote_message.then_some(last_message).flatten(),
            last_miss
        ])?;

        if let Some(c) = &turn.contact {
            conn.prepare_cached(
                "INSERT INTO contacts (conversation_id, created_at, name, email, phone, message, consent, lang, page)
                 SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, lang, page FROM conversations WHERE id = ?1",
            )?
            .execute(params![conv, now, c.name, c.email, c.phone, c.message, c.consent])?;
        }
        Ok(Applied::Done { frames })
    }

    /// Gives up the queued handoffs of `conversations` (visitors who left): status
    /// `abandoned`, the conversation back to the bot. Returns those that were still queued.
    pub fn abandon(
        conn: &Connection,
        conversations: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut gone = Vec::new();
        for id in conversations {
            let changed = conn
                .prepare_cached(
                    "UPDATE handoffs SET status = 'abandoned', ended_at = ?2 WHERE conversation_id = ?1 AND status = 'queued'",
                )?
                .execute(params![id, now])?;
            if changed > 0 {
                conn.prepare_cached(
                    "UPDATE conversations SET mode = 'bot' WHERE id = ?1 AND mode = 'queued'",
                )?
                .execute([id])?;
                gone.push(id.clone());
            }
        }
        Ok(gone)
    }

    /// Marks queued handoffs created before `before` as escalated and returns them.
    pub fn escalate(
        conn: &Connection,
        before: i64,
        now: i64,
    ) -> Result<Vec<QueuedHandoff>, StoreError> {
        let due: Vec<QueuedHandoff> = {
            let mut stmt = conn.prepare_cached(
                "SELECT conversation_id, created_at, card, escalated_at FROM handoffs
                 WHERE status = 'queued' AND escalated_at IS NULL AND created_at <= ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([before], |r| queued_row(r))?;
            rows.collect::<Result<_, _>>()?
        };
        conn.prepare_cached(
            "UPDATE handoffs SET escalated_at = ?2 WHERE status = 'queued' AND escalated_at IS NULL AND created_at <= ?1",
        )?
        .execute(params![before, now])?;
        Ok(due
            .into_iter()
            .map(|h| QueuedHandoff {
                escalated: true,
                ..h
            })
            .collect())
    }

    /// Removes conversation `id` and every row linked to it; `None` if there is no such
    /// conversation.
    pub fn erase(conn: &Connection, id: &str) -> Result<Option<Removed>, StoreError> {
        let delete = |sql: &str| -> Result<u64, StoreError> {
            Ok(conn.prepare_cached(sql)?.execute([id])? as u64)
        };
        // The linked rows first: they reference the conversation (foreign keys are on).
        let frames = delete("DELETE FROM frames WHERE conversation_id = ?1")?;
        let messages = conn
            .prepare_cached(concat!(
                chain!(),
                " DELETE FROM messages WHERE id IN (SELECT id FROM chain)"
            ))?
            .execute(params![id, i64::MAX, i64::MIN])? as u64;
        let misses = delete(concat!(
            misses_chain!(),
            " DELETE FROM misses WHERE id IN (SELECT id FROM misses_chain)"
        ))?;
        let handoffs = delete("DELETE FROM handoffs WHERE conversation_id = ?1")?;
        let contacts = delete("DELETE FROM contacts WHERE conversation_id = ?1")?;
        let conversations = delete("DELETE FROM conversations WHERE id = ?1")?;
        if conversations == 0 {
            return Ok(None);
        }
        Ok(Some(Removed {
            conversations,
            messages,
            frames,
            misses,
            handoffs,
            contacts,
        }))
    }

    /// [`erase`], only if `advisor` holds the conversation now (decided here, in the writer's
    /// transaction, like a claim); `None` otherwise.
    pub fn erase_held(
        conn: &Connection,
        id: &str,
        advisor: &str,
    ) -> Result<Option<Removed>, StoreError> {
        let held = conn
            .prepare_cached(
                "SELECT 1 FROM conversations WHERE id = ?1 AND mode = 'advisor' AND advisor = ?2",
            )?
            .query_row(params![id, advisor], |_| Ok(()))
            .optional()?;
        match held {
            Some(()) => erase(conn, id),
            None => Ok(None),
        }
    }

    /// Erases those of `ids` that are still purgeable (with the bot and last active before
    /// `cutoff`: a visitor may have come back since they were read). Returns what was removed
    /// and the ids of the conversations removed.
    pub fn purge_conversations(
        conn: &Connection,
        ids: &[String],
        cutoff: i64,
    ) -> Result<(Removed, Vec<String>), StoreError> {
        let mut removed = Removed::default();
        let mut gone = Vec::with_capacity(ids.len());
        for id in ids {
            let still = conn
                .prepare_cached(
                    "SELECT 1 FROM conversations WHERE id = ?1 AND last_active < ?2 AND mode = 'bot'",
                )?
                .query_row(params![id, cutoff], |_| Ok(()))
                .optional()?;
            if still.is_none() {
                continue;
            }
            if let Some(r) = erase(conn, id)? {
                removed.add(r);
                gone.push(id.clone());
            }
        }
        Ok((removed, gone))
    }

    /// Removes up to `limit` contact requests left before `cutoff`; returns how many.
    pub fn purge_contacts(conn: &Connection, cutoff: i64, limit: usize) -> Result<u64, StoreError> {
        let n = conn
            .prepare_cached(
                "DELETE FROM contacts WHERE id IN
                     (SELECT id FROM contacts WHERE created_at < ?1 ORDER BY id LIMIT ?2)",
            )?
            .execute(params![cutoff, limit as i64])?;
        Ok(n as u64)
    }

    pub fn add_advisor(
        conn: &Connection,
        name: &str,
        role: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let exists: Option<i64> = conn
            .query_row("SELECT id FROM advisors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::AdvisorExists(name.to_owned()));
        }
        conn.execute(
            "INSERT INTO advisors (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role, token_hash, now],
        )?;
        Ok(())
    }

    /// Stores a session of `advisor` that lasts until `expires_at`, ending the one hashed as
    /// `replaces` (the browser's previous session) if given, and forgetting expired ones.
    pub fn create_session(
        conn: &Connection,
        id_hash: &str,
        advisor: &str,
        now: i64,
        expires_at: i64,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        conn.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
            .execute([now])?;
        if let Some(old) = replaces {
            conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")?
                .execute([old])?;
        }
        let inserted = conn
            .prepare_cached(
                "INSERT INTO sessions (id_hash, advisor_id, created_at, expires_at)
                 SELECT ?1, id, ?3, ?4 FROM advisors WHERE name = ?2",
            )?
            .execute(params![id_hash, advisor, now, expires_at])?;
        if inserted == 0 {
            return Err(StoreError::UnknownAdvisor(advisor.to_owned()));
        }
        Ok(())
    }

    /// Ends the session hashed as `id_hash`; returns its advisor if there was one.
    pub fn revoke_session(conn: &Connection, id_hash: &str) -> Result<Option<String>, StoreError> {
        let advisor = conn
            .prepare_cached(
                "SELECT a.name FROM sessions s JOIN advisors a ON a.id = s.advisor_id WHERE s.id_hash = ?1",
            )?
            .query_row([id_hash], |r| r.get(0))
            .optional()?;
        conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")?
            .execute([id_hash])?;
        Ok(advisor)
    }

    /// Replaces `name`'s token hash and ends every session of theirs.
    pub fn rotate_token(conn: &Connection, name: &str, token_hash: &str) -> Result<(), StoreError> {
        let id = advisor_id(conn, name)?;
        conn.execute(
            "UPDATE advisors SET token_hash = ?2 WHERE id = ?1",
            params![id, token_hash],
        )?;
        conn.execute("DELETE FROM sessions WHERE advisor_id = ?1", [id])?;
        Ok(())
    }

    /// Applies `end(conversation)` to every conversation `name` holds, then deletes their
    /// sessions and account. Returns the conversations ended.
    pub fn remove_advisor(
        conn: &Connection,
        name: &str,
        now: i64,
        end: &dyn Fn(&str) -> Turn<String>,
    ) -> Result<Vec<String>, StoreError> {
        let id = advisor_id(conn, name)?;
        let held: Vec<String> = {
            let mut stmt = conn.prepare_cached(
                "SELECT conversation_id FROM handoffs WHERE status = 'assigned' AND advisor = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([name], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for conversation in &held {
            apply(conn, &end(conversation), now)?;
        }
        conn.execute("DELETE FROM sessions WHERE advisor_id = ?1", [id])?;
        conn.execute("DELETE FROM advisors WHERE id = ?1", [id])?;
        Ok(held)
    }

    fn advisor_id(conn: &Connection, name: &str) -> Result<i64, StoreError> {
        conn.query_row("SELECT id FROM advisors WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| StoreError::UnknownAdvisor(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Miss, MissKind, NewMessage, Outcome};
    use rusqlite::ToSql;

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

    fn turn(client_id: &str, miss: Option<Miss>, outcome: Option<Outcome>) -> Turn<String> {
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
            .apply(&turn("a", Some(miss("xyzzy")), None), 10)
            .expect("a");
        // The same message id again (a resend): not recorded twice.
        let again = store.apply(&turn("a", Some(miss("xyzzy")), None), 11);
        assert!(matches!(again, Ok(Applied::Duplicate { .. })));
        store
            .apply(
                &turn("b", Some(miss("plugh")), Some(Outcome::AskedAgain)),
                20,
            )
            .expect("b");
        store
            .apply(&turn("c", None, Some(Outcome::Picked("cout".into()))), 30)
            .expect("c");
        // An outcome is given once: a later action does not overwrite it.
        store
            .apply(&turn("d", None, Some(Outcome::Other)), 40)
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
            reader.apply(&turn("e", None, None), 50).is_err(),
            "read-only"
        );
    }

    /// A question and the bot's reply, as a visitor turn stores them.
    fn asked(client_id: &str, reply: &str) -> Turn<String> {
        Turn {
            conversation: "c1".into(),
            client_id: Some(client_id.into()),
            messages: vec![
                NewMessage::visitor(client_id),
                NewMessage {
                    from: Sender::Bot,
                    frame: Some(0),
                    ..NewMessage::visitor(reply)
                },
            ],
            frames: vec![format!(r#"{{"type":"reply","text":"{reply}"}}"#)],
            ..Turn::default()
        }
    }

    #[test]
    fn recent_ids_are_written_as_serde_would_and_read_back_with_any_character() {
        let ids = [
            "v1-q0",
            "a\"quote",
            "back\\slash",
            "élan ☃",
            "tab\tnew\nline",
        ];
        let mut recent = RecentIds::parse(None);
        for (seq, id) in ids.iter().enumerate() {
            recent.push(id, seq as i64);
        }
        let json = recent.to_json();
        let owned: Vec<(String, i64)> = ids
            .iter()
            .enumerate()
            .map(|(seq, id)| ((*id).to_owned(), seq as i64))
            .collect();
        assert_eq!(json, serde_json::to_string(&owned).expect("serialises"));
        let back = RecentIds::parse(Some(&json));
        for (seq, id) in ids.iter().enumerate() {
            assert_eq!(back.seq_of(id), Some(seq as i64), "{id}");
        }
        // Only the last RECENT_IDS are kept, oldest dropped first.
        let mut many = RecentIds::parse(Some(&json));
        let names: Vec<String> = (0..RECENT_IDS).map(|i| format!("n{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            many.push(n, 100 + i as i64);
        }
        let many_json = many.to_json();
        let kept = RecentIds::parse(Some(&many_json));
        assert_eq!(kept.ids.len(), RECENT_IDS);
        assert_eq!(kept.seq_of("v1-q0"), None);
        assert_eq!(kept.seq_of("n0"), Some(100));
    }

    #[test]
    fn long_ids_are_kept_as_digests_and_whole_ids_of_older_rows_still_count() {
        let (a, b) = (
            "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
            "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e60",
        );
        let mut recent = RecentIds::parse(None);
        recent.push(a, 7);
        let json = recent.to_json();
        assert!(!json.contains(a), "{json}");
        assert_eq!(json.len(), r#"[["~AAAAAAAAAAA",7]]"#.len());
        let back = RecentIds::parse(Some(&json));
        assert_eq!(back.seq_of(a), Some(7));
        assert_eq!(back.seq_of(b), None);
        // A row as written before: the whole id.
        let older = format!(r#"[["{b}",3]]"#);
        assert_eq!(RecentIds::parse(Some(&older)).seq_of(b), Some(3));
    }

    #[test]
    fn a_resent_id_gets_its_frames_while_among_the_last_ids_and_is_answered_again_after() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = SqliteStore::open(dir.path()).expect("open");
        store
            .create_conversation("c1", "hash", "fr", None, 1)
            .expect("conversation");
        for i in 0..=RECENT_IDS {
            let applied = store.apply(&asked(&format!("m{i}"), &format!("r{i}")), 2);
            assert!(
                matches!(applied, Ok(Applied::Done { .. })),
                "m{i}: {applied:?}"
            );
        }
        // m1 is the oldest id remembered: its reply, numbered 2, comes back.
        match store.apply(&asked("m1", "again"), 3).expect("resent") {
            Applied::Duplicate { frames } => {
                assert_eq!(frames.len(), 1);
                assert_eq!(
                    (frames[0].seq, frames[0].payload.as_str()),
                    (2, r#"{"type":"reply","text":"r1"}"#)
                );
            }
            other => panic!("m1: {other:?}"),
        }
        // m0 has left the window: a client resending that old an id is answered anew.
        let old = store.apply(&asked("m0", "again"), 3).expect("m0");
        assert!(matches!(old, Applied::Done { .. }), "{old:?}");
        let conv = store.conversation("c1").expect("read").expect("there");
        assert_eq!(conv.last_seq, RECENT_IDS as u64 + 2);
        // A value the store cannot read is no ids (and the next turn writes a good one).
        store
            .conn
            .execute("UPDATE conversations SET recent_ids = 'not json'", [])
            .expect("spoil");
        let applied = store.apply(&asked("m40", "r40"), 4).expect("m40");
        assert!(matches!(applied, Applied::Done { .. }), "{applied:?}");
        let resent = store.apply(&asked("m40", "again"), 5).expect("m40 again");
        assert!(matches!(resent, Applied::Duplicate { .. }), "{resent:?}");
    }

    /// A new database file in `dir` with the first `version` migrations applied, as a release
    /// of that version left it.
    fn at_version(dir: &Path, version: usize) -> Connection {
        let conn = Connection::open(dir.join("faqbot.db")).expect("create");
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).expect("older schema");
        }
        conn.pragma_update(None, "user_version", version as i64)
            .expect("version");
        conn
    }

    #[test]
    fn a_version_4_database_keeps_its_history_frames_and_message_ids_once_upgraded() {
        let dir = tempfile::tempdir().expect("temp dir");
        // Version 4, as the last release left it: replies in `frames`, numbered 1 and 2.
        let conn = at_version(dir.path(), 4);
        conn.execute_batch(
            r#"
INSERT INTO conversations (id, token_hash, created_at, last_active, lang, last_seq) VALUES ('c1', 'h', 1, 1, 'fr', 2);
INSERT INTO messages (conversation_id, at, sender, text, client_id) VALUES ('c1', 1, 'visitor', 'q1', 'a');
INSERT INTO messages (conversation_id, at, sender, text, kind) VALUES ('c1', 1, 'bot', 'r1', 'answer');
INSERT INTO frames (conversation_id, seq, at, reply_to, body) VALUES ('c1', 1, 1, 'a', '{"type":"reply","text":"r1"}');
INSERT INTO messages (conversation_id, at, sender, text, client_id) VALUES ('c1', 2, 'visitor', 'q2', 'b');
INSERT INTO messages (conversation_id, at, sender, text, kind) VALUES ('c1', 2, 'bot', 'r2', 'answer');
INSERT INTO frames (conversation_id, seq, at, reply_to, body) VALUES ('c1', 2, 2, 'b', '{"type":"reply","text":"r2"}');
"#,
        )
        .expect("rows of version 4");
        drop(conn);

        let mut store = SqliteStore::open(dir.path()).expect("upgraded");
        store.apply(&asked("c", "r3"), 3).expect("a new turn");
        // A turn whose second frame has no message of its own (a handoff status).
        let mut with_status = asked("d", "r4");
        with_status.frames.push(r#"{"type":"handoff"}"#.into());
        store.apply(&with_status, 4).expect("a turn of two frames");

        let texts: Vec<String> = store
            .history("c1")
            .expect("history")
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, ["q1", "r1", "q2", "r2", "c", "r3", "d", "r4"]);
        let recent: Vec<String> = store
            .recent_history("c1", 3)
            .expect("recent")
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(recent, ["r3", "d", "r4"]);
        let seqs =
            |frames: Vec<StoredFrame>| -> Vec<u64> { frames.iter().map(|f| f.seq).collect() };
        assert_eq!(
            seqs(store.frames_after("c1", 0, 100).expect("all")),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            seqs(store.frames_after("c1", 1, 2).expect("a page")),
            [2, 3]
        );
        let replayed = store.frames_after("c1", 2, 100).expect("after 2");
        assert_eq!(replayed[0].payload, r#"{"type":"reply","text":"r3"}"#);
        // Message ids sent again, from before and after the upgrade, get their own frames.
        for (id, expected) in [("a", vec![1]), ("c", vec![3]), ("d", vec![4, 5])] {
            match store.apply(&asked(id, "again"), 9).expect("resent") {
                Applied::Duplicate { frames } => assert_eq!(seqs(frames), expected, "{id}"),
                other => panic!("{id}: {other:?}"),
            }
        }
        let conv = store.conversation("c1").expect("read").expect("there");
        assert_eq!(conv.last_seq, 5);
    }

    /// Panics if SQLite's plan for `sql` scans one of `tables` (names or aliases).
    fn assert_no_scan(store: &SqliteStore, sql: &str, params: &[&dyn ToSql], tables: &[&str]) {
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan")
            .query_map(params, |r| r.get::<_, String>(3))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("plan rows");
        let scans = |step: &String| {
            let mut words = step.split_whitespace();
            words.next() == Some("SCAN") && words.next().is_some_and(|t| tables.contains(&t))
        };
        assert!(!plan.iter().any(scans), "{sql}: {plan:?}");
    }

    #[test]
    fn a_version_6_database_is_chained_by_conversation_and_read_without_scanning() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = at_version(dir.path(), 6);
        // Two conversations written in turn, as the writer interleaves them; an advisor's
        // message in c2 (no client id), a visitor message at the `seq` of the reply before it.
        conn.execute_batch(
            r#"
INSERT INTO conversations (id, token_hash, created_at, last_active, lang, last_seq) VALUES ('c1', 'h1', 1, 1, 'fr', 2);
INSERT INTO conversations (id, token_hash, created_at, last_active, lang, last_seq) VALUES ('c2', 'h2', 1, 1, 'fr', 2);
INSERT INTO messages (conversation_id, at, sender, text, client_id, seq) VALUES ('c1', 1, 'visitor', 'q1', 'a', 0);
INSERT INTO messages (conversation_id, at, sender, text, client_id, seq) VALUES ('c2', 1, 'visitor', 'x1', 'x', 0);
INSERT INTO messages (conversation_id, at, sender, text, kind, seq, frame, reply_to) VALUES ('c1', 1, 'bot', 'r1', 'answer', 1, '{"type":"reply","text":"r1"}', 'a');
INSERT INTO messages (conversation_id, at, sender, text, kind, seq, frame, reply_to) VALUES ('c2', 1, 'bot', 'y1', 'answer', 1, '{"type":"reply","text":"y1"}', 'x');
INSERT INTO messages (conversation_id, at, sender, text, advisor, seq, frame) VALUES ('c2', 2, 'advisor', 'y2', 'ana', 2, '{"type":"advisor","text":"y2"}');
INSERT INTO messages (conversation_id, at, sender, text, client_id, seq) VALUES ('c1', 2, 'visitor', 'q2', 'b', 1);
INSERT INTO messages (conversation_id, at, sender, text, kind, seq, frame, reply_to) VALUES ('c1', 2, 'bot', 'r2', 'answer', 2, '{"type":"reply","text":"r2"}', 'b');
"#,
        )
        .expect("rows of version 6");
        drop(conn);

        let mut store = SqliteStore::open(dir.path()).expect("upgraded");
        store.apply(&asked("c", "r3"), 3).expect("a new turn");
        let texts = |store: &SqliteStore, id: &str| -> Vec<String> {
            let all = store.history(id).expect("history");
            all.into_iter().map(|m| m.text).collect()
        };
        assert_eq!(texts(&store, "c1"), ["q1", "r1", "q2", "r2", "c", "r3"]);
        assert_eq!(texts(&store, "c2"), ["x1", "y1", "y2"]);
        let seqs =
            |frames: Vec<StoredFrame>| -> Vec<u64> { frames.iter().map(|f| f.seq).collect() };
        assert_eq!(seqs(store.frames_after("c1", 1, 100).expect("c1")), [2, 3]);
        assert_eq!(seqs(store.frames_after("c2", 0, 100).expect("c2")), [1, 2]);

        // Every read of a conversation's messages looks them up by rowid, never a scan.
        for sql in [
            concat!(
                chain!(),
                " SELECT m.text FROM chain c JOIN messages m ON m.id = c.id"
            ),
            concat!(
                chain!(),
                " DELETE FROM messages WHERE id IN (SELECT id FROM chain)"
            ),
        ] {
            assert_no_scan(&store, sql, params!["c1", 100, 0], &["messages", "m"]);
        }

        // Erasing one conversation leaves the other's messages whole.
        let tx = store.conn.transaction().expect("tx");
        let removed = write::erase(&tx, "c1").expect("erase").expect("there");
        tx.commit().expect("commit");
        assert_eq!(removed.messages, 6);
        assert_eq!(texts(&store, "c2"), ["x1", "y1", "y2"]);
        assert!(store.history("c1").expect("gone").is_empty());
    }

    #[test]
    fn a_version_7_database_chains_its_misses_and_counts_decisions_from_one_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = at_version(dir.path(), 7);
        // Misses of two conversations interleaved; c1's latest still waits for its outcome.
        conn.execute_batch(
            r#"
INSERT INTO conversations (id, token_hash, created_at, last_active, lang) VALUES ('c1', 'h1', 1, 1, 'fr');
INSERT INTO conversations (id, token_hash, created_at, last_active, lang) VALUES ('c2', 'h2', 1, 1, 'fr');
INSERT INTO misses (conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome) VALUES ('c1', 1, 'fr', 'm1', '[]', 'fallback', 0, '[]', 'asked_again');
INSERT INTO misses (conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome) VALUES ('c2', 1, 'fr', 'n1', '[]', 'fallback', 0, '[]', 'other');
INSERT INTO misses (conversation_id, at, lang, question, terms, kind, confidence, candidates) VALUES ('c1', 2, 'fr', 'm2', '[]', 'fallback', 0, '[]');
INSERT INTO messages (conversation_id, at, sender, text, faq_id, kind) VALUES ('c1', 1, 'bot', 'r1', 'cout', 'answer');
INSERT INTO messages (conversation_id, at, sender, text, kind) VALUES ('c2', 2, 'bot', 'r2', 'fallback');
INSERT INTO messages (conversation_id, at, sender, text, faq_id, kind, prev) VALUES ('c1', 3, 'bot', 'r3', 'cout', 'answer', 1);
UPDATE conversations SET last_message = CASE id WHEN 'c1' THEN 3 ELSE 2 END;
"#,
        )
        .expect("rows of version 7");
        drop(conn);

        let mut store = SqliteStore::open(dir.path()).expect("upgraded");
        let waiting = |store: &SqliteStore, id: &str| {
            let conv = store.conversation(id).expect("read").expect("there");
            conv.awaiting_outcome
        };
        assert!(waiting(&store, "c1"));
        assert!(!waiting(&store, "c2"));
        // The next action is m2's outcome, and a new miss follows it in c1's chain.
        store
            .apply(&turn("a", Some(miss("m3")), Some(Outcome::AskedAgain)), 5)
            .expect("a turn");
        assert!(waiting(&store, "c1"));
        let record = store.visitor_record("c1").expect("record").expect("there");
        let misses: Vec<(&str, &Outcome)> = record
            .misses
            .iter()
            .map(|m| (m.miss.question.as_str(), &m.miss.outcome))
            .collect();
        assert_eq!(
            misses,
            [
                ("m1", &Outcome::AskedAgain),
                ("m2", &Outcome::AskedAgain),
                ("m3", &Outcome::None)
            ]
        );
        let decisions = store.decisions(2).expect("decisions");
        assert_eq!(
            decisions.kinds,
            [("answer".to_owned(), 1), ("fallback".to_owned(), 1)]
        );
        assert_eq!(decisions.entries, [("cout".to_owned(), 1, 0)]);

        // Reading or erasing a conversation's misses follows its chain, never a scan.
        for sql in [
            concat!(
                misses_chain!(),
                " SELECT id FROM misses WHERE id IN (SELECT id FROM misses_chain)"
            ),
            concat!(
                misses_chain!(),
                " DELETE FROM misses WHERE id IN (SELECT id FROM misses_chain)"
            ),
        ] {
            assert_no_scan(&store, sql, params!["c1"], &["misses", "m"]);
        }
        let tx = store.conn.transaction().expect("tx");
        let removed = write::erase(&tx, "c1").expect("erase").expect("there");
        tx.commit().expect("commit");
        assert_eq!((removed.misses, removed.messages), (3, 3));
        let left = store.visitor_record("c2").expect("record").expect("there");
        assert_eq!(left.misses.len(), 1);
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
