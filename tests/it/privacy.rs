//! Privacy, end to end: conversations made by real WebSocket visitors on a real server, rows
//! aged by hand in its SQLite file, then the real `faqbot` binary and the console's frames.
//!
//! Properties covered:
//! - `faqbot purge` removes conversations last active before the retention period with every
//!   row linked to them, and contact requests left before it; it keeps recent conversations and
//!   those an advisor holds or that are queued, and says so; `FAQBOT_PRIVACY__RETENTION_DAYS`
//!   and `--days 0` change what it removes;
//! - the service purges at start with its `[privacy] retention_days`;
//! - `faqbot purge` and `faqbot visitor` never create a database where there is none;
//! - `faqbot visitor export` prints one conversation (found by its id or by the 6 characters
//!   the console shows) with its messages, handoffs, contact requests and missed questions;
//! - `faqbot visitor erase` removes one visitor from every table and leaves another as it was;
//! - an advisor erases a conversation they hold from the console: the visitor's socket closes
//!   with 4001, every advisor is told, nothing of it is left; another advisor may not;
//! - with `RUST_LOG=trace`, what a visitor or an advisor writes, a contact's phone number and
//!   email never reach the log of the real binary, unless `privacy.log_text` is set;
//! - the database's `-wal` and `-shm` files are 0600, even when a former run left them wider.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use faqbot::clock::now_ms;
use faqbot::secret::hash_token;
use serde_json::{json, Value};

use crate::helpers::{
    add_advisor, connect, session, spawn_app, spawn_app_with, start_serve_logged, Client, TestApp,
    WAIT,
};

const DAY: i64 = 86_400_000;

/// The tables holding a conversation's data, and the column naming it.
const TABLES: [(&str, &str); 6] = [
    ("conversations", "id"),
    ("messages", "conversation_id"),
    ("frames", "conversation_id"),
    ("misses", "conversation_id"),
    ("handoffs", "conversation_id"),
    ("contacts", "conversation_id"),
];

/// The test's own connection to the service's database, to look and to age rows.
fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("faqbot.db")).expect("open the service's database")
}

/// How many rows of each table belong to conversation `id`.
fn rows(data: &Path, id: &str) -> HashMap<&'static str, u64> {
    let conn = db(data);
    TABLES
        .iter()
        .map(|(table, column)| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?1");
            let n: i64 = conn.query_row(&sql, [id], |r| r.get(0)).expect(table);
            (*table, n as u64)
        })
        .collect()
}

/// The id of the conversation a visitor's session token opens.
fn conversation_id(data: &Path, token: &str) -> String {
    db(data)
        .query_row(
            "SELECT id FROM conversations WHERE token_hash = ?1",
            [hash_token(token)],
            |r| r.get(0),
        )
        .expect("the visitor's conversation")
}

/// Runs the real `faqbot` with `args` and `env` (and no retention variable of the test's own).
fn faqbot(args: &[&str], data: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("FAQBOT_PRIVACY__RETENTION_DAYS")
        .envs(env.iter().copied())
        .output()
        .expect("faqbot runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the command failed with a message containing `says`.
fn assert_fails_saying(out: &Output, says: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "it succeeded: {}", text(&out.stdout));
    assert!(stderr.contains(says), "expected «{says}» in: {stderr}");
}

/// The "  table  count" lines of `faqbot purge` or `faqbot visitor erase`.
fn counts(stdout: &str) -> HashMap<String, u64> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (table, n) = (words.next()?, words.next()?.parse().ok()?);
            words.next().is_none().then(|| (table.to_owned(), n))
        })
        .collect()
}

/// A visitor who asks a question the bot answers, says `said` (which the bot misses), asks for
/// an advisor while none is online (a handoff recorded as unavailable) and leaves a contact
/// request with `phone`. Returns the client and the conversation's id.
async fn visitor_with_everything(app: &TestApp, said: &str, phone: &str) -> (Client, String) {
    let mut v = app.visitor().await;
    let token = session(&v.recv().await);
    v.ask("combien coûte le traitement ?", "q1").await;
    let missed = v.ask(said, "q2").await;
    assert_eq!(missed["kind"], "fallback", "{said}: {missed}");
    v.send(json!({"type": "handoff"})).await;
    assert_eq!(v.recv_type("handoff").await["status"], "unavailable");
    v.send(json!({"type": "contact", "name": "Zoé Martin", "phone": phone, "consent": true}))
        .await;
    assert_eq!(v.recv_type("contact").await["status"], "saved");
    (v, conversation_id(app.dir.path(), &token))
}

/// A visitor queued for an advisor; returns the client and the conversation's id.
async fn queued_visitor(app: &TestApp) -> (Client, String) {
    let mut v = app.visitor().await;
    let token = session(&v.recv().await);
    v.ask("combien coûte le traitement ?", "q1").await;
    v.send(json!({"type": "handoff"})).await;
    assert_eq!(v.recv_type("handoff").await["status"], "queued");
    (v, conversation_id(app.dir.path(), &token))
}

#[tokio::test]
async fn faqbot_purge_removes_what_is_past_the_retention_and_keeps_the_rest() {
    let app = spawn_app().await;
    let data = app.dir.path();
    let (_a, old) = visitor_with_everything(&app, "xyzzy blorp", "+33 6 11 11 11 11").await;
    let (_b, recent) = visitor_with_everything(&app, "plugh wibble", "+33 6 22 22 22 22").await;
    // Two more old ones, in a chat: one an advisor holds, one waiting in the queue.
    let mut alice = app.advisor(&app.add_advisor("Alice")).await;
    let (_c, held) = queued_visitor(&app).await;
    alice
        .send(json!({"type": "claim", "conversation": held}))
        .await;
    alice.recv_type("transcript").await;
    let (_d, queued) = queued_visitor(&app).await;

    let long_ago = now_ms() - 100 * DAY;
    let conn = db(data);
    for id in [&old, &held, &queued] {
        conn.execute(
            "UPDATE conversations SET last_active = ?1 WHERE id = ?2",
            rusqlite::params![long_ago, id],
        )
        .expect("age a conversation");
    }
    // The recent conversation's contact request is old: a lead not acted on in time.
    conn.execute("UPDATE contacts SET created_at = ?1", [long_ago])
        .expect("age the contact requests");
    let before_old = rows(data, &old);
    let before_recent = rows(data, &recent);
    assert!(before_old.values().all(|n| *n > 0), "{before_old:?}");

    // The service's variable sets the retention: 200 days keep everything.
    let out = faqbot(
        &["purge"],
        data,
        &[("FAQBOT_PRIVACY__RETENTION_DAYS", "200")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(counts(&text(&out.stdout)).values().sum::<u64>(), 0);
    assert_eq!(rows(data, &old), before_old);

    // The default, 90 days.
    let out = faqbot(&["purge"], data, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("(90 days)"), "{stdout}");
    let removed = counts(&stdout);
    for (table, _) in TABLES {
        let expected = before_old[table] + if table == "contacts" { 1 } else { 0 };
        assert_eq!(removed.get(table), Some(&expected), "{table}: {stdout}");
    }
    assert!(rows(data, &old).values().all(|n| *n == 0), "nothing left");
    let mut kept = before_recent.clone();
    kept.insert("contacts", 0);
    assert_eq!(rows(data, &recent), kept, "the recent conversation stays");
    assert_eq!(rows(data, &held)["conversations"], 1, "held by Alice");
    assert_eq!(rows(data, &queued)["conversations"], 1, "in the queue");
    assert!(stdout.contains("kept 2 conversation(s)"), "{stdout}");

    let out = faqbot(&["purge", "--days", "0"], data, &[]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("nothing purged"),
        "{}",
        text(&out.stdout)
    );
    let out = faqbot(&["purge", "--days", "ninety"], data, &[]);
    assert_fails_saying(&out, "not a number of days");
    app.stop().await;
}

#[tokio::test]
async fn the_service_purges_at_start_what_is_past_its_retention() {
    let app = spawn_app().await;
    let (a, old) = visitor_with_everything(&app, "xyzzy blorp", "+33 6 11 11 11 11").await;
    let (b, recent) = visitor_with_everything(&app, "plugh wibble", "+33 6 22 22 22 22").await;
    a.close().await;
    b.close().await;
    db(app.dir.path())
        .execute(
            "UPDATE conversations SET last_active = ?1 WHERE id = ?2",
            rusqlite::params![now_ms() - 40 * DAY, old],
        )
        .expect("age a conversation");
    let dir = app.stop().await;

    let app = spawn_app_with(dir, |s| s.privacy.retention_days = 30).await;
    let data = app.dir.path();
    let started = Instant::now();
    while rows(data, &old).values().any(|n| *n > 0) {
        assert!(
            started.elapsed() < WAIT,
            "still there: {:?}",
            rows(data, &old)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = rows(data, &recent);
    assert!(
        left.values().all(|n| *n > 0),
        "the recent one stays: {left:?}"
    );
    app.stop().await;
}

#[test]
fn purge_and_visitor_commands_never_create_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("not-the-data-folder");
    for args in [
        &["purge"][..],
        &["visitor", "export", "3f2a1b"],
        &["visitor", "erase", "3f2a1b"],
    ] {
        let out = faqbot(args, &data, &[]);
        assert_fails_saying(&out, "there is no database at");
        assert_fails_saying(&out, "pass --data");
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
}

#[tokio::test]
async fn visitor_export_prints_everything_stored_about_one_conversation() {
    let app = spawn_app().await;
    let data = app.dir.path();
    let phone = "+33 6 12 12 12 12";
    let (_v, id) = visitor_with_everything(&app, "xyzzy blorp", phone).await;
    let (_other, _) = visitor_with_everything(&app, "plugh wibble", "+33 6 99 99 99 99").await;

    // As the console shows it: « Visiteur 3F2A1B ».
    let short = id[..6].to_uppercase();
    let out = faqbot(&["visitor", "export", &short], data, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let export: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(export["conversation"]["id"], id.as_str());
    let messages = export["messages"].as_array().expect("messages");
    let said: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap_or(""),
                m["text"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(said[0], ("visitor", "combien coûte le traitement ?"));
    assert!(
        said[1].0 == "bot" && said[1].1.contains("7 000"),
        "{said:?}"
    );
    assert_eq!(said[2], ("visitor", "xyzzy blorp"));
    assert!(
        !said.iter().any(|(_, t)| t.contains("plugh")),
        "only this one"
    );
    assert_eq!(export["contact_requests"][0]["phone"], phone);
    assert_eq!(export["handoffs"][0]["status"], "unavailable");
    assert_eq!(export["missed_questions"][0]["question"], "xyzzy blorp");
    assert_eq!(export["missed_questions"][0]["kind"], "fallback");

    let full = faqbot(&["visitor", "export", &id], data, &[]);
    let mut by_full: Value = serde_json::from_slice(&full.stdout).expect("JSON");
    by_full["exported_at"] = export["exported_at"].clone();
    assert_eq!(by_full, export, "the full id finds the same");

    let out = faqbot(&["visitor", "export", "ffffffffffff"], data, &[]);
    assert_fails_saying(&out, "there is no conversation `ffffffffffff`");
    let out = faqbot(&["visitor", "export", "ff"], data, &[]);
    assert_fails_saying(&out, "its first 6 characters or more");
    app.stop().await;
}

#[tokio::test]
async fn visitor_erase_removes_one_visitor_from_every_table_and_leaves_another() {
    let app = spawn_app().await;
    let data = app.dir.path();
    let (v, gone) = visitor_with_everything(&app, "xyzzy blorp", "+33 6 11 11 11 11").await;
    let (_w, stays) = visitor_with_everything(&app, "plugh wibble", "+33 6 22 22 22 22").await;
    v.close().await;
    let before = rows(data, &gone);
    let other = rows(data, &stays);
    assert!(before.values().all(|n| *n > 0), "{before:?}");

    let out = faqbot(&["visitor", "erase", &gone], data, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("erased conversation {gone}")),
        "{stdout}"
    );
    let removed = counts(&stdout);
    for (table, _) in TABLES {
        assert_eq!(
            removed.get(table),
            Some(&before[table]),
            "{table}: {stdout}"
        );
    }
    assert!(rows(data, &gone).values().all(|n| *n == 0));
    assert_eq!(rows(data, &stays), other, "the other visitor is untouched");

    let again = faqbot(&["visitor", "erase", &gone], data, &[]);
    assert_fails_saying(&again, "there is no conversation");
    app.stop().await;
}

#[tokio::test]
async fn an_advisor_erases_a_conversation_they_hold_and_the_visitor_is_disconnected() {
    let app = spawn_app().await;
    let data = app.dir.path();
    let mut alice = app.advisor(&app.add_advisor("Alice")).await;
    let mut bob = app.advisor(&app.add_advisor("Bob")).await;
    let mut v = app.visitor().await;
    let token = session(&v.recv().await);
    v.send(json!({"type": "contact", "name": "Zoé", "email": "zoe@example.org", "consent": true}))
        .await;
    v.recv_type("contact").await;
    v.ask("xyzzy blorp", "q1").await;
    v.send(json!({"type": "handoff"})).await;
    assert_eq!(v.recv_type("handoff").await["status"], "queued");
    let id = conversation_id(data, &token);
    alice
        .send(json!({"type": "claim", "conversation": id}))
        .await;
    alice.recv_type("transcript").await;
    assert!(rows(data, &id).values().all(|n| *n > 0));

    // Only the advisor holding it may erase it.
    bob.send(json!({"type": "erase", "conversation": id})).await;
    let refused = bob.recv_type("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["conversation"].as_str()),
        (Some("not_yours"), Some(id.as_str()))
    );
    assert_eq!(rows(data, &id)["conversations"], 1);

    alice
        .send(json!({"type": "erase", "conversation": id}))
        .await;
    assert_eq!(
        v.close_code().await,
        Some(4001),
        "the visitor's chat closes"
    );
    for advisor in [&mut alice, &mut bob] {
        let erased = advisor.recv_type("erased").await;
        assert_eq!(erased["conversation"], id.as_str());
        assert_eq!(erased["by"], "Alice");
    }
    assert!(rows(data, &id).values().all(|n| *n == 0), "nothing left");

    // The old session opens a new, empty conversation.
    let mut back = app
        .visitor_with(&format!("session={token}&last_seq=3"))
        .await;
    let welcome = back.recv().await;
    assert_ne!(session(&welcome), token);
    assert_eq!(welcome["history"], json!([]));
    alice
        .send(json!({"type": "erase", "conversation": id}))
        .await;
    assert_eq!(alice.recv_type("error").await["code"], "not_yours");
    app.stop().await;
}

/// What a visitor and an advisor write in the log test: distinctive enough that any copy of it
/// in the log is found.
const VISITOR_SAYS: &str = "Ma tante Eulalie Quincampoix prend du Zorbitol depuis mardi";
const ADVISOR_SAYS: &str = "Madame Quincampoix, rappelez-nous au sujet du Zorbitol";
const PHONE: &str = "+33 6 98 76 54 31";
const EMAIL: &str = "eulalie.quincampoix@example.org";

/// Runs a conversation with everything a visitor can send (and an advisor's answer) against
/// the real binary started with `env`, stops it, and returns its whole log.
async fn logged_conversation(env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().expect("temp dir");
    let token = add_advisor(data.path(), "Claire");
    let (mut child, addr, lines) = start_serve_logged(data.path(), &[], env);
    let mut advisor = connect(addr, "/ws/advisor", Some(&token)).await;
    advisor.recv_type("queue").await;
    let mut v = connect(addr, "/ws?page=%2Ftarifs", None).await;
    let session = session(&v.recv().await);
    v.ask(VISITOR_SAYS, "q1").await;
    // Refused frames quote what was sent back to the sender, never to the log.
    v.send(json!({"type": "choose", "faq_id": VISITOR_SAYS}))
        .await;
    v.recv_type("error").await;
    v.send(json!({"type": "contact", "name": "Eulalie", "phone": PHONE, "consent": VISITOR_SAYS}))
        .await;
    v.recv_type("error").await;
    v.send(json!({"type": "contact", "name": "Eulalie Quincampoix", "email": EMAIL, "phone": PHONE, "message": VISITOR_SAYS, "consent": true}))
        .await;
    v.recv_type("contact").await;
    v.send(json!({"type": "handoff"})).await;
    v.recv_type("handoff").await;
    let id = conversation_id(data.path(), &session);
    advisor
        .send(json!({"type": "claim", "conversation": id}))
        .await;
    advisor.recv_type("transcript").await;
    advisor
        .send(json!({"type": "message", "conversation": id, "text": ADVISOR_SAYS}))
        .await;
    v.recv_type("advisor_message").await;
    v.send(json!({"type": "message", "text": VISITOR_SAYS, "id": "q2"}))
        .await;
    advisor.recv_type("visitor_message").await;
    v.close().await;
    advisor.close().await;

    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(stopped.success());
    let status = child.wait().expect("the server stops");
    assert!(status.success(), "{status}");
    // The reader thread has the last lines once the pipe closes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = lines.lock().expect("log lines").join("\n");
    log
}

#[tokio::test]
async fn what_visitors_and_advisors_write_never_reaches_the_log_even_at_trace() {
    let log = logged_conversation(&[("RUST_LOG", "trace")]).await;
    assert!(
        log.contains("TRACE") && log.contains("visitor message"),
        "the log is at trace level and has the service's events: {} lines",
        log.lines().count()
    );
    for secret in [
        VISITOR_SAYS,
        "Quincampoix",
        "Zorbitol",
        ADVISOR_SAYS,
        PHONE,
        "98 76 54 31",
        EMAIL,
    ] {
        let at = log.find(secret);
        assert!(
            at.is_none(),
            "`{secret}` is in the log: {}",
            at.map(|i| &log[i.saturating_sub(300)..(i + 100).min(log.len())])
                .unwrap_or("")
        );
    }

    // The same scan finds the text once the operator asks for it.
    let log =
        logged_conversation(&[("RUST_LOG", "debug"), ("FAQBOT_PRIVACY__LOG_TEXT", "true")]).await;
    assert!(log.contains(VISITOR_SAYS), "log_text logs visitor text");
    assert!(log.contains(ADVISOR_SAYS), "log_text logs advisor text");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_database_and_its_wal_and_shm_files_are_owner_only() {
    let app = spawn_app().await;
    let mut v = app.visitor().await;
    v.recv().await;
    v.ask("combien coûte le traitement ?", "q1").await;
    let data = app.dir.path();
    for file in ["faqbot.db", "faqbot.db-wal", "faqbot.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    app.stop().await;

    // A database a former run left readable by all, with its log and index still there.
    let dir = tempfile::tempdir().expect("temp dir");
    let db_file = dir.path().join("faqbot.db");
    let former = rusqlite::Connection::open(&db_file).expect("create");
    former
        .pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    former
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .expect("write");
    for file in ["faqbot.db", "faqbot.db-wal", "faqbot.db-shm"] {
        let path = dir.path().join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    faqbot::store::SqliteStore::open(dir.path()).expect("open");
    for file in ["faqbot.db", "faqbot.db-wal", "faqbot.db-shm"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    drop(former);

    // A data folder it creates is its owner's only.
    let fresh = dir.path().join("new-data");
    faqbot::store::SqliteStore::open(&fresh).expect("open");
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("faqbot.db")), 0o600);
}
