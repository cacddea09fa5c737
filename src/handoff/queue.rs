//! The bounded queue from the hub to one visitor session. It allocates nothing until a frame is
//! queued: most visitor connections are idle (a page open with the widget), and tokio's channel
//! costs ~1.5 KB each before its first message (its first block of 32 slots and a
//! cache-line-aligned state), as much as the rest of an idle session.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};

use super::Outbound;

/// A queue holding up to `capacity` frames.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            sender_gone: false,
            receiver_gone: false,
        }),
        ready: Notify::new(),
        capacity,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The hub's end. Dropping it ends the session's queue (after what it holds).
pub struct Sender {
    shared: Arc<Shared>,
}

/// The session's end.
pub struct Receiver {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on each frame queued and when the sender goes; a signal nobody awaits is kept
    /// for the next wait.
    ready: Notify,
    capacity: usize,
}

struct State {
    frames: VecDeque<Outbound>,
    sender_gone: bool,
    receiver_gone: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Only pushes and pops happen under this lock: a panic cannot leave it half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Sender {
    /// Queues `frame` unless the queue is full or its session has ended; never waits.
    pub fn try_send(&self, frame: Outbound) -> Result<(), Outbound> {
        {
            let mut state = self.shared.lock();
            if state.receiver_gone || state.frames.len() >= self.shared.capacity {
                return Err(frame);
            }
            state.frames.push_back(frame);
        }
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.shared.lock().sender_gone = true;
        self.shared.ready.notify_one();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_gone = true;
        state.frames = VecDeque::new();
    }
}

/// Where a session reads the frames it is asked to send: a visitor's [`Receiver`] or an
/// advisor's tokio channel.
pub trait Inbox: Send {
    /// The next frame; `None` once the sender is gone and the queue is empty. Cancel-safe:
    /// dropped before it completes, it takes nothing from the queue.
    fn recv(&mut self) -> impl Future<Output = Option<Outbound>> + Send;
}

impl Inbox for Receiver {
    async fn recv(&mut self) -> Option<Outbound> {
        loop {
            {
                let mut state = self.shared.lock();
                if let Some(frame) = state.frames.pop_front() {
                    return Some(frame);
                }
                if state.sender_gone {
                    return None;
                }
            }
            // A frame queued since the check above left its signal: this returns at once.
            self.shared.ready.notified().await;
        }
    }
}

impl Inbox for mpsc::Receiver<Outbound> {
    fn recv(&mut self) -> impl Future<Output = Option<Outbound>> + Send {
        mpsc::Receiver::recv(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_come_in_order_up_to_the_capacity_then_none_once_the_sender_is_gone() {
        let (tx, mut rx) = channel(2);
        assert!(tx.try_send(Outbound::Text("a".into())).is_ok());
        assert!(tx.try_send(Outbound::Numbered(1, "b".into())).is_ok());
        assert_eq!(
            tx.try_send(Outbound::Text("c".into())),
            Err(Outbound::Text("c".into())),
            "full"
        );
        assert_eq!(rx.recv().await, Some(Outbound::Text("a".into())));
        assert_eq!(rx.recv().await, Some(Outbound::Numbered(1, "b".into())));
        // A receiver waiting is woken by the next frame, then by the sender leaving.
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            (first, rx.recv().await)
        });
        tokio::task::yield_now().await;
        assert!(tx.try_send(Outbound::Close(4000, "bye")).is_ok());
        drop(tx);
        let (first, then) = waiting.await.expect("receiver task");
        assert_eq!(first, Some(Outbound::Close(4000, "bye")));
        assert_eq!(then, None);
    }

    #[tokio::test]
    async fn a_dropped_wait_loses_nothing_and_a_gone_session_refuses_frames() {
        let (tx, mut rx) = channel(4);
        // Cancelled while waiting, as `select!` does when another branch wins.
        let cancelled = tokio::time::timeout(std::time::Duration::from_millis(10), rx.recv());
        assert!(cancelled.await.is_err());
        assert!(tx.try_send(Outbound::Text("kept".into())).is_ok());
        assert_eq!(rx.recv().await, Some(Outbound::Text("kept".into())));
        drop(rx);
        assert!(tx.try_send(Outbound::Text("late".into())).is_err());
    }
}
