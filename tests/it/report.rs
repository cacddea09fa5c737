//! What the bot missed, end to end: a real server, real WebSocket visitors sending known
//! questions, then the store, `GET /api/knowledge/missed` and the real `faqbot report` binary.
//!
//! The conversation log, and what each message is:
//!
//! | visitor | sends                                  | bot       | miss → its outcome            |
//! |---------|----------------------------------------|-----------|-------------------------------|
//! | A       | combien ça coûte ?                     | answer    |                               |
//! | A       | Acceptez-vous la carte vitale ?        | fallback  | fallback → asked_again        |
//! | A       | cellules                               | clarify   | clarify → picked (1st)        |
//! | A       | *picks the first suggestion*           | answer    | (a pick, not a typed question)|
//! | B       | Est-ce que la carte vitale est acceptée chez vous ? | fallback | fallback → asked_again |
//! | B       | xyzzy blorp                            | fallback  | fallback → asked_again        |
//! | B       | mon foie est gras pourquoi             | answer    | low_confidence → other        |
//! | B       | merci                                  | smalltalk |                               |
//! | B       | je veux parler à un conseiller         | handoff   | handoff → asked_person        |
//!
//! 8 typed questions in 2 conversations: answer 2, clarify 1, fallback 3, handoff 1,
//! smalltalk 1; 1 pick; 6 misses in 5 groups (the two "carte vitale" wordings are one).

use std::path::Path;
use std::process::Command;

use faqbot::model::Outcome;
use faqbot::store::SqliteStore;
use serde_json::{json, Value};

use crate::helpers::{add_advisor_as, spawn_app, TestApp};

/// Plays the conversation log above; returns the entry picked in A.
async fn play_the_log(app: &TestApp) -> String {
    let mut a = app.visitor().await;
    a.recv().await;
    let kind = |r: &Value| r["kind"].as_str().unwrap_or("").to_owned();
    assert_eq!(kind(&a.ask("combien ça coûte ?", "a1").await), "answer");
    let r = a.ask("Acceptez-vous la carte vitale ?", "a2").await;
    assert_eq!(kind(&r), "fallback", "{r}");
    let r = a.ask("cellules", "a3").await;
    assert_eq!(kind(&r), "clarify", "{r}");
    let picked = r["suggestions"][0]["faq_id"]
        .as_str()
        .expect("a suggestion")
        .to_owned();
    a.send(json!({"type": "choose", "faq_id": picked})).await;
    assert_eq!(kind(&a.recv_type("reply").await), "answer");

    let mut b = app.visitor().await;
    b.recv().await;
    let expected = [
        (
            "Est-ce que la carte vitale est acceptée chez vous ?",
            "fallback",
        ),
        ("xyzzy blorp", "fallback"),
        ("mon foie est gras pourquoi", "answer"),
        ("merci", "smalltalk"),
        ("je veux parler à un conseiller", "handoff"),
    ];
    for (i, (q, k)) in expected.iter().enumerate() {
        let r = b.ask(q, &format!("b{i}")).await;
        assert_eq!(kind(&r), *k, "{q}: {r}");
    }
    // Nobody is online: the handoff is recorded as unavailable.
    assert_eq!(b.recv_type("handoff").await["status"], "unavailable");
    picked
}

fn faqbot_report(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["report", "--data"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("faqbot report runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The CSV rows of `section` whose `name` column is `name`, split on commas outside quotes.
fn csv_row(csv: &str, section: &str, name: &str) -> Vec<String> {
    let quoted = format!("\"{name}\"");
    csv.lines()
        .map(split_csv)
        .find(|f| f[0] == section && (f[2] == name || f[2] == quoted))
        .unwrap_or_else(|| panic!("no {section} row {name} in\n{csv}"))
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            _ => fields.last_mut().expect("a field").push(c),
        }
    }
    fields
}

/// `GET /api/knowledge/missed`, with a bearer token when given.
async fn get_missed(app: &TestApp, query: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(app.url(&format!("/api/knowledge/missed{query}")));
    let request = match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    };
    request.send().await.expect("request")
}

#[tokio::test]
async fn missed_questions_are_recorded_with_what_the_visitor_did_next() {
    let app = spawn_app().await;
    let picked = play_the_log(&app).await;

    // Read by a second (read-only) connection while the server runs.
    let store = SqliteStore::open_read_only(app.dir.path()).expect("read-only store");
    let misses = store.misses(0).expect("misses");
    let got: Vec<(&str, &str, &Outcome)> = misses
        .iter()
        .map(|m| {
            (
                m.miss.question.as_str(),
                m.miss.kind.as_str(),
                &m.miss.outcome,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "Acceptez-vous la carte vitale ?",
                "fallback",
                &Outcome::AskedAgain
            ),
            ("cellules", "clarify", &Outcome::Picked(picked.clone())),
            (
                "Est-ce que la carte vitale est acceptée chez vous ?",
                "fallback",
                &Outcome::AskedAgain
            ),
            ("xyzzy blorp", "fallback", &Outcome::AskedAgain),
            (
                "mon foie est gras pourquoi",
                "low_confidence",
                &Outcome::Other
            ),
            (
                "je veux parler à un conseiller",
                "handoff",
                &Outcome::AskedPerson
            ),
        ]
    );
    let clarify = &misses[1].miss;
    assert_eq!(clarify.lang, "fr");
    assert!(clarify.terms.contains(&"cellul".to_owned()), "{clarify:?}");
    assert!(clarify.candidates.len() >= 2, "{clarify:?}");
}

#[tokio::test]
async fn the_console_gets_them_grouped_with_the_rates_for_support_only() {
    let app = spawn_app().await;
    let picked = play_the_log(&app).await;

    assert_eq!(get_missed(&app, "", None).await.status(), 401);
    let advisor = add_advisor_as(app.dir.path(), "Alice", "advisor");
    let refused = get_missed(&app, "", Some(&advisor)).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("JSON error");
    assert_eq!(body["error"], "forbidden");
    assert!(
        body["message"].as_str().unwrap_or("").contains("support"),
        "{body}"
    );
    let support = add_advisor_as(app.dir.path(), "Sam", "support");
    let bad = get_missed(&app, "?since=yesterday", Some(&support)).await;
    assert_eq!(bad.status(), 400);
    let ok = get_missed(&app, "", Some(&support)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let missed: Value = ok.json().await.expect("JSON");
    let stats = &missed["stats"];
    assert_eq!(
        (
            &stats["questions"],
            &stats["conversations"],
            &stats["picks"],
            &stats["misses"],
            &stats["low_confidence"],
            &stats["handoff_requests"]
        ),
        (
            &json!(8),
            &json!(2),
            &json!(1),
            &json!(6),
            &json!(1),
            &json!(1)
        ),
        "{stats}"
    );
    let counts: Vec<(String, u64)> = stats["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .map(|k| {
            (
                k["kind"].as_str().unwrap_or("").to_owned(),
                k["count"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("answer", 2),
        ("clarify", 1),
        ("fallback", 3),
        ("handoff", 1),
        ("smalltalk", 1),
        ("emergency", 0),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), *n))
    .collect();
    assert_eq!(counts, expected);
    assert_eq!(stats["kinds"][2]["rate"], 0.375);

    assert_eq!(missed["groups_total"], 5, "{missed:#}");
    let top = &missed["groups"][0];
    assert_eq!(top["count"], 2, "{top:#}");
    assert_eq!(top["kind"], "fallback");
    assert_eq!(top["outcome"], "asked_again");
    assert_eq!(
        top["examples"],
        json!([
            "Acceptez-vous la carte vitale ?",
            "Est-ce que la carte vitale est acceptée chez vous ?"
        ])
    );
    assert_eq!(top["candidates"][0]["is_intent"], true, "out of scope");
    assert_eq!(top["suggestion"], Value::Null, "a new entry");
    let groups = missed["groups"].as_array().expect("groups");
    let group_of = |q: &str| {
        groups
            .iter()
            .find(|g| g["examples"][0] == q)
            .unwrap_or_else(|| panic!("no group for {q}: {missed:#}"))
    };
    let clarify = group_of("cellules");
    assert_eq!(clarify["outcome"], "picked");
    assert_eq!(clarify["suggestion"]["faq_id"], picked.as_str());
    assert_eq!(clarify["suggestion"]["basis"], "picked");
    let low = group_of("mon foie est gras pourquoi");
    assert_eq!(low["kind"], "low_confidence");
    assert_eq!(low["suggestion"]["faq_id"], "steatose_definition");
    assert_eq!(low["suggestion"]["basis"], "top_candidate");
    let entries = &missed["entries"];
    assert!(
        entries
            .as_array()
            .expect("entries")
            .contains(&json!({"faq_id": picked, "answers": 0, "picks": 1})),
        "{entries}"
    );
}

#[tokio::test]
async fn faqbot_report_prints_the_same_while_serving_and_after() {
    let app = spawn_app().await;
    let picked = play_the_log(&app).await;

    // While the server runs (reading beside its writes), then after it stopped (log folded in).
    let text = faqbot_report(app.dir.path(), &[]);
    for line in [
        "8 typed questions in 2 conversations:",
        "  answer         2   25.0 %  (1 with low confidence)",
        "  clarify        1   12.5 %",
        "  fallback       3   37.5 %",
        "  handoff        1   12.5 %",
        "  smalltalk      1   12.5 %",
        "  emergency      0    0.0 %",
        "suggestions picked: 1, handoff requests: 1, missed questions: 6",
        "Missed questions by wording (5 of 5 groups):",
        "  1. 2× [fr] fallback, then asked_again",
        "     \"Acceptez-vous la carte vitale ?\" · \"Est-ce que la carte vitale est acceptée chez vous ?\"",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.contains(&format!(
            "→ add as a phrasing of `{picked}` (picked by visitors, 1×)"
        )),
        "{text}"
    );
    println!("{text}");

    let csv = faqbot_report(app.dir.path(), &["--csv", "--limit", "2"]);
    assert!(
        csv.starts_with(faqbot::protocol::REPORT_CSV_HEADER),
        "{csv}"
    );
    assert_eq!(csv_row(&csv, "stat", "questions")[4], "8");
    assert_eq!(csv_row(&csv, "rate", "fallback")[5], "0.3750");
    let first = csv
        .lines()
        .map(split_csv)
        .find(|f| f[0] == "missed" && f[1] == "1")
        .expect("a first group");
    assert_eq!((first[4].as_str(), first[7].as_str()), ("2", "fallback"));
    assert_eq!(csv.lines().filter(|l| l.starts_with("missed,")).count(), 2);
    println!("{csv}");

    let dir = app.stop().await;
    assert_eq!(faqbot_report(dir.path(), &[]), text);
    let from_now = faqbot_report(dir.path(), &["--since", "0h"]);
    assert!(
        from_now.contains("0 typed questions in 0 conversations"),
        "{from_now}"
    );
}

#[tokio::test]
async fn report_says_what_to_do_without_a_database() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["report", "--data"])
        .arg(empty.path())
        .output()
        .expect("faqbot report runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no database") && err.contains("--data"),
        "{err}"
    );
    assert!(
        !empty.path().join("faqbot.db").exists(),
        "a report creates nothing"
    );
}
