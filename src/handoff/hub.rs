//! [`Hub`]: who is connected right now (one live connection per visitor conversation, any
//! number of advisor connections) and the bounded queues that carry frames to them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::mpsc;

use super::queue;
use crate::store::StoredFrame;

/// What a session task is asked to write to its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A JSON text frame.
    Text(String),
    /// A conversation frame numbered `seq` (JSON text): a session that already sent that
    /// number (in a resume's replay) skips it.
    Numbered(u64, String),
    /// Close the socket with this code and reason (e.g. replaced by a newer connection).
    Close(u16, &'static str),
}

/// Live connections. Sending never waits: a connection whose queue is full is dropped from
/// the hub (its session then closes; the client resumes with `last_seq` and loses nothing).
#[derive(Default)]
pub struct Hub {
    /// `std::sync::Mutex`: held only for map updates and `try_send`, never across an `.await`.
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

#[derive(Default)]
struct Inner {
    /// Conversation id → its live connection.
    visitors: HashMap<String, Conn>,
    /// Connection id → advisor connection.
    advisors: HashMap<u64, AdvisorConn>,
}

struct Conn {
    id: u64,
    tx: queue::Sender,
    /// The highest `seq` handed to it (0: none yet): where a re-read after a lost
    /// notification starts (several nodes).
    delivered: u64,
}

struct AdvisorConn {
    name: String,
    tx: mpsc::Sender<Outbound>,
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing under this lock can leave the maps half-updated, so poisoning is harmless.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `tx` the conversation's live connection; an older one is told to close.
    pub fn register_visitor(&self, conversation: &str, tx: queue::Sender) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Some(old) = self.lock().visitors.insert(
            conversation.to_owned(),
            Conn {
                id,
                tx,
                delivered: 0,
            },
        ) {
            let _ = old
                .tx
                .try_send(Outbound::Close(4000, "replaced by a newer connection"));
        }
        id
    }

    /// Forgets the connection, unless a newer one already replaced it.
    pub fn unregister_visitor(&self, conversation: &str, id: u64) {
        let mut inner = self.lock();
        if inner.visitors.get(conversation).is_some_and(|c| c.id == id) {
            inner.visitors.remove(conversation);
        }
    }

    /// Closes the conversation's live connection, if any, with `code` and `reason`, and forgets
    /// it: nothing more is delivered to it. Returns whether there was one.
    pub fn close_visitor(&self, conversation: &str, code: u16, reason: &'static str) -> bool {
        let Some(conn) = self.lock().visitors.remove(conversation) else {
            return false;
        };
        // A full queue cannot take the Close: dropping the sender ends the session anyway.
        let _ = conn.tx.try_send(Outbound::Close(code, reason));
        true
    }

    /// Visitor conversations with a live connection.
    pub fn visitors_online(&self) -> usize {
        self.lock().visitors.len()
    }

    pub fn visitor_online(&self, conversation: &str) -> bool {
        self.lock().visitors.contains_key(conversation)
    }

    /// Each connected visitor's conversation and the highest `seq` handed to it.
    pub fn visitors_delivered(&self) -> Vec<(String, u64)> {
        self.lock()
            .visitors
            .iter()
            .map(|(c, conn)| (c.clone(), conn.delivered))
            .collect()
    }

    /// Hands stored frames to the conversation's connection, if any.
    /// `resent` frames go even if the connection already sent their numbers (they answer a
    /// message id sent again).
    pub fn deliver(&self, conversation: &str, frames: &[StoredFrame], resent: bool) {
        let mut inner = self.lock();
        let Some(conn) = inner.visitors.get_mut(conversation) else {
            return;
        };
        for f in frames {
            conn.delivered = conn.delivered.max(f.seq);
            let text = crate::protocol::numbered(f.seq, &f.payload);
            let out = if resent {
                Outbound::Text(text)
            } else {
                Outbound::Numbered(f.seq, text)
            };
            if conn.tx.try_send(out).is_err() {
                // Too slow (or gone): drop it; the frames are stored and replayed on resume.
                tracing::warn!(conversation, "visitor queue full: dropping the connection");
                inner.visitors.remove(conversation);
                return;
            }
        }
    }

    pub fn register_advisor(&self, name: &str, tx: mpsc::Sender<Outbound>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().advisors.insert(
            id,
            AdvisorConn {
                name: name.to_owned(),
                tx,
            },
        );
        id
    }

    pub fn unregister_advisor(&self, id: u64) {
        self.lock().advisors.remove(&id);
    }

    /// Advisor connections open now.
    pub fn advisors_online(&self) -> usize {
        self.lock().advisors.len()
    }

    /// Sends to every advisor connection.
    pub fn to_advisors(&self, text: &str) {
        self.lock()
            .advisors
            .retain(|_, a| send_or_drop(&a.tx, text));
    }

    /// Sends to every connection of one advisor (they may have two tabs open).
    pub fn to_advisor(&self, name: &str, text: &str) {
        self.lock()
            .advisors
            .retain(|_, a| a.name != name || send_or_drop(&a.tx, text));
    }

    /// Sends to one advisor connection.
    pub fn to_advisor_conn(&self, id: u64, text: &str) {
        let mut inner = self.lock();
        if let Some(a) = inner.advisors.get(&id) {
            if !send_or_drop(&a.tx, text) {
                inner.advisors.remove(&id);
            }
        }
    }

    /// Asks every session to close (shutdown); they also watch the shutdown signal.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        let inner = self.lock();
        for c in inner.visitors.values() {
            let _ = c.tx.try_send(Outbound::Close(code, reason));
        }
        for a in inner.advisors.values() {
            let _ = a.tx.try_send(Outbound::Close(code, reason));
        }
    }
}

/// `true` when queued; `false` drops the connection: a lagging advisor reconnects and gets a
/// fresh queue snapshot, which is all it needs.
fn send_or_drop(tx: &mpsc::Sender<Outbound>, text: &str) -> bool {
    let ok = tx.try_send(Outbound::Text(text.to_owned())).is_ok();
    if !ok {
        tracing::warn!("advisor queue full: dropping the connection");
    }
    ok
}
