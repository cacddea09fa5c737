//! Language of a question, French or English, by a vote of function words and dictionary words.
//! French is the default: the site is French, and a tie or an empty question stays French.

use super::words;

/// A language the FAQ is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "fr" | "fra" | "fre" | "french" | "français" | "francais" => Some(Lang::Fr),
            "en" | "eng" | "english" | "anglais" => Some(Lang::En),
            _ => None,
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The detected language and whether the vote was clear (a clear margin of evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    pub lang: Lang,
    pub clear: bool,
}

/// Votes over folded tokens: a function word of one language only counts 3, a dictionary word of
/// one language only counts 1. Words of both languages ("a", "on", "cirrhose"?) count nothing.
pub fn detect(tokens: &[String]) -> Detection {
    let (mut fr, mut en) = (0u32, 0u32);
    for token in tokens {
        let known = words::known(token);
        match (known.stop(Lang::Fr), known.stop(Lang::En)) {
            (true, false) => fr += 3,
            (false, true) => en += 3,
            _ => match (known.word(Lang::Fr), known.word(Lang::En)) {
                (true, false) => fr += 1,
                (false, true) => en += 1,
                _ => {}
            },
        }
    }
    let lang = if en > fr { Lang::En } else { Lang::Fr };
    let (winner, loser) = if en > fr { (en, fr) } else { (fr, en) };
    Detection {
        lang,
        clear: winner >= 3 && winner >= 2 * loser + 2,
    }
}

#[cfg(test)]
mod tests {
    //! French by default; English on clear English function words; mixed or bare words unclear.
    use super::*;
    use crate::text::tokenize;

    fn lang(q: &str) -> Detection {
        detect(&tokenize(q))
    }

    #[test]
    fn french_questions_are_french() {
        assert_eq!(lang("combien coûte le traitement ?").lang, Lang::Fr);
        assert_eq!(lang("c koi la cirrhose").lang, Lang::Fr);
        assert!(lang("Est-ce que la consultation est gratuite ?").clear);
    }

    #[test]
    fn english_questions_are_english() {
        assert_eq!(lang("What is cirrhosis?").lang, Lang::En);
        assert_eq!(
            lang("how long does it take to see improvement?").lang,
            Lang::En
        );
        assert!(lang("please have someone call me back").clear);
    }

    #[test]
    fn empty_is_french_and_unclear() {
        let d = lang("");
        assert_eq!(d.lang, Lang::Fr);
        assert!(!d.clear);
    }
}
