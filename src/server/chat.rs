//! Conversation operations for the sessions: read the conversation, ask the matcher and
//! `dialogue` what the event means, hand the turn to the store's writer, then do what follows.
//!
//! Turns of one conversation run one at a time ([`Turns`]); different conversations run in
//! parallel and hold no lock while matching. Frames are delivered by the store's writer once
//! durable, in `seq` order, so nothing here sends a visitor frame itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OwnedMutexGuard;

use super::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::dialogue::{self, Claim, Context, Effects, Refused, VisitorEvent};
use crate::handoff::{self, QueueView};
use crate::matcher::ReplyKind;
use crate::model::{Card, Conversation, EndStatus, NewContact, Notice, Turn};
use crate::protocol::{self, AdvisorOut, HandoffCard, HistoryItem, WebhookEvent};
use crate::store::{Applied, StoreError};
use crate::Lang;

/// A frame refused, with the code and message of the `error` frame that answers it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    pub code: &'static str,
    pub message: String,
    /// The conversation the refused frame was about, for advisors (who hold several).
    pub conversation: Option<String>,
    /// When the same frame may be sent again (rate limits).
    pub retry_after: Option<Duration>,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            conversation: None,
            retry_after: None,
        }
    }

    /// Too many frames: this one is dropped; one sent after `wait` passes.
    pub fn rate_limited(wait: Duration) -> Refusal {
        let secs = super::limits::retry_secs(wait);
        Refusal {
            retry_after: Some(wait),
            ..Refusal::new(
                "rate_limited",
                format!(
                    "too many messages at once: this one was not sent, send it again in {secs} s"
                ),
            )
        }
    }

    /// The same refusal, naming the conversation it concerns.
    pub fn about(self, conversation: &str) -> Refusal {
        Refusal {
            conversation: Some(conversation.to_owned()),
            ..self
        }
    }
}

/// A storage failure, logged here; the client only learns it can send again.
impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        tracing::error!(cause = %e, "storage failed");
        Refusal::new(
            "internal",
            "the message could not be saved: please send it again",
        )
    }
}

/// One turn at a time per conversation: a turn decides from the state the previous one left.
///
/// That state is kept here after each visitor turn this node applies, so that the next one
/// need not read it back (a round trip to PostgreSQL, a read connection on SQLite): the turn
/// carries what it saw ([`Turn::seen`]) and the store refuses it as stale if another writer
/// (an advisor, another node, a command) changed the conversation meanwhile; it is then read
/// and decided again.
#[derive(Default)]
pub(super) struct Turns {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    kept: Mutex<HashMap<String, Conversation>>,
}

/// Conversations kept at most (a connected visitor's each): past it, turns read theirs.
const KEPT_MAX: usize = 20_000;

/// Held while a conversation's turn runs; the last holder forgets the conversation's lock.
pub(super) struct TurnGuard<'a> {
    _held: OwnedMutexGuard<()>,
    conversation: String,
    turns: &'a Turns,
}

impl Turns {
    pub(super) async fn lock(&self, conversation: &str) -> TurnGuard<'_> {
        let lock = self
            .map()
            .entry(conversation.to_owned())
            .or_default()
            .clone();
        TurnGuard {
            _held: lock.lock_owned().await,
            conversation: conversation.to_owned(),
            turns: self,
        }
    }

    /// The conversation as this node's last turn on it left it, if kept (taken: a turn that
    /// does not end well leaves nothing behind).
    fn take(&self, conversation: &str) -> Option<Conversation> {
        self.kept().remove(conversation)
    }

    fn keep(&self, conv: Conversation) {
        let mut kept = self.kept();
        if kept.len() < KEPT_MAX || kept.contains_key(&conv.id) {
            kept.insert(conv.id.clone(), conv);
        }
    }

    /// Forgets what is kept of `conversation` (its visitor left, or came back from elsewhere).
    pub(super) fn forget(&self, conversation: &str) {
        self.kept().remove(conversation);
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<String, Conversation>> {
        // Only map updates happen under this lock: a panic cannot leave it half-done.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        // Only map updates happen under this lock: a panic cannot leave it half-done.
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TurnGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.turns.map();
        // The map's handle and ours: nobody else waits, so the entry can go.
        if map
            .get(&self.conversation)
            .is_some_and(|l| Arc::strong_count(l) <= 2)
        {
            map.remove(&self.conversation);
        }
    }
}

/// The conversation for a visitor turn: as kept by [`Turns`], else as stored. Call under the
/// conversation's turn lock.
async fn conversation(state: &AppState, id: &str) -> Result<Conversation, Refusal> {
    match state.turns.take(id) {
        Some(conv) => Ok(conv),
        None => stored(state, id).await,
    }
}

async fn stored(state: &AppState, id: &str) -> Result<Conversation, Refusal> {
    state.db.conversation(id).await?.ok_or_else(|| {
        Refusal::new(
            "no_conversation",
            "this conversation no longer exists: reconnect without a session",
        )
    })
}

/// The turn's frames as the store keeps them (their wire payload).
fn encoded(turn: Turn) -> Turn<String> {
    turn.map_frames(|n| protocol::payload(&n))
}

/// Decides a visitor event from `conv` (reading the queue only when it can matter).
async fn decide(
    state: &AppState,
    conv: &Conversation,
    event: VisitorEvent,
) -> Result<Effects, Refusal> {
    let queue: Vec<String> = if dialogue::may_queue(conv, &event) {
        state
            .db
            .queue()
            .await?
            .into_iter()
            .map(|h| h.conversation)
            .collect()
    } else {
        Vec::new()
    };
    let now = time::OffsetDateTime::now_utc();
    let open = |advisors| handoff::available(advisors, state.schedule.as_ref(), now);
    let ctx = Context {
        rules: &state.rules,
        low_confidence: state.settings.report.low_confidence,
        advisors_available: open(state.hub.advisors_online()),
        queue: &queue,
    };
    // Other nodes' advisors cost a query: asked only when they would change this turn (the
    // turn is a pure function, run again as if some were there).
    let (event, again) = if !ctx.advisors_available && open(1) && state.db.shared() {
        (event.clone(), Some(event))
    } else {
        (event, None)
    };
    let mut effects = dialogue::visitor_turn(conv, event, &ctx);
    if let Some(event) = again {
        let helped = Context {
            advisors_available: true,
            ..ctx
        };
        let assumed = dialogue::visitor_turn(conv, event, &helped);
        if assumed != effects && super::nodes::advisors_elsewhere(state).await > 0 {
            effects = assumed;
        }
    }
    Ok(effects)
}

/// Times a turn is decided again when the conversation changed under it before giving up.
const STALE_TRIES: usize = 3;

/// Decides a visitor event read at `received` from `conv`, commits the turn and does what
/// follows; decides again from the stored conversation when another writer changed it
/// meanwhile. Returns the applied outcome for the log.
async fn visitor_event(
    state: &Arc<AppState>,
    mut conv: Conversation,
    event: VisitorEvent,
    forwarded: Option<String>,
    received: Instant,
) -> Result<Applied, Refusal> {
    let mut tries = 1;
    loop {
        let Effects {
            mut turn,
            opened,
            forward_to,
        } = decide(state, &conv, event.clone()).await?;
        turn.seen = Some(conv.seen());
        let replies: Vec<ReplyKind> = turn
            .frames
            .iter()
            .filter_map(|n| match n {
                Notice::Reply { reply, .. } => Some(reply.kind),
                _ => None,
            })
            .collect();
        // Applied as seen, its frames follow `conv.last_seq`.
        let numbered = conv.last_seq + turn.frames.len() as u64;
        let next = conv.after(&turn, numbered, now_ms());
        let applied = state.db.apply(encoded(turn)).await?;
        match &applied {
            Applied::Stale if tries < STALE_TRIES => {
                tracing::debug!(conversation = %conv.id, tries, "changed meanwhile: deciding again");
                tries += 1;
                conv = stored(state, &conv.id).await?;
                continue;
            }
            Applied::Stale => {
                return Err(Refusal::new(
                    "busy",
                    "the conversation kept changing while your message was answered: send it again",
                ))
            }
            Applied::Done { .. } => {
                state.turns.keep(next);
                // Delivered with the commit: the reply is on its way to the socket.
                for kind in replies {
                    state.metrics.reply(kind, received.elapsed());
                }
                if let (Some(advisor), Some(text)) = (forward_to, forwarded) {
                    let frame = AdvisorOut::VisitorMessage {
                        conversation: conv.id.clone(),
                        text,
                    };
                    state.hub.to_advisor(&advisor, &frame.to_text());
                }
                if let Some(card) = opened {
                    state.metrics.handoff_started();
                    announce(state.clone(), conv.id.clone(), card, "new");
                }
            }
            Applied::Duplicate { .. } | Applied::Conflict => {}
        }
        return Ok(applied);
    }
}

/// A visitor `message`.
pub(super) async fn visitor_message(
    state: &Arc<AppState>,
    conv_id: &str,
    text: String,
    client_id: Option<String>,
    received: Instant,
) -> Result<(), Refusal> {
    let _turn = state.turns.lock(conv_id).await;
    let conv = conversation(state, conv_id).await?;
    // One snapshot and one analysis for the reply and what a miss records of it (its terms):
    // a reload may swap the knowledge between two calls. The language is detected per
    // message: visitors switch.
    let matcher = state.live.matcher();
    let (reply, terms) = matcher.reply_with_terms(&text);
    let (kind, faq_id, confidence) = (reply.kind, reply.faq_id.clone(), reply.confidence);
    if state.settings.privacy.log_text {
        // Only on the operator's explicit say-so: the text is health data.
        tracing::debug!(conversation = conv_id, text = %text, "visitor text (privacy.log_text)");
    }
    let event = VisitorEvent::Asked {
        text: text.clone(),
        id: client_id,
        reply,
        terms,
    };
    let held = conv.advisor.is_some();
    let applied = visitor_event(state, conv, event, Some(text), received).await?;
    // At debug: one line per turn cost ~4 % of the service's CPU under load.
    tracing::debug!(
        conversation = conv_id,
        kind = kind.as_str(),
        faq_id = faq_id.as_deref().unwrap_or("-"),
        confidence,
        duplicate = matches!(applied, Applied::Duplicate { .. }),
        forwarded = held,
        us = received.elapsed().as_micros() as u64,
        "visitor message"
    );
    Ok(())
}

/// A visitor `choose`: the answer of the picked suggestion.
pub(super) async fn visitor_choose(
    state: &Arc<AppState>,
    conv_id: &str,
    faq_id: String,
    received: Instant,
) -> Result<(), Refusal> {
    let _turn = state.turns.lock(conv_id).await;
    let conv = conversation(state, conv_id).await?;
    let lang = Lang::from_code(&conv.lang).unwrap_or(Lang::Fr);
    let matcher = state.live.matcher();
    let Some(reply) = matcher.answer_entry(&faq_id, lang) else {
        return Err(Refusal::new(
            "unknown_faq",
            format!("there is no FAQ entry `{faq_id}`: pick one of the suggestions"),
        ));
    };
    // The transcript shows the question picked, as if typed.
    let question = matcher
        .knowledge()
        .entry(&faq_id, reply.lang)
        .map(|e| e.question.clone())
        .unwrap_or_else(|| faq_id.clone());
    let event = VisitorEvent::Picked {
        faq_id: faq_id.clone(),
        question: question.clone(),
        reply,
    };
    visitor_event(state, conv, event, Some(question), received).await?;
    tracing::debug!(conversation = conv_id, faq_id, "suggestion picked");
    Ok(())
}

/// A visitor `handoff`: the advisor button.
pub(super) async fn visitor_handoff(
    state: &Arc<AppState>,
    conv_id: &str,
    received: Instant,
) -> Result<(), Refusal> {
    let _turn = state.turns.lock(conv_id).await;
    let conv = conversation(state, conv_id).await?;
    let event = VisitorEvent::AskedForAdvisor;
    visitor_event(state, conv, event, None, received).await?;
    tracing::info!(conversation = conv_id, "handoff requested");
    Ok(())
}

/// A visitor `contact` request, already validated.
pub(super) async fn visitor_contact(
    state: &Arc<AppState>,
    conv_id: &str,
    contact: NewContact,
    received: Instant,
) -> Result<(), Refusal> {
    let _turn = state.turns.lock(conv_id).await;
    let conv = conversation(state, conv_id).await?;
    let event = VisitorEvent::Contact(contact);
    visitor_event(state, conv, event, None, received).await?;
    // Never the contact details themselves: they are health-related personal data.
    tracing::info!(conversation = conv_id, "contact request saved");
    Ok(())
}

/// Tells every advisor how the queue changed since they were last told, after `first` (an
/// alert) if any. Pushes are serialised and each reads the queue after taking its turn, so
/// every console ends on the newest queue.
pub(super) async fn push_queue(state: &AppState, first: Option<String>) {
    let mut shown = state.queue_shown.lock().await;
    if let Some(text) = first {
        state.hub.to_advisors(&text);
    }
    if let Err(e) = refresh_queue(state, &mut shown).await {
        tracing::error!(cause = %e, "cannot read the queue for advisors");
    }
}

/// Reads the queue and sends every connected advisor what changed since `shown`, which it
/// then holds the new queue.
async fn refresh_queue(state: &AppState, shown: &mut QueueView) -> Result<(), StoreError> {
    let next = QueueView::of(&state.db.queue().await?);
    for change in shown.changes(&next) {
        state.hub.to_advisors(&change.to_text());
    }
    *shown = next;
    Ok(())
}

/// Pushes the queue to every advisor, raises an alert and posts the webhook.
pub(super) fn announce(state: Arc<AppState>, conversation: String, card: Card, kind: &'static str) {
    tracing::info!(conversation = %conversation, reason = %card.reason, kind, "handoff alert");
    if let Some(hook) = &state.webhook {
        hook.post(WebhookEvent {
            event: if kind == "new" {
                "handoff"
            } else {
                "escalation"
            },
            conversation: conversation.clone(),
            reason: card.reason.clone(),
            lang: card.lang.clone(),
            page: card.page.clone(),
            waiting_since: rfc3339(now_ms()),
        });
    }
    alert_advisors(state, conversation, &card, kind);
}

/// Alerts every advisor connected here, then pushes them the queue (a handoff announced on
/// another node: its webhook was posted there).
pub(super) fn alert_advisors(
    state: Arc<AppState>,
    conversation: String,
    card: &Card,
    kind: &'static str,
) {
    let alert = AdvisorOut::Alert {
        kind,
        conversation,
        card: HandoffCard::from(card),
    }
    .to_text();
    // The alert first: a console can highlight the item when the queue arrives.
    tokio::spawn(async move { push_queue(&state, Some(alert)).await });
}

/// An advisor's transcript frame for one conversation.
async fn transcript(state: &AppState, conversation: &str) -> Result<String, StoreError> {
    let (messages, card) = state.db.transcript(conversation).await?;
    Ok(AdvisorOut::Transcript {
        conversation: conversation.to_owned(),
        messages: messages.iter().map(HistoryItem::from).collect(),
        card: card.as_ref().map(HandoffCard::from),
    }
    .to_text())
}

/// A new advisor connection: registers it and sends hello, the queue and its conversations.
pub(super) async fn advisor_connected(
    state: &Arc<AppState>,
    name: String,
    role: String,
    tx: tokio::sync::mpsc::Sender<handoff::Outbound>,
) -> Result<u64, StoreError> {
    // The others are brought up to date first: then the newcomer's whole queue and everyone's
    // next change start from the same view (pushes wait for this lock).
    let mut shown = state.queue_shown.lock().await;
    refresh_queue(state, &mut shown).await?;
    let id = state.hub.register_advisor(&name, tx);
    // Before the console hears anything: once it has, visitors on every node may be queued.
    super::nodes::advertise(state).await;
    state.hub.to_advisor_conn(
        id,
        &AdvisorOut::Hello {
            advisor: name.clone(),
            role,
        }
        .to_text(),
    );
    state.hub.to_advisor_conn(id, &shown.frame().to_text());
    for conv in state.db.assigned_to(&name).await? {
        state
            .hub
            .to_advisor_conn(id, &transcript(state, &conv).await?);
    }
    Ok(id)
}

fn refused(r: Refused) -> Refusal {
    match r {
        Refused::NotWaiting => Refusal::new(
            "already_claimed",
            "this conversation is not waiting: another advisor took it, or it was never handed off",
        ),
        Refused::NotYours => Refusal::new(
            "not_yours",
            "you do not hold this conversation: claim it first",
        ),
    }
}

/// An advisor `claim`: exactly one advisor wins (decided by the store).
pub(super) async fn claim(
    state: &Arc<AppState>,
    conn_id: u64,
    conv_id: &str,
    advisor: &str,
) -> Result<(), Refusal> {
    let taken = {
        let _turn = state.turns.lock(conv_id).await;
        let conv = state.db.conversation(conv_id).await?;
        let queue: Vec<String> = state
            .db
            .queue()
            .await?
            .into_iter()
            .map(|h| h.conversation)
            .collect();
        match dialogue::claim(conv_id, conv.as_ref(), advisor, &queue).map_err(refused)? {
            Claim::AlreadyYours => false,
            Claim::Take { turn, moved } => {
                match state.db.apply(encoded(*turn)).await? {
                    Applied::Done { .. } => {}
                    _ => {
                        return Err(Refusal::new(
                            "already_claimed",
                            "another advisor took this conversation first",
                        ))
                    }
                }
                // Everyone behind is told their new place; these turns share a batch. What
                // their visitors' turns kept is out of date (as is this one's).
                state.turns.forget(conv_id);
                for t in &moved {
                    state.turns.forget(&t.conversation);
                }
                let moves = moved.into_iter().map(|t| state.db.apply(encoded(t)));
                for result in futures_util::future::join_all(moves).await {
                    if let Err(e) = result {
                        tracing::error!(cause = %e, "cannot tell a queued visitor their place");
                    }
                }
                true
            }
        }
    };
    state
        .hub
        .to_advisor_conn(conn_id, &transcript(state, conv_id).await?);
    if taken {
        let claimed = AdvisorOut::Claimed {
            conversation: conv_id.to_owned(),
            by: advisor.to_owned(),
        };
        state.hub.to_advisors(&claimed.to_text());
        state.metrics.claimed();
        push_queue(state, None).await;
        tracing::info!(conversation = conv_id, advisor, "claimed");
    }
    Ok(())
}

/// An advisor `message` to a conversation it holds.
pub(super) async fn advisor_message(
    state: &Arc<AppState>,
    conv_id: &str,
    advisor: &str,
    text: String,
) -> Result<(), Refusal> {
    let _turn = state.turns.lock(conv_id).await;
    // What the visitor's last turn left is theirs: the advisor's turn reads the stored state,
    // and changes it.
    state.turns.forget(conv_id);
    let conv = stored(state, conv_id).await?;
    if state.settings.privacy.log_text {
        tracing::debug!(conversation = conv_id, advisor, text = %text, "advisor text (privacy.log_text)");
    }
    let turn = dialogue::advisor_message(&conv, advisor, text).map_err(refused)?;
    // Stored even when the visitor is away: it is replayed when they come back.
    state.db.apply(encoded(turn)).await?;
    tracing::info!(conversation = conv_id, advisor, "advisor message");
    Ok(())
}

/// An advisor `release` (back to the bot) or `close`.
pub(super) async fn advisor_end(
    state: &Arc<AppState>,
    conv_id: &str,
    advisor: &str,
    status: EndStatus,
) -> Result<(), Refusal> {
    {
        let _turn = state.turns.lock(conv_id).await;
        state.turns.forget(conv_id);
        let turn = dialogue::end(conv_id, advisor, status);
        match state.db.apply(encoded(turn)).await? {
            Applied::Done { .. } => {}
            _ => {
                return Err(Refusal::new(
                    "not_yours",
                    "you do not hold this conversation",
                ))
            }
        }
    }
    let ended = AdvisorOut::Ended {
        conversation: conv_id.to_owned(),
        by: advisor.to_owned(),
        status: status.as_str(),
    };
    state.hub.to_advisors(&ended.to_text());
    tracing::info!(
        conversation = conv_id,
        advisor,
        status = status.as_str(),
        "handoff ended"
    );
    Ok(())
}

/// A delay setting in seconds as (milliseconds, how often to check for it); `None` when 0 (off).
/// A quarter of the delay keeps each action within 25 % of its due time.
fn checked_every(after_secs: u64) -> Option<(i64, Duration)> {
    let after_ms = after_secs.saturating_mul(1000);
    (after_ms > 0).then(|| {
        let period = Duration::from_millis((after_ms / 4).clamp(200, 30_000));
        (i64::try_from(after_ms).unwrap_or(i64::MAX), period)
    })
}

/// Escalates handoffs left unclaimed for `handoff.escalate_after_secs`, until aborted.
pub(super) async fn escalation_loop(state: Arc<AppState>) {
    let Some((after_ms, period)) = checked_every(state.settings.handoff.escalate_after_secs) else {
        return;
    };
    loop {
        tokio::time::sleep(period).await;
        match state.db.escalate(now_ms().saturating_sub(after_ms)).await {
            Ok(due) => {
                for h in due {
                    announce(state.clone(), h.conversation, h.card, "escalated");
                }
            }
            Err(e) => tracing::error!(cause = %e, "escalation check failed"),
        }
    }
}

/// Several nodes: another node knows only the database, where a queued visitor connected here
/// but silent looks like one who left. Their activity is refreshed once they are half-way to
/// the delay (this runs every quarter of it), so no node ever finds them quiet for all of it.
async fn keep_connected_active(state: &AppState, after_ms: i64) {
    let halfway = now_ms().saturating_sub(after_ms / 2);
    let quiet = match state.db.quiet_in_queue(halfway).await {
        Ok(q) => q,
        Err(e) => {
            tracing::error!(cause = %e, "cannot read the queue's quiet visitors");
            return;
        }
    };
    for c in quiet.iter().filter(|c| state.hub.visitor_online(c)) {
        if let Err(e) = state.db.touch(c, None).await {
            tracing::error!(cause = %e, "cannot mark a connected queued visitor active");
        }
    }
}

/// Takes visitors who left out of the queue after `handoff.leave_queue_after_secs` without a
/// connection or activity, until aborted: advisors no longer see chats nobody is waiting in.
pub(super) async fn leave_queue_loop(state: Arc<AppState>) {
    let Some((after_ms, period)) = checked_every(state.settings.handoff.leave_queue_after_secs)
    else {
        return;
    };
    loop {
        tokio::time::sleep(period).await;
        if state.db.shared() {
            keep_connected_active(&state, after_ms).await;
        }
        let quiet = match state
            .db
            .quiet_in_queue(now_ms().saturating_sub(after_ms))
            .await
        {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(cause = %e, "cannot read the queue's quiet visitors");
                continue;
            }
        };
        // Still connected means still waiting, however long they have been silent.
        let gone: Vec<String> = quiet
            .into_iter()
            .filter(|c| !state.hub.visitor_online(c))
            .collect();
        if gone.is_empty() {
            continue;
        }
        match state.db.abandon(gone).await {
            Ok(left) if !left.is_empty() => {
                tracing::info!(
                    count = left.len(),
                    "visitors who left taken out of the queue"
                );
                push_queue(&state, None).await;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(cause = %e, "cannot take visitors who left out of the queue"),
        }
    }
}
