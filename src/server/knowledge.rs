//! The knowledge console's API (`/api/knowledge/…`, support staff only): list and read entries,
//! check a draft as it is typed, save it to its file, try a question, reload.
//!
//! Saving writes the entry's Markdown file (the files stay the one source of truth) and reloads;
//! a save based on an old revision is refused with 409, never merged silently.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::ApiError;
use super::auth::authenticate_support;
use super::AppState;
use crate::knowledge::edit::{current_revision, EntryDraft, SaveError};
use crate::live::{Outcome, Trigger};
use crate::matcher::gates;
use crate::protocol::{ExplainWire, FindingWire, KnowledgeStatusWire};
use crate::text::Lang;

/// Questions longer than this are cut before "try a question", as the chat cuts them.
const MAX_TRY_CHARS: usize = 2_000;

/// Runs blocking knowledge work (file reads, index builds) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(cause = %e, "knowledge task failed");
        ApiError::Internal
    })
}

/// `GET /api/knowledge`: the served knowledge (version, problems, last refused change) and its
/// entries.
pub(super) async fn overview(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate_support(&state, &headers).await?;
    let matcher = state.live.matcher();
    let entries: Vec<Value> = matcher
        .knowledge()
        .entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "lang": e.lang.code(),
                "question": e.question,
                "section": e.section,
                "phrasings": e.phrasings.len(),
                "keywords": e.keywords,
                // For the list's search box: every word an author may look for.
                "search": format!("{} {} {} {}", e.id, e.question, e.phrasings.join(" "), e.keywords.join(" ")),
            })
        })
        .collect();
    Ok(Json(json!({
        "status": KnowledgeStatusWire::from(&state.live.status()),
        "entries": entries,
    })))
}

/// `GET /api/knowledge/entries/{lang}/{id}`: the entry as the form edits it, with the revision
/// the save must name.
pub(super) async fn entry(
    State(state): State<Arc<AppState>>,
    Path((lang, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate_support(&state, &headers).await?;
    let lang = Lang::from_code(&lang).ok_or(ApiError::NotFound)?;
    let matcher = state.live.matcher();
    let entry = matcher
        .knowledge()
        .entry(&id, lang)
        .ok_or(ApiError::NotFound)?
        .clone();
    let path = entry.path.clone();
    // The revision of the file as it is now: the served entry may lag a save by a reload.
    let revision = blocking(move || current_revision(&path))
        .await?
        .map_err(|e| {
            tracing::error!(cause = %e, "cannot read an entry file");
            ApiError::Internal
        })?;
    Ok(Json(json!({
        "entry": EntryDraft::from_entry(&entry),
        "revision": revision,
        "path": entry.path.display().to_string(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckRequest {
    entry: EntryDraft,
}

/// `POST /api/knowledge/check {"entry": …}`: every finding the draft would have once saved:
/// file errors, or else the quality gates for this entry with the draft in place of the entry
/// it edits (its phrasings sent elsewhere, phrasings of others it takes, overlaps, length…).
/// Nothing is written.
pub(super) async fn check(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(request): Json<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    authenticate_support(&state, &headers).await?;
    let live = state.live.clone();
    let problems = blocking(move || draft_findings(&live, &request.entry)).await?;
    Ok(Json(json!({ "problems": problems })))
}

fn draft_findings(live: &crate::live::Live, draft: &EntryDraft) -> Vec<FindingWire> {
    let findings = match (draft.path_in(live.faq_dir()), draft.language()) {
        (Some(path), Some(lang)) => gates::check_edit(
            &live.matcher(),
            &path,
            &draft.render(),
            lang,
            live.gate_options(),
        ),
        _ => draft.problems(live.faq_dir()),
    };
    findings.iter().map(FindingWire::from).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SaveRequest {
    entry: EntryDraft,
    /// The revision the editor opened; `null` creates a new entry.
    base_revision: Option<String>,
}

/// `PUT /api/knowledge/entries/{lang}/{id} {"entry": …, "base_revision": …}`: writes the file
/// atomically and reloads. 409 if the file changed since `base_revision` (or exists, for a
/// create), 422 with the problems if the draft is invalid.
pub(super) async fn save(
    State(state): State<Arc<AppState>>,
    Path((lang, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(request): Json<SaveRequest>,
) -> Result<Response, ApiError> {
    let advisor = authenticate_support(&state, &headers).await?;
    if request.entry.id != id || request.entry.lang != lang {
        return Err(ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            code: "mismatch",
            message: format!(
                "the address names {lang}/{id} but the entry is {}/{}: save it at its own address",
                request.entry.lang, request.entry.id
            ),
            details: Value::Null,
        });
    }
    let live = state.live.clone();
    let result = blocking(move || {
        live.save(
            &request.entry,
            request.base_revision.as_deref(),
            &advisor.name,
        )
    })
    .await?;
    let saved = match result {
        Ok(saved) => saved,
        Err((e, last)) => return Err(save_error(e, last)),
    };
    if let Outcome::Swapped { .. } = saved.outcome {
        // The gates' findings reach the status when ready, after this answer.
        state.live.check_quality_later();
    }
    let (served, version, refused) = match &saved.outcome {
        Outcome::Swapped { version, .. } => (true, *version, Vec::new()),
        // Only watch events are skipped as unchanged; kept for completeness.
        Outcome::Unchanged => (true, state.live.status().version, Vec::new()),
        Outcome::Refused { problems } => (
            false,
            state.live.status().version,
            problems.iter().map(FindingWire::from).collect(),
        ),
    };
    Ok((
        StatusCode::OK,
        Json(json!({
            "revision": saved.saved.revision,
            "path": saved.saved.path.display().to_string(),
            "served": served,
            "version": version,
            // Why the saved file is not served yet (another file is broken).
            "refused": refused,
        })),
    )
        .into_response())
}

fn save_error(e: SaveError, last: Option<crate::live::LastSave>) -> ApiError {
    let message = e.to_string();
    match e {
        SaveError::Invalid(problems) => ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message,
            details: json!({ "problems": problems.iter().map(FindingWire::from).collect::<Vec<_>>() }),
        },
        SaveError::BadName(_) => ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "bad_name",
            message,
            details: Value::Null,
        },
        SaveError::Conflict { .. } | SaveError::Exists { .. } => ApiError::Rejected {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: match &last {
                Some(l) => format!(
                    "{message} (last saved from the console by {} at {})",
                    l.advisor,
                    crate::clock::rfc3339(l.at)
                ),
                None => message,
            },
            details: json!({
                "last_save": last.map(|l| json!({ "by": l.advisor, "at": l.at })),
            }),
        },
        SaveError::Io { .. } => {
            tracing::error!(cause = %message, "cannot save an entry");
            ApiError::Rejected {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "io",
                message,
                details: Value::Null,
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TryRequest {
    question: String,
    lang: Option<String>,
}

/// `POST /api/knowledge/try {"question": …, "lang": "fr"|null}`: what the bot would answer,
/// and why. Nothing is recorded.
pub(super) async fn try_question(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(request): Json<TryRequest>,
) -> Result<Json<ExplainWire>, ApiError> {
    authenticate_support(&state, &headers).await?;
    let lang = match request.lang.as_deref() {
        None | Some("") => None,
        Some(code) => Some(Lang::from_code(code).ok_or(ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            code: "bad_lang",
            message: format!(
                "unknown language `{code}`: use fr, en, or leave it empty to detect it"
            ),
            details: Value::Null,
        })?),
    };
    let question: String = request.question.chars().take(MAX_TRY_CHARS).collect();
    let matcher = state.live.matcher();
    // Matching is CPU work: off the async threads, so that no question (however odd) holds up
    // the web server's other requests.
    let explained =
        blocking(move || ExplainWire::new(&question, &matcher.explain(&question, lang))).await?;
    Ok(Json(explained))
}

/// `POST /api/knowledge/reload`: re-reads the files now (the watcher usually has already).
pub(super) async fn reload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let advisor = authenticate_support(&state, &headers).await?;
    let live = state.live.clone();
    let outcome = blocking(move || {
        live.reload(Trigger::Console {
            advisor: advisor.name,
        })
    })
    .await?;
    let swapped = matches!(outcome, Outcome::Swapped { .. });
    if swapped {
        // The gates' findings reach the status when ready, after this answer.
        state.live.check_quality_later();
    }
    Ok(Json(json!({
        "swapped": swapped,
        "status": KnowledgeStatusWire::from(&state.live.status()),
    })))
}
