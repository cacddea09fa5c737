//! Dictionary look-up: is a folded token a real word of the language? Guards typo correction
//! (a real word is never "corrected" into another) and helps the language vote.

use std::sync::OnceLock;

use super::{FastSet, Lang};

static FR: &str = include_str!("words/fr.txt");
static EN: &str = include_str!("words/en.txt");

fn set(lang: Lang) -> &'static FastSet<&'static str> {
    static FR_SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    static EN_SET: OnceLock<FastSet<&'static str>> = OnceLock::new();
    match lang {
        Lang::Fr => FR_SET.get_or_init(|| FR.lines().collect()),
        Lang::En => EN_SET.get_or_init(|| EN.lines().collect()),
    }
}

/// Whether `token` (already folded) is one of the language's frequent words.
pub fn is_dictionary_word(lang: Lang, token: &str) -> bool {
    set(lang).contains(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_words_are_known_and_typos_are_not() {
        assert!(is_dictionary_word(Lang::Fr, "suite"));
        assert!(is_dictionary_word(Lang::Fr, "foie"));
        assert!(!is_dictionary_word(Lang::Fr, "clinque"));
        assert!(is_dictionary_word(Lang::En, "liver"));
    }
}
