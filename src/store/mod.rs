//! Durable storage of conversations, messages, numbered visitor frames, handoffs, contact
//! requests, advisors and their sessions, and missed questions: [`Db`], the service's async
//! store, over SQLite (one machine) or PostgreSQL (several nodes on one database), and
//! [`Admin`], the commands' store over either.
//!
//! **Invariant:** a frame is handed to a connection only after the [`Turn`] that created it is
//! committed, so whatever a client has seen is on disk. A turn is all or nothing: a visitor
//! message, the bot's reply, its frames, any handoff change, the missed question it is and the
//! outcome it gives the previous one land together or not at all.
//!
//! [`Turn`]: crate::model::Turn

mod admin;
mod db;
mod handle;
mod pg;
mod pg_db;
mod rows;
mod sqlite;

pub use admin::Admin;
pub use db::{Committed, Deliver};
pub use handle::{Db, Opened};
pub use pg::PgStore;
pub use pg_db::{OnEvent, PRESENCE_EVERY};
pub use sqlite::SqliteStore;
use sqlite::PURGE_BATCH;

/// Where the data is: a folder holding `faqbot.db` (SQLite, one machine), or a PostgreSQL
/// database (`postgres://…`, any number of nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    /// PostgreSQL when a database URL is given, else SQLite in `data_dir`.
    pub fn new(data_dir: &std::path::Path, database_url: Option<&str>) -> Location {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Location::Postgres(url.to_owned()),
            None => Location::Sqlite(data_dir.to_owned()),
        }
    }

    /// The folder, or the URL without its password: for messages and logs.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(dir) => dir.display().to_string(),
            Location::Postgres(url) => without_password(url),
        }
    }

    /// The command-line flag that points at this place (`--data DIR` or `--database URL`).
    pub fn flag(&self) -> String {
        match self {
            Location::Sqlite(dir) => format!("--data {}", dir.display()),
            Location::Postgres(url) => format!("--database {}", without_password(url)),
        }
    }
}

/// `url` with any password replaced by `***`: what may be printed or logged.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // A key=value connection string: hide the password's value.
        return url
            .split_whitespace()
            .map(|kv| match kv.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => kv.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A storage failure. Callers log it and answer "try again"; details never reach a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("an advisor named `{0}` already exists: pick another name")]
    AdvisorExists(String),
    #[error("there is no advisor named `{0}`: `faqbot advisor list` shows the names")]
    UnknownAdvisor(String),
    #[error("`{0}` took a conversation while being removed: run the command again")]
    ClaimedMeanwhile(String),
    #[error("a row just written could not be read back")]
    Vanished,
    #[error("a storage task {0}: see the report of the panic before this, and restart the service if it happens again")]
    TaskFailed(&'static str),
    #[error("the storage writer has stopped: restart the service")]
    Stopped,
    #[error("the batch this write was part of failed to commit: {0}")]
    Commit(String),
    #[error("there is no database at {0}: pass --data with the service's data folder")]
    NoDatabase(std::path::PathBuf),
    #[error("{0} has no faqbot tables: check the URL, or run `faqbot serve --database` on it once to create them")]
    NoPgDatabase(String),
    #[error("{url} has schema version {found}, this faqbot needs {needed}: run this version of `faqbot serve` on it once to upgrade it")]
    PgOutdated {
        url: String,
        found: i64,
        needed: i64,
    },
    #[error("`{url}` is not a PostgreSQL URL ({message}): write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE")]
    BadUrl { url: String, message: String },
    #[error("cannot connect to {url} ({message}): check that PostgreSQL runs there and the user, password and database name")]
    Unreachable { url: String, message: String },
    #[error("the database at {path} has schema version {found}, this faqbot needs {needed}: run this version of `faqbot serve` on it once to upgrade it")]
    Outdated {
        path: std::path::PathBuf,
        found: i64,
        needed: i64,
    },
}

/// What a node commits that the others must act on: told through PostgreSQL's `NOTIFY` on
/// commit (ids only), read from the tables by whoever acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// Frames `first..=last` of a conversation were committed: its visitor may be here.
    Frames {
        conversation: String,
        first: u64,
        last: u64,
    },
    /// A visitor wrote message `message` in a conversation an advisor holds.
    VisitorMessage { conversation: String, message: i64 },
    /// The queue changed (a handoff opened, claimed, escalated or abandoned).
    Queue,
    /// A handoff was opened (`escalated: false`) or escalated: advisors are alerted.
    Alert {
        conversation: String,
        escalated: bool,
    },
    /// A conversation was claimed (its advisor is read from the database).
    Claimed { conversation: String },
    /// A conversation was erased, by the advisor `by` holding it (empty: by a command): its
    /// visitor, wherever connected, is disconnected.
    Erased { conversation: String, by: String },
    /// The listener (re)connected: anything may have been missed while it was away, so read
    /// again what this node shows (the queue, its visitors' frames).
    Resync,
}

/// A stored visitor frame: its number and its payload (the wire JSON without `seq`, which the
/// edge adds when it sends the frame: see `protocol::numbered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFrame {
    pub seq: u64,
    pub payload: String,
}

/// What applying a turn did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Committed; these frames are delivered.
    Done { frames: Vec<StoredFrame> },
    /// The message id was already stored: nothing changed; these frames answered it (and are
    /// delivered again).
    Duplicate { frames: Vec<StoredFrame> },
    /// The handoff change's condition failed (already claimed, not yours): nothing changed.
    Conflict,
    /// The conversation changed since the turn was decided ([`crate::model::Turn::seen`]), or
    /// is gone: nothing changed; decide again from what is stored now.
    Stale,
}
