//! Stop words: words that carry no topic. Question words (combien, où, quand, pourquoi, comment,
//! quel, quoi; how, what, when, where, why, which, who) are deliberately NOT here: they tell
//! a price from a delay and a place from a date. Generic verbs (faire, donner, aller, dire,
//! pouvoir) are: in a small FAQ their rarity is falsely high.

use super::Lang;

// Folded forms (no accents).
const FR: &[&str] = &[
    "a", "afin", "ai", "aie", "ainsi", "allez", "aller", "alors", "as", "au", "aucun", "aucune",
    "aupres", "aussi", "autre", "aux", "avaient", "avais", "avait", "avant", "avec", "avez",
    "avoir", "avons", "bah", "bcp", "bein", "ben", "bien", "bon", "c", "ca", "car", "ce", "ceci",
    "cela", "celle", "celui", "ces", "cet", "cette", "ceux", "chez", "ci", "d", "dans", "de",
    "des", "deux", "dire", "dis", "dit", "dites", "dois", "doit", "doivent", "donc", "donne",
    "donnent", "donner", "donnez", "dont", "du", "elle", "elles", "en", "encore", "es", "est",
    "et", "etaient", "etais", "etait", "ete", "etes", "etre", "eu", "eux", "fai", "fais",
    "faisait", "fait", "faites", "faire", "faut", "font", "fut", "hein", "il", "ils", "j", "je",
    "jsp", "juste", "l", "la", "le", "les", "leur", "leurs", "lui", "m", "ma", "mais", "me",
    "meme", "mes", "moi", "mon", "n", "ne", "ni", "nos", "notre", "nous", "o", "on", "ont", "or",
    "ou", "par", "pas", "peu", "peut", "pour", "comme", "quelque", "quelques", "peuvent", "peux",
    "pouvez", "pouvoir", "pouvons", "puis", "puisse", "qu", "qui", "que", "s", "sa", "sait",
    "sans", "sauf", "se", "sera", "serait", "ses", "si", "sil", "soit", "sommes", "son", "sont",
    "sous", "stp", "suis", "sur", "svp", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout",
    "toute", "toutes", "tres", "tu", "un", "une", "va", "vais", "venir", "vers", "voila", "vont",
    "vos", "votre", "vous", "vraiment", "y",
];

const EN: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "being", "but", "by", "can", "could", "d", "did", "do", "does", "doing", "don",
    "done", "each", "even", "for", "from", "get", "gets", "getting", "go", "goes", "going", "got",
    "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "i", "if", "im",
    "in", "into", "is", "it", "its", "just", "let", "ll", "m", "make", "me", "might", "mine",
    "more", "most", "much", "must", "my", "myself", "no", "not", "now", "of", "on", "or", "other",
    "our", "ours", "out", "over", "please", "pls", "plz", "re", "really", "s", "same", "shall",
    "she", "should", "so", "some", "such", "t", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "too", "u", "under", "up", "us", "ve", "very",
    "was", "we", "were", "will", "with", "would", "you", "your", "yours",
];

/// The stop words of `lang`.
pub(super) fn list(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Fr => FR,
        Lang::En => EN,
    }
}

/// Whether a folded token is a stop word of `lang`.
pub fn is_stop_word(lang: Lang, token: &str) -> bool {
    super::words::known(token).stop(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_words_are_not_stop_words() {
        for w in [
            "combien", "ouu", "quand", "pourquoi", "comment", "quel", "quoi",
        ] {
            assert!(!is_stop_word(Lang::Fr, w), "{w}");
        }
        for w in ["how", "what", "when", "where", "why", "which", "who"] {
            assert!(!is_stop_word(Lang::En, w), "{w}");
        }
        assert!(is_stop_word(Lang::Fr, "faire"));
        assert!(is_stop_word(Lang::En, "the"));
    }
}
