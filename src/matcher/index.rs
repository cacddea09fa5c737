//! The per-language index: candidates (FAQ entries and intents), their phrasings as term sets,
//! term rarity, and posting lists from a term to what contains it. Built once per load.

use super::analyze::Analyzer;
use crate::knowledge::{IntentKind, Knowledge};
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
}

pub struct Phrasing {
    pub candidate: u32,
    /// Sum of the rarity of its distinct terms.
    pub weight: f32,
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
    pub terms: FastMap<String, u32>,
    pub idf: Vec<f32>,
    pub postings: Vec<Postings>,
    /// The largest rarity of any term: the weight of a word the knowledge does not know.
    pub max_idf: f32,
}

impl LangIndex {
    pub fn build(knowledge: &Knowledge, lang: Lang) -> LangIndex {
        let analyzer = Analyzer::new(knowledge, lang);
        let mut index = LangIndex {
            analyzer,
            candidates: Vec::new(),
            phrasings: Vec::new(),
            terms: FastMap::default(),
            idf: Vec::new(),
            postings: Vec::new(),
            max_idf: 1.0,
        };
        // Per candidate: (term, field weight), sorted by term, each term once.
        let mut fields: Vec<Vec<(u32, f32)>> = Vec::new();
        let mut phrasing_terms: Vec<Vec<u32>> = Vec::new();

        for (i, e) in knowledge
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.lang == lang)
        {
            let phrasings = e.phrasings.iter().map(String::as_str);
            let fields_of = Fields {
                phrasings: phrasings.chain(std::iter::once(e.question.as_str())),
                strong: e.keywords.iter().map(String::as_str),
                weak: [e.answer.as_str(), e.section.as_str()].into_iter(),
            };
            let field = index.add_candidate(Target::Entry(i), fields_of, &mut phrasing_terms);
            fields.push(field);
        }
        for (i, intent) in knowledge.intents.iter().enumerate() {
            // Politeness is handled by stripping its words, not by matching; emergencies by
            // their rules and phrases both.
            if intent.politeness {
                continue;
            }
            let Some(phrases) = intent.phrases.get(&lang).filter(|p| !p.is_empty()) else {
                continue;
            };
            let fields_of = Fields {
                phrasings: phrases.iter().map(String::as_str),
                strong: std::iter::empty(),
                weak: std::iter::empty(),
            };
            let field = index.add_candidate(Target::Intent(i), fields_of, &mut phrasing_terms);
            fields.push(field);
            debug_assert!(matches!(
                intent.kind,
                IntentKind::Smalltalk
                    | IntentKind::Handoff
                    | IntentKind::Emergency
                    | IntentKind::Fallback
            ));
        }

        // Rarity over candidates (BM25's idf): a term in many entries tells little.
        let n = index.candidates.len() as f32;
        let mut df = vec![0u32; index.terms.len()];
        for field in &fields {
            for &(t, _) in field {
                df[t as usize] += 1;
            }
        }
        index.idf = df
            .iter()
            .map(|&d| {
                let d = d as f32;
                (1.0 + (n - d + 0.5) / (d + 0.5)).ln()
            })
            .collect();
        index.max_idf = index.idf.iter().copied().fold(1.0, f32::max);
        index.postings = (0..index.terms.len())
            .map(|_| Postings::default())
            .collect();
        for (cand, field) in fields.iter().enumerate() {
            for &(t, w) in field {
                index.postings[t as usize].candidates.push((cand as u32, w));
            }
        }
        for (p, terms) in phrasing_terms.iter().enumerate() {
            index.phrasings[p].weight = terms.iter().map(|&t| index.idf[t as usize]).sum();
            for &t in terms {
                index.postings[t as usize].phrasings.push(p as u32);
            }
        }
        index
    }

    /// Adds a candidate and its phrasings; returns its terms with their field weight: 1 for
    /// phrasings and keywords, [`ANSWER_WEIGHT`] for terms found only in the answer or section.
    fn add_candidate<'a>(
        &mut self,
        target: Target,
        fields: Fields<
            impl Iterator<Item = &'a str>,
            impl Iterator<Item = &'a str>,
            impl Iterator<Item = &'a str>,
        >,
        phrasing_terms: &mut Vec<Vec<u32>>,
    ) -> Vec<(u32, f32)> {
        let cand = self.candidates.len() as u32;
        let mut field: Vec<(u32, f32)> = Vec::new();
        for p in fields.phrasings {
            let mut terms = self.terms_of(p);
            terms.sort_unstable();
            terms.dedup();
            if terms.is_empty() {
                continue;
            }
            field.extend(terms.iter().map(|&t| (t, 1.0)));
            self.phrasings.push(Phrasing {
                candidate: cand,
                weight: 0.0,
            });
            phrasing_terms.push(terms);
        }
        for s in fields.strong {
            let terms = self.terms_of(s);
            field.extend(terms.into_iter().map(|t| (t, 1.0)));
        }
        for w in fields.weak {
            let terms = self.terms_of(w);
            field.extend(terms.into_iter().map(|t| (t, ANSWER_WEIGHT)));
        }
        // Each term once, with its strongest field.
        field.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        field.dedup_by_key(|(t, _)| *t);
        self.candidates.push(Candidate { target });
        field
    }

    /// The term ids of a knowledge text in order of appearance (repeats included); new terms
    /// get the next id.
    fn terms_of(&mut self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let terms = &mut self.terms;
        self.analyzer.knowledge_terms(text, |term| {
            let next = terms.len() as u32;
            let id = match terms.get(term) {
                Some(&id) => id,
                None => {
                    terms.insert(term.to_owned(), next);
                    next
                }
            };
            out.push(id);
        });
        out
    }
}

/// The texts of one candidate, by how much a term found in them counts.
struct Fields<P, S, A> {
    /// Phrasings (and the entry's question): matched as whole phrases too.
    phrasings: P,
    /// Keywords.
    strong: S,
    /// Answer and section.
    weak: A,
}
