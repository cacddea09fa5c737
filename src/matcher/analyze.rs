//! Question analysis for one language: SMS spelling, typo correction toward the knowledge's own
//! vocabulary, stemming, synonym concepts and stop words. The FAQ side goes through the same
//! steps (without typo correction), so both sides meet on the same terms.

use std::borrow::Cow;

use crate::knowledge::{IntentKind, Knowledge};
use crate::text::{
    self, is_dictionary_word, is_stop_word, phonetic_key, FastMap, Lang, Stemmer, TypoIndex,
};

/// Longest word typo correction looks at (ASCII letters only reach it, so bytes are letters):
/// "anticonstitutionnellement" has 25.
pub const MAX_TYPO_CHARS: usize = 30;

/// Prefix of concept terms, so that a concept never collides with a stem.
pub const CONCEPT_PREFIX: char = '#';

/// A word of the knowledge, analysed once when the analyzer is built: indexing reads each
/// knowledge text again, and stemming every occurrence was most of the indexing time.
struct Word {
    /// Index into `Analyzer::stems`.
    stem: u32,
    /// Occurrences in the knowledge; 0 for words with digits, which are no typo targets.
    count: u32,
    stop: bool,
}

/// One word of a concept variant.
#[derive(PartialEq)]
struct VariantWord {
    stem: u32,
    /// The folded word.
    word: String,
    /// Whether the stem has five letters or more (see [`same_word`]).
    long_stem: bool,
    /// The length of its [`bare`] form when that has four letters or more, else 0 (see
    /// [`same_form`]).
    bare: usize,
}

type Variant = Vec<VariantWord>;

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

/// What finding concepts needs to know of a token.
struct Lite<'a> {
    /// The stem's index in `Analyzer::stems`; None when no knowledge word has this stem.
    stem: Option<u32>,
    /// The word, or the knowledge word it was corrected to.
    typed: Cow<'a, str>,
    /// The length of `typed`'s [`bare`] form in a question; 0 in the knowledge, which is
    /// read as written (see [`same_form`]).
    bare: usize,
}

/// Room for [`Analyzer::knowledge_terms`] to work in, reused from text to text.
#[derive(Default)]
pub struct Scratch<'a>(Vec<Lite<'a>>);

/// What the scan of a text found at a token.
enum Found {
    /// Concept `idx` covers tokens `start..start + len`.
    Concept {
        start: usize,
        len: usize,
        idx: usize,
    },
    /// Token `i` stands for itself (its stem, unless it is a stop word).
    Word(usize),
}

/// A matching term of a knowledge text: a stem (index of `Analyzer::stems`) or a concept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    Stem(u32),
    Concept(usize),
}

/// Reads the knowledge texts of one language into word ids, giving each new word the next id
/// and counting occurrences (typo targets are chosen by frequency), so that no text is
/// tokenized twice while indexing.
pub struct Reader {
    spelling: FastMap<String, Vec<String>>,
    ids: FastMap<String, u32>,
    names: Vec<String>,
    counts: Vec<u32>,
}

impl Reader {
    /// An empty reader with the same SMS rewrites, to read part of the texts on another thread;
    /// [`Reader::absorb`] then merges what it read.
    pub fn fork(&self) -> Reader {
        Reader {
            spelling: self.spelling.clone(),
            ids: FastMap::default(),
            names: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// Takes in the words `part` (a [`Reader::fork`]) read, as if this reader had read its texts
    /// itself right now, and rewrites `words`, the ids `part` gave, into this reader's ids.
    /// `part` numbered its words in order of first appearance, so its words new to this reader,
    /// taken in that order, get the ids reading the texts here would have given them.
    pub fn absorb(&mut self, part: Reader, words: &mut [u32]) {
        let ids: Vec<u32> = part
            .names
            .into_iter()
            .zip(part.counts)
            .map(|(name, count)| {
                let id = match self.ids.get(&name) {
                    Some(&id) => id,
                    None => {
                        let id = self.names.len() as u32;
                        self.ids.insert(name.clone(), id);
                        self.names.push(name);
                        self.counts.push(0);
                        id
                    }
                };
                self.counts[id as usize] += count;
                id
            })
            .collect();
        for w in words {
            *w = ids[*w as usize];
        }
    }

    /// Appends the word ids of `text` (after SMS rewrites) to `out`. `count`: its words count
    /// as occurrences; pass false for a text whose words are counted elsewhere.
    pub fn read(&mut self, text: &str, count: bool, out: &mut Vec<u32>) {
        let Reader {
            spelling,
            ids,
            names,
            counts,
        } = self;
        each_word(spelling, text, |w| {
            let id = match ids.get(w) {
                Some(&id) => id,
                None => {
                    let id = names.len() as u32;
                    ids.insert(w.to_owned(), id);
                    names.push(w.to_owned());
                    counts.push(0);
                    id
                }
            };
            if count {
                counts[id as usize] += 1;
            }
            out.push(id);
        });
    }
}

/// Everything needed to analyse text of one language. Built once per knowledge load.
pub struct Analyzer {
    lang: Lang,
    stemmer: Stemmer,
    /// SMS rewrites: a folded word to the folded words it stands for.
    spelling: FastMap<String, Vec<String>>,
    /// Every word of the knowledge (folded) and its index in `words` and `names`.
    lexicon: FastMap<String, u32>,
    /// Each knowledge word, stemmed once.
    words: Vec<Word>,
    names: Vec<String>,
    /// Distinct stems of the knowledge's words, and their indexes.
    stems: Vec<String>,
    stem_ids: FastMap<String, u32>,
    /// Whether a stem is that of a word without digits: a word with such a stem is not a typo.
    stem_known: Vec<bool>,
    /// Typo targets: the words without digits, in a deletion index.
    typos: TypoIndex,
    /// Phonetic key to the most frequent knowledge word with that key.
    phonetic: FastMap<String, String>,
    /// Concept variants, indexed by the stem of their first word, longest first.
    concepts: FastMap<u32, Vec<(Variant, usize)>>,
    /// Whether a stem (by index) starts some concept variant: most words start none, and this
    /// spares them a look-up in `concepts` (indexing scans every word of the knowledge).
    concept_starts: Vec<bool>,
    concept_ids: Vec<String>,
    /// The term each concept adds: its id with [`CONCEPT_PREFIX`].
    concept_terms: Vec<String>,
    /// Whether each concept counts when matching (see `Concept::topic`).
    concept_topic: Vec<bool>,
    /// Whether matching reads each concept's words instead (see `Concept::rules_only`).
    concept_rules_only: Vec<bool>,
    /// Of the concepts the analyser names itself (a quantity: a count of pills, a temperature,
    /// a time ago; a position: a person, a "now", an animal near a sign), those the knowledge
    /// defines: looked up once here rather than in every question.
    read_concepts: Vec<&'static str>,
    /// The index of the `past` concept, which "il y a trois ans *que*…" does not name.
    past: Option<usize>,
    /// What each concept is to [`HAS_SIGN`], [`SIGN_NOW`] and [`ANIMAL_SIGN`]: a person, a
    /// sign, an animal, a time that is now, or none of these.
    concept_role: Vec<Role>,
}

/// What a concept is when the analyser looks for someone said to have a sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The visitor, a relative, someone ("je", "ma mère", "il").
    Person,
    /// A concept an emergency rule names that is a sign itself ("vomit", "black", "faint").
    Sign,
    /// An animal ("mon chien a vomi du sang"): what follows it is the animal's, not the
    /// person's before it.
    Animal,
    /// A word saying it is happening now ("maintenant"): counts near a sign only.
    Now,
    /// Something going on since a moment ago ("depuis ce matin", "en train de"): counts
    /// wherever it stands.
    Ongoing,
    /// A time some weeks ago ("la semaine dernière", "last week"): the past of a sign it
    /// follows, not of one after it (see [`tells_a_time_ago`]).
    Then,
    Other,
}

impl Analyzer {
    /// Whether `concept` is a sign an emergency rule names (not who has it, nor when).
    pub(super) fn is_sign(&self, concept: &str) -> bool {
        self.concept_ids
            .iter()
            .position(|id| id == concept)
            .is_some_and(|i| self.concept_role[i] == Role::Sign)
    }

    /// Builds the analyzer of one language, reading every knowledge text of it once.
    /// `read_indexed` reads the texts the index matches on through the [`Reader`] it is given
    /// (and returns their word ids); the analyzer then reads the rest of the vocabulary itself:
    /// every intent's phrases and every concept's variants. `index` is then given the analyzer
    /// and what `read_indexed` returned, and runs while another thread builds the typo targets,
    /// which indexing does not use (they correct questions only).
    pub fn new<T, R>(
        knowledge: &Knowledge,
        lang: Lang,
        read_indexed: impl FnOnce(&mut Reader) -> T,
        index: impl FnOnce(&Analyzer, T) -> R,
    ) -> (Analyzer, R) {
        let stemmer = Stemmer::default();
        let spelling: FastMap<String, Vec<String>> = knowledge
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

        // Vocabulary: every word the knowledge of this language uses.
        let mut reader = Reader {
            spelling,
            ids: FastMap::default(),
            names: Vec::new(),
            counts: Vec::new(),
        };
        let read = read_indexed(&mut reader);
        let mut scratch = Vec::new();
        for i in &knowledge.intents {
            for p in i.phrases.get(&lang).into_iter().flatten() {
                reader.read(p, true, &mut scratch);
            }
        }
        for c in &knowledge.concepts {
            for v in c.variants.get(&lang).into_iter().flatten() {
                reader.read(v, true, &mut scratch);
            }
        }
        let Reader {
            spelling,
            ids: lexicon,
            names,
            counts,
        } = reader;

        let mut analyzer = Analyzer {
            lang,
            stemmer,
            spelling,
            lexicon,
            words: Vec::with_capacity(names.len()),
            names: Vec::new(),
            stems: Vec::new(),
            stem_ids: FastMap::default(),
            stem_known: Vec::new(),
            typos: TypoIndex::new([]),
            phonetic: FastMap::default(),
            concepts: FastMap::default(),
            concept_starts: Vec::new(),
            concept_ids: Vec::new(),
            concept_terms: Vec::new(),
            concept_topic: Vec::new(),
            concept_rules_only: Vec::new(),
            read_concepts: Vec::new(),
            past: None,
            concept_role: Vec::new(),
        };
        // Each distinct word stemmed once.
        for (word, &count) in names.iter().zip(&counts) {
            // Words with digits ("2025", "24h") are matched but never typo targets, and do not
            // make their stem a known one.
            let digits = word.bytes().any(|b| b.is_ascii_digit());
            let stem = analyzer.stem_id(word, !digits);
            let w = Word {
                stem,
                count: if digits { 0 } else { count },
                stop: is_stop_word(lang, word),
            };
            analyzer.words.push(w);
        }
        analyzer.names = names;

        // Concepts: stem sequences, longest first.
        for (idx, concept) in knowledge.concepts.iter().enumerate() {
            analyzer.concept_ids.push(concept.id.clone());
            analyzer
                .concept_terms
                .push(format!("{CONCEPT_PREFIX}{}", concept.id));
            analyzer.concept_topic.push(concept.topic);
            analyzer.concept_rules_only.push(concept.rules_only);
            for variant in concept.variants.get(&lang).into_iter().flatten() {
                let seq: Variant = analyzer
                    .words(variant)
                    .into_iter()
                    .map(|word| {
                        // Every variant word was read above; a stem is all it needs here.
                        let stem = match analyzer.lexicon.get(&word) {
                            Some(&id) => analyzer.words[id as usize].stem,
                            None => analyzer.stem_id(&word, false),
                        };
                        let long_stem = analyzer.stems[stem as usize].chars().count() >= 5;
                        VariantWord {
                            stem,
                            bare: bare_len(&word),
                            word,
                            long_stem,
                        }
                    })
                    .collect();
                if let Some(first) = seq.first().map(|w| w.stem) {
                    analyzer.concepts.entry(first).or_default().push((seq, idx));
                }
            }
        }
        for list in analyzer.concepts.values_mut() {
            // Longest first; on equal length, the concept defined first wins.
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
            list.dedup_by(|a, b| a.0 == b.0);
        }
        analyzer.read_concepts = [
            ONGOING,
            VITAL_ALARM,
            TOO_MUCH_MEDICATION,
            FEVER,
            NEWBORN,
            LAUGHING,
            PAST,
            HAS_SIGN,
            SIGN_NOW,
            ANIMAL_SIGN,
            IF_SIGN,
        ]
        .into_iter()
        .filter(|q| knowledge.concepts.iter().any(|c| c.id == *q))
        .collect();
        analyzer.past = analyzer.concept_ids.iter().position(|id| id == PAST);
        let signs: Vec<&str> = knowledge
            .intents
            .iter()
            .filter(|i| i.kind == IntentKind::Emergency)
            .flat_map(|i| &i.rules)
            .flat_map(|r| &r.all)
            .map(String::as_str)
            .filter(|c| !NOT_SIGNS.contains(c))
            .collect();
        analyzer.concept_role = analyzer
            .concept_ids
            .iter()
            .map(|id| {
                if PERSONS.contains(&id.as_str()) {
                    Role::Person
                } else if id == ANIMAL {
                    Role::Animal
                } else if id == NOW {
                    Role::Now
                } else if id == ONGOING {
                    Role::Ongoing
                } else if id == WEEKS_AGO {
                    Role::Then
                } else if signs.contains(&id.as_str()) {
                    Role::Sign
                } else {
                    Role::Other
                }
            })
            .collect();
        analyzer.concept_starts = vec![false; analyzer.stems.len()];
        for &stem in analyzer.concepts.keys() {
            analyzer.concept_starts[stem as usize] = true;
        }

        let (indexed, (phonetic, typos)) = std::thread::scope(|scope| {
            let typos = scope.spawn(|| typo_targets(&analyzer.names, &analyzer.words));
            let indexed = index(&analyzer, read);
            // A panic while indexing is a bug: re-raise it rather than serve half an analyzer.
            let typos = typos
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (indexed, typos)
        });
        analyzer.phonetic = phonetic;
        analyzer.typos = typos;
        (analyzer, indexed)
    }

    /// The index of a word's stem, added if new; `known` marks it as the stem of a word
    /// without digits (see `stem_known`).
    fn stem_id(&mut self, word: &str, known: bool) -> u32 {
        let stem = self.stemmer.stem(self.lang, word);
        let id = match self.stem_ids.get(&stem) {
            Some(&id) => id,
            None => {
                let id = self.stems.len() as u32;
                self.stem_ids.insert(stem.clone(), id);
                self.stems.push(stem);
                self.stem_known.push(false);
                id
            }
        };
        if known {
            self.stem_known[id as usize] = true;
        }
        id
    }

    /// Folded words of a text after SMS rewrites.
    fn words(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        each_word(&self.spelling, text, |w| out.push(w.to_owned()));
        out
    }

    /// [`Analyzer::words`] of a visitor's text, with SMS French's elided "je" put back: "jcrache
    /// du sang", "jrespire mal" are "je crache", "je respire" (the knowledge never writes so).
    fn question_words(&self, text: &str) -> Vec<String> {
        let spelled;
        let text = match spell_out_emojis(self.lang, text) {
            Some(t) => {
                spelled = t;
                spelled.as_str()
            }
            None => text,
        };
        let words = self.words(text);
        if self.lang != Lang::Fr {
            return words;
        }
        let mut out = Vec::with_capacity(words.len());
        for word in words {
            match self.elided_je(&word) {
                Some(rest) => out.extend(["je".to_owned(), rest.to_owned()]),
                None => out.push(word),
            }
        }
        out
    }

    /// The verb of an SMS "j" + consonant word ("jcrache" → "crache") when the whole is no word
    /// and the rest is one.
    fn elided_je<'w>(&self, word: &'w str) -> Option<&'w str> {
        let rest = word.strip_prefix('j')?;
        let second = rest.chars().next()?;
        let is_word = |w: &str| is_dictionary_word(self.lang, w) || self.knows(w);
        (rest.chars().count() >= 3
            && second.is_ascii_lowercase()
            && !"aeiouyh".contains(second)
            && !is_word(word)
            && is_word(rest))
        .then_some(rest)
    }

    /// Whether a folded word is known to the knowledge of this language (as is, or by its stem).
    pub fn knows(&self, word: &str) -> bool {
        self.word(word).is_some_and(|w| w.count > 0)
            || self
                .stem_ids
                .get(&self.stemmer.stem(self.lang, word))
                .is_some_and(|&id| self.stem_known[id as usize])
    }

    /// Analyses a visitor question (with typo correction).
    pub fn analyze_question(&self, text: &str) -> Analysis {
        let mut tokens: Vec<Token> = Vec::new();
        let mut stems: Vec<Option<u32>> = Vec::new();
        for word in self.question_words(text) {
            let corrected = self.correct(&word);
            let typed = corrected.as_deref().unwrap_or(&word);
            let (stem_id, stem, stop) = match self.word(typed) {
                Some(w) => (Some(w.stem), self.stems[w.stem as usize].clone(), w.stop),
                None => {
                    let stem = self.stemmer.stem(self.lang, typed);
                    let id = self.stem_ids.get(&stem).copied();
                    (id, stem, is_stop_word(self.lang, typed))
                }
            };
            stems.push(stem_id);
            tokens.push(Token {
                word,
                corrected,
                stem,
                concept: None,
                stop,
            });
        }
        let lites: Vec<Lite> = tokens
            .iter()
            .zip(&stems)
            .map(|(t, &stem)| {
                let typed = t.corrected.as_deref().unwrap_or(&t.word);
                Lite {
                    stem,
                    typed: Cow::Borrowed(typed),
                    bare: bare_len(typed),
                }
            })
            .collect();
        let mut found: Vec<Found> = Vec::new();
        self.scan(&lites, |f| found.push(f));

        let mut terms: Vec<String> = Vec::new();
        let mut concepts: Vec<String> = Vec::new();
        // Each token's role, for the concepts read from positions (`HAS_SIGN`…).
        let mut roles = vec![Role::Other; tokens.len()];
        // Each sign told (start, length, concept) and whether a negation before it says no.
        let mut signs: Vec<(usize, usize, usize, bool)> = Vec::new();
        for f in found {
            match f {
                // "il y a trois ans que je vomis", "depuis l'an dernier": a time that lasts until
                // now, not the past.
                Found::Concept { start, len, idx }
                    if Some(idx) == self.past
                        && (lasting(&tokens, start + len) || since(&tokens, start)) => {}
                Found::Concept { start, len, idx } => {
                    let id = &self.concept_ids[idx];
                    for t in &mut tokens[start..start + len] {
                        t.concept = Some(id.clone());
                    }
                    roles[start..start + len].fill(self.concept_role[idx]);
                    if self.concept_role[idx] == Role::Sign {
                        signs.push((start, len, idx, negated(&tokens, start, len)));
                    }
                    if self.concept_rules_only[idx] {
                        for t in tokens[start..start + len].iter().filter(|t| !t.stop) {
                            push_unique(&mut terms, &t.stem);
                        }
                    } else if self.concept_topic[idx] {
                        push_unique(&mut terms, &self.concept_terms[idx]);
                    }
                    push_unique(&mut concepts, id);
                }
                Found::Word(i) if !tokens[i].stop => push_unique(&mut terms, &tokens[i].stem),
                Found::Word(_) => {}
            }
        }
        // A sign said not to be there ("pas de fièvre", "il n'a jamais vomi de sang", "no
        // bleeding, no confusion") is no sign to the rules: not where it stands, and not at all
        // when every mention of it says no. Matching still reads its words.
        for &(start, len, idx, no) in &signs {
            if no {
                roles[start..start + len].fill(Role::Other);
                let only_no = signs.iter().all(|&(_, _, i, n)| i != idx || n);
                if only_no {
                    concepts.retain(|c| *c != self.concept_ids[idx]);
                }
            }
        }
        // Quantities no variant can list, read where they stand so that positions count them:
        // "depuis 40 min" is something going on, "tension 8/5" a sign.
        let recent = self.read_concepts.contains(&ONGOING)
            && mark_recent_durations(self.lang, &tokens, &mut roles);
        let vital =
            self.read_concepts.contains(&VITAL_ALARM) && mark_alarming_vitals(&tokens, &mut roles);
        let holders = Holders::read(&roles, &tokens);
        for (read, concept) in [
            (recent, ONGOING),
            (vital, VITAL_ALARM),
            (counts_many_pills(self.lang, &tokens), TOO_MUCH_MEDICATION),
            (reads_a_fever(&tokens), FEVER),
            (reads_a_newborn(self.lang, &tokens), NEWBORN),
            (laughs(text, &tokens), LAUGHING),
            (tells_a_time_ago(self.lang, &tokens, &roles), PAST),
            (holders.person, HAS_SIGN),
            (a_sign_is_now(&roles), SIGN_NOW),
            (holders.animal, ANIMAL_SIGN),
            (holders.supposed, IF_SIGN),
        ] {
            if read && self.read_concepts.contains(&concept) {
                push_unique(&mut concepts, concept);
            }
        }
        Analysis {
            tokens,
            terms,
            concepts,
        }
    }

    /// The folded text of knowledge word `id` (as a [`Reader`] numbered it).
    pub fn word_text(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// The stem of knowledge word `id`.
    pub fn word_stem(&self, id: u32) -> &str {
        &self.stems[self.words[id as usize].stem as usize]
    }

    fn word(&self, word: &str) -> Option<&Word> {
        self.lexicon.get(word).map(|&id| &self.words[id as usize])
    }

    /// Calls `term` with each matching term of a knowledge text read by a [`Reader`] (no typo
    /// correction) in order of appearance, repeats included: the `terms` a question with these
    /// words would get, without building its tokens (indexing reads every knowledge text).
    /// `scratch` is reused from text to text (a list per text was a tenth of indexing's time).
    pub fn knowledge_terms<'a>(
        &'a self,
        words: &[u32],
        scratch: &mut Scratch<'a>,
        mut term: impl FnMut(Term),
    ) {
        let lites = &mut scratch.0;
        lites.clear();
        lites.extend(words.iter().map(|&id| Lite {
            stem: Some(self.words[id as usize].stem),
            typed: Cow::Borrowed(&self.names[id as usize]),
            bare: 0,
        }));
        self.scan(lites, |f| match f {
            Found::Concept { start, len, idx } if self.concept_rules_only[idx] => {
                for &id in &words[start..start + len] {
                    let w = &self.words[id as usize];
                    if !w.stop {
                        term(Term::Stem(w.stem));
                    }
                }
            }
            Found::Concept { idx, .. } => {
                if self.concept_topic[idx] {
                    term(Term::Concept(idx));
                }
            }
            Found::Word(i) => {
                let w = &self.words[words[i] as usize];
                if !w.stop {
                    term(Term::Stem(w.stem));
                }
            }
        });
    }

    /// How many distinct stems and concepts there are: the bounds of [`Term`]'s indexes.
    pub fn term_bounds(&self) -> (usize, usize) {
        (self.stems.len(), self.concept_ids.len())
    }

    /// The text of a term, as [`Analysis::terms`] has it.
    pub fn term_text(&self, term: Term) -> &str {
        match term {
            Term::Stem(s) => &self.stems[s as usize],
            Term::Concept(c) => &self.concept_terms[c],
        }
    }

    /// Walks the tokens left to right: the longest concept variant starting at a token covers
    /// it and the words of the variant; any other token stands for itself.
    fn scan(&self, tokens: &[Lite], mut found: impl FnMut(Found)) {
        let mut i = 0;
        while i < tokens.len() {
            if let Some((len, idx)) = self.concept_at(tokens, i) {
                found(Found::Concept { start: i, len, idx });
                i += len;
                continue;
            }
            found(Found::Word(i));
            i += 1;
        }
    }

    /// The longest concept variant starting at token `i`: (number of tokens, concept index).
    fn concept_at(&self, tokens: &[Lite], i: usize) -> Option<(usize, usize)> {
        let stem = tokens[i].stem?;
        if !self
            .concept_starts
            .get(stem as usize)
            .copied()
            .unwrap_or(false)
        {
            return None;
        }
        let candidates = self.concepts.get(&stem)?;
        candidates
            .iter()
            .find(|(seq, _)| {
                // Stems first: most variants differ there, and comparing them costs no string.
                let words = || seq.iter().zip(&tokens[i..]);
                seq.len() <= tokens.len() - i
                    && words().all(|(v, t)| t.stem == Some(v.stem) || same_form(v, t))
                    && words().all(|(v, t)| same_word(v, t) || same_form(v, t))
            })
            .map(|(seq, idx)| (seq.len(), *idx))
    }

    /// The knowledge word a typo most likely stands for, or None when the word is fine, is a
    /// real word of the language, or is too far from anything known.
    fn correct(&self, word: &str) -> Option<String> {
        // A word longer than any real one is not a typo, and enumerating its deletions costs
        // the cube of its length: one 2 000-letter word once stalled every chat for seconds.
        if word.len() > MAX_TYPO_CHARS
            || word.chars().any(|c| !c.is_ascii_lowercase())
            || is_stop_word(self.lang, word)
            || self.knows(word)
        {
            return None;
        }
        if is_dictionary_word(self.lang, word) {
            return None;
        }
        if let Some(w) = self.typos.best(word) {
            return Some(w.to_owned());
        }
        if word.chars().count() >= 4 {
            return self
                .phonetic
                .get(&phonetic_key(word))
                .filter(|w| *w != word)
                .cloned();
        }
        None
    }
}

/// The typo targets of a vocabulary (`names`, and `words` their analysis): each phonetic key's
/// word, and the deletion index of the words without digits.
fn typo_targets(names: &[String], words: &[Word]) -> (FastMap<String, String>, TypoIndex) {
    // Typo targets, in order of length then alphabet: among words with one phonetic key,
    // the most frequent wins, and on equal counts the first in that order (the map has no
    // order of its own, and the same question must get the same reply after a restart).
    let mut vocabulary: Vec<(&str, u32)> = names
        .iter()
        .zip(words)
        .filter(|(_, w)| w.count > 0)
        .map(|(word, w)| (word.as_str(), w.count))
        .collect();
    vocabulary.sort_unstable_by_key(|&(word, _)| (word.chars().count(), word));
    let mut phonetic: FastMap<String, (String, u32)> = FastMap::default();
    for &(word, count) in &vocabulary {
        if word.chars().count() >= 4 {
            let slot = phonetic.entry(phonetic_key(word)).or_default();
            if slot.0.is_empty() || slot.1 < count {
                *slot = (word.to_owned(), count);
            }
        }
    }
    let phonetic = phonetic.into_iter().map(|(k, (w, _))| (k, w)).collect();
    (phonetic, TypoIndex::new(vocabulary))
}

/// The emojis that say a sign or a cry for help, as the word each stands for: a visitor in
/// distress may type "🩸🤮 urgent" or "🆘🆘 foie... sang" and nothing else. Faces are not
/// here: "😵" and "😭" are as often a figure of speech.
const SIGN_EMOJIS: [(char, &str, &str); 4] = [
    ('🩸', "sang", "blood"),
    ('🤮', "vomit", "vomit"),
    ('🆘', "sos", "sos"),
    ('🚨', "urgent", "urgent"),
];

/// A question's text with [`SIGN_EMOJIS`] spelled out, or None when it has none (most).
fn spell_out_emojis(lang: Lang, text: &str) -> Option<String> {
    let word = |c: char| {
        SIGN_EMOJIS
            .iter()
            .find(|e| e.0 == c)
            .map(|e| if lang == Lang::Fr { e.1 } else { e.2 })
    };
    if !text.chars().any(|c| word(c).is_some()) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match word(c) {
            Some(w) => {
                out.push(' ');
                out.push_str(w);
                out.push(' ');
            }
            None => out.push(c),
        }
    }
    Some(out)
}

/// Calls `f` with each folded word of a text after SMS rewrites.
fn each_word(spelling: &FastMap<String, Vec<String>>, text: &str, mut f: impl FnMut(&str)) {
    text::for_each_token(text, |token, elided| {
        match spelling.get(token).filter(|_| !elided) {
            Some(rewrite) => rewrite.iter().for_each(|w| f(w)),
            None => f(token),
        }
    });
}

/// The concept of pill names, and the one a large count of them names.
const PILLS: &str = "pills";
const TOO_MUCH_MEDICATION: &str = "too_much_medication";
/// The concept a temperature told as a number names.
const FEVER: &str = "fever";
/// The concept of a baby under three months, which an age in days or weeks also names.
const NEWBORN: &str = "newborn";
/// The concept an alarming vital sign told as a number names: a low blood pressure, a low
/// oxygen saturation, a heart rate far too fast or too slow (see [`mark_alarming_vitals`]).
const VITAL_ALARM: &str = "vital_alarm";
/// The concept the analyser names when the message laughs ("lol", "mdr", "haha", 😂, 😅): a
/// sign's words are then most often a figure of speech ("I'm having a heart attack over these
/// prices lol", "je vais faire une syncope si personne ne répond 😅").
const LAUGHING: &str = "laughing";
/// The concept of a time gone by, which a count of weeks, months or years ago also names.
const PAST: &str = "past";
/// The concept the analyser names when a person is said to have a sign (see [`Holders::read`]).
pub(super) const HAS_SIGN: &str = "has_sign";
/// The concepts that name a person for [`HAS_SIGN`].
const PERSONS: [&str; 4] = ["experiencing", "relative", "someone", "small_child"];
/// Concepts emergency rules name that are no sign: when, who, and calling or asking for help.
const NOT_SIGNS: [&str; 10] = [
    "now",
    "sudden",
    "relative",
    "experiencing",
    "someone",
    "emergency_services",
    "emergency_named",
    "call",
    "request",
    "please",
];
/// How far before a sign a person may be named and still be the one who has it: "je vomis",
/// "j'ai des selles noires", "mon mari vient de vomir", "she is very yellow".
const SIGN_REACH: usize = 3;

/// The concept the analyser names when the person nearest before a sign follows an "if" (see
/// [`supposes`]).
pub(super) const IF_SIGN: &str = "if_sign";
/// Concepts asking whether something is serious or normal: an "if" after them tells a sign.
const IS_IT_SERIOUS: [&str; 2] = ["is_it_serious", "severity"];
/// The concept the analyser names when a word saying "now" stands near a sign.
pub(super) const SIGN_NOW: &str = "sign_now";
/// The concept the analyser names when an animal comes nearest before a sign: "mon chien a
/// vomi du sang" (not "un chien a mordu ma fille au visage, ça pisse le sang").
pub(super) const ANIMAL_SIGN: &str = "animal_sign";
/// The concepts of an animal and of now, for [`Role`].
const ANIMAL: &str = "animal";
const NOW: &str = "now";
const ONGOING: &str = "ongoing";
/// The concept of a time some weeks ago, told in words ("la semaine dernière"); the analyser
/// reads "il y a 3 semaines" itself.
const WEEKS_AGO: &str = "weeks_ago";
/// How far from a sign a "now" may stand and still be the sign's time: "il vomit du sang
/// depuis ce matin", "et là maintenant elle est toute jaune", but not "il y a deux ans il a
/// fait des convulsions pendant un sevrage, il est sobre maintenant".
const NOW_REACH: usize = 5;

/// Who the message says has its signs (see [`Holders::read`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Holders {
    /// A person has one: "je vomis du sang", "mon mari vient de s'évanouir", "vomissements de
    /// sang chez mon père".
    person: bool,
    /// One is supposed, after an "if": "si je fais une hémorragie pendant mon séjour", "s'il
    /// vomit du sang, on appelle qui ?", "your protocol if a patient collapses".
    supposed: bool,
    /// An animal has one: "mon chien a vomi du sang".
    animal: bool,
}

impl Holders {
    /// For each sign, the one who comes nearest before it within [`SIGN_REACH`] tokens has it.
    /// A bare "je" anywhere in the message ("je regarde une série où le personnage vomit du
    /// sang", "j'aimerais connaître les risques : hémorragie ?") says no person has it, "mon
    /// chien a vomi du sang" is the dog's, and "si je vomis du sang" is supposed. With nobody
    /// before it, a person right after it (see [`told_after`]) has it, and an "if" a few words
    /// before supposes it. One pass over the signs for the three.
    fn read(roles: &[Role], tokens: &[Token]) -> Holders {
        let mut h = Holders::default();
        for j in (0..roles.len()).filter(|&j| roles[j] == Role::Sign) {
            let from = j.saturating_sub(SIGN_REACH);
            let nearest = (from..j)
                .rev()
                .find(|&p| roles[p] == Role::Person || roles[p] == Role::Animal);
            match nearest {
                None => {
                    h.person |= told_after(roles, tokens, j);
                    h.supposed |= (from.saturating_sub(2)..j).any(|b| supposes_at(tokens, b));
                }
                Some(p) if roles[p] == Role::Animal => h.animal = true,
                Some(p) => {
                    // Where the person's words start ("si *mon mari* vomit").
                    let start = (0..=p)
                        .rev()
                        .take_while(|&q| roles[q] == Role::Person)
                        .last()
                        .unwrap_or(p);
                    if supposes(tokens, start) {
                        h.supposed = true;
                    } else {
                        h.person = true;
                    }
                }
            }
        }
        h
    }
}

/// Whether the sign starting at token `start` is said not to be there: right after "sans",
/// "aucun", "jamais", "no", "not", "never", "nothing", "without" ("sans fièvre", "jamais
/// vomi", "no bleeding", "nothing sharp"), between "ne" and "pas", "plus" or "jamais" ("je ne
/// vomis pas"), after "pas de" or "rien de" ("je n'ai pas de douleur à la poitrine"; not "il n'arrête pas de
/// vomir"), "jamais eu de", "pas en train de", or a "ni" at most three words before ("ni eu les selles noires").
/// A negation a sign's own words hold ("ne respire pas", "not breathing", "sans
/// connaissance") is inside it, not before it.
fn negated(tokens: &[Token], start: usize, len: usize) -> bool {
    let word = |back: usize| {
        start
            .checked_sub(back)
            .map_or("", |i| tokens[i].word.as_str())
    };
    let right_before = matches!(
        word(1),
        "sans" | "aucun" | "aucune" | "jamais" | "no" | "not" | "never" | "nothing" | "without"
    );
    // "ça fait pas très mal" (not "j'ai pas mal saigné": "pas mal" is "quite a lot").
    let pas_tres = word(1) == "pas"
        && tokens
            .get(start)
            .is_some_and(|t| matches!(t.word.as_str(), "tres" | "trop"));
    let de = matches!(word(1), "de" | "d");
    let pas_de = de
        && word(2) == "pas"
        && !matches!(
            word(3),
            "arrete" | "arretent" | "cesse" | "cessent" | "empeche"
        );
    let rien_de = de && word(2) == "rien";
    let jamais_eu_de = de && matches!(word(2), "eu" | "fait") && word(3) == "jamais";
    // "je ne suis pas en train de faire un malaise".
    let pas_en_train = de && word(2) == "train" && word(3) == "en" && word(4) == "pas";
    let ni = (1..=3).any(|back| word(back) == "ni");
    // "je ne vomis pas", "il ne saigne plus" (not "il ne vomit plus que du sang").
    let after = |k: usize| tokens.get(start + len + k).map_or("", |t| t.word.as_str());
    let ne_pas = matches!(word(1), "ne" | "n")
        && matches!(after(0), "pas" | "plus" | "jamais")
        && after(1) != "que";
    // "elle n'est pas jaune", "il n'a plus de fièvre" is `pas_de`: a sign said of someone with
    // "être" or "avoir" denied.
    let copula_denied = matches!(word(1), "pas" | "plus" | "jamais")
        && matches!(
            word(2),
            "est"
                | "sont"
                | "suis"
                | "es"
                | "etait"
                | "etaient"
                | "etais"
                | "a"
                | "ai"
                | "as"
                | "ont"
                | "avait"
                | "avaient"
        )
        && matches!(word(3), "ne" | "n");
    // "my skin isn't yellow", "he wasn't bleeding" (not "can't", "won't": "I can't breathe").
    let nt = word(1) == "t"
        && matches!(
            word(2),
            "isn"
                | "aren"
                | "wasn"
                | "weren"
                | "doesn"
                | "don"
                | "didn"
                | "hasn"
                | "haven"
                | "hadn"
        );
    right_before
        || pas_tres
        || pas_de
        || rien_de
        || jamais_eu_de
        || pas_en_train
        || ni
        || ne_pas
        || copula_denied
        || nt
}

/// Whether a person is named right after the sign at `j` as the one who has it: "des
/// vomissements de sang chez mon père", "black stools in my husband", "une confusion soudaine
/// chez mon mari". Only after "chez", "de", "in": not "des convulsions, que j'ai lu, peuvent
/// arriver…" (so "une douleur comme celle que j'ai" is not read as someone's either).
fn told_after(roles: &[Role], tokens: &[Token], j: usize) -> bool {
    let end = (j + SIGN_REACH + 2).min(roles.len());
    (j + 1..end).any(|p| {
        roles[p] == Role::Person
            && roles[p - 1] != Role::Person
            && matches!(tokens[p - 1].word.as_str(), "chez" | "de" | "d" | "in")
    })
}

/// Whether the person named from token `start` on follows an "if": "si je", "si mon mari",
/// "s'il" (the elided "si" is an "s" before "il" or "ils" only: "il s'évanouit" is no "if"),
/// "if she". Not after "is it serious" or "is it normal": "c'est grave si on a mal au ventre à
/// en crier ?", "is it bad if my dad is acting really weird" tell what is happening.
fn supposes(tokens: &[Token], start: usize) -> bool {
    start.checked_sub(1).is_some_and(|b| supposes_at(tokens, b))
}

/// Whether token `b` is an "if" (see [`supposes`]) not after "is it serious".
fn supposes_at(tokens: &[Token], b: usize) -> bool {
    let conditional = match tokens[b].word.as_str() {
        "si" | "if" => true,
        // "s'il vous plaît" (folded: "plait") asks, it supposes nothing.
        "s" => {
            let word = |k: usize| tokens.get(b + k).map_or("", |t| t.word.as_str());
            matches!(word(1), "il" | "ils")
                && !(matches!(word(2), "vous" | "te") && word(3) == "plait")
        }
        _ => false,
    };
    let asks_if_serious = b > 0
        && tokens[b - 1]
            .concept
            .as_deref()
            .is_some_and(|c| IS_IT_SERIOUS.contains(&c));
    conditional && !asks_if_serious
}

/// Whether a message with a sign says it is happening now: something going on since a
/// moment ago anywhere ("une douleur atroce comme celle que j'ai depuis ce matin"), or a word
/// saying "now" at most [`NOW_REACH`] tokens before or after a sign.
fn a_sign_is_now(roles: &[Role]) -> bool {
    let ongoing = roles.contains(&Role::Ongoing);
    roles.iter().enumerate().any(|(j, &r)| {
        r == Role::Sign
            && (ongoing
                || roles[j.saturating_sub(NOW_REACH)..(j + NOW_REACH + 1).min(roles.len())]
                    .contains(&Role::Now))
    })
}

/// From this many pills on, a count is an overdose to the emergency rules (with `took`).
const MANY_PILLS: u32 = 10;

/// Whether a number of at least [`MANY_PILLS`] is the nearest count within six words before a
/// `pills` word ("j'ai pris 20 comprimés", "about 30 paracetamol tablets", "20 of my mom's
/// oxycodone pills", "genre 30 Tylenol"): a count no concept variant could list. A unit stops
/// the search ("j'ai 45 ans et je prends des comprimés"), and so does a nearer smaller count
/// ("depuis 15 jours je prends 2 comprimés").
fn counts_many_pills(lang: Lang, tokens: &[Token]) -> bool {
    tokens.iter().enumerate().any(|(i, t)| {
        t.concept.as_deref() == Some(PILLS)
            && tokens[i.saturating_sub(6)..i]
                .iter()
                .rev()
                .take_while(|p| !is_unit(&p.word))
                .find_map(|p| count(lang, &p.word))
                .is_some_and(|n| n >= MANY_PILLS)
    })
}

/// Whether a message laughs: a laughing or winking emoji, or a laughing word ("lol", "mdr",
/// "ptdr", "haha", "xd"…, however many letters repeated). Not a crying or a frightened face:
/// "😭" and "😱" are as much distress as jest.
fn laughs(text: &str, tokens: &[Token]) -> bool {
    const FACES: [char; 11] = [
        '😂', '🤣', '😅', '😄', '😆', '😁', '😜', '😝', '😉', '🙃', '🙄',
    ];
    let laughing_word = |w: &str| {
        // Every laughing word is short: no copy of the others.
        if w.len() > 12 {
            return false;
        }
        let squeezed: String = w.chars().fold(String::new(), |mut acc, c| {
            if !acc.ends_with(c) {
                acc.push(c);
            }
            acc
        });
        matches!(
            squeezed.as_str(),
            "lol" | "mdr" | "ptdr" | "xd" | "lmao" | "rofl" | "jpp" | "lmfao"
        ) || w.starts_with("haha")
            || w.starts_with("hihi")
    };
    text.chars().any(|c| FACES.contains(&c)) || tokens.iter().any(|t| laughing_word(&t.word))
}

/// Whether a baby's age is told in days or weeks, under three months: "mon bébé de 10
/// jours", "ma fille de 6 semaines", "a 10-day-old", "my 5 week old". Variants cannot list
/// every count. Not any count of days: "ma fille depuis 3 jours" is how long, not how old.
fn reads_a_newborn(lang: Lang, tokens: &[Token]) -> bool {
    let young = |n: u32, unit: &str| match unit {
        "jour" | "jours" | "day" | "days" => (1..=90).contains(&n),
        "semaine" | "semaines" | "week" | "weeks" => (1..=12).contains(&n),
        _ => false,
    };
    let baby = |w: &str| {
        matches!(
            w,
            "bebe" | "nourrisson" | "fils" | "fille" | "petit" | "petite" | "enfant" | "baby"
        )
    };
    tokens.windows(2).enumerate().any(|(i, w)| {
        count(lang, &w[0].word).is_some_and(|n| young(n, &w[1].word))
            && (tokens.get(i + 2).is_some_and(|t| t.word == "old")
                || (i >= 2 && tokens[i - 1].word == "de" && baby(&tokens[i - 2].word)))
    })
}

/// Whether a body temperature is told as a number with its decimal: "il a 39,8", "elle est à
/// 40.2" (the tokens "a", "39", "8"). Without the decimal, "il a 39" may be an age.
fn reads_a_fever(tokens: &[Token]) -> bool {
    tokens.windows(3).any(|w| {
        matches!(w[0].word.as_str(), "a" | "ai" | "at" | "of")
            && w[1]
                .word
                .parse::<u32>()
                .is_ok_and(|n| (38..=43).contains(&n))
            && w[2].word.len() == 1
            && w[2].word.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The most of a unit of minutes or hours that is still "going on" (ten hours of minutes,
/// three days of hours), or None for any other word.
fn short_unit(word: &str) -> Option<u32> {
    match word {
        "min" | "mins" | "minute" | "minutes" | "mn" => Some(600),
        "h" | "heure" | "heures" | "hour" | "hours" | "hr" | "hrs" => Some(72),
        _ => None,
    }
}

/// Whether `n` of `unit` is a short duration (see [`short_unit`]).
fn short_duration(n: u32, unit: &str) -> bool {
    short_unit(unit).is_some_and(|most| (1..=most).contains(&n))
}

/// A count glued to its unit: "20min", "2h", "30mn".
fn glued_duration(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &word[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse().is_ok_and(|n| short_duration(n, unit))
}

/// Marks as going on ([`Role::Ongoing`]) a duration of minutes or hours counted back from now,
/// which no variant can list for every number: "depuis 40 min", "ya 2h", "il y a vingt
/// minutes", "for the last 3 hours", "about 40 min ago". Not a duration that is a distance
/// ("il y a 2 heures de route"), nor one with no word tying it to now ("la perfusion dure 2
/// heures"). Returns whether it marked one.
fn mark_recent_durations(lang: Lang, tokens: &[Token], roles: &mut [Role]) -> bool {
    // Words that may stand between the lead and the count: "depuis *environ* 20 min", "for
    // *the last* 3 hours".
    let filler = |w: &str| {
        matches!(
            w,
            "environ"
                | "genre"
                | "presque"
                | "bien"
                | "plus"
                | "de"
                | "bientot"
                | "about"
                | "almost"
                | "nearly"
                | "over"
                | "the"
                | "last"
                | "past"
                | "around"
                | "like"
        )
    };
    // The count and unit at `i`: the index after them, if they are a short duration.
    let duration_at = |i: usize| -> Option<usize> {
        let t = tokens.get(i)?;
        if glued_duration(&t.word) {
            return Some(i + 1);
        }
        // "for the last hour", "depuis une bonne heure": one, unsaid.
        if i > 0 && matches!(t.word.as_str(), "hour" | "heure") {
            return Some(i + 1);
        }
        let n = count(lang, &t.word).or(matches!(t.word.as_str(), "a" | "an").then_some(1))?;
        let unit = tokens.get(i + 1)?;
        short_duration(n, &unit.word).then_some(i + 2)
    };
    let mut marked = false;
    for i in 0..tokens.len() {
        let w = tokens[i].word.as_str();
        let lead = matches!(w, "depuis" | "since" | "for" | "been" | "ya")
            || (w == "a" && i > 0 && tokens[i - 1].word == "y");
        let span = if lead {
            let mut j = i + 1;
            while j < tokens.len() && j <= i + 3 && filler(&tokens[j].word) {
                j += 1;
            }
            duration_at(j)
                // A distance, not a time: "il y a 2 heures de route", "for 3 hours of driving".
                .filter(|&end| {
                    !tokens
                        .get(end)
                        .is_some_and(|t| matches!(t.word.as_str(), "de" | "d" | "of"))
                })
                .map(|end| (i, end))
        } else {
            // "40 min ago", "about 2 hours ago".
            duration_at(i)
                .filter(|&end| tokens.get(end).is_some_and(|t| t.word == "ago"))
                .map(|end| (i, end + 1))
        };
        if let Some((start, end)) = span {
            for r in &mut roles[start..end] {
                if *r == Role::Other {
                    *r = Role::Ongoing;
                }
            }
            marked = true;
        }
    }
    marked
}

/// Units after a number that make it an age, a weight, a price or a time: not a vital sign,
/// not a count of pills.
fn is_unit(word: &str) -> bool {
    matches!(
        word,
        "an" | "ans"
            | "year"
            | "years"
            | "yo"
            | "kg"
            | "kilos"
            | "euros"
            | "eur"
            | "mois"
            | "months"
            | "semaines"
            | "weeks"
            | "jours"
            | "days"
            | "ml"
            | "mg"
            | "cm"
            | "km"
            | "min"
            | "minutes"
            | "heures"
            | "hours"
            | "fois"
            | "times"
    )
}

/// Marks as a sign ([`Role::Sign`]) an alarming vital sign told as a number, which no variant
/// can list: a blood pressure whose upper figure is 85 or less ("tension 80/50", "ma tension
/// est à 6/4", "BP 75 over 40"), an oxygen saturation from 50 to 91 ("saturation 84", "84 %
/// de saturation", "spo2 88"), a heart rate of 130 or more, or 40 or less ("pouls à 135",
/// "le coeur à 140", "heart rate 35", "150 bpm"), a blood sugar under 0.6 g/L or 55 mg/dL
/// ("mon lecteur affiche 0,38", "glucose 45"). The rules want a second sign beside it
/// (dizzy, pale, short of breath…) or a "now": a low pressure someone always has is no
/// emergency. Returns whether it marked one.
fn mark_alarming_vitals(tokens: &[Token], roles: &mut [Role]) -> bool {
    let number = |i: usize| -> Option<u32> {
        let t = tokens.get(i)?;
        let n = t.word.parse::<u32>().ok()?;
        let unit = tokens.get(i + 1).map(|t| t.word.as_str());
        (!unit.is_some_and(is_unit)).then_some(n)
    };
    let low_pressure = |i: usize| -> Option<usize> {
        let high: u32 = tokens.get(i)?.word.parse().ok()?;
        // "80/50", "80 sur 50", "80 over 50".
        let sep = usize::from(
            tokens
                .get(i + 1)
                .is_some_and(|t| matches!(t.word.as_str(), "sur" | "over")),
        );
        let low: u32 = tokens.get(i + 1 + sep)?.word.parse().ok()?;
        let mm_hg = (40..=85).contains(&high) && (20..=high.saturating_sub(10)).contains(&low);
        let cm_hg = (4..=8).contains(&high) && (2..high).contains(&low);
        (mm_hg || cm_hg).then_some(i + 2 + sep)
    };
    // A fast heart during a run, a match, a workout is the effort's.
    let effort = || {
        tokens.iter().any(|t| {
            matches!(
                t.word.as_str(),
                "sport"
                    | "effort"
                    | "course"
                    | "courir"
                    | "footing"
                    | "jogging"
                    | "velo"
                    | "match"
                    | "entrainement"
                    | "fractionne"
                    | "running"
                    | "run"
                    | "intervals"
                    | "workout"
                    | "exercise"
                    | "training"
                    | "gym"
                    | "marathon"
                    | "cardio"
                    | "hiit"
            )
        })
    };
    // A normal figure of the same kind soon after is the alarm over: "SpO2 88 % la nuit, puis
    // 97 % au réveil", "178 bpm, back to 60 after 5 min".
    let normal_after = |j: usize, normal: &dyn Fn(u32) -> bool| {
        (j + 1..(j + 9).min(tokens.len())).any(|k| number(k).is_some_and(normal))
    };
    let low_saturation = |j: usize| {
        number(j).is_some_and(|n| (50..=91).contains(&n))
            && !normal_after(j, &|n| (92..=100).contains(&n))
    };
    let bad_pulse = |j: usize| {
        number(j).is_some_and(|n| (20..=40).contains(&n) || ((130..=250).contains(&n) && !effort()))
            && !normal_after(j, &|n| (45..=110).contains(&n))
    };
    // A blood sugar in g/L under 0.6 ("0,38" is the tokens "0" and "38"; "0,5" is 0.50), or
    // in mg/dL from 20 to 55.
    let low_sugar = |j: usize| match tokens[j].word.as_str() {
        "0" => tokens.get(j + 1).is_some_and(|t| {
            let decimals = t.word.as_bytes();
            let digit = |k: usize| {
                decimals
                    .get(k)
                    .filter(|b| b.is_ascii_digit())
                    .map(|b| b - b'0')
            };
            match (digit(0), digit(1)) {
                (Some(tenths), hundredths) => {
                    (1..60).contains(&(tenths * 10 + hundredths.unwrap_or(0)))
                }
                _ => false,
            }
        }),
        _ => number(j).is_some_and(|n| (20..=55).contains(&n)),
    };
    let mut marked = false;
    let mut mark = |roles: &mut [Role], start: usize, end: usize| {
        for r in &mut roles[start..end.min(tokens.len())] {
            if *r == Role::Other {
                *r = Role::Sign;
            }
        }
        marked = true;
    };
    for i in 0..tokens.len() {
        let w = tokens[i].word.as_str();
        let after = i + 1..(i + 6).min(tokens.len());
        match w {
            "tension" | "pression" | "tensiometre" | "tensio" | "pressure" | "bp" => {
                if let Some(end) = after.clone().find_map(low_pressure) {
                    mark(roles, i, end);
                }
            }
            "saturation" | "sat" | "spo2" | "sao2" | "oxygene" | "oxygen" | "oxymetre"
            | "oximeter" | "saturometre" => {
                let before = i.saturating_sub(3)..i;
                if let Some(j) = after.clone().chain(before).find(|&j| low_saturation(j)) {
                    mark(roles, i.min(j), i.max(j) + 1);
                }
            }
            "pouls" | "pulse" | "cardiaque" | "coeur" | "heart" | "fc" => {
                if let Some(j) = after.clone().find(|&j| bad_pulse(j)) {
                    mark(roles, i, j + 1);
                }
            }
            "glycemie" | "glucose" | "sugar" | "lecteur" | "dextro" => {
                if let Some(j) = after.clone().find(|&j| low_sugar(j)) {
                    mark(roles, i, j + 2);
                }
            }
            "bpm" | "pulsations" | "battements" if i > 0 && bad_pulse(i - 1) => {
                mark(roles, i - 1, i + 1);
            }
            _ => {}
        }
    }
    marked
}

/// Whether a message tells a time gone by that no concept variant could list: some months or
/// years ago anywhere in a French message ("il y a 18 mois", "ya 3 ans", "y'a sept ans"), or
/// some weeks (or three days or more) ago right after a sign ("j'ai fait un malaise il y a 3
/// semaines", "une douleur dans la poitrine la semaine dernière", "une fièvre il y a 10
/// jours"). Weeks before a sign are not told: in "elle a eu l'injection il y a 2 semaines,
/// elle vomit du sang" they date the injection, and only the verb's tense would say the sign
/// is old. Fewer days and hours are not told either: "hier soir il a vomi du sang" is still an
/// emergency. Nor "il y a trois ans que je vomis", which lasts until
/// now. English says "ago", which the `past` variants read.
fn tells_a_time_ago(lang: Lang, tokens: &[Token], roles: &[Role]) -> bool {
    // A sign at most `NOW_REACH` tokens before `i`: the time after it is the sign's.
    let follows_a_sign = |i: usize| roles[i.saturating_sub(NOW_REACH)..i].contains(&Role::Sign);
    let weeks_in_words = roles
        .iter()
        .enumerate()
        .any(|(i, &r)| r == Role::Then && follows_a_sign(i));
    if weeks_in_words {
        return true;
    }
    if lang != Lang::Fr {
        return false;
    }
    let long = |t: &Token| matches!(t.word.as_str(), "mois" | "an" | "ans" | "annee" | "annees");
    let weeks = |t: &Token| matches!(t.word.as_str(), "semaine" | "semaines");
    let number = |t: &Token| count(lang, &t.word).is_some_and(|n| n >= 1);
    // Some days ago, right after a sign, as weeks: "une fièvre il y a 10 jours, passée seule".
    let days =
        |n: &Token, t: &Token| t.word == "jours" && count(lang, &n.word).is_some_and(|n| n >= 3);
    tokens.windows(3).enumerate().any(|(i, w)| {
        let ago = w[0].word == "ya" || (w[0].word == "a" && i > 0 && tokens[i - 1].word == "y");
        // Where the phrase starts: "il y a", "y a", "ya".
        let start = if w[0].word == "ya" {
            i
        } else {
            i.saturating_sub(2)
        };
        ago && number(&w[1])
            && (long(&w[2]) || ((weeks(&w[2]) || days(&w[1], &w[2])) && follows_a_sign(start)))
            && !lasting(tokens, i + 3)
    })
}

/// Whether token `i` makes the time before it last until now: "il y a trois ans *que*…".
fn lasting(tokens: &[Token], i: usize) -> bool {
    tokens
        .get(i)
        .is_some_and(|t| matches!(t.word.as_str(), "que" | "qu"))
}

/// Whether the time at token `i` is where something started and lasts until now: "il a de
/// l'ascite *depuis* l'an dernier", "*since* last year".
fn since(tokens: &[Token], i: usize) -> bool {
    tokens[i.saturating_sub(2)..i]
        .iter()
        .any(|t| matches!(t.word.as_str(), "depuis" | "since"))
}

/// The number a word says, in digits or in words ("vingt", "thirty").
fn count(lang: Lang, word: &str) -> Option<u32> {
    if let Ok(n) = word.parse() {
        return Some(n);
    }
    let words: &[(&str, u32)] = match lang {
        Lang::Fr => &[
            ("un", 1),
            ("une", 1),
            ("deux", 2),
            ("trois", 3),
            ("quatre", 4),
            ("cinq", 5),
            ("six", 6),
            ("sept", 7),
            ("huit", 8),
            ("neuf", 9),
            ("dix", 10),
            ("dizaine", 10),
            ("onze", 11),
            ("douze", 12),
            ("douzaine", 12),
            ("quinze", 15),
            ("quinzaine", 15),
            ("vingt", 20),
            ("vingtaine", 20),
            ("trente", 30),
            ("trentaine", 30),
            ("quarante", 40),
            ("quarantaine", 40),
            ("cinquante", 50),
            ("cinquantaine", 50),
            ("soixante", 60),
            ("cent", 100),
            ("centaine", 100),
        ],
        Lang::En => &[
            ("one", 1),
            ("two", 2),
            ("three", 3),
            ("four", 4),
            ("five", 5),
            ("six", 6),
            ("seven", 7),
            ("eight", 8),
            ("nine", 9),
            ("ten", 10),
            ("eleven", 11),
            ("twelve", 12),
            ("dozen", 12),
            ("fifteen", 15),
            ("twenty", 20),
            ("thirty", 30),
            ("forty", 40),
            ("fifty", 50),
            ("sixty", 60),
            ("hundred", 100),
        ],
    };
    words.iter().find(|(w, _)| *w == word).map(|&(_, n)| n)
}

/// Whether a question token is the concept variant's word. Short stems collide across
/// unrelated words ("gêne"/"gens" → "gen", "montant"/"monter" → "mont"), so below five letters
/// of stem only the word itself or its plural/feminine form counts.
fn same_word(v: &VariantWord, token: &Lite) -> bool {
    if token.stem != Some(v.stem) {
        return false;
    }
    if v.long_stem {
        return true;
    }
    token.typed == v.word.as_str() || bare(&token.typed) == bare(&v.word)
}

/// Whether a question token is the variant's word in another gender or number whose stem
/// Snowball makes different ("dernier" → "derni", "dernière" → "dernier"): "l'an dernier" is
/// listed, "l'année dernier" is typed. The knowledge is read as written, as only questions
/// get typos corrected (its `bare` is 0). Lengths first: this runs for every variant whose
/// first word a token starts, and most differ there.
fn same_form(v: &VariantWord, token: &Lite) -> bool {
    v.bare != 0 && v.bare == token.bare && token.typed[..token.bare] == v.word[..v.bare]
}

/// The length of a word's [`bare`] form when it has four letters or more ("le", "l" and "les"
/// are not one word), else 0.
fn bare_len(word: &str) -> usize {
    let n = bare(word).len();
    if n >= 4 {
        n
    } else {
        0
    }
}

/// A word without its plural or feminine ending.
fn bare(word: &str) -> &str {
    word.trim_end_matches(['s', 'x']).trim_end_matches('e')
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}
