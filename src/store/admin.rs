//! [`Admin`]: the store as the commands see it (`faqbot advisor`, `leads`, `report`, `purge`,
//! `visitor`): blocking calls, each its own transaction, on SQLite or PostgreSQL.
//!
//! The commands are short-lived and sequential, so a PostgreSQL store here brings its own small
//! runtime and waits for each call; SQLite is called directly, as before.

use super::pg::write::{Done, Op};
use super::{Location, PgStore, SqliteStore, StoreError};
use crate::model::{
    AdvisorSummary, Conversation, Decisions, Lead, Purged, Removed, StoredMiss, Turn, VisitorRecord,
};

/// A command's connection to the service's data.
pub struct Admin {
    backend: Backend,
}

enum Backend {
    Sqlite(SqliteStore),
    Postgres {
        /// Boxed: a runtime is large, and SQLite's variant needs none.
        runtime: Box<tokio::runtime::Runtime>,
        store: PgStore,
    },
}

/// How a command opens the data.
#[derive(Clone, Copy)]
enum Mode {
    /// Creates and migrates (advisor accounts, leads: as `faqbot serve` would).
    Create,
    /// Writes to an existing, up-to-date database, never creating one (purge, erase).
    Existing,
    /// Reads an existing, up-to-date database (reports, exports).
    ReadOnly,
}

impl Admin {
    /// Opens (creating and migrating if needed) the data at `at`.
    pub fn open(at: &Location) -> Result<Admin, StoreError> {
        Admin::with(at, Mode::Create)
    }

    /// Opens the existing data at `at` for writing; never creates or migrates it.
    pub fn open_existing(at: &Location) -> Result<Admin, StoreError> {
        Admin::with(at, Mode::Existing)
    }

    /// Opens the existing data at `at` for reading only.
    pub fn open_read_only(at: &Location) -> Result<Admin, StoreError> {
        Admin::with(at, Mode::ReadOnly)
    }

    fn with(at: &Location, mode: Mode) -> Result<Admin, StoreError> {
        let backend = match at {
            Location::Sqlite(dir) => Backend::Sqlite(match mode {
                Mode::Create => SqliteStore::open(dir)?,
                Mode::Existing => SqliteStore::open_existing(dir)?,
                Mode::ReadOnly => SqliteStore::open_read_only(dir)?,
            }),
            Location::Postgres(url) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Database(Box::new(e)))?;
                let store = runtime.block_on(async {
                    match mode {
                        Mode::Create => PgStore::open(url).await,
                        // PostgreSQL has no read-only connection to ask for: reads are reads.
                        Mode::Existing | Mode::ReadOnly => PgStore::open_existing(url).await,
                    }
                })?;
                Backend::Postgres {
                    runtime: Box::new(runtime),
                    store,
                }
            }
        };
        Ok(Admin { backend })
    }

    /// Where the data is, for messages: the SQLite file, or the URL without its password.
    pub fn shown(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.path().display().to_string(),
            Backend::Postgres { store, .. } => store.shown().to_owned(),
        }
    }

    /// Runs one write on PostgreSQL in its own transaction.
    fn pg_write(
        runtime: &tokio::runtime::Runtime,
        store: &PgStore,
        op: Op,
    ) -> Result<Done, StoreError> {
        runtime.block_on(store.write_one(op))
    }

    pub fn add_advisor(
        &mut self,
        name: &str,
        role: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.add_advisor(name, role, token_hash, now),
            Backend::Postgres { runtime, store } => {
                let op = Op::AddAdvisor {
                    name: name.to_owned(),
                    role: role.to_owned(),
                    token_hash: token_hash.to_owned(),
                    now,
                };
                Admin::pg_write(runtime, store, op).map(drop)
            }
        }
    }

    /// Every advisor, by name, with their sessions still live at `now`.
    pub fn advisors(&self, now: i64) -> Result<Vec<AdvisorSummary>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.advisors(now),
            Backend::Postgres { runtime, store } => runtime.block_on(store.advisors(now)),
        }
    }

    /// Gives `name` a new token (stored as `token_hash`) and ends their sessions.
    pub fn rotate_token(&mut self, name: &str, token_hash: &str) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.rotate_token(name, token_hash),
            Backend::Postgres { runtime, store } => {
                let op = Op::RotateToken {
                    name: name.to_owned(),
                    token_hash: token_hash.to_owned(),
                };
                Admin::pg_write(runtime, store, op).map(drop)
            }
        }
    }

    /// Removes `name`: each conversation they hold first gets the turn `end` makes for it (in
    /// the same transaction), then their sessions and account go. Returns those conversations.
    pub fn remove_advisor(
        &mut self,
        name: &str,
        now: i64,
        end: impl Fn(&str) -> Turn<String>,
    ) -> Result<Vec<String>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.remove_advisor(name, now, end),
            Backend::Postgres { runtime, store } => {
                // The held conversations are read first, then ended with the account in one
                // transaction, which refuses to commit if one more was claimed in between.
                let Done::Ids(held) = Admin::pg_write(runtime, store, Op::Held(name.to_owned()))?
                else {
                    return Err(StoreError::Vanished);
                };
                let ends = held.iter().map(|c| (c.clone(), end(c))).collect();
                let op = Op::RemoveAdvisor {
                    name: name.to_owned(),
                    now,
                    ends,
                };
                match Admin::pg_write(runtime, store, op)? {
                    Done::Ids(ids) => Ok(ids),
                    _ => Err(StoreError::Vanished),
                }
            }
        }
    }

    pub fn leads(&self) -> Result<Vec<Lead>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.leads(),
            Backend::Postgres { runtime, store } => runtime.block_on(store.leads()),
        }
    }

    /// Missed questions and decisions since `since`, from one snapshot.
    pub fn misses_and_decisions(
        &mut self,
        since: i64,
    ) -> Result<(Vec<StoredMiss>, Decisions), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.snapshot(|s| Ok((s.misses(since)?, s.decisions(since)?))),
            Backend::Postgres { runtime, store } => {
                runtime.block_on(store.misses_and_decisions(since))
            }
        }
    }

    /// Removes what is past `cutoff` (see [`SqliteStore::purge`]).
    pub fn purge(&mut self, cutoff: i64) -> Result<Purged, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.purge(cutoff),
            Backend::Postgres { runtime, store } => runtime.block_on(store.purge(cutoff)),
        }
    }

    /// Removes conversation `id` and everything linked to it; `None` if there is none.
    pub fn erase(&mut self, id: &str) -> Result<Option<Removed>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.erase(id),
            Backend::Postgres { runtime, store } => {
                match Admin::pg_write(runtime, store, Op::Erase(id.to_owned()))? {
                    Done::Removed(r) => Ok(r),
                    _ => Err(StoreError::Vanished),
                }
            }
        }
    }

    pub fn conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.conversation(id),
            Backend::Postgres { runtime, store } => runtime.block_on(store.conversation(id)),
        }
    }

    /// The ids of the conversations whose id starts with `prefix`, in order, `limit` at most.
    pub fn conversations_starting(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.conversations_starting(prefix, limit),
            Backend::Postgres { runtime, store } => {
                runtime.block_on(store.conversations_starting(prefix, limit))
            }
        }
    }

    /// Everything stored about conversation `id`, from one snapshot.
    pub fn visitor_record(&mut self, id: &str) -> Result<Option<VisitorRecord>, StoreError> {
        match &mut self.backend {
            Backend::Sqlite(s) => s.snapshot(|s| s.visitor_record(id)),
            Backend::Postgres { runtime, store } => runtime.block_on(store.visitor_record(id)),
        }
    }
}
