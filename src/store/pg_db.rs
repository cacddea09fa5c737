//! The service's store over PostgreSQL: reads on the pool, and one writer task per node that
//! commits every write waiting for it in one transaction (group commit), then hands the frames
//! to [`Deliver`] in commit order, as the SQLite writer does.
//!
//! **Invariant:** frames are delivered only after the commit that made them durable returns.
//! Across nodes, a conversation's frames are numbered under its row lock (see `pg::write::apply`),
//! so `seq` stays gap-free whichever node writes.

use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::db::{Committed, Deliver};
use super::pg::write::{self, Done, Op, Told};
use super::pg::PgStore;
use super::{Applied, StoreError};

/// Writes in one transaction at most: bounds the latency a batch adds to its first write.
const MAX_BATCH: usize = 256;

/// One write waiting for its batch, and who waits for it.
struct Job {
    op: Op,
    done: Option<Done>,
    reply: oneshot::Sender<Result<Done, StoreError>>,
}

/// The writer's end and its task.
pub(super) struct PgDb {
    pub(super) store: PgStore,
    jobs: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl PgDb {
    /// Starts the writer task (on the current tokio runtime).
    pub(super) fn start(store: PgStore, deliver: Deliver, committed: Committed) -> PgDb {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(store.clone(), rx, deliver, committed));
        PgDb {
            store,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
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
        let sent = match &*self.jobs.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(jobs) => jobs.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::Stopped);
        }
        rx.await.map_err(|_| StoreError::Stopped)?
    }

    /// Stops the writer once it has committed what it was given.
    pub(super) async fn close(&self) -> Result<(), StoreError> {
        drop(self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take());
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = writer {
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
    committed: Committed,
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
        run_batch(&store, batch, &deliver).await;
        let took = started.elapsed();
        committed(writes, took);
        tracing::debug!(writes, us = took.as_micros() as u64, "batch committed");
    }
}

/// Commits `batch`. A write that fails is answered with its error and the others run again
/// without it (a failed statement aborts a PostgreSQL transaction); a failed commit fails them
/// all, and nothing of it is delivered.
async fn run_batch(store: &PgStore, mut batch: Vec<Job>, deliver: &Deliver) {
    loop {
        match attempt(store, &mut batch).await {
            Ok(None) => {
                for job in &batch {
                    if let (Op::Apply(turn, _), Some(Done::Applied(applied))) = (&job.op, &job.done)
                    {
                        let (frames, resent) = match applied {
                            Applied::Done { frames } => (frames, false),
                            Applied::Duplicate { frames } => (frames, true),
                            Applied::Conflict => continue,
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
            Ok(Some((failed, e))) => {
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

/// One try at committing `batch`: `Some` names the write that failed (nothing committed).
async fn attempt(
    store: &PgStore,
    batch: &mut [Job],
) -> Result<Option<(usize, StoreError)>, StoreError> {
    let mut client = store.pool().get().await?;
    let tx = client.transaction().await?;
    let mut told = Told::new();
    for (i, job) in batch.iter_mut().enumerate() {
        match write::run(&tx, &job.op, &mut told).await {
            Ok(done) => job.done = Some(done),
            Err(e) => return Ok(Some((i, e))),
        }
    }
    tx.commit().await?;
    Ok(None)
}
