//! `GET /api/knowledge/missed`: what the bot missed, for advisors with the `support` role:
//! the rates of its decisions, missed questions grouped by wording, and the most given entries.
//!
//! Query: `since` (`2025-01-31`, an RFC 3339 time, `7d` or `12h`; default: since the start) and
//! `limit` (groups and entries, default 50, at most 500). Without login: 401; role other than
//! `support`: 403 `{"error":"forbidden"}`; bad `since`: 400 `{"error":"bad_request"}`. The
//! answer (`Cache-Control: no-store`: visitors' questions are health data):
//!
//! ```json
//! {
//!   "since": null,                    // or RFC 3339 UTC
//!   "low_confidence": 0.6,            // answers below it count as missed
//!   "stats": {
//!     "questions": 8,                 // typed questions the bot replied to
//!     "conversations": 2,
//!     "kinds": [{"kind": "answer", "count": 2, "rate": 0.25}, …],
//!                                     // answer, clarify, fallback, handoff, smalltalk, emergency
//!     "low_confidence": 1,            // answers below the threshold (within "answer")
//!     "picks": 1,                     // suggestions picked (not typed: not in the rates)
//!     "misses": 6,
//!     "handoff_requests": 1           // in words or with the button
//!   },
//!   "groups": [{                      // biggest first (web/README.md has a full example)
//!     "id": 12,                       // the first miss's id: a stable key
//!     "lang": "fr",
//!     "count": 2,
//!     "terms": ["accept", "#refund"], // the matcher's reading of the first question
//!     "examples": ["Acceptez-vous la carte vitale ?", …],  // distinct wordings, ≤ 5
//!     "kind": "fallback",             // most frequent: fallback | clarify | low_confidence | handoff
//!     "kinds": {"fallback": 2},
//!     "outcome": "asked_again",       // most frequent: none | picked | answered | asked_again
//!                                     //   | asked_person | other
//!     "outcomes": {"asked_again": 2},
//!     "candidates": [{"id": "out_of_scope", "is_intent": true, "question": "",
//!                     "count": 2, "confidence": 0.85}],    // ≤ 3, most frequent first
//!     "suggestion": {"faq_id": "cout", "question": "Combien coûte… ?",
//!                    "basis": "picked", "votes": 1},       // or top_candidate; null: new entry
//!     "first_at": "2025-01-31T08:00:00Z",
//!     "last_at": "2025-01-31T09:12:00Z"
//!   }],
//!   "groups_total": 5,
//!   "entries": [{"faq_id": "cout", "answers": 1, "picks": 0}]  // most given first
//! }
//! ```

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::api::{self, ApiError};
use super::auth;
use super::AppState;
use crate::clock::now_ms;
use crate::protocol::MissedWire;
use crate::report;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
pub(super) struct MissedQuery {
    since: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn missed(
    State(state): State<Arc<AppState>>,
    Query(query): Query<MissedQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let advisor = auth::authenticate_support(&state, &headers).await?;
    let since = query
        .since
        .as_deref()
        .map(|s| report::parse_since(s, now_ms()))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let from = since.unwrap_or(0);
    // Both reads in one snapshot: the rates and the misses agree.
    let (misses, decisions) = state.db.misses_and_decisions(from).await.map_err(|e| {
        tracing::error!(cause = %e, "cannot read missed questions");
        ApiError::Internal
    })?;
    // Grouping compares each miss with each group: off the async threads.
    let report =
        tokio::task::spawn_blocking(move || report::build(&misses, &decisions, since, limit))
            .await
            .map_err(|e| {
                tracing::error!(cause = %e, "grouping missed questions failed");
                ApiError::Internal
            })?;
    tracing::info!(advisor = %advisor.name, groups = report.groups_total, "missed questions listed");
    let body = MissedWire::new(&report, state.settings.report.low_confidence);
    Ok(api::no_store(Json(body).into_response()))
}
