//! One conversation turn as a pure function: from the conversation's state, what happened and
//! the bot's reply, to what is stored (a [`Turn`] whose frames are [`Notice`]s) and what follows
//! the commit (a card to announce, a message to forward to the advisor). No I/O, no clock.
//!
//! **Invariant:** an emergency reply is always sent, whoever has the conversation.

use super::{on_message, Rules};
use crate::matcher::Reply;
use crate::model::{
    Candidate, Card, Conversation, ConversationUpdate, EndStatus, HandoffChange, HandoffReason,
    HandoffStatus, Miss, Mode, NewContact, NewMessage, Notice, Outcome, Sender, Turn, PICK,
};
use crate::report;
use crate::text::Lang;

/// What a turn's decision depends on besides the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub rules: &'a Rules,
    /// `report.low_confidence`: answers below it are recorded as missed.
    pub low_confidence: f32,
    /// Someone could take a handoff now (an advisor online, within opening hours).
    pub advisors_available: bool,
    /// The handoff queue now, first come first (conversation ids). Read it when
    /// [`may_queue`] says the event can touch it; otherwise it may be empty.
    pub queue: &'a [String],
}

/// What the visitor did.
#[derive(Debug, Clone, PartialEq)]
pub enum VisitorEvent {
    /// Typed `text` (message id `id`), to which the bot replies `reply`.
    Asked {
        text: String,
        id: Option<String>,
        reply: Reply,
    },
    /// Picked the suggestion `faq_id`, whose question is `question` and answer `reply`.
    Picked {
        faq_id: String,
        question: String,
        reply: Reply,
    },
    /// Pressed the "talk to an advisor" button.
    AskedForAdvisor,
    /// Left a contact request (validated).
    Contact(NewContact),
}

/// What a visitor turn stores and what follows its commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    pub turn: Turn,
    /// A handoff joined the queue with this card: announce it to advisors.
    pub opened: Option<Card>,
    /// The advisor holding the conversation, who gets the visitor's text.
    pub forward_to: Option<String>,
}

/// Whether `event` can put the conversation in the queue or ask its place there, i.e. whether
/// [`Context::queue`] must be read for it.
pub fn may_queue(conv: &Conversation, event: &VisitorEvent) -> bool {
    match event {
        VisitorEvent::AskedForAdvisor => true,
        VisitorEvent::Asked { reply, .. } => {
            conv.mode != Mode::Advisor && reply.kind == crate::ReplyKind::Handoff
        }
        VisitorEvent::Picked { .. } | VisitorEvent::Contact(_) => false,
    }
}

/// The turn of one visitor event. `terms` gives the matcher's terms of a question (asked only
/// when the question is recorded as missed).
pub fn visitor_turn<T: FnOnce(&str, Lang) -> Vec<String>>(
    conv: &Conversation,
    event: VisitorEvent,
    ctx: &Context<'_>,
    terms: T,
) -> Effects {
    let mut turn = Turn {
        conversation: conv.id.clone(),
        update: ConversationUpdate {
            touch: true,
            ..ConversationUpdate::default()
        },
        ..Turn::default()
    };
    match event {
        VisitorEvent::Asked { text, id, reply } => {
            let typed = Typed::Asked { id, terms };
            reply_turn(conv, turn, text, reply, typed, ctx)
        }
        VisitorEvent::Picked {
            faq_id,
            question,
            reply,
        } => reply_turn(conv, turn, question, reply, Typed::<T>::Picked(faq_id), ctx),
        VisitorEvent::AskedForAdvisor => {
            // The button answers the bot's last offer, whose reason goes on the card.
            let reason = conv.offer_reason.unwrap_or(HandoffReason::Asked);
            turn.outcome = Some(Outcome::AskedPerson);
            let opened = request_handoff(&mut turn, conv, reason, ctx);
            Effects {
                turn,
                opened,
                forward_to: None,
            }
        }
        VisitorEvent::Contact(contact) => {
            turn.contact = Some(contact);
            turn.frames.push(Notice::ContactSaved);
            Effects {
                turn,
                opened: None,
                forward_to: None,
            }
        }
    }
}

/// How the text of a reply turn came.
enum Typed<T> {
    Asked { id: Option<String>, terms: T },
    Picked(String),
}

fn reply_turn<T: FnOnce(&str, Lang) -> Vec<String>>(
    conv: &Conversation,
    mut turn: Turn,
    text: String,
    reply: Reply,
    typed: Typed<T>,
    ctx: &Context<'_>,
) -> Effects {
    let step = on_message(conv.mode, conv.fallbacks, reply.clone(), ctx.rules);
    let candidates = Candidate::of(&reply);
    let client_id = match &typed {
        Typed::Asked { id, .. } => id.clone(),
        Typed::Picked(_) => None,
    };
    turn.client_id = client_id.clone();
    turn.messages.push(NewMessage::visitor(text.clone()));
    turn.update = ConversationUpdate {
        lang: Some(reply.lang.code().to_owned()),
        fallbacks: Some(step.fallbacks),
        // An advisor's silence is not a new offer: the last one stands.
        offer_reason: (conv.mode != Mode::Advisor).then_some(step.offer),
        last_question: Some(text.clone()),
        last_candidates: Some(candidates.clone()),
        touch: true,
    };
    if let Some(r) = &step.reply {
        turn.messages.push(NewMessage {
            from: Sender::Bot,
            text: r.text.clone(),
            faq_id: r.faq_id.clone(),
            confidence: Some(r.confidence),
            advisor: None,
            kind: Some(match typed {
                Typed::Asked { .. } => r.kind.as_str(),
                Typed::Picked(_) => PICK,
            }),
        });
        turn.frames.push(Notice::Reply {
            reply_to: client_id,
            reply: r.clone(),
            offer: step.offer.is_some(),
        });
    }
    // While an advisor holds the conversation the bot does not answer: nothing to learn.
    if conv.mode != Mode::Advisor {
        match typed {
            Typed::Picked(faq_id) => turn.outcome = Some(Outcome::Picked(faq_id)),
            Typed::Asked { terms, .. } => {
                turn.outcome = Some(report::outcome_of(&reply, ctx.low_confidence));
                turn.miss = report::classify(&reply, ctx.low_confidence).map(|kind| Miss {
                    lang: reply.lang.code().to_owned(),
                    question: text.clone(),
                    terms: terms(&text, reply.lang),
                    kind,
                    confidence: reply.confidence,
                    candidates: candidates.clone(),
                    outcome: report::first_outcome(kind),
                });
            }
        }
    }
    let mut opened = None;
    if let Some(reason) = step.handoff {
        // The card shows this very question and its candidates.
        let asked = Conversation {
            lang: reply.lang.code().to_owned(),
            last_question: Some(text),
            last_candidates: candidates,
            ..conv.clone()
        };
        opened = request_handoff(&mut turn, &asked, reason, ctx);
    }
    Effects {
        turn,
        opened,
        forward_to: if step.forward {
            conv.advisor.clone()
        } else {
            None
        },
    }
}

/// Adds a handoff request to `turn`: queued (someone can answer), unavailable (nobody can), or
/// the current status again when already queued or assigned. Returns the card of a new handoff.
fn request_handoff(
    turn: &mut Turn,
    conv: &Conversation,
    reason: HandoffReason,
    ctx: &Context<'_>,
) -> Option<Card> {
    let position = |queue: &[String]| {
        queue
            .iter()
            .position(|c| *c == conv.id)
            .map(|p| p as u32 + 1)
    };
    let (status, position, advisor, opened) = match conv.mode {
        Mode::Queued => (HandoffStatus::Queued, position(ctx.queue), None, None),
        Mode::Advisor => (HandoffStatus::Assigned, None, conv.advisor.clone(), None),
        Mode::Bot => {
            let card = Card::of(conv, reason);
            if ctx.advisors_available {
                turn.handoff = Some(HandoffChange::Open(card.clone()));
                let last = ctx.queue.len() as u32 + 1;
                (HandoffStatus::Queued, Some(last), None, Some(card))
            } else {
                turn.handoff = Some(HandoffChange::Unavailable(card));
                (HandoffStatus::Unavailable, None, None, None)
            }
        }
    };
    turn.frames.push(Notice::Handoff {
        status,
        position,
        advisor,
    });
    opened
}

/// Why an advisor's action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The conversation is not waiting (another advisor took it, or it was never handed off).
    NotWaiting,
    /// The advisor does not hold the conversation.
    NotYours,
}

/// What an advisor's claim amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The advisor already holds it (a console reclaims after a reload): send the transcript.
    AlreadyYours,
    /// Take it: the claim turn (the store decides the winner), then the turns that tell the
    /// visitors behind it their new place.
    Take { turn: Box<Turn>, moved: Vec<Turn> },
}

/// An advisor claims `conversation`, given its state (if it exists) and the queue now.
pub fn claim(
    conversation: &str,
    conv: Option<&Conversation>,
    advisor: &str,
    queue: &[String],
) -> Result<Claim, Refused> {
    if conv.is_some_and(|c| c.mode == Mode::Advisor && c.advisor.as_deref() == Some(advisor)) {
        return Ok(Claim::AlreadyYours);
    }
    let Some(at) = queue.iter().position(|c| c == conversation) else {
        return Err(Refused::NotWaiting);
    };
    let turn = Turn {
        conversation: conversation.to_owned(),
        handoff: Some(HandoffChange::Claim {
            advisor: advisor.to_owned(),
        }),
        frames: vec![Notice::Handoff {
            status: HandoffStatus::Assigned,
            position: None,
            advisor: Some(advisor.to_owned()),
        }],
        ..Turn::default()
    };
    // Everyone behind moves up one place: the one at index i (place i + 1) is now at place i.
    let moved = queue
        .iter()
        .enumerate()
        .skip(at + 1)
        .map(|(i, c)| Turn {
            conversation: c.clone(),
            frames: vec![Notice::Handoff {
                status: HandoffStatus::Queued,
                position: Some(i as u32),
                advisor: None,
            }],
            ..Turn::default()
        })
        .collect();
    Ok(Claim::Take {
        turn: Box::new(turn),
        moved,
    })
}

/// An advisor's message to a conversation: only to one they hold.
pub fn advisor_message(conv: &Conversation, advisor: &str, text: String) -> Result<Turn, Refused> {
    if conv.mode != Mode::Advisor || conv.advisor.as_deref() != Some(advisor) {
        return Err(Refused::NotYours);
    }
    Ok(Turn {
        conversation: conv.id.clone(),
        messages: vec![NewMessage::advisor(advisor, text.clone())],
        frames: vec![Notice::AdvisorMessage {
            advisor: advisor.to_owned(),
            text,
        }],
        ..Turn::default()
    })
}

/// An advisor releases (back to the bot) or closes a conversation. The store refuses it unless
/// the advisor holds the conversation when it commits.
pub fn end(conversation: &str, advisor: &str, status: EndStatus) -> Turn {
    Turn {
        conversation: conversation.to_owned(),
        handoff: Some(HandoffChange::End {
            advisor: advisor.to_owned(),
            status,
        }),
        frames: vec![Notice::Handoff {
            status: HandoffStatus::Ended,
            position: None,
            advisor: Some(advisor.to_owned()),
        }],
        ..Turn::default()
    }
}
