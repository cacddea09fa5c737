//! [`SqliteDb`]: the service's store over SQLite, async. One writer thread owns the write connection and commits
//! every turn waiting for it in one transaction (one fsync: group commit); reads use a few
//! connections of their own (on tokio's blocking threads, but for the per-turn point read), so
//! they never wait for a commit.
//!
//! **Invariant:** the writer hands a turn's frames to [`Deliver`] after the commit that made
//! them durable, in commit order. Frames are numbered by that same writer, so a conversation's
//! frames reach its connection in `seq` order whoever produced them, with no lock held by the
//! producers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::sqlite::{write, SqliteStore, PURGE_BATCH};
use super::{Applied, StoreError, StoredFrame};
use crate::clock::now_ms;
use crate::model::{
    Advisor, Card, Conversation, Decisions, Lead, Message, QueuedHandoff, Removed, StoredMiss, Turn,
};

/// Hands committed frames to whoever sends them (the hub): (conversation, frames, `resent`).
/// `resent` frames answer a message id sent again: the client asked for them, even if it has
/// their numbers. Called on the writer thread: it must not block.
pub type Deliver = Arc<dyn Fn(&str, &[StoredFrame], bool) + Send + Sync>;

/// Told of every batch the writer committed: (writes in it, time from its first write to its
/// frames handed over). Called on the writer thread, once per batch: it must be cheap.
pub type Committed = Box<dyn Fn(usize, std::time::Duration) + Send>;

/// Turns in one transaction at most: bounds the latency a batch adds to its first turn.
const MAX_BATCH: usize = 256;
/// How long a batch waits for one more write before it commits. A commit costs a WAL write of
/// every page it touched and an fsync (milliseconds), so a few hundred microseconds spent
/// gathering turns that would otherwise wait for the next commit pay for themselves.
const LINGER: std::time::Duration = std::time::Duration::from_micros(300);
/// Read connections: enough for the 2–4 cores this runs on; reads are short.
const READERS: usize = 4;

/// Frames to deliver once the batch commits: (conversation, frames, resent).
type Outbox = Vec<(String, Vec<StoredFrame>, bool)>;

/// One write of a batch. It may run more than once: when another write of its batch fails, the
/// batch is rolled back and run again without that one (no savepoints: they cost a copy of every
/// page a turn touches).
trait Job: Send {
    fn run(&mut self, conn: &Connection, outbox: &mut Outbox) -> Result<(), StoreError>;
    /// Its batch committed (`Ok`), or the batch or this write failed.
    fn finish(self: Box<Self>, result: Result<(), StoreError>);
}

/// A write as a closure, with its last result and who waits for it.
struct Write<T, F> {
    f: F,
    value: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Write<T, F>
where
    F: FnMut(&Connection, &mut Outbox) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection, outbox: &mut Outbox) -> Result<(), StoreError> {
        self.value = Some((self.f)(conn, outbox)?);
        Ok(())
    }

    fn finish(self: Box<Self>, result: Result<(), StoreError>) {
        let Write { value, reply, .. } = *self;
        let answer = result.and_then(|()| value.ok_or(StoreError::Vanished));
        let _ = reply.send(answer);
    }
}

/// The SQLite side of [`super::Db`].
#[derive(Clone)]
pub(super) struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The checkpointer, which ends after the writer.
    checkpoints: Mutex<Option<JoinHandle<()>>>,
    readers: Vec<Mutex<SqliteStore>>,
    next_reader: AtomicUsize,
}

impl SqliteDb {
    /// Starts the writer on `store` (opened with [`SqliteStore::open`]) and opens the readers.
    pub(super) fn start(
        store: SqliteStore,
        deliver: Deliver,
        committed: Committed,
    ) -> Result<SqliteDb, StoreError> {
        let readers = (0..READERS)
            .map(|_| store.reader().map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        // Checkpoints copy the log into the database: on the writer they stall every turn
        // waiting for it (up to ~10 ms measured), so another thread does the copying, told of
        // each commit. The writer's own checkpoint is what lets the log start over under a load
        // that never pauses (only a writer resets it, once all of it is copied); it comes rarely
        // and finds little left to copy.
        store.auto_checkpoint_at(WRITER_CHECKPOINT_PAGES)?;
        let checkpointer = store.checkpointer()?;
        // One slot: commits made while a checkpoint runs are one more checkpoint, not many.
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        let checkpoints = std::thread::Builder::new()
            .name("faqbot-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, nudged))
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
        let writer = std::thread::Builder::new()
            .name("faqbot-writer".into())
            .spawn(move || write_loop(store, rx, deliver, committed, nudge))
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                checkpoints: Mutex::new(Some(checkpoints)),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    /// Runs `f` on a read connection, on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut SqliteStore) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let n = inner.readers.len();
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // A free connection if there is one; else wait for the next in turn.
            let mut guard = (0..n)
                .find_map(|i| inner.readers[(start + i) % n].try_lock().ok())
                .unwrap_or_else(|| {
                    // A panic during a read leaves the connection usable: nothing was written.
                    inner.readers[start % n]
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                });
            f(&mut guard)
        })
        .await
        .map_err(task_failed)?
    }

    /// Runs `f` in the writer's next batch and answers once that batch is durable. Frames `f`
    /// puts in the outbox are delivered then, before the answer.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnMut(&Connection, &mut Outbox) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Write {
            f,
            value: None,
            reply,
        });
        let sent = match &*self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::Stopped);
        }
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// One conversation by id. Every turn starts with this read, so it runs right here when a
    /// read connection is free (a point read in WAL mode takes microseconds and never waits
    /// for the writer): a trip to a blocking thread would cost more than the read.
    pub async fn conversation(&self, id: &str) -> Result<Option<Conversation>, StoreError> {
        let inline = {
            let free = self.inner.readers.iter().find_map(|r| r.try_lock().ok());
            free.map(|reader| reader.conversation(id))
        };
        if let Some(found) = inline {
            return found;
        }
        let id = id.to_owned();
        self.read(move |s| s.conversation(&id)).await
    }

    pub async fn conversation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let hash = token_hash.to_owned();
        self.read(move |s| s.conversation_by_token(&hash)).await
    }

    /// The conversation's frames after `seq`, `limit` at most.
    pub async fn frames_after(
        &self,
        id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredFrame>, StoreError> {
        let id = id.to_owned();
        self.read(move |s| s.frames_after(&id, seq, limit)).await
    }

    /// What a (re)connecting visitor is shown, from one snapshot: the conversation, its
    /// latest `history` messages, and the first `page` of its frames after `after` when given.
    pub async fn view(
        &self,
        id: &str,
        history: usize,
        after: Option<u64>,
        page: usize,
    ) -> Result<Option<(Conversation, Vec<Message>, Vec<StoredFrame>)>, StoreError> {
        let id = id.to_owned();
        self.read(move |s| {
            s.snapshot(|s| {
                let Some(conv) = s.conversation(&id)? else {
                    return Ok(None);
                };
                let messages = if history > 0 {
                    s.recent_history(&id, history)?
                } else {
                    Vec::new()
                };
                let frames = match after {
                    Some(n) => s.frames_after(&id, n, page)?,
                    None => Vec::new(),
                };
                Ok(Some((conv, messages, frames)))
            })
        })
        .await
    }

    pub async fn queue(&self) -> Result<Vec<QueuedHandoff>, StoreError> {
        self.read(|s| s.queue()).await
    }

    /// How many chats wait for an advisor.
    pub async fn queue_len(&self) -> Result<u64, StoreError> {
        self.read(|s| s.queue_len()).await
    }

    /// A conversation's messages and latest handoff card, read together (an advisor's
    /// transcript).
    pub async fn transcript(&self, id: &str) -> Result<(Vec<Message>, Option<Card>), StoreError> {
        let id = id.to_owned();
        self.read(move |s| Ok((s.history(&id)?, s.handoff_card(&id)?)))
            .await
    }

    pub async fn assigned_to(&self, advisor: &str) -> Result<Vec<String>, StoreError> {
        let name = advisor.to_owned();
        self.read(move |s| s.assigned_to(&name)).await
    }

    pub async fn leads(&self) -> Result<Vec<Lead>, StoreError> {
        self.read(|s| s.leads()).await
    }

    pub async fn advisor_by_token(&self, token_hash: &str) -> Result<Option<Advisor>, StoreError> {
        let hash = token_hash.to_owned();
        self.read(move |s| s.advisor_by_token(&hash)).await
    }

    /// The advisor signed in by the session hashed as `id_hash`, if it is live.
    pub async fn advisor_by_session(&self, id_hash: &str) -> Result<Option<Advisor>, StoreError> {
        let hash = id_hash.to_owned();
        self.read(move |s| s.advisor_by_session(&hash, now_ms()))
            .await
    }

    /// Missed questions and decisions since `since`, from one snapshot.
    pub async fn misses_and_decisions(
        &self,
        since: i64,
    ) -> Result<(Vec<StoredMiss>, Decisions), StoreError> {
        self.read(move |s| s.snapshot(|s| Ok((s.misses(since)?, s.decisions(since)?))))
            .await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|s| s.ping()).await
    }

    pub async fn create_conversation(
        &self,
        id: String,
        token_hash: String,
        lang: &'static str,
        page: Option<String>,
    ) -> Result<Conversation, StoreError> {
        self.write(move |c, _| {
            write::create_conversation(c, &id, &token_hash, lang, page.as_deref(), now_ms())
        })
        .await
    }

    pub async fn touch(&self, id: &str, page: Option<String>) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |c, _| write::touch(c, &id, page.as_deref(), now_ms()))
            .await
    }

    /// Applies `turn` (its frames already encoded) and delivers its frames once durable.
    pub async fn apply(&self, turn: Turn<String>) -> Result<Applied, StoreError> {
        self.write(move |c, outbox| {
            let applied = write::apply(c, &turn, now_ms())?;
            let (frames, resent) = match &applied {
                Applied::Done { frames } => (frames, false),
                Applied::Duplicate { frames } => (frames, true),
                Applied::Conflict | Applied::Stale => return Ok(applied),
            };
            if !frames.is_empty() {
                outbox.push((turn.conversation.clone(), frames.clone(), resent));
            }
            Ok(applied)
        })
        .await
    }

    /// Stores a new session of `advisor`, ending the one hashed as `replaces` if given.
    /// [`StoreError::UnknownAdvisor`] if the advisor was removed meanwhile.
    pub async fn create_session(
        &self,
        id_hash: String,
        advisor: String,
        now: i64,
        expires_at: i64,
        replaces: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(move |c, _| {
            write::create_session(c, &id_hash, &advisor, now, expires_at, replaces.as_deref())
        })
        .await
    }

    /// Ends the session hashed as `id_hash`; returns its advisor if there was one.
    pub async fn revoke_session(&self, id_hash: String) -> Result<Option<String>, StoreError> {
        self.write(move |c, _| write::revoke_session(c, &id_hash))
            .await
    }

    /// Queued conversations whose visitor was last active before `before`.
    pub async fn quiet_in_queue(&self, before: i64) -> Result<Vec<String>, StoreError> {
        self.read(move |s| s.quiet_in_queue(before)).await
    }

    /// Takes `conversations` out of the queue (their visitors left); returns those that were
    /// still in it.
    pub async fn abandon(&self, conversations: Vec<String>) -> Result<Vec<String>, StoreError> {
        self.write(move |c, _| write::abandon(c, &conversations, now_ms()))
            .await
    }

    /// Marks queued handoffs created before `before` as escalated and returns them.
    pub async fn escalate(&self, before: i64) -> Result<Vec<QueuedHandoff>, StoreError> {
        self.write(move |c, _| write::escalate(c, before, now_ms()))
            .await
    }

    /// Erases conversation `id` and everything linked to it if `advisor` holds it now (decided
    /// by the writer); `None` if they do not (or there is no such conversation).
    pub async fn erase_held(&self, id: &str, advisor: &str) -> Result<Option<Removed>, StoreError> {
        let (id, advisor) = (id.to_owned(), advisor.to_owned());
        self.write(move |c, _| write::erase_held(c, &id, &advisor))
            .await
    }

    /// The next batch of conversations a purge at `cutoff` removes, after id `after` (read on a
    /// read connection: the writer never scans for them).
    pub async fn purgeable(&self, cutoff: i64, after: &str) -> Result<Vec<String>, StoreError> {
        let after = after.to_owned();
        self.read(move |s| s.purgeable(cutoff, &after, PURGE_BATCH))
            .await
    }

    /// Erases those of `ids` still purgeable at `cutoff`, in one of the writer's batches;
    /// returns what was removed and which conversations.
    pub async fn purge_conversations(
        &self,
        ids: Vec<String>,
        cutoff: i64,
    ) -> Result<(Removed, Vec<String>), StoreError> {
        self.write(move |c, _| write::purge_conversations(c, &ids, cutoff))
            .await
    }

    /// Removes a batch of contact requests left before `cutoff`; returns how many, and whether
    /// that was the last batch.
    pub async fn purge_contacts(&self, cutoff: i64) -> Result<(u64, bool), StoreError> {
        let n = self
            .write(move |c, _| write::purge_contacts(c, cutoff, PURGE_BATCH))
            .await?;
        Ok((n, n < PURGE_BATCH as u64))
    }

    /// Conversations past `cutoff` that a purge keeps (held by an advisor, or queued).
    pub async fn kept_in_chat(&self, cutoff: i64) -> Result<u64, StoreError> {
        self.read(move |s| s.kept_in_chat(cutoff)).await
    }

    /// Stops the writer once it has committed what it was given, then folds the write-ahead log
    /// into the database file (shutdown). Writes after this fail with [`StoreError::Stopped`].
    pub async fn close(&self) -> Result<(), StoreError> {
        drop(
            self.inner
                .jobs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let checkpoints = self
            .inner
            .checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        tokio::task::spawn_blocking(move || {
            if let Some(handle) = writer {
                handle.join().map_err(|_| StoreError::Stopped)?;
            }
            // The writer's end closed the checkpointer's channel.
            if let Some(handle) = checkpoints {
                handle.join().map_err(|_| StoreError::Stopped)?;
            }
            Ok::<_, StoreError>(())
        })
        .await
        .map_err(task_failed)??;
        self.read(|s| s.checkpoint()).await
    }
}

/// A blocking task that panicked, without the panic's message: errors are logged, and the
/// message may quote what was being read (the panic itself was reported when it happened).
fn task_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::TaskFailed(if e.is_panic() {
        "panicked"
    } else {
        "was cancelled"
    })
}

/// The shortest time between two checkpoints of the checkpointer. A page written again and
/// again (a conversation's row, an index leaf) is copied once per checkpoint, so fewer
/// checkpoints copy less: every 100 ms rather than 20, `scripts/ab` (6 rounds of 100 × 200)
/// measured 109.0 → 102.2 µs of CPU a reply and p99 15.0–17.3 → 12.3–16.2 ms; 300 ms was no
/// better than 100 beyond the noise, and a longer gap means a longer log to replay after a
/// crash. (At 200 ms, when the writer still checkpointed itself at 4 000 pages, it stalled
/// the turns waiting for it; it now waits for [`WRITER_CHECKPOINT_PAGES`].)
const CHECKPOINT_GAP: std::time::Duration = std::time::Duration::from_millis(100);

/// Pages of log (4 KiB each) at which the writer checkpoints itself after a commit: the log may
/// grow to ~160 MB under a load that never pauses before it starts over.
const WRITER_CHECKPOINT_PAGES: u32 = 40_000;

/// Checkpoints after each commit it is told of, at most every [`CHECKPOINT_GAP`], until the
/// writer ends.
fn checkpoint_loop(store: SqliteStore, commits: mpsc::Receiver<()>) {
    while commits.recv().is_ok() {
        if let Err(e) = store.checkpoint_passive() {
            tracing::warn!(cause = %e, "checkpoint failed: the log grows until the next one");
        }
        std::thread::sleep(CHECKPOINT_GAP);
    }
}

/// The writer: takes every write waiting, runs them in one IMMEDIATE transaction, commits once,
/// delivers the frames, then answers each. Ends when every sender is gone.
fn write_loop(
    mut store: SqliteStore,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    deliver: Deliver,
    committed: Committed,
    checkpointer: mpsc::SyncSender<()>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        let until = std::time::Instant::now() + LINGER;
        while batch.len() < MAX_BATCH {
            let job = match jobs.try_recv() {
                Ok(job) => Some(job),
                Err(_) => {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    jobs.recv_timeout(left).ok()
                }
            };
            match job {
                Some(job) => batch.push(job),
                None => break,
            }
        }
        let (turns, started) = (batch.len(), std::time::Instant::now());
        run_batch(store.connection(), batch, &deliver);
        // Full means one is already due.
        let _ = checkpointer.try_send(());
        let took = started.elapsed();
        committed(turns, took);
        tracing::debug!(turns, us = took.as_micros() as u64, "batch committed");
    }
}

/// Commits `batch` in one transaction. A write that fails is answered with its error and the
/// others run again without it; a failed commit fails them all (nothing of it is sent).
fn run_batch(conn: &mut Connection, mut batch: Vec<Box<dyn Job>>, deliver: &Deliver) {
    let mut outbox = Outbox::new();
    loop {
        outbox.clear();
        let attempt = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (i, job) in batch.iter_mut().enumerate() {
                if let Err(e) = job.run(&tx, &mut outbox) {
                    // Dropping `tx` rolls the batch back.
                    return Ok(Some((i, e)));
                }
            }
            tx.commit()?;
            Ok::<_, StoreError>(None)
        })();
        match attempt {
            Ok(None) => {
                for (conversation, frames, resent) in &outbox {
                    deliver(conversation, frames, *resent);
                }
                for job in batch {
                    job.finish(Ok(()));
                }
                return;
            }
            Ok(Some((failed, e))) => {
                batch.remove(failed).finish(Err(e));
                if batch.is_empty() {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(cause = %e, writes = batch.len(), "a batch failed to commit: nothing of it is kept or sent");
                let message = e.to_string();
                for job in batch {
                    job.finish(Err(StoreError::Commit(message.clone())));
                }
                return;
            }
        }
    }
}
