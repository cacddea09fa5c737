//! The public chat endpoint's limits, through the real server: a burst of frames gets
//! `rate_limited` and the connection keeps working, new chats per address and open connections
//! are capped, silent peers are closed, and a bare connect stores nothing. HTTP connections
//! that send half a header, or stay idle between requests, are closed.

use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{
    closed_after, http_get, read_response, send_get, session, spawn_app_with, TestApp,
};

async fn app(tweak: impl FnOnce(&mut faqbot::config::Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn_app_with(dir, tweak).await
}

/// Another visitor connection attempt: the HTTP status when refused.
async fn third_visitor(app: &TestApp) -> Option<u16> {
    let request = app
        .url("/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .expect("request");
    app.try_advisor_request(request).await.err()
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_rate_limited_and_the_socket_still_works_after() {
    let app = app(|s| {
        s.limits.messages_per_minute = 120; // one more every 0.5 s
        s.limits.messages_burst = 3;
    })
    .await;
    let mut v = app.visitor().await;
    v.recv().await;
    for i in 0..5 {
        v.send(json!({"type": "message", "text": "combien ça coûte ?", "id": format!("b{i}")}))
            .await;
    }
    let (mut replies, mut limited) = (0, Vec::new());
    while let Some(f) = v.next_within(Duration::from_secs(2)).await {
        match f["type"].as_str() {
            Some("reply") => replies += 1,
            Some("error") => limited.push(f),
            _ => {}
        }
        if replies + limited.len() == 5 {
            break;
        }
    }
    assert_eq!(replies, 3, "the burst passes: {limited:?}");
    assert_eq!(limited.len(), 2);
    for f in &limited {
        assert_eq!(f["code"], "rate_limited", "{f}");
        let wait = f["retry_after_ms"].as_u64().expect("a retry delay");
        assert!(wait > 0 && wait <= 1_000, "{f}");
        assert!(
            f["message"].as_str().is_some_and(|m| m.contains("again")),
            "{f}"
        );
    }
    // After the delay the same connection is answered again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = v.ask("où est la clinique ?", "after").await;
    assert_eq!(r["reply_to"], "after");
}

#[tokio::test]
async fn new_chats_from_one_address_are_capped_with_a_retry_delay() {
    let app = app(|s| {
        s.limits.address_connections_per_minute = 1;
        s.limits.address_connections_burst = 2;
    })
    .await;
    let _a = app.visitor().await;
    let _b = app.visitor().await;
    let request = app
        .url("/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .expect("request");
    let refused = app.try_advisor_request(request).await.err();
    assert_eq!(
        refused,
        Some(429),
        "the third chat from this address within the burst"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_with_503() {
    let app = app(|s| s.limits.max_connections = 2).await;
    let _a = app.visitor().await;
    let _b = app.visitor().await;
    assert_eq!(third_visitor(&app).await, Some(503));
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed() {
    let app = app(|s| s.limits.ping_secs = 1).await;
    let mut v = app.visitor().await;
    v.recv().await;
    // Not reading means not answering the pings (the client answers when it reads).
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(v.close_code().await, Some(4408));
    // One that reads (and so answers) stays.
    let mut w = app.visitor().await;
    w.recv().await;
    // Reading (and so answering pings) for 3.5 s: no frame and no close in that time.
    let quiet = tokio::time::timeout(
        Duration::from_millis(3_500),
        w.next_within(Duration::from_secs(60)),
    )
    .await;
    assert!(quiet.is_err(), "still open and silent: {quiet:?}");
    let r = w.ask("combien ça coûte ?", "alive").await;
    assert_eq!(r["reply_to"], "alive");
}

#[tokio::test]
async fn a_bare_connect_stores_nothing_until_the_visitor_writes() {
    let app = app(|_| {}).await;
    let count = |app: &TestApp| {
        let db = rusqlite::Connection::open(app.dir.path().join("faqbot.db")).expect("open db");
        db.query_row("SELECT COUNT(*) FROM conversations", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("count")
    };
    let mut idle = app.visitor().await;
    let token = session(&idle.recv().await);
    assert_eq!(
        count(&app),
        0,
        "a page view with the widget is not a conversation"
    );
    // Its token resumes nothing: a new conversation starts, still unstored.
    idle.close().await;
    let mut again = app.visitor_with(&format!("session={token}")).await;
    let welcome = again.recv().await;
    assert_ne!(session(&welcome), token);
    let token = session(&welcome);
    again.ask("combien ça coûte ?", "first").await;
    assert_eq!(count(&app), 1);
    again.close().await;
    let mut back = app.visitor_with(&format!("session={token}")).await;
    let welcome = back.recv().await;
    assert_eq!(
        session(&welcome),
        token,
        "stored at the first write, resumable after"
    );
    assert_eq!(welcome["history"].as_array().map(Vec::len), Some(2));
}

/// A server whose HTTP connections get 1 s for a header and 2 s of idle keep-alive.
async fn impatient() -> TestApp {
    app(|s| {
        s.limits.header_read_timeout_secs = 1;
        s.limits.keep_alive_idle_secs = 2;
    })
    .await
}

#[tokio::test]
async fn half_sent_request_headers_are_closed_after_the_timeout_while_others_are_served() {
    use tokio::io::AsyncWriteExt;
    let app = impatient().await;
    let started = std::time::Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..50 {
        stalled.push(half_sent(&app).await);
    }
    // One that says nothing at all, and one that trickles a byte every 200 ms (slowloris).
    stalled.push(
        tokio::net::TcpStream::connect(app.addr)
            .await
            .expect("connect"),
    );
    let mut trickle = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let trickled = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    });
    // Meanwhile the server answers everyone else.
    assert_eq!(http_get(app.addr, "/healthz").await, (200, "ok".to_owned()));
    for s in &mut stalled {
        let closed = closed_after(s, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "a stalled header is closed");
    }
    let all_closed = started.elapsed();
    assert!(
        all_closed >= Duration::from_millis(900) && all_closed < Duration::from_secs(3),
        "closed after the 1 s header timeout: {all_closed:?}"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(5), trickled)
            .await
            .expect("the trickle ends")
            .expect("trickle task"),
        "a header trickled byte by byte is cut off too"
    );
    assert_eq!(http_get(app.addr, "/healthz").await, (200, "ok".to_owned()));
}

#[tokio::test]
async fn a_kept_alive_connection_outlives_the_header_timeout_but_not_the_idle_one() {
    let app = impatient().await;
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    send_get(&mut conn, "/healthz", "keep-alive").await;
    assert_eq!(read_response(&mut conn).await, (200, "ok".to_owned()));
    // Idle for longer than a header may take (1 s), shorter than the idle limit (2 s): kept.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    send_get(&mut conn, "/healthz", "keep-alive").await;
    assert_eq!(read_response(&mut conn).await, (200, "ok".to_owned()));
    let closed = closed_after(&mut conn, Duration::from_secs(5))
        .await
        .expect("closed when idle too long");
    assert!(
        closed >= Duration::from_millis(1_800) && closed < Duration::from_millis(3_000),
        "closed after 2 s idle: {closed:?}"
    );
}

#[tokio::test]
async fn a_websocket_is_not_cut_by_the_http_timeouts() {
    let app = impatient().await;
    let mut v = app.visitor().await;
    v.recv().await;
    // Past both HTTP deadlines: an upgraded connection is the session's to keep (pings).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let r = v.ask("combien ça coûte ?", "still-here").await;
    assert_eq!(r["reply_to"], "still-here");
}

/// A connection that sent half a request header and waits.
async fn half_sent(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .expect("send half a header");
    s
}

#[tokio::test]
async fn half_sent_requests_over_the_address_cap_make_room_so_healthz_answers_at_once() {
    // The header timeout is long: only the cap can free room in this test's time.
    let app = app(|s| {
        s.limits.address_max_connections = 20;
        s.limits.header_read_timeout_secs = 120;
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..60 {
        stalled.push(half_sent(&app).await);
    }
    let answered = tokio::time::timeout(Duration::from_secs(5), http_get(app.addr, "/healthz"))
        .await
        .expect("healthz answers while half-sent requests fill the address's share");
    assert_eq!(answered, (200, "ok".to_owned()));
    // The oldest were closed to make room; the newest 20 minus the one healthz took are held.
    let mut closed = 0;
    for s in &mut stalled {
        if closed_after(s, Duration::from_millis(300)).await.is_some() {
            closed += 1;
        }
    }
    assert!(
        (40..=42).contains(&closed),
        "about 41 of 60 closed to stay within 20: {closed}"
    );
    assert!(
        closed_after(&mut stalled[59], Duration::from_millis(100))
            .await
            .is_none(),
        "the newest is still open"
    );
}

#[tokio::test]
async fn websockets_count_toward_the_address_cap_until_they_close() {
    let app = app(|s| s.limits.address_max_connections = 3).await;
    let mut a = app.visitor().await;
    let mut b = app.visitor().await;
    let mut c = app.visitor().await;
    for v in [&mut a, &mut b, &mut c] {
        v.recv().await;
    }
    // Three sessions, none to close to make room: the fourth is refused, with a reason.
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    send_get(&mut conn, "/healthz", "close").await;
    let (status, body) = read_response(&mut conn).await;
    assert_eq!(status, 503);
    assert!(body.contains("too many open connections"), "{body}");
    // The sessions were not touched.
    let r = a.ask("combien ça coûte ?", "still-here").await;
    assert_eq!(r["reply_to"], "still-here");
    // One leaves: its place is free again once the server has closed its socket.
    c.close().await;
    let mut status = 0;
    for _ in 0..50 {
        let mut conn = tokio::net::TcpStream::connect(app.addr)
            .await
            .expect("connect");
        send_get(&mut conn, "/healthz", "close").await;
        status = read_response(&mut conn).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "room again after a session closed");
}

#[tokio::test]
async fn a_visitor_that_stops_reading_is_closed_after_the_write_timeout() {
    // Two sessions at a time (the advisor's and one visitor's): the next visitor gets in only
    // once the server has let go of the one that stopped reading.
    let app = app(|s| {
        crate::helpers::unlimited(s);
        s.limits.write_timeout_secs = 1;
        s.limits.max_connections = 2;
        s.chat.max_text_chars = 16_000;
        s.chat.max_frame_bytes = 60_000;
    })
    .await;
    // A conversation whose replay outgrows the socket buffers (megabytes on loopback): an
    // advisor's long messages.
    let token = app.add_advisor("Alice");
    let mut a = app.advisor(&token).await;
    a.recv_type("hello").await;
    let (mut v, session, _) = crate::handoff::queued_visitor(&app, "combien ça coûte ?").await;
    let conversation = a.alerted().await;
    a.send(json!({"type": "claim", "conversation": conversation}))
        .await;
    a.recv_type("transcript").await;
    let long = "Bonjour, voici ce que dit notre article. ".repeat(380);
    for _ in 0..400 {
        a.send(json!({"type": "message", "conversation": conversation, "text": long}))
            .await;
        v.recv_type("advisor_message").await;
    }
    v.close().await;
    // The visitor comes back asking for everything since the start, then never reads.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let tcp = socket.connect(app.addr).await.expect("connect");
    let url = app.url(&format!("/ws?session={session}&last_seq=0"));
    let (_unread, _) = tokio_tungstenite::client_async(url.replace("http://", "ws://"), tcp)
        .await
        .expect("upgrade");
    let started = std::time::Instant::now();
    let mut admitted = None;
    while started.elapsed() < Duration::from_secs(30) {
        if third_visitor(&app).await.is_none() {
            admitted = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admitted = admitted.expect("the unread session was closed, so another visitor got in");
    assert!(
        admitted >= Duration::from_millis(900),
        "not before the replay stalled for the 1 s write timeout: {admitted:?}"
    );
}
