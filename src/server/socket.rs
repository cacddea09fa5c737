//! The loop every WebSocket session runs until it ends: frames in, hub frames out, pings and
//! shutdown. Visitor and advisor sessions differ only in how they handle a text frame.

use std::future::Future;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::watch;

use super::chat::Refusal;
use crate::handoff::queue::Inbox;
use crate::handoff::Outbound;

/// Close code for a peer that stopped answering pings (4000–4999 are the application's; 4408
/// echoes HTTP's 408 Request Timeout).
pub(super) const NO_PONG: u16 = 4408;

/// Longest a numbered frame waits for the ones before it (several nodes: a frame committed on
/// another node is read from the database after its notification, and may come after a later
/// frame committed here). Past it the frames go as they are: a client that missed one gets it
/// when it resumes with `last_seq`.
const GAP_WAIT: Duration = Duration::from_secs(2);

/// How one kind of session answers its client.
pub(super) struct Session {
    /// For the logs: `visitor` or `advisor`.
    pub who: &'static str,
    /// The close reason when the hub dropped this connection because its queue overflowed.
    pub overflow: &'static str,
    /// The error frame for a refused client frame.
    pub error_frame: fn(Refusal) -> String,
    /// How often the peer is pinged (proxies keep the connection open, dead peers are noticed);
    /// it is closed when it has sent nothing, not even a pong, for two of these.
    pub ping_every: Duration,
    /// How long one frame may wait for the client to read it: a client that stops reading
    /// would otherwise hold the session (and its pings) in a write forever.
    pub write_timeout: Duration,
}

/// Runs the session until the client leaves, the socket fails, the hub closes it, or the
/// service shuts down. `on_text` handles each text frame; a refusal is sent back as an error
/// frame and the session goes on.
///
/// `sent_seq` is the last conversation frame the client has (0 for advisors): numbered frames
/// at or below it are skipped, so a frame both replayed and queued during a resume goes once;
/// one above the next expected is held until the frames before it came (or [`GAP_WAIT`]), so
/// the client sees `seq` in order, whichever node wrote each frame.
pub(super) async fn pump<F, Fut>(
    socket: &mut WebSocket,
    rx: &mut impl Inbox,
    shutdown: &mut watch::Receiver<bool>,
    kind: &Session,
    mut sent_seq: u64,
    mut on_text: F,
) where
    // Owned text, not `&str`: an async closure borrowing its argument is not `Send` for every
    // lifetime, which axum's upgrade needs.
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), Refusal>>,
{
    let every = kind.ping_every;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut heard = tokio::time::Instant::now();
    let mut ok = true;
    // Frames that came before the ones they follow, and since when the oldest waits.
    let mut held = std::collections::BTreeMap::<u64, String>::new();
    let mut held_since: Option<tokio::time::Instant> = None;
    while ok {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    heard = tokio::time::Instant::now();
                    if let Err(r) = on_text(text.as_str().to_owned()).await {
                        ok = send_error(socket, kind, r).await;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    heard = tokio::time::Instant::now();
                    ok = send_error(socket, kind, Refusal::new("bad_frame", "send JSON text frames, not binary")).await;
                }
                Some(Ok(Message::Close(_))) | None => break,
                // Ping/Pong (pings are answered by the WebSocket layer), binary: the peer is alive.
                Some(Ok(_)) => heard = tokio::time::Instant::now(),
                Some(Err(e)) => {
                    tracing::debug!(cause = %e, who = kind.who, "socket error");
                    // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection with
                    // 1007, so the client learns why rather than seeing the TCP stream cut.
                    if invalid_utf8(&e) {
                        send(socket, kind.write_timeout, close(1007, "text frames must be UTF-8")).await;
                    }
                    break;
                }
            },
            out = rx.recv() => match out {
                Some(Outbound::Text(text)) => ok = send(socket, kind.write_timeout, Message::Text(text.into())).await,
                Some(Outbound::Numbered(seq, text)) => {
                    if seq == sent_seq + 1 {
                        sent_seq = seq;
                        ok = send(socket, kind.write_timeout, Message::Text(text.into())).await;
                        while let Some(next) = held.remove(&(sent_seq + 1)).filter(|_| ok) {
                            sent_seq += 1;
                            ok = send(socket, kind.write_timeout, Message::Text(next.into())).await;
                        }
                        held.retain(|&s, _| s > sent_seq);
                        if held.is_empty() {
                            held_since = None;
                        }
                    } else if seq > sent_seq {
                        held.insert(seq, text);
                        held_since.get_or_insert_with(tokio::time::Instant::now);
                    }
                }
                Some(Outbound::Close(code, reason)) => {
                    send(socket, kind.write_timeout, close(code, reason)).await;
                    break;
                }
                None => {
                    // Dropped by the hub: the queue overflowed.
                    send(socket, kind.write_timeout, close(1013, kind.overflow)).await;
                    break;
                }
            },
            _ = tokio::time::sleep_until(held_since.unwrap_or_else(tokio::time::Instant::now) + GAP_WAIT), if held_since.is_some() => {
                tracing::warn!(who = kind.who, after = sent_seq, "frames missing for too long: sending the later ones");
                for (seq, text) in std::mem::take(&mut held) {
                    sent_seq = seq;
                    ok = ok && send(socket, kind.write_timeout, Message::Text(text.into())).await;
                }
                held_since = None;
            }
            _ = shutdown.changed() => {
                send(socket, kind.write_timeout, close(1001, "going away")).await;
                break;
            }
            _ = ping.tick() => {
                if heard.elapsed() > every * 2 {
                    tracing::debug!(who = kind.who, "no pong: closing");
                    send(socket, kind.write_timeout, close(NO_PONG, "no answer to pings")).await;
                    break;
                }
                ok = send(socket, kind.write_timeout, Message::Ping(Default::default())).await;
            }
        }
    }
}

pub(super) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Whether the WebSocket layer refused a frame as invalid UTF-8. axum wraps tungstenite's error;
/// the `tungstenite` dependency must stay the version axum uses, or this never matches (the
/// integration test `invalid_utf8_…` would then see no 1007).
fn invalid_utf8(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|inner| matches!(inner, tungstenite::Error::Utf8(_)))
}

async fn send_error(socket: &mut WebSocket, kind: &Session, r: Refusal) -> bool {
    tracing::debug!(code = r.code, who = kind.who, "frame refused");
    send(
        socket,
        kind.write_timeout,
        Message::Text((kind.error_frame)(r).into()),
    )
    .await
}

/// Sends one frame; false when the socket failed or the client left it unread for `limit`
/// (the caller then ends the session, which drops the connection).
pub(super) async fn send(socket: &mut WebSocket, limit: Duration, message: Message) -> bool {
    match tokio::time::timeout(limit, socket.send(message)).await {
        Ok(sent) => sent.is_ok(),
        Err(_) => {
            tracing::debug!("a client left a frame unread too long: closing");
            false
        }
    }
}
