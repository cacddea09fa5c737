//! Dictionary look-up: is a folded token a real word of the language? Guards typo correction
//! (a real word is never "corrected" into another) and helps the language vote.

use std::sync::OnceLock;

use super::{stopwords, FastMap, Lang};

static FR: &str = include_str!("words/fr.txt");
static EN: &str = include_str!("words/en.txt");

/// What a folded token is in the language lists: a frequent word and/or a stop word of French
/// and of English, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Known(u8);

impl Known {
    const fn bit(lang: Lang, stop: bool) -> u8 {
        let l = match lang {
            Lang::Fr => 0,
            Lang::En => 1,
        };
        1 << (l + if stop { 2 } else { 0 })
    }

    /// One of the language's frequent words.
    pub fn word(self, lang: Lang) -> bool {
        self.0 & Known::bit(lang, false) != 0
    }

    /// One of the language's stop words (`stopwords.rs`).
    pub fn stop(self, lang: Lang) -> bool {
        self.0 & Known::bit(lang, true) != 0
    }
}

/// The four lists in one table: language detection asks all four of every token, and each
/// look-up of a 60 000-word set is a cache miss or two.
pub fn known(token: &str) -> Known {
    static TABLE: OnceLock<FastMap<&'static str, u8>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table: FastMap<&'static str, u8> = FastMap::default();
        for (lang, words) in [(Lang::Fr, FR), (Lang::En, EN)] {
            for w in words.lines() {
                *table.entry(w).or_default() |= Known::bit(lang, false);
            }
            for &w in stopwords::list(lang) {
                *table.entry(w).or_default() |= Known::bit(lang, true);
            }
        }
        table
    });
    Known(table.get(token).copied().unwrap_or(0))
}

/// Whether `token` (already folded) is one of the language's frequent words.
pub fn is_dictionary_word(lang: Lang, token: &str) -> bool {
    known(token).word(lang)
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

    #[test]
    fn one_look_up_tells_every_list() {
        let a = known("a");
        assert!(a.stop(Lang::Fr) && a.stop(Lang::En));
        let the = known("the");
        assert!(the.stop(Lang::En) && !the.stop(Lang::Fr) && the.word(Lang::En));
        let foie = known("foie");
        assert!(foie.word(Lang::Fr) && !foie.stop(Lang::Fr));
        assert_eq!(known("zzqx"), Known::default());
    }
}
