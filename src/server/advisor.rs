//! The advisor WebSocket `/ws/advisor`: authenticated (bearer token or login cookie) and
//! Origin-checked before the upgrade; then claims, messages, releases, closes and erasures.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::api::{authenticate, ApiError};
use super::chat::{self, Refusal};
use super::privacy;
use super::socket::{close, pump, Session};
use super::visitor::{check_text, configure, parse_frame};
use super::AppState;
use crate::model::{Advisor, EndStatus};
use crate::protocol::{AdvisorIn, AdvisorOut};

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    if !origin_allowed(&headers, &state.settings.server.allowed_origins) {
        tracing::warn!("advisor connection refused: foreign Origin");
        return ApiError::Forbidden.into_response();
    }
    if let Some(refused) = state.refuse_when_full() {
        return refused;
    }
    let advisor = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    configure(ws).on_upgrade(move |socket| session(socket, state, advisor))
}

/// Browsers always send `Origin` on WebSocket handshakes: it must be this server (same host)
/// or a configured origin. Other clients (no `Origin`) rely on the bearer token alone.
pub(super) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && origin_host == host
}

#[tracing::instrument(skip_all, fields(advisor = %advisor.name))]
async fn session(mut socket: WebSocket, state: Arc<AppState>, advisor: Advisor) {
    let _guard = state.session_guard();
    let mut shutdown = state.shutdown_signal();
    if state.shutting_down() {
        let _ = socket.send(close(1001, "going away")).await;
        return;
    }
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel(state.settings.chat.outgoing_queue.max(32));
    let conn_id =
        match chat::advisor_connected(&state, advisor.name.clone(), advisor.role.clone(), tx).await
        {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(cause = %e, "cannot open the advisor session");
                let _ = socket
                    .send(close(1011, "storage unavailable: try again"))
                    .await;
                return;
            }
        };
    tracing::info!(role = %advisor.role, "advisor connected");
    let kind = Session {
        who: "advisor",
        overflow: "too slow: reconnect for a fresh queue",
        ping_every: std::time::Duration::from_secs(state.settings.limits.ping_secs),
        error_frame: |r| {
            AdvisorOut::Error {
                code: r.code,
                message: r.message,
                conversation: r.conversation,
            }
            .to_text()
        },
    };
    pump(&mut socket, &mut rx, &mut shutdown, &kind, 0, |text| {
        let (state, advisor) = (state.clone(), advisor.clone());
        async move { Box::pin(handle(&state, conn_id, &advisor, &text)).await }
    })
    .await;
    state.hub.unregister_advisor(conn_id);
    tracing::info!(secs = started.elapsed().as_secs(), "advisor disconnected");
}

async fn handle(
    state: &Arc<AppState>,
    conn_id: u64,
    advisor: &Advisor,
    text: &str,
) -> Result<(), Refusal> {
    let chat_settings = &state.settings.chat;
    let frame = parse_frame::<AdvisorIn>(text, chat_settings.max_frame_bytes, &AdvisorIn::TYPES)?;
    let (AdvisorIn::Claim { conversation }
    | AdvisorIn::Message { conversation, .. }
    | AdvisorIn::Release { conversation }
    | AdvisorIn::Close { conversation }
    | AdvisorIn::Erase { conversation }) = &frame;
    if conversation.is_empty() || conversation.len() > 64 {
        return Err(Refusal::new(
            "bad_frame",
            "a conversation id has 1 to 64 characters",
        ));
    }
    // From here on every refusal names its conversation: an advisor holds several at once.
    let result = match &frame {
        AdvisorIn::Claim { .. } => chat::claim(state, conn_id, conversation, &advisor.name).await,
        AdvisorIn::Message { text, .. } => match check_text(text, chat_settings.max_text_chars) {
            Ok(text) => chat::advisor_message(state, conversation, &advisor.name, text).await,
            Err(r) => Err(r),
        },
        AdvisorIn::Release { .. } => {
            chat::advisor_end(state, conversation, &advisor.name, EndStatus::Released).await
        }
        AdvisorIn::Close { .. } => {
            chat::advisor_end(state, conversation, &advisor.name, EndStatus::Closed).await
        }
        AdvisorIn::Erase { .. } => privacy::erase(state, conversation, &advisor.name).await,
    };
    result.map_err(|r| r.about(conversation))
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
    }
}
