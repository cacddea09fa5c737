//! Typo budget and distance, counted in characters (never bytes), as Meilisearch does: no typo
//! under 5 letters, one from 5, two from 9; a wrong first letter costs one more.

/// How many edits a word of this many characters may carry and still be corrected.
pub fn typo_budget(word: &str) -> usize {
    budget_for_chars(word.chars().count())
}

/// [`typo_budget`] of a word of `chars` characters.
pub fn budget_for_chars(chars: usize) -> usize {
    match chars {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Damerau–Levenshtein distance, plus one when the first letters differ: people rarely mistype
/// the first letter, and "coup" must stay far from "coût".
pub fn typo_distance(a: &str, b: &str) -> usize {
    let first_differs = a.chars().next() != b.chars().next();
    strsim::damerau_levenshtein(a, b) + usize::from(first_differs)
}

/// A rough French/English phonetic key, for SMS and phonetic spellings that are more than a
/// couple of edits away ("riske" → "risque", "fodra" → "faudra", "otres" → "autres").
pub fn phonetic_key(word: &str) -> String {
    let w = word
        .replace("qu", "k")
        .replace("ph", "f")
        .replace("eau", "o")
        .replace("au", "o")
        .replace("ai", "e")
        .replace("ei", "e")
        .replace("er", "e")
        .replace("ez", "e")
        .replace("et", "e")
        .replace("ck", "k")
        .replace('y', "i")
        .replace('w', "v");
    let mut out = String::with_capacity(w.len());
    let chars: Vec<char> = w.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let mapped = match c {
            'c' if matches!(next, Some('e' | 'i')) => 's',
            'c' => 'k',
            'g' if matches!(next, Some('e' | 'i')) => 'j',
            'z' => 's',
            'h' => continue,
            other => other,
        };
        if out.ends_with(mapped) {
            continue;
        }
        out.push(mapped);
    }
    // Silent final letters.
    while out.len() > 2
        && (out.ends_with('e') || out.ends_with('s') || out.ends_with('t') || out.ends_with('x'))
    {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    //! Budgets by length; first-letter penalty; phonetic keys that meet.
    use super::*;

    #[test]
    fn budget_grows_with_length() {
        assert_eq!(typo_budget("foie"), 0);
        assert_eq!(typo_budget("clinque"), 1);
        assert_eq!(typo_budget("hematopoietique"), 2);
        assert_eq!(typo_budget("éèàùç"), 1, "counted in characters, not bytes");
    }

    #[test]
    fn first_letter_costs_more() {
        assert_eq!(typo_distance("clinque", "clinique"), 1);
        assert_eq!(typo_distance("coup", "cout"), 1);
        assert_eq!(typo_distance("toux", "doux"), 2);
    }

    #[test]
    fn phonetic_spellings_meet() {
        assert_eq!(phonetic_key("riske"), phonetic_key("risque"));
        assert_eq!(phonetic_key("fodra"), phonetic_key("faudra"));
        assert_eq!(phonetic_key("otres"), phonetic_key("autres"));
    }
}
