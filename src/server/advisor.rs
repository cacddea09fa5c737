//! The advisor WebSocket `/ws/advisor`: authenticated (bearer token or login cookie) and
//! Origin-checked before the upgrade; then claims, messages, releases and closes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::api::{authenticate, ApiError};
use super::chat::{self, Refusal};
use super::visitor::{check_text, close, configure, parse_frame};
use super::AppState;
use crate::handoff::Outbound;
use crate::protocol::{AdvisorIn, AdvisorOut};
use crate::store::{Advisor, EndStatus};

const PING_EVERY: Duration = Duration::from_secs(30);

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    if !origin_allowed(&headers, &state.settings.server.allowed_origins) {
        tracing::warn!("advisor connection refused: foreign Origin");
        return ApiError::Forbidden.into_response();
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
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut ok = true;
    while ok {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Err(r) = handle(&state, conn_id, &advisor, text.as_str()).await {
                        ok = send_error(&mut socket, r).await;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    ok = send_error(&mut socket, Refusal::new("bad_frame", "send JSON text frames, not binary")).await;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(cause = %e, "advisor socket error");
                    break;
                }
            },
            out = rx.recv() => match out {
                Some(Outbound::Text(text)) => ok = socket.send(Message::Text(text.into())).await.is_ok(),
                Some(Outbound::Close(code, reason)) => {
                    let _ = socket.send(close(code, reason)).await;
                    break;
                }
                None => {
                    let _ = socket.send(close(1013, "too slow: reconnect for a fresh queue")).await;
                    break;
                }
            },
            _ = shutdown.changed() => {
                let _ = socket.send(close(1001, "going away")).await;
                break;
            }
            _ = ping.tick() => ok = socket.send(Message::Ping(Default::default())).await.is_ok(),
        }
    }
    state.hub.unregister_advisor(conn_id);
    tracing::info!(secs = started.elapsed().as_secs(), "advisor disconnected");
}

async fn send_error(socket: &mut WebSocket, r: Refusal) -> bool {
    tracing::debug!(code = r.code, "advisor frame refused");
    let frame = AdvisorOut::Error {
        code: r.code,
        message: r.message,
    };
    socket
        .send(Message::Text(frame.to_text().into()))
        .await
        .is_ok()
}

async fn handle(
    state: &Arc<AppState>,
    conn_id: u64,
    advisor: &Advisor,
    text: &str,
) -> Result<(), Refusal> {
    let chat_settings = &state.settings.chat;
    let check_id = |id: &str| {
        if id.is_empty() || id.len() > 64 {
            Err(Refusal::new(
                "bad_frame",
                "a conversation id has 1 to 64 characters",
            ))
        } else {
            Ok(())
        }
    };
    match parse_frame::<AdvisorIn>(text, chat_settings.max_frame_bytes, &AdvisorIn::TYPES)? {
        AdvisorIn::Claim { conversation } => {
            check_id(&conversation)?;
            chat::claim(state, conn_id, &conversation, &advisor.name).await
        }
        AdvisorIn::Message { conversation, text } => {
            check_id(&conversation)?;
            let text = check_text(&text, chat_settings.max_text_chars)?;
            chat::advisor_message(state, &conversation, &advisor.name, text).await
        }
        AdvisorIn::Release { conversation } => {
            check_id(&conversation)?;
            chat::advisor_end(state, &conversation, &advisor.name, EndStatus::Released).await
        }
        AdvisorIn::Close { conversation } => {
            check_id(&conversation)?;
            chat::advisor_end(state, &conversation, &advisor.name, EndStatus::Closed).await
        }
    }
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
