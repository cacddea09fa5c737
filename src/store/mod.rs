//! Durable storage of conversations, messages, numbered visitor frames, handoffs, contact
//! requests, advisors and their sessions, and missed questions: [`Db`], the service's async store, over SQLite.
//!
//! **Invariant:** a frame is handed to a connection only after the [`Turn`] that created it is
//! committed, so whatever a client has seen is on disk. A turn is all or nothing: a visitor
//! message, the bot's reply, its frames, any handoff change, the missed question it is and the
//! outcome it gives the previous one land together or not at all.
//!
//! [`Turn`]: crate::model::Turn

mod db;
mod sqlite;

pub use db::{Committed, Db, Deliver};
pub use sqlite::SqliteStore;

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
    #[error("the database at {path} has schema version {found}, this faqbot needs {needed}: run this version of `faqbot serve` on it once to upgrade it")]
    Outdated {
        path: std::path::PathBuf,
        found: i64,
        needed: i64,
    },
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
}
