//! faqbot: a clinic's website chat assistant. It answers visitors from a curated FAQ written from
//! one article, recognises small talk, emergencies and requests for a person, and hands chats to
//! human advisors.
//!
//! Layout:
//! - [`text`]: pure text processing: folding, tokens, SMS spelling, stemming, language, typos.
//! - [`knowledge`]: loads and validates `faq/` and `intents/` into an immutable [`Knowledge`].
//! - [`matcher`]: pure matching: index, scoring and the answer / clarify / fallback decision.
//! - [`live`]: the served knowledge: watch the files, reload off the request path, swap atomically.
//! - [`protocol`]: the wire formats, one file per audience; the only serde for the wire.
//! - [`config`]: `faqbot serve` settings: defaults, TOML file, `FAQBOT_SECTION__KEY` variables.
//! - [`model`]: the chat's domain: conversations, messages, modes, turns, handoffs, misses.
//! - [`store`]: `Db`, the async store over SQLite: one writer with group commit, read connections.
//! - [`accounts`]: advisor accounts for the CLI: add, list, rotate a token, remove.
//! - [`dialogue`]: pure turns: what a visitor or advisor event stores and tells whom.
//! - [`clock`], [`secret`]: Unix-millisecond time; random ids and tokens, stored as hashes.
//! - [`handoff`]: live connections, availability, handoff cards, the queue frame, the webhook.
//! - [`report`]: what the bot missed: which questions count, rates, grouping by wording.
//! - [`server`]: axum router, visitor and advisor WebSocket sessions, HTTP API, static pages.

pub mod accounts;
pub mod clock;
pub mod config;
pub mod dialogue;
pub mod handoff;
pub mod knowledge;
pub mod live;
pub mod matcher;
pub mod model;
pub mod protocol;
pub mod report;
pub mod secret;
pub mod server;
pub mod store;
pub mod text;

pub use knowledge::{Knowledge, LoadError};
pub use matcher::{Matcher, Reply, ReplyKind, Suggestion};
pub use text::Lang;
