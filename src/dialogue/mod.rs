//! What the service says next in one conversation, given its mode and the bot's reply: answer,
//! stay silent for the advisor, offer an advisor, or start a handoff. Pure: no I/O, no async.
//!
//! **Invariant:** an emergency reply is always sent, whoever has the conversation.

mod turn;

pub use turn::{
    advisor_message, claim, end, may_queue, visitor_turn, Claim, Context, Effects, Refused,
    VisitorEvent,
};

use crate::matcher::{Reply, ReplyKind};
pub use crate::model::HandoffReason;
use crate::model::Mode;
use crate::text::Lang;

/// When the bot offers an advisor by itself.
#[derive(Debug, Clone)]
pub struct Rules {
    /// FAQ entry or intent ids that are consultation requests.
    pub offer_on: Vec<String>,
    /// Fallbacks in a row before the offer.
    pub fallbacks_before_offer: u32,
}

/// The decision for one visitor message.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Whether the bot sends its reply (not while an advisor holds the chat, but for an
    /// emergency).
    pub speaks: bool,
    /// The bot offers an advisor, for this reason.
    pub offer: Option<HandoffReason>,
    /// A handoff starts now (the visitor asked for a person).
    pub handoff: Option<HandoffReason>,
    /// The message goes to the advisor holding the conversation.
    pub forward: bool,
    /// Fallbacks in a row after this message.
    pub fallbacks: u32,
}

/// Decides what follows a visitor message, given the bot's `reply` to it.
pub fn on_message(mode: Mode, fallbacks: u32, reply: &Reply, rules: &Rules) -> Step {
    if mode == Mode::Advisor {
        // The advisor answers; the bot only breaks its silence for an emergency.
        let emergency = reply.kind == ReplyKind::Emergency;
        return Step {
            speaks: emergency,
            offer: None,
            handoff: None,
            forward: true,
            fallbacks,
        };
    }
    let fallbacks = if reply.kind == ReplyKind::Fallback {
        fallbacks.saturating_add(1)
    } else {
        0
    };
    let handoff = (reply.kind == ReplyKind::Handoff).then_some(HandoffReason::Asked);
    let consultation = [reply.faq_id.as_deref(), reply.intent.as_deref()]
        .into_iter()
        .flatten()
        .any(|id| rules.offer_on.iter().any(|o| o == id));
    // Already queued: no second offer, the visitor has the button's effect already.
    let offer = if handoff.is_some() || mode == Mode::Queued {
        None
    } else if rules.fallbacks_before_offer > 0 && fallbacks >= rules.fallbacks_before_offer {
        Some(HandoffReason::RepeatedFallback)
    } else if consultation {
        Some(HandoffReason::Consultation)
    } else {
        None
    };
    Step {
        speaks: true,
        offer,
        handoff,
        forward: false,
        fallbacks,
    }
}

/// The first words of every conversation: who is talking, and what it is not.
pub fn welcome_text(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "Bonjour ! Je suis l'assistant automatique de la clinique. Je réponds à partir de notre article ; mes réponses ne remplacent pas l'avis d'un médecin. Vous pouvez à tout moment demander à parler à un conseiller.",
        Lang::En => "Hello! I am the clinic's automated assistant. I answer from our article; my answers do not replace a doctor's advice. You can ask to talk to an advisor at any time.",
    }
}

/// The bot's line when a contact request is saved.
pub fn contact_saved_text(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "Merci, votre demande est enregistrée : un conseiller vous recontactera.",
        Lang::En => "Thank you, your request is saved: an advisor will get back to you.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(kind: ReplyKind, faq_id: Option<&str>) -> Reply {
        Reply::stub(kind, faq_id, 0.5)
    }

    fn rules() -> Rules {
        Rules {
            offer_on: vec!["consultation_gratuite".into()],
            fallbacks_before_offer: 2,
        }
    }

    #[test]
    fn the_second_fallback_in_a_row_offers_an_advisor() {
        let s = on_message(Mode::Bot, 0, &reply(ReplyKind::Fallback, None), &rules());
        assert_eq!((s.fallbacks, s.offer), (1, None));
        let s = on_message(Mode::Bot, 1, &reply(ReplyKind::Fallback, None), &rules());
        assert_eq!(
            (s.fallbacks, s.offer),
            (2, Some(HandoffReason::RepeatedFallback))
        );
        let s = on_message(
            Mode::Bot,
            2,
            &reply(ReplyKind::Answer, Some("cout")),
            &rules(),
        );
        assert_eq!((s.fallbacks, s.offer), (0, None));
    }

    #[test]
    fn a_consultation_answer_offers_and_a_handoff_intent_starts_a_handoff() {
        let s = on_message(
            Mode::Bot,
            0,
            &reply(ReplyKind::Answer, Some("consultation_gratuite")),
            &rules(),
        );
        assert_eq!(s.offer, Some(HandoffReason::Consultation));
        let s = on_message(Mode::Bot, 0, &reply(ReplyKind::Handoff, None), &rules());
        assert_eq!((s.handoff, s.offer), (Some(HandoffReason::Asked), None));
    }

    #[test]
    fn with_an_advisor_the_bot_is_silent_except_for_emergencies() {
        let s = on_message(
            Mode::Advisor,
            0,
            &reply(ReplyKind::Answer, Some("cout")),
            &rules(),
        );
        assert!(!s.speaks && s.forward);
        let s = on_message(
            Mode::Advisor,
            0,
            &reply(ReplyKind::Emergency, None),
            &rules(),
        );
        assert!(s.speaks && s.forward);
    }
}
