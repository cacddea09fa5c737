//! Handoff to advisors over real WebSockets: availability, claims, cards, messages both ways,
//! release, queue positions, alerts and escalation, authentication, restart.
//!
//! Properties covered: no advisor → `unavailable` → stored contact request (API and CLI); two
//! advisors racing to claim → exactly one wins; the handoff card; advisor ↔ visitor messages
//! with the bot silent except for emergencies; release back to the bot; queue positions move;
//! escalation after the configured delay; unauthenticated or foreign-origin advisors refused;
//! login cookie; advisor messages sent while the visitor is away are delivered on resume; a
//! restart on the same data folder keeps history, queue and contact requests; CSV exports
//! neutralise formulas; advisor error frames name the conversation they concern.

use serde_json::{json, Value};

use crate::helpers::{session, spawn_app, spawn_app_with, Client, TestApp};

/// A visitor who asks a question, then presses the advisor button: returns the client, its
/// conversation's session token and the `handoff` frame.
pub(crate) async fn queued_visitor(app: &TestApp, question: &str) -> (Client, String, Value) {
    let mut v = app.visitor_with("page=%2Ftarifs&lang=fr").await;
    let token = session(&v.recv().await);
    v.ask(question, "q1").await;
    v.send(json!({"type": "handoff"})).await;
    let status = v.recv_type("handoff").await;
    (v, token, status)
}

/// Reads an advisor's frames until a queue frame leaves `n` conversations listed; returns them.
async fn queue_of_len(a: &mut Client, n: usize) -> Vec<Value> {
    loop {
        let f = a.recv().await;
        if f["type"].as_str().is_some_and(|t| t.starts_with("queue")) && a.queue.len() == n {
            return a.queue.clone();
        }
    }
}

#[tokio::test]
async fn without_an_advisor_the_visitor_can_leave_a_contact_request() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let mut v = app.visitor().await;
    v.recv().await;
    v.send(json!({"type": "handoff"})).await;
    let status = v.recv().await;
    assert_eq!(
        (status["type"].as_str(), status["status"].as_str()),
        (Some("handoff"), Some("unavailable"))
    );
    v.send(json!({"type":"contact","name":"Ana \"A\" B","email":"ana@example.com","consent":true}))
        .await;
    assert_eq!(v.recv().await["status"], "saved");

    let client = reqwest::Client::new();
    let refused = client
        .get(app.url("/api/leads"))
        .send()
        .await
        .expect("leads");
    assert_eq!(refused.status(), 401);
    let leads: Value = client
        .get(app.url("/api/leads"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("leads")
        .json()
        .await
        .expect("json");
    assert_eq!(leads["leads"][0]["email"], "ana@example.com");
    assert_eq!(leads["leads"][0]["consent"], true);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["leads", "--data"])
        .arg(app.dir.path())
        .output()
        .expect("faqbot leads");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        csv.starts_with("id,created_at,conversation,name,email"),
        "{csv}"
    );
    assert!(csv.contains("\"Ana \"\"A\"\" B\",ana@example.com"), "{csv}");
}

/// One row of a CSV export read back by a CSV parser, as a spreadsheet would.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV row").iter().map(String::from).collect())
        .collect()
}

#[tokio::test]
async fn csv_exports_neutralise_formulas_but_keep_phone_numbers_readable() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let mut v = app.visitor().await;
    v.recv().await;
    v.send(json!({
        "type": "contact",
        "name": "=HYPERLINK(\"https://evil.example\",\"Voir\")",
        "email": "=cmd|'/Ccalc'!A0@example.com",
        "phone": "+33 6 12 34 56 78",
        "message": "@SUM(A1:A9) puis -2+3",
        "consent": true
    }))
    .await;
    assert_eq!(v.recv().await["status"], "saved");
    v.send(json!({"type": "contact", "name": "+SUM(1)", "phone": "-1-2-3-4-5-6", "consent": true}))
        .await;
    assert_eq!(v.recv().await["status"], "saved");

    let api = reqwest::Client::new()
        .get(app.url("/api/leads?format=csv"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("leads");
    assert_eq!(api.status(), 200);
    let api = api.text().await.expect("CSV");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["leads", "--data"])
        .arg(app.dir.path())
        .output()
        .expect("faqbot leads");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        api,
        "CLI and API agree"
    );

    let rows = csv_rows(&api);
    assert_eq!(rows.len(), 2, "{api}");
    // id, created_at, conversation, name, email, phone, message, …
    assert_eq!(rows[0][3], "'=HYPERLINK(\"https://evil.example\",\"Voir\")");
    assert_eq!(rows[0][4], "'=cmd|'/Ccalc'!A0@example.com");
    assert_eq!(
        rows[0][5], "+33 6 12 34 56 78",
        "a phone number stays readable"
    );
    assert_eq!(rows[0][6], "'@SUM(A1:A9) puis -2+3");
    assert_eq!(rows[1][3], "'+SUM(1)");
    assert_eq!(rows[1][5], "-1-2-3-4-5-6", "digits and dashes call nothing");
    for row in &rows {
        for field in row {
            assert!(
                !field.starts_with(['=', '@', '\t', '\r'])
                    && (!field.starts_with(['+', '-']) || !field.contains(char::is_alphabetic)),
                "{field:?} in {api}"
            );
        }
    }
}

#[tokio::test]
async fn two_advisors_racing_to_claim_exactly_one_wins() {
    let app = spawn_app().await;
    let (ta, tb) = (app.add_advisor("Alice"), app.add_advisor("Bob"));
    let mut a = app.advisor(&ta).await;
    let mut b = app.advisor(&tb).await;
    let hello = a.recv().await;
    assert_eq!(
        (&hello["type"], &hello["advisor"]),
        (&json!("hello"), &json!("Alice"))
    );
    assert_eq!(b.recv().await["advisor"], "Bob");
    for round in 0..5 {
        let (mut v, _, status) = queued_visitor(&app, "combien ça coûte ?").await;
        assert_eq!(status["status"], "queued", "{status}");
        let alert_a = a.recv_type("alert").await;
        b.recv_type("alert").await;
        let conv = alert_a["conversation"].as_str().expect("id").to_owned();
        let claim = json!({"type": "claim", "conversation": conv});
        // Both frames leave before either answer is read.
        a.send(claim.clone()).await;
        b.send(claim).await;
        let mut wins = Vec::new();
        for (name, c) in [("Alice", &mut a), ("Bob", &mut b)] {
            loop {
                let f = c.recv().await;
                match f["type"].as_str() {
                    Some("transcript") => {
                        wins.push(name);
                        break;
                    }
                    Some("error") => {
                        assert_eq!(f["code"], "already_claimed");
                        assert_eq!(f["conversation"], conv, "the loser is told which");
                        break;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(wins.len(), 1, "round {round}: winners {wins:?}");
        let assigned = v.recv_type("handoff").await;
        assert_eq!(assigned["status"], "assigned");
        assert_eq!(assigned["advisor"], wins[0]);
        // Both advisors learn who won.
        assert_eq!(a.recv_type("claimed").await["by"], wins[0]);
        assert_eq!(b.recv_type("claimed").await["by"], wins[0]);
    }
}

#[tokio::test]
async fn advisor_error_frames_name_the_conversation_they_concern() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let mut a = app.advisor(&token).await;
    a.recv_type("hello").await;
    let (_v, _, _) = queued_visitor(&app, "combien ça coûte ?").await;
    let conv = a.alerted().await;

    // Not claimed yet: refused, about that conversation.
    a.send(json!({"type": "message", "conversation": conv, "text": "Bonjour"}))
        .await;
    let e = a.recv_type("error").await;
    assert_eq!(e["conversation"], conv, "{e}");
    a.send(json!({"type": "claim", "conversation": conv})).await;
    a.recv_type("transcript").await;
    a.send(json!({"type": "message", "conversation": conv, "text": "  "}))
        .await;
    let e = a.recv_type("error").await;
    assert_eq!(
        (&e["code"], &e["conversation"]),
        (&json!("empty_text"), &json!(conv))
    );
    a.send(json!({"type": "release", "conversation": "no-such-conversation"}))
        .await;
    let e = a.recv_type("error").await;
    assert_eq!(e["conversation"], "no-such-conversation", "{e}");

    // A frame that cannot be read concerns no conversation: the field is absent, as before.
    for bad in [
        "not json".to_owned(),
        json!({"type": "message", "conversation": conv}).to_string(),
        json!({"type": "claim", "conversation": ""}).to_string(),
    ] {
        a.send_text(&bad).await;
        let e = a.recv_type("error").await;
        assert!(e.get("conversation").is_none(), "{bad}: {e}");
    }
}

#[tokio::test]
async fn the_handoff_card_tells_why_what_and_where() {
    let app = spawn_app().await;
    let mut a = app.advisor(&app.add_advisor("Alice")).await;
    let mut v = app.visitor_with("page=%2Fcellules-souches&lang=fr").await;
    v.recv().await;
    v.ask("xyzzy blorp", "1").await;
    let offer = v.ask("qwerty zork", "2").await;
    assert_eq!(offer["handoff_offer"], true, "{offer}");
    v.send(json!({"type": "handoff"})).await;
    assert_eq!(v.recv_type("handoff").await["position"], 1);

    let alert = a.recv_type("alert").await;
    assert_eq!(alert["kind"], "new");
    let card = &alert["card"];
    assert_eq!(card["reason"], "repeated_fallback");
    assert_eq!(card["last_question"], "qwerty zork");
    assert_eq!(card["page"], "/cellules-souches");
    assert_eq!(card["lang"], "fr");
    assert!(card["candidates"].is_array());
    let queue = queue_of_len(&mut a, 1).await;
    assert_eq!(queue[0]["preview"], "qwerty zork");
    assert!(queue[0]["waiting_since"].is_string());

    // A handoff intent typed by the visitor is reason "asked".
    let mut w = app.visitor().await;
    w.recv().await;
    let r = w.ask("je veux parler à un conseiller", "x").await;
    assert_eq!(r["kind"], "handoff", "{r}");
    assert_eq!(w.recv_type("handoff").await["status"], "queued");
    let alert = a.recv_type("alert").await;
    assert_eq!(alert["card"]["reason"], "asked");
    assert_eq!(
        alert["card"]["last_question"],
        "je veux parler à un conseiller"
    );
}

#[tokio::test]
async fn advisor_and_visitor_talk_and_release_gives_the_chat_back_to_the_bot() {
    let app = spawn_app().await;
    let mut a = app.advisor(&app.add_advisor("Alice")).await;
    let (mut v, _, _) = queued_visitor(&app, "combien ça coûte ?").await;
    let conv = a.alerted().await;
    a.send(json!({"type": "claim", "conversation": conv})).await;
    let transcript = a.recv_type("transcript").await;
    let messages = transcript["messages"].as_array().expect("messages");
    assert_eq!(messages[0]["from"], "visitor");
    assert_eq!(messages[1]["from"], "bot");
    assert_eq!(transcript["card"]["reason"], "asked");
    assert_eq!(v.recv_type("handoff").await["status"], "assigned");

    a.send(json!({"type": "message", "conversation": conv, "text": "Bonjour, je suis Alice."}))
        .await;
    let m = v.recv().await;
    assert_eq!(
        (m["type"].as_str(), m["advisor"].as_str()),
        (Some("advisor_message"), Some("Alice"))
    );
    assert_eq!(m["text"], "Bonjour, je suis Alice.");

    v.send(json!({"type": "message", "text": "combien ça coûte ?", "id": "to-alice"}))
        .await;
    let fwd = a.recv_type("visitor_message").await;
    assert_eq!(
        (fwd["conversation"].as_str(), fwd["text"].as_str()),
        (Some(conv.as_str()), Some("combien ça coûte ?"))
    );
    v.assert_quiet().await; // the bot is silent while the advisor has the chat

    // Emergencies are answered at once even so, and the advisor sees them too.
    let urgent = v.ask("mon mari vomit du sang", "urgent").await;
    assert_eq!(urgent["kind"], "emergency", "{urgent}");
    assert!(urgent["text"].as_str().unwrap_or("").contains("112"));
    a.recv_type("visitor_message").await;

    // Another advisor cannot write into Alice's conversation.
    let mut b = app.advisor(&app.add_advisor("Bob")).await;
    b.send(json!({"type": "message", "conversation": conv, "text": "hi"}))
        .await;
    assert_eq!(b.recv_type("error").await["code"], "not_yours");

    a.send(json!({"type": "release", "conversation": conv}))
        .await;
    let ended = v.recv_type("handoff").await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(a.recv_type("ended").await["status"], "released");
    let back = v.ask("où est la clinique ?", "after").await;
    assert_eq!(back["kind"], "answer", "the bot answers again: {back}");
}

#[tokio::test]
async fn queue_positions_move_up_when_a_conversation_is_claimed() {
    let app = spawn_app().await;
    let mut a = app.advisor(&app.add_advisor("Alice")).await;
    let (_v1, _, s1) = queued_visitor(&app, "combien ça coûte ?").await;
    let (mut v2, _, s2) = queued_visitor(&app, "où est la clinique ?").await;
    assert_eq!(
        (s1["position"].as_u64(), s2["position"].as_u64()),
        (Some(1), Some(2))
    );
    let queue = queue_of_len(&mut a, 2).await;
    let first = queue[0]["id"].as_str().expect("id").to_owned();
    a.send(json!({"type": "claim", "conversation": first}))
        .await;
    let moved = v2.recv_type("handoff").await;
    assert_eq!(
        (moved["status"].as_str(), moved["position"].as_u64()),
        (Some("queued"), Some(1))
    );
}

#[tokio::test]
async fn an_unclaimed_handoff_is_escalated_after_the_configured_delay() {
    let app = spawn_app_with(tempfile::tempdir().expect("dir"), |s| {
        s.handoff.escalate_after_secs = 1;
    })
    .await;
    let mut a = app.advisor(&app.add_advisor("Alice")).await;
    let (_v, _, _) = queued_visitor(&app, "combien ça coûte ?").await;
    assert_eq!(a.recv_type("alert").await["kind"], "new");
    let escalated = a.recv_type("alert").await;
    assert_eq!(escalated["kind"], "escalated");
    // Only that item is sent again, marked.
    let updated = a.recv_type("queue_updated").await;
    assert_eq!(updated["item"]["escalated"], true, "{updated}");
    assert_eq!(a.queue.len(), 1);
}

#[tokio::test]
async fn advisors_without_a_valid_token_or_from_a_foreign_origin_are_refused() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    assert_eq!(app.try_advisor(None, None).await.err(), Some(401));
    assert_eq!(app.try_advisor(Some("wrong"), None).await.err(), Some(401));

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/ws/advisor", app.addr)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    assert_eq!(app.try_advisor_request(request).await.err(), Some(403));

    // The console's login: an HttpOnly, SameSite=Strict cookie that opens the WebSocket.
    let client = reqwest::Client::new();
    let bad = client
        .post(app.url("/api/login"))
        .json(&json!({"token": "wrong"}))
        .send()
        .await
        .expect("login");
    assert_eq!(bad.status(), 401);
    let ok = client
        .post(app.url("/api/login"))
        .json(&json!({"token": token}))
        .send()
        .await
        .expect("login");
    assert_eq!(ok.status(), 200);
    let cookie = ok
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair");
    let mut a = app
        .try_advisor(None, Some(pair))
        .await
        .expect("cookie accepted");
    assert_eq!(a.recv().await["advisor"], "Alice");
}

#[tokio::test]
async fn advisor_messages_sent_while_the_visitor_is_away_arrive_on_resume() {
    let app = spawn_app().await;
    let mut a = app.advisor(&app.add_advisor("Alice")).await;
    let (mut v, token, _) = queued_visitor(&app, "combien ça coûte ?").await;
    let conv = a.alerted().await;
    a.send(json!({"type": "claim", "conversation": conv})).await;
    let assigned = v.recv_type("handoff").await;
    let seen = assigned["seq"].as_u64().expect("seq");
    v.close().await;

    a.send(json!({"type": "message", "conversation": conv, "text": "Vous êtes là ?"}))
        .await;
    a.send(json!({"type": "message", "conversation": conv, "text": "Je vous rappelle demain."}))
        .await;
    // Both stored before the advisor's next frame is handled; a cheap sync point is a bad frame.
    a.send_text("{").await;
    a.recv_type("error").await;

    let mut back = app
        .visitor_with(&format!("session={token}&last_seq={seen}"))
        .await;
    let welcome = back.recv().await;
    assert_eq!(welcome["mode"], "advisor");
    let m1 = back.recv().await;
    let m2 = back.recv().await;
    assert_eq!(
        (m1["seq"].as_u64(), m1["text"].as_str()),
        (Some(seen + 1), Some("Vous êtes là ?"))
    );
    assert_eq!(m2["seq"].as_u64(), Some(seen + 2));
    back.assert_quiet().await;
}

#[tokio::test]
async fn a_restart_on_the_same_data_keeps_history_queue_and_contact_requests() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let mut a = app.advisor(&token).await;
    let (v, visitor_token, status) = queued_visitor(&app, "combien ça coûte ?").await;
    assert_eq!(status["status"], "queued");
    let conv = a.alerted().await;
    a.close().await;
    v.close().await;
    let mut w = app.visitor().await;
    w.recv().await;
    w.send(json!({"type":"contact","name":"Ben","phone":"0612345678","consent":true}))
        .await;
    assert_eq!(w.recv().await["status"], "saved");
    w.close().await;

    let dir = app.stop().await;
    let app = spawn_app_with(dir, |_| {}).await;

    let mut v = app.visitor_with(&format!("session={visitor_token}")).await;
    let welcome = v.recv().await;
    assert_eq!(welcome["mode"], "queued");
    assert_eq!(welcome["history"].as_array().map(Vec::len), Some(2));
    let mut a = app.advisor(&token).await;
    let queue = queue_of_len(&mut a, 1).await;
    assert_eq!(queue[0]["id"], conv.as_str());
    let leads: Value = reqwest::Client::new()
        .get(app.url("/api/leads"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("leads")
        .json()
        .await
        .expect("json");
    assert_eq!(leads["leads"][0]["name"], "Ben");
}

#[tokio::test]
async fn a_new_handoff_is_posted_to_the_webhook_without_message_text() {
    use axum::routing::post;
    use axum::Json;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(4);
    let hook = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body).await;
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, hook).await;
    });
    let app = spawn_app_with(tempfile::tempdir().expect("dir"), |s| {
        s.handoff.webhook_url = Some(format!("http://{hook_addr}/hook"));
    })
    .await;
    let _a = app.advisor(&app.add_advisor("Alice")).await;
    let (_v, _, _) = queued_visitor(&app, "combien ça coûte ?").await;
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .expect("webhook called in time")
        .expect("event");
    assert_eq!(event["event"], "handoff");
    assert_eq!(event["reason"], "asked");
    assert_eq!(event["page"], "/tarifs");
    assert!(
        !event.to_string().contains("coûte"),
        "no message text: {event}"
    );
}

#[tokio::test]
async fn visitors_who_queue_and_leave_cost_an_advisor_small_queue_changes() {
    let app = spawn_app().await;
    let token = app.add_advisor("Alice");
    let mut alice = app.advisor(&token).await;
    alice.recv_type("queue").await;
    // More visitors than a queue frame lists, each with a long question, each gone at once.
    let long = format!("{} ?", "mon foie ".repeat(200));
    let visitors = 60;
    for i in 0..visitors {
        let (v, _, status) = queued_visitor(&app, &long).await;
        assert_eq!(status["position"], i + 1);
        v.close().await;
    }
    // Each change is sent alone: a newcomer's item, or the total once the list is full.
    let (mut largest, mut changes) = (0, Vec::new());
    while alice.queue_total != visitors {
        let text = alice.recv_text().await;
        let frame: Value = serde_json::from_str(&text).expect("JSON");
        if alice.track_queue(&frame) {
            largest = largest.max(text.len());
            changes.push(frame["type"].as_str().unwrap_or("").to_owned());
        }
    }
    // One per visitor, or fewer when two arrivals beyond the list are told in one.
    assert!(changes.len() <= 60, "{changes:?}");
    assert!(
        changes[..50].iter().all(|t| t == "queue_added"),
        "{changes:?}"
    );
    assert!(
        changes[50..].iter().all(|t| t == "queue_total"),
        "{changes:?}"
    );
    assert_eq!(alice.queue.len(), 50, "the first 50, and the total");
    let question = alice.queue[0]["card"]["last_question"]
        .as_str()
        .expect("question");
    assert!(
        question.chars().count() <= 201,
        "cut on the card: {question}"
    );
    assert!(largest < 4 * 1024, "largest queue change {largest} bytes");
    // A console that connects now gets the same list whole, still bounded.
    let mut bob = app.advisor(&app.add_advisor("Bob")).await;
    let whole = loop {
        let text = bob.recv_text().await;
        let frame: Value = serde_json::from_str(&text).expect("JSON");
        if frame["type"] == "queue" {
            assert!(text.len() < 64 * 1024, "whole queue {} bytes", text.len());
            break frame;
        }
    };
    assert_eq!(whole["total"], visitors);
    assert_eq!(whole["conversations"].as_array().map(Vec::len), Some(50));
    // Claiming the first lets the 51st into the list: one removal, one arrival.
    let first = alice.queue[0]["id"].as_str().expect("id").to_owned();
    alice
        .send(json!({"type": "claim", "conversation": first}))
        .await;
    let mut seen = Vec::new();
    while alice.queue_total != visitors - 1 || seen.len() < 2 {
        let f = alice.recv().await;
        if f["type"].as_str().is_some_and(|t| t.starts_with("queue")) {
            seen.push(f);
        }
    }
    assert_eq!(seen[0]["type"], "queue_removed");
    assert_eq!(seen[0]["conversation"], first.as_str());
    assert_eq!(seen[1]["type"], "queue_added", "{}", seen[1]);
    assert_eq!(seen[1]["total"], visitors - 1);
    assert_eq!(alice.queue.len(), 50);
}

#[tokio::test]
async fn a_queued_visitor_who_left_leaves_the_queue_and_one_still_there_stays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with(dir, |s| s.handoff.leave_queue_after_secs = 1).await;
    let token = app.add_advisor("Alice");
    let mut alice = app.advisor(&token).await;
    alice.recv_type("queue").await;
    let (gone, gone_token, _) = queued_visitor(&app, "combien ça coûte ?").await;
    let (mut staying, _, status) = queued_visitor(&app, "où est la clinique ?").await;
    assert_eq!(status["position"], 2);
    queue_of_len(&mut alice, 2).await;
    gone.close().await;
    // Within a few checks (every 0.25 s here) the one who left is out; the other stays.
    let started = std::time::Instant::now();
    while alice.queue_total != 1 {
        let f = alice.recv().await;
        assert!(started.elapsed().as_secs() < 8, "still queued: {f}");
    }
    assert!(staying
        .next_within(std::time::Duration::from_millis(300))
        .await
        .is_none());
    // Back with the bot when they return.
    let mut back = app.visitor_with(&format!("session={gone_token}")).await;
    assert_eq!(back.recv().await["mode"], "bot");
}
