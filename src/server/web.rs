//! Static pages from the `web/` folder (`server.web_dir`): the demo page at `/`, the advisor
//! console at `/advisor`, the knowledge page at `/advisor/knowledge`, and any other file
//! (`/widget.js`) by name. Read from disk on each request, so the web team's edits show without
//! a restart.
//!
//! Every file carries a weak `ETag` (a hash of its bytes) and `Cache-Control: no-cache`: the
//! browser keeps its copy and asks each time, and an unchanged file costs a `304` with no body.
//! `/widget.js` is loaded on every page of the clinic's site, so that is most of its traffic.
//! The router compresses these responses (gzip, brotli).
//!
//! These responses carry a `Referrer-Policy`, and HTML pages a Content-Security-Policy that
//! allows scripts from this origin only (no inline scripts); the router adds
//! `X-Content-Type-Options: nosniff` to every response, these and the API's alike.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;

pub(super) async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let page = serve(&state.settings.server.web_dir, "index.html", &headers).await.unwrap_or_else(|| {
        Html(
            "<!doctype html><meta charset=utf-8><title>faqbot</title><p>faqbot is running. \
             The demo page (<code>web/index.html</code>) is not there yet; the WebSocket is at <code>/ws</code>.",
        )
        .into_response()
    });
    secure(page, &headers)
}

pub(super) async fn advisor(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    page(&state, "advisor.html", &headers).await
}

pub(super) async fn knowledge(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    page(&state, "knowledge.html", &headers).await
}

/// A page of `web/` at an address of its own (`/advisor` → `advisor.html`).
async fn page(state: &AppState, name: &str, headers: &HeaderMap) -> Response {
    let page = serve(&state.settings.server.web_dir, name, headers)
        .await
        .unwrap_or_else(not_found);
    secure(page, headers)
}

pub(super) async fn file(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let file = serve(&state.settings.server.web_dir, uri.path(), &headers)
        .await
        .unwrap_or_else(not_found);
    secure(file, &headers)
}

/// Adds the security headers; HTML gets a CSP whose `connect-src` names this host's WebSocket
/// explicitly (older Safari does not count `ws:` as `'self'`).
fn secure(mut res: Response, request: &HeaderMap) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        // A host is letters, digits, dots, dashes, colons and brackets: anything else could
        // smuggle a directive in, so it is left out and `'self'` alone remains.
        let host = request
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            });
        let connect = match host {
            Some(host) => format!("'self' ws://{host} wss://{host}"),
            None => "'self'".to_owned(),
        };
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src {connect}; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'self'"
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    res
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The file at `rel` under `dir`, if it is a plain relative path to a file: `304` without a
/// body when the request's `If-None-Match` names its current `ETag`.
async fn serve(dir: &Path, rel: &str, request: &HeaderMap) -> Option<Response> {
    let rel = rel.trim_start_matches('/');
    let rel_path = Path::new(rel);
    // Only plain names: no `..`, no absolute paths, no drive prefixes.
    if rel.is_empty()
        || !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let path: PathBuf = dir.join(rel_path);
    let bytes = tokio::fs::read(&path).await.ok()?;
    let etag = etag(&bytes);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| none_match(v, &etag));
    // `no-cache` is "store, but ask first": the answer is a 304 while the file is unchanged.
    // (`immutable` would need versioned URLs, and the clinic's pages embed plain `/widget.js`.)
    let validators = [
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::ETAG, etag),
    ];
    if fresh {
        return Some((StatusCode::NOT_MODIFIED, validators).into_response());
    }
    let mime = match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    Some((validators, [(header::CONTENT_TYPE, mime)], bytes).into_response())
}

/// A weak entity tag for these bytes. Weak because the compression layer sends the same tag
/// for the plain, gzip and brotli forms, which a strong tag would promise are byte-identical.
fn etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("W/\"{}\"", hex::encode(&sha2::Sha256::digest(bytes)[..16]))
}

/// Whether an `If-None-Match` value (`*`, or a list of tags) names `etag`, by the weak
/// comparison RFC 9110 prescribes for it: `W/` is ignored on both sides.
fn none_match(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = etag(b"console.log(1)");
        assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "{tag}");
        assert!(none_match(&tag, &tag));
        assert!(none_match(tag.trim_start_matches("W/"), &tag));
        assert!(none_match(&format!("\"x\", {tag}"), &tag));
        assert!(none_match("*", &tag));
        assert!(!none_match("\"x\"", &tag));
        assert!(!none_match(&etag(b"console.log(2)"), &tag));
    }
}
