//! The advisor WebSocket `/ws/advisor`: authenticated (bearer token or login cookie) and
//! Origin-checked before the upgrade; then claims, messages, releases, closes and erasures. The
//! credential is checked again before each frame and every [`RECHECK`]: a session that ends
//! (logout, expiry, `faqbot advisor rotate` or `remove`) closes the socket with 4401.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::api::ApiError;
use super::auth::{identify, origin_allowed, still_valid, Credential};
use super::chat::{self, Refusal};
use super::nodes;
use super::privacy;
use super::socket::{close, pump, send, Session};
use super::visitor::{check_text, configure, parse_frame};
use super::AppState;
use crate::handoff::Outbound;
use crate::model::{Advisor, EndStatus};
use crate::protocol::{AdvisorIn, AdvisorOut};

/// How often an idle advisor connection checks that its credential still signs it in.
const RECHECK: Duration = Duration::from_secs(30);

/// The close frame of a connection whose credential no longer signs in (the console then shows
/// its login form).
const SIGNED_OUT: Outbound = Outbound::Close(4401, "signed out: sign in again");

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
    let (advisor, credential) = match identify(&state, &headers).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    configure(ws).on_upgrade(move |socket| session(socket, state, advisor, credential))
}

#[tracing::instrument(skip_all, fields(advisor = %advisor.name))]
async fn session(
    mut socket: WebSocket,
    state: Arc<AppState>,
    advisor: Advisor,
    credential: Credential,
) {
    let _guard = state.session_guard();
    let mut shutdown = state.shutdown_signal();
    if state.shutting_down() {
        send(
            &mut socket,
            state.write_timeout(),
            close(1001, "going away"),
        )
        .await;
        return;
    }
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel(state.settings.chat.outgoing_queue.max(32));
    // Weak: when the hub drops this connection (its queue overflowed), the session must see its
    // queue close, which a strong sender held here would prevent.
    let to_self = tx.downgrade();
    let conn_id =
        match chat::advisor_connected(&state, advisor.name.clone(), advisor.role.clone(), tx).await
        {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(cause = %e, "cannot open the advisor session");
                let unavailable = close(1011, "storage unavailable: try again");
                send(&mut socket, state.write_timeout(), unavailable).await;
                return;
            }
        };
    tracing::info!(role = %advisor.role, "advisor connected");
    let watch = tokio::spawn(watch_credential(
        state.clone(),
        credential.clone(),
        to_self.clone(),
    ));
    let kind = Session {
        who: "advisor",
        overflow: "too slow: reconnect for a fresh queue",
        ping_every: std::time::Duration::from_secs(state.settings.limits.ping_secs),
        write_timeout: state.write_timeout(),
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
        let (credential, to_self) = (credential.clone(), to_self.clone());
        async move {
            signed_in(&state, &credential, &to_self).await?;
            Box::pin(handle(&state, conn_id, &advisor, &text)).await
        }
    })
    .await;
    watch.abort();
    state.hub.unregister_advisor(conn_id);
    nodes::advertise(&state).await;
    tracing::info!(secs = started.elapsed().as_secs(), "advisor disconnected");
}

/// Refuses a frame, and closes the connection, once its credential no longer signs in: a
/// removed or signed-out advisor must not claim or write, even in the seconds before the next
/// periodic check.
async fn signed_in(
    state: &Arc<AppState>,
    credential: &Credential,
    to_self: &mpsc::WeakSender<Outbound>,
) -> Result<(), Refusal> {
    match still_valid(state, credential).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            if let Some(tx) = to_self.upgrade() {
                let _ = tx.try_send(SIGNED_OUT);
            }
            Err(Refusal::new(
                "unauthorized",
                "your session has ended: sign in again",
            ))
        }
        Err(_) => Err(Refusal::new(
            "internal",
            "your sign-in could not be checked: send it again",
        )),
    }
}

/// Closes the connection once its credential no longer signs in (an idle console learns of a
/// logout, an expiry, a rotated token or a removal within [`RECHECK`]). Ends with the session.
async fn watch_credential(
    state: Arc<AppState>,
    credential: Credential,
    to_self: mpsc::WeakSender<Outbound>,
) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    loop {
        every.tick().await;
        // The session is over (its queue is gone): nothing to watch.
        if to_self.upgrade().is_none() {
            return;
        }
        // A storage error is logged where it happened; the next check tries again.
        if let Ok(false) = still_valid(&state, &credential).await {
            tracing::info!("advisor credential no longer valid: closing");
            if let Some(tx) = to_self.upgrade() {
                let _ = tx.send(SIGNED_OUT).await;
            }
            return;
        }
    }
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
