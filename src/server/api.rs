//! The HTTP API: advisor login and logout (a session in an HttpOnly cookie), leads, health and
//! readiness, and the one error type whose responses never leak internals.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{self, authenticate};
use super::limit::Allowed;
use super::limits::retry_secs;
use super::AppState;
use crate::clock::now_ms;
use crate::protocol::LoginRequest;
use crate::secret::{hash_token, new_token};
use crate::store::StoreError;

/// An HTTP error answered as `{"error": code, "message": …}`.
#[derive(Debug)]
pub(super) enum ApiError {
    Unauthorized,
    /// A foreign `Origin`.
    Forbidden,
    /// Too many failed logins from this address: retry after this many seconds.
    TooManyLogins {
        retry_after_secs: u64,
    },
    /// Signed in, but this needs the advisor role named.
    NeedsRole(&'static str),
    /// A query parameter is wrong: the message says how.
    BadRequest(String),
    NotFound,
    Unavailable,
    Internal,
    /// A refusal with its own status, code, message and details (e.g. the problems found).
    Rejected {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message): (_, _, std::borrow::Cow<'static, str>) = match self {
            ApiError::Rejected {
                status,
                code,
                message,
                details,
            } => {
                let mut body = serde_json::json!({ "error": code, "message": message });
                if let (Some(body), serde_json::Value::Object(extra)) =
                    (body.as_object_mut(), details)
                {
                    body.extend(extra);
                }
                return (status, Json(body)).into_response();
            }
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such entry: it may have been renamed or removed; reload the list".into(),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in: send `Authorization: Bearer <token>` or log in at /advisor".into(),
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "requests from this origin are refused: open the page from this server's own \
                 address, or add the origin to server.allowed_origins"
                    .into(),
            ),
            ApiError::TooManyLogins { retry_after_secs } => {
                let body = serde_json::json!({
                    "error": "too_many_logins",
                    "message": format!("too many failed logins from your address: try again in {retry_after_secs} s"),
                    "retry_after": retry_after_secs,
                });
                let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                return response;
            }
            ApiError::NeedsRole(role) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs an advisor with the `{role}` role (`faqbot advisor add NAME --role {role}`)").into(),
            ),
            ApiError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "bad_request", message.into())
            }
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service is not ready".into(),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong on our side".into(),
            ),
        };
        (
            status,
            Json(serde_json::json!({ "error": code, "message": message })),
        )
            .into_response()
    }
}

/// `POST /api/login {"token": …}`: exchanges an advisor's token for a new session, whose id
/// is set as the HttpOnly, SameSite=Strict cookie (the console's script never holds either).
/// Failed attempts are counted per client address: past `server.login_failures` within
/// `server.login_window_secs`, every attempt from it gets 429 until the window ends.
pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    // Behind a proxy, the address it says the client has (`limits.client_address_header`).
    let ip = super::limits::client_address(
        client,
        &headers,
        state.settings.limits.client_address_header.as_deref(),
    );
    let allowed = match state.logins.attempt(ip, Instant::now()) {
        Ok(allowed) => allowed,
        Err(wait) => {
            tracing::debug!("login refused: this address is limited");
            return Err(ApiError::TooManyLogins {
                retry_after_secs: retry_secs(wait),
            });
        }
    };
    let advisor = match auth::advisor_by_token(&state, body.token.trim()).await {
        Ok(Some(advisor)) => advisor,
        Ok(None) | Err(ApiError::Unauthorized) => {
            // The request's span names the client's address; never the token itself, as a
            // near miss of a real one would be half a secret.
            tracing::warn!("advisor login refused: unknown token");
            if allowed == Allowed::Last {
                tracing::warn!(
                    failures = state.settings.server.login_failures,
                    window_secs = state.settings.server.login_window_secs,
                    "too many failed logins: this address is refused until its window ends"
                );
            }
            return Err(ApiError::Unauthorized);
        }
        Err(e) => {
            state.logins.succeeded(ip);
            return Err(e);
        }
    };
    state.logins.succeeded(ip);

    let session = new_token();
    let hours = state.settings.server.session_hours;
    let now = now_ms();
    let expires_at =
        now.saturating_add(i64::try_from(hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX));
    // A login from a browser that is still signed in replaces its session.
    let replaces = auth::session_cookie(&headers).map(|id| hash_token(&id));
    match state
        .db
        .create_session(
            hash_token(&session),
            advisor.name.clone(),
            now,
            expires_at,
            replaces,
        )
        .await
    {
        Ok(()) => {}
        // Removed between the token check and now.
        Err(StoreError::UnknownAdvisor(_)) => return Err(ApiError::Unauthorized),
        Err(e) => {
            tracing::error!(cause = %e, "cannot store a session");
            return Err(ApiError::Internal);
        }
    }
    let cookie = auth::set_session(&state, &headers, &session, hours.saturating_mul(3600))?;
    tracing::info!(advisor = %advisor.name, hours, "advisor logged in");
    let mut response = Json(
        serde_json::json!({ "name": advisor.name, "advisor": advisor.name, "role": advisor.role }),
    )
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /api/logout`: ends the cookie's session on the server (the same cookie no longer
/// signs in, and an advisor WebSocket opened with it closes), then clears the cookie.
pub(super) async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(id) = auth::session_cookie(&headers).filter(|id| !id.is_empty() && id.len() <= 256)
    {
        match state.db.revoke_session(hash_token(&id)).await {
            Ok(Some(advisor)) => tracing::info!(advisor = %advisor, "advisor logged out"),
            Ok(None) => {}
            Err(e) => {
                // The cookie stays: the session would still work, so the logout is not done.
                tracing::error!(cause = %e, "cannot end a session");
                return Err(ApiError::Internal);
            }
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, auth::clear_session(&state, &headers));
    Ok(response)
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct LeadsQuery {
    /// `csv` for a spreadsheet download; JSON otherwise.
    format: Option<String>,
}

/// `GET /api/leads[?format=csv]`: every contact request, oldest first (advisors only).
pub(super) async fn leads(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LeadsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let advisor = authenticate(&state, &headers).await?;
    let leads: Vec<crate::protocol::LeadWire> = state
        .db
        .leads()
        .await
        .map_err(|e| {
            tracing::error!(cause = %e, "cannot list leads");
            ApiError::Internal
        })?
        .iter()
        .map(Into::into)
        .collect();
    tracing::info!(advisor = %advisor.name, count = leads.len(), "leads listed");
    let response = if query.format.as_deref() == Some("csv") {
        let headers = [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ];
        let csv = crate::protocol::leads_csv(&leads).map_err(|e| {
            tracing::error!(cause = %e, "cannot write the leads as CSV");
            ApiError::Internal
        })?;
        (headers, csv).into_response()
    } else {
        Json(serde_json::json!({ "leads": leads })).into_response()
    };
    Ok(no_store(response))
}

/// Marks a response with personal or health data: never cached by a browser or a proxy.
pub(super) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/me`: who is signed in, and with which role (the console shows the knowledge page's
/// link to support staff only).
pub(super) async fn me(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let advisor = authenticate(&state, &headers).await?;
    Ok(Json(
        serde_json::json!({ "name": advisor.name, "role": advisor.role }),
    ))
}

/// `GET /healthz`: the process answers.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the knowledge is loaded, the database answers and no shutdown is under way.
pub(super) async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    if state.shutting_down() || state.live.matcher().knowledge().entries.is_empty() {
        return Err(ApiError::Unavailable);
    }
    state.db.ping().await.map_err(|_| ApiError::Unavailable)?;
    Ok("ready")
}
