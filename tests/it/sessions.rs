//! Advisor sign-in through the real server: sessions, their end, the accounts CLI, login limits
//! and the Origin check.
//!
//! Properties covered: a login's cookie is a fresh session id, not the token, stored hashed,
//! and signs in for `session_hours`; a second login from the same browser replaces its
//! session; logout ends the session on the server (the same cookie then gets 401, and an
//! advisor WebSocket opened with it is closed); an expired session is refused; `faqbot advisor
//! list` shows names, roles and live sessions but no token; `advisor rotate` prints a new token
//! that works while the old one and the sessions stop; `advisor remove` ends token, sessions
//! and open sockets, and gives the conversations held back to the bot; unknown names say what
//! to do; after 5 failed logins one address gets 429 with `Retry-After`, right token or not,
//! until the window ends, while bearer tokens keep working; requests that change something
//! from a foreign Origin get 403, same-host and configured origins pass, reads are not
//! concerned; the cookie is `Secure` on a non-loopback listener, over an HTTPS proxy, or when
//! forced, and not on loopback plain HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::cli::{faqbot, stdout};
use crate::handoff::queued_visitor;
use crate::helpers::{spawn_app, spawn_app_on, spawn_app_with, Client, TestApp};

/// `POST /api/login` with `token`, and an `Origin` when given.
async fn login(app: &TestApp, token: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({ "token": token }));
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    request.send().await.expect("login")
}

/// The `Set-Cookie` header of a response.
fn set_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .expect("a Set-Cookie header")
        .to_owned()
}

/// Logs in with `token` and returns the `name=value` pair to send back as `Cookie`.
async fn signed_in(app: &TestApp, token: &str) -> String {
    let res = login(app, token, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(&res);
    cookie.split(';').next().expect("name=value").to_owned()
}

/// Adds Alice, signs her in and opens her advisor socket with her token (its `hello` read):
/// her token, the login's cookie and the socket.
async fn alice_online(app: &TestApp) -> (String, String, Client) {
    let token = app.add_advisor("Alice");
    let cookie = signed_in(app, &token).await;
    let mut socket = app.advisor(&token).await;
    assert_eq!(socket.recv_type("hello").await["advisor"], "Alice");
    (token, cookie, socket)
}

/// `GET /api/me` with a cookie.
async fn me_with_cookie(app: &TestApp, cookie: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("me")
}

/// `GET /api/me` with a bearer token.
async fn me_with_token(app: &TestApp, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(app.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .status()
}

/// A request with a login cookie and, when given, an `Origin`; its status.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
) -> StatusCode {
    let mut request = reqwest::Client::new()
        .request(method, app.url(path))
        .header("cookie", cookie);
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    request.send().await.expect("a response").status()
}

/// Runs `faqbot advisor ARGS --data DIR`; panics unless it succeeds; returns stdout.
fn advisor_cli(app: &TestApp, args: &[&str]) -> String {
    let out = advisor_cli_output(app, args);
    assert!(
        out.status.success(),
        "faqbot advisor {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

fn advisor_cli_output(app: &TestApp, args: &[&str]) -> std::process::Output {
    let data = app.dir.path().to_str().expect("a UTF-8 temp path");
    let mut all = vec!["advisor"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data", data]);
    faqbot(&all, None)
}

#[tokio::test]
async fn login_sets_a_session_cookie_that_is_not_the_token_and_signs_in() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let res = login(&app, &token, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(&res);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // The server listens on 127.0.0.1 and the request came over plain HTTP.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let id = pair
        .strip_prefix("faqbot_advisor=")
        .expect("the cookie's name");
    assert_eq!(id.len(), 64, "a 32-byte random id, hex");
    assert_ne!(id, token);
    assert!(!cookie.contains(&token));

    let me = me_with_cookie(&app, &pair).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("Alice"), Some("advisor"))
    );

    // The database keeps the id's hash only.
    let db = rusqlite::Connection::open(app.dir.path().join("faqbot.db")).expect("open");
    let (stored, ttl): (String, i64) = db
        .query_row(
            "SELECT id_hash, expires_at - created_at FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("one session");
    assert_eq!(stored, faqbot::secret::hash_token(id));
    assert_eq!(ttl, 12 * 3_600_000);

    // Signing in again from the same browser replaces its session.
    let again = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("cookie", &pair)
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("login");
    assert_eq!(again.status(), StatusCode::OK);
    let newer = set_cookie(&again)
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert_ne!(newer, pair);
    assert_eq!(
        me_with_cookie(&app, &pair).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_with_cookie(&app, &newer).await.status(), StatusCode::OK);
    // An advisor token in the cookie (what the cookie held before sessions) no longer signs in.
    let old_style = format!("faqbot_advisor={token}");
    assert_eq!(
        me_with_cookie(&app, &old_style).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_so_the_same_cookie_is_refused_and_its_socket_closes() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let cookie = signed_in(&app, &token).await;
    let mut socket = app
        .try_advisor(None, Some(&cookie))
        .await
        .expect("the cookie opens the advisor socket");
    assert_eq!(socket.recv_type("hello").await["advisor"], "Alice");
    let other = signed_in(&app, &token).await;

    let out = reqwest::Client::new()
        .post(app.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&out).contains("Max-Age=0"));

    // The browser forgets the cookie; a copy kept elsewhere is worthless too.
    assert_eq!(
        me_with_cookie(&app, &cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.try_advisor(None, Some(&cookie)).await.err(), Some(401));
    // The socket opened with it acts no more and is closed with 4401 (the console's login).
    socket
        .send(json!({"type": "claim", "conversation": "c1"}))
        .await;
    let refused = socket.recv_type("error").await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    assert_eq!(socket.close_code().await, Some(4401));
    // Only that session ended: another login of the same advisor and the token still work.
    assert_eq!(me_with_cookie(&app, &other).await.status(), StatusCode::OK);
    assert_eq!(me_with_token(&app, &token).await, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let app = spawn_app().await;
    app.add_advisor("Alice");
    let now = faqbot::clock::now_ms();
    let mut store = faqbot::store::SqliteStore::open(app.dir.path()).expect("open");
    let (expired, live) = (faqbot::secret::new_token(), faqbot::secret::new_token());
    let hash = faqbot::secret::hash_token;
    store
        .create_session(&hash(&expired), "Alice", now - 13 * 3_600_000, now - 1)
        .expect("an expired session");
    store
        .create_session(&hash(&live), "Alice", now, now + 60_000)
        .expect("a live session");
    drop(store);

    let cookie = |id: &str| format!("faqbot_advisor={id}");
    assert_eq!(
        me_with_cookie(&app, &cookie(&live)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        me_with_cookie(&app, &cookie(&expired)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.try_advisor(None, Some(&cookie(&expired))).await.err(),
        Some(401)
    );
    app.stop().await;
}

#[tokio::test]
async fn advisor_list_shows_names_roles_and_live_sessions_but_never_a_token() {
    let app = spawn_app().await;
    let alice = app.add_advisor("Alice");
    let sophie = app.add_support("Sophie");
    signed_in(&app, &alice).await;
    signed_in(&app, &alice).await;

    let out = advisor_cli(&app, &["list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let columns = |line: &str| {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(columns(lines[0]), ["NAME", "ROLE", "CREATED", "SESSIONS"]);
    let a = columns(lines[1]);
    assert_eq!(
        (a[0].as_str(), a[1].as_str(), a[5].as_str()),
        ("Alice", "advisor", "2"),
        "{out}"
    );
    assert_eq!(a[4], "UTC", "created as `YYYY-MM-DD HH:MM UTC`: {out}");
    let s = columns(lines[2]);
    assert_eq!(
        (s[0].as_str(), s[1].as_str(), s[5].as_str()),
        ("Sophie", "support", "0"),
        "{out}"
    );
    assert!(!out.contains(&alice) && !out.contains(&sophie));
    for hash in [
        faqbot::secret::hash_token(&alice),
        faqbot::secret::hash_token(&sophie),
    ] {
        assert!(!out.contains(&hash));
    }
    app.stop().await;
}

#[tokio::test]
async fn advisor_rotate_prints_a_new_token_and_ends_the_old_one_and_its_sessions() {
    let app = spawn_app().await;
    let (old, cookie, mut socket) = alice_online(&app).await;

    let out = advisor_cli(&app, &["rotate", "Alice"]);
    let new = out
        .lines()
        .last()
        .expect("the token on the last line")
        .to_owned();
    assert_eq!(new.len(), 64, "{out}");
    assert!(out.contains("old one no longer works"), "{out}");

    assert_eq!(me_with_token(&app, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, &old, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me_with_cookie(&app, &cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_with_token(&app, &new).await, StatusCode::OK);
    let fresh = signed_in(&app, &new).await;
    assert_eq!(me_with_cookie(&app, &fresh).await.status(), StatusCode::OK);
    // The socket opened with the old token is closed at its next frame.
    socket
        .send(json!({"type": "claim", "conversation": "c1"}))
        .await;
    assert_eq!(socket.recv_type("error").await["code"], "unauthorized");
    assert_eq!(socket.close_code().await, Some(4401));

    let unknown = advisor_cli_output(&app, &["rotate", "alice"]);
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no advisor named `alice`") && err.contains("faqbot advisor list"),
        "{err}"
    );
    app.stop().await;
}

#[tokio::test]
async fn advisor_remove_ends_token_sessions_and_socket_and_gives_their_chats_to_the_bot() {
    let app = spawn_app().await;
    let (token, cookie, mut a) = alice_online(&app).await;
    let (mut v, visitor_session, queued) = queued_visitor(&app, "combien ça coûte ?").await;
    assert_eq!(queued["status"], "queued");
    let conv = a.alerted().await;
    a.send(json!({"type": "claim", "conversation": conv})).await;
    let assigned = v.recv_type("handoff").await;
    assert_eq!(assigned["status"], "assigned");
    let seen = assigned["seq"].as_u64().expect("seq");

    let out = advisor_cli(&app, &["remove", "Alice"]);
    assert!(out.contains("removed") && out.contains(&conv), "{out}");

    assert_eq!(me_with_token(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me_with_cookie(&app, &cookie).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, &token, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    a.send(json!({"type": "message", "conversation": conv, "text": "encore là ?"}))
        .await;
    assert_eq!(a.recv_type("error").await["code"], "unauthorized");
    assert_eq!(a.close_code().await, Some(4401));

    // The visitor is back with the bot: told so when they come back, answered meanwhile.
    v.close().await;
    let mut back = app
        .visitor_with(&format!("session={visitor_session}&last_seq={seen}"))
        .await;
    assert_eq!(back.recv().await["type"], "welcome");
    let ended = back.recv_type("handoff").await;
    assert_eq!(
        (ended["status"].as_str(), ended["advisor"].as_str()),
        (Some("ended"), Some("Alice"))
    );
    let reply = back.ask("où est la clinique ?", "q2").await;
    assert_eq!(reply["kind"], "answer", "{reply}");

    let list = advisor_cli(&app, &["list"]);
    assert!(!list.contains("Alice"), "{list}");
    let again = advisor_cli_output(&app, &["remove", "Alice"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no advisor named `Alice`"));
    app.stop().await;
}

#[tokio::test]
async fn six_bad_logins_from_one_address_get_429_and_the_right_token_waits_too() {
    let app = spawn_app_with(tempfile::tempdir().expect("dir"), |s| {
        s.server.login_window_secs = 3;
    })
    .await;
    let token = app.add_advisor("Alice");
    let started = std::time::Instant::now();
    for i in 0..5 {
        let res = login(&app, &format!("wrong-{i}"), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let limited = login(&app, "wrong-5", None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=3).contains(&retry), "{retry}");
    let body: Value = limited.json().await.expect("JSON");
    assert_eq!(body["error"], "too_many_logins");
    assert_eq!(body["retry_after"], retry);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("try again in")),
        "{body}"
    );

    // The right token is refused too: otherwise each answer would say whether a guess was right.
    let right = login(&app, &token, None).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(right.headers().get("set-cookie").is_none());
    // Scripts with a bearer token are not concerned.
    assert_eq!(me_with_token(&app, &token).await, StatusCode::OK);

    // Once the window (3 s from the first failure) has passed, the right token signs in.
    let window = std::time::Duration::from_secs(3);
    tokio::time::sleep(
        window.saturating_sub(started.elapsed()) + std::time::Duration::from_millis(100),
    )
    .await;
    assert_eq!(login(&app, &token, None).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn requests_that_change_something_from_a_foreign_origin_are_refused() {
    let app = spawn_app_with(tempfile::tempdir().expect("dir"), |s| {
        s.server.allowed_origins = vec!["https://clinic.example".into()];
    })
    .await;
    let token = app.add_support("Sophie");
    let own = format!("http://{}", app.addr);

    let foreign = login(&app, &token, Some("https://evil.example")).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(foreign.headers().get("set-cookie").is_none());
    let body: Value = foreign.json().await.expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("allowed_origins")),
        "{body}"
    );
    assert_eq!(
        login(&app, &token, Some(&own)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        login(&app, &token, Some("https://clinic.example"))
            .await
            .status(),
        StatusCode::OK
    );
    // Without an Origin (curl, scripts): as before.
    let cookie = signed_in(&app, &token).await;

    // A foreign page cannot end the session, nor save or reload the knowledge, even with
    // credentials; it is refused before anything is read.
    let evil = Some("https://evil.example");
    let logout = send(&app, Method::POST, "/api/logout", &cookie, evil).await;
    assert_eq!(logout, StatusCode::FORBIDDEN);
    assert_eq!(me_with_cookie(&app, &cookie).await.status(), StatusCode::OK);
    let save = send(
        &app,
        Method::PUT,
        "/api/knowledge/entries/fr/cout",
        &cookie,
        evil,
    )
    .await;
    assert_eq!(save, StatusCode::FORBIDDEN);
    let reload = send(&app, Method::POST, "/api/knowledge/reload", &cookie, evil).await;
    assert_eq!(reload, StatusCode::FORBIDDEN);
    let reload = send(
        &app,
        Method::POST,
        "/api/knowledge/reload",
        &cookie,
        Some(&own),
    )
    .await;
    assert_eq!(reload, StatusCode::OK);
    // Reads are not concerned (browsers send no Origin on a same-origin GET anyway).
    let me = send(&app, Method::GET, "/api/me", &cookie, evil).await;
    assert_eq!(me, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_cookie_is_secure_off_loopback_behind_https_or_when_forced() {
    let secure = |cookie: &str| cookie.split(';').any(|a| a.trim() == "Secure");

    // Listening on every interface (not loopback): Secure by default.
    let app = spawn_app_on("0.0.0.0:0", |_| {}).await;
    let token = app.add_advisor("Alice");
    assert!(secure(&set_cookie(&login(&app, &token, None).await)));
    app.stop().await;

    // Loopback: plain HTTP on this machine, unless a TLS proxy says the page was HTTPS.
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    assert!(!secure(&set_cookie(&login(&app, &token, None).await)));
    let proxied = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({ "token": token }))
        .send()
        .await
        .expect("login");
    assert!(secure(&set_cookie(&proxied)));
    app.stop().await;

    // The setting wins either way.
    let app = spawn_app_with(tempfile::tempdir().expect("dir"), |s| {
        s.server.secure_cookie = Some(true);
    })
    .await;
    let token = app.add_advisor("Alice");
    assert!(secure(&set_cookie(&login(&app, &token, None).await)));
    app.stop().await;
    let app = spawn_app_on("0.0.0.0:0", |s| s.server.secure_cookie = Some(false)).await;
    let token = app.add_advisor("Alice");
    assert!(!secure(&set_cookie(&login(&app, &token, None).await)));
    app.stop().await;
}
