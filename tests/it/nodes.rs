//! Two real `faqbot serve` processes on one throwaway PostgreSQL database, with real WebSocket
//! clients: a visitor on one node and an advisor on the other talk both ways, a claim race from
//! both nodes has one winner, escalation happens once, and the visitors of a node killed with
//! SIGKILL resume on the other and get exactly the frames they missed.

use std::net::SocketAddr;
use std::process::Child;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{connect, session, start_serve, Client, QUIET, WAIT};

/// A `faqbot serve` process on the test database; killed when dropped.
struct Node {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(url: &str, env: &[(&str, &str)]) -> Node {
        // A data folder of its own that stays empty: the database is PostgreSQL.
        let dir = tempfile::tempdir().expect("dir");
        let (child, addr) = start_serve(dir.path(), &["--database".as_ref(), url.as_ref()], env);
        Node {
            child,
            addr,
            _dir: dir,
        }
    }

    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL the node");
        self.child.wait().expect("reap the killed node");
    }

    async fn visitor(&self, query: &str) -> Client {
        connect(self.addr, &format!("/ws?{query}"), None).await
    }

    async fn advisor(&self, token: &str) -> Client {
        let mut a = connect(self.addr, "/ws/advisor", Some(token)).await;
        a.recv_type("queue").await;
        a
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `faqbot advisor add NAME --database URL`: the token, alone on the last line.
fn add_advisor(url: &str, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["advisor", "add", name, "--database", url])
        .output()
        .expect("run faqbot advisor add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .last()
        .expect("a token line")
        .trim()
        .to_owned()
}

/// A new visitor on `node` who asks a question then presses the advisor button: the client,
/// its session token, and the `seq` of every frame it got.
async fn queued_visitor(node: &Node) -> (Client, String, Vec<u64>) {
    let mut v = node.visitor("page=%2Ftarifs&lang=fr").await;
    let token = session(&v.recv().await);
    let reply = v.ask("combien ça coûte ?", "q1").await;
    v.send(json!({"type": "handoff"})).await;
    let status = v.recv_type("handoff").await;
    assert_eq!(status["status"], "queued", "{status}");
    let seqs = [&reply, &status]
        .iter()
        .map(|f| f["seq"].as_u64().expect("seq"))
        .collect();
    (v, token, seqs)
}

/// The advisor claims the next conversation they are alerted to; returns its id.
async fn claims_next(advisor: &mut Client) -> String {
    let conv = advisor.alerted().await;
    advisor
        .send(json!({"type": "claim", "conversation": conv}))
        .await;
    advisor.recv_type("transcript").await;
    conv
}

/// Frames until none comes for a while.
async fn drain(c: &mut Client) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Some(f) = c.next_within(QUIET * 2).await {
        frames.push(f);
    }
    frames
}

#[tokio::test]
async fn a_visitor_on_one_node_and_an_advisor_on_the_other_talk_both_ways() {
    let url = crate::postgres::database().await;
    let token = add_advisor(&url, "Alice");
    let (a_node, b_node) = (Node::start(&url, &[]), Node::start(&url, &[]));
    let mut alice = b_node.advisor(&token).await;

    let (mut v, _, mut seqs) = queued_visitor(&a_node).await;
    // The handoff opened on A reaches the console on B: the alert, and the queue.
    let conv = alice.alerted().await;
    while alice.queue.len() != 1 {
        alice.recv().await;
    }
    assert_eq!(alice.queue[0]["id"], conv.as_str());

    alice
        .send(json!({"type": "claim", "conversation": conv}))
        .await;
    alice.recv_type("transcript").await;
    let assigned = v.recv_type("handoff").await;
    assert_eq!(
        (&assigned["status"], &assigned["advisor"]),
        (&json!("assigned"), &json!("Alice"))
    );
    seqs.push(assigned["seq"].as_u64().expect("seq"));

    for text in ["Bonjour, je suis Alice.", "Que puis-je pour vous ?"] {
        alice
            .send(json!({"type": "message", "conversation": conv, "text": text}))
            .await;
        let got = tokio::time::timeout(WAIT, v.recv_type("advisor_message"))
            .await
            .expect("the advisor's message reaches the visitor on the other node");
        assert_eq!(got["text"], text);
        seqs.push(got["seq"].as_u64().expect("seq"));
    }
    v.send(json!({"type": "message", "text": "Merci, une question sur le tarif", "id": "q2"}))
        .await;
    let forwarded = alice.recv_type("visitor_message").await;
    assert_eq!(forwarded["conversation"], conv.as_str());
    assert_eq!(forwarded["text"], "Merci, une question sur le tarif");
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "one conversation's frames, numbered by two nodes, without a gap"
    );
}

#[tokio::test]
async fn a_claim_race_from_both_nodes_has_exactly_one_winner() {
    let url = crate::postgres::database().await;
    let (ta, tb) = (add_advisor(&url, "Alice"), add_advisor(&url, "Bob"));
    let nodes = [Node::start(&url, &[]), Node::start(&url, &[])];
    let mut alice = nodes[0].advisor(&ta).await;
    let mut bob = nodes[1].advisor(&tb).await;
    for round in 0..4 {
        let (mut v, _, _) = queued_visitor(&nodes[round % 2]).await;
        let conv = alice.alerted().await;
        assert_eq!(bob.alerted().await, conv, "both consoles are alerted");
        let claim = json!({"type": "claim", "conversation": conv});
        alice.send(claim.clone()).await;
        bob.send(claim).await;
        // Each console gets its answer (transcript or refusal) and who won, in either order.
        let mut wins = Vec::new();
        let mut told = Vec::new();
        for (name, c) in [("Alice", &mut alice), ("Bob", &mut bob)] {
            let (mut answered, mut claimed) = (false, false);
            while !(answered && claimed) {
                let f = c.recv().await;
                match f["type"].as_str() {
                    Some("transcript") => {
                        wins.push(name);
                        answered = true;
                    }
                    Some("error") => {
                        assert_eq!(f["code"], "already_claimed", "{f}");
                        answered = true;
                    }
                    Some("claimed") => {
                        told.push(f["by"].as_str().unwrap_or("").to_owned());
                        claimed = true;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(wins.len(), 1, "round {round}: winners {wins:?}");
        assert_eq!(told, [wins[0], wins[0]], "both consoles learn who won");
        let assigned = v.recv_type("handoff").await;
        assert_eq!(assigned["advisor"], wins[0]);
        // Both consoles end with the same (empty) queue.
        while !alice.queue.is_empty() {
            alice.recv().await;
        }
        while !bob.queue.is_empty() {
            bob.recv().await;
        }
    }
}

#[tokio::test]
async fn an_unclaimed_handoff_is_escalated_once_whichever_node_looks_first() {
    use axum::routing::post;
    use axum::Json;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let hook = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, hook).await;
    });

    let url = crate::postgres::database().await;
    let (ta, tb) = (add_advisor(&url, "Alice"), add_advisor(&url, "Bob"));
    let env = [
        ("FAQBOT_HANDOFF__ESCALATE_AFTER_SECS", "1"),
        ("FAQBOT_HANDOFF__WEBHOOK_URL", hook_url.as_str()),
    ];
    let nodes = [Node::start(&url, &env), Node::start(&url, &env)];
    let mut alice = nodes[0].advisor(&ta).await;
    let mut bob = nodes[1].advisor(&tb).await;
    let (_v, _, _) = queued_visitor(&nodes[0]).await;

    for c in [&mut alice, &mut bob] {
        let alerts: Vec<Value> = frames_for(c, Duration::from_secs(3))
            .await
            .into_iter()
            .filter(|f| f["type"] == "alert")
            .collect();
        let kinds: Vec<&str> = alerts
            .iter()
            .map(|f| f["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["new", "escalated"], "one of each on each console");
        assert!(c.queue[0]["escalated"] == true, "{:?}", c.queue);
    }
    let mut events = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
        events.push(e["event"].as_str().unwrap_or("").to_owned());
    }
    assert_eq!(events, ["handoff", "escalation"], "each posted once");
}

/// Every frame that comes within `time` (the escalation is due after 1 s, checked every 250 ms).
async fn frames_for(c: &mut Client, time: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    let until = tokio::time::Instant::now() + time;
    while tokio::time::Instant::now() < until {
        if let Some(f) = c.next_within(Duration::from_millis(200)).await {
            frames.push(f);
        }
    }
    frames
}

/// Every numbered frame a visitor has seen, in order.
struct Visitor {
    client: Client,
    token: String,
    frames: Vec<Value>,
}

#[tokio::test]
async fn visitors_of_a_killed_node_resume_on_the_other_with_exactly_the_frames_they_missed() {
    let url = crate::postgres::database().await;
    let token = add_advisor(&url, "Alice");
    let mut a_node = Node::start(&url, &[]);
    let b_node = Node::start(&url, &[]);
    let mut alice = b_node.advisor(&token).await;

    // Visitors on A, one of them talking with the advisor on B.
    let mut visitors = Vec::new();
    for i in 0..6 {
        let mut client = a_node.visitor("lang=fr").await;
        let token = session(&client.recv().await);
        let mut frames = Vec::new();
        for (k, q) in ["combien ça coûte ?", "où est la clinique ?"]
            .iter()
            .enumerate()
        {
            frames.push(client.ask(q, &format!("v{i}m{k}")).await);
        }
        visitors.push(Visitor {
            client,
            token,
            frames,
        });
    }
    let held = &mut visitors[0];
    held.client.send(json!({"type": "handoff"})).await;
    let queued = held.client.recv_type("handoff").await;
    assert_eq!(queued["status"], "queued", "{queued}");
    held.frames.push(queued);
    let conv = claims_next(&mut alice).await;
    held.frames.push(held.client.recv_type("handoff").await);

    a_node.sigkill();
    // While A is gone: the advisor on B writes, and nobody on A can receive it.
    for text in ["Vous êtes toujours là ?", "Je vous rappelle."] {
        alice
            .send(json!({"type": "message", "conversation": conv, "text": text}))
            .await;
    }
    alice.send_text("{").await;
    alice.recv_type("error").await;

    for (i, v) in visitors.iter_mut().enumerate() {
        let seen = v
            .frames
            .last()
            .and_then(|f| f["seq"].as_u64())
            .expect("seq");
        let mut back = b_node
            .visitor(&format!("session={}&last_seq={seen}", v.token))
            .await;
        let welcome = back.recv().await;
        assert_eq!(welcome["type"], "welcome");
        let missed = drain(&mut back).await;
        let texts: Vec<&str> = missed.iter().filter_map(|f| f["text"].as_str()).collect();
        if i == 0 {
            assert_eq!(texts, ["Vous êtes toujours là ?", "Je vous rappelle."]);
        } else {
            assert!(missed.is_empty(), "visitor {i} missed nothing: {missed:?}");
        }
        let missed_seqs: Vec<u64> = missed.iter().filter_map(|f| f["seq"].as_u64()).collect();
        assert_eq!(
            missed_seqs,
            (seen + 1..=seen + missed.len() as u64).collect::<Vec<_>>()
        );
        // From the start: what it saw on A, byte for byte, then what it missed.
        let mut again = b_node
            .visitor(&format!("session={}&last_seq=0", v.token))
            .await;
        again.recv().await;
        let all = drain(&mut again).await;
        let expected: Vec<&Value> = v.frames.iter().chain(missed.iter()).collect();
        assert_eq!(all.iter().collect::<Vec<_>>(), expected, "visitor {i}");
    }
}

#[tokio::test]
async fn an_erasure_or_an_advisor_removal_on_one_node_reaches_the_visitor_on_the_other() {
    let url = crate::postgres::database().await;
    let (ta, tb) = (add_advisor(&url, "Alice"), add_advisor(&url, "Bob"));
    let (a_node, b_node) = (Node::start(&url, &[]), Node::start(&url, &[]));
    let mut alice = b_node.advisor(&ta).await;
    let mut bob = a_node.advisor(&tb).await;

    // Alice, on B, erases a conversation whose visitor is on A: the visitor is disconnected
    // (4001) and Bob, on A, is told.
    let (mut v, _, _) = queued_visitor(&a_node).await;
    let conv = claims_next(&mut alice).await;
    alice
        .send(json!({"type": "erase", "conversation": conv}))
        .await;
    assert_eq!(v.close_code().await, Some(4001));
    let erased = bob.recv_type("erased").await;
    assert_eq!(
        (&erased["conversation"], &erased["by"]),
        (&json!(conv), &json!("Alice"))
    );

    // `faqbot advisor remove Alice` (another process): the visitor she held, on A, is told at
    // once that she left.
    let (mut w, _, _) = queued_visitor(&a_node).await;
    claims_next(&mut alice).await;
    assert_eq!(w.recv_type("handoff").await["status"], "assigned");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(["advisor", "remove", "Alice", "--database", &url])
        .output()
        .expect("run faqbot advisor remove");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ended = tokio::time::timeout(WAIT, w.recv_type("handoff"))
        .await
        .expect("the visitor is told without reconnecting");
    assert_eq!(ended["status"], "ended", "{ended}");
}

#[tokio::test]
async fn a_visitor_queued_on_one_node_stays_queued_while_connected_and_leaves_once_gone() {
    let url = crate::postgres::database().await;
    let token = add_advisor(&url, "Alice");
    // Both nodes check every 0.5 s for visitors quiet for 2 s; only A knows its visitors are
    // still connected.
    let env = [("FAQBOT_HANDOFF__LEAVE_QUEUE_AFTER_SECS", "2")];
    let (a_node, b_node) = (Node::start(&url, &env), Node::start(&url, &env));
    let mut alice = b_node.advisor(&token).await;
    let (staying, _, _) = queued_visitor(&a_node).await;
    let (gone, _, _) = queued_visitor(&a_node).await;
    while alice.queue_total != 2 {
        alice.recv().await;
    }
    gone.close().await;
    // Three times the delay: the one who left is out, the silent one still connected stays.
    let frames = frames_for(&mut alice, Duration::from_secs(6)).await;
    assert_eq!(alice.queue_total, 1, "{frames:?}");
    assert_eq!(
        frames
            .iter()
            .filter(|f| f["type"] == "queue_removed")
            .count(),
        1,
        "{frames:?}"
    );
    drop(staying);
}
