//! The store's contract, one suite run on both backends: SQLite in a temporary folder and
//! PostgreSQL on the test cluster (`postgres.rs`). Each test is written once, against `Db` and
//! `Admin`, and instantiated for each backend by `contract!`.
//!
//! "Two nodes" here are two `Db`s started on the same data, as two `faqbot serve` processes
//! would be: what one commits the other must see and respect (numbering, claims, escalation).

use std::sync::{Arc, Mutex};

use faqbot::model::{
    Candidate, Card, Conversation, ConversationUpdate, EndStatus, HandoffChange, HandoffReason,
    Miss, MissKind, Mode, NewContact, NewMessage, Outcome, Sender, Turn,
};
use faqbot::store::{Admin, Applied, Db, Location, Opened, PgStore, SqliteStore, StoreError};
use futures_util::future::join_all;
use tempfile::TempDir;

#[derive(Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
}

/// What the `Deliver` callback was handed: (conversation, seqs, resent), in order.
type Deliveries = Arc<Mutex<Vec<(String, Vec<u64>, bool)>>>;

/// A store under test, and where its data is (to start a second node or open the commands').
struct Subject {
    db: Db,
    at: Location,
    delivered: Deliveries,
    _dir: Option<TempDir>,
}

async fn open(at: &Location) -> Opened {
    match at {
        Location::Sqlite(dir) => SqliteStore::open(dir).expect("open SQLite").into(),
        Location::Postgres(url) => PgStore::open(url).await.expect("open PostgreSQL").into(),
    }
}

/// A `Db` on `at` whose deliveries are recorded in `delivered`.
async fn node(at: &Location, delivered: &Deliveries) -> Db {
    let log = delivered.clone();
    Db::start(
        open(at).await,
        Arc::new(
            move |conversation: &str, frames: &[faqbot::store::StoredFrame], resent| {
                let seqs = frames.iter().map(|f| f.seq).collect();
                log.lock()
                    .expect("deliveries")
                    .push((conversation.to_owned(), seqs, resent));
            },
        ),
        Box::new(|_, _| {}),
    )
    .expect("start the store")
}

async fn subject(kind: Kind) -> Subject {
    let (at, dir) = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (Location::Sqlite(dir.path().to_owned()), Some(dir))
        }
        Kind::Postgres => (Location::Postgres(crate::postgres::database().await), None),
    };
    let delivered = Deliveries::default();
    Subject {
        db: node(&at, &delivered).await,
        at,
        delivered,
        _dir: dir,
    }
}

impl Subject {
    /// A second node on the same data, with deliveries of its own.
    async fn second_node(&self) -> (Db, Deliveries) {
        let delivered = Deliveries::default();
        (node(&self.at, &delivered).await, delivered)
    }

    /// Runs `f` on the commands' store, off the async runtime (it blocks).
    async fn admin<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Admin) -> Result<T, StoreError> + Send + 'static,
    ) -> T {
        let at = self.at.clone();
        tokio::task::spawn_blocking(move || {
            let mut admin = Admin::open(&at).expect("open the commands' store");
            f(&mut admin)
        })
        .await
        .expect("admin task")
        .expect("admin call")
    }

    async fn conversation(&self, id: &str) {
        self.db
            .create_conversation(
                id.into(),
                format!("hash-{id}"),
                "fr",
                Some("/tarifs".into()),
            )
            .await
            .expect("create a conversation");
    }

    fn deliveries(&self) -> Vec<(String, Vec<u64>, bool)> {
        self.delivered.lock().expect("deliveries").clone()
    }
}

/// A visitor's question `client_id` and the bot's reply `reply`, as a visitor turn stores them.
fn asked(conversation: &str, client_id: &str, reply: &str) -> Turn<String> {
    Turn {
        conversation: conversation.into(),
        client_id: Some(client_id.into()),
        messages: vec![
            NewMessage::visitor(format!("question {client_id}")),
            NewMessage {
                from: Sender::Bot,
                frame: Some(0),
                kind: Some("answer"),
                faq_id: Some("cout".into()),
                ..NewMessage::visitor(reply)
            },
        ],
        frames: vec![format!(r#"{{"type":"reply","text":"{reply}"}}"#)],
        ..Turn::default()
    }
}

fn card() -> Card {
    Card {
        reason: "asked".into(),
        last_question: Some("un humain".into()),
        candidates: Vec::new(),
        page: Some("/tarifs".into()),
        lang: "fr".into(),
    }
}

/// A turn that queues the conversation and tells the visitor so.
fn queued(conversation: &str) -> Turn<String> {
    Turn {
        conversation: conversation.into(),
        handoff: Some(HandoffChange::Open(card())),
        frames: vec![r#"{"type":"handoff","status":"queued"}"#.into()],
        ..Turn::default()
    }
}

fn handoff(conversation: &str, change: HandoffChange) -> Turn<String> {
    Turn {
        conversation: conversation.into(),
        handoff: Some(change),
        frames: vec![r#"{"type":"handoff"}"#.into()],
        ..Turn::default()
    }
}

fn seqs(frames: &[faqbot::store::StoredFrame]) -> Vec<u64> {
    frames.iter().map(|f| f.seq).collect()
}

fn done(applied: Applied) -> Vec<faqbot::store::StoredFrame> {
    match applied {
        Applied::Done { frames } => frames,
        other => panic!("expected Done, got {other:?}"),
    }
}

async fn frames_are_numbered_without_gaps_delivered_in_order_and_replayed(kind: Kind) {
    let s = subject(kind).await;
    s.conversation("c1").await;
    for (id, reply) in [("a", "r1"), ("b", "r2"), ("c", "r3")] {
        s.db.apply(asked("c1", id, reply)).await.expect("a turn");
    }
    // A turn of two frames: the reply, and a status no message keeps.
    let mut two = asked("c1", "d", "r4");
    two.frames.push(r#"{"type":"handoff"}"#.into());
    let frames = done(s.db.apply(two).await.expect("two frames"));
    assert_eq!(seqs(&frames), [4, 5]);

    let all = s.db.frames_after("c1", 0, 100).await.expect("all");
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all[2].payload, r#"{"type":"reply","text":"r3"}"#);
    assert_eq!(all[4].payload, r#"{"type":"handoff"}"#);
    assert_eq!(
        seqs(&s.db.frames_after("c1", 1, 2).await.expect("a page")),
        [2, 3]
    );
    assert!(s
        .db
        .frames_after("c1", 5, 100)
        .await
        .expect("none")
        .is_empty());

    let (conv, history, after) =
        s.db.view("c1", 3, Some(2), 100)
            .await
            .expect("view")
            .expect("the conversation");
    assert_eq!(conv.last_seq, 5);
    assert_eq!(conv.page.as_deref(), Some("/tarifs"));
    let texts: Vec<&str> = history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["r3", "question d", "r4"]);
    assert_eq!(seqs(&after), [3, 4, 5]);
    assert!(s
        .db
        .view("nope", 3, Some(0), 10)
        .await
        .expect("view")
        .is_none());

    let delivered = s.deliveries();
    let expected: Vec<(String, Vec<u64>, bool)> = vec![
        ("c1".into(), vec![1], false),
        ("c1".into(), vec![2], false),
        ("c1".into(), vec![3], false),
        ("c1".into(), vec![4, 5], false),
    ];
    assert_eq!(delivered, expected);
    let (messages, _) = s.db.transcript("c1").await.expect("transcript");
    assert_eq!(messages.len(), 8);
    assert_eq!(messages[0].from, Sender::Visitor);
    s.db.close().await.expect("close");
}

async fn a_message_id_sent_again_gets_its_own_frames_back_and_changes_nothing(kind: Kind) {
    let s = subject(kind).await;
    s.conversation("c1").await;
    s.db.apply(asked("c1", "a", "first")).await.expect("a");
    s.db.apply(asked("c1", "b", "second")).await.expect("b");
    match s.db.apply(asked("c1", "a", "other")).await.expect("again") {
        Applied::Duplicate { frames } => {
            assert_eq!(seqs(&frames), [1]);
            assert_eq!(frames[0].payload, r#"{"type":"reply","text":"first"}"#);
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    let conv = s.db.conversation("c1").await.expect("read").expect("there");
    assert_eq!(conv.last_seq, 2);
    let (messages, _) = s.db.transcript("c1").await.expect("transcript");
    assert_eq!(messages.len(), 4, "nothing stored twice");
    assert_eq!(
        s.deliveries().last(),
        Some(&("c1".to_owned(), vec![1], true)),
        "a resent id's frames are delivered again, marked resent"
    );
}

async fn seq_stays_gap_free_when_two_nodes_write_one_conversation(kind: Kind) {
    let s = subject(kind).await;
    let (other, _) = s.second_node().await;
    s.conversation("c1").await;
    let turns = (0..40).map(|i| {
        let db = if i % 2 == 0 {
            s.db.clone()
        } else {
            other.clone()
        };
        async move {
            db.apply(asked("c1", &format!("m{i}"), &format!("r{i}")))
                .await
        }
    });
    for result in join_all(turns).await {
        done(result.expect("a turn"));
    }
    let all = s.db.frames_after("c1", 0, 1000).await.expect("all");
    assert_eq!(seqs(&all), (1..=40).collect::<Vec<u64>>());
    let conv = other
        .conversation("c1")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(conv.last_seq, 40);
    other.close().await.expect("close");
}

/// Many conversations' turns sent at once share batches (PostgreSQL writes the plain ones with
/// one statement per table): each is numbered, stored and delivered as if alone, a resend
/// still gets its frames back, and a turn that cannot be stored fails alone.
async fn turns_of_many_conversations_at_once_are_each_stored_as_if_alone(kind: Kind) {
    let s = subject(kind).await;
    let ids: Vec<String> = (0..30).map(|i| format!("c{i:02}")).collect();
    for id in &ids {
        s.conversation(id).await;
    }
    let missed = |id: &str, client_id: &str| {
        let mut turn = asked(id, client_id, "je ne sais pas");
        turn.miss = Some(Miss {
            lang: "fr".into(),
            question: format!("question {client_id}"),
            terms: vec!["xyzzy".into()],
            kind: MissKind::Fallback,
            confidence: 0.0,
            candidates: Vec::new(),
            outcome: Outcome::None,
        });
        turn.update.last_question = Some(format!("question {client_id}"));
        turn
    };
    // First round: every conversation misses a question.
    let first = ids.iter().map(|id| s.db.apply(missed(id, "a")));
    for result in join_all(first).await {
        assert_eq!(seqs(&done(result.expect("a first turn"))), [1]);
    }
    // Second round, all at once: an answer that settles the miss, two turns on one
    // conversation, a resend, and a turn on a conversation that does not exist.
    let mut turns: Vec<Turn<String>> = ids
        .iter()
        .map(|id| {
            let mut turn = asked(id, "b", "voici");
            turn.outcome = Some(Outcome::AskedAgain);
            turn
        })
        .collect();
    turns.push(asked("c00", "c", "encore"));
    turns.push(asked("c01", "a", "autre chose"));
    turns.push(asked("ghost", "a", "personne"));
    let results = join_all(turns.into_iter().map(|t| s.db.apply(t))).await;
    let (resent, rest) = results.split_at(results.len() - 2);
    match &rest[0] {
        Ok(Applied::Duplicate { frames }) => {
            assert_eq!(seqs(frames), [1]);
            assert_eq!(
                frames[0].payload,
                r#"{"type":"reply","text":"je ne sais pas"}"#
            );
        }
        other => panic!("a resend gets its frames back, got {other:?}"),
    }
    assert!(rest[1].is_err(), "no conversation, no turn: {:?}", rest[1]);
    for result in resent {
        let frames = done(result.as_ref().expect("a second turn").clone());
        assert_eq!(frames.len(), 1);
    }

    for id in &ids {
        let frames = s.db.frames_after(id, 0, 100).await.expect("frames");
        let expected: Vec<u64> = if id == "c00" {
            vec![1, 2, 3]
        } else {
            vec![1, 2]
        };
        assert_eq!(seqs(&frames), expected, "{id}");
        let conv = s.db.conversation(id).await.expect("read").expect("there");
        assert_eq!(conv.last_seq, *expected.last().expect("a frame"), "{id}");
        assert_eq!(conv.last_question.as_deref(), Some("question a"), "{id}");
        let (messages, _) = s.db.transcript(id).await.expect("transcript");
        assert_eq!(
            messages.len(),
            expected.len() * 2,
            "{id}: nothing twice, nothing lost"
        );
    }
    let (misses, _) = s.db.misses_and_decisions(0).await.expect("report");
    assert_eq!(misses.len(), ids.len());
    assert!(
        misses.iter().all(|m| m.miss.outcome == Outcome::AskedAgain),
        "every miss got its outcome"
    );
    let mut per_conversation: std::collections::HashMap<String, Vec<u64>> = Default::default();
    for (conversation, seqs, _) in s.deliveries() {
        per_conversation
            .entry(conversation)
            .or_default()
            .extend(seqs);
    }
    for id in &ids {
        // c00 had two turns; c01's resent question got its frame again, after its answer.
        let expected: &[u64] = match id.as_str() {
            "c00" => &[1, 2, 3],
            "c01" => &[1, 2, 1],
            _ => &[1, 2],
        };
        let got = per_conversation.get(id).cloned().unwrap_or_default();
        assert_eq!(got, expected, "{id}: delivered in order");
    }
    s.db.close().await.expect("close");
}

/// A turn carries what it saw of its conversation ([`Turn::seen`]): the store applies it only
/// if the conversation is still so, and then leaves it as `Conversation::after` says (the
/// service keeps that for the next turn instead of reading it back).
async fn a_turn_applies_only_to_the_state_it_saw_and_leaves_what_after_says(kind: Kind) {
    let s = subject(kind).await;
    s.conversation("c1").await;
    let read = |db: Db| async move {
        let conv = db.conversation("c1").await.expect("read").expect("there");
        // The writer's clock, not the caller's.
        Conversation {
            last_active: 0,
            ..conv
        }
    };
    let mut first = asked("c1", "a", "voici");
    first.update = ConversationUpdate {
        lang: Some("en".into()),
        fallbacks: Some(2),
        offer_reason: Some(Some(HandoffReason::RepeatedFallback)),
        last_question: Some("how much".into()),
        last_candidates: Some(vec![Candidate {
            id: "cout".into(),
            is_intent: false,
            question: "Combien ?".into(),
            confidence: 0.5,
        }]),
        touch: true,
    };
    // A miss waits for what the visitor does next; the next turn records it as its outcome.
    first.miss = Some(Miss {
        lang: "en".into(),
        question: "how much".into(),
        terms: vec!["much".into()],
        kind: MissKind::Clarify,
        confidence: 0.5,
        candidates: Vec::new(),
        outcome: Outcome::None,
    });
    let mut cleared = asked("c1", "b", "encore");
    cleared.update.offer_reason = Some(None);
    cleared.outcome = Some(Outcome::Answered("cout".into()));
    let claim = HandoffChange::Claim {
        advisor: "Alice".into(),
    };
    let end = HandoffChange::End {
        advisor: "Alice".into(),
        status: EndStatus::Released,
    };
    let turns = [
        first,
        cleared,
        queued("c1"),
        handoff("c1", claim),
        asked("c1", "c", "pendant"),
        handoff("c1", end),
    ];
    let mut conv = read(s.db.clone()).await;
    assert!(!conv.awaiting_outcome, "a new conversation");
    let mut awaited = Vec::new();
    for mut turn in turns {
        turn.seen = Some(conv.seen());
        let expected = conv.after(&turn, conv.last_seq + turn.frames.len() as u64, 0);
        done(s.db.apply(turn).await.expect("a turn"));
        conv = read(s.db.clone()).await;
        assert_eq!(conv, expected);
        awaited.push(conv.awaiting_outcome);
    }
    assert_eq!(awaited, [true, false, false, false, false, false]);
    assert_eq!(conv.mode, Mode::Bot);
    assert_eq!(conv.fallbacks, 0, "an advisor's end starts the count again");

    // Another writer (here an advisor's claim after a queue) moves the conversation on: a turn
    // decided from before is refused, and changes nothing.
    let before = conv.seen();
    done(s.db.apply(queued("c1")).await.expect("queued"));
    let mut late = asked("c1", "d", "trop tard");
    late.seen = Some(before);
    assert_eq!(
        s.db.apply(late.clone()).await.expect("stale"),
        Applied::Stale
    );
    let after_queue = read(s.db.clone()).await;
    assert_eq!(after_queue.last_seq, before.last_seq + 1, "nothing stored");
    assert_eq!(after_queue.mode, Mode::Queued);
    // Decided again from what is stored, it goes through.
    late.seen = Some(after_queue.seen());
    done(s.db.apply(late).await.expect("again"));
    // A conversation that is gone: stale too.
    let mut ghost = asked("ghost", "a", "personne");
    ghost.seen = Some(before);
    assert_eq!(s.db.apply(ghost).await.expect("gone"), Applied::Stale);
    s.db.close().await.expect("close");
}

async fn a_claim_has_exactly_one_winner_even_from_two_nodes(kind: Kind) {
    let s = subject(kind).await;
    let (other, _) = s.second_node().await;
    s.conversation("c1").await;
    s.db.apply(queued("c1")).await.expect("queued");
    assert_eq!(s.db.queue_len().await.expect("len"), 1);
    let queue = other.queue().await.expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].conversation, "c1");
    assert_eq!(queue[0].card, card());

    let claim = |db: &Db, advisor: &str| {
        let db = db.clone();
        let turn = handoff(
            "c1",
            HandoffChange::Claim {
                advisor: advisor.into(),
            },
        );
        async move { db.apply(turn).await.expect("a claim") }
    };
    let (a, b) = tokio::join!(claim(&s.db, "Alice"), claim(&other, "Bob"));
    let (winner, loser) = match (&a, &b) {
        (Applied::Done { .. }, Applied::Conflict) => ("Alice", "Bob"),
        (Applied::Conflict, Applied::Done { .. }) => ("Bob", "Alice"),
        _ => panic!("exactly one claim must win: {a:?} / {b:?}"),
    };
    let conv = s.db.conversation("c1").await.expect("read").expect("there");
    assert_eq!(conv.advisor.as_deref(), Some(winner));
    assert_eq!(conv.mode, faqbot::model::Mode::Advisor);
    assert!(s.db.queue().await.expect("queue").is_empty());
    assert_eq!(s.db.assigned_to(winner).await.expect("held"), ["c1"]);
    assert!(s.db.assigned_to(loser).await.expect("held").is_empty());
    // Only the holder ends it.
    let end = |advisor: &str| {
        handoff(
            "c1",
            HandoffChange::End {
                advisor: advisor.into(),
                status: EndStatus::Released,
            },
        )
    };
    assert_eq!(
        other.apply(end(loser)).await.expect("end"),
        Applied::Conflict
    );
    done(other.apply(end(winner)).await.expect("end"));
    let conv = s.db.conversation("c1").await.expect("read").expect("there");
    assert_eq!(conv.mode, faqbot::model::Mode::Bot);
    assert_eq!(conv.last_seq, 3, "the loser's claim numbered nothing");
    other.close().await.expect("close");
}

async fn escalation_happens_once_and_visitors_who_left_leave_the_queue(kind: Kind) {
    let s = subject(kind).await;
    let (other, _) = s.second_node().await;
    for c in ["c1", "c2"] {
        s.conversation(c).await;
        s.db.apply(queued(c)).await.expect("queued");
    }
    let order: Vec<String> =
        s.db.queue()
            .await
            .expect("queue")
            .into_iter()
            .map(|h| h.conversation)
            .collect();
    assert_eq!(order, ["c1", "c2"]);
    let later = faqbot::clock::now_ms() + 1000;
    let (a, b) = tokio::join!(s.db.escalate(later), other.escalate(later));
    let mut escalated: Vec<String> = a
        .expect("escalate")
        .into_iter()
        .chain(b.expect("escalate"))
        .map(|h| {
            assert!(h.escalated);
            h.conversation
        })
        .collect();
    escalated.sort();
    assert_eq!(escalated, ["c1", "c2"], "each handoff escalated once");
    assert!(s.db.escalate(later).await.expect("again").is_empty());
    assert!(s
        .db
        .queue()
        .await
        .expect("queue")
        .iter()
        .all(|h| h.escalated));

    let quiet = s.db.quiet_in_queue(later).await.expect("quiet");
    assert_eq!(quiet, ["c1", "c2"]);
    assert_eq!(
        other.abandon(vec!["c1".into()]).await.expect("abandon"),
        ["c1"]
    );
    assert!(s
        .db
        .abandon(vec!["c1".into()])
        .await
        .expect("again")
        .is_empty());
    let left: Vec<String> =
        s.db.queue()
            .await
            .expect("queue")
            .into_iter()
            .map(|h| h.conversation)
            .collect();
    assert_eq!(left, ["c2"]);
    let c1 = s.db.conversation("c1").await.expect("read").expect("there");
    assert_eq!(c1.mode, faqbot::model::Mode::Bot);
    other.close().await.expect("close");
}

async fn contact_requests_become_leads_with_the_conversations_page(kind: Kind) {
    let s = subject(kind).await;
    s.conversation("c1").await;
    let turn = Turn {
        conversation: "c1".into(),
        contact: Some(NewContact {
            name: "Jeanne".into(),
            email: Some("j@example.org".into()),
            phone: None,
            message: Some("rappelez-moi".into()),
            consent: true,
        }),
        frames: vec![r#"{"type":"contact_saved"}"#.into()],
        ..Turn::default()
    };
    done(s.db.apply(turn).await.expect("contact"));
    let leads = s.db.leads().await.expect("leads");
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(lead.name, "Jeanne");
    assert_eq!(lead.email.as_deref(), Some("j@example.org"));
    assert!(lead.consent);
    assert_eq!(lead.conversation.as_deref(), Some("c1"));
    assert_eq!(lead.lang.as_deref(), Some("fr"));
    assert_eq!(lead.page.as_deref(), Some("/tarifs"));
    assert_eq!(s.admin(|a| a.leads()).await, leads);
}

async fn advisor_sessions_live_until_ended_expired_or_the_token_rotates(kind: Kind) {
    let s = subject(kind).await;
    let now = faqbot::clock::now_ms();
    s.admin(move |a| a.add_advisor("Alice", "support", "tok1", now))
        .await;
    let twice = tokio::task::spawn_blocking({
        let at = s.at.clone();
        move || Admin::open(&at)?.add_advisor("Alice", "advisor", "tok2", now)
    })
    .await
    .expect("task");
    assert!(
        matches!(twice, Err(StoreError::AdvisorExists(_))),
        "{twice:?}"
    );
    let alice = s.db.advisor_by_token("tok1").await.expect("read");
    assert_eq!(
        alice.map(|a| (a.name, a.role)),
        Some(("Alice".into(), "support".into()))
    );

    let hour = 3_600_000;
    let session = |hash: &str, expires: i64, replaces: Option<&str>| {
        s.db.create_session(
            hash.into(),
            "Alice".into(),
            now,
            expires,
            replaces.map(Into::into),
        )
    };
    session("s1", now + hour, None).await.expect("s1");
    assert!(s.db.advisor_by_session("s1").await.expect("s1").is_some());
    session("s2", now + hour, Some("s1")).await.expect("s2");
    assert!(
        s.db.advisor_by_session("s1").await.expect("s1").is_none(),
        "replaced"
    );
    assert_eq!(
        s.db.revoke_session("s2".into()).await.expect("revoke"),
        Some("Alice".into())
    );
    assert!(s.db.advisor_by_session("s2").await.expect("s2").is_none());
    assert_eq!(s.db.revoke_session("s2".into()).await.expect("again"), None);
    session("old", now - 1, None).await.expect("expired");
    assert!(s.db.advisor_by_session("old").await.expect("old").is_none());
    let nobody =
        s.db.create_session("s3".into(), "Nobody".into(), now, now + hour, None)
            .await;
    assert!(
        matches!(nobody, Err(StoreError::UnknownAdvisor(_))),
        "{nobody:?}"
    );

    session("s4", now + hour, None).await.expect("s4");
    let listed = s.admin(move |a| a.advisors(now)).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].live_sessions, 1);
    s.admin(|a| a.rotate_token("Alice", "tok3")).await;
    assert!(s.db.advisor_by_token("tok1").await.expect("old").is_none());
    assert!(s.db.advisor_by_token("tok3").await.expect("new").is_some());
    assert!(
        s.db.advisor_by_session("s4").await.expect("s4").is_none(),
        "a rotation ends the sessions"
    );
}

async fn removing_an_advisor_gives_their_conversations_back_to_the_bot(kind: Kind) {
    let s = subject(kind).await;
    let now = faqbot::clock::now_ms();
    s.admin(move |a| a.add_advisor("Alice", "advisor", "tok", now))
        .await;
    s.conversation("c1").await;
    s.db.apply(queued("c1")).await.expect("queued");
    let claim = HandoffChange::Claim {
        advisor: "Alice".into(),
    };
    done(s.db.apply(handoff("c1", claim)).await.expect("claim"));
    let released = s
        .admin(move |a| {
            a.remove_advisor("Alice", now, |c| {
                handoff(
                    c,
                    HandoffChange::End {
                        advisor: "Alice".into(),
                        status: EndStatus::Released,
                    },
                )
            })
        })
        .await;
    assert_eq!(released, ["c1"]);
    let conv = s.db.conversation("c1").await.expect("read").expect("there");
    assert_eq!(conv.mode, faqbot::model::Mode::Bot);
    assert_eq!(conv.last_seq, 3);
    assert!(s.db.advisor_by_token("tok").await.expect("gone").is_none());
}

async fn misses_erasure_and_purge_cover_every_linked_row(kind: Kind) {
    let s = subject(kind).await;
    s.conversation("c1").await;
    s.conversation("c2").await;
    let miss = Miss {
        lang: "fr".into(),
        question: "xyzzy".into(),
        terms: vec!["xyzzy".into()],
        kind: MissKind::Fallback,
        confidence: 0.0,
        candidates: Vec::new(),
        outcome: Outcome::None,
    };
    let mut missed = asked("c1", "a", "je ne sais pas");
    missed.miss = Some(miss);
    s.db.apply(missed).await.expect("missed");
    let mut next = asked("c1", "b", "voici");
    next.outcome = Some(Outcome::AskedAgain);
    s.db.apply(next).await.expect("next");
    s.db.apply(queued("c1")).await.expect("queued");

    let (misses, decisions) = s.db.misses_and_decisions(0).await.expect("report");
    assert_eq!(misses.len(), 1);
    assert_eq!(misses[0].miss.question, "xyzzy");
    assert_eq!(misses[0].miss.outcome, Outcome::AskedAgain);
    assert_eq!(decisions.kinds, [("answer".to_owned(), 2)]);
    assert_eq!(decisions.entries, [("cout".to_owned(), 2, 0)]);
    assert_eq!(decisions.conversations, 1);
    assert_eq!(decisions.handoff_requests, 1);
    assert_eq!(
        s.admin(|a| a.misses_and_decisions(0)).await,
        (misses, decisions)
    );

    let record = s.admin(|a| a.visitor_record("c1")).await.expect("a record");
    assert_eq!(record.messages.len(), 4);
    assert_eq!(record.handoffs.len(), 1);
    assert_eq!(record.misses.len(), 1);
    assert_eq!(
        s.admin(|a| a.conversations_starting("c", 5)).await,
        ["c1", "c2"]
    );

    // Only the advisor holding a conversation erases it from the console.
    assert_eq!(
        s.db.erase_held("c1", "Alice").await.expect("not held"),
        None
    );
    let claim = HandoffChange::Claim {
        advisor: "Alice".into(),
    };
    done(s.db.apply(handoff("c1", claim)).await.expect("claim"));
    let later = faqbot::clock::now_ms() + 1000;
    assert_eq!(s.db.kept_in_chat(later).await.expect("kept"), 1);
    let removed =
        s.db.erase_held("c1", "Alice")
            .await
            .expect("erase")
            .expect("removed");
    assert_eq!(
        (
            removed.conversations,
            removed.messages,
            removed.misses,
            removed.handoffs
        ),
        (1, 4, 1, 1)
    );
    assert_eq!(removed.frames, 2, "the two handoff frames no message keeps");
    assert!(s.db.conversation("c1").await.expect("read").is_none());

    // The purge takes what is idle past the cutoff, a batch at a time.
    let ids = s.db.purgeable(later, "").await.expect("purgeable");
    assert_eq!(ids, ["c2"]);
    let (removed, gone) = s.db.purge_conversations(ids, later).await.expect("purge");
    assert_eq!((removed.conversations, gone), (1, vec!["c2".to_owned()]));
    let purged = s.admin(move |a| a.purge(later)).await;
    assert_eq!(purged.removed.total(), 0, "nothing left to purge");
    assert!(s.db.purgeable(later, "").await.expect("none").is_empty());
}

/// Each contract test, once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Kind::Postgres).await
                }
            )*
        }
    };
}

contract!(
    frames_are_numbered_without_gaps_delivered_in_order_and_replayed,
    a_message_id_sent_again_gets_its_own_frames_back_and_changes_nothing,
    seq_stays_gap_free_when_two_nodes_write_one_conversation,
    turns_of_many_conversations_at_once_are_each_stored_as_if_alone,
    a_turn_applies_only_to_the_state_it_saw_and_leaves_what_after_says,
    a_claim_has_exactly_one_winner_even_from_two_nodes,
    escalation_happens_once_and_visitors_who_left_leave_the_queue,
    contact_requests_become_leads_with_the_conversations_page,
    advisor_sessions_live_until_ended_expired_or_the_token_rotates,
    removing_an_advisor_gives_their_conversations_back_to_the_bot,
    misses_erasure_and_purge_cover_every_linked_row,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_starting_together_migrate_once_and_commands_never_create_the_schema() {
    let url = crate::postgres::database().await;
    let at = Location::Postgres(url.clone());
    // A command that must not create anything refuses an empty database, saying why.
    let empty = {
        let at = at.clone();
        tokio::task::spawn_blocking(move || Admin::open_existing(&at).err())
            .await
            .expect("task")
    };
    assert!(
        matches!(empty, Some(StoreError::NoPgDatabase(_))),
        "{empty:?}"
    );
    let opens = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PgStore::open(&url).await })
    });
    for opened in join_all(opens).await {
        opened.expect("task").expect("every node starts");
    }
    tokio::task::spawn_blocking(move || Admin::open_read_only(&at).map(drop))
        .await
        .expect("task")
        .expect("the schema is there and current");
}

/// The real `faqbot` with `args`, its database given by the variable (as the Dockerfile does).
fn faqbot(args: &[&str], url: &str) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(args)
        .env("FAQBOT_STORAGE__DATABASE_URL", url)
        .env_remove("FAQBOT_PRIVACY__RETENTION_DAYS")
        .output()
        .expect("faqbot runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_data_commands_work_on_a_database_url() {
    let s = subject(Kind::Postgres).await;
    let Location::Postgres(url) = s.at.clone() else {
        unreachable!("a PostgreSQL subject")
    };
    let id = "abc123def456";
    s.conversation(id).await;
    let mut turn = asked(id, "a", "je ne sais pas");
    turn.miss = Some(Miss {
        lang: "fr".into(),
        question: "xyzzy plugh".into(),
        terms: vec!["xyzzy".into()],
        kind: MissKind::Fallback,
        confidence: 0.0,
        candidates: Vec::new(),
        outcome: Outcome::None,
    });
    turn.contact = Some(NewContact {
        name: "Jeanne".into(),
        email: None,
        phone: Some("0601020304".into()),
        message: None,
        consent: true,
    });
    s.db.apply(turn).await.expect("a turn");

    let run = |args: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || faqbot(args, &url))
    };
    let (ok, out, err) = run(&["advisor", "add", "Alice"]).await.expect("task");
    assert!(ok, "{err}");
    assert!(!out.contains("postgres://postgres:"), "no password shown");
    let (ok, out, _) = run(&["advisor", "list"]).await.expect("task");
    assert!(ok && out.contains("Alice"), "{out}");
    let (ok, out, _) = run(&["leads"]).await.expect("task");
    assert!(ok && out.contains("Jeanne") && out.contains(id), "{out}");
    let (ok, out, _) = run(&["report"]).await.expect("task");
    assert!(ok && out.contains("xyzzy plugh"), "{out}");
    let (ok, out, _) = run(&["visitor", "export", "abc123"]).await.expect("task");
    assert!(
        ok && out.contains(id) && out.contains("question a") && out.contains("Jeanne"),
        "{out}"
    );
    let (ok, out, _) = run(&["purge", "--days", "1"]).await.expect("task");
    assert!(ok && out.contains("conversations"), "{out}");
    let (ok, out, err) = run(&["visitor", "erase", "abc123"]).await.expect("task");
    assert!(ok, "{err}");
    assert!(out.contains("erased conversation abc123def456"), "{out}");
    assert!(s.db.conversation(id).await.expect("read").is_none());
    let (ok, _, err) = run(&["advisor", "rotate", "Nobody"]).await.expect("task");
    assert!(!ok && err.contains("--database"), "{err}");
}

/// A visitor's message resent to this node while another node is still committing it (held
/// here by a transaction of our own): once the lock is free, this node must find it stored and
/// answer with its frames, not fail on the unique index nor store it twice. Both ways to the
/// writer: a plain turn (written with the batch's statements) and a turn with a handoff (one by
/// one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_resend_committed_by_another_node_while_waiting_is_found() {
    let s = subject(Kind::Postgres).await;
    let Location::Postgres(url) = s.at.clone() else {
        unreachable!("a PostgreSQL subject")
    };
    let (mut other, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    for (conversation, plain) in [("c1", true), ("c2", false)] {
        s.conversation(conversation).await;
        let tx = other.transaction().await.expect("begin");
        tx.execute(
            "SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE",
            &[&conversation],
        )
        .await
        .expect("lock");
        tx.execute(
            "INSERT INTO messages (conversation_id, at, sender, text, client_id, seq, frame, reply_to)
             VALUES ($1, 0, 'visitor', 'question a', 'a', 0, NULL, NULL),
                    ($1, 0, 'bot', 'voici', NULL, 1, '{\"type\":\"reply\"}', 'a')",
            &[&conversation],
        )
        .await
        .expect("the other node's row");
        tx.execute(
            "UPDATE conversations SET last_seq = 1 WHERE id = $1",
            &[&conversation],
        )
        .await
        .expect("its seq");
        let mut turn = asked(conversation, "a", "voici");
        if !plain {
            turn.handoff = Some(HandoffChange::Open(card()));
        }
        let db = s.db.clone();
        let resent = tokio::spawn(async move { db.apply(turn).await });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!resent.is_finished(), "it waits for the lock");
        tx.commit().await.expect("commit");
        match resent.await.expect("task").expect("the resend") {
            Applied::Duplicate { frames } => assert_eq!(seqs(&frames), [1], "{conversation}"),
            other => panic!("{conversation}: expected Duplicate, got {other:?}"),
        }
        let rows: i64 = other
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE conversation_id = $1",
                &[&conversation],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(rows, 2, "{conversation}: stored once");
    }
    s.db.close().await.expect("close");
}
