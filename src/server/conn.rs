//! The accept loop: each TCP connection is served by hyper (HTTP/1.1 and WebSocket upgrades)
//! under a request-header deadline, an idle keep-alive deadline and a write deadline, kept by a
//! watchdog, and within caps on open connections (all of them, and one address's).
//!
//! hyper 1.x has one timer for both: its `header_read_timeout` starts as soon as a connection
//! waits for a request, so it also closes a kept-alive connection idle for that long. A header
//! must come within seconds, while idle connections should outlive those of a proxy in front,
//! so the watchdog keeps both from what it sees: bytes read, requests begun, responses done.
//!
//! Deadlines alone leave a window: connections that each send half a header hold a file
//! descriptor for the whole header timeout, and enough of them exhaust the process's limit, so
//! nothing else gets in. At a cap, the oldest connection *not in a request* (of the same
//! address, or of any) is closed to make room; a connection is counted until its socket
//! closes, through a WebSocket upgrade, so one address cannot hold more than its share.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
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

/// How long a connection may take to send a request's header, stay idle between requests, and
/// leave a response unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
    pub write: Duration,
}

/// Told of each connection the server closes or refuses (the metrics count them).
pub(super) type OnClosed = Arc<dyn Fn(Closed) + Send + Sync>;

/// Why the server closed a connection (the metrics' label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closed {
    /// A request's header did not arrive whole in time.
    Header,
    /// No request came on a kept-alive connection.
    Idle,
    /// The client left a response unread too long.
    Write,
    /// Closed, not in a request, to make room for a new connection at a cap.
    Evicted,
    /// A new connection refused at a cap: every open one was in a request or a WebSocket.
    Refused,
}

impl Closed {
    pub const ALL: [Closed; 5] = [
        Closed::Header,
        Closed::Idle,
        Closed::Write,
        Closed::Evicted,
        Closed::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Header => "header_timeout",
            Closed::Idle => "idle",
            Closed::Write => "write_timeout",
            Closed::Evicted => "evicted",
            Closed::Refused => "refused",
        }
    }
}

/// File descriptors kept back from connections: the store's files and connections, the
/// knowledge watcher, logs, the metrics listener.
const RESERVED_FILES: u64 = 64;

/// Raises the soft limit on open files to the hard one (at most 2^20) and returns the number
/// of connections that leaves room for: at the limit `accept` fails, and nothing gets in.
pub(super) fn connection_budget() -> usize {
    let files = rlimit::increase_nofile_limit(1 << 20).unwrap_or_else(|e| {
        tracing::warn!(cause = %e, "cannot read the open-file limit: assuming 1024");
        1024
    });
    let budget = files.saturating_sub(RESERVED_FILES).max(16);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// How many connections may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Caps {
    /// All of them (see [`connection_budget`]).
    pub total: usize,
    /// One client address's; `None` behind a proxy, where the TCP peer is the proxy.
    pub per_address: Option<usize>,
}

/// The open connections, oldest first: at a cap, the oldest one not in a request makes room.
pub(super) struct Open {
    caps: Caps,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next: u64,
    /// By connection number, so in the order they opened.
    conns: BTreeMap<u64, (IpAddr, Arc<Activity>)>,
    per_address: HashMap<IpAddr, usize>,
}

impl Table {
    fn remove(&mut self, id: u64) {
        if let Some((key, _)) = self.conns.remove(&id) {
            if let Some(n) = self.per_address.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.per_address.remove(&key);
                }
            }
        }
    }

    /// Closes the oldest connection of `key` (of any address if `None`) that is between
    /// requests; false when there is none.
    fn evict(&mut self, key: Option<IpAddr>) -> bool {
        let oldest = self
            .conns
            .iter()
            .find(|(_, (k, a))| key.is_none_or(|key| *k == key) && a.evictable())
            .map(|(id, (_, a))| (*id, a.clone()));
        let Some((id, activity)) = oldest else {
            return false;
        };
        activity.update(|p| p.evicted = true);
        // Out of the count now: its socket closes as soon as its task runs.
        self.remove(id);
        true
    }
}

impl Open {
    pub fn new(caps: Caps) -> Open {
        Open {
            caps,
            table: Mutex::new(Table::default()),
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Counts changed together under the lock, none of which can panic.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection from `ip`, making room at a cap; `None` when it must be refused.
    fn admit(self: &Arc<Self>, ip: IpAddr, activity: &Arc<Activity>) -> Option<Slot> {
        let key = super::limits::client_key(ip);
        let mut t = self.table();
        if let Some(cap) = self.caps.per_address {
            if t.per_address.get(&key).copied().unwrap_or(0) >= cap && !t.evict(Some(key)) {
                return None;
            }
        }
        if t.conns.len() >= self.caps.total && !t.evict(None) {
            return None;
        }
        let id = t.next;
        t.next += 1;
        t.conns.insert(id, (key, activity.clone()));
        *t.per_address.entry(key).or_insert(0) += 1;
        Some(Slot {
            open: self.clone(),
            id,
        })
    }

    /// Connections counted now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().conns.len()
    }
}

/// A connection's place in [`Open`], given back when the socket closes.
struct Slot {
    open: Arc<Open>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.table().remove(self.id);
    }
}

/// What a refused connection reads before it is closed: an HTTP client shows the reason.
fn refusal() -> String {
    let why = "too many open connections: close some, or try again in a few seconds";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Type: text/plain; \
         charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
        why.len()
    )
}

/// What every connection of a listener is held to, and who counts what it closes.
#[derive(Clone)]
pub(super) struct Policy {
    pub timeouts: Timeouts,
    pub open: Arc<Open>,
    pub on_closed: OnClosed,
}

/// Serves `listener` with `app` until `shutdown` turns true, then lets each connection finish
/// its request and waits for them, `drain` at most. Upgraded WebSockets are not waited for
/// here: they leave hyper when they upgrade.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    policy: Policy,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
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
                let activity = Arc::new(Activity::new());
                let Some(slot) = policy.open.admit(peer.ip(), &activity) else {
                    tracing::warn!(client = %peer.ip(), "connection refused: too many open");
                    (policy.on_closed)(Closed::Refused);
                    // A fresh socket's send buffer is empty: this does not block, and if it
                    // cannot write, the client only misses the reason.
                    let _ = tcp.try_write(refusal().as_bytes());
                    continue;
                };
                let io = Watched { io: tcp, activity: activity.clone(), _slot: slot };
                let conn = connection(io, peer, activity, app.clone(), policy.clone(), stop.clone());
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
    io: Watched,
    peer: SocketAddr,
    activity: Arc<Activity>,
    app: Router,
    policy: Policy,
    mut shutdown: watch::Receiver<bool>,
) {
    let watchdog = watchdog(activity.clone(), policy.timeouts);
    let io = TokioIo::new(io);
    let watched = activity.clone();
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
                // Closed, or upgraded to a WebSocket that still holds the socket (and its
                // place in the count): either way, no longer one to close to make room.
                watched.update(|p| p.ended = true);
                return;
            }
            closed = &mut watchdog => {
                // Dropping the connection closes it: it was between requests, or its client
                // stopped reading the response.
                tracing::debug!(client = %peer.ip(), reason = closed.as_str(), "HTTP connection closed");
                (policy.on_closed)(closed);
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
    /// Since when a write has waited for the client to read.
    write_stalled: Option<Instant>,
    /// Chosen to make room for a new connection: closes now.
    evicted: bool,
    /// hyper is done with it (it closed or upgraded).
    ended: bool,
}

impl Phase {
    /// When the connection is closed if nothing changes, and why; `None` while a request is
    /// handled and its response read.
    fn deadline(&self, t: Timeouts) -> Option<(Instant, Closed)> {
        if self.evicted {
            return Some((self.idle_since, Closed::Evicted));
        }
        if self.busy > 0 {
            return self
                .write_stalled
                .map(|since| (since + t.write, Closed::Write));
        }
        Some(match (self.served, self.first_byte) {
            // A new connection is opened to send a request: its header is due from the start.
            (0, _) => (self.idle_since + t.header, Closed::Header),
            (_, Some(first)) => (first + t.header, Closed::Header),
            (_, None) => (self.idle_since + t.idle, Closed::Idle),
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
    /// Whether the last write waited for the client (the same economy for every write).
    write_blocked: AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase {
                busy: 0,
                served: 0,
                idle_since: Instant::now(),
                first_byte: None,
                write_stalled: None,
                evicted: false,
                ended: false,
            }),
            changed: Notify::new(),
            awaiting_byte: AtomicBool::new(true),
            write_blocked: AtomicBool::new(false),
        }
    }

    /// Whether closing it loses nothing under way: no request, not upgraded, not already chosen.
    fn evictable(&self) -> bool {
        let p = self.phase();
        p.busy == 0 && !p.ended && !p.evicted
    }

    /// A write could not go on: the client is not reading (or not yet).
    fn write_waits(&self) {
        if !self.write_blocked.swap(true, Ordering::Relaxed) {
            self.update(|p| p.write_stalled = Some(Instant::now()));
        }
    }

    /// A write went through.
    fn write_went(&self) {
        if self.write_blocked.load(Ordering::Relaxed)
            && self.write_blocked.swap(false, Ordering::Relaxed)
        {
            self.update(|p| p.write_stalled = None);
        }
    }

    fn wrote<T>(&self, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending => self.write_waits(),
            Poll::Ready(_) => self.write_went(),
        }
        polled
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
async fn watchdog(activity: Arc<Activity>, timeouts: Timeouts) -> Closed {
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

/// The TCP stream, noting the first byte read after each idle start and writes that wait,
/// and holding its place among the open connections until it closes.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
    _slot: Slot,
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
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.activity.wrote(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.activity.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.activity.wrote(polled)
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
            write: Duration::from_secs(30),
        };
        let t0 = Instant::now();
        let mut p = Phase {
            busy: 0,
            served: 0,
            idle_since: t0,
            first_byte: None,
            write_stalled: None,
            evicted: false,
            ended: false,
        };
        assert_eq!(p.deadline(t), Some((t0 + t.header, Closed::Header)));
        // A first byte does not extend the first request's time.
        p.first_byte = Some(t0 + Duration::from_secs(5));
        assert_eq!(p.deadline(t), Some((t0 + t.header, Closed::Header)));
        p.busy = 1;
        assert_eq!(p.deadline(t), None, "never while a request is handled");
        let t1 = t0 + Duration::from_secs(20);
        p = Phase {
            busy: 0,
            served: 1,
            idle_since: t1,
            first_byte: None,
            ..p
        };
        assert_eq!(p.deadline(t), Some((t1 + t.idle, Closed::Idle)));
        let t2 = t1 + Duration::from_secs(30);
        p.first_byte = Some(t2);
        assert_eq!(p.deadline(t), Some((t2 + t.header, Closed::Header)));
    }

    #[test]
    fn a_busy_connection_is_closed_only_when_its_client_leaves_a_write_unread() {
        let t = Timeouts {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(75),
            write: Duration::from_secs(30),
        };
        let t0 = Instant::now();
        let mut p = *Activity::new().phase();
        p.busy = 1;
        assert_eq!(p.deadline(t), None);
        p.write_stalled = Some(t0);
        assert_eq!(p.deadline(t), Some((t0 + t.write, Closed::Write)));
        p.evicted = true;
        assert_eq!(p.deadline(t).map(|(_, why)| why), Some(Closed::Evicted));
    }

    #[test]
    fn at_the_address_cap_the_oldest_idle_connection_of_that_address_makes_room() {
        let open = Arc::new(Open::new(Caps {
            total: 100,
            per_address: Some(2),
        }));
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let conns: Vec<Arc<Activity>> = (0..4).map(|_| Arc::new(Activity::new())).collect();
        let other = open.admit(b, &conns[0]).expect("room");
        let first = open.admit(a, &conns[1]).expect("room");
        conns[1].update(|p| p.busy = 1);
        let second = open.admit(a, &conns[2]).expect("room");
        // The first is in a request: the second, idle, is closed for the third.
        let third = open.admit(a, &conns[3]).expect("room made");
        assert!(conns[2].phase().evicted && !conns[1].phase().evicted);
        assert!(!conns[0].phase().evicted, "another address is not touched");
        assert_eq!(open.len(), 3);
        // Its socket closing later does not count it out twice.
        drop(second);
        assert_eq!(open.len(), 3);
        // Nothing left to close for this address: a new one is refused.
        conns[3].update(|p| p.ended = true);
        assert!(open.admit(a, &Arc::new(Activity::new())).is_none());
        drop((first, third, other));
        assert_eq!(open.len(), 0);
    }

    #[test]
    fn at_the_total_cap_the_oldest_idle_connection_of_any_address_makes_room() {
        let open = Arc::new(Open::new(Caps {
            total: 2,
            per_address: None,
        }));
        let conns: Vec<Arc<Activity>> = (0..3).map(|_| Arc::new(Activity::new())).collect();
        let ips: [IpAddr; 3] = [
            [10, 0, 0, 1].into(),
            [10, 0, 0, 2].into(),
            [10, 0, 0, 3].into(),
        ];
        let _held: Vec<Slot> = (0..3)
            .map(|i| open.admit(ips[i], &conns[i]).expect("room"))
            .collect();
        assert!(conns[0].phase().evicted);
        assert_eq!(open.len(), 2);
    }

    #[test]
    fn the_refusal_is_a_whole_http_response() {
        let r = refusal();
        let (head, body) = r.split_once("\r\n\r\n").expect("a header and a body");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
