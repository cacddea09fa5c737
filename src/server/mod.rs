//! The HTTP and WebSocket service: router, shared state, and the run loop with a graceful,
//! draining shutdown. `run` takes bound listeners and a shutdown future, so tests use port 0.
//!
//! **Invariant:** every session holds a [`DrainGuard`]; `run` returns only after each session
//! has sent its Close frame (or the drain timeout passed) and the store is checkpointed.

mod advisor;
mod api;
mod auth;
mod chat;
mod conn;
mod knowledge;
mod limit;
mod limits;
mod metrics;
mod missed;
mod nodes;
mod privacy;
mod socket;
mod visitor;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::config::{Schedule, Settings};
use crate::dialogue::Rules;
use crate::handoff::{self, Hub, Webhook};
use crate::live::Live;
use crate::store::{Db, Opened, StoreError};

/// What every request and session shares. Built once by [`AppState::new`].
pub struct AppState {
    pub settings: Settings,
    /// The served knowledge; take `live.matcher()` once per reply.
    pub live: Arc<Live>,
    pub db: Db,
    /// Live visitor and advisor connections.
    pub hub: Arc<Hub>,
    /// One turn at a time per conversation.
    turns: chat::Turns,
    /// The queue as every advisor connection was last shown it; held while a change is sent,
    /// so changes go out one at a time (see `chat::push_queue`).
    queue_shown: tokio::sync::Mutex<handoff::QueueView>,
    /// Visitor frames per client address.
    address_frames: limits::PerAddress,
    /// New visitor connections per client address.
    address_connections: limits::PerAddress,
    /// `None` when no webhook is configured.
    pub webhook: Option<Webhook>,
    /// Opening hours, parsed; `None`: always open.
    pub schedule: Option<Schedule>,
    pub rules: Rules,
    /// Failed logins per client address.
    logins: limit::LoginLimiter,
    /// The address [`run`] listens on (whether the session cookie is `Secure` depends on it).
    listening: OnceLock<SocketAddr>,
    /// Flips to `true` when shutdown starts; every session watches it.
    shutdown: watch::Sender<bool>,
    /// Sessions still running, for the drain.
    sessions: Arc<Drain>,
    metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// The state of a service over `store` (opened for writing): starts its writer, which
    /// delivers committed frames through the hub.
    pub fn new(
        settings: Settings,
        live: Arc<Live>,
        store: impl Into<Opened>,
    ) -> Result<Arc<AppState>, StoreError> {
        let schedule = settings
            .handoff
            .opening_hours
            .as_ref()
            .and_then(|h| h.schedule().ok());
        let webhook = Webhook::new(settings.handoff.webhook_url.as_deref());
        let rules = Rules {
            offer_on: settings.chat.offer_advisor_on.clone(),
            fallbacks_before_offer: settings.chat.fallbacks_before_offer,
        };
        let hub = Arc::new(Hub::new());
        let delivery = hub.clone();
        let metrics = Arc::new(metrics::Metrics::new());
        let db = Db::start(
            store,
            Arc::new(
                move |conversation: &str, frames: &[crate::store::StoredFrame], resent: bool| {
                    delivery.deliver(conversation, frames, resent)
                },
            ),
            metrics.on_commit(),
        )?;
        live.observe_reloads(metrics.on_reload());
        Ok(Arc::new(AppState {
            live,
            db,
            hub,
            turns: chat::Turns::default(),
            queue_shown: tokio::sync::Mutex::new(handoff::QueueView::default()),
            address_frames: limits::PerAddress::new(limits::Rate::per_minute(
                settings.limits.address_messages_per_minute,
                settings.limits.address_messages_burst,
            )),
            address_connections: limits::PerAddress::new(limits::Rate::per_minute(
                settings.limits.address_connections_per_minute,
                settings.limits.address_connections_burst,
            )),
            webhook,
            schedule,
            rules,
            logins: limit::LoginLimiter::new(
                settings.server.login_failures,
                Duration::from_secs(settings.server.login_window_secs),
            ),
            listening: OnceLock::new(),
            shutdown: watch::channel(false).0,
            sessions: Arc::new(Drain::default()),
            metrics,
            settings,
        }))
    }

    /// A receiver that changes when shutdown starts.
    fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// The address the service listens on: the listener's once [`run`] has it, else the
    /// configured one.
    fn listening(&self) -> SocketAddr {
        self.listening
            .get()
            .copied()
            .unwrap_or(self.settings.server.addr)
    }

    fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// How long a WebSocket frame may wait for its client to read it.
    fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.limits.write_timeout_secs)
    }

    /// The refusal of a new WebSocket session when `limits.max_connections` are open.
    fn refuse_when_full(&self) -> Option<axum::response::Response> {
        use axum::response::IntoResponse;
        let open = self.sessions.count.load(Ordering::SeqCst);
        if open >= self.settings.limits.max_connections {
            tracing::warn!(open, "connection refused: limits.max_connections reached");
            self.metrics.refused(metrics::Refused::Full);
            return Some(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "30")],
                    "the chat is full right now: try again in a minute",
                )
                    .into_response(),
            );
        }
        None
    }

    /// Registers a running session; dropping the guard marks it finished.
    fn session_guard(&self) -> DrainGuard {
        self.sessions.count.fetch_add(1, Ordering::SeqCst);
        DrainGuard(self.sessions.clone())
    }
}

/// Counts running sessions and wakes the drain when the last one ends.
#[derive(Default)]
struct Drain {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a session for its whole life.
struct DrainGuard(Arc<Drain>);

impl Drop for DrainGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    async fn wait(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    // Pages, scripts and styles are compressed (gzip or brotli, as the browser asks). The API
    // is not: its answers are small, and compressing visitors' data beside text an attacker
    // chose would let response sizes leak it (BREACH).
    let pages = Router::new()
        .route("/", get(web::index))
        .route("/advisor", get(web::advisor))
        .route("/advisor/knowledge", get(web::knowledge))
        .fallback(web::file)
        // Level 6 for both: brotli's default here (4) made widget.js bigger than gzip (12.4 KB
        // against 12.0 KB); 6 gives 11.5 KB in under 2 ms, while 11 would cost about 55 ms for
        // 10.6 KB on every first visit.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(6)));
    // Every request under /api/ that changes something is refused from a foreign Origin.
    let api_routes = Router::new()
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/leads", get(api::leads))
        .route("/api/knowledge", get(knowledge::overview))
        .route("/api/knowledge/missed", get(missed::missed))
        .route(
            "/api/knowledge/entries/{lang}/{id}",
            get(knowledge::entry).put(knowledge::save),
        )
        .route("/api/knowledge/check", post(knowledge::check))
        .route("/api/knowledge/try", post(knowledge::try_question))
        .route("/api/knowledge/reload", post(knowledge::reload))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::check_origin,
        ));
    Router::new()
        .route("/ws", get(visitor::upgrade))
        .route("/ws/advisor", get(advisor::upgrade))
        .merge(api_routes)
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .merge(pages)
        // Plain HTTP requests are small and quick; WebSocket upgrades answer at once, so the
        // timeout never cuts a live session.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        .layer(RequestBodyLimitLayer::new(16 * 1024))
        .layer(middleware::from_fn(client_span))
        // Outermost, so errors made by the layers above (408, 413) carry it too: a browser
        // must never guess that a JSON answer with a visitor's words in it is HTML or script.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

/// Every log line of a request names the client's address (failed sign-ins above all).
async fn client_span(request: Request, next: Next) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match client {
        Some(ip) => {
            next.run(request)
                .instrument(tracing::info_span!("request", client = %ip))
                .await
        }
        None => next.run(request).await,
    }
}

/// Where [`run`] serves: the public address, and `[metrics] listen` when it is set.
pub struct Listeners {
    pub public: TcpListener,
    /// `GET /metrics` only; `None` serves no metrics.
    pub metrics: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(public: TcpListener) -> Listeners {
        Listeners {
            public,
            metrics: None,
        }
    }
}

/// The metrics endpoint, alone on its listener.
fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics::scrape))
        .with_state(state)
}

/// Serves until `shutdown` completes, then drains: no new connections, Close 1001 to every
/// session, wait for them (at most `server.drain_secs`), checkpoint the store.
pub async fn run(
    listeners: impl Into<Listeners>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Listeners {
        public,
        metrics: scraped,
    } = listeners.into();
    let _ = state.listening.set(public.local_addr()?);
    let escalation = tokio::spawn(chat::escalation_loop(state.clone()));
    let leave_queue = tokio::spawn(chat::leave_queue_loop(state.clone()));
    let purge = tokio::spawn(privacy::purge_loop(state.clone()));
    // Other nodes on the same database (PostgreSQL): their commits reach this node's clients.
    state.db.listen(nodes::handler(&state));
    let presence = tokio::spawn(nodes::presence_loop(state.clone()));
    let limits = &state.settings.limits;
    // One count for both listeners: they share the process's file descriptors.
    let policy = conn::Policy {
        timeouts: conn::Timeouts {
            header: Duration::from_secs(limits.header_read_timeout_secs),
            idle: Duration::from_secs(limits.keep_alive_idle_secs),
            write: Duration::from_secs(limits.write_timeout_secs),
        },
        open: Arc::new(conn::Open::new(conn::Caps {
            total: conn::connection_budget(),
            // Behind a proxy every connection is the proxy's: one address's cap would be all.
            per_address: match limits.client_address_header {
                None => Some(limits.address_max_connections),
                Some(_) => None,
            },
        })),
        on_closed: state.metrics.on_closed(),
    };
    let drain = Duration::from_secs(state.settings.server.drain_secs);
    let public = conn::serve(
        public,
        router(state.clone()),
        policy.clone(),
        state.shutdown_signal(),
        drain,
    );
    let metrics = async {
        if let Some(listener) = scraped {
            let app = metrics_router(state.clone());
            conn::serve(listener, app, policy, state.shutdown_signal(), drain).await;
        }
    };
    let trigger = async {
        shutdown.await;
        tracing::info!("shutting down: closing sessions");
        state.shutdown.send_replace(true);
    };
    tokio::join!(trigger, public, metrics);
    // Upgraded WebSocket connections left the accept loop's count: the guards count them.
    if tokio::time::timeout(drain, state.sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            left = state.sessions.count.load(Ordering::SeqCst),
            "drain timeout: some sessions did not close"
        );
    }
    escalation.abort();
    leave_queue.abort();
    presence.abort();
    // A purge cut short loses nothing: each batch is its own transaction, the next run goes on.
    purge.abort();
    if let Err(e) = state.db.close().await {
        tracing::error!(cause = %e, "closing the store at shutdown failed (the WAL is replayed on next start)");
    }
    tracing::info!("stopped");
    Ok(())
}
