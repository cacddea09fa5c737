//! Pure text processing shared by the knowledge loader and the matcher.
//! Turns what a visitor typed into comparable tokens; never does I/O, never fails.
//!
//! The pipeline, in order: [`fold`] (case, accents, apostrophes), [`tokenize`] (words, elisions,
//! hyphens), SMS spelling rewrites, typo correction toward the FAQ's vocabulary, [`Stemmer`],
//! concepts (in the matcher), stop words.

mod asking;
mod fold;
mod hash;
mod lang;
mod stem;
mod stopwords;
mod typo;
mod typo_index;
mod words;

pub use asking::{asks, opens_a_clause};
pub use fold::{fold, for_each_token, tokenize, tokenize_marked};
pub use hash::{FastMap, FxHasher};
pub use lang::{detect, Lang};
pub use stem::Stemmer;
pub use stopwords::is_stop_word;
pub use typo::{budget_for_chars, phonetic_key, typo_budget, typo_distance};
pub use typo_index::TypoIndex;
pub use words::is_dictionary_word;
