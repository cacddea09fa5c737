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
    /// Typed `text` (message id `id`), to which the bot replies `reply`. `terms`: the
    /// matcher's reading of `text` ([`crate::Matcher::reply_with_terms`]), kept with a missed
    /// question for the report to group on.
    Asked {
        text: String,
        id: Option<String>,
        reply: Reply,
        terms: Vec<String>,
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

/// The turn of one visitor event.
pub fn visitor_turn(conv: &Conversation, event: VisitorEvent, ctx: &Context<'_>) -> Effects {
    let mut turn = Turn {
        conversation: conv.id.clone(),
        update: ConversationUpdate {
            touch: true,
            ..ConversationUpdate::default()
        },
        ..Turn::default()
    };
    match event {
        VisitorEvent::Asked {
            text,
            id,
            reply,
            terms,
        } => {
            let typed = Typed::Asked { id, terms };
            reply_turn(conv, turn, text, reply, typed, ctx)
        }
        VisitorEvent::Picked {
            faq_id,
            question,
            reply,
        } => reply_turn(conv, turn, question, reply, Typed::Picked(faq_id), ctx),
        VisitorEvent::AskedForAdvisor => {
            // The button answers the bot's last offer, whose reason goes on the card.
            let reason = conv.offer_reason.unwrap_or(HandoffReason::Asked);
            if conv.awaiting_outcome {
                turn.outcome = Some(Outcome::AskedPerson);
            }
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
enum Typed {
    Asked {
        id: Option<String>,
        terms: Vec<String>,
    },
    Picked(String),
}

fn reply_turn(
    conv: &Conversation,
    mut turn: Turn,
    text: String,
    reply: Reply,
    typed: Typed,
    ctx: &Context<'_>,
) -> Effects {
    let step = on_message(conv.mode, conv.fallbacks, &reply, ctx.rules);
    let candidates = Candidate::of(&reply);
    let lang = reply.lang;
    let (client_id, kind) = match &typed {
        Typed::Asked { id, .. } => (id.clone(), reply.kind.as_str()),
        Typed::Picked(_) => (None, PICK),
    };
    turn.client_id = client_id.clone();
    turn.messages.push(NewMessage::visitor(text.clone()));
    // While an advisor holds the conversation the bot does not answer: nothing to learn.
    if conv.mode != Mode::Advisor {
        // The outcome of the last missed question, while it has none.
        let awaiting = conv.awaiting_outcome;
        match typed {
            Typed::Picked(faq_id) => {
                turn.outcome = awaiting.then_some(Outcome::Picked(faq_id));
            }
            Typed::Asked { terms, .. } => {
                turn.outcome = awaiting.then(|| report::outcome_of(&reply, ctx.low_confidence));
                turn.miss = report::classify(&reply, ctx.low_confidence).map(|kind| Miss {
                    lang: lang.code().to_owned(),
                    question: text.clone(),
                    terms,
                    kind,
                    confidence: reply.confidence,
                    candidates: candidates.clone(),
                    outcome: report::first_outcome(kind),
                });
            }
        }
    }
    turn.update = ConversationUpdate {
        lang: Some(lang.code().to_owned()),
        fallbacks: Some(step.fallbacks),
        // An advisor's silence is not a new offer: the last one stands.
        offer_reason: (conv.mode != Mode::Advisor).then_some(step.offer),
        last_question: Some(text.clone()),
        last_candidates: Some(candidates),
        touch: true,
    };
    // The reply goes in its frame as it is (moved, not copied: it is most of a turn's bytes);
    // the message row keeps a copy of its words.
    if step.speaks {
        turn.messages.push(NewMessage {
            from: Sender::Bot,
            text: reply.text.clone(),
            faq_id: reply.faq_id.clone(),
            confidence: Some(reply.confidence),
            advisor: None,
            kind: Some(kind),
            frame: Some(turn.frames.len()),
        });
        turn.frames.push(Notice::Reply {
            reply_to: client_id,
            reply,
            offer: step.offer.is_some(),
        });
    }
    let mut opened = None;
    if let Some(reason) = step.handoff {
        // The card shows this very question and its candidates.
        let asked = Conversation {
            lang: lang.code().to_owned(),
            last_question: Some(text),
            last_candidates: turn.update.last_candidates.clone().unwrap_or_default(),
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
        messages: vec![NewMessage {
            frame: Some(0),
            ..NewMessage::advisor(advisor, text.clone())
        }],
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReplyKind;

    fn reply(kind: ReplyKind, faq_id: Option<&str>, confidence: f32) -> Reply {
        Reply::stub(kind, faq_id, confidence)
    }

    fn conv(mode: Mode, fallbacks: u32) -> Conversation {
        Conversation {
            id: "c1".into(),
            created_at: 0,
            last_active: 0,
            lang: "fr".into(),
            page: Some("/cellules".into()),
            mode,
            advisor: (mode == Mode::Advisor).then(|| "Alice".to_owned()),
            last_seq: 4,
            fallbacks,
            offer_reason: None,
            last_question: Some("avant".into()),
            last_candidates: Vec::new(),
            awaiting_outcome: true,
        }
    }

    fn rules() -> Rules {
        Rules {
            offer_on: vec!["consultation_gratuite".into()],
            fallbacks_before_offer: 2,
        }
    }

    /// Runs a visitor event with advisors `available` and `queue`.
    fn run(c: &Conversation, event: VisitorEvent, available: bool, queue: &[&str]) -> Effects {
        let rules = rules();
        let queue: Vec<String> = queue.iter().map(|q| q.to_string()).collect();
        let ctx = Context {
            rules: &rules,
            low_confidence: 0.6,
            advisors_available: available,
            queue: &queue,
        };
        visitor_turn(c, event, &ctx)
    }

    fn asked(text: &str, r: Reply) -> VisitorEvent {
        VisitorEvent::Asked {
            text: text.into(),
            id: Some("m1".into()),
            reply: r,
            terms: vec![format!("terms of {text}")],
        }
    }

    #[test]
    fn an_answer_stores_question_and_reply_and_sends_the_reply() {
        let r = reply(ReplyKind::Answer, Some("cout"), 0.9);
        let e = run(
            &conv(Mode::Bot, 1),
            asked("combien ?", r.clone()),
            true,
            &[],
        );
        let t = &e.turn;
        assert_eq!(t.client_id.as_deref(), Some("m1"));
        let senders: Vec<Sender> = t.messages.iter().map(|m| m.from).collect();
        assert_eq!(senders, [Sender::Visitor, Sender::Bot]);
        assert_eq!(t.messages[1].kind, Some("answer"));
        assert_eq!(
            t.frames,
            [Notice::Reply {
                reply_to: Some("m1".into()),
                reply: r,
                offer: false
            }]
        );
        assert_eq!(
            t.update.fallbacks,
            Some(0),
            "an answer ends a fallback streak"
        );
        assert_eq!(t.outcome, Some(Outcome::Answered("cout".into())));
        assert_eq!((t.miss.as_ref(), t.handoff.as_ref()), (None, None));
        assert_eq!((e.opened, e.forward_to), (None, None));
    }

    #[test]
    fn only_a_miss_still_waiting_gets_the_next_action_as_its_outcome() {
        let answered = Conversation {
            awaiting_outcome: false,
            ..conv(Mode::Bot, 0)
        };
        let e = run(
            &answered,
            asked(
                "combien ça coûte",
                reply(ReplyKind::Answer, Some("cout"), 0.9),
            ),
            true,
            &[],
        );
        assert_eq!(e.turn.outcome, None, "no miss waits: nothing to record");
        let after = answered.after(&e.turn, 5, 0);
        assert!(!after.awaiting_outcome);

        let e = run(
            &after,
            asked("cellules foie", reply(ReplyKind::Clarify, None, 0.3)),
            true,
            &[],
        );
        let after = after.after(&e.turn, 6, 0);
        assert!(after.awaiting_outcome, "the clarify waits for what follows");

        let e = run(
            &after,
            asked(
                "combien ça coûte",
                reply(ReplyKind::Answer, Some("cout"), 0.9),
            ),
            true,
            &[],
        );
        assert_eq!(e.turn.outcome, Some(Outcome::Answered("cout".into())));
        assert!(!after.after(&e.turn, 7, 0).awaiting_outcome);

        let e = run(&answered, VisitorEvent::AskedForAdvisor, true, &[]);
        assert_eq!(e.turn.outcome, None);
    }

    #[test]
    fn a_clarify_is_a_miss_and_the_pick_that_follows_is_its_outcome() {
        let e = run(
            &conv(Mode::Bot, 0),
            asked("cellules foie", reply(ReplyKind::Clarify, None, 0.3)),
            true,
            &[],
        );
        let miss = e.turn.miss.expect("a clarify is recorded");
        assert_eq!(miss.kind, crate::model::MissKind::Clarify);
        assert_eq!(miss.terms, ["terms of cellules foie"]);
        assert_eq!(miss.outcome, Outcome::None, "waits for the next action");

        let picked = VisitorEvent::Picked {
            faq_id: "cout".into(),
            question: "Combien coûte le traitement ?".into(),
            reply: reply(ReplyKind::Answer, Some("cout"), 1.0),
        };
        let e = run(&conv(Mode::Bot, 0), picked, true, &[]);
        assert_eq!(e.turn.outcome, Some(Outcome::Picked("cout".into())));
        assert_eq!(e.turn.client_id, None);
        assert_eq!(e.turn.messages[0].text, "Combien coûte le traitement ?");
        assert_eq!(
            e.turn.messages[1].kind,
            Some(PICK),
            "outside the answer rate"
        );
        assert!(e.turn.miss.is_none());
    }

    #[test]
    fn the_second_fallback_in_a_row_offers_an_advisor() {
        let fallback = || reply(ReplyKind::Fallback, None, 0.0);
        let e = run(&conv(Mode::Bot, 0), asked("xyz", fallback()), true, &[]);
        assert_eq!(e.turn.update.fallbacks, Some(1));
        assert_eq!(e.turn.update.offer_reason, Some(None));
        let e = run(&conv(Mode::Bot, 1), asked("xyz", fallback()), true, &[]);
        assert_eq!(e.turn.update.fallbacks, Some(2));
        assert_eq!(
            e.turn.update.offer_reason,
            Some(Some(HandoffReason::RepeatedFallback))
        );
        assert!(matches!(
            e.turn.frames[..],
            [Notice::Reply { offer: true, .. }]
        ));
        assert!(e.turn.handoff.is_none(), "an offer, not a handoff");
    }

    #[test]
    fn asking_for_a_person_queues_behind_the_others_when_someone_can_answer() {
        let e = run(
            &conv(Mode::Bot, 0),
            asked("un conseiller", reply(ReplyKind::Handoff, None, 1.0)),
            true,
            &["a", "b"],
        );
        let card = e.opened.expect("announced to advisors");
        assert_eq!(card.reason, "asked");
        assert_eq!(card.last_question.as_deref(), Some("un conseiller"));
        assert_eq!(card.page.as_deref(), Some("/cellules"));
        assert_eq!(e.turn.handoff, Some(HandoffChange::Open(card)));
        assert_eq!(
            e.turn.frames.last(),
            Some(&Notice::Handoff {
                status: HandoffStatus::Queued,
                position: Some(3),
                advisor: None
            })
        );
        let miss = e.turn.miss.expect("a handoff in words is a miss");
        assert_eq!(miss.outcome, Outcome::AskedPerson);
    }

    #[test]
    fn asking_for_a_person_when_nobody_can_answer_is_recorded_not_queued() {
        let e = run(
            &conv(Mode::Bot, 0),
            asked("un conseiller", reply(ReplyKind::Handoff, None, 1.0)),
            false,
            &[],
        );
        assert!(matches!(
            e.turn.handoff,
            Some(HandoffChange::Unavailable(_))
        ));
        assert_eq!(e.opened, None);
        assert_eq!(
            e.turn.frames.last(),
            Some(&Notice::Handoff {
                status: HandoffStatus::Unavailable,
                position: None,
                advisor: None
            })
        );
    }

    #[test]
    fn the_button_carries_the_last_offer_and_a_second_press_gives_the_place_again() {
        let mut c = conv(Mode::Bot, 2);
        c.offer_reason = Some(HandoffReason::RepeatedFallback);
        let e = run(&c, VisitorEvent::AskedForAdvisor, true, &[]);
        assert_eq!(e.opened.map(|c| c.reason), Some("repeated_fallback".into()));
        assert_eq!(e.turn.outcome, Some(Outcome::AskedPerson));
        assert!(e.turn.messages.is_empty());

        let e = run(
            &conv(Mode::Queued, 0),
            VisitorEvent::AskedForAdvisor,
            true,
            &["x", "c1"],
        );
        assert_eq!(e.turn.handoff, None, "already queued: nothing changes");
        assert_eq!(
            e.turn.frames,
            [Notice::Handoff {
                status: HandoffStatus::Queued,
                position: Some(2),
                advisor: None
            }]
        );
        let e = run(
            &conv(Mode::Advisor, 0),
            VisitorEvent::AskedForAdvisor,
            true,
            &[],
        );
        assert_eq!(
            e.turn.frames,
            [Notice::Handoff {
                status: HandoffStatus::Assigned,
                position: None,
                advisor: Some("Alice".into())
            }]
        );
    }

    #[test]
    fn with_an_advisor_the_bot_is_silent_forwards_and_learns_nothing_but_emergencies_go_out() {
        let c = conv(Mode::Advisor, 0);
        let e = run(
            &c,
            asked("et le prix ?", reply(ReplyKind::Answer, Some("cout"), 0.9)),
            true,
            &[],
        );
        assert!(e.turn.frames.is_empty(), "the advisor answers");
        assert_eq!(e.turn.messages.len(), 1, "the visitor's message only");
        assert_eq!(e.forward_to.as_deref(), Some("Alice"));
        assert_eq!(
            (e.turn.outcome.as_ref(), e.turn.miss.as_ref()),
            (None, None)
        );
        assert_eq!(e.turn.update.offer_reason, None, "the last offer stands");

        let urgent = reply(ReplyKind::Emergency, None, 1.0);
        let e = run(&c, asked("je vomis du sang", urgent.clone()), true, &[]);
        assert_eq!(
            e.turn.frames,
            [Notice::Reply {
                reply_to: Some("m1".into()),
                reply: urgent,
                offer: false
            }]
        );
        assert_eq!(
            e.forward_to.as_deref(),
            Some("Alice"),
            "and the advisor sees it"
        );
    }

    #[test]
    fn a_contact_request_is_stored_and_acknowledged() {
        let contact = NewContact {
            name: "Marie".into(),
            email: None,
            phone: Some("+33 6 12 34 56 78".into()),
            message: None,
            consent: true,
        };
        let e = run(
            &conv(Mode::Bot, 0),
            VisitorEvent::Contact(contact.clone()),
            false,
            &[],
        );
        assert_eq!(e.turn.contact, Some(contact));
        assert_eq!(e.turn.frames, [Notice::ContactSaved]);
    }

    #[test]
    fn a_claim_takes_a_waiting_conversation_and_moves_those_behind_up() {
        let queue: Vec<String> = ["a", "c1", "b", "d"].map(String::from).to_vec();
        let queued = conv(Mode::Queued, 0);
        let Ok(Claim::Take { turn, moved }) = claim("c1", Some(&queued), "Bob", &queue) else {
            panic!("c1 is waiting");
        };
        assert_eq!(
            turn.handoff,
            Some(HandoffChange::Claim {
                advisor: "Bob".into()
            })
        );
        let places: Vec<(&str, &Notice)> = moved
            .iter()
            .map(|t| (t.conversation.as_str(), &t.frames[0]))
            .collect();
        let queued_at = |p| Notice::Handoff {
            status: HandoffStatus::Queued,
            position: Some(p),
            advisor: None,
        };
        assert_eq!(places, [("b", &queued_at(2)), ("d", &queued_at(3))]);

        assert_eq!(claim("zz", None, "Bob", &queue), Err(Refused::NotWaiting));
        let held = conv(Mode::Advisor, 0);
        assert_eq!(
            claim("c1", Some(&held), "Alice", &[]),
            Ok(Claim::AlreadyYours)
        );
        assert_eq!(
            claim("c1", Some(&held), "Bob", &[]),
            Err(Refused::NotWaiting)
        );
    }

    #[test]
    fn only_the_holder_writes_or_ends_and_ending_tells_the_visitor() {
        let held = conv(Mode::Advisor, 0);
        let t = advisor_message(&held, "Alice", "Bonjour".into()).expect("Alice holds it");
        assert_eq!(t.messages[0].advisor.as_deref(), Some("Alice"));
        assert_eq!(
            t.frames,
            [Notice::AdvisorMessage {
                advisor: "Alice".into(),
                text: "Bonjour".into()
            }]
        );
        assert_eq!(
            advisor_message(&held, "Bob", "x".into()),
            Err(Refused::NotYours)
        );
        assert_eq!(
            advisor_message(&conv(Mode::Queued, 0), "Alice", "x".into()),
            Err(Refused::NotYours)
        );
        let t = end("c1", "Alice", EndStatus::Released);
        assert!(matches!(
            t.handoff,
            Some(HandoffChange::End {
                status: EndStatus::Released,
                ..
            })
        ));
        assert!(matches!(
            t.frames[..],
            [Notice::Handoff {
                status: HandoffStatus::Ended,
                ..
            }]
        ));
    }
}
