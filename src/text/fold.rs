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
/// a lone "+" reads as "plus", "€" as "euros", and a few emoji as the small talk they stand
/// for ("👍" → "ok", "🙏" → "thanks", "👋" → "bye"). Everything else that is not a letter or
/// a digit (punctuation, other emoji) separates words and is dropped.
pub fn tokenize(text: &str) -> Vec<String> {
    tokenize_marked(text).into_iter().map(|(t, _)| t).collect()
}

/// Like [`tokenize`], and tells for each token whether it was elided (written before an
/// apostrophe: the "c" of "c'est", the "l" of "l'hépatite"). SMS rewrites must not touch those:
/// "c" alone means "c'est", the "c" of "c'est" does not.
pub fn tokenize_marked(text: &str) -> Vec<(String, bool)> {
    let mut tokens: Vec<(String, bool)> = Vec::new();
    for_each_token(text, |token, elided| {
        tokens.push((token.to_owned(), elided))
    });
    tokens
}

/// The tokens of [`tokenize_marked`], one at a time, without a string per token: indexing
/// reads every text of the knowledge, and most of its words are already known.
pub fn for_each_token(text: &str, mut emit: impl FnMut(&str, bool)) {
    let mut tokens = Pending::default();
    // Whether the previous separator run was a single space/dot/nbsp between digit groups.
    let mut pending_sep: Option<char> = None;
    // Where the word being read starts (a byte offset): words are runs of letters and digits.
    let mut word_start: Option<usize> = None;
    let mut pos = 0;
    while tokens.count < MAX_TOKENS {
        let Some(c) = text[pos..].chars().next() else {
            break;
        };
        if c.is_alphanumeric() {
            if let Some(sep) = pending_sep.take() {
                // "7 000": join a 3-digit group to the number before it.
                let rest = &text[pos..];
                let group_len = rest.bytes().take_while(u8::is_ascii_digit).count();
                let follows_digit = tokens.have && tokens.last.bytes().all(|b| b.is_ascii_digit());
                let group_ends = rest[group_len..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
                if follows_digit
                    && group_len == 3
                    && group_ends
                    && matches!(sep, ' ' | '.' | '\u{a0}' | '\u{202f}')
                {
                    tokens.last.push_str(&rest[..3]);
                    pos += 3;
                    continue;
                }
            }
            word_start.get_or_insert(pos);
            pos += c.len_utf8();
            // The rest of an ASCII run needs no decoding: nothing above changes within a word.
            pos += text.as_bytes()[pos..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            continue;
        }
        let elided = matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}');
        if let Some(start) = word_start.take() {
            tokens.word(&text[start..pos], elided, &mut emit);
        }
        pending_sep = if matches!(c, ' ' | '.' | '\u{a0}' | '\u{202f}') && pending_sep.is_none() {
            Some(c)
        } else {
            None
        };
        // ":)", ";-)", ":D", "^^": typed smiles, an acknowledgement like "🙂"; "<3" a thanks.
        if let Some((len, word)) = emoticon(c, &text[pos + c.len_utf8()..]) {
            tokens.push(word, false, &mut emit);
            pos += c.len_utf8() + len;
            pending_sep = None;
            continue;
        }
        match c {
            '+' => tokens.push("plus", false, &mut emit),
            '€' => tokens.push("euros", false, &mut emit),
            // A thumbs-up or a smile on its own is an acknowledgement, folded hands or a heart
            // a thanks, a waving hand a goodbye: words both languages' small talk knows.
            '👍' | '👌' | '🙂' | '😊' | '😀' | '😃' | '😄' | '😁' | '☺' => {
                tokens.push("ok", false, &mut emit)
            }
            '🙏' | '❤' | '💙' | '💚' | '🥰' => tokens.push("thanks", false, &mut emit),
            '👋' => tokens.push("bye", false, &mut emit),
            _ => {}
        }
        pos += c.len_utf8();
    }
    if let Some(start) = word_start {
        tokens.word(&text[start..], false, &mut emit);
    }
    if tokens.have {
        emit(&tokens.last, tokens.elided);
    }
}

/// A typed emoticon starting with `c` and going on with `rest`: the bytes of `rest` it takes
/// and the word it stands for. A letter must end it (":Dans" is no smile), a digit may not
/// follow a heart ("<30").
fn emoticon(c: char, rest: &str) -> Option<(usize, &'static str)> {
    let b = rest.as_bytes();
    let ends = |at: usize| b.get(at).is_none_or(|x| !x.is_ascii_alphanumeric());
    match c {
        ':' | ';' | '=' => {
            let nose = usize::from(matches!(b.first(), Some(b'-' | b'\'')));
            match b.get(nose)? {
                b')' | b']' => Some((nose + 1, "ok")),
                b'D' | b'P' | b'p' if ends(nose + 1) => Some((nose + 1, "ok")),
                _ => None,
            }
        }
        '^' if b.first() == Some(&b'^') => Some((1, "ok")),
        '<' if b.first() == Some(&b'3') && ends(1) => Some((1, "thanks")),
        _ => None,
    }
}

/// The latest token, held back because a digit group may still join it ("7 000"), and a
/// buffer for the next one: two strings reused for the whole text.
#[derive(Default)]
struct Pending {
    last: String,
    elided: bool,
    have: bool,
    next: String,
    /// Tokens so far, the held one included.
    count: usize,
}

impl Pending {
    /// A word (letters and digits) as read: folded into a token, if anything remains of it.
    fn word(&mut self, word: &str, elided: bool, emit: &mut impl FnMut(&str, bool)) {
        self.next.clear();
        if word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // The common case needs no Unicode work.
            self.next.push_str(word);
            self.next.make_ascii_lowercase();
        } else if !fold_latin(word, &mut self.next) {
            // Accented French words are common in the knowledge: the table folds them without
            // normalisation; anything else takes the full path.
            self.next.clear();
            self.next.push_str(&fold_word(word));
        }
        if !self.next.is_empty() {
            self.commit(elided, emit);
        }
    }

    fn push(&mut self, token: &str, elided: bool, emit: &mut impl FnMut(&str, bool)) {
        self.next.clear();
        self.next.push_str(token);
        self.commit(elided, emit);
    }

    /// Makes `next` the held token, passing the previous one on. Tokens past [`MAX_TOKENS`]
    /// are dropped.
    fn commit(&mut self, elided: bool, emit: &mut impl FnMut(&str, bool)) {
        if self.count >= MAX_TOKENS {
            return;
        }
        if self.have {
            emit(&self.last, self.elided);
        }
        std::mem::swap(&mut self.last, &mut self.next);
        self.elided = elided;
        self.have = true;
        self.count += 1;
    }
}

/// The token of a word of letters and digits, by Unicode lowercasing and NFKD.
fn fold_word(word: &str) -> String {
    let lower = word.to_lowercase();
    let folded = match meaning_bearing(&lower) {
        Some(token) => token.to_owned(),
        None => fold(&lower),
    };
    // NFKD can turn one character into letters plus marks only; keep letters and digits.
    folded.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// [`fold_word`] for words of ASCII letters and digits and the accented letters of French and
/// its neighbours, by a table: appends the same token to `out` without normalising. False (with
/// part of the word appended) for any other character, and for ù and û, which make "où" and
/// "sûr" (see [`meaning_bearing`]).
fn fold_latin(word: &str, out: &mut String) -> bool {
    for c in word.chars() {
        let folded = match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                'a'
            }
            'ç' | 'Ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
            'ñ' | 'Ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ú' | 'ü' | 'Ú' | 'Ü' => 'u',
            'ý' | 'ÿ' | 'Ý' | 'Ÿ' => 'y',
            'œ' | 'Œ' => {
                out.push_str("oe");
                continue;
            }
            'æ' | 'Æ' => {
                out.push_str("ae");
                continue;
            }
            _ => return false,
        };
        out.push(folded);
    }
    true
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
        check("👍", &["ok"]);
        check(":)", &["ok"]);
        check("merci ;-) <3", &["merci", "ok", "thanks"]);
        check("ok :D", &["ok", "ok"]);
        check(
            "note:Dans 10:30 <30 ans",
            &["note", "dans", "10", "30", "30", "ans"],
        );
        check("^^", &["ok"]);
        check("merci🙏", &["merci", "thanks"]);
        check("👋 à bientôt", &["bye", "a", "bientot"]);
        check("🎉", &[]);
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
    fn latin_table_folds_as_normalisation_does() {
        // Every character of Latin-1 and Latin Extended-A, alone and inside a word.
        for c in ('\u{20}'..='\u{17f}').filter(|c| c.is_alphanumeric()) {
            for word in [c.to_string(), format!("x{c}y"), format!("{c}{c}")] {
                let mut fast = String::new();
                if fold_latin(&word, &mut fast) {
                    assert_eq!(fast, fold_word(&word), "{word:?}");
                }
            }
        }
        let mut out = String::new();
        assert!(fold_latin("Hépatite", &mut out));
        assert_eq!(out, "hepatite");
        assert!(
            !fold_latin("sûr", &mut out),
            "meaning-bearing accents take the full path"
        );
        check("Où ? SÛR. Cœur", &["ouu", "suur", "coeur"]);
    }

    #[test]
    fn long_input_is_bounded() {
        let long = "foie ".repeat(5000);
        assert_eq!(tokenize(&long).len(), MAX_TOKENS);
        // Reading stops at the bound: a "+" right after it is dropped, and so is a digit
        // group that would have joined the last token.
        let plus = format!("{}a+ b", "x ".repeat(MAX_TOKENS - 1));
        let tokens = tokenize(&plus);
        assert_eq!(tokens.len(), MAX_TOKENS);
        assert_eq!(tokens.last().map(String::as_str), Some("a"));
        let joined = format!("{}7 000", "x ".repeat(MAX_TOKENS - 1));
        assert_eq!(tokenize(&joined).last().map(String::as_str), Some("7"));
    }

    #[test]
    fn odd_words_fold_as_before() {
        check(
            "ǅemal ſ ø 1ᵉʳ 7 000 000x",
            &["dzemal", "s", "ø", "1er", "7000", "000x"],
        );
        check("7 000 000 et 12.500", &["7000000", "et", "12500"]);
    }
}
