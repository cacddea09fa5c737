//! The HTTP API: advisor login (sets the HttpOnly cookie), leads, health and readiness, and
//! the one error type whose responses never leak internals.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::AppState;
use crate::model::Advisor;
use crate::protocol::LoginRequest;
use crate::secret::hash_token;

/// The cookie set by `POST /api/login`.
pub(super) const COOKIE: &str = "faqbot_advisor";

/// An HTTP error answered as `{"error": code, "message": …}`.
#[derive(Debug)]
pub(super) enum ApiError {
    Unauthorized,
    Forbidden,
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
                "this origin may not open the advisor console".into(),
            ),
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

/// The advisor behind a request: bearer token first, then the login cookie.
pub(super) async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Advisor, ApiError> {
    let token = bearer(headers)
        .or_else(|| cookie(headers))
        .ok_or(ApiError::Unauthorized)?;
    check_token(state, token).await
}

/// The role that sees and edits the knowledge.
const SUPPORT: &str = "support";

/// [`authenticate`], then the `support` role (the knowledge page and its API).
pub(super) async fn authenticate_support(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Advisor, ApiError> {
    let advisor = authenticate(state, headers).await?;
    if advisor.role != SUPPORT {
        return Err(ApiError::NeedsRole(SUPPORT));
    }
    Ok(advisor)
}

async fn check_token(state: &Arc<AppState>, token: String) -> Result<Advisor, ApiError> {
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::Unauthorized);
    }
    let hash = hash_token(&token);
    match state.db.advisor_by_token(&hash).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => {
            tracing::info!("advisor authentication failed");
            Err(ApiError::Unauthorized)
        }
        Err(e) => {
            tracing::error!(cause = %e, "cannot check an advisor token");
            Err(ApiError::Internal)
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// `POST /api/login {"token": …}`: checks the token and sets it as an HttpOnly,
/// SameSite=Strict cookie, so the console's script never holds it.
pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let advisor = check_token(&state, body.token.trim().to_owned()).await?;
    let secure = if state.settings.server.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200{secure}",
        body.token.trim()
    );
    let value = HeaderValue::from_str(&cookie).map_err(|_| ApiError::Unauthorized)?;
    tracing::info!(advisor = %advisor.name, "advisor logged in");
    let mut response = Json(
        serde_json::json!({ "name": advisor.name, "advisor": advisor.name, "role": advisor.role }),
    )
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

/// `POST /api/logout`: clears the cookie.
pub(super) async fn logout() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("faqbot_advisor=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
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
