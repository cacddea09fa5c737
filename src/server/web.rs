//! Static pages from the `web/` folder (`server.web_dir`): the demo page at `/`, the advisor
//! console at `/advisor`, and any other file (`/widget.js`) by name. Read from disk on each
//! request, so the web team's edits show without a restart.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;

pub(super) async fn index(State(state): State<Arc<AppState>>) -> Response {
    serve(&state.settings.server.web_dir, "index.html").await.unwrap_or_else(|| {
        Html(
            "<!doctype html><meta charset=utf-8><title>faqbot</title><p>faqbot is running. \
             The demo page (<code>web/index.html</code>) is not there yet; the WebSocket is at <code>/ws</code>.",
        )
        .into_response()
    })
}

pub(super) async fn advisor(State(state): State<Arc<AppState>>) -> Response {
    serve(&state.settings.server.web_dir, "advisor.html")
        .await
        .unwrap_or_else(not_found)
}

pub(super) async fn file(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    serve(&state.settings.server.web_dir, uri.path())
        .await
        .unwrap_or_else(not_found)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The file at `rel` under `dir`, if it is a plain relative path to a file.
async fn serve(dir: &Path, rel: &str) -> Option<Response> {
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
    Some(
        (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
    )
}
