//! Wire formats, one file per audience (CLI, WebSocket, HTTP, report, knowledge console, a
//! visitor's export) and `domain`, the model as the wire shows it: the only serde for the
//! outside world.

mod chat;
mod cli;
mod csv;
mod domain;
mod http;
mod knowledge;
mod privacy;
mod report;

pub use self::chat::{
    AdvisorIn, AdvisorOut, CandidateWire, FromWire, HandoffCard, HandoffStatusWire, HistoryItem,
    ModeWire, QueueItem, VisitorIn, VisitorOut,
};
pub use self::cli::{AskLine, KindWire, ReplyPayload, SuggestionWire};
pub use self::csv::defuse_csv_field;
pub use self::domain::{numbered, payload};
pub use self::http::{leads_csv, LeadWire, LoginRequest, WebhookEvent, LEADS_CSV_HEADER};
pub use self::knowledge::{
    ExplainWire, FindingWire, KnowledgeStatusWire, RefusalWire, ScoredWire, TokenWire,
};
pub use self::privacy::{ConversationWire, HandoffWire, MissedQuestionWire, VisitorExportWire};
pub use self::report::{
    report_csv, EntryCountWire, GroupCandidateWire, KindRateWire, MissedGroupWire, MissedStatsWire,
    MissedWire, SuggestedEntryWire, REPORT_CSV_HEADER,
};
