//! The visitor WebSocket `/ws`: opens or resumes a conversation, replays missed frames, then
//! runs the shared session loop (`socket::pump`): socket, outgoing queue, shutdown, pings.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tracing::Instrument;

use super::chat::{self, Refusal};
use super::limits;
use super::metrics::FrameLimit;
use super::socket::{close, pump, send, Session};
use super::AppState;
use crate::clock::now_ms;
use crate::dialogue;
use crate::handoff::queue;
use crate::model::{Conversation, Message as StoredMessage, NewContact};
use crate::protocol::{self, HistoryItem, VisitorIn, VisitorOut};
use crate::secret::{hash_token, new_id, new_token};
use crate::store::{StoreError, StoredFrame};
use crate::Lang;

/// WebSocket read and write buffers: small, so an idle visitor costs a few KiB, not 128 KiB.
pub(super) const BUFFER_BYTES: usize = 4 * 1024;
/// Messages above this are cut off by the WebSocket layer itself (connection closed); those
/// between `chat.max_frame_bytes` and this get an error frame and the connection stays.
pub(super) const HARD_LIMIT_BYTES: usize = 64 * 1024;

/// The query of `GET /ws`.
#[derive(Debug, Deserialize)]
pub(super) struct VisitorQuery {
    /// The resume token from an earlier `welcome`.
    session: Option<String>,
    /// The last `seq` the client has: frames after it are replayed.
    last_seq: Option<u64>,
    lang: Option<String>,
    /// The page the widget is on (shown to advisors).
    page: Option<String>,
}

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<VisitorQuery>,
) -> Response {
    // Another site may embed the widget only when configured: its pages' handshakes carry
    // their Origin. Clients without an Origin (not browsers) are not concerned.
    if !super::auth::origin_allowed(&headers, &state.settings.server.allowed_origins) {
        tracing::warn!("visitor connection refused: Origin not in server.allowed_origins");
        return (
            StatusCode::FORBIDDEN,
            "this origin may not open the chat: add it to server.allowed_origins",
        )
            .into_response();
    }
    if let Some(refused) = state.refuse_when_full() {
        return refused;
    }
    let limits = &state.settings.limits;
    let address = limits::client_address(peer, &headers, limits.client_address_header.as_deref());
    if let Err(wait) = state
        .address_connections
        .take(address, std::time::Instant::now())
    {
        tracing::warn!(%address, "visitor connection refused: too many from this address");
        state.metrics.refused(super::metrics::Refused::Address);
        return too_many(
            wait,
            "too many new chats from this address: try again in a moment",
        );
    }
    let query = Box::new(query);
    configure(ws).on_upgrade(move |socket| session(socket, state, query, address))
}

/// A `429 Too Many Requests` with `Retry-After`.
pub(super) fn too_many(wait: std::time::Duration, message: &'static str) -> Response {
    let secs = limits::retry_secs(wait).to_string();
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, secs)],
        message,
    )
        .into_response()
}

/// Buffer and size limits shared by both WebSockets.
pub(super) fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(HARD_LIMIT_BYTES)
        .max_frame_size(HARD_LIMIT_BYTES)
}

/// What opening a session found or started.
struct Opened {
    conversation: Conversation,
    token: String,
    resumed: bool,
    history: Vec<StoredMessage>,
    replay: Vec<StoredFrame>,
    conn_id: u64,
    /// A new conversation is stored only when its visitor first writes: a bare connect
    /// (a page view with the widget) costs no row and no fsync.
    pending: Option<NewConversation>,
}

/// A conversation started but not stored yet.
#[derive(Debug, Clone)]
struct NewConversation {
    id: String,
    token_hash: String,
    lang: &'static str,
    page: Option<String>,
}

/// The session's conversation until its first write stores it.
type Pending = Arc<std::sync::Mutex<Option<NewConversation>>>;

/// Stores the session's conversation if it is still pending (its first write).
async fn ensure_stored(state: &AppState, pending: &Pending) -> Result<(), Refusal> {
    let new = pending.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(new) = new else {
        return Ok(());
    };
    let stored = state
        .db
        .create_conversation(
            new.id.clone(),
            new.token_hash.clone(),
            new.lang,
            new.page.clone(),
        )
        .await;
    if let Err(e) = stored {
        // Still pending: the next frame tries again.
        *pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(new);
        return Err(e.into());
    }
    Ok(())
}

/// Finds the session's conversation (or starts one, stored at its first write), registers the
/// connection, then reads what to show. Registered before the read: a frame committed after the read is delivered through
/// the queue, one committed before is in the read; one in both is sent once (by `seq`).
async fn open(
    state: &AppState,
    token: Option<String>,
    last_seq: Option<u64>,
    lang_hint: Option<Lang>,
    page: Option<String>,
    tx: queue::Sender,
) -> Result<Opened, StoreError> {
    let ttl_ms = state
        .settings
        .chat
        .session_ttl_hours
        .saturating_mul(3_600_000) as i64;
    let now = now_ms();
    let found = match &token {
        Some(t) => state
            .db
            .conversation_by_token(&hash_token(t))
            .await?
            .filter(|c| now - c.last_active <= ttl_ms),
        None => None,
    };
    let (id, token) = match (found, token) {
        (Some(c), Some(t)) => {
            state.db.touch(&c.id, page).await?;
            // Its page changed: what a turn kept of it is out of date.
            state.turns.forget(&c.id);
            (c.id, t)
        }
        _ => {
            let token = new_token();
            let new = NewConversation {
                id: new_id(),
                token_hash: hash_token(&token),
                lang: lang_hint.unwrap_or(Lang::Fr).code(),
                page,
            };
            let conn_id = state.hub.register_visitor(&new.id, tx);
            let now = now_ms();
            return Ok(Opened {
                conversation: Conversation {
                    id: new.id.clone(),
                    created_at: now,
                    last_active: now,
                    lang: new.lang.to_owned(),
                    page: new.page.clone(),
                    mode: crate::model::Mode::Bot,
                    advisor: None,
                    last_seq: 0,
                    fallbacks: 0,
                    offer_reason: None,
                    last_question: None,
                    last_candidates: Vec::new(),
                    awaiting_outcome: false,
                },
                token,
                resumed: false,
                history: Vec::new(),
                replay: Vec::new(),
                conn_id,
                pending: Some(new),
            });
        }
    };
    let resumed = true;
    let conn_id = state.hub.register_visitor(&id, tx);
    let view = state
        .db
        .view(
            &id,
            state.settings.chat.welcome_history,
            last_seq,
            REPLAY_PAGE,
        )
        .await;
    match view {
        Ok(Some((conversation, history, replay))) => Ok(Opened {
            conversation,
            token,
            resumed,
            history,
            replay,
            conn_id,
            pending: None,
        }),
        other => {
            state.hub.unregister_visitor(&id, conn_id);
            Err(other.err().unwrap_or(StoreError::Vanished))
        }
    }
}

/// A visitor's session, in its log span (`session{conversation=…}`). A plain function around
/// the async one: `#[tracing::instrument]` on an `async fn` keeps a second copy of its
/// arguments (the socket's 368 bytes among them) for as long as the session lasts.
fn session(
    socket: WebSocket,
    state: Arc<AppState>,
    query: Box<VisitorQuery>,
    address: IpAddr,
) -> impl std::future::Future<Output = ()> + Send {
    let span = tracing::info_span!("session", conversation = tracing::field::Empty);
    run_session(socket, state, query, address).instrument(span)
}

async fn run_session(
    mut socket: WebSocket,
    state: Arc<AppState>,
    query: Box<VisitorQuery>,
    address: IpAddr,
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
    let (tx, mut rx) = queue::channel(state.settings.chat.outgoing_queue);
    // Boxed: what opening holds (the conversation, its history and replay, the welcome) is
    // gone before the session settles into its loop, instead of inflating every idle session.
    let Some(Welcomed {
        conv_id,
        conn_id,
        sent_seq,
        pending,
    }) = Box::pin(welcome(&mut socket, &state, *query, tx, started)).await
    else {
        return;
    };

    if let Some(sent_seq) = sent_seq {
        let limits = &state.settings.limits;
        let rate = limits::Rate::per_minute(limits.messages_per_minute, limits.messages_burst);
        let mut bucket = limits::Bucket::full(rate, std::time::Instant::now());
        let kind = Session {
            who: "visitor",
            overflow: "too slow: reconnect with last_seq",
            ping_every: std::time::Duration::from_secs(state.settings.limits.ping_secs),
            write_timeout: state.write_timeout(),
            error_frame: |r| {
                VisitorOut::Error {
                    code: r.code,
                    message: r.message,
                    retry_after_ms: r.retry_after.map(|d| d.as_millis() as u64),
                }
                .to_text()
            },
        };
        // Everything up to the stored `seq` read at opening is in the history or the replay.
        pump(
            &mut socket,
            &mut rx,
            &mut shutdown,
            &kind,
            sent_seq,
            |text| {
                // Every frame counts, valid or not: a flood of garbage costs as much to read.
                let now = std::time::Instant::now();
                let limited = bucket
                    .take(rate, now)
                    .map_err(|wait| (wait, FrameLimit::Chat))
                    .and_then(|()| {
                        let by_address = state.address_frames.take(address, now);
                        by_address.map_err(|wait| (wait, FrameLimit::Address))
                    });
                let (state, conv_id, pending) = (state.clone(), conv_id.clone(), pending.clone());
                // Boxed: the handling future lives only while a frame is handled, instead of
                // inflating every idle session by its size.
                async move {
                    if let Err((wait, limit)) = limited {
                        tracing::info!(%address, "visitor frame rate-limited");
                        state.metrics.rate_limited(limit);
                        return Err(Refusal::rate_limited(wait));
                    }
                    Box::pin(handle(&state, &conv_id, &pending, &text, now)).await
                }
            },
        )
        .await;
    }
    state.hub.unregister_visitor(&conv_id, conn_id);
    // Kept for this visitor's next turn only while they are here.
    state.turns.forget(&conv_id);
    tracing::info!(secs = started.elapsed().as_secs(), "visitor disconnected");
}

/// A session past its welcome.
struct Welcomed {
    conv_id: String,
    conn_id: u64,
    /// The last `seq` the client has; `None` when the welcome or the replay could not be sent.
    sent_seq: Option<u64>,
    pending: Pending,
}

/// Opens the conversation, then sends the welcome and the replay. `None` when the conversation
/// could not be opened (the socket is closed with 1011).
async fn welcome(
    socket: &mut WebSocket,
    state: &AppState,
    query: VisitorQuery,
    tx: queue::Sender,
    started: Instant,
) -> Option<Welcomed> {
    // Control characters have no place in an address (and NUL no place in PostgreSQL).
    let page = query.page.map(|p| {
        p.chars()
            .filter(|c| !c.is_control())
            .take(512)
            .collect::<String>()
    });
    let lang_hint = query.lang.as_deref().and_then(Lang::from_code);
    let last_seq = query.last_seq;
    let token = query.session.filter(|t| !t.is_empty() && t.len() <= 128);
    let mut opened = match open(state, token, last_seq, lang_hint, page, tx).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(cause = %e, "cannot open the conversation");
            let unavailable = close(1011, "storage unavailable: try again");
            send(socket, state.write_timeout(), unavailable).await;
            return None;
        }
    };
    let conv_id = opened.conversation.id.clone();
    let pending: Pending = Arc::new(std::sync::Mutex::new(opened.pending.take()));
    tracing::Span::current().record("conversation", conv_id.as_str());
    tracing::info!(
        resumed = opened.resumed,
        replayed = opened.replay.len(),
        ms = started.elapsed().as_millis() as u64,
        "visitor connected"
    );

    let lang = lang_hint
        .or_else(|| Lang::from_code(&opened.conversation.lang))
        .unwrap_or(Lang::Fr);
    let stored_seq = opened.conversation.last_seq;
    // The replay continues from the client's `last_seq`; otherwise the history covers
    // everything up to the conversation's last frame.
    let welcome_seq = match last_seq {
        Some(n) if opened.resumed => n.min(stored_seq),
        _ => stored_seq,
    };
    let welcome = VisitorOut::Welcome {
        session: opened.token.clone(),
        mode: opened.conversation.mode.into(),
        text: dialogue::welcome_text(lang).to_owned(),
        history: opened.history.iter().map(HistoryItem::from).collect(),
        seq: welcome_seq,
    };
    let welcomed = send(
        socket,
        state.write_timeout(),
        Message::Text(welcome.to_text().into()),
    )
    .await;
    let mut sent_seq = welcomed.then_some(stored_seq);
    if sent_seq.is_some() && last_seq.is_some() && opened.resumed {
        match replay(socket, state, &conv_id, opened.replay).await {
            Ok(Some(last)) => sent_seq = sent_seq.map(|s| s.max(last)),
            Ok(None) => {}
            Err(()) => sent_seq = None,
        }
    }
    Some(Welcomed {
        conv_id,
        conn_id: opened.conn_id,
        sent_seq,
        pending,
    })
}

/// Frames a resume replays per read: a visitor back after thousands of messages gets them page
/// by page, never all in memory at once.
const REPLAY_PAGE: usize = 100;

/// Sends the replay: `first` (read with the welcome), then the following pages until one is not
/// full. Returns the last `seq` sent; `Err` when the socket or the store failed (the session
/// ends; the client resumes from what it got).
async fn replay(
    socket: &mut WebSocket,
    state: &AppState,
    conversation: &str,
    first: Vec<StoredFrame>,
) -> Result<Option<u64>, ()> {
    let mut page = first;
    let mut last = None;
    loop {
        let full = page.len() >= REPLAY_PAGE;
        for frame in &page {
            let text = protocol::numbered(frame.seq, &frame.payload);
            if !send(socket, state.write_timeout(), Message::Text(text.into())).await {
                return Err(());
            }
            last = Some(frame.seq);
        }
        let Some(after) = last.filter(|_| full) else {
            return Ok(last);
        };
        page = state
            .db
            .frames_after(conversation, after, REPLAY_PAGE)
            .await
            .map_err(|e| tracing::error!(cause = %e, "cannot read the replay"))?;
    }
}

/// Parses one frame: size, JSON, `type`, then the fields.
pub(super) fn parse_frame<T: DeserializeOwned>(
    text: &str,
    max_bytes: usize,
    types: &[&str],
) -> Result<T, Refusal> {
    if text.len() > max_bytes {
        return Err(Refusal::new(
            "too_large",
            format!("frames are limited to {max_bytes} bytes"),
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Refusal::new(
            "bad_json",
            format!("not valid JSON ({e}): send one JSON object per frame"),
        )
    })?;
    let Some(kind) = value
        .get("type")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
    else {
        return Err(Refusal::new(
            "bad_frame",
            "a frame is a JSON object with a \"type\" field",
        ));
    };
    if !types.contains(&kind.as_str()) {
        return Err(Refusal::new(
            "unknown_type",
            format!(
                "unknown type \"{kind}\": expected one of {}",
                types.join(", ")
            ),
        ));
    }
    if holds_nul(&value) {
        // PostgreSQL cannot store it in a text column: refused here, whatever the store, so that
        // a frame is accepted or refused the same way on every backend.
        return Err(Refusal::new(
            "bad_text",
            "a text cannot contain the NUL character (\\u0000): remove it and send again",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| Refusal::new("bad_frame", format!("invalid \"{kind}\" frame: {e}")))
}

/// Whether a string anywhere in `value` (keys too) holds U+0000.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => {
            fields.iter().any(|(k, v)| k.contains('\0') || holds_nul(v))
        }
        _ => false,
    }
}

/// Checks a text field: not empty, not too long. Returns it trimmed.
pub(super) fn check_text(text: &str, max_chars: usize) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::new("empty_text", "the text is empty"));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(Refusal::new(
            "text_too_long",
            format!("the text has {chars} characters; the limit is {max_chars}"),
        ));
    }
    Ok(text.to_owned())
}

/// A visitor frame, read and checked.
enum Event {
    Message(String, Option<String>),
    Choose(String),
    Handoff,
    Contact(NewContact),
}

/// Reads and checks one visitor frame.
fn read_event(state: &AppState, text: &str) -> Result<Event, Refusal> {
    let chat_settings = &state.settings.chat;
    Ok(
        match parse_frame::<VisitorIn>(text, chat_settings.max_frame_bytes, &VisitorIn::TYPES)? {
            VisitorIn::Message { text, id } => {
                let text = check_text(&text, chat_settings.max_text_chars)?;
                if id
                    .as_ref()
                    .is_some_and(|id| id.is_empty() || id.len() > 128)
                {
                    return Err(Refusal::new(
                        "bad_frame",
                        "a message id has 1 to 128 characters",
                    ));
                }
                Event::Message(text, id)
            }
            VisitorIn::Choose { faq_id } => {
                if faq_id.is_empty() || faq_id.len() > 128 {
                    return Err(Refusal::new("unknown_faq", "pick one of the suggestions"));
                }
                Event::Choose(faq_id)
            }
            VisitorIn::Handoff => Event::Handoff,
            VisitorIn::Contact {
                name,
                email,
                phone,
                message,
                consent,
            } => Event::Contact(validate_contact(
                name,
                email,
                phone,
                message,
                consent,
                chat_settings.max_text_chars,
            )?),
        },
    )
}

/// Handles one frame, read at `received`.
async fn handle(
    state: &Arc<AppState>,
    conv_id: &str,
    pending: &Pending,
    text: &str,
    received: Instant,
) -> Result<(), Refusal> {
    let event = read_event(state, text)?;
    ensure_stored(state, pending).await?;
    match event {
        Event::Message(text, id) => chat::visitor_message(state, conv_id, text, id, received).await,
        Event::Choose(faq_id) => chat::visitor_choose(state, conv_id, faq_id, received).await,
        Event::Handoff => chat::visitor_handoff(state, conv_id, received).await,
        Event::Contact(contact) => chat::visitor_contact(state, conv_id, contact, received).await,
    }
}

/// A contact request needs a name, an email or a phone, and consent.
fn validate_contact(
    name: String,
    email: Option<String>,
    phone: Option<String>,
    message: Option<String>,
    consent: bool,
    max_chars: usize,
) -> Result<NewContact, Refusal> {
    let bad = |m: &str| Refusal::new("invalid_contact", m);
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(bad("give a name (up to 200 characters)"));
    }
    let email = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let phone = phone.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
    if email.is_none() && phone.is_none() {
        return Err(bad(
            "give an email address or a phone number so an advisor can reach you",
        ));
    }
    if let Some(e) = &email {
        let valid = e.len() <= 254
            && !e.contains(char::is_whitespace)
            && e.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !valid {
            return Err(bad(
                "the email address does not look right: it should read like name@example.com",
            ));
        }
    }
    if let Some(p) = &phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        let allowed = p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
        if !allowed || !(6..=20).contains(&digits) {
            return Err(bad("the phone number does not look right: digits, spaces and + only, e.g. +33 6 12 34 56 78"));
        }
    }
    if !consent {
        return Err(bad(
            "we need your consent to store your details and contact you",
        ));
    }
    let message = message
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    if message
        .as_ref()
        .is_some_and(|m| m.chars().count() > max_chars)
    {
        return Err(bad("the message is too long"));
    }
    Ok(NewContact {
        name,
        email,
        phone,
        message,
        consent,
    })
}
