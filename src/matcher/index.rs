//! The per-language index: candidates (FAQ entries and intents), their phrasings as term sets,
//! term rarity, and posting lists from a term to what contains it. Built once per load.

use std::ops::Range;

use super::analyze::{Analyzer, Reader, Scratch, Term};
use super::rerank::{PhrasingWords, Reranker};
use crate::knowledge::{FaqEntry, IntentKind, Knowledge};
use crate::text::{FastMap, Lang};

/// What a candidate stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Index into `Knowledge::entries`.
    Entry(usize),
    /// Index into `Knowledge::intents`.
    Intent(usize),
}

/// Weight of a term found only in an entry's answer or section, relative to its phrasings and
/// keywords: long stories would otherwise match answer prose.
pub const ANSWER_WEIGHT: f32 = 0.3;

pub struct Candidate {
    pub target: Target,
    /// Its phrasings: a range of `LangIndex::phrasings`.
    pub phrasings: Range<u32>,
    /// The terms of its keywords, sorted: with its phrasings, the texts at full weight.
    pub keywords: Box<[u32]>,
    /// The terms of its answer and section, sorted ([`ANSWER_WEIGHT`]).
    pub weak: Box<[u32]>,
}

pub struct Phrasing {
    pub candidate: u32,
    /// Sum of the rarity of its distinct terms.
    pub weight: f32,
    /// Its terms, sorted: a range of `LangIndex::phrasing_terms`.
    pub terms: Range<u32>,
}

/// One term's postings: candidates (with field weight) and phrasings containing it.
#[derive(Default)]
pub struct Postings {
    pub candidates: Vec<(u32, f32)>,
    pub phrasings: Vec<u32>,
}

pub struct LangIndex {
    pub analyzer: Analyzer,
    pub candidates: Vec<Candidate>,
    pub phrasings: Vec<Phrasing>,
    /// The terms of every phrasing, end to end (see [`Phrasing::terms`]).
    pub phrasing_terms: Vec<u32>,
    pub terms: FastMap<String, u32>,
    pub idf: Vec<f32>,
    /// How many candidates contain each term.
    pub df: Vec<u32>,
    pub postings: Vec<Postings>,
    /// The largest rarity of any term: the weight of a word the knowledge does not know.
    pub max_idf: f32,
    /// The learned re-ranker and its decision thresholds, trained on the phrasings.
    pub reranker: Reranker,
}

impl LangIndex {
    pub fn build(knowledge: &Knowledge, lang: Lang) -> LangIndex {
        // Every text is tokenized once, while the analyzer reads the vocabulary: `words` holds
        // the word ids of all texts end to end, `ends` where each text ends, and each
        // candidate its texts as ranges of `ends`.
        let entries: Vec<(usize, &FaqEntry)> = knowledge
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.lang == lang)
            .collect();
        let read = |reader: &mut Reader| {
            let mut words: Vec<u32> = Vec::new();
            let mut ends: Vec<usize> = Vec::new();
            let mut pending: Vec<(Target, Texts)> = Vec::new();
            // The entries are read in parts on every core (tokenizing is most of the indexing
            // time), then merged in order: word ids, counts and text numbers come out as if
            // one reader had read them all.
            for part in read_entries(reader, &entries) {
                let Part {
                    reader: part_reader,
                    words: mut part_words,
                    ends: part_ends,
                    texts,
                } = part;
                reader.absorb(part_reader, &mut part_words);
                let (word_base, text_base) = (words.len(), ends.len());
                words.extend_from_slice(&part_words);
                ends.extend(part_ends.iter().map(|&e| e + word_base));
                let shift = |r: Range<usize>| r.start + text_base..r.end + text_base;
                pending.extend(texts.into_iter().map(|(target, t)| {
                    let texts = Texts {
                        phrasings: shift(t.phrasings),
                        strong: shift(t.strong),
                        weak: shift(t.weak),
                    };
                    (target, texts)
                }));
            }
            let mut n = ends.len();
            // Returns how many texts have been read.
            let mut read = |text: &str, count: bool| {
                reader.read(text, count, &mut words);
                ends.push(words.len());
                ends.len()
            };
            for (i, intent) in knowledge.intents.iter().enumerate() {
                // Politeness is handled by stripping its words, not by matching. Emergencies and
                // requests for a person come from their rules only: a fuzzy score once sent a
                // goodbye ("a plus") to 112, and a false alarm makes the real one less credible.
                if intent.politeness
                    || intent.firm
                    || matches!(intent.kind, IntentKind::Emergency | IntentKind::Handoff)
                {
                    continue;
                }
                let Some(phrases) = intent.phrases.get(&lang).filter(|p| !p.is_empty()) else {
                    continue;
                };
                let start = n;
                for p in phrases {
                    // The analyzer counts every intent's phrases itself.
                    n = read(p, false);
                }
                let end = n;
                pending.push((
                    Target::Intent(i),
                    Texts {
                        phrasings: start..end,
                        strong: end..end,
                        weak: end..end,
                    },
                ));
            }
            (words, ends, pending)
        };
        // The texts are turned into terms while another thread builds the typo targets.
        let (analyzer, (tables, words, ends, phrasing_texts)) =
            Analyzer::new(knowledge, lang, read, |analyzer, read| {
                let (words, ends, pending) = read;
                let (tables, phrasing_texts) = tables(analyzer, &words, &ends, pending);
                (tables, words, ends, phrasing_texts)
            });
        let Tables {
            candidates,
            phrasings,
            phrasing_terms,
            terms,
            idf,
            df,
            postings,
            max_idf,
        } = tables;
        let mut index = LangIndex {
            analyzer,
            candidates,
            phrasings,
            phrasing_terms,
            terms,
            idf,
            df,
            postings,
            max_idf,
            reranker: Reranker::default(),
        };
        let text = |k: usize| &words[if k == 0 { 0 } else { ends[k - 1] }..ends[k]];
        let phrasing_words = PhrasingWords {
            words: phrasing_texts.iter().map(|&k| text(k)).collect(),
        };
        index.reranker = Reranker::train(&index, &phrasing_words, &knowledge.intents);
        index
    }

    /// The terms of phrasing `p`, sorted.
    pub fn phrasing_terms(&self, p: u32) -> &[u32] {
        let r = &self.phrasings[p as usize].terms;
        &self.phrasing_terms[r.start as usize..r.end as usize]
    }
}

/// Everything of a [`LangIndex`] but its analyzer and re-ranker.
struct Tables {
    candidates: Vec<Candidate>,
    phrasings: Vec<Phrasing>,
    phrasing_terms: Vec<u32>,
    terms: FastMap<String, u32>,
    idf: Vec<f32>,
    df: Vec<u32>,
    postings: Vec<Postings>,
    max_idf: f32,
}

/// Turns the texts read (`words` and `ends`, as [`LangIndex::build`] keeps them) into the
/// candidates, their phrasings and terms, the terms' rarity and the posting lists. Also returns
/// the text number of each phrasing (its words, for the re-ranker).
fn tables(
    analyzer: &Analyzer,
    words: &[u32],
    ends: &[usize],
    pending: Vec<(Target, Texts)>,
) -> (Tables, Vec<usize>) {
    let mut index = Tables {
        candidates: Vec::new(),
        phrasings: Vec::new(),
        phrasing_terms: Vec::new(),
        terms: FastMap::default(),
        idf: Vec::new(),
        df: Vec::new(),
        postings: Vec::new(),
        max_idf: 1.0,
    };
    let mut phrasing_texts: Vec<usize> = Vec::new();

    // Term ids in order of first appearance, by stem or concept index.
    let (stems, concepts) = analyzer.term_bounds();
    let mut ids = TermIds {
        stem: vec![u32::MAX; stems],
        concept: vec![u32::MAX; concepts],
        names: Vec::new(),
    };
    let text = |k: usize| &words[if k == 0 { 0 } else { ends[k - 1] }..ends[k]];
    // Per candidate: (term, field weight), each term once, end to end in `fields`, the
    // candidate's ending at `field_ends`; likewise each phrasing's terms, sorted, in
    // `phrasing_terms` (flat lists: a list per phrasing and candidate was a tenth of the time
    // in allocations).
    let mut fields: Vec<(u32, f32)> = Vec::new();
    let mut field_ends: Vec<usize> = Vec::with_capacity(pending.len());
    let mut phrasing_terms: Vec<u32> = Vec::new();
    // Where a term sits in the field of the candidate being built (`u32::MAX`: absent).
    let mut slot: Vec<u32> = Vec::new();
    // The terms of the phrasing being read.
    let mut terms: Vec<u32> = Vec::new();
    let mut scratch = Scratch::default();
    for (target, texts) in pending {
        let cand = index.candidates.len() as u32;
        let field_start = fields.len();
        let first_phrasing = index.phrasings.len() as u32;
        // `fields[field_start..]` is the field of this candidate.
        let mut add = |fields: &mut Vec<(u32, f32)>, t: u32, weight: f32| {
            let t = t as usize;
            if slot.len() <= t {
                slot.resize(t + 1, u32::MAX);
            }
            match slot[t] {
                u32::MAX => {
                    slot[t] = (fields.len() - field_start) as u32;
                    fields.push((t as u32, weight));
                }
                // Each term once, with its strongest field.
                at => {
                    let w = &mut fields[field_start + at as usize].1;
                    *w = w.max(weight);
                }
            }
        };
        for k in texts.phrasings {
            terms.clear();
            analyzer.knowledge_terms(text(k), &mut scratch, |term| {
                terms.push(ids.get(analyzer, term))
            });
            // Sorted: a phrasing's weight is summed in this order.
            terms.sort_unstable();
            terms.dedup();
            if terms.is_empty() {
                continue;
            }
            let start = phrasing_terms.len();
            phrasing_terms.extend_from_slice(&terms);
            for &t in &phrasing_terms[start..] {
                add(&mut fields, t, 1.0);
            }
            index.phrasings.push(Phrasing {
                candidate: cand,
                weight: 0.0,
                terms: start as u32..phrasing_terms.len() as u32,
            });
            phrasing_texts.push(k);
        }
        // Keywords and answer terms are kept apart too: leaving one phrasing out (to train the
        // re-ranker) must know whether a term stays in the candidate without it.
        let mut keywords: Vec<u32> = Vec::new();
        let mut weak: Vec<u32> = Vec::new();
        for (range, weight, list) in [
            (texts.strong, 1.0, &mut keywords),
            (texts.weak, ANSWER_WEIGHT, &mut weak),
        ] {
            for k in range {
                analyzer.knowledge_terms(text(k), &mut scratch, |term| {
                    let t = ids.get(analyzer, term);
                    add(&mut fields, t, weight);
                    list.push(t);
                });
            }
            list.sort_unstable();
            list.dedup();
        }
        // In order of first appearance: the order of a field's terms makes no difference below.
        for &(t, _) in &fields[field_start..] {
            slot[t as usize] = u32::MAX;
        }
        index.candidates.push(Candidate {
            target,
            phrasings: first_phrasing..index.phrasings.len() as u32,
            keywords: keywords.into(),
            weak: weak.into(),
        });
        field_ends.push(fields.len());
    }
    let field = |c: usize| &fields[if c == 0 { 0 } else { field_ends[c - 1] }..field_ends[c]];
    index.terms = ids
        .names
        .into_iter()
        .enumerate()
        .map(|(id, name)| (name, id as u32))
        .collect();

    // Rarity over candidates (BM25's idf): a term in many entries tells little.
    let n = index.candidates.len() as f32;
    let mut df = vec![0u32; index.terms.len()];
    for &(t, _) in &fields {
        df[t as usize] += 1;
    }
    index.idf = df
        .iter()
        .map(|&d| {
            let d = d as f32;
            (1.0 + (n - d + 0.5) / (d + 0.5)).ln()
        })
        .collect();
    index.max_idf = index.idf.iter().copied().fold(1.0, f32::max);
    // Each posting list sized once: `df` counts its candidates, `in_phrasings` its phrasings.
    let mut in_phrasings = vec![0u32; index.terms.len()];
    for &t in &phrasing_terms {
        in_phrasings[t as usize] += 1;
    }
    index.postings = df
        .iter()
        .zip(&in_phrasings)
        .map(|(&d, &p)| Postings {
            candidates: Vec::with_capacity(d as usize),
            phrasings: Vec::with_capacity(p as usize),
        })
        .collect();
    for cand in 0..field_ends.len() {
        for &(t, w) in field(cand) {
            index.postings[t as usize].candidates.push((cand as u32, w));
        }
    }
    for (p, phrasing) in index.phrasings.iter_mut().enumerate() {
        let terms = &phrasing_terms[phrasing.terms.start as usize..phrasing.terms.end as usize];
        phrasing.weight = terms.iter().map(|&t| index.idf[t as usize]).sum();
        for &t in terms {
            index.postings[t as usize].phrasings.push(p as u32);
        }
    }
    index.phrasing_terms = phrasing_terms;
    index.df = df;
    (index, phrasing_texts)
}

/// The entries one thread read: its own reader (word ids of its own), the word ids of the texts
/// end to end, where each text ends, and each entry's texts, numbered from 0.
struct Part {
    reader: Reader,
    words: Vec<u32>,
    ends: Vec<usize>,
    texts: Vec<(Target, Texts)>,
}

/// Fewest entries worth a thread of their own: a small FAQ is read at once on this thread.
const MIN_PART: usize = 256;

/// Reads the entries in parts, one per core, each with a fork of `reader`; the parts come back
/// in the order of the entries.
fn read_entries(reader: &Reader, entries: &[(usize, &FaqEntry)]) -> Vec<Part> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = entries.len().div_ceil(threads).max(MIN_PART);
    if entries.len() <= chunk {
        return vec![read_part(reader.fork(), entries)];
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                let fork = reader.fork();
                scope.spawn(move || read_part(fork, part))
            })
            .collect();
        parts
            .into_iter()
            // A panic while reading is a bug: re-raise it rather than index half the entries.
            .map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Reads the texts of some entries, in order: phrasings and question, keywords, then answer
/// and section.
fn read_part(mut reader: Reader, entries: &[(usize, &FaqEntry)]) -> Part {
    let mut words: Vec<u32> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut texts: Vec<(Target, Texts)> = Vec::with_capacity(entries.len());
    // Returns how many texts have been read.
    let mut read = |text: &str| {
        reader.read(text, true, &mut words);
        ends.push(words.len());
        ends.len()
    };
    let mut n = 0;
    for &(i, e) in entries {
        let start = n;
        for p in e.phrasings.iter().chain(std::iter::once(&e.question)) {
            n = read(p);
        }
        let phrasings = n;
        for k in &e.keywords {
            n = read(k);
        }
        let strong = n;
        read(&e.answer);
        n = read(&e.section);
        texts.push((
            Target::Entry(i),
            Texts {
                phrasings: start..phrasings,
                strong: phrasings..strong,
                weak: strong..n,
            },
        ));
    }
    Part {
        reader,
        words,
        ends,
        texts,
    }
}

/// One candidate's texts, as ranges of text numbers, by how much a term found in them counts.
struct Texts {
    /// Phrasings (and the entry's question): matched as whole phrases too; weight 1.
    phrasings: Range<usize>,
    /// Keywords: weight 1.
    strong: Range<usize>,
    /// Answer and section: [`ANSWER_WEIGHT`] unless the term is also in a stronger field.
    weak: Range<usize>,
}

/// Term ids as they are first met, without hashing the term's text.
struct TermIds {
    stem: Vec<u32>,
    concept: Vec<u32>,
    /// The text of each term id.
    names: Vec<String>,
}

impl TermIds {
    fn get(&mut self, analyzer: &Analyzer, term: Term) -> u32 {
        let slot = match term {
            Term::Stem(s) => &mut self.stem[s as usize],
            Term::Concept(c) => &mut self.concept[c],
        };
        if *slot == u32::MAX {
            *slot = self.names.len() as u32;
            self.names.push(analyzer.term_text(term).to_owned());
        }
        *slot
    }
}
