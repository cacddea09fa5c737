//! Privacy in the running service: the purge of what is older than `[privacy] retention_days`
//! (at start, then every hour), and an advisor's erasure of a conversation they hold.
//!
//! **Invariant:** a conversation removed from the store has no live connection left: the hub
//! closes it (code [`GONE`]), so no frame of it is delivered after its rows are gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chat::{push_queue, Refusal};
use super::AppState;
use crate::clock::now_ms;
use crate::model::{Purged, Removed};
use crate::protocol::AdvisorOut;
use crate::store::StoreError;

/// The close code a visitor gets when their conversation is erased or purged (4000–4999 are the
/// application's): the widget forgets the conversation instead of resuming it.
pub const GONE: u16 = 4001;

/// How often the purge runs after the one at start. Retention is counted in days: an hour late
/// at most is well within it.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Purges at start, then every [`PURGE_EVERY`], until aborted (shutdown). Does nothing when the
/// retention is 0 (keep forever).
pub(super) async fn purge_loop(state: Arc<AppState>) {
    if state.settings.privacy.retention_days == 0 {
        tracing::info!("privacy.retention_days is 0: nothing is ever purged");
        return;
    }
    loop {
        let started = Instant::now();
        match purge(&state).await {
            Ok(Purged {
                removed,
                kept_in_chat,
            }) => {
                let level_info = removed.total() > 0 || kept_in_chat > 0;
                let ms = started.elapsed().as_millis() as u64;
                let days = state.settings.privacy.retention_days;
                if level_info {
                    tracing::info!(
                        days,
                        conversations = removed.conversations,
                        messages = removed.messages,
                        frames = removed.frames,
                        misses = removed.misses,
                        handoffs = removed.handoffs,
                        contacts = removed.contacts,
                        kept_in_chat,
                        ms,
                        "purged what is past the retention period"
                    );
                } else {
                    tracing::debug!(days, ms, "purge: nothing past the retention period");
                }
            }
            Err(e) => tracing::error!(cause = %e, "purge failed: it runs again in an hour"),
        }
        tokio::time::sleep(PURGE_EVERY).await;
    }
}

/// Removes what is past the retention period now: conversations a batch at a time (each batch
/// one of the writer's transactions, among the turns), closing the live connection of each
/// conversation removed, then contact requests.
async fn purge(state: &AppState) -> Result<Purged, StoreError> {
    let Some(cutoff) = state.settings.privacy.cutoff(now_ms()) else {
        return Ok(Purged::default());
    };
    let mut removed = Removed::default();
    let mut after = String::new();
    loop {
        let ids = state.db.purgeable(cutoff, &after).await?;
        let Some(last) = ids.last() else { break };
        after = last.clone();
        let (batch, gone) = state.db.purge_conversations(ids, cutoff).await?;
        // Only a visitor idle on an open page since before the cutoff can still be connected.
        for id in &gone {
            state.hub.close_visitor(id, GONE, "conversation expired");
        }
        removed.add(batch);
    }
    loop {
        let (contacts, last) = state.db.purge_contacts(cutoff).await?;
        removed.contacts += contacts;
        if last {
            break;
        }
    }
    Ok(Purged {
        removed,
        kept_in_chat: state.db.kept_in_chat(cutoff).await?,
    })
}

/// An advisor `erase`: removes a conversation they hold and everything stored with it, closes
/// the visitor's connection and tells every advisor.
pub(super) async fn erase(
    state: &Arc<AppState>,
    conv_id: &str,
    advisor: &str,
) -> Result<(), Refusal> {
    let removed = {
        // Under the conversation's turn: no visitor turn runs between the check and the erasure,
        // and the next one finds no conversation.
        let _turn = state.turns.lock(conv_id).await;
        state.db.erase_held(conv_id, advisor).await?
    };
    let Some(removed) = removed else {
        return Err(Refusal::new(
            "not_yours",
            "you do not hold this conversation: only the advisor who holds it can erase it",
        ));
    };
    let online = state
        .hub
        .close_visitor(conv_id, GONE, "conversation erased");
    let erased = AdvisorOut::Erased {
        conversation: conv_id.to_owned(),
        by: advisor.to_owned(),
    };
    state.hub.to_advisors(&erased.to_text());
    push_queue(state, None).await;
    tracing::info!(
        conversation = conv_id,
        advisor,
        messages = removed.messages,
        contacts = removed.contacts,
        visitor_online = online,
        "conversation erased"
    );
    Ok(())
}
