//! The visitor side of `/ws`, over real WebSockets.
//!
//! Properties covered: a question gets an answer with `seq` and `reply_to`; an ambiguous one
//! gets suggestions and `choose` answers; two fallbacks in a row and consultation answers offer
//! an advisor; resume with `last_seq` replays exactly the missed frames; a re-sent message id is
//! neither stored nor answered twice; resume without `last_seq` gives the history; bad frames get
//! an error and the connection stays usable; contact requests are validated; shutdown sends 1001;
//! a text frame that is not UTF-8 gets close 1007 (visitor and advisor alike); a 2 000-letter word
//! is answered without stalling another visitor.

use serde_json::json;

use crate::helpers::{session, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_question_gets_an_answer_with_seq_and_reply_to() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    let welcome = v.recv().await;
    assert_eq!(welcome["mode"], "bot");
    assert_eq!(welcome["seq"], 0);
    assert!(welcome["text"].as_str().unwrap_or("").contains("médecin"));
    let reply = v.ask("combien ça coûte ?", "m1").await;
    assert_eq!(reply["kind"], "answer", "{reply}");
    assert_eq!(reply["faq_id"], "cout");
    assert_eq!(reply["reply_to"], "m1");
    assert_eq!(reply["seq"], 1);
    assert_eq!(reply["handoff_offer"], false);
    assert!(reply["confidence"].as_f64().unwrap_or(0.0) > 0.5);
    assert!(reply["source"].is_string());
}

#[tokio::test]
async fn an_ambiguous_question_gets_suggestions_and_choose_answers() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    v.recv().await;
    let reply = v.ask("cellules", "m1").await;
    assert_eq!(reply["kind"], "clarify", "{reply}");
    let first = reply["suggestions"][0]["faq_id"]
        .as_str()
        .expect("a suggestion")
        .to_owned();
    v.send(json!({"type": "choose", "faq_id": first})).await;
    let answer = v.recv_type("reply").await;
    assert_eq!(answer["kind"], "answer");
    assert_eq!(answer["faq_id"], first.as_str());
    assert_eq!(answer["seq"], 2);

    v.send(json!({"type": "choose", "faq_id": "nope"})).await;
    let err = v.recv().await;
    assert_eq!(
        (err["type"].as_str(), err["code"].as_str()),
        (Some("error"), Some("unknown_faq"))
    );
}

#[tokio::test]
async fn the_bot_offers_an_advisor_after_two_fallbacks_and_on_consultation() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    v.recv().await;
    let first = v.ask("xyzzy blorp", "a").await;
    assert_eq!(
        (first["kind"].as_str(), first["handoff_offer"].as_bool()),
        (Some("fallback"), Some(false))
    );
    let second = v.ask("qwerty zork", "b").await;
    assert_eq!(
        (second["kind"].as_str(), second["handoff_offer"].as_bool()),
        (Some("fallback"), Some(true))
    );
    let consult = v.ask("la consultation est-elle gratuite ?", "c").await;
    assert_eq!(consult["faq_id"], "consultation_gratuite", "{consult}");
    assert_eq!(consult["handoff_offer"], true);
}

#[tokio::test]
async fn resume_with_last_seq_replays_exactly_the_missed_frames() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    let token = session(&v.recv().await);
    for (i, q) in ["combien ça coûte ?", "où est la clinique ?", "bonjour"]
        .iter()
        .enumerate()
    {
        let r = v.ask(q, &format!("m{i}")).await;
        assert_eq!(r["seq"], i as u64 + 1);
    }
    v.close().await;

    let mut again = app
        .visitor_with(&format!("session={token}&last_seq=1"))
        .await;
    let welcome = again.recv().await;
    assert_eq!(session(&welcome), token);
    assert_eq!(welcome["seq"], 1);
    assert_eq!(welcome["history"].as_array().map(Vec::len), Some(6));
    assert_eq!(again.recv().await["seq"], 2);
    assert_eq!(again.recv().await["seq"], 3);
    again.assert_quiet().await;
    // The numbering continues without a gap.
    assert_eq!(again.ask("merci", "m9").await["seq"], 4);
}

#[tokio::test]
async fn a_long_conversation_resumes_with_a_bounded_welcome_and_a_paged_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with(dir, |s| s.chat.welcome_history = 6).await;
    let mut v = app.visitor().await;
    let token = session(&v.recv().await);
    // A 5 000-message conversation (a question and a reply each), 25 replay pages of 100.
    let questions = ["combien ça coûte ?", "où est la clinique ?", "merci"];
    let total = 2500u64;
    for i in 0..total {
        let q = questions[i as usize % questions.len()];
        assert_eq!(v.ask(q, &format!("m{i}")).await["seq"], i + 1);
    }
    v.close().await;

    let mut again = app
        .visitor_with(&format!("session={token}&last_seq=0"))
        .await;
    let welcome = again.recv().await;
    let history = welcome["history"].as_array().expect("history");
    assert_eq!(history.len(), 6, "the latest messages only");
    // The last question asked closes the history, with its answer.
    let last_question = questions[(total as usize - 1) % questions.len()];
    assert_eq!(history[4]["text"], last_question, "{welcome}");
    assert_eq!(history[5]["from"], "bot");
    for seq in 1..=total {
        let frame = again.recv().await;
        assert_eq!(frame["seq"], seq, "replayed in order, without gap: {frame}");
        assert_eq!(frame["reply_to"], format!("m{}", seq - 1));
    }
    again.assert_quiet().await;
    assert_eq!(again.ask("merci", "after").await["seq"], total + 1);
}

#[tokio::test]
async fn a_resent_message_id_is_not_stored_or_answered_twice() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    let token = session(&v.recv().await);
    let first = v.ask("combien ça coûte ?", "same-id").await;
    v.close().await;

    let mut again = app.visitor_with(&format!("session={token}")).await;
    again.recv().await;
    let resent = again.ask("combien ça coûte ?", "same-id").await;
    assert_eq!(resent, first, "the stored reply is sent again, same seq");
    again.close().await;

    let mut third = app.visitor_with(&format!("session={token}")).await;
    let welcome = third.recv().await;
    assert_eq!(
        welcome["history"].as_array().map(Vec::len),
        Some(2),
        "{welcome}"
    );
    assert_eq!(third.ask("où est la clinique ?", "other").await["seq"], 2);
}

#[tokio::test]
async fn resume_after_a_dropped_connection_gives_the_history_and_mode() {
    let app = spawn_app().await;
    let mut v = app.visitor_with("page=/cellules&lang=fr").await;
    let token = session(&v.recv().await);
    v.ask("combien ça coûte ?", "m1").await;
    drop(v); // no close handshake: a dropped connection

    let mut again = app.visitor_with(&format!("session={token}")).await;
    let welcome = again.recv().await;
    assert_eq!(welcome["mode"], "bot");
    let history = welcome["history"].as_array().expect("history");
    assert_eq!(history[0]["from"], "visitor");
    assert_eq!(history[0]["text"], "combien ça coûte ?");
    assert_eq!(history[1]["from"], "bot");
    assert_eq!(history[1]["faq_id"], "cout");

    let mut stranger = app.visitor_with("session=not-a-real-token").await;
    let w = stranger.recv().await;
    assert_ne!(
        session(&w),
        token,
        "an unknown token starts a new conversation"
    );
    assert_eq!(w["history"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_connection_stays_usable() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    v.recv().await;
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "bad_json"),
        (r#"{"type":"dance"}"#.into(), "unknown_type"),
        (r#"{"no":"type"}"#.into(), "bad_frame"),
        (r#"{"type":"message"}"#.into(), "bad_frame"),
        (r#"{"type":"message","text":"   "}"#.into(), "empty_text"),
        (
            json!({"type":"message","text":"a".repeat(2001)}).to_string(),
            "text_too_long",
        ),
        (
            json!({"type":"message","text":"a".repeat(20_000)}).to_string(),
            "too_large",
        ),
        // PostgreSQL refuses U+0000 in text: refused at the edge on every store.
        (
            r#"{"type":"message","text":"bonjour\u0000"}"#.into(),
            "bad_text",
        ),
        (
            r#"{"type":"message","text":"prix","id":"a\u0000b"}"#.into(),
            "bad_text",
        ),
        (
            json!({"type":"contact","name":"A\u{0}","email":"a@example.com","consent":true})
                .to_string(),
            "bad_text",
        ),
    ];
    for (frame, code) in cases {
        v.send_text(&frame).await;
        let err = v.recv().await;
        assert_eq!(err["type"], "error", "{frame:.40}");
        assert_eq!(err["code"], code, "{frame:.40}: {err}");
        assert!(
            err.get("seq").is_none(),
            "errors are not conversation frames"
        );
    }
    let reply = v.ask("combien ça coûte ?", "ok").await;
    assert_eq!(reply["seq"], 1, "refused frames took no seq");
}

#[tokio::test]
async fn contact_requests_need_a_way_to_call_back_and_consent() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    v.recv().await;
    let bad = [
        json!({"type":"contact","name":"Ana","consent":true}),
        json!({"type":"contact","name":"Ana","email":"ana@example.com","consent":false}),
        json!({"type":"contact","name":"Ana","email":"not-an-email","consent":true}),
        json!({"type":"contact","name":"","phone":"+33 6 12 34 56 78","consent":true}),
    ];
    for frame in bad {
        v.send(frame.clone()).await;
        let err = v.recv().await;
        assert_eq!(err["code"], "invalid_contact", "{frame}: {err}");
    }
    v.send(json!({"type":"contact","name":"Ana","phone":"+33 6 12 34 56 78","message":"rappelez-moi","consent":true}))
        .await;
    let saved = v.recv().await;
    assert_eq!(
        (saved["type"].as_str(), saved["status"].as_str()),
        (Some("contact"), Some("saved"))
    );
    assert_eq!(saved["seq"], 1);
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001_and_health_endpoints_answer() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let health = client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let mut v = app.visitor().await;
    v.recv().await;
    let stop = tokio::spawn(app.stop());
    assert_eq!(v.close_code().await, Some(1001));
    stop.await.expect("stopped");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_gets_close_1007_for_visitors_and_advisors() {
    let app = spawn_app().await;
    // "caf\xe9": Latin-1, as an old client might send it.
    let latin1 = b"{\"type\":\"message\",\"text\":\"caf\xe9\"}";

    let mut visitor = app.visitor().await;
    visitor.recv_type("welcome").await;
    visitor.send_raw_text(latin1).await;
    assert_eq!(visitor.close_code().await, Some(1007), "visitor");

    let token = app.add_advisor("Alice");
    let mut advisor = app.advisor(&token).await;
    advisor.recv_type("hello").await;
    advisor.send_raw_text(b"\xff\xfe").await;
    assert_eq!(advisor.close_code().await, Some(1007), "advisor");

    // The service is unharmed: a new visitor is answered.
    let mut again = app.visitor().await;
    again.recv_type("welcome").await;
    let reply = again.ask("combien coûte le traitement ?", "m1").await;
    assert_eq!(reply["faq_id"], "cout", "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn a_two_thousand_letter_word_stalls_nobody() {
    // It used to: typo correction enumerated the deletions of a word of any length (cost ~
    // length³) inside the store lock, and every chat waited 13 s. Words over 30 letters are no
    // typo now, and n-grams read only a word's first 30 letters. The bound below is a liveness
    // check, not a speed target (those live in `cargo bench`).
    let app = spawn_app().await;
    let mut slow = app.visitor().await;
    slow.recv().await;
    let mut other = app.visitor().await;
    other.recv().await;
    let word = "a".repeat(2000);
    let started = std::time::Instant::now();
    slow.send(json!({"type": "message", "id": "w1", "text": word}))
        .await;
    let reply = other.ask("combien ça coûte ?", "o1").await;
    assert_eq!(reply["kind"], "answer", "{reply}");
    let long = slow.recv_type("reply").await;
    assert_eq!(long["kind"], "fallback", "{long}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
