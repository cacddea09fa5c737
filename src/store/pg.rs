//! The PostgreSQL backend, for several nodes on one database: schema and versioned migrations,
//! reads over a connection pool, and the writes as functions over an open transaction.
//!
//! Several nodes write at once here, so what the SQLite backend gets from its single writer is
//! asked of the database: a turn locks its conversation's row first (`SELECT … FOR UPDATE`), so
//! two nodes numbering frames of one conversation take turns and `seq` stays gap-free; a claim
//! is one conditional `UPDATE`, which a second node re-checks after the first commits (exactly
//! one winner); an escalation is an `UPDATE … RETURNING` of the rows not yet escalated (once,
//! whichever node's timer runs first). Commits keep the server's `synchronous_commit` (on by
//! default: a commit is on disk before it returns).

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};

use super::rows::{
    advisor_row, card_json, conversation_columns, conversation_row, frame_row, lead_row,
    message_row, miss_row, parse_card, queued_row, LEAD_COLUMNS, MISS_COLUMNS,
};
use super::{Applied, NodeEvent, StoreError, StoredFrame};
use crate::model::{
    Advisor, AdvisorSummary, Card, Conversation, Decisions, Handoff, HandoffChange, HandoffReason,
    Lead, Message, Mode, Purged, QueuedHandoff, Removed, Seen, Sender, StoredMiss, Turn,
    VisitorRecord, PICK,
};

/// Schema versions, applied in order; `faqbot_schema` has a row for each that ran. Its own list:
/// PostgreSQL started at what SQLite reached in five steps.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_active BIGINT NOT NULL,
    lang TEXT NOT NULL,
    page TEXT,
    mode TEXT NOT NULL DEFAULT 'bot',
    advisor TEXT,
    last_seq BIGINT NOT NULL DEFAULT 0,
    fallbacks BIGINT NOT NULL DEFAULT 0,
    offer_reason TEXT,
    last_question TEXT,
    last_candidates TEXT
);
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    at BIGINT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    faq_id TEXT,
    confidence DOUBLE PRECISION,
    advisor TEXT,
    client_id TEXT,
    kind TEXT,
    seq BIGINT NOT NULL DEFAULT 0,
    frame TEXT,
    reply_to TEXT
);
CREATE INDEX messages_by_seq ON messages(conversation_id, seq);
CREATE UNIQUE INDEX messages_by_client_id ON messages(conversation_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX messages_by_kind ON messages(kind, at) WHERE kind IS NOT NULL;
CREATE TABLE frames (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    reply_to TEXT,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX frames_by_seq ON frames(conversation_id, seq);
CREATE TABLE handoffs (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    card TEXT NOT NULL,
    advisor TEXT,
    claimed_at BIGINT,
    escalated_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX handoffs_by_status ON handoffs(status, id);
CREATE INDEX handoffs_by_conversation ON handoffs(conversation_id, id);
CREATE TABLE contacts (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT,
    created_at BIGINT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    message TEXT,
    consent BOOLEAN NOT NULL,
    lang TEXT,
    page TEXT
);
CREATE TABLE advisors (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    advisor_id BIGINT NOT NULL REFERENCES advisors(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_advisor ON sessions(advisor_id);
CREATE TABLE misses (
    id BIGSERIAL PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    at BIGINT NOT NULL,
    lang TEXT NOT NULL,
    question TEXT NOT NULL,
    terms TEXT NOT NULL,
    kind TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    candidates TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'none',
    outcome_faq_id TEXT
);
CREATE INDEX misses_by_conversation ON misses(conversation_id, id);
CREATE INDEX misses_by_at ON misses(at);
"#,
    // 2: which nodes have advisors connected, so that a node without any still hands a visitor
    // to an advisor connected elsewhere. Each node refreshes its row; a row not refreshed for
    // a while is a node gone (killed nodes leave theirs).
    r#"
CREATE TABLE presence (
    node TEXT PRIMARY KEY,
    advisors BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
"#,
    // 3: no foreign key from `messages` to `conversations`. Every message is written by a turn
    // that holds its conversation's row `FOR UPDATE` from before the insert to the commit (the
    // conversation exists and nothing can remove it meanwhile), and erasure removes the messages
    // with the conversation in one transaction. The key's check re-read and re-locked that row
    // for each of the two rows of every turn: 18 % of the buffers a reply touched.
    r#"
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_conversation_id_fkey;
"#,
];

/// The advisory lock migrations hold (any number, the same on every node): a second node
/// starting at the same time waits for the first's migrations, then finds nothing to do.
const MIGRATION_LOCK: i64 = 0x6661_7162_6f74; // "faqbot"

/// Connections per node, for its writers and its reads (the listener has its own).
const POOL_SIZE: usize = 12;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError::Database(Box::new(e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        StoreError::Database(Box::new(e))
    }
}

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// To open the listener's connection, outside the pool.
    config: tokio_postgres::Config,
    /// The URL without its password, for messages.
    shown: String,
}

impl PgStore {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) and runs pending
    /// migrations (`faqbot serve`, `faqbot advisor add`).
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to `url` without creating or migrating anything: for commands that must not
    /// change the schema (reports, purges, exports); refuses a database at another version.
    pub async fn open_existing(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url).await?;
        let found = store.version().await?;
        let needed = MIGRATIONS.len() as i64;
        if found == 0 {
            return Err(StoreError::NoPgDatabase(store.shown.clone()));
        }
        if found < needed {
            return Err(StoreError::PgOutdated {
                url: store.shown.clone(),
                found,
                needed,
            });
        }
        Ok(store)
    }

    async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let shown = super::without_password(url);
        let config: tokio_postgres::Config =
            url.parse()
                .map_err(|e: tokio_postgres::Error| StoreError::BadUrl {
                    url: shown.clone(),
                    message: e.to_string(),
                })?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let store = PgStore {
            pool,
            config,
            shown,
        };
        // Fail now, with the address, rather than on the first visitor's message.
        let _ = store
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unreachable {
                url: store.shown.clone(),
                message: e.to_string(),
            })?;
        Ok(store)
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub(super) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A connection of its own, outside the pool (the listener's), and the future that drives
    /// it and yields its notifications.
    pub(super) async fn dedicated(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
        ),
        StoreError,
    > {
        Ok(self.config.connect(NoTls).await?)
    }

    /// The text of visitor message `message` in `conversation` and the advisor holding that
    /// conversation now, if one does (to forward a message written on another node).
    pub async fn to_forward(
        &self,
        conversation: &str,
        message: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT c.advisor, m.text FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE m.id = $1 AND m.conversation_id = $2 AND c.mode = 'advisor' AND c.advisor IS NOT NULL",
                &[&message, &conversation],
            )
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Records that `node` has `advisors` connected now.
    pub(super) async fn advertise(
        &self,
        node: &str,
        advisors: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                &client
                    .prepare_cached(
                        "INSERT INTO presence (node, advisors, seen_at) VALUES ($1, $2, $3)
                         ON CONFLICT (node) DO UPDATE SET advisors = $2, seen_at = $3",
                    )
                    .await?,
                &[&node, &(advisors.min(i64::MAX as u64) as i64), &now],
            )
            .await?;
        Ok(())
    }

    /// Advisors connected to nodes other than `node` that were seen since `since`.
    pub(super) async fn advisors_elsewhere(
        &self,
        node: &str,
        since: i64,
    ) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one(
                &client
                    .prepare_cached(
                        "SELECT COALESCE(SUM(advisors), 0)::BIGINT FROM presence WHERE node <> $1 AND seen_at >= $2",
                    )
                    .await?,
                &[&node, &since],
            )
            .await?
            .try_get(0)?;
        Ok(n.max(0) as u64)
    }

    /// Forgets `node` (it stops).
    pub(super) async fn leave(&self, node: &str) -> Result<(), StoreError> {
        self.pool
            .get()
            .await?
            .execute("DELETE FROM presence WHERE node = $1", &[&node])
            .await?;
        Ok(())
    }

    /// Migrations that ran (0: none, or no faqbot schema at all).
    async fn version(&self) -> Result<i64, StoreError> {
        let client = self.pool.get().await?;
        let exists: bool = client
            .query_one("SELECT to_regclass('faqbot_schema') IS NOT NULL", &[])
            .await?
            .try_get(0)?;
        if !exists {
            return Ok(0);
        }
        Ok(client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM faqbot_schema",
                &[],
            )
            .await?
            .try_get(0)?)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS faqbot_schema (version BIGINT PRIMARY KEY)")
            .await?;
        let done: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM faqbot_schema",
                &[],
            )
            .await?
            .try_get(0)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO faqbot_schema (version) VALUES ($1)",
                &[&((i + 1) as i64)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs `f` on one read-only snapshot (`REPEATABLE READ`): what it reads agrees even while
    /// nodes commit.
    async fn snapshot<T>(
        &self,
        f: impl for<'t> FnOnce(
            &'t deadpool_postgres::Transaction<'t>,
        ) -> futures_util::future::BoxFuture<'t, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let value = f(&tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    pub async fn conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        read::conversation(&self.pool.get().await?, id).await
    }

    pub async fn conversation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let sql = concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM conversations WHERE token_hash = $1"
        );
        let client = self.pool.get().await?;
        let row = client
            .query_opt(&client.prepare_cached(sql).await?, &[&token_hash])
            .await?;
        row.as_ref().map(|r| Ok(conversation_row(r)?)).transpose()
    }

    pub async fn frames_after(
        &self,
        id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredFrame>, StoreError> {
        read::frames_after(&self.pool.get().await?, id, seq, limit).await
    }

    /// The conversation, its latest `history` messages and the first `page` of its frames
    /// after `after`, from one snapshot.
    pub async fn view(
        &self,
        id: &str,
        history: usize,
        after: Option<u64>,
        page: usize,
    ) -> Result<Option<(Conversation, Vec<Message>, Vec<StoredFrame>)>, StoreError> {
        let id = id.to_owned();
        self.snapshot(move |tx| {
            Box::pin(async move {
                let Some(conv) = read::conversation(tx, &id).await? else {
                    return Ok(None);
                };
                let messages = if history > 0 {
                    read::recent_history(tx, &id, history).await?
                } else {
                    Vec::new()
                };
                let frames = match after {
                    Some(n) => read::frames_after(tx, &id, n, page).await?,
                    None => Vec::new(),
                };
                Ok(Some((conv, messages, frames)))
            })
        })
        .await
    }

    pub async fn queue(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &client
                    .prepare_cached(
                        "SELECT conversation_id, created_at, card, escalated_at FROM handoffs
                         WHERE status = 'queued' ORDER BY id",
                    )
                    .await?,
                &[],
            )
            .await?;
        rows.iter().map(|r| Ok(queued_row(r)?)).collect()
    }

    pub async fn queue_len(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one("SELECT COUNT(*) FROM handoffs WHERE status = 'queued'", &[])
            .await?
            .try_get(0)?;
        Ok(n.max(0) as u64)
    }

    pub async fn transcript(&self, id: &str) -> Result<(Vec<Message>, Option<Card>), StoreError> {
        let id = id.to_owned();
        self.snapshot(move |tx| {
            Box::pin(async move {
                let messages = read::history(tx, &id).await?;
                let card: Option<String> = tx
                    .query_opt(
                        "SELECT card FROM handoffs WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
                        &[&id],
                    )
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                Ok((messages, card.as_deref().map(parse_card)))
            })
        })
        .await
    }

    pub async fn assigned_to(&self, advisor: &str) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT conversation_id FROM handoffs WHERE status = 'assigned' AND advisor = $1 ORDER BY id",
                &[&advisor],
            )
            .await?;
        strings(&rows)
    }

    pub async fn leads(&self) -> Result<Vec<Lead>, StoreError> {
        let client = self.pool.get().await?;
        let sql = format!("SELECT {LEAD_COLUMNS} FROM contacts ORDER BY id");
        let rows = client.query(&sql, &[]).await?;
        rows.iter().map(|r| Ok(lead_row(r)?)).collect()
    }

    pub async fn advisor_by_token(&self, token_hash: &str) -> Result<Option<Advisor>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached("SELECT name, role FROM advisors WHERE token_hash = $1")
                    .await?,
                &[&token_hash],
            )
            .await?;
        row.as_ref().map(|r| Ok(advisor_row(r)?)).transpose()
    }

    pub async fn advisor_by_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<Advisor>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(
                        "SELECT a.name, a.role FROM sessions s JOIN advisors a ON a.id = s.advisor_id
                         WHERE s.id_hash = $1 AND s.expires_at > $2",
                    )
                    .await?,
                &[&id_hash, &now],
            )
            .await?;
        row.as_ref().map(|r| Ok(advisor_row(r)?)).transpose()
    }

    /// Every advisor, by name, with their sessions still live at `now`.
    pub async fn advisors(&self, now: i64) -> Result<Vec<AdvisorSummary>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT a.name, a.role, a.created_at,
                        (SELECT COUNT(*) FROM sessions s WHERE s.advisor_id = a.id AND s.expires_at > $1)
                 FROM advisors a ORDER BY a.name COLLATE \"C\"",
                &[&now],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AdvisorSummary {
                    name: r.try_get(0)?,
                    role: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    live_sessions: r.try_get::<_, i64>(3)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// Missed questions and decisions since `since`, from one snapshot.
    pub async fn misses_and_decisions(
        &self,
        since: i64,
    ) -> Result<(Vec<StoredMiss>, Decisions), StoreError> {
        self.snapshot(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT {MISS_COLUMNS} FROM misses WHERE at >= $1 ORDER BY id");
                let misses = tx
                    .query(&sql, &[&since])
                    .await?
                    .iter()
                    .map(|r| Ok(miss_row(r)?))
                    .collect::<Result<_, StoreError>>()?;
                Ok((misses, read::decisions(tx, since).await?))
            })
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool.get().await?.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    pub async fn quiet_in_queue(&self, before: i64) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT h.conversation_id FROM handoffs h JOIN conversations c ON c.id = h.conversation_id
                 WHERE h.status = 'queued' AND c.last_active <= $1 ORDER BY h.id",
                &[&before],
            )
            .await?;
        strings(&rows)
    }

    pub async fn purgeable(
        &self,
        cutoff: i64,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT id FROM conversations WHERE id COLLATE \"C\" > $1 AND last_active < $2 AND mode = 'bot'
                 ORDER BY id COLLATE \"C\" LIMIT $3",
                &[&after, &cutoff, &(limit as i64)],
            )
            .await?;
        strings(&rows)
    }

    pub async fn kept_in_chat(&self, cutoff: i64) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM conversations WHERE last_active < $1 AND mode != 'bot'",
                &[&cutoff],
            )
            .await?
            .try_get(0)?;
        Ok(n.max(0) as u64)
    }

    /// The ids of the conversations whose id starts with `prefix`, in order, `limit` at most.
    pub async fn conversations_starting(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        // A range rather than LIKE (`%` and `_` mean nothing here); byte order, whatever the
        // database's collation: ids are lowercase hex, all below the prefix followed by `g`.
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT id FROM conversations
                 WHERE id COLLATE \"C\" >= $1 AND id COLLATE \"C\" < $1 || 'g'
                 ORDER BY id COLLATE \"C\" LIMIT $2",
                &[&prefix, &(limit as i64)],
            )
            .await?;
        strings(&rows)
    }

    /// Everything stored about conversation `id`, from one snapshot.
    pub async fn visitor_record(&self, id: &str) -> Result<Option<VisitorRecord>, StoreError> {
        let id = id.to_owned();
        self.snapshot(move |tx| Box::pin(async move { read::visitor_record(tx, &id).await }))
            .await
    }

    /// Runs one write in its own transaction (the CLI's writes); the nodes hear of it as of
    /// any node's (an advisor removed: their visitors told at once; a conversation erased: its
    /// visitor disconnected).
    pub async fn write_one(&self, op: write::Op) -> Result<write::Done, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut told = Vec::new();
        let done = write::run(&tx, &op, &mut told).await?;
        super::pg_db::notify(&tx, super::pg_db::COMMAND, &told).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Removes what a purge at `cutoff` removes, a batch per transaction (`faqbot purge`).
    pub async fn purge(&self, cutoff: i64) -> Result<Purged, StoreError> {
        let mut removed = Removed::default();
        let mut after = String::new();
        loop {
            let ids = self.purgeable(cutoff, &after, super::PURGE_BATCH).await?;
            let Some(last) = ids.last() else { break };
            after = last.clone();
            if let write::Done::Purged(batch, _) = self
                .write_one(write::Op::PurgeConversations { ids, cutoff })
                .await?
            {
                removed.add(batch);
            }
        }
        loop {
            let write::Done::Count(contacts) =
                self.write_one(write::Op::PurgeContacts(cutoff)).await?
            else {
                return Err(StoreError::Vanished);
            };
            removed.contacts += contacts;
            if contacts < super::PURGE_BATCH as u64 {
                break;
            }
        }
        Ok(Purged {
            removed,
            kept_in_chat: self.kept_in_chat(cutoff).await?,
        })
    }
}

/// Reads over a connection or inside a transaction.
mod read {
    use super::*;

    pub async fn conversation(
        c: &impl GenericClient,
        id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let sql = concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM conversations WHERE id = $1"
        );
        let row = c.query_opt(&c.prepare_cached(sql).await?, &[&id]).await?;
        row.as_ref().map(|r| Ok(conversation_row(r)?)).transpose()
    }

    pub async fn frames_after(
        c: &impl GenericClient,
        id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredFrame>, StoreError> {
        let stmt = c
            .prepare_cached(
                "SELECT seq, body FROM frames WHERE conversation_id = $1 AND seq > $2
                 UNION ALL
                 SELECT seq, frame FROM messages
                 WHERE conversation_id = $1 AND seq > $2 AND frame IS NOT NULL
                 ORDER BY seq LIMIT $3",
            )
            .await?;
        let rows = c
            .query(&stmt, &[&id, &(seq as i64), &(limit as i64)])
            .await?;
        rows.iter().map(|r| Ok(frame_row(r)?)).collect()
    }

    pub async fn history(c: &impl GenericClient, id: &str) -> Result<Vec<Message>, StoreError> {
        let stmt = c
            .prepare_cached(
                "SELECT sender, text, at, advisor, faq_id FROM messages WHERE conversation_id = $1 ORDER BY seq, id",
            )
            .await?;
        c.query(&stmt, &[&id])
            .await?
            .iter()
            .map(|r| Ok(message_row(r)?))
            .collect()
    }

    pub async fn recent_history(
        c: &impl GenericClient,
        id: &str,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let stmt = c
            .prepare_cached(
                "SELECT sender, text, at, advisor, faq_id FROM
                     (SELECT id, seq, sender, text, at, advisor, faq_id FROM messages
                      WHERE conversation_id = $1 ORDER BY seq DESC, id DESC LIMIT $2) AS latest
                 ORDER BY seq, id",
            )
            .await?;
        c.query(&stmt, &[&id, &(limit as i64)])
            .await?
            .iter()
            .map(|r| Ok(message_row(r)?))
            .collect()
    }

    pub async fn decisions(c: &impl GenericClient, since: i64) -> Result<Decisions, StoreError> {
        let count = |v: i64| v.max(0) as u64;
        let kinds = c
            .query(
                "SELECT kind, COUNT(*) FROM messages WHERE kind IS NOT NULL AND at >= $1
                 GROUP BY kind ORDER BY kind COLLATE \"C\"",
                &[&since],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
            .collect::<Result<_, StoreError>>()?;
        let entries = c
            .query(
                "SELECT faq_id, COUNT(*) FILTER (WHERE kind = 'answer'), COUNT(*) FILTER (WHERE kind = $2)
                 FROM messages WHERE kind IN ('answer', $2) AND faq_id IS NOT NULL AND at >= $1
                 GROUP BY faq_id ORDER BY faq_id COLLATE \"C\"",
                &[&since, &PICK],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?), count(r.try_get(2)?))))
            .collect::<Result<_, StoreError>>()?;
        let conversations: i64 = c
            .query_one(
                "SELECT COUNT(DISTINCT conversation_id) FROM messages WHERE sender = 'visitor' AND at >= $1",
                &[&since],
            )
            .await?
            .try_get(0)?;
        let handoff_requests: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM handoffs WHERE created_at >= $1",
                &[&since],
            )
            .await?
            .try_get(0)?;
        Ok(Decisions {
            kinds,
            entries,
            conversations: count(conversations),
            handoff_requests: count(handoff_requests),
        })
    }

    pub async fn visitor_record(
        c: &impl GenericClient,
        id: &str,
    ) -> Result<Option<VisitorRecord>, StoreError> {
        let Some(conversation) = conversation(c, id).await? else {
            return Ok(None);
        };
        let handoffs = c
            .query(
                "SELECT created_at, status, card, advisor, claimed_at, escalated_at, ended_at
                 FROM handoffs WHERE conversation_id = $1 ORDER BY id",
                &[&id],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(Handoff {
                    created_at: row.try_get(0)?,
                    status: row.try_get(1)?,
                    card: parse_card(row.try_get(2)?),
                    advisor: row.try_get(3)?,
                    claimed_at: row.try_get(4)?,
                    escalated_at: row.try_get(5)?,
                    ended_at: row.try_get(6)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let sql =
            format!("SELECT {LEAD_COLUMNS} FROM contacts WHERE conversation_id = $1 ORDER BY id");
        let contacts = c
            .query(&sql, &[&id])
            .await?
            .iter()
            .map(|r| Ok(lead_row(r)?))
            .collect::<Result<_, StoreError>>()?;
        let sql =
            format!("SELECT {MISS_COLUMNS} FROM misses WHERE conversation_id = $1 ORDER BY id");
        let misses = c
            .query(&sql, &[&id])
            .await?
            .iter()
            .map(|r| Ok(miss_row(r)?))
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(VisitorRecord {
            messages: history(c, id).await?,
            conversation,
            handoffs,
            contacts,
            misses,
        }))
    }
}

fn strings(rows: &[Row]) -> Result<Vec<String>, StoreError> {
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Writes, each inside a transaction the caller opened and commits: the service's writer task
/// puts many in one, the CLI one each. A write is a value ([`Op`]) rather than a closure: an
/// async closure over a borrowed transaction is more than Rust's closures express, and a
/// value can run again when its batch is retried.
pub mod write {
    use super::*;

    /// What a batch changed that other nodes must hear of (see [`super::NodeEvent`]).
    pub type Told = Vec<NodeEvent>;

    /// One write.
    pub enum Op {
        CreateConversation {
            id: String,
            token_hash: String,
            lang: String,
            page: Option<String>,
            now: i64,
        },
        Touch {
            id: String,
            page: Option<String>,
            now: i64,
        },
        Apply(Box<Turn<String>>, i64),
        AddAdvisor {
            name: String,
            role: String,
            token_hash: String,
            now: i64,
        },
        CreateSession {
            id_hash: String,
            advisor: String,
            now: i64,
            expires_at: i64,
            replaces: Option<String>,
        },
        RevokeSession(String),
        RotateToken {
            name: String,
            token_hash: String,
        },
        /// Ends each held conversation with its turn, then removes the advisor.
        RemoveAdvisor {
            name: String,
            now: i64,
            ends: Vec<(String, Turn<String>)>,
        },
        /// The conversations `name` holds (read in the write's transaction, for a removal).
        Held(String),
        Abandon(Vec<String>, i64),
        Escalate {
            before: i64,
            now: i64,
        },
        Erase(String),
        EraseHeld {
            id: String,
            advisor: String,
        },
        PurgeConversations {
            ids: Vec<String>,
            cutoff: i64,
        },
        PurgeContacts(i64),
    }

    impl Op {
        /// The conversation this write locks first, if one: a batch runs its writes in this
        /// order, so two nodes' batches lock conversations in the same order (no deadlock).
        pub fn conversation(&self) -> Option<&str> {
            match self {
                Op::CreateConversation { id, .. } | Op::Touch { id, .. } => Some(id),
                Op::Apply(turn, _) => Some(&turn.conversation),
                Op::Erase(id) | Op::EraseHeld { id, .. } => Some(id),
                _ => None,
            }
        }
    }

    /// What a write gives back.
    pub enum Done {
        Conversation(Conversation),
        Nothing,
        Applied(Applied),
        Advisor(Option<String>),
        Ids(Vec<String>),
        Queued(Vec<QueuedHandoff>),
        Removed(Option<Removed>),
        Purged(Removed, Vec<String>),
        Count(u64),
    }

    /// Runs `op`; the frames it commits are added to `told`.
    pub async fn run(
        tx: &deadpool_postgres::Transaction<'_>,
        op: &Op,
        told: &mut Told,
    ) -> Result<Done, StoreError> {
        Ok(match op {
            Op::CreateConversation {
                id,
                token_hash,
                lang,
                page,
                now,
            } => {
                tx.execute(
                    &tx.prepare_cached(
                        "INSERT INTO conversations (id, token_hash, created_at, last_active, lang, page) VALUES ($1, $2, $3, $3, $4, $5)",
                    )
                    .await?,
                    &[id, token_hash, now, lang, page],
                )
                .await?;
                Done::Conversation(
                    read::conversation(tx, id)
                        .await?
                        .ok_or(StoreError::Vanished)?,
                )
            }
            Op::Touch { id, page, now } => {
                tx.execute(
                    &tx.prepare_cached(
                        "UPDATE conversations SET last_active = $2, page = COALESCE($3, page) WHERE id = $1",
                    )
                    .await?,
                    &[id, now, page],
                )
                .await?;
                Done::Nothing
            }
            Op::Apply(turn, now) => Done::Applied(apply(tx, turn, *now, told).await?),
            Op::AddAdvisor {
                name,
                role,
                token_hash,
                now,
            } => {
                let inserted = tx
                    .execute(
                        "INSERT INTO advisors (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (name) DO NOTHING",
                        &[name, role, token_hash, now],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(StoreError::AdvisorExists(name.clone()));
                }
                Done::Nothing
            }
            Op::CreateSession {
                id_hash,
                advisor,
                now,
                expires_at,
                replaces,
            } => {
                tx.execute(
                    &tx.prepare_cached("DELETE FROM sessions WHERE expires_at <= $1")
                        .await?,
                    &[now],
                )
                .await?;
                if let Some(old) = replaces {
                    tx.execute("DELETE FROM sessions WHERE id_hash = $1", &[old])
                        .await?;
                }
                let inserted = tx
                    .execute(
                        &tx.prepare_cached(
                            "INSERT INTO sessions (id_hash, advisor_id, created_at, expires_at)
                             SELECT $1, id, $3, $4 FROM advisors WHERE name = $2",
                        )
                        .await?,
                        &[id_hash, advisor, now, expires_at],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(StoreError::UnknownAdvisor(advisor.clone()));
                }
                Done::Nothing
            }
            Op::RevokeSession(id_hash) => {
                let advisor: Option<String> = tx
                    .query_opt(
                        "DELETE FROM sessions s USING advisors a
                         WHERE a.id = s.advisor_id AND s.id_hash = $1 RETURNING a.name",
                        &[id_hash],
                    )
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                Done::Advisor(advisor)
            }
            Op::RotateToken { name, token_hash } => {
                let id = advisor_id(tx, name).await?;
                tx.execute(
                    "UPDATE advisors SET token_hash = $2 WHERE id = $1",
                    &[&id, token_hash],
                )
                .await?;
                tx.execute("DELETE FROM sessions WHERE advisor_id = $1", &[&id])
                    .await?;
                Done::Nothing
            }
            Op::Held(name) => {
                advisor_id(tx, name).await?;
                let rows = tx
                    .query(
                        "SELECT conversation_id FROM handoffs WHERE status = 'assigned' AND advisor = $1 ORDER BY id",
                        &[name],
                    )
                    .await?;
                Done::Ids(strings(&rows)?)
            }
            Op::RemoveAdvisor { name, now, ends } => {
                let id = advisor_id(tx, name).await?;
                for (_, turn) in ends {
                    apply(tx, turn, *now, told).await?;
                }
                let still: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM handoffs WHERE status = 'assigned' AND advisor = $1",
                        &[name],
                    )
                    .await?
                    .try_get(0)?;
                if still > 0 {
                    return Err(StoreError::ClaimedMeanwhile(name.clone()));
                }
                tx.execute("DELETE FROM sessions WHERE advisor_id = $1", &[&id])
                    .await?;
                tx.execute("DELETE FROM advisors WHERE id = $1", &[&id])
                    .await?;
                Done::Ids(ends.iter().map(|(c, _)| c.clone()).collect())
            }
            Op::Abandon(conversations, now) => {
                let mut gone = Vec::new();
                for id in conversations {
                    let changed = tx
                        .execute(
                            "UPDATE handoffs SET status = 'abandoned', ended_at = $2 WHERE conversation_id = $1 AND status = 'queued'",
                            &[id, now],
                        )
                        .await?;
                    if changed > 0 {
                        tx.execute(
                            "UPDATE conversations SET mode = 'bot' WHERE id = $1 AND mode = 'queued'",
                            &[id],
                        )
                        .await?;
                        gone.push(id.clone());
                    }
                }
                if !gone.is_empty() {
                    told.push(NodeEvent::Queue);
                }
                Done::Ids(gone)
            }
            Op::Escalate { before, now } => {
                // The due handoffs whose rows nobody holds: a second node's timer skips those
                // this one is escalating (each is escalated, and alerted, once), and a batch
                // holding one for a claim is never waited for (waiting there while the batch
                // waited for a row taken here was a deadlock). A skipped one is still due at
                // the next tick, if it is still queued then.
                let rows = tx
                    .query(
                        "UPDATE handoffs SET escalated_at = $2
                         WHERE id IN (SELECT id FROM handoffs
                                      WHERE status = 'queued' AND escalated_at IS NULL AND created_at <= $1
                                      FOR UPDATE SKIP LOCKED)
                         RETURNING conversation_id, created_at, card, escalated_at, id",
                        &[before, now],
                    )
                    .await?;
                let mut due = rows
                    .iter()
                    .map(|r| Ok((r.try_get::<_, i64>(4)?, queued_row(r)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                due.sort_by_key(|(id, _)| *id);
                for (_, h) in &due {
                    told.push(NodeEvent::Alert {
                        conversation: h.conversation.clone(),
                        escalated: true,
                    });
                }
                if !due.is_empty() {
                    told.push(NodeEvent::Queue);
                }
                Done::Queued(due.into_iter().map(|(_, h)| h).collect())
            }
            Op::Erase(id) => {
                let removed = erase(tx, id).await?;
                if removed.is_some() {
                    told.push(NodeEvent::Erased {
                        conversation: id.clone(),
                        by: String::new(),
                    });
                }
                Done::Removed(removed)
            }
            Op::EraseHeld { id, advisor } => {
                let held = tx
                    .query_opt(
                        "SELECT 1 FROM conversations WHERE id = $1 AND mode = 'advisor' AND advisor = $2 FOR UPDATE",
                        &[id, advisor],
                    )
                    .await?;
                let removed = match held {
                    Some(_) => erase(tx, id).await?,
                    None => None,
                };
                if removed.is_some() {
                    told.push(NodeEvent::Erased {
                        conversation: id.clone(),
                        by: advisor.clone(),
                    });
                }
                Done::Removed(removed)
            }
            Op::PurgeConversations { ids, cutoff } => {
                let mut removed = Removed::default();
                let mut gone = Vec::with_capacity(ids.len());
                for id in ids {
                    let still = tx
                        .query_opt(
                            "SELECT 1 FROM conversations WHERE id = $1 AND last_active < $2 AND mode = 'bot' FOR UPDATE",
                            &[id, cutoff],
                        )
                        .await?;
                    if still.is_none() {
                        continue;
                    }
                    if let Some(r) = erase(tx, id).await? {
                        removed.add(r);
                        gone.push(id.clone());
                    }
                }
                Done::Purged(removed, gone)
            }
            Op::PurgeContacts(cutoff) => {
                let n = tx
                    .execute(
                        "DELETE FROM contacts WHERE id IN
                             (SELECT id FROM contacts WHERE created_at < $1 ORDER BY id LIMIT $2)",
                        &[cutoff, &(super::super::PURGE_BATCH as i64)],
                    )
                    .await?;
                Done::Count(n)
            }
        })
    }

    async fn advisor_id(
        tx: &deadpool_postgres::Transaction<'_>,
        name: &str,
    ) -> Result<i64, StoreError> {
        tx.query_opt("SELECT id FROM advisors WHERE name = $1", &[&name])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .ok_or_else(|| StoreError::UnknownAdvisor(name.to_owned()))
    }

    /// Messages, column by column (see [`write_rows`]).
    #[derive(Default)]
    struct MessageColumns<'a> {
        conversation: Vec<&'a str>,
        at: Vec<i64>,
        sender: Vec<&'a str>,
        text: Vec<&'a str>,
        faq_id: Vec<Option<&'a str>>,
        confidence: Vec<Option<f64>>,
        advisor: Vec<Option<&'a str>>,
        client_id: Vec<Option<&'a str>>,
        kind: Vec<Option<&'static str>>,
        seq: Vec<i64>,
        frame: Vec<Option<&'a str>>,
        reply_to: Vec<Option<&'a str>>,
    }

    /// Removes conversation `id` and every row linked to it; `None` if there is none.
    async fn erase(
        tx: &deadpool_postgres::Transaction<'_>,
        id: &str,
    ) -> Result<Option<Removed>, StoreError> {
        let mut counts = [0u64; 6];
        // The conversation's row first: a turn writing to it holds it until its commit, so no
        // message of that turn is left behind the erasure (`messages` has no foreign key).
        tx.execute(
            &tx.prepare_cached("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE")
                .await?,
            &[&id],
        )
        .await?;
        // The linked rows first: they reference the conversation.
        for (n, sql) in [
            "DELETE FROM frames WHERE conversation_id = $1",
            "DELETE FROM messages WHERE conversation_id = $1",
            "DELETE FROM misses WHERE conversation_id = $1",
            "DELETE FROM handoffs WHERE conversation_id = $1",
            "DELETE FROM contacts WHERE conversation_id = $1",
            "DELETE FROM conversations WHERE id = $1",
        ]
        .into_iter()
        .enumerate()
        {
            counts[n] = tx.execute(&tx.prepare_cached(sql).await?, &[&id]).await?;
        }
        let [frames, messages, misses, handoffs, contacts, conversations] = counts;
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

    /// Applies a turn: what `sqlite::write::apply` does, with the conversation's row locked
    /// first so that nodes writing the same conversation take turns.
    ///
    /// What other nodes must hear of goes into `told`: the frames numbered, a visitor's message
    /// in a conversation an advisor holds (to forward it), a change of the queue.
    pub(in crate::store) async fn apply(
        tx: &deadpool_postgres::Transaction<'_>,
        turn: &Turn<String>,
        now: i64,
        told: &mut Told,
    ) -> Result<Applied, StoreError> {
        let conv = turn.conversation.as_str();
        // The lock is held to the commit: the `seq` read here is the last one, on every node.
        // One round trip: the lock, then whether the message id was stored already. Two
        // statements: the second takes its snapshot once the lock is held, so a resend that
        // another node committed while this one waited is seen (a subquery of the locking
        // statement reads with that statement's snapshot, taken before the wait).
        let (lock, resend) = futures_util::future::try_join(
            tx.prepare_cached("SELECT last_seq, mode FROM conversations WHERE id = $1 FOR UPDATE"),
            tx.prepare_cached(
                "SELECT seq FROM messages WHERE conversation_id = $1 AND client_id = $2",
            ),
        )
        .await?;
        let (locked, resent) =
            futures_util::future::try_join(tx.query_opt(&lock, &[&conv]), async {
                match &turn.client_id {
                    Some(client_id) => tx.query_opt(&resend, &[&conv, client_id]).await,
                    None => Ok(None),
                }
            })
            .await?;
        let locked: Option<(i64, String)> = locked
            .map(|r| Ok::<_, StoreError>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?;
        // The `seq` of the message this id was stored as, when it is a resend.
        let resent: Option<i64> = resent.map(|r| r.try_get(0)).transpose()?;
        let held = locked.as_ref().is_some_and(|(_, mode)| mode == "advisor");
        let state = locked.as_ref().map(|(seq, mode)| (*seq, mode.as_str()));

        if let Some(client_id) = &turn.client_id {
            if let Some(asked) = resent {
                let stmt = tx
                    .prepare_cached(
                        "SELECT seq, body FROM frames
                         WHERE conversation_id = $1 AND seq > $3 AND reply_to = $2
                         UNION ALL
                         SELECT seq, frame FROM messages
                         WHERE conversation_id = $1 AND seq > $3 AND reply_to = $2 AND frame IS NOT NULL
                         ORDER BY seq",
                    )
                    .await?;
                let frames = tx
                    .query(&stmt, &[&conv, client_id, &asked])
                    .await?
                    .iter()
                    .map(|r| Ok(frame_row(r)?))
                    .collect::<Result<_, StoreError>>()?;
                return Ok(Applied::Duplicate { frames });
            }
        }
        if let Some(saw) = turn.seen {
            if !still(saw, state) {
                return Ok(Applied::Stale);
            }
        }

        match &turn.handoff {
            None => {}
            Some(HandoffChange::Open(card)) => {
                tx.execute(
                    &tx.prepare_cached(
                        "INSERT INTO handoffs (conversation_id, created_at, status, reason, card) VALUES ($1, $2, 'queued', $3, $4)",
                    )
                    .await?,
                    &[&conv, &now, &card.reason, &card_json(card)],
                )
                .await?;
                tx.execute(
                    "UPDATE conversations SET mode = 'queued', advisor = NULL WHERE id = $1",
                    &[&conv],
                )
                .await?;
                told.push(NodeEvent::Alert {
                    conversation: conv.to_owned(),
                    escalated: false,
                });
                told.push(NodeEvent::Queue);
            }
            Some(HandoffChange::Unavailable(card)) => {
                tx.execute(
                    "INSERT INTO handoffs (conversation_id, created_at, status, reason, card, ended_at) VALUES ($1, $2, 'unavailable', $3, $4, $2)",
                    &[&conv, &now, &card.reason, &card_json(card)],
                )
                .await?;
            }
            Some(HandoffChange::Claim { advisor }) => {
                // Of two advisors on two nodes clicking at once, the second's UPDATE waits for
                // the first's commit and then finds the handoff no longer queued.
                let changed = tx
                    .execute(
                        "UPDATE handoffs SET status = 'assigned', advisor = $2, claimed_at = $3 WHERE conversation_id = $1 AND status = 'queued'",
                        &[&conv, advisor, &now],
                    )
                    .await?;
                if changed == 0 {
                    return Ok(Applied::Conflict);
                }
                tx.execute(
                    "UPDATE conversations SET mode = 'advisor', advisor = $2 WHERE id = $1",
                    &[&conv, advisor],
                )
                .await?;
                told.push(NodeEvent::Claimed {
                    conversation: conv.to_owned(),
                });
                told.push(NodeEvent::Queue);
            }
            Some(HandoffChange::End { advisor, status }) => {
                let changed = tx
                    .execute(
                        "UPDATE handoffs SET status = $3, ended_at = $4 WHERE conversation_id = $1 AND status = 'assigned' AND advisor = $2",
                        &[&conv, advisor, &status.as_str(), &now],
                    )
                    .await?;
                if changed == 0 {
                    return Ok(Applied::Conflict);
                }
                tx.execute(
                    "UPDATE conversations SET mode = 'bot', advisor = NULL, fallbacks = 0 WHERE id = $1",
                    &[&conv],
                )
                .await?;
            }
        }

        let last = if turn.messages.is_empty() && turn.frames.is_empty() {
            0
        } else {
            state.map(|(seq, _)| seq).ok_or(StoreError::Vanished)?
        };
        let placed = [Placed {
            turn,
            now,
            last,
            held,
        }];
        let frames = write_rows(tx, &placed, told)
            .await?
            .pop()
            .unwrap_or_default();

        if let Some(c) = &turn.contact {
            tx.execute(
                "INSERT INTO contacts (conversation_id, created_at, name, email, phone, message, consent, lang, page)
                 SELECT id, $2, $3, $4, $5, $6, $7, lang, page FROM conversations WHERE id = $1",
                &[&conv, &now, &c.name, &c.email, &c.phone, &c.message, &c.consent],
            )
            .await?;
        }
        Ok(Applied::Done { frames })
    }

    /// Whether the conversation is still as its turn saw it (`state`: its `last_seq` and mode
    /// under the lock; `None` when gone).
    pub(in crate::store) fn still(seen: Seen, state: Option<(i64, &str)>) -> bool {
        state.is_some_and(|(seq, mode)| {
            u64::try_from(seq).ok() == Some(seen.last_seq) && Mode::parse(mode) == seen.mode
        })
    }

    /// A conversation as [`lock`] found it.
    pub(in crate::store) struct Locked {
        pub last_seq: i64,
        pub mode: String,
        /// The message id asked about is stored already (a visitor's resend).
        pub resent: bool,
    }

    /// Locks the rows of conversations `ids` (sorted, as every node sorts them: no deadlock
    /// between two nodes' batches) in one statement; gives each one's `last_seq` and mode, and
    /// whether the message id paired with it in `asked` (conversations, ids) is stored already.
    /// That answer is read with the statement's snapshot: a resend another node commits while
    /// this waits for the lock is not seen here, but its row then breaks the unique index, and
    /// the batch runs again one turn at a time, where it is seen.
    pub(in crate::store) async fn lock(
        tx: &deadpool_postgres::Transaction<'_>,
        ids: &[&str],
        asked: (&[&str], &[&str]),
    ) -> Result<HashMap<String, Locked>, StoreError> {
        let stmt = tx
            .prepare_cached(
                "SELECT c.id, c.last_seq, c.mode,
                        u.client_id IS NOT NULL AND EXISTS (
                            SELECT 1 FROM messages m
                            WHERE m.conversation_id = c.id AND m.client_id = u.client_id)
                 FROM conversations c
                 LEFT JOIN unnest($2::text[], $3::text[]) AS u(conversation_id, client_id)
                   ON u.conversation_id = c.id
                 WHERE c.id = ANY($1) ORDER BY c.id FOR UPDATE OF c",
            )
            .await?;
        tx.query(&stmt, &[&ids, &asked.0, &asked.1])
            .await?
            .iter()
            .map(|r| {
                let locked = Locked {
                    last_seq: r.try_get(1)?,
                    mode: r.try_get(2)?,
                    resent: r.try_get(3)?,
                };
                Ok((r.try_get(0)?, locked))
            })
            .collect()
    }

    /// A turn whose conversation is locked and whose `seq`s are known: they follow `last`.
    pub(in crate::store) struct Placed<'a> {
        pub turn: &'a Turn<String>,
        pub now: i64,
        pub last: i64,
        /// An advisor holds the conversation: its visitor messages are told to the nodes.
        pub held: bool,
    }

    /// Writes the messages, misses, frames and conversation changes of `placed` (one turn per
    /// conversation): one statement per table for all of them, sent together (pipelined).
    /// Gives each turn's frames, numbered.
    pub(in crate::store) async fn write_rows(
        tx: &deadpool_postgres::Transaction<'_>,
        placed: &[Placed<'_>],
        told: &mut Told,
    ) -> Result<Vec<Vec<StoredFrame>>, StoreError> {
        let mut cols = MessageColumns::default();
        let mut outcomes = OutcomeColumns::default();
        let mut misses = MissColumns::default();
        let mut frame_cols = FrameColumns::default();
        let mut updates = UpdateColumns::default();
        let mut frames = Vec::with_capacity(placed.len());
        for p in placed {
            let (turn, conv) = (p.turn, p.turn.conversation.as_str());
            let seq_of = |frame: usize| p.last + frame as i64 + 1;
            for (i, m) in turn.messages.iter().enumerate() {
                let client_id = if i == 0 && m.from == Sender::Visitor {
                    turn.client_id.as_deref()
                } else {
                    None
                };
                let sent = m.frame.and_then(|k| Some((k, turn.frames.get(k)?)));
                let (seq, frame, reply_to) = match sent {
                    Some((k, payload)) => {
                        (seq_of(k), Some(payload.as_str()), turn.client_id.as_deref())
                    }
                    None => (p.last, None, None),
                };
                cols.conversation.push(conv);
                cols.at.push(p.now);
                cols.sender.push(m.from.as_str());
                cols.text.push(m.text.as_str());
                cols.faq_id.push(m.faq_id.as_deref());
                cols.confidence.push(m.confidence.map(f64::from));
                cols.advisor.push(m.advisor.as_deref());
                cols.client_id.push(client_id);
                cols.kind.push(m.kind);
                cols.seq.push(seq);
                cols.frame.push(frame);
                cols.reply_to.push(reply_to);
            }
            if let Some(outcome) = &turn.outcome {
                outcomes.conversation.push(conv);
                outcomes.outcome.push(outcome.as_str());
                outcomes.faq_id.push(outcome.entry());
            }
            if let Some(m) = &turn.miss {
                misses.conversation.push(conv);
                misses.at.push(p.now);
                misses.lang.push(m.lang.as_str());
                misses.question.push(m.question.as_str());
                misses
                    .terms
                    .push(serde_json::to_string(&m.terms).unwrap_or_else(|_| "[]".into()));
                misses.kind.push(m.kind.as_str());
                misses.confidence.push(f64::from(m.confidence));
                misses
                    .candidates
                    .push(serde_json::to_string(&m.candidates).unwrap_or_else(|_| "[]".into()));
                misses.outcome.push(m.outcome.as_str());
                misses.faq_id.push(m.outcome.entry());
            }
            let mut numbered = Vec::with_capacity(turn.frames.len());
            for (k, payload) in turn.frames.iter().enumerate() {
                let seq = seq_of(k);
                // A frame that answers a message is stored on that message's row.
                if !turn.messages.iter().any(|m| m.frame == Some(k)) {
                    frame_cols.conversation.push(conv);
                    frame_cols.seq.push(seq);
                    frame_cols.at.push(p.now);
                    frame_cols.reply_to.push(turn.client_id.as_deref());
                    frame_cols.body.push(payload.as_str());
                }
                numbered.push(StoredFrame {
                    seq: seq as u64,
                    payload: payload.clone(),
                });
            }
            if let (Some(first), Some(last)) = (numbered.first(), numbered.last()) {
                told.push(NodeEvent::Frames {
                    conversation: conv.to_owned(),
                    first: first.seq,
                    last: last.seq,
                });
            }
            let u = &turn.update;
            updates.conversation.push(conv);
            updates.lang.push(u.lang.as_deref());
            updates.fallbacks.push(u.fallbacks.map(i64::from));
            updates.set_offer.push(u.offer_reason.is_some());
            updates
                .offer_reason
                .push(u.offer_reason.flatten().map(HandoffReason::as_str));
            updates.last_question.push(u.last_question.as_deref());
            updates.last_candidates.push(
                u.last_candidates
                    .as_ref()
                    .map(|c| serde_json::to_string(c).unwrap_or_else(|_| "[]".into())),
            );
            updates.touch.push(u.touch);
            updates.at.push(p.now);
            updates.last_seq.push(numbered.last().map(|f| f.seq as i64));
            frames.push(numbered);
        }

        // Prepared first (cached after the first batch), so that the statements below go out
        // together, in this order, which is the order PostgreSQL runs them in.
        let held = placed.iter().any(|p| p.held);
        let insert_messages = tx
            .prepare_cached(if held {
                INSERT_MESSAGES_RETURNING
            } else {
                INSERT_MESSAGES
            })
            .await?;
        let update_outcomes = tx.prepare_cached(UPDATE_OUTCOMES).await?;
        let insert_misses = tx.prepare_cached(INSERT_MISSES).await?;
        let insert_frames = tx.prepare_cached(INSERT_FRAMES).await?;
        let update_conversations = tx.prepare_cached(UPDATE_CONVERSATIONS).await?;

        let message_params: [&(dyn ToSql + Sync); 12] = [
            &cols.conversation,
            &cols.at,
            &cols.sender,
            &cols.text,
            &cols.faq_id,
            &cols.confidence,
            &cols.advisor,
            &cols.client_id,
            &cols.kind,
            &cols.seq,
            &cols.frame,
            &cols.reply_to,
        ];
        let returning = !cols.conversation.is_empty() && held;
        let outcome_params: [&(dyn ToSql + Sync); 3] =
            [&outcomes.conversation, &outcomes.outcome, &outcomes.faq_id];
        let miss_params: [&(dyn ToSql + Sync); 10] = [
            &misses.conversation,
            &misses.at,
            &misses.lang,
            &misses.question,
            &misses.terms,
            &misses.kind,
            &misses.confidence,
            &misses.candidates,
            &misses.outcome,
            &misses.faq_id,
        ];
        let frame_params: [&(dyn ToSql + Sync); 5] = [
            &frame_cols.conversation,
            &frame_cols.seq,
            &frame_cols.at,
            &frame_cols.reply_to,
            &frame_cols.body,
        ];
        let update_params: [&(dyn ToSql + Sync); 10] = [
            &updates.conversation,
            &updates.lang,
            &updates.fallbacks,
            &updates.set_offer,
            &updates.offer_reason,
            &updates.last_question,
            &updates.last_candidates,
            &updates.touch,
            &updates.at,
            &updates.last_seq,
        ];
        type Sent<'s> =
            futures_util::future::BoxFuture<'s, Result<Vec<Row>, tokio_postgres::Error>>;
        let mut sent: Vec<Sent<'_>> = Vec::with_capacity(5);
        if !cols.conversation.is_empty() {
            sent.push(Box::pin(tx.query(&insert_messages, &message_params)));
        }
        if !outcomes.conversation.is_empty() {
            sent.push(Box::pin(tx.query(&update_outcomes, &outcome_params)));
        }
        if !misses.conversation.is_empty() {
            sent.push(Box::pin(tx.query(&insert_misses, &miss_params)));
        }
        if !frame_cols.conversation.is_empty() {
            sent.push(Box::pin(tx.query(&insert_frames, &frame_params)));
        }
        if !updates.conversation.is_empty() {
            sent.push(Box::pin(tx.query(&update_conversations, &update_params)));
        }
        let answers = futures_util::future::try_join_all(sent).await?;

        if returning {
            let held: HashSet<&str> = placed
                .iter()
                .filter(|p| p.held)
                .map(|p| p.turn.conversation.as_str())
                .collect();
            for row in answers.first().map(Vec::as_slice).unwrap_or_default() {
                let (id, conversation, sender): (i64, &str, &str) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                if sender == Sender::Visitor.as_str() && held.contains(conversation) {
                    // The advisor holding it may be connected to another node.
                    told.push(NodeEvent::VisitorMessage {
                        conversation: conversation.to_owned(),
                        message: id,
                    });
                }
            }
        }
        Ok(frames)
    }

    /// The messages insert of [`write_rows`]; a macro so that the two forms below are one text.
    macro_rules! insert_messages {
        () => {
            "INSERT INTO messages (conversation_id, at, sender, text, faq_id, confidence, advisor, client_id, kind, seq, frame, reply_to)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[],
                                  $8::text[], $9::text[], $10::int8[], $11::text[], $12::text[])"
        };
    }
    const INSERT_MESSAGES: &str = insert_messages!();
    /// With the ids of the visitor messages an advisor must be told about.
    const INSERT_MESSAGES_RETURNING: &str =
        concat!(insert_messages!(), " RETURNING id, conversation_id, sender");
    /// The outcome of each conversation's last missed question, while it has none. The rows
    /// are found by id, from an array computed first (an index lookup per conversation): a
    /// join from the conversations to `misses` may be planned as a scan of every miss, and a
    /// prepared statement keeps its plan.
    const UPDATE_OUTCOMES: &str =
        "UPDATE misses AS m SET outcome = u.outcome, outcome_faq_id = u.faq_id
         FROM unnest($1::text[], $2::text[], $3::text[]) AS u(conversation_id, outcome, faq_id)
         WHERE m.id = ANY (ARRAY(
                 SELECT (SELECT MAX(x.id) FROM misses x WHERE x.conversation_id = v.conversation_id)
                 FROM unnest($1::text[]) AS v(conversation_id)))
           AND m.conversation_id = u.conversation_id
           AND m.outcome = 'none'";
    const INSERT_MISSES: &str = "INSERT INTO misses (conversation_id, at, lang, question, terms, kind, confidence, candidates, outcome, outcome_faq_id)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::float8[], $8::text[], $9::text[], $10::text[])";
    const INSERT_FRAMES: &str = "INSERT INTO frames (conversation_id, seq, at, reply_to, body)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[])";
    /// `NULL` keeps a column as it is; `set_offer` says whether `offer_reason` changes (to
    /// `NULL` too); `touch` moves `last_active`.
    const UPDATE_CONVERSATIONS: &str = "UPDATE conversations AS c SET
             lang = COALESCE(u.lang, c.lang),
             fallbacks = COALESCE(u.fallbacks, c.fallbacks),
             offer_reason = CASE WHEN u.set_offer THEN u.offer_reason ELSE c.offer_reason END,
             last_question = COALESCE(u.last_question, c.last_question),
             last_candidates = COALESCE(u.last_candidates, c.last_candidates),
             last_active = CASE WHEN u.touch THEN u.at ELSE c.last_active END,
             last_seq = COALESCE(u.last_seq, c.last_seq)
         FROM unnest($1::text[], $2::text[], $3::int8[], $4::bool[], $5::text[], $6::text[],
                     $7::text[], $8::bool[], $9::int8[], $10::int8[])
           AS u(id, lang, fallbacks, set_offer, offer_reason, last_question, last_candidates, touch, at, last_seq)
         WHERE c.id = u.id";

    /// Misses' outcomes, column by column (see [`write_rows`]).
    #[derive(Default)]
    struct OutcomeColumns<'a> {
        conversation: Vec<&'a str>,
        outcome: Vec<&'static str>,
        faq_id: Vec<Option<&'a str>>,
    }

    /// New misses, column by column.
    #[derive(Default)]
    struct MissColumns<'a> {
        conversation: Vec<&'a str>,
        at: Vec<i64>,
        lang: Vec<&'a str>,
        question: Vec<&'a str>,
        terms: Vec<String>,
        kind: Vec<&'static str>,
        confidence: Vec<f64>,
        candidates: Vec<String>,
        outcome: Vec<&'static str>,
        faq_id: Vec<Option<&'a str>>,
    }

    /// Frames that answer no message, column by column.
    #[derive(Default)]
    struct FrameColumns<'a> {
        conversation: Vec<&'a str>,
        seq: Vec<i64>,
        at: Vec<i64>,
        reply_to: Vec<Option<&'a str>>,
        body: Vec<&'a str>,
    }

    /// Conversation changes, column by column.
    #[derive(Default)]
    struct UpdateColumns<'a> {
        conversation: Vec<&'a str>,
        lang: Vec<Option<&'a str>>,
        fallbacks: Vec<Option<i64>>,
        set_offer: Vec<bool>,
        offer_reason: Vec<Option<&'static str>>,
        last_question: Vec<Option<&'a str>>,
        last_candidates: Vec<Option<String>>,
        touch: Vec<bool>,
        at: Vec<i64>,
        last_seq: Vec<Option<i64>>,
    }
}
