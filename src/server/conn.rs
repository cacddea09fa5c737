//! The accept loop: each TCP connection is served by hyper (HTTP/1.1 and WebSocket upgrades)
//! under a request-header deadline and an idle keep-alive deadline, kept by a watchdog.
//!
//! hyper 1.x has one timer for both: its `header_read_timeout` starts as soon as a connection
//! waits for a request, so it also closes a kept-alive connection idle for that long. A header
//! must come within seconds, while idle connections should outlive those of a proxy in front,
//! so the watchdog keeps both from what it sees: bytes read, requests begun, responses done.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// How long a connection may take to send a request's header, and stay idle between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// Told of each connection the watchdog closes (the metrics count them).
pub(super) type OnExpired = Arc<dyn Fn(Expired) + Send + Sync>;

/// Why the watchdog closed a connection (the metrics' label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    /// A request's header did not arrive whole in time.
    Header,
    /// No request came on a kept-alive connection.
    Idle,
}

impl Expired {
    pub const ALL: [Expired; 2] = [Expired::Header, Expired::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            Expired::Header => "header_timeout",
            Expired::Idle => "idle",
        }
    }
}

/// Serves `listener` with `app` until `shutdown` turns true, then lets each connection finish
/// its request and waits for them, `drain` at most. `on_expired` counts the watchdog's closes.
/// Upgraded WebSockets are not waited for here: they leave hyper when they upgrade.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
    on_expired: OnExpired,
) {
    // No Nagle: a turn that sends two frames (a reply, then the handoff status) would otherwise
    // hold the second until the client's delayed ACK, 40 ms later.
    let mut listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(cause = %e, "cannot set TCP_NODELAY");
        }
    });
    let mut connections = JoinSet::new();
    let stop = shutdown.clone();
    loop {
        tokio::select! {
            // A closed channel means the service is gone: stop as for a shutdown.
            _ = shutdown.wait_for(|stop| *stop) => break,
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = ended {
                    tracing::error!(cause = %e, "a connection task failed");
                }
            }
            // axum's accept retries by itself, pausing a second when out of file descriptors.
            (tcp, peer) = listener.accept() => {
                let conn = connection(tcp, peer, app.clone(), timeouts, stop.clone(), on_expired.clone());
                connections.spawn(conn);
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "drain timeout: some HTTP connections did not finish"
        );
    }
}

/// One connection, until it ends, upgrades, or the watchdog closes it.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
    on_expired: OnExpired,
) {
    let activity = Arc::new(Activity::new());
    let watchdog = watchdog(activity.clone(), timeouts);
    let io = TokioIo::new(Watched {
        io: tcp,
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // The client's address reaches the handlers: logins and chats are limited by it.
        request.extensions_mut().insert(ConnectInfo(peer));
        let done = activity.request_started();
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await?;
            Ok::<_, Infallible>(response.map(|body| Tracked { body, _done: done }))
        }
    });
    // No timer for hyper: its header timeout would also cut idle connections (see above), and
    // with a timer set it defaults to 30 s.
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn, watchdog);
    let mut draining = false;
    loop {
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(cause = %e, "HTTP connection ended with an error");
                }
                return;
            }
            expired = &mut watchdog => {
                // Dropping the connection closes it; no request is under way.
                tracing::debug!(client = %peer.ip(), reason = expired.as_str(), "HTTP connection closed");
                on_expired(expired);
                return;
            }
            _ = shutdown.wait_for(|stop| *stop), if !draining => {
                draining = true;
                // Closes it now if idle, else after the response under way.
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy)]
struct Phase {
    /// Requests hyper is handling (HTTP/1.1 handles one at a time).
    busy: usize,
    /// Responses finished: none means the first request is still awaited.
    served: u64,
    /// When the connection opened, or its last response finished.
    idle_since: Instant,
    /// The first byte read since then.
    first_byte: Option<Instant>,
}

impl Phase {
    /// When the connection is closed if nothing changes, and why; `None` while busy.
    fn deadline(&self, t: Timeouts) -> Option<(Instant, Expired)> {
        if self.busy > 0 {
            return None;
        }
        Some(match (self.served, self.first_byte) {
            // A new connection is opened to send a request: its header is due from the start.
            (0, _) => (self.idle_since + t.header, Expired::Header),
            (_, Some(first)) => (first + t.header, Expired::Header),
            (_, None) => (self.idle_since + t.idle, Expired::Idle),
        })
    }
}

/// What a connection's reads and requests tell its watchdog. It outlives the watchdog in an
/// upgraded WebSocket's stream, so it is kept small: no channel, one `Notify`.
struct Activity {
    phase: Mutex<Phase>,
    /// Wakes the watchdog when the phase changed (one waiter: a change made while it is not
    /// waiting is kept for its next wait).
    changed: Notify,
    /// Whether the next read is the first byte since the connection went idle. Every read
    /// checks it, so it is an atomic; the phase's lock is taken once per request.
    awaiting_byte: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase {
                busy: 0,
                served: 0,
                idle_since: Instant::now(),
                first_byte: None,
            }),
            changed: Notify::new(),
            awaiting_byte: AtomicBool::new(true),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // A plain value changed field by field, none of which can panic: poisoning is harmless.
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Phase)) {
        change(&mut self.phase());
        self.changed.notify_one();
    }

    fn bytes_read(&self) {
        if self.awaiting_byte.load(Ordering::Relaxed)
            && self.awaiting_byte.swap(false, Ordering::Relaxed)
        {
            self.update(|p| p.first_byte = Some(Instant::now()));
        }
    }

    /// A request's header was read; the guard marks its response finished when dropped.
    fn request_started(self: &Arc<Self>) -> RequestDone {
        self.update(|p| p.busy += 1);
        RequestDone(self.clone())
    }
}

/// Held by a response body until hyper has sent it (or given up on it).
struct RequestDone(Arc<Activity>);

impl Drop for RequestDone {
    fn drop(&mut self) {
        // Reads and this drop happen on the connection's task, in order: bytes of the next
        // request read after this count as its first.
        self.0.awaiting_byte.store(true, Ordering::Relaxed);
        self.0.update(|p| {
            p.busy = p.busy.saturating_sub(1);
            p.served += 1;
            p.idle_since = Instant::now();
            p.first_byte = None;
        });
    }
}

/// Resolves when the connection's current deadline passes; never while a request is handled.
async fn watchdog(activity: Arc<Activity>, timeouts: Timeouts) -> Expired {
    loop {
        let changed = activity.changed.notified();
        let due = activity.phase().deadline(timeouts);
        match due {
            None => changed.await,
            Some((at, why)) => tokio::select! {
                biased;
                () = changed => {}
                () = tokio::time::sleep_until(at) => return why,
            },
        }
    }
}

/// A response body that tells the watchdog when hyper is done with it.
struct Tracked {
    body: Body,
    _done: RequestDone,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The TCP stream, noting the first byte read after each idle start.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_header_one_until_a_request_is_served_then_idle_until_a_byte_comes() {
        let t = Timeouts {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(75),
        };
        let t0 = Instant::now();
        let mut p = Phase {
            busy: 0,
            served: 0,
            idle_since: t0,
            first_byte: None,
        };
        assert_eq!(p.deadline(t), Some((t0 + t.header, Expired::Header)));
        // A first byte does not extend the first request's time.
        p.first_byte = Some(t0 + Duration::from_secs(5));
        assert_eq!(p.deadline(t), Some((t0 + t.header, Expired::Header)));
        p.busy = 1;
        assert_eq!(p.deadline(t), None, "never while a request is handled");
        let t1 = t0 + Duration::from_secs(20);
        p = Phase {
            busy: 0,
            served: 1,
            idle_since: t1,
            first_byte: None,
        };
        assert_eq!(p.deadline(t), Some((t1 + t.idle, Expired::Idle)));
        let t2 = t1 + Duration::from_secs(30);
        p.first_byte = Some(t2);
        assert_eq!(p.deadline(t), Some((t2 + t.header, Expired::Header)));
    }
}
