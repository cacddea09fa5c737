//! Folding and tokenising: the lossy steps that make "Qu’est-ce QUE l'hépatite ?" and
//! "quest ce que l hepatite" compare equal. Display always keeps the original text.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The most tokens one question is read to. A 10 000-character paste still gets an answer, and
/// the cost of matching stays bounded.
pub const MAX_TOKENS: usize = 400;

/// Folds a whole string: lowercase, no accents, typographic apostrophes and ligatures replaced.
/// Spaces are kept as they are. Used for comparisons of whole texts (e.g. facts in an answer).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        push_folded(&mut out, c);
    }
    out
}

fn push_folded(out: &mut String, c: char) {
    match c {
        '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' | '\u{00b4}' => out.push('\''),
        '\u{0153}' | '\u{0152}' => out.push_str("oe"),
        '\u{00e6}' | '\u{00c6}' => out.push_str("ae"),
        _ => out.extend(c.to_lowercase()),
    }
}

/// Accents that carry meaning in French: once folded, "où" (where) would be the stop word "ou"
/// (or), and "sûr" (safe) the stop word "sur" (on). They become distinct tokens first.
fn meaning_bearing(word: &str) -> Option<&'static str> {
    match word {
        "où" => Some("ouu"),
        "sûr" | "sûre" | "sûrs" | "sûres" => Some("suur"),
        _ => None,
    }
}

/// Splits text into folded word tokens.
///
/// Elisions and hyphens separate words ("l'hépatite" → "l", "hepatite"; "est-elle" → "est",
/// "elle"); digit groups written with thousands separators are joined ("7 000" → "7000");
/// a lone "+" reads as "plus" and "€" as "euros". Everything else that is not a letter or a
/// digit (punctuation, emoji) separates words and is dropped.
pub fn tokenize(text: &str) -> Vec<String> {
    tokenize_marked(text).into_iter().map(|(t, _)| t).collect()
}

/// Like [`tokenize`], and tells for each token whether it was elided (written before an
/// apostrophe: the "c" of "c'est", the "l" of "l'hépatite"). SMS rewrites must not touch those:
/// "c" alone means "c'est", the "c" of "c'est" does not.
pub fn tokenize_marked(text: &str) -> Vec<(String, bool)> {
    let mut tokens: Vec<(String, bool)> = Vec::new();
    let mut word = String::new();
    // Whether the previous separator run was a single space/dot/nbsp between digit groups.
    let mut pending_sep: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() && tokens.len() < MAX_TOKENS {
        let c = chars[i];
        if c.is_alphanumeric() {
            if let Some(sep) = pending_sep.take() {
                // "7 000": join a 3-digit group to the number before it.
                let group_len = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                let follows_digit = tokens
                    .last()
                    .is_some_and(|(t, _)| t.chars().all(|c| c.is_ascii_digit()));
                let group_ends = chars
                    .get(i + group_len)
                    .is_none_or(|c| !c.is_alphanumeric());
                if follows_digit
                    && group_len == 3
                    && group_ends
                    && matches!(sep, ' ' | '.' | '\u{a0}' | '\u{202f}')
                {
                    if let Some((last, _)) = tokens.last_mut() {
                        last.extend(&chars[i..i + 3]);
                    }
                    i += 3;
                    continue;
                }
            }
            word.push(c);
            i += 1;
            continue;
        }
        let elided = matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}');
        flush(&mut word, &mut tokens, elided);
        pending_sep = if matches!(c, ' ' | '.' | '\u{a0}' | '\u{202f}') && pending_sep.is_none() {
            Some(c)
        } else {
            None
        };
        match c {
            '+' => tokens.push(("plus".to_owned(), false)),
            '€' => tokens.push(("euros".to_owned(), false)),
            _ => {}
        }
        i += 1;
    }
    flush(&mut word, &mut tokens, false);
    tokens.truncate(MAX_TOKENS);
    tokens
}

fn flush(word: &mut String, tokens: &mut Vec<(String, bool)>, elided: bool) {
    if word.is_empty() {
        return;
    }
    if word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // The common case needs no Unicode work.
        tokens.push((word.to_ascii_lowercase(), elided));
        word.clear();
        return;
    }
    let lower = word.to_lowercase();
    let folded = match meaning_bearing(&lower) {
        Some(token) => token.to_owned(),
        None => fold(&lower),
    };
    // NFKD can turn one character into letters plus marks only; keep letters and digits.
    let folded: String = folded.chars().filter(|c| c.is_alphanumeric()).collect();
    if !folded.is_empty() {
        tokens.push((folded, elided));
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    //! Folding keeps meaning-bearing accents apart, splits elisions and hyphens, joins numbers.
    use super::*;

    fn check(input: &str, expected: &[&str]) {
        assert_eq!(tokenize(input), expected, "tokenize({input:?})");
    }

    #[test]
    fn accents_case_and_apostrophes_fold() {
        check(
            "Qu’est-ce QUE l'hépatite ?",
            &["qu", "est", "ce", "que", "l", "hepatite"],
        );
        check("cœur ÉTÉ", &["coeur", "ete"]);
    }

    #[test]
    fn meaning_bearing_accents_survive() {
        check(
            "où est la clinique ou le centre",
            &["ouu", "est", "la", "clinique", "ou", "le", "centre"],
        );
        check(
            "c'est sûr ? sur place",
            &["c", "est", "suur", "sur", "place"],
        );
    }

    #[test]
    fn thousands_are_joined_and_symbols_read() {
        check(
            "entre 7 000 et 31 000 €",
            &["entre", "7000", "et", "31000", "euros"],
        );
        check("le + souvent", &["le", "plus", "souvent"]);
        check("4 à 12 semaines", &["4", "a", "12", "semaines"]);
    }

    #[test]
    fn emoji_and_punctuation_vanish() {
        check("🔥🚀🔥", &[]);
        check("1' OR '1'='1", &["1", "or", "1", "1"]);
    }

    #[test]
    fn elided_words_are_marked() {
        let marked = tokenize_marked("c'est c koi");
        assert_eq!(marked[0], ("c".to_owned(), true));
        assert_eq!(marked[2], ("c".to_owned(), false));
    }

    #[test]
    fn long_input_is_bounded() {
        let long = "foie ".repeat(5000);
        assert_eq!(tokenize(&long).len(), MAX_TOKENS);
    }
}
