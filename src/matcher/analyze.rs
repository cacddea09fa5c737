//! Question analysis for one language: SMS spelling, typo correction toward the knowledge's own
//! vocabulary, stemming, synonym concepts and stop words. The FAQ side goes through the same
//! steps (without typo correction), so both sides meet on the same terms.

use std::collections::{HashMap, HashSet};

use crate::knowledge::Knowledge;
use crate::text::{
    self, is_dictionary_word, is_stop_word, phonetic_key, typo_budget, typo_distance, Lang, Stemmer,
};

/// Prefix of concept terms, so that a concept never collides with a stem.
pub const CONCEPT_PREFIX: char = '#';

/// A concept variant: its words as (stem, folded word) pairs.
type Variant = Vec<(String, String)>;

/// One word of a question and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The folded word as typed (after SMS rewrites).
    pub word: String,
    /// The knowledge word it was corrected to, if it looked like a typo.
    pub corrected: Option<String>,
    pub stem: String,
    /// The concept this word belongs to (alone or with its neighbours).
    pub concept: Option<String>,
    pub stop: bool,
}

/// The result of analysing a text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    pub tokens: Vec<Token>,
    /// Distinct matching terms in order of appearance: stems, and `#concept` for concepts.
    pub terms: Vec<String>,
    /// Distinct concepts present (ids without the prefix).
    pub concepts: Vec<String>,
}

/// Everything needed to analyse text of one language. Built once per knowledge load.
pub struct Analyzer {
    lang: Lang,
    stemmer: Stemmer,
    /// SMS rewrites: a folded word to the folded words it stands for.
    spelling: HashMap<String, Vec<String>>,
    /// Words of the knowledge (folded), with how often they occur: typo targets.
    vocabulary: HashMap<String, u32>,
    /// Knowledge words by length in characters, so a typo scan reads only plausible lengths.
    by_len: Vec<Vec<String>>,
    /// Phonetic key to the most frequent knowledge word with that key.
    phonetic: HashMap<String, String>,
    /// Stems of the knowledge: a word whose stem is here is not a typo.
    stems: HashSet<String>,
    /// The stem of every knowledge word, computed once: stemming dominates indexing time.
    stem_of: HashMap<String, String>,
    /// Concept variants as (stem, word) sequences, indexed by first stem, longest first.
    concepts: HashMap<String, Vec<(Variant, usize)>>,
    concept_ids: Vec<String>,
    /// Whether each concept counts when matching (see `Concept::topic`).
    concept_topic: Vec<bool>,
}

impl Analyzer {
    pub fn new(knowledge: &Knowledge, lang: Lang) -> Analyzer {
        let stemmer = Stemmer::default();
        let spelling: HashMap<String, Vec<String>> = knowledge
            .spelling
            .rewrites
            .get(&lang)
            .map(|m| {
                m.iter()
                    .filter_map(|(from, to)| {
                        let from = text::tokenize(from);
                        let [from] = from.as_slice() else { return None };
                        Some((from.clone(), text::tokenize(to)))
                    })
                    .collect()
            })
            .unwrap_or_default();

        let mut analyzer = Analyzer {
            lang,
            stemmer,
            spelling,
            vocabulary: HashMap::new(),
            by_len: Vec::new(),
            phonetic: HashMap::new(),
            stems: HashSet::new(),
            stem_of: HashMap::new(),
            concepts: HashMap::new(),
            concept_ids: Vec::new(),
            concept_topic: Vec::new(),
        };

        // Vocabulary: every word the knowledge of this language uses.
        let mut texts: Vec<&str> = Vec::new();
        for e in knowledge.entries.iter().filter(|e| e.lang == lang) {
            texts.push(&e.question);
            texts.push(&e.section);
            texts.push(&e.answer);
            texts.extend(e.phrasings.iter().map(String::as_str));
            texts.extend(e.keywords.iter().map(String::as_str));
        }
        for i in &knowledge.intents {
            if let Some(p) = i.phrases.get(&lang) {
                texts.extend(p.iter().map(String::as_str));
            }
        }
        for c in &knowledge.concepts {
            if let Some(v) = c.variants.get(&lang) {
                texts.extend(v.iter().map(String::as_str));
            }
        }
        for t in texts {
            for w in analyzer.words(t) {
                if w.chars().any(|c| c.is_ascii_digit()) {
                    continue;
                }
                match analyzer.vocabulary.get_mut(&w) {
                    Some(count) => *count += 1,
                    None => {
                        analyzer.vocabulary.insert(w, 1);
                    }
                }
            }
        }
        for word in analyzer.vocabulary.keys() {
            let stem = analyzer.stemmer.stem(lang, word);
            analyzer.stems.insert(stem.clone());
            analyzer.stem_of.insert(word.clone(), stem);
            let len = word.chars().count();
            if analyzer.by_len.len() <= len {
                analyzer.by_len.resize(len + 1, Vec::new());
            }
            analyzer.by_len[len].push(word.clone());
            if len >= 4 {
                let key = phonetic_key(word);
                // The map is read in a random order: equal counts are settled by the word itself
                // (shorter, then alphabetical), else the same question could get another reply
                // after a restart.
                let rank = |w: &String| {
                    let c = analyzer.vocabulary.get(w).copied().unwrap_or(0);
                    (std::cmp::Reverse(c), w.chars().count(), w.clone())
                };
                let better = analyzer
                    .phonetic
                    .get(&key)
                    .is_none_or(|w| rank(word) < rank(w));
                if better {
                    analyzer.phonetic.insert(key, word.clone());
                }
            }
        }
        for bucket in &mut analyzer.by_len {
            bucket.sort();
        }

        // Concepts: stem sequences, longest first.
        for (idx, concept) in knowledge.concepts.iter().enumerate() {
            analyzer.concept_ids.push(concept.id.clone());
            analyzer.concept_topic.push(concept.topic);
            for variant in concept.variants.get(&lang).into_iter().flatten() {
                let seq: Vec<(String, String)> = analyzer
                    .words(variant)
                    .into_iter()
                    .map(|w| (analyzer.stemmer.stem(lang, &w), w))
                    .collect();
                if let Some((first, _)) = seq.first().cloned() {
                    analyzer.concepts.entry(first).or_default().push((seq, idx));
                }
            }
        }
        for list in analyzer.concepts.values_mut() {
            // Longest first; on equal length, the concept defined first wins.
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
            list.dedup_by(|a, b| a.0 == b.0);
        }
        analyzer
    }

    /// Folded words of a text after SMS rewrites.
    fn words(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (token, elided) in text::tokenize_marked(text) {
            match self.spelling.get(&token).filter(|_| !elided) {
                Some(rewrite) => out.extend(rewrite.iter().cloned()),
                None => out.push(token),
            }
        }
        out
    }

    /// Whether a folded word is known to the knowledge of this language (as is, or by its stem).
    pub fn knows(&self, word: &str) -> bool {
        self.vocabulary.contains_key(word)
            || self.stems.contains(&self.stemmer.stem(self.lang, word))
    }

    /// Analyses a visitor question (with typo correction).
    pub fn analyze_question(&self, text: &str) -> Analysis {
        self.analyze(text, true)
    }

    /// Analyses a knowledge text (phrasing, keyword, answer): no typo correction.
    pub fn analyze_knowledge(&self, text: &str) -> Analysis {
        self.analyze(text, false)
    }

    fn analyze(&self, text: &str, correct: bool) -> Analysis {
        let mut tokens: Vec<Token> = self
            .words(text)
            .into_iter()
            .map(|word| {
                let corrected = if correct { self.correct(&word) } else { None };
                let stem = self
                    .stemmer
                    .stem(self.lang, corrected.as_deref().unwrap_or(&word));
                let stop = is_stop_word(self.lang, corrected.as_deref().unwrap_or(&word));
                Token {
                    word,
                    corrected,
                    stem,
                    concept: None,
                    stop,
                }
            })
            .collect();

        let mut terms: Vec<String> = Vec::new();
        let mut concepts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if let Some((len, idx)) = self.concept_at(&tokens, i) {
                let id = &self.concept_ids[idx];
                for t in &mut tokens[i..i + len] {
                    t.concept = Some(id.clone());
                }
                if self.concept_topic[idx] {
                    push_unique(&mut terms, format!("{CONCEPT_PREFIX}{id}"));
                }
                push_unique(&mut concepts, id.clone());
                i += len;
                continue;
            }
            let t = &tokens[i];
            if !t.stop {
                push_unique(&mut terms, t.stem.clone());
            }
            i += 1;
        }
        Analysis {
            tokens,
            terms,
            concepts,
        }
    }

    /// The longest concept variant starting at token `i`: (number of tokens, concept index).
    fn concept_at(&self, tokens: &[Token], i: usize) -> Option<(usize, usize)> {
        let candidates = self.concepts.get(&tokens[i].stem)?;
        candidates
            .iter()
            .find(|(seq, _)| {
                seq.len() <= tokens.len() - i
                    && seq
                        .iter()
                        .zip(&tokens[i..])
                        .all(|((stem, word), t)| same_word(stem, word, t))
            })
            .map(|(seq, idx)| (seq.len(), *idx))
    }

    /// The knowledge word a typo most likely stands for, or None when the word is fine, is a
    /// real word of the language, or is too far from anything known.
    fn correct(&self, word: &str) -> Option<String> {
        if word.chars().any(|c| !c.is_ascii_lowercase())
            || is_stop_word(self.lang, word)
            || self.knows(word)
        {
            return None;
        }
        if is_dictionary_word(self.lang, word) {
            return None;
        }
        let budget = typo_budget(word);
        let len = word.chars().count();
        let mut best: Option<(usize, u32, &String)> = None;
        if budget > 0 {
            for l in len.saturating_sub(budget)..=len + budget {
                for candidate in self.by_len.get(l).into_iter().flatten() {
                    let d = typo_distance(word, candidate);
                    if d > budget {
                        continue;
                    }
                    let freq = self.vocabulary.get(candidate).copied().unwrap_or(0);
                    let better = match best {
                        None => true,
                        Some((bd, bf, _)) => d < bd || (d == bd && freq > bf),
                    };
                    if better {
                        best = Some((d, freq, candidate));
                    }
                }
            }
        }
        if let Some((_, _, w)) = best {
            return Some(w.clone());
        }
        if len >= 4 {
            return self
                .phonetic
                .get(&phonetic_key(word))
                .filter(|w| *w != word)
                .cloned();
        }
        None
    }
}

/// Whether a question token is the concept variant's word. Short stems collide across
/// unrelated words ("gêne"/"gens" → "gen", "montant"/"monter" → "mont"), so below five letters
/// of stem only the word itself or its plural/feminine form counts.
fn same_word(stem: &str, word: &str, token: &Token) -> bool {
    if token.stem != stem {
        return false;
    }
    if stem.chars().count() >= 5 {
        return true;
    }
    let typed = token.corrected.as_deref().unwrap_or(&token.word);
    let bare = |w: &str| {
        w.trim_end_matches(['s', 'x'])
            .trim_end_matches('e')
            .to_owned()
    };
    typed == word || bare(typed) == bare(word)
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}
