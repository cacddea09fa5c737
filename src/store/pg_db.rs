//! The service's store over PostgreSQL: reads on the pool, and a few writer tasks per node, each
//! committing every write waiting for it in one transaction (group commit), then handing the
//! frames to [`Deliver`] in commit order, as the SQLite writer does. A conversation's writes
//! always go to the same writer (by a hash of its id), so they commit and are delivered in
//! order; several writers let the database work on several transactions at once, where one
//! would wait for each statement's round trip in turn.
//!
//! **Invariant:** frames are delivered only after the commit that made them durable returns.
//! Across nodes, a conversation's frames are numbered under its row lock (see `pg::write::apply`),
//! so `seq` stays gap-free whichever node writes.
//!
//! Nodes tell each other what they committed with `NOTIFY` in the same transaction (sent on
//! commit, ids only: [`NodeEvent`]); each node's listener reads what it needs from the tables.
//! Nothing depends on a notification arriving: a listener that reconnects reads everything its
//! node shows again ([`NodeEvent::Resync`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::db::{Committed, Deliver};
use super::pg::write::{self, Done, Op, Told};
use super::pg::PgStore;
use super::{Applied, NodeEvent, StoreError};
use crate::model::Turn;

/// The channel nodes tell each other on.
const CHANNEL: &str = "faqbot";
/// A node's advertised advisors count for this long after it last said so: nodes say it every
/// [`PRESENCE_EVERY`] and when it changes, so a killed node's advisors stop counting soon.
pub const PRESENCE_TTL: Duration = Duration::from_secs(15);
pub const PRESENCE_EVERY: Duration = Duration::from_secs(5);
/// How long a lost listener connection waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

/// Acts on what another node committed; awaited before the next event, so one conversation's
/// frames are handled in commit order.
pub type OnEvent = Arc<dyn Fn(NodeEvent) -> BoxFuture<'static, ()> + Send + Sync>;

/// Writes in one transaction at most: bounds the latency a batch adds to its first write.
const MAX_BATCH: usize = 256;
/// Writer tasks per node (each a connection while it commits).
const WRITERS: usize = 4;

/// One write waiting for its batch, and who waits for it.
struct Job {
    op: Op,
    done: Option<Done>,
    reply: oneshot::Sender<Result<Done, StoreError>>,
}

/// The writers' ends and their tasks.
pub(super) struct PgDb {
    pub(super) store: PgStore,
    /// Empty once closed.
    jobs: Mutex<Vec<mpsc::UnboundedSender<Job>>>,
    writers: Mutex<Vec<JoinHandle<()>>>,
    /// This node's name in notifications: its own are not acted on twice.
    node: Arc<str>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Held while this node's presence is counted and written: two writes racing could
    /// otherwise leave the older count.
    advertising: tokio::sync::Mutex<()>,
}

impl PgDb {
    /// Starts the writer tasks (on the current tokio runtime).
    pub(super) fn start(store: PgStore, deliver: Deliver, committed: Committed) -> PgDb {
        let node: Arc<str> = crate::secret::new_id().into();
        let committed = Arc::new(Mutex::new(committed));
        let (jobs, writers) = (0..WRITERS)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let writer = tokio::spawn(write_loop(
                    store.clone(),
                    rx,
                    deliver.clone(),
                    committed.clone(),
                    node.clone(),
                ));
                (tx, writer)
            })
            .unzip();
        PgDb {
            store,
            jobs: Mutex::new(jobs),
            writers: Mutex::new(writers),
            node,
            listener: Mutex::new(None),
            advertising: tokio::sync::Mutex::new(()),
        }
    }

    /// Starts listening to the other nodes: `on` gets what they commit, and a
    /// [`NodeEvent::Resync`] each time the listener (re)connects.
    pub(super) fn listen(&self, on: OnEvent) {
        let task = tokio::spawn(listen_loop(self.store.clone(), self.node.clone(), on));
        if let Some(old) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Runs `op` in the writer's next batch and answers once that batch is committed.
    pub(super) async fn write(&self, op: Op) -> Result<Done, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            op,
            done: None,
            reply,
        };
        // One conversation's writes to one writer; the others (queue-wide) to the first.
        let writer = job.op.conversation().map_or(0, |c| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            c.hash(&mut h);
            (h.finish() % WRITERS as u64) as usize
        });
        let sent = match self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(writer)
        {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::Stopped);
        }
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Records how many advisors are connected to this node now (`advisors()`, counted once
    /// the previous record is written).
    pub(super) async fn advertise(&self, advisors: impl FnOnce() -> u64) -> Result<(), StoreError> {
        let _turn = self.advertising.lock().await;
        self.store
            .advertise(&self.node, advisors(), crate::clock::now_ms())
            .await
    }

    /// Advisors connected to the other nodes, as they last said (within [`PRESENCE_TTL`]).
    pub(super) async fn advisors_elsewhere(&self) -> Result<u64, StoreError> {
        let since = crate::clock::now_ms().saturating_sub(PRESENCE_TTL.as_millis() as i64);
        self.store.advisors_elsewhere(&self.node, since).await
    }

    /// Stops the writer once it has committed what it was given.
    pub(super) async fn close(&self) -> Result<(), StoreError> {
        if let Err(e) = self.store.leave(&self.node).await {
            tracing::warn!(cause = %e, "cannot remove this node's presence: it expires by itself");
        }
        if let Some(listener) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            listener.abort();
        }
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let writers = std::mem::take(&mut *self.writers.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in writers {
            handle.await.map_err(|_| StoreError::Stopped)?;
        }
        Ok(())
    }
}

/// Takes every write waiting, commits them in one transaction, delivers, answers. While a
/// batch commits the next one gathers: no timer is needed for writes to share a commit.
async fn write_loop(
    store: PgStore,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    deliver: Deliver,
    committed: Arc<Mutex<Committed>>,
    node: Arc<str>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Conversations in one order on every node, writes on no conversation last: two nodes'
        // batches then wait for each other's row locks instead of deadlocking. The sort is
        // stable, so one conversation's writes keep their order.
        batch.sort_by(|a, b| {
            let key = |j: &Job| {
                let c = j.op.conversation();
                (c.is_none(), c.map(str::to_owned))
            };
            key(a).cmp(&key(b))
        });
        let (writes, started) = (batch.len(), std::time::Instant::now());
        run_batch(&store, batch, &deliver, &node).await;
        let took = started.elapsed();
        (committed.lock().unwrap_or_else(|p| p.into_inner()))(writes, took);
        tracing::debug!(writes, us = took.as_micros() as u64, "batch committed");
    }
}

/// Commits `batch`. A write that fails is answered with its error and the others run again
/// without it (a failed statement aborts a PostgreSQL transaction); a failed commit fails them
/// all, and nothing of it is delivered.
async fn run_batch(store: &PgStore, mut batch: Vec<Job>, deliver: &Deliver, node: &str) {
    let mut together = true;
    loop {
        match attempt(store, &mut batch, node, together).await {
            Ok(Tried::Committed) => {
                for job in &batch {
                    if let (Op::Apply(turn, _), Some(Done::Applied(applied))) = (&job.op, &job.done)
                    {
                        let (frames, resent) = match applied {
                            Applied::Done { frames } => (frames, false),
                            Applied::Duplicate { frames } => (frames, true),
                            Applied::Conflict | Applied::Stale => continue,
                        };
                        if !frames.is_empty() {
                            deliver(&turn.conversation, frames, resent);
                        }
                    }
                }
                for job in batch {
                    let answer = job.done.ok_or(StoreError::Vanished);
                    let _ = job.reply.send(answer);
                }
                return;
            }
            Ok(Tried::TogetherFailed(e)) => {
                tracing::warn!(cause = %e, writes = batch.len(), "writing a batch's turns together failed: writing them one by one");
                together = false;
            }
            Ok(Tried::Failed(failed, e)) => {
                let _ = batch.remove(failed).reply.send(Err(e));
                if batch.is_empty() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(cause = %e, writes = batch.len(), "a batch failed to commit: nothing of it is kept or sent");
                let message = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Commit(message.clone())));
                }
                return;
            }
        }
    }
}

/// How one try at committing a batch went.
enum Tried {
    Committed,
    /// This write failed: nothing was committed.
    Failed(usize, StoreError),
    /// The statements that write the plain turns together failed: nothing was committed, and
    /// the batch runs again write by write, which finds the culprit.
    TogetherFailed(StoreError),
}

/// One try at committing `batch`.
///
/// Plain turns (a visitor's question and its answer: the only write on their conversation in
/// the batch, no handoff, no contact) are written together: their conversations locked in one
/// statement, then one statement per table for all of them. The other writes run one by one
/// per conversation, different conversations at once on the one connection: tokio-postgres
/// pipelines statements issued together, so a batch costs a few round trips rather than a
/// few per write. Locks are taken in the batch's order (conversations sorted), on every node:
/// two nodes' batches wait for each other rather than deadlock. Writes on no conversation run
/// last, one after the other.
async fn attempt(
    store: &PgStore,
    batch: &mut [Job],
    node: &str,
    together: bool,
) -> Result<Tried, StoreError> {
    let mut client = store.pool().get().await?;
    let tx = client.transaction().await?;
    let ops: Vec<&Op> = batch.iter().map(|job| &job.op).collect();
    let (chains, rest) = chains(&ops);

    let plain: Vec<(usize, &Turn<String>, i64)> = if together {
        chains
            .iter()
            .filter_map(|chain| match chain.as_slice() {
                [i] => match ops[*i] {
                    Op::Apply(turn, now) if turn.handoff.is_none() && turn.contact.is_none() => {
                        Some((*i, &**turn, *now))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut placed = Vec::with_capacity(plain.len());
    let mut alone = vec![true; ops.len()];
    if !plain.is_empty() {
        // Every conversation of the batch, not only the plain ones: the writes that run one by
        // one then find their locks taken, in the same order as every other batch.
        let ids: Vec<&str> = chains
            .iter()
            .filter_map(|chain| ops[chain[0]].conversation())
            .collect();
        let (conversations, client_ids): (Vec<&str>, Vec<&str>) = plain
            .iter()
            .filter_map(|(_, turn, _)| {
                Some((turn.conversation.as_str(), turn.client_id.as_deref()?))
            })
            .unzip();
        // Sent together, run in this order.
        let found = futures_util::future::try_join(
            index_only(&tx),
            write::lock(&tx, &ids, (&conversations, &client_ids)),
        )
        .await;
        let (_, locked) = match found {
            Ok(found) => found,
            Err(e) => return Ok(Tried::TogetherFailed(e)),
        };
        for (i, turn, now) in plain {
            let Some(conv) = locked.get(&turn.conversation) else {
                continue; // Gone: `apply` says so.
            };
            if turn
                .seen
                .is_some_and(|seen| !write::still(seen, Some((conv.last_seq, &conv.mode))))
            {
                continue; // `apply` says it is stale.
            }
            if conv.resent {
                continue; // `apply` answers with the frames stored for it.
            }
            placed.push(write::Placed {
                turn,
                now,
                last: conv.last_seq,
                held: conv.mode == "advisor",
            });
            alone[i] = false;
        }
    } else {
        index_only(&tx).await?;
    }
    let written: Vec<usize> = (0..ops.len()).filter(|&i| !alone[i]).collect();

    let together_run = async {
        let mut told = Told::new();
        let frames = if placed.is_empty() {
            Ok(Vec::new())
        } else {
            write::write_rows(&tx, &placed, &mut told).await
        };
        (told, frames)
    };
    let one_by_one = futures_util::future::join_all(
        chains.iter().filter(|chain| alone[chain[0]]).map(|chain| {
            let (tx, ops) = (&tx, &ops);
            async move {
                let mut told = Told::new();
                let mut done = Vec::with_capacity(chain.len());
                for &i in chain {
                    match write::run(tx, ops[i], &mut told).await {
                        Ok(d) => done.push((i, d)),
                        Err(e) => return (told, done, Some((i, e))),
                    }
                }
                (told, done, None)
            }
        }),
    );
    let ((mut told, frames), ran) = futures_util::future::join(together_run, one_by_one).await;

    let mut results = Vec::with_capacity(ops.len());
    let mut failed: Option<Tried> = None;
    match frames {
        Ok(frames) => results.extend(
            written
                .iter()
                .zip(frames)
                .map(|(&i, frames)| (i, Done::Applied(Applied::Done { frames }))),
        ),
        Err(e) => blame(&mut failed, Tried::TogetherFailed(e)),
    }
    for (chain_told, done, error) in ran {
        told.extend(chain_told);
        results.extend(done);
        if let Some((i, e)) = error {
            blame(&mut failed, Tried::Failed(i, e));
        }
    }
    if let Some(failed) = failed {
        return Ok(failed);
    }
    for i in rest {
        match write::run(&tx, ops[i], &mut told).await {
            Ok(d) => results.push((i, d)),
            Err(e) => return Ok(Tried::Failed(i, e)),
        }
    }
    notify(&tx, node, &told).await?;
    tx.commit().await?;
    drop(ops);
    for (i, done) in results {
        batch[i].done = Some(done);
    }
    Ok(Tried::Committed)
}

/// The batch's writes grouped by conversation, in order (the batch is sorted: one
/// conversation's writes are next to each other), and the writes on no conversation.
fn chains(ops: &[&Op]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut chains: Vec<Vec<usize>> = Vec::new();
    let mut rest = Vec::new();
    let mut last: Option<&str> = None;
    for (i, op) in ops.iter().enumerate() {
        match op.conversation() {
            None => rest.push(i),
            Some(c) if last == Some(c) => match chains.last_mut() {
                Some(chain) => chain.push(i),
                None => chains.push(vec![i]),
            },
            Some(c) => {
                chains.push(vec![i]);
                last = Some(c);
            }
        }
    }
    (chains, rest)
}

/// Has the batch's statements planned with indexes only. Each is prepared once per connection
/// and PostgreSQL may keep a plan made when a table was nearly empty: a scan of every row,
/// run for every batch once the table has grown (seen on `misses`: thousands of rows read per
/// batch). Every write here finds its rows by key.
async fn index_only(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
    Ok(())
}

/// Keeps in `failed` the failure to blame: after the first failure every statement of the
/// transaction fails with "current transaction is aborted", so it is the one that failed
/// otherwise.
fn blame(failed: &mut Option<Tried>, tried: Tried) {
    let error = |t: &Tried| match t {
        Tried::Failed(_, e) | Tried::TogetherFailed(e) => Some(aborted(e)),
        Tried::Committed => None,
    };
    let replace = match failed {
        None => true,
        Some(first) => error(first) != Some(false) && error(&tried) == Some(false),
    };
    if replace {
        *failed = Some(tried);
    }
}

/// Whether `e` is PostgreSQL refusing a statement because an earlier one failed.
fn aborted(e: &StoreError) -> bool {
    match e {
        StoreError::Database(inner) => inner
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(tokio_postgres::Error::code)
            .is_some_and(|code| {
                *code == tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION
            }),
        _ => false,
    }
}

/// The sender's name in notifications from a command (`faqbot visitor erase`, `advisor
/// remove`): never a node's (those are hex).
pub(super) const COMMAND: &str = "command";

/// Tells the nodes what `tx` changed: sent by PostgreSQL when (and only if) it commits.
pub(super) async fn notify(
    tx: &deadpool_postgres::Transaction<'_>,
    node: &str,
    told: &Told,
) -> Result<(), StoreError> {
    if told.is_empty() {
        return Ok(());
    }
    let mut payloads: Vec<String> = told.iter().map(|e| encode(node, e)).collect();
    payloads.dedup();
    let stmt = tx
        .prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
        .await?;
    tx.execute(&stmt, &[&CHANNEL, &payloads]).await?;
    Ok(())
}

/// A notification's text: `NODE f CONVERSATION FIRST LAST`, `NODE v CONVERSATION MESSAGE`,
/// `NODE q`, `NODE a CONVERSATION new|escalated`, `NODE c CONVERSATION`, `NODE e CONVERSATION
/// [ADVISOR]` (ids are hex: no spaces; the advisor's name, last, may have some).
fn encode(node: &str, event: &NodeEvent) -> String {
    match event {
        NodeEvent::Frames {
            conversation,
            first,
            last,
        } => format!("{node} f {conversation} {first} {last}"),
        NodeEvent::VisitorMessage {
            conversation,
            message,
        } => format!("{node} v {conversation} {message}"),
        NodeEvent::Queue | NodeEvent::Resync => format!("{node} q"),
        NodeEvent::Alert {
            conversation,
            escalated,
        } => {
            let kind = if *escalated { "escalated" } else { "new" };
            format!("{node} a {conversation} {kind}")
        }
        NodeEvent::Claimed { conversation } => format!("{node} c {conversation}"),
        NodeEvent::Erased { conversation, by } => format!("{node} e {conversation} {by}"),
    }
}

/// The event in a notification from another node; `None` for this node's own or a text it
/// does not know (a newer node's).
fn decode(own: &str, payload: &str) -> Option<NodeEvent> {
    let mut parts = payload.split(' ');
    if parts.next()? == own {
        return None;
    }
    if let Some(rest) = payload.split_once(' ')?.1.strip_prefix("e ") {
        let (conversation, by) = rest.split_once(' ').unwrap_or((rest, ""));
        return Some(NodeEvent::Erased {
            conversation: conversation.to_owned(),
            by: by.to_owned(),
        });
    }
    match (parts.next()?, parts.next(), parts.next(), parts.next()) {
        ("f", Some(c), Some(first), Some(last)) => Some(NodeEvent::Frames {
            conversation: c.to_owned(),
            first: first.parse().ok()?,
            last: last.parse().ok()?,
        }),
        ("v", Some(c), Some(message), None) => Some(NodeEvent::VisitorMessage {
            conversation: c.to_owned(),
            message: message.parse().ok()?,
        }),
        ("q", None, None, None) => Some(NodeEvent::Queue),
        ("a", Some(c), Some(kind @ ("new" | "escalated")), None) => Some(NodeEvent::Alert {
            conversation: c.to_owned(),
            escalated: kind == "escalated",
        }),
        ("c", Some(c), None, None) => Some(NodeEvent::Claimed {
            conversation: c.to_owned(),
        }),
        _ => None,
    }
}

/// Listens on a connection of its own, reconnecting when it is lost, until aborted.
async fn listen_loop(store: PgStore, node: Arc<str>, on: OnEvent) {
    loop {
        match store.dedicated().await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                // The connection yields notifications only to whoever polls it.
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                if tx.send(n.payload().to_owned()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(cause = %e, "the listener's connection failed: reconnecting");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        // Listening from here: whatever committed before is read now.
                        on(NodeEvent::Resync).await;
                        while let Some(payload) = rx.recv().await {
                            if let Some(event) = decode(&node, &payload) {
                                on(event).await;
                            }
                        }
                    }
                    Err(e) => tracing::warn!(cause = %e, "cannot LISTEN: retrying"),
                }
                driver.abort();
            }
            Err(e) => {
                tracing::warn!(cause = %e, "the listener cannot connect: other nodes' messages arrive once it does")
            }
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_round_trip_and_a_nodes_own_are_ignored() {
        let events = [
            NodeEvent::Frames {
                conversation: "ab12".into(),
                first: 3,
                last: 5,
            },
            NodeEvent::VisitorMessage {
                conversation: "ab12".into(),
                message: 42,
            },
            NodeEvent::Queue,
            NodeEvent::Alert {
                conversation: "ab12".into(),
                escalated: true,
            },
            NodeEvent::Alert {
                conversation: "ab12".into(),
                escalated: false,
            },
            NodeEvent::Claimed {
                conversation: "ab12".into(),
            },
            NodeEvent::Erased {
                conversation: "ab12".into(),
                by: "Anne Marie".into(),
            },
            NodeEvent::Erased {
                conversation: "ab12".into(),
                by: String::new(),
            },
        ];
        for e in events {
            let text = encode("n1", &e);
            assert_eq!(decode("n2", &text), Some(e.clone()), "{text}");
            assert_eq!(decode("n1", &text), None, "own: {text}");
        }
        assert_eq!(decode("n2", "n1 z what"), None);
        assert_eq!(decode("n2", "n1 f ab12 x 5"), None);
    }
}
