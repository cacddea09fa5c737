//! faqbot: a clinic's website chat assistant. It answers visitors from a curated FAQ written from
//! one article, recognises small talk, emergencies and requests for a person, and hands chats to
//! human advisors.
//!
//! Layout:
//! - [`text`]: pure text processing: folding, tokens, SMS spelling, stemming, language, typos.
//! - [`knowledge`]: loads and validates `faq/` and `intents/` into an immutable [`Knowledge`].
//! - [`matcher`]: pure matching: index, scoring and the answer / clarify / fallback decision.
//! - [`protocol`]: the wire formats (CLI JSON lines, WebSocket frames); the only serde for the wire.

pub mod knowledge;
pub mod matcher;
pub mod protocol;
pub mod text;

pub use knowledge::{Knowledge, LoadError};
pub use matcher::{Matcher, Reply, ReplyKind, Suggestion};
pub use text::Lang;
