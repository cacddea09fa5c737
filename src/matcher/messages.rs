//! The bot's own sentences (not from the FAQ): attribution, clarify and fallback wording.
//! Kept short and honest: the bot never claims more than the article.

use super::Suggestion;
use crate::text::Lang;

/// An answer, attributed to the article.
pub fn answer(lang: Lang, answer: &str) -> String {
    match lang {
        Lang::Fr => format!("D'après notre article : {answer}"),
        Lang::En => format!("According to our article: {answer}"),
    }
}

/// The line every reply without an answer ends with. The emergency rules see only the words
/// they were written for: of 100 emergencies written by someone who had not seen them, 78 got
/// the 112 reply, and 20 of the other 22 a "did you mean" or "no answer", which told them of an
/// advisor and of nothing else.
pub fn safety_line(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "Si vous ou un proche avez des symptômes graves en ce moment, appelez le 112 (le 15 en France).",
        Lang::En => "If you or someone near you has severe symptoms right now, call 112 (or your local emergency number).",
    }
}

/// `text` ending with [`safety_line`], unless it already names 112.
pub fn with_safety_line(lang: Lang, mut text: String) -> String {
    if !text.contains("112") {
        text.push('\n');
        text.push_str(safety_line(lang));
    }
    text
}

/// `text` opening with [`safety_line`] (taken from its end when it was there), unless its first
/// line already names 112.
pub fn safety_line_first(lang: Lang, text: &str) -> String {
    if text.lines().next().is_some_and(|l| l.contains("112")) {
        return text.to_owned();
    }
    let line = safety_line(lang);
    let rest = text
        .strip_suffix(line)
        .map_or(text, |t| t.trim_end_matches('\n'));
    format!("{line}\n{rest}")
}

pub fn clarify(lang: Lang, suggestions: &[Suggestion]) -> String {
    let head = match lang {
        // Two lines: the widget shows the suggestions as buttons and leaves out the second.
        Lang::Fr => "Je ne suis pas sûr d'avoir bien compris.\nVouliez-vous demander :",
        Lang::En => "I am not sure I understood.\nDid you mean:",
    };
    let mut text = head.to_owned();
    for s in suggestions {
        text.push_str("\n- ");
        text.push_str(&s.question);
    }
    text
}

pub fn fallback(lang: Lang, suggestions: &[Suggestion]) -> String {
    let mut text = match lang {
        Lang::Fr => "Je n'ai pas trouvé de réponse à cette question dans notre article. Un conseiller peut vous répondre : souhaitez-vous que je vous mette en relation ?".to_owned(),
        Lang::En => "I could not find an answer to this question in our article. An advisor can answer you: would you like me to put you in touch?".to_owned(),
    };
    if !suggestions.is_empty() {
        text.push_str(match lang {
            Lang::Fr => "\nCes questions pourraient aussi vous aider :",
            Lang::En => "\nThese questions might help too:",
        });
        for s in suggestions {
            text.push_str("\n- ");
            text.push_str(&s.question);
        }
    }
    text
}

pub fn emergency_prefix(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "Appelez immédiatement le 112 (le 15 en France).",
        Lang::En => "Call 112 (emergency services) now.",
    }
}
