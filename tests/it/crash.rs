//! A real `faqbot serve` process killed with SIGKILL mid-conversation and restarted on the same
//! data folder: every frame a client received before the kill is still there, byte for byte.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::time::timeout;

use crate::helpers::{add_advisor, connect, session, start_serve, Client, QUIET, WAIT};

/// A `faqbot serve` process; killed when dropped, so a failing test leaves no server behind.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Kills the process with SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the killed server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `faqbot serve` on a free port with the repository's knowledge.
fn start(data: &Path) -> Server {
    let (child, addr) = start_serve(data, &[], &[]);
    Server { child, addr }
}

#[tokio::test]
async fn sigkill_mid_conversation_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("dir");
    let token = add_advisor(dir.path(), "Alice");
    let mut server = start(dir.path());
    let addr = server.addr;

    let mut a = connect(addr, "/ws/advisor", Some(&token)).await;
    a.recv_type("queue").await;
    let mut v = connect(addr, "/ws", None).await;
    let visitor = session(&v.recv().await);
    let mut received = Vec::new();
    for (i, q) in ["combien ça coûte ?", "où est la clinique ?", "xyzzy"]
        .iter()
        .enumerate()
    {
        received.push(v.ask(q, &format!("m{i}")).await);
    }
    v.send(json!({"type": "handoff"})).await;
    received.push(v.recv_type("handoff").await);
    let conv = a.alerted().await;
    a.send(json!({"type": "claim", "conversation": conv})).await;
    a.recv_type("transcript").await;
    received.push(v.recv_type("handoff").await);
    a.send(json!({"type": "message", "conversation": conv, "text": "Bonjour !"}))
        .await;
    received.push(v.recv_type("advisor_message").await);
    // Sent but not waited for: may or may not survive; must not break what came before.
    v.send(json!({"type": "message", "text": "merci", "id": "last"}))
        .await;

    server.sigkill();

    let server = start(dir.path());
    let addr = server.addr;
    let mut back = connect(addr, &format!("/ws?session={visitor}&last_seq=0"), None).await;
    let welcome = back.recv().await;
    assert_eq!(welcome["mode"], "advisor");
    for expected in &received {
        let got = back.recv().await;
        assert_eq!(&got, expected, "replayed frame differs");
    }
    let history = welcome["history"].as_array().expect("history");
    assert!(
        history.len() >= 7,
        "3 questions, 3 replies, 1 advisor message: {history:?}"
    );
    let mut a = connect(addr, "/ws/advisor", Some(&token)).await;
    let transcript = a.recv_type("transcript").await;
    assert_eq!(transcript["conversation"], conv.as_str());
    drop(server);
}

/// Visitors talking at once when the server is killed.
const VISITORS: usize = 50;
/// The server is killed once the visitors have received this many replies in total…
const KILL_AT_REPLIES: usize = 200;
/// …or after this long, whichever comes first.
const KILL_AFTER: Duration = Duration::from_secs(3);
/// Longest a whole phase (connecting everyone, winding down, replaying everyone) may take.
const PHASE: Duration = Duration::from_secs(60);

/// What the visitors ask, in turn: FAQ questions, a typo'd one, and one the FAQ cannot answer.
const QUESTIONS: [&str; 7] = [
    "combien ça coûte ?",
    "c'est quoi la cirrhose ?",
    "où est la clinique ?",
    "Vous soignez l'hépatite ?",
    "quel temps fera-t-il demain à Tokyo ?",
    "mode d'action des cellules souches ?",
    "quel est l'utilitée du foie pour l'organisme ?",
];

/// What one visitor saw before the kill.
#[derive(Default)]
struct Seen {
    /// Every frame with a `seq`, in the order received.
    frames: Vec<(u64, Value)>,
    /// `error` frames (not part of the conversation).
    errors: usize,
}

/// Visitor `v` asks question after question, each with a unique id, waiting for the reply to
/// each, until its connection dies; `replies` counts the numbered frames all visitors received.
async fn keep_asking(mut client: Client, v: usize, replies: Arc<AtomicUsize>) -> Seen {
    let mut seen = Seen::default();
    for n in 0usize.. {
        let id = format!("v{v}-m{n}");
        let text = QUESTIONS[(v + n) % QUESTIONS.len()];
        if !client
            .try_send(json!({"type": "message", "text": text, "id": id}))
            .await
        {
            break;
        }
        // Frames until the reply to this message (or an error frame answering it).
        loop {
            let Some(frame) = client.next_within(WAIT).await else {
                return seen;
            };
            if let Some(seq) = frame["seq"].as_u64() {
                seen.frames.push((seq, frame.clone()));
                replies.fetch_add(1, Ordering::Relaxed);
            }
            if frame["type"] == "error" {
                seen.errors += 1;
                break;
            }
            if frame["type"] == "reply" && frame["reply_to"] == id.as_str() {
                break;
            }
        }
    }
    seen
}

/// What a restarted server has for one conversation.
struct Replay {
    /// The welcome's `seq` on a plain resume (no `last_seq`): the last seq stored.
    last: u64,
    /// The frames replayed after `last_seq=0`, at most `last` of them.
    frames: Vec<Value>,
    /// A frame that came after those `last` (there should be none).
    extra: Option<Value>,
}

/// Resumes the conversation of `token` twice: once without `last_seq` to learn the last seq
/// stored (with `last_seq=N` the welcome's `seq` echoes N, so `last_seq=0` would say 0), then
/// with `last_seq=0` to have every stored frame replayed.
async fn replay(addr: SocketAddr, token: &str) -> Replay {
    let mut plain = connect(addr, &format!("/ws?session={token}"), None).await;
    let welcome = plain.recv().await;
    assert_eq!(session(&welcome), token, "resumed, not a new conversation");
    let last = welcome["seq"].as_u64().expect("welcome seq");
    plain.close().await;

    let mut full = connect(addr, &format!("/ws?session={token}&last_seq=0"), None).await;
    assert_eq!(
        session(&full.recv().await),
        token,
        "resumed with last_seq=0"
    );
    let mut frames = Vec::new();
    while (frames.len() as u64) < last {
        match full.next_within(WAIT).await {
            Some(f) => frames.push(f),
            None => break,
        }
    }
    let extra = full.next_within(QUIET).await;
    full.close().await;
    Replay {
        last,
        frames,
        extra,
    }
}

#[tokio::test]
async fn fifty_visitors_sigkilled_mid_conversation_replay_every_reply_they_saw_without_gaps() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("dir");
    let mut server = start(dir.path());
    let addr = server.addr;

    let clients = timeout(
        PHASE,
        join_all((0..VISITORS).map(|_| async move {
            let mut client = connect(addr, "/ws", None).await;
            let welcome = client.recv().await;
            assert_eq!(welcome["seq"], 0, "a new conversation: {welcome}");
            (session(&welcome), client)
        })),
    )
    .await
    .expect("50 visitors connect in time");
    let replies = Arc::new(AtomicUsize::new(0));
    let mut tokens = Vec::with_capacity(VISITORS);
    let mut talking = Vec::with_capacity(VISITORS);
    for (v, (token, client)) in clients.into_iter().enumerate() {
        tokens.push(token);
        talking.push(tokio::spawn(keep_asking(client, v, replies.clone())));
    }

    let talk_started = Instant::now();
    while replies.load(Ordering::Relaxed) < KILL_AT_REPLIES && talk_started.elapsed() < KILL_AFTER {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_kill = replies.load(Ordering::Relaxed);
    let talked = talk_started.elapsed();
    server.sigkill();
    let seen: Vec<Seen> = timeout(PHASE, join_all(talking))
        .await
        .expect("the visitors notice the kill in time")
        .into_iter()
        .map(|r| r.expect("visitor task"))
        .collect();

    let server = start(dir.path());
    let replays = timeout(
        PHASE,
        join_all(tokens.iter().map(|token| replay(server.addr, token))),
    )
    .await
    .expect("every conversation is replayed in time");
    drop(server);

    let total_seen: usize = seen.iter().map(|s| s.frames.len()).sum();
    let total_stored: u64 = replays.iter().map(|r| r.last).sum();
    let errors: usize = seen.iter().map(|s| s.errors).sum();
    let with_replies = seen.iter().filter(|s| !s.frames.is_empty()).count();
    eprintln!(
        "{VISITORS} visitors talked {talked:?}, killed at {at_kill} replies: {total_seen} replies \
         seen by {with_replies} visitors, {total_stored} frames stored and replayed, \
         {errors} error frames, {:?} in all",
        started.elapsed()
    );
    assert!(total_seen > 0, "no visitor got a reply before the kill");

    for (v, (seen, replay)) in seen.iter().zip(&replays).enumerate() {
        let seqs: Vec<Option<u64>> = replay.frames.iter().map(|f| f["seq"].as_u64()).collect();
        let expected: Vec<Option<u64>> = (1..=replay.last).map(Some).collect();
        assert_eq!(
            seqs, expected,
            "visitor {v}: the replay is numbered 1..={} without gap or duplicate",
            replay.last
        );
        assert!(
            replay.extra.is_none(),
            "visitor {v}: a frame beyond the last stored seq {}: {:?}",
            replay.last,
            replay.extra
        );
        let live: Vec<u64> = seen.frames.iter().map(|(seq, _)| *seq).collect();
        let prefix: Vec<u64> = (1..=live.len() as u64).collect();
        assert_eq!(
            live, prefix,
            "visitor {v}: frames seen live, in order from 1"
        );
        for (seq, frame) in &seen.frames {
            let stored = usize::try_from(*seq - 1)
                .ok()
                .and_then(|i| replay.frames.get(i));
            assert_eq!(
                stored,
                Some(frame),
                "visitor {v}: seq {seq} was seen before the kill but is not replayed as seen"
            );
        }
    }
}
