//! Who is asking: an advisor's bearer token (scripts, tests) or the console's session cookie,
//! the cookie's attributes, and the `Origin` check on WebSocket handshakes and on every request
//! that changes something under `/api/`.
//!
//! **Invariant:** the cookie carries a session id, never an advisor's token; the database keeps
//! only the hashes of both, so a copy of it signs nobody in.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::AppState;
use crate::model::Advisor;
use crate::secret::hash_token;

/// The cookie set by `POST /api/login`: a session id.
pub(super) const COOKIE: &str = "faqbot_advisor";

/// The longest token or session id looked up; anything longer is refused unread.
const MAX_SECRET: usize = 256;

/// What a request proved its advisor with, as stored (hashed). An advisor WebSocket keeps it to
/// check again while it stays open: a logout, `advisor rotate` or `advisor remove` ends it.
#[derive(Clone)]
pub(super) enum Credential {
    /// `Authorization: Bearer TOKEN`: the hash of the advisor's token.
    Token(String),
    /// The login cookie: the hash of the session id.
    Session(String),
}

/// The advisor behind a request: bearer token first, then the login cookie.
pub(super) async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Advisor, ApiError> {
    identify(state, headers).await.map(|(advisor, _)| advisor)
}

/// [`authenticate`], with the credential it was proved by.
pub(super) async fn identify(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<(Advisor, Credential), ApiError> {
    let credential = if let Some(token) = bearer(headers) {
        Credential::Token(hashed(&token)?)
    } else if let Some(id) = session_cookie(headers) {
        Credential::Session(hashed(&id)?)
    } else {
        return Err(ApiError::Unauthorized);
    };
    match lookup(state, &credential).await? {
        Some(advisor) => Ok((advisor, credential)),
        None => {
            // A wrong bearer token is a guess or a script with an old token; a cookie that no
            // longer works is an ordinary expired or ended session. The request's span names
            // the client address.
            match credential {
                Credential::Token(_) => tracing::warn!("advisor token refused"),
                Credential::Session(_) => tracing::info!("advisor session expired or ended"),
            }
            Err(ApiError::Unauthorized)
        }
    }
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

/// The advisor whose token this is (`POST /api/login`), unlogged: the caller logs with the
/// client's address and counts the failure.
pub(super) async fn advisor_by_token(
    state: &Arc<AppState>,
    token: &str,
) -> Result<Option<Advisor>, ApiError> {
    lookup(state, &Credential::Token(hashed(token)?)).await
}

/// Whether `credential` still signs its advisor in (not ended, expired, rotated or removed).
pub(super) async fn still_valid(
    state: &Arc<AppState>,
    credential: &Credential,
) -> Result<bool, ApiError> {
    Ok(lookup(state, credential).await?.is_some())
}

async fn lookup(
    state: &Arc<AppState>,
    credential: &Credential,
) -> Result<Option<Advisor>, ApiError> {
    let found = match credential {
        Credential::Token(hash) => state.db.advisor_by_token(hash).await,
        Credential::Session(hash) => state.db.advisor_by_session(hash).await,
    };
    found.map_err(|e| {
        tracing::error!(cause = %e, "cannot check an advisor's credential");
        ApiError::Internal
    })
}

/// The hash a secret is stored under; an empty or oversized one is refused before hashing.
fn hashed(secret: &str) -> Result<String, ApiError> {
    if secret.is_empty() || secret.len() > MAX_SECRET {
        return Err(ApiError::Unauthorized);
    }
    Ok(hash_token(secret))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_owned())
}

/// The session id in the login cookie, if the request has one.
pub(super) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Set-Cookie` value that gives the browser session `id` for `max_age_secs`: HttpOnly, so
/// the console's script never holds it; SameSite=Strict; `Secure` as [`secure_cookie`] says.
pub(super) fn set_session(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    max_age_secs: u64,
) -> Result<HeaderValue, ApiError> {
    let secure = cookie_is_secure(state, headers);
    if secure && plain_http_page(headers) {
        // The browser will drop the cookie: say how to fix it rather than leave a login that
        // seems to work and then does not.
        tracing::warn!(
            "login from a plain-HTTP page: the session cookie is Secure, so the browser drops \
             it; serve the console over HTTPS (or set server.secure_cookie = false on a \
             trusted network)"
        );
    }
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&cookie).map_err(|_| ApiError::Internal)
}

/// The `Set-Cookie` value that removes the login cookie.
pub(super) fn clear_session(state: &AppState, headers: &HeaderMap) -> HeaderValue {
    if cookie_is_secure(state, headers) {
        HeaderValue::from_static(
            "faqbot_advisor=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("faqbot_advisor=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

fn cookie_is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    secure_cookie(
        state.settings.server.secure_cookie,
        state.listening(),
        came_over_https(headers),
    )
}

/// Whether the session cookie is marked `Secure`: as `setting` says if set; otherwise yes,
/// unless the service listens on a loopback address (`cargo run -- serve`, plain HTTP on this
/// machine) and nothing says the page was served over HTTPS (a TLS proxy in front of a
/// loopback listener forwards an `https` Origin or `X-Forwarded-Proto`). Adding `Secure` can
/// only make the cookie safer, so a hint from the request is enough to add it.
pub(super) fn secure_cookie(setting: Option<bool>, listening: SocketAddr, https: bool) -> bool {
    setting.unwrap_or_else(|| https || !listening.ip().to_canonical().is_loopback())
}

fn came_over_https(headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    value("origin").is_some_and(|o| o.starts_with("https://"))
        || value("x-forwarded-proto").is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// A page served over plain HTTP from another machine: browsers keep `Secure` cookies over
/// plain HTTP only from `localhost`.
fn plain_http_page(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let Some(host) = origin.strip_prefix("http://") else {
        return false;
    };
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    !matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Browsers send `Origin` on WebSocket handshakes and on every request that is not a plain
/// GET or HEAD: it must be this server (same host) or a configured origin. Other clients (no
/// `Origin`: curl, scripts with a bearer token) rely on their credential alone.
pub(super) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && origin_host == host
}

/// Middleware on `/api/`: a request that changes something (any method but GET, HEAD and
/// OPTIONS) from a foreign `Origin` is refused with 403 before it is read. SameSite=Strict
/// already keeps the cookie off cross-site requests; this also covers browsers or setups where
/// it does not hold (same-site subdomains, older browsers).
pub(super) async fn check_origin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let reads = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !reads && !origin_allowed(request.headers(), &state.settings.server.allowed_origins) {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .unwrap_or("");
        tracing::warn!(
            origin,
            method = %request.method(),
            path = request.uri().path(),
            "request refused: foreign Origin"
        );
        return ApiError::Forbidden.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_host_or_configured_origins_pass() {
        let mut h = HeaderMap::new();
        h.insert("host", "127.0.0.1:8080".parse().expect("header"));
        assert!(origin_allowed(&h, &[]));
        h.insert("origin", "http://127.0.0.1:8080".parse().expect("header"));
        assert!(origin_allowed(&h, &[]));
        h.insert("origin", "https://evil.example".parse().expect("header"));
        assert!(!origin_allowed(&h, &[]));
        assert!(origin_allowed(&h, &["https://evil.example/".to_owned()]));
        h.insert("origin", "null".parse().expect("header"));
        assert!(!origin_allowed(&h, &[]));
    }

    #[test]
    fn the_cookie_is_secure_unless_served_on_loopback_over_plain_http() {
        let addr = |s: &str| s.parse::<SocketAddr>().expect("an address");
        // Unset: on loopback, not Secure (plain-HTTP development) unless the page was HTTPS.
        assert!(!secure_cookie(None, addr("127.0.0.1:8080"), false));
        assert!(!secure_cookie(None, addr("[::1]:8080"), false));
        assert!(!secure_cookie(None, addr("[::ffff:127.0.0.1]:8080"), false));
        assert!(secure_cookie(None, addr("127.0.0.1:8080"), true));
        // Anywhere else, Secure.
        assert!(secure_cookie(None, addr("0.0.0.0:8080"), false));
        assert!(secure_cookie(None, addr("[::]:8080"), false));
        assert!(secure_cookie(None, addr("192.0.2.10:8080"), false));
        // Set, it wins either way.
        assert!(secure_cookie(Some(true), addr("127.0.0.1:8080"), false));
        assert!(!secure_cookie(Some(false), addr("0.0.0.0:8080"), true));
    }

    #[test]
    fn https_hints_come_from_the_origin_or_a_proxy() {
        let with = |name: &'static str, value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        assert!(came_over_https(&with("origin", "https://clinic.example")));
        assert!(came_over_https(&with("x-forwarded-proto", "HTTPS")));
        assert!(!came_over_https(&with("origin", "http://clinic.example")));
        assert!(!came_over_https(&HeaderMap::new()));
        assert!(plain_http_page(&with("origin", "http://192.0.2.10:8080")));
        assert!(!plain_http_page(&with("origin", "http://localhost:8080")));
        assert!(!plain_http_page(&with("origin", "https://clinic.example")));
    }
}
