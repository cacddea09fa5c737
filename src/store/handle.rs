//! [`Db`]: the service's store, whichever database holds it. Its methods take and return the
//! domain's types; each runs on the backend chosen at start (SQLite on one machine, PostgreSQL
//! for several nodes), so the server never knows which.

use std::sync::Arc;

use super::db::{Committed, Deliver, SqliteDb};
use super::pg::write::{Done, Op};
use super::pg::PgStore;
use super::pg_db::{OnEvent, PgDb};
use super::{Applied, SqliteStore, StoreError, StoredFrame};
use crate::clock::now_ms;
use crate::model::{
    Advisor, Card, Conversation, Decisions, Lead, Message, QueuedHandoff, Removed, StoredMiss, Turn,
};

/// A database opened (and migrated) for the service, not yet started.
pub enum Opened {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl From<SqliteStore> for Opened {
    fn from(store: SqliteStore) -> Opened {
        Opened::Sqlite(store)
    }
}

impl From<PgStore> for Opened {
    fn from(store: PgStore) -> Opened {
        Opened::Postgres(store)
    }
}

/// A cloneable handle on the store.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqliteDb),
    Postgres(Arc<PgDb>),
}

/// The write's answer, or [`StoreError::Vanished`] if the writer gave back another kind (a bug,
/// reported rather than panicked on).
macro_rules! answer {
    ($done:expr, $pat:pat => $value:expr) => {
        match $done {
            $pat => Ok($value),
            _ => Err(StoreError::Vanished),
        }
    };
}

impl Db {
    /// Starts the writer on `store` (opened with [`SqliteStore::open`]) and opens the readers.
    pub fn sqlite(
        store: SqliteStore,
        deliver: Deliver,
        committed: Committed,
    ) -> Result<Db, StoreError> {
        Db::start(Opened::Sqlite(store), deliver, committed)
    }

    /// Starts the writer on `store`. A PostgreSQL writer is a task: call this inside a tokio
    /// runtime.
    pub fn start(
        store: impl Into<Opened>,
        deliver: Deliver,
        committed: Committed,
    ) -> Result<Db, StoreError> {
        let backend = match store.into() {
            Opened::Sqlite(s) => Backend::Sqlite(SqliteDb::start(s, deliver, committed)?),
            Opened::Postgres(p) => Backend::Postgres(Arc::new(PgDb::start(p, deliver, committed))),
        };
        Ok(Db { backend })
    }

    /// `true` when other nodes may share the database (PostgreSQL).
    pub fn shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Hands `on` what other nodes commit (PostgreSQL; nothing on SQLite, which has one node).
    pub fn listen(&self, on: OnEvent) {
        if let Backend::Postgres(p) = &self.backend {
            p.listen(on);
        }
    }

    /// Records how many advisors are connected to this node (other nodes count them as
    /// available); nothing on SQLite.
    /// `advisors` is called when the record is written, so the last record has the last count.
    pub async fn advertise(&self, advisors: impl FnOnce() -> u64) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(p) => p.advertise(advisors).await,
        }
    }

    /// Advisors connected to other nodes (0 on SQLite).
    pub async fn advisors_elsewhere(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(0),
            Backend::Postgres(p) => p.advisors_elsewhere().await,
        }
    }

    /// The advisor holding `conversation` and the text of its visitor message `message`, if an
    /// advisor holds it (a message written on another node, to forward).
    pub async fn to_forward(
        &self,
        conversation: &str,
        message: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(p) => p.store.to_forward(conversation, message).await,
        }
    }

    pub async fn conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.conversation(id).await,
            Backend::Postgres(p) => p.store.conversation(id).await,
        }
    }

    pub async fn conversation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.conversation_by_token(token_hash).await,
            Backend::Postgres(p) => p.store.conversation_by_token(token_hash).await,
        }
    }

    /// The conversation's frames after `seq`, `limit` at most.
    pub async fn frames_after(
        &self,
        id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredFrame>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.frames_after(id, seq, limit).await,
            Backend::Postgres(p) => p.store.frames_after(id, seq, limit).await,
        }
    }

    /// What a (re)connecting visitor is shown, from one snapshot: the conversation, its
    /// latest `history` messages, and the first `page` of its frames after `after` when given.
    pub async fn view(
        &self,
        id: &str,
        history: usize,
        after: Option<u64>,
        page: usize,
    ) -> Result<Option<(Conversation, Vec<Message>, Vec<StoredFrame>)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.view(id, history, after, page).await,
            Backend::Postgres(p) => p.store.view(id, history, after, page).await,
        }
    }

    pub async fn queue(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.queue().await,
            Backend::Postgres(p) => p.store.queue().await,
        }
    }

    /// How many chats wait for an advisor.
    pub async fn queue_len(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.queue_len().await,
            Backend::Postgres(p) => p.store.queue_len().await,
        }
    }

    /// A conversation's messages and latest handoff card, read together (an advisor's
    /// transcript).
    pub async fn transcript(&self, id: &str) -> Result<(Vec<Message>, Option<Card>), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.transcript(id).await,
            Backend::Postgres(p) => p.store.transcript(id).await,
        }
    }

    pub async fn assigned_to(&self, advisor: &str) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.assigned_to(advisor).await,
            Backend::Postgres(p) => p.store.assigned_to(advisor).await,
        }
    }

    pub async fn leads(&self) -> Result<Vec<Lead>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.leads().await,
            Backend::Postgres(p) => p.store.leads().await,
        }
    }

    pub async fn advisor_by_token(&self, token_hash: &str) -> Result<Option<Advisor>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.advisor_by_token(token_hash).await,
            Backend::Postgres(p) => p.store.advisor_by_token(token_hash).await,
        }
    }

    /// The advisor signed in by the session hashed as `id_hash`, if it is live.
    pub async fn advisor_by_session(&self, id_hash: &str) -> Result<Option<Advisor>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.advisor_by_session(id_hash).await,
            Backend::Postgres(p) => p.store.advisor_by_session(id_hash, now_ms()).await,
        }
    }

    /// Missed questions and decisions since `since`, from one snapshot.
    pub async fn misses_and_decisions(
        &self,
        since: i64,
    ) -> Result<(Vec<StoredMiss>, Decisions), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.misses_and_decisions(since).await,
            Backend::Postgres(p) => p.store.misses_and_decisions(since).await,
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.ping().await,
            Backend::Postgres(p) => p.store.ping().await,
        }
    }

    pub async fn create_conversation(
        &self,
        id: String,
        token_hash: String,
        lang: &'static str,
        page: Option<String>,
    ) -> Result<Conversation, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.create_conversation(id, token_hash, lang, page).await,
            Backend::Postgres(p) => {
                let op = Op::CreateConversation {
                    id,
                    token_hash,
                    lang: lang.to_owned(),
                    page,
                    now: now_ms(),
                };
                answer!(p.write(op).await?, Done::Conversation(c) => c)
            }
        }
    }

    pub async fn touch(&self, id: &str, page: Option<String>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.touch(id, page).await,
            Backend::Postgres(p) => {
                let op = Op::Touch {
                    id: id.to_owned(),
                    page,
                    now: now_ms(),
                };
                answer!(p.write(op).await?, Done::Nothing => ())
            }
        }
    }

    /// Applies `turn` (its frames already encoded) and delivers its frames once durable.
    pub async fn apply(&self, turn: Turn<String>) -> Result<Applied, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.apply(turn).await,
            Backend::Postgres(p) => {
                let op = Op::Apply(Box::new(turn), now_ms());
                answer!(p.write(op).await?, Done::Applied(a) => a)
            }
        }
    }

    /// Stores a new session of `advisor`, ending the one hashed as `replaces` if given.
    /// [`StoreError::UnknownAdvisor`] if the advisor was removed meanwhile.
    pub async fn create_session(
        &self,
        id_hash: String,
        advisor: String,
        now: i64,
        expires_at: i64,
        replaces: Option<String>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => {
                s.create_session(id_hash, advisor, now, expires_at, replaces)
                    .await
            }
            Backend::Postgres(p) => {
                let op = Op::CreateSession {
                    id_hash,
                    advisor,
                    now,
                    expires_at,
                    replaces,
                };
                answer!(p.write(op).await?, Done::Nothing => ())
            }
        }
    }

    /// Ends the session hashed as `id_hash`; returns its advisor if there was one.
    pub async fn revoke_session(&self, id_hash: String) -> Result<Option<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.revoke_session(id_hash).await,
            Backend::Postgres(p) => {
                answer!(p.write(Op::RevokeSession(id_hash)).await?, Done::Advisor(a) => a)
            }
        }
    }

    /// Queued conversations whose visitor was last active before `before`.
    pub async fn quiet_in_queue(&self, before: i64) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.quiet_in_queue(before).await,
            Backend::Postgres(p) => p.store.quiet_in_queue(before).await,
        }
    }

    /// Takes `conversations` out of the queue (their visitors left); returns those that were
    /// still in it.
    pub async fn abandon(&self, conversations: Vec<String>) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.abandon(conversations).await,
            Backend::Postgres(p) => {
                let op = Op::Abandon(conversations, now_ms());
                answer!(p.write(op).await?, Done::Ids(ids) => ids)
            }
        }
    }

    /// Marks queued handoffs created before `before` as escalated and returns them: each
    /// handoff once, whichever node asks.
    pub async fn escalate(&self, before: i64) -> Result<Vec<QueuedHandoff>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.escalate(before).await,
            Backend::Postgres(p) => {
                let op = Op::Escalate {
                    before,
                    now: now_ms(),
                };
                answer!(p.write(op).await?, Done::Queued(due) => due)
            }
        }
    }

    /// Erases conversation `id` and everything linked to it if `advisor` holds it now (decided
    /// by the writer); `None` if they do not (or there is no such conversation).
    pub async fn erase_held(&self, id: &str, advisor: &str) -> Result<Option<Removed>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.erase_held(id, advisor).await,
            Backend::Postgres(p) => {
                let op = Op::EraseHeld {
                    id: id.to_owned(),
                    advisor: advisor.to_owned(),
                };
                answer!(p.write(op).await?, Done::Removed(r) => r)
            }
        }
    }

    /// The next batch of conversations a purge at `cutoff` removes, after id `after`.
    pub async fn purgeable(&self, cutoff: i64, after: &str) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.purgeable(cutoff, after).await,
            Backend::Postgres(p) => p.store.purgeable(cutoff, after, super::PURGE_BATCH).await,
        }
    }

    /// Erases those of `ids` still purgeable at `cutoff`, in one of the writer's batches;
    /// returns what was removed and which conversations.
    pub async fn purge_conversations(
        &self,
        ids: Vec<String>,
        cutoff: i64,
    ) -> Result<(Removed, Vec<String>), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.purge_conversations(ids, cutoff).await,
            Backend::Postgres(p) => {
                let op = Op::PurgeConversations { ids, cutoff };
                answer!(p.write(op).await?, Done::Purged(r, ids) => (r, ids))
            }
        }
    }

    /// Removes a batch of contact requests left before `cutoff`; returns how many, and whether
    /// that was the last batch.
    pub async fn purge_contacts(&self, cutoff: i64) -> Result<(u64, bool), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.purge_contacts(cutoff).await,
            Backend::Postgres(p) => {
                let n = answer!(p.write(Op::PurgeContacts(cutoff)).await?, Done::Count(n) => n)?;
                Ok((n, n < super::PURGE_BATCH as u64))
            }
        }
    }

    /// Conversations past `cutoff` that a purge keeps (held by an advisor, or queued).
    pub async fn kept_in_chat(&self, cutoff: i64) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.kept_in_chat(cutoff).await,
            Backend::Postgres(p) => p.store.kept_in_chat(cutoff).await,
        }
    }

    /// Stops the writer once it has committed what it was given (and, on SQLite, folds the
    /// write-ahead log into the database file). Writes after this fail with
    /// [`StoreError::Stopped`].
    pub async fn close(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}
