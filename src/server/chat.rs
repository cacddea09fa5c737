//! Conversation operations: visitor messages, choices, handoffs and contact requests; advisor
//! claims, messages, releases and closes; queue pushes and escalation.
//!
//! Each operation is one call on the store that reads, decides, commits and then delivers the
//! committed frames, all under the store lock: frames reach a connection in `seq` order, and
//! nothing is delivered that is not on disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::AppState;
use crate::dialogue::{self, HandoffReason};
use crate::handoff;
use crate::protocol::{
    AdvisorOut, CandidateWire, HandoffCard, HandoffStatusWire, ReplyPayload, VisitorOut,
    WebhookEvent,
};
use crate::report;
use crate::store::{
    now_ms, rfc3339, Applied, Conversation, ConversationUpdate, EndStatus, HandoffChange, Miss,
    Mode, NewContact, NewMessage, Outcome, Sender, Store, StoreError, Turn, PICK,
};
use crate::{Lang, Matcher, Reply};

/// A frame refused, with the code and message of the `error` frame that answers it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    pub code: &'static str,
    pub message: String,
    /// The conversation the refused frame was about, for advisors (who hold several).
    pub conversation: Option<String>,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            conversation: None,
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

/// Runs `f` on the store, turning a storage failure into a generic refusal (logged here; the
/// client only learns it can send again).
async fn call<T, F>(state: &Arc<AppState>, f: F) -> Result<T, Refusal>
where
    F: FnOnce(&mut dyn Store) -> Result<Result<T, Refusal>, StoreError> + Send + 'static,
    T: Send + 'static,
{
    match state.store.run(f).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(cause = %e, "storage failed");
            Err(Refusal::new(
                "internal",
                "the message could not be saved: please send it again",
            ))
        }
    }
}

fn conversation(s: &mut dyn Store, id: &str) -> Result<Result<Conversation, Refusal>, StoreError> {
    Ok(s.conversation(id)?.ok_or_else(|| {
        Refusal::new(
            "no_conversation",
            "this conversation no longer exists: reconnect without a session",
        )
    }))
}

fn lang_of(conv: &Conversation) -> Lang {
    Lang::from_code(&conv.lang).unwrap_or(Lang::Fr)
}

fn candidates(reply: &Reply) -> Vec<CandidateWire> {
    reply
        .candidates
        .iter()
        .map(|c| CandidateWire {
            id: c.id.clone(),
            is_intent: c.is_intent,
            question: c.question.clone(),
            confidence: (c.confidence * 1000.0).round() / 1000.0,
        })
        .collect()
}

/// What a visitor operation leaves to do after the commit.
#[derive(Debug, Default)]
pub(super) struct After {
    /// A handoff joined the queue: announce it.
    pub opened: Option<HandoffCard>,
    /// The advisor holding the conversation gets the visitor's text.
    pub forward_to: Option<String>,
    /// For the log line: the reply kind, entry and confidence.
    pub kind: Option<&'static str>,
    pub faq_id: Option<String>,
    pub confidence: Option<f32>,
    pub duplicate: bool,
}

/// Adds the handoff request to `turn`: queued (someone can answer), unavailable (nobody
/// can), or the current status again when already queued or assigned.
fn request_handoff(
    state: &AppState,
    s: &mut dyn Store,
    turn: &mut Turn,
    conv: &Conversation,
    reason: HandoffReason,
) -> Result<Option<HandoffCard>, StoreError> {
    match conv.mode {
        Mode::Queued => {
            let position = s
                .queue()?
                .iter()
                .position(|h| h.conversation == conv.id)
                .map(|p| p as u32 + 1);
            turn.frames.push(VisitorOut::Handoff {
                status: HandoffStatusWire::Queued,
                position,
                advisor: None,
            });
            Ok(None)
        }
        Mode::Advisor => {
            turn.frames.push(VisitorOut::Handoff {
                status: HandoffStatusWire::Assigned,
                position: None,
                advisor: conv.advisor.clone(),
            });
            Ok(None)
        }
        Mode::Bot => {
            let card = handoff::card(conv, reason);
            if handoff::available(
                &state.hub,
                state.schedule.as_ref(),
                time::OffsetDateTime::now_utc(),
            ) {
                let position = s.queue()?.len() as u32 + 1;
                turn.handoff = Some(HandoffChange::Open(card.clone()));
                turn.frames.push(VisitorOut::Handoff {
                    status: HandoffStatusWire::Queued,
                    position: Some(position),
                    advisor: None,
                });
                Ok(Some(card))
            } else {
                turn.handoff = Some(HandoffChange::Unavailable(card));
                turn.frames.push(VisitorOut::Handoff {
                    status: HandoffStatusWire::Unavailable,
                    position: None,
                    advisor: None,
                });
                Ok(None)
            }
        }
    }
}

/// Where the text of a visitor turn comes from.
enum Origin {
    /// Typed, with the message's id.
    Typed(Option<String>),
    /// A suggestion picked: this entry.
    Picked(String),
}

/// Builds and commits the turn of a visitor text (typed, or a picked suggestion) and its reply.
fn reply_turn(
    state: &AppState,
    matcher: &Matcher,
    s: &mut dyn Store,
    mut conv: Conversation,
    text: String,
    reply: Reply,
    origin: Origin,
) -> Result<After, StoreError> {
    let client_id = match &origin {
        Origin::Typed(id) => id.clone(),
        Origin::Picked(_) => None,
    };
    let step = dialogue::on_message(conv.mode, conv.fallbacks, reply.clone(), &state.rules);
    let mut after = After {
        kind: Some(reply.kind.as_str()),
        faq_id: reply.faq_id.clone(),
        confidence: Some(reply.confidence),
        ..After::default()
    };
    let mut turn = Turn {
        conversation: conv.id.clone(),
        client_id: client_id.clone(),
        messages: vec![NewMessage::visitor(text.clone())],
        ..Turn::default()
    };
    turn.update = ConversationUpdate {
        lang: Some(reply.lang.code().to_owned()),
        fallbacks: Some(step.fallbacks),
        offer_reason: (conv.mode != Mode::Advisor)
            .then(|| step.offer.map(|r| r.as_str().to_owned())),
        last_question: Some(text.clone()),
        last_candidates: Some(candidates(&reply)),
        touch: true,
    };
    if let Some(r) = &step.reply {
        turn.messages.push(NewMessage {
            from: Sender::Bot,
            text: r.text.clone(),
            faq_id: r.faq_id.clone(),
            confidence: Some(r.confidence),
            advisor: None,
            kind: Some(match origin {
                Origin::Typed(_) => r.kind.as_str(),
                Origin::Picked(_) => PICK,
            }),
        });
        turn.frames.push(VisitorOut::Reply {
            reply_to: client_id,
            reply: ReplyPayload::from(r),
            handoff_offer: step.offer.is_some(),
        });
    }
    // While an advisor holds the conversation the bot does not answer: nothing to learn.
    if conv.mode != Mode::Advisor {
        let low = state.settings.report.low_confidence;
        match origin {
            Origin::Picked(faq_id) => turn.outcome = Some(Outcome::Picked(faq_id)),
            Origin::Typed(_) => {
                turn.outcome = Some(report::outcome_of(&reply, low));
                turn.miss = report::classify(&reply, low).map(|kind| Miss {
                    lang: reply.lang.code().to_owned(),
                    question: text.clone(),
                    terms: matcher.terms(&text, reply.lang),
                    kind,
                    confidence: reply.confidence,
                    candidates: candidates(&reply),
                    outcome: report::first_outcome(kind),
                });
            }
        }
    }
    if let Some(reason) = step.handoff {
        // The card shows this very question and its candidates.
        conv.lang = reply.lang.code().to_owned();
        conv.last_question = Some(text);
        conv.last_candidates = candidates(&reply);
        after.opened = request_handoff(state, s, &mut turn, &conv, reason)?;
    }
    if step.forward {
        after.forward_to = conv.advisor.clone();
    }
    match s.apply(turn, now_ms())? {
        Applied::Done { frames } => state.hub.deliver(&conv.id, &frames),
        Applied::Duplicate { frames } => {
            state.hub.deliver(&conv.id, &frames);
            return Ok(After {
                duplicate: true,
                ..After::default()
            });
        }
        Applied::Conflict => return Ok(After::default()),
    }
    Ok(after)
}

/// A visitor `message`.
pub(super) async fn visitor_message(
    state: &Arc<AppState>,
    conv_id: &str,
    text: String,
    client_id: Option<String>,
) -> Result<(), Refusal> {
    let started = Instant::now();
    let st = state.clone();
    let id = conv_id.to_owned();
    let forwarded = text.clone();
    let after = call(state, move |s| {
        let conv = match conversation(s, &id)? {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        // The language is detected per message: visitors switch, and the page's language
        // is only a hint for the welcome text.
        // One snapshot for the reply and what is recorded about it: a reload may swap the
        // knowledge between two calls.
        let matcher = st.live.matcher();
        let reply = matcher.reply(&text, None);
        Ok(Ok(reply_turn(
            &st,
            &matcher,
            s,
            conv,
            text,
            reply,
            Origin::Typed(client_id),
        )?))
    })
    .await?;
    finish(state, conv_id, after, forwarded, started);
    Ok(())
}

/// A visitor `choose`: the answer of the picked suggestion.
pub(super) async fn visitor_choose(
    state: &Arc<AppState>,
    conv_id: &str,
    faq_id: String,
) -> Result<(), Refusal> {
    let started = Instant::now();
    let st = state.clone();
    let id = conv_id.to_owned();
    let (after, question) = call(state, move |s| {
        let conv = match conversation(s, &id)? {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        let lang = lang_of(&conv);
        let matcher = st.live.matcher();
        let Some(reply) = matcher.answer_entry(&faq_id, lang) else {
            return Ok(Err(Refusal::new(
                "unknown_faq",
                format!("there is no FAQ entry `{faq_id}`: pick one of the suggestions"),
            )));
        };
        // The transcript shows the question picked, as if typed.
        let question = matcher
            .knowledge()
            .entry(&faq_id, reply.lang)
            .map(|e| e.question.clone())
            .unwrap_or_else(|| faq_id.clone());
        Ok(Ok((
            reply_turn(
                &st,
                &matcher,
                s,
                conv,
                question.clone(),
                reply,
                Origin::Picked(faq_id),
            )?,
            question,
        )))
    })
    .await?;
    finish(state, conv_id, after, question, started);
    Ok(())
}

/// Logs and runs what follows a committed visitor turn.
fn finish(state: &Arc<AppState>, conv_id: &str, after: After, text: String, started: Instant) {
    tracing::info!(
        conversation = conv_id,
        kind = after.kind.unwrap_or("-"),
        faq_id = after.faq_id.as_deref().unwrap_or("-"),
        confidence = after.confidence.unwrap_or(0.0),
        duplicate = after.duplicate,
        forwarded = after.forward_to.is_some(),
        ms = started.elapsed().as_millis() as u64,
        "visitor message"
    );
    tracing::debug!(conversation = conv_id, %text, "visitor text");
    if let Some(advisor) = &after.forward_to {
        let frame = AdvisorOut::VisitorMessage {
            conversation: conv_id.to_owned(),
            text,
        };
        state.hub.to_advisor(advisor, &frame.to_text());
    }
    if let Some(card) = after.opened {
        announce(state.clone(), conv_id.to_owned(), card, "new");
    }
}

/// A visitor `handoff`: the advisor button.
pub(super) async fn visitor_handoff(state: &Arc<AppState>, conv_id: &str) -> Result<(), Refusal> {
    let st = state.clone();
    let id = conv_id.to_owned();
    let opened = call(state, move |s| {
        let conv = match conversation(s, &id)? {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        // The button answers the bot's last offer, whose reason goes on the card.
        let reason = conv
            .offer_reason
            .as_deref()
            .and_then(HandoffReason::parse)
            .unwrap_or(HandoffReason::Asked);
        let mut turn = Turn {
            conversation: conv.id.clone(),
            update: ConversationUpdate {
                touch: true,
                ..Default::default()
            },
            outcome: Some(Outcome::AskedPerson),
            ..Turn::default()
        };
        let opened = request_handoff(&st, s, &mut turn, &conv, reason)?;
        if let Applied::Done { frames } = s.apply(turn, now_ms())? {
            st.hub.deliver(&conv.id, &frames);
        }
        Ok(Ok(opened))
    })
    .await?;
    tracing::info!(
        conversation = conv_id,
        queued = opened.is_some(),
        "handoff requested"
    );
    if let Some(card) = opened {
        announce(state.clone(), conv_id.to_owned(), card, "new");
    }
    Ok(())
}

/// A visitor `contact` request, already validated.
pub(super) async fn visitor_contact(
    state: &Arc<AppState>,
    conv_id: &str,
    contact: NewContact,
) -> Result<(), Refusal> {
    let st = state.clone();
    let id = conv_id.to_owned();
    call(state, move |s| {
        let turn = Turn {
            conversation: id.clone(),
            frames: vec![VisitorOut::Contact { status: "saved" }],
            contact: Some(contact),
            update: ConversationUpdate {
                touch: true,
                ..Default::default()
            },
            ..Turn::default()
        };
        if let Applied::Done { frames } = s.apply(turn, now_ms())? {
            st.hub.deliver(&id, &frames);
        }
        Ok(Ok(()))
    })
    .await?;
    // Never the contact details themselves: they are health-related personal data.
    tracing::info!(conversation = conv_id, "contact request saved");
    Ok(())
}

/// Pushes the queue to every advisor, raises an alert and posts the webhook.
pub(super) fn announce(
    state: Arc<AppState>,
    conversation: String,
    card: HandoffCard,
    kind: &'static str,
) {
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
    let alert = AdvisorOut::Alert {
        kind,
        conversation,
        card,
    }
    .to_text();
    let st = state.clone();
    tokio::spawn(async move {
        let hub_state = st.clone();
        let pushed = st
            .store
            .run(move |s| {
                let queue = s.queue()?;
                // The alert first: a console can highlight the item when the queue arrives.
                hub_state.hub.to_advisors(&alert);
                hub_state
                    .hub
                    .to_advisors(&handoff::queue_frame(&queue).to_text());
                Ok(())
            })
            .await;
        if let Err(e) = pushed {
            tracing::error!(cause = %e, "cannot read the queue for advisors");
        }
    });
}

/// A new advisor connection: registers it and sends hello, the queue and its conversations.
pub(super) async fn advisor_connected(
    state: &Arc<AppState>,
    name: String,
    role: String,
    tx: tokio::sync::mpsc::Sender<handoff::Outbound>,
) -> Result<u64, StoreError> {
    let st = state.clone();
    state
        .store
        .run(move |s| {
            // Registered under the store lock: no queue change can slip between the snapshot
            // and the registration.
            let id = st.hub.register_advisor(&name, tx);
            st.hub.to_advisor_conn(
                id,
                &AdvisorOut::Hello {
                    advisor: name.clone(),
                    role,
                }
                .to_text(),
            );
            st.hub
                .to_advisor_conn(id, &handoff::queue_frame(&s.queue()?).to_text());
            for conv in s.assigned_to(&name)? {
                let transcript = AdvisorOut::Transcript {
                    messages: s.history(&conv)?,
                    card: s.handoff_card(&conv)?,
                    conversation: conv,
                };
                st.hub.to_advisor_conn(id, &transcript.to_text());
            }
            Ok(id)
        })
        .await
}

/// An advisor `claim`: exactly one advisor wins (decided by the store).
pub(super) async fn claim(
    state: &Arc<AppState>,
    conn_id: u64,
    conv_id: &str,
    advisor: &str,
) -> Result<(), Refusal> {
    let st = state.clone();
    let id = conv_id.to_owned();
    let name = advisor.to_owned();
    call(state, move |s| {
        let before = s.queue()?;
        if let Some(conv) = s.conversation(&id)? {
            if conv.mode == Mode::Advisor && conv.advisor.as_deref() == Some(name.as_str()) {
                // Already ours (the console reclaims after a reload): just the transcript.
                let transcript = AdvisorOut::Transcript {
                    messages: s.history(&id)?,
                    card: s.handoff_card(&id)?,
                    conversation: id.clone(),
                };
                st.hub.to_advisor_conn(conn_id, &transcript.to_text());
                return Ok(Ok(()));
            }
        }
        let Some(p) = before.iter().position(|h| h.conversation == id) else {
            return Ok(Err(Refusal::new("already_claimed", "this conversation is not waiting: another advisor took it, or it was never handed off")));
        };
        let turn = Turn {
            conversation: id.clone(),
            handoff: Some(HandoffChange::Claim { advisor: name.clone() }),
            frames: vec![VisitorOut::Handoff { status: HandoffStatusWire::Assigned, position: None, advisor: Some(name.clone()) }],
            ..Turn::default()
        };
        let now = now_ms();
        match s.apply(turn, now)? {
            Applied::Done { frames } => st.hub.deliver(&id, &frames),
            _ => return Ok(Err(Refusal::new("already_claimed", "another advisor took this conversation first"))),
        }
        // Everyone behind moves up one place.
        for (i, h) in before.iter().enumerate().skip(p + 1) {
            let turn = Turn {
                conversation: h.conversation.clone(),
                frames: vec![VisitorOut::Handoff { status: HandoffStatusWire::Queued, position: Some(i as u32), advisor: None }],
                ..Turn::default()
            };
            if let Applied::Done { frames } = s.apply(turn, now)? {
                st.hub.deliver(&h.conversation, &frames);
            }
        }
        let transcript = AdvisorOut::Transcript {
            messages: s.history(&id)?,
            card: s.handoff_card(&id)?,
            conversation: id.clone(),
        };
        st.hub.to_advisor_conn(conn_id, &transcript.to_text());
        st.hub.to_advisors(&AdvisorOut::Claimed { conversation: id.clone(), by: name.clone() }.to_text());
        st.hub.to_advisors(&handoff::queue_frame(&s.queue()?).to_text());
        Ok(Ok(()))
    })
    .await?;
    tracing::info!(conversation = conv_id, advisor, "claimed");
    Ok(())
}

/// An advisor `message` to a conversation it holds.
pub(super) async fn advisor_message(
    state: &Arc<AppState>,
    conv_id: &str,
    advisor: &str,
    text: String,
) -> Result<(), Refusal> {
    let st = state.clone();
    let id = conv_id.to_owned();
    let name = advisor.to_owned();
    call(state, move |s| {
        let conv = match conversation(s, &id)? {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        if conv.mode != Mode::Advisor || conv.advisor.as_deref() != Some(name.as_str()) {
            return Ok(Err(Refusal::new(
                "not_yours",
                "you do not hold this conversation: claim it first",
            )));
        }
        let turn = Turn {
            conversation: id.clone(),
            messages: vec![NewMessage {
                from: Sender::Advisor,
                text: text.clone(),
                faq_id: None,
                confidence: None,
                advisor: Some(name.clone()),
                kind: None,
            }],
            frames: vec![VisitorOut::AdvisorMessage {
                text,
                advisor: name,
            }],
            ..Turn::default()
        };
        if let Applied::Done { frames } = s.apply(turn, now_ms())? {
            // Stored even when the visitor is away: it is replayed when they come back.
            st.hub.deliver(&id, &frames);
        }
        Ok(Ok(()))
    })
    .await?;
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
    let st = state.clone();
    let id = conv_id.to_owned();
    let name = advisor.to_owned();
    call(state, move |s| {
        let turn = Turn {
            conversation: id.clone(),
            handoff: Some(HandoffChange::End {
                advisor: name.clone(),
                status,
            }),
            frames: vec![VisitorOut::Handoff {
                status: HandoffStatusWire::Ended,
                position: None,
                advisor: Some(name.clone()),
            }],
            ..Turn::default()
        };
        match s.apply(turn, now_ms())? {
            Applied::Done { frames } => st.hub.deliver(&id, &frames),
            _ => {
                return Ok(Err(Refusal::new(
                    "not_yours",
                    "you do not hold this conversation",
                )))
            }
        }
        st.hub.to_advisors(
            &AdvisorOut::Ended {
                conversation: id,
                by: name,
                status: status.as_str(),
            }
            .to_text(),
        );
        Ok(Ok(()))
    })
    .await?;
    tracing::info!(
        conversation = conv_id,
        advisor,
        status = status.as_str(),
        "handoff ended"
    );
    Ok(())
}

/// Escalates handoffs left unclaimed for `handoff.escalate_after_secs`, until aborted.
pub(super) async fn escalation_loop(state: Arc<AppState>) {
    let after_ms = state
        .settings
        .handoff
        .escalate_after_secs
        .saturating_mul(1000);
    if after_ms == 0 {
        return;
    }
    // A quarter of the delay keeps escalations within 25 % of their due time.
    let period = Duration::from_millis((after_ms / 4).clamp(200, 30_000));
    loop {
        tokio::time::sleep(period).await;
        let due = state
            .store
            .run(move |s| {
                let now = now_ms();
                s.escalate(now - after_ms as i64, now)
            })
            .await;
        match due {
            Ok(due) => {
                for h in due {
                    announce(state.clone(), h.conversation, h.card, "escalated");
                }
            }
            Err(e) => tracing::error!(cause = %e, "escalation check failed"),
        }
    }
}
