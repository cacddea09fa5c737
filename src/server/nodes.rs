//! What another node committed, acted on here (PostgreSQL, several nodes): its frames go to
//! the visitors connected to this node, its visitors' messages, alerts, claims and queue
//! changes to the advisors connected here.
//!
//! Each event carries ids only; what is sent is read from the database, so a lost notification
//! costs a delay, not a frame: a listener that reconnects re-reads ([`NodeEvent::Resync`]).

use std::sync::{Arc, Weak};

use super::{chat, AppState};
use crate::protocol::AdvisorOut;
use crate::store::{NodeEvent, OnEvent, StoreError, PRESENCE_EVERY};

/// Frames a re-read sends a visitor at most: the session skips those it has, and one that
/// missed more resumes with `last_seq` when it reconnects.
const RESYNC_PAGE: usize = 100;

/// Tells the other nodes how many advisors are connected here (several nodes; else nothing).
pub(super) async fn advertise(state: &AppState) {
    if !state.db.shared() {
        return;
    }
    let advisors = || state.hub.advisors_online() as u64;
    if let Err(e) = state.db.advertise(advisors).await {
        tracing::warn!(cause = %e, "cannot tell the other nodes this one's advisors: retried shortly");
    }
}

/// Advisors connected to other nodes when none is connected here (a visitor here may then be
/// queued for them); 0 with one node, or when some are here (no need to ask).
pub(super) async fn advisors_elsewhere(state: &AppState) -> usize {
    if !state.db.shared() || state.hub.advisors_online() > 0 {
        return 0;
    }
    match state.db.advisors_elsewhere().await {
        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Err(e) => {
            tracing::warn!(cause = %e, "cannot read the other nodes' advisors: counting none");
            0
        }
    }
}

/// Repeats [`advertise`] until aborted, so that this node's advisors keep counting elsewhere
/// (and stop soon after it is killed).
pub(super) async fn presence_loop(state: Arc<AppState>) {
    if !state.db.shared() {
        return;
    }
    loop {
        advertise(&state).await;
        tokio::time::sleep(PRESENCE_EVERY).await;
    }
}

/// The handler the store's listener calls. It holds the state weakly: the store it lives in
/// must not keep the state alive.
pub(super) fn handler(state: &Arc<AppState>) -> OnEvent {
    let weak: Weak<AppState> = Arc::downgrade(state);
    Arc::new(move |event| {
        let weak = weak.clone();
        Box::pin(async move {
            let Some(state) = weak.upgrade() else { return };
            if let Err(e) = act(&state, event).await {
                tracing::error!(cause = %e, "cannot act on another node's change: its clients catch up when they reconnect");
            }
        })
    })
}

async fn act(state: &Arc<AppState>, event: NodeEvent) -> Result<(), StoreError> {
    match event {
        NodeEvent::Frames {
            conversation,
            first,
            last,
        } => {
            if !state.hub.visitor_online(&conversation) {
                return Ok(());
            }
            let count = last.saturating_sub(first).saturating_add(1);
            let frames = state
                .db
                .frames_after(
                    &conversation,
                    first.saturating_sub(1),
                    usize::try_from(count).unwrap_or(usize::MAX),
                )
                .await?;
            state.hub.deliver(&conversation, &frames, false);
        }
        NodeEvent::VisitorMessage {
            conversation,
            message,
        } => {
            if state.hub.advisors_online() == 0 {
                return Ok(());
            }
            if let Some((advisor, text)) = state.db.to_forward(&conversation, message).await? {
                let frame = AdvisorOut::VisitorMessage { conversation, text };
                state.hub.to_advisor(&advisor, &frame.to_text());
            }
        }
        NodeEvent::Queue => chat::push_queue(state, None).await,
        NodeEvent::Alert {
            conversation,
            escalated,
        } => {
            if state.hub.advisors_online() == 0 {
                return Ok(());
            }
            let queued = state.db.queue().await?;
            if let Some(h) = queued.into_iter().find(|h| h.conversation == conversation) {
                let kind = if escalated { "escalated" } else { "new" };
                chat::alert_advisors(state.clone(), conversation, &h.card, kind);
            }
        }
        NodeEvent::Erased { conversation, by } => {
            state
                .hub
                .close_visitor(&conversation, super::privacy::GONE, "conversation erased");
            if !by.is_empty() {
                state
                    .hub
                    .to_advisors(&AdvisorOut::Erased { conversation, by }.to_text());
            }
            chat::push_queue(state, None).await;
        }
        NodeEvent::Claimed { conversation } => {
            if state.hub.advisors_online() == 0 {
                return Ok(());
            }
            if let Some(by) = state
                .db
                .conversation(&conversation)
                .await?
                .and_then(|c| c.advisor)
            {
                state
                    .hub
                    .to_advisors(&AdvisorOut::Claimed { conversation, by }.to_text());
            }
        }
        NodeEvent::Resync => {
            chat::push_queue(state, None).await;
            for (conversation, delivered) in state.hub.visitors_delivered() {
                let after = if delivered > 0 {
                    delivered
                } else {
                    // Nothing handed over yet: the session has what its opening read.
                    match state.db.conversation(&conversation).await? {
                        Some(c) => c.last_seq.saturating_sub(RESYNC_PAGE as u64),
                        None => continue,
                    }
                };
                let frames = state
                    .db
                    .frames_after(&conversation, after, RESYNC_PAGE)
                    .await?;
                if !frames.is_empty() {
                    state.hub.deliver(&conversation, &frames, false);
                }
            }
        }
    }
    Ok(())
}
