//! Whether a message asks anything: a question mark, a question word, an inversion, a request
//! or a follow-up ("et pour…", "and does…"). Courtesies that ask nothing are small talk.

use super::{tokenize, Lang};

/// Question and request words that ask wherever they stand (folded).
const FR_ANYWHERE: &[&str] = &[
    "combien",
    "comment",
    "pourquoi",
    "quand",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "lequel",
    "laquelle",
    "lesquels",
    "lesquelles",
    "quoi",
    "koi",
    "cb",
    "pk",
    "pq",
    "pkoi",
    "kel",
    "kelle",
    "komen",
    "kan",
    "expliquez",
    "decrivez",
    "parlez",
    "cherche",
    "savoir",
    "question",
    "demander",
    "demande",
    "demandais",
    "renseigner",
];
const EN_ANYWHERE: &[&str] = &[
    "what",
    "whats",
    "how",
    "hows",
    "why",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "whose",
    "wondering",
    "wonder",
    "wonders",
    "wondered",
    "curious",
    "looking",
    "question",
    "wat",
    "y",
];

/// Words that ask when a sentence opens with them (after its greetings and thanks): a
/// follow-up ("et pour la stéatose"), an inverted verb ("is it safe"), an imperative ("dites
/// m'en plus"; "il m'a expliqué" is no request).
const FR_OPENING: &[&str] = &[
    "et",
    "mais",
    "sinon",
    "si",
    "est",
    "y",
    "ya",
    "aussi",
    "alors",
    "explique",
    "expliquez",
    "dites",
    "dis",
    "parlez",
    "parle",
    "donnez",
    "donne",
];
const EN_OPENING: &[&str] = &[
    "and", "but", "also", "so", "is", "are", "am", "was", "were", "do", "does", "did", "can",
    "could", "will", "would", "should", "shall", "may", "might", "isnt", "arent", "dont", "doesnt",
    "any", "r", "tell", "explain", "describe", "give",
];

/// French subject pronouns after a hyphenated verb ("peut-on", "faut-il", "dites-moi").
const FR_INVERTED: &[&str] = &[
    "il", "elle", "ils", "elles", "on", "je", "tu", "vous", "nous", "moi", "t-il", "t-elle", "t-on",
];

/// Whether `message` asks something in `lang`. `courtesy(word)` tells the words (greetings,
/// thanks, acknowledgements) a sentence may open with before what it says.
pub fn asks(lang: Lang, message: &str, courtesy: impl Fn(&str) -> bool) -> bool {
    if message.contains(['?', '¿']) {
        return true;
    }
    let (anywhere, opening) = match lang {
        Lang::Fr => (FR_ANYWHERE, FR_OPENING),
        Lang::En => (EN_ANYWHERE, EN_OPENING),
    };
    if lang == Lang::Fr && inverted(message) {
        return true;
    }
    message.split(CLAUSE_ENDS).any(|sentence| {
        let words = tokenize(sentence);
        let opener = opener(&words, &courtesy);
        opener.is_some_and(|w| opening.contains(&w))
            || words.iter().enumerate().any(|(i, w)| {
                anywhere.contains(&w.as_str()) && !understood(&words[i.saturating_sub(3)..i])
            })
    })
}

/// Whether a clause of `message` opens with a courtesy word: "merci pour les infos",
/// "…, au revoir". A courtesy word inside a clause ("elle a dit oui") closes nothing.
pub fn opens_a_clause(message: &str, courtesy: impl Fn(&str) -> bool) -> bool {
    message
        .split(CLAUSE_ENDS)
        .any(|clause| tokenize(clause).first().is_some_and(|w| courtesy(w)))
}

/// What ends a clause or a sentence.
const CLAUSE_ENDS: [char; 7] = ['.', '!', ';', ':', '\n', ',', '…'];

/// The first word of a sentence after its courtesies, and after an "et"/"and" joining two
/// ("au revoir et merci pour…" opens with no follow-up).
fn opener<'a>(words: &'a [String], courtesy: &impl Fn(&str) -> bool) -> Option<&'a str> {
    let mut i = 0;
    loop {
        while words.get(i).is_some_and(|w| courtesy(w)) {
            i += 1;
        }
        let word = words.get(i)?.as_str();
        let joins_courtesies =
            matches!(word, "et" | "and") && words.get(i + 1).is_some_and(|w| courtesy(w));
        if !joins_courtesies {
            return Some(word);
        }
        i += 1;
    }
}

/// Verbs of understanding: a question word after one is told, not asked ("je comprends mieux
/// pourquoi c'est si long", "now I see how it works").
const UNDERSTOOD: &[&str] = &[
    "comprends",
    "comprend",
    "compris",
    "vois",
    "sais",
    "understand",
    "understood",
    "see",
    "know",
    "get",
    "explained",
    "explique",
];

fn understood(before: &[String]) -> bool {
    before.iter().any(|w| UNDERSTOOD.contains(&w.as_str()))
}

/// A French verb and its subject joined by a hyphen: "peut-on", "y a-t-il", "dites-moi".
fn inverted(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.match_indices('-').any(|(i, _)| {
        let after = &lower[i + 1..];
        let before_is_letter = lower[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic);
        before_is_letter
            && FR_INVERTED.iter().any(|p| {
                after.starts_with(p)
                    && after[p.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !c.is_alphanumeric() && c != '-')
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    fn courtesy(w: &str) -> bool {
        [
            "merci", "ok", "bonjour", "thanks", "hi", "d", "accord", "au", "revoir",
        ]
        .contains(&w)
    }

    #[test]
    fn statements_ask_nothing() {
        for m in [
            "merci pour ces infos sur la cirrhose, c'est plus clair",
            "ok je vais en parler à mon hépatologue, bonne soirée",
            "d'accord je comprends mieux pour le prix",
            "bonjour, je viens de lire votre article",
            "peut-être plus tard, merci",
            "au revoir et merci pour les précisions sur le tarif",
            "ah ok je vois mieux comment ça marche, merci",
        ] {
            assert!(!asks(Lang::Fr, m, courtesy), "{m}");
        }
        for m in [
            "thanks for the info on cirrhosis, it makes more sense now",
            "ok noted about the cost, thanks",
            "I'll come back after my appointment, bye",
        ] {
            assert!(!asks(Lang::En, m, courtesy), "{m}");
        }
    }

    #[test]
    fn only_a_courtesy_opening_a_clause_closes() {
        assert!(opens_a_clause("merci pour les infos", courtesy));
        assert!(opens_a_clause(
            "je vais en parler à mon médecin, au revoir",
            courtesy
        ));
        assert!(!opens_a_clause(
            "ma mère ne sait pas ce qui suit une fois qu'elle a dit ok",
            courtesy
        ));
    }

    #[test]
    fn questions_requests_and_follow_ups_ask() {
        for m in [
            "merci, et pour la stéatose",
            "ok mais combien ça coûte",
            "merci. Peut-on boire de l'alcool après",
            "y a-t-il des effets secondaires",
            "dites-moi le prix",
            "ça fait mal ?",
            "bonjour, je cherche des infos sur le prix",
            "je me permets de vous demander si la thérapie aide le foie",
            "d'accord. est ce que c'est douloureux",
        ] {
            assert!(asks(Lang::Fr, m, courtesy), "{m}");
        }
        for m in [
            "thanks, and the price",
            "ok, is it safe for children",
            "hi, how long does it take",
            "tell me about the risks",
        ] {
            assert!(asks(Lang::En, m, courtesy), "{m}");
        }
        assert!(asks(Lang::En, "does it hurt", none));
    }
}
