//! The per-language index: candidates (FAQ entries and intents), their phrasings as term sets,
//! term rarity, and posting lists from a term to what contains it. Built once per load.

use std::collections::HashMap;

use super::analyze::Analyzer;
use crate::knowledge::{IntentKind, Knowledge};
use crate::text::Lang;

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
    pub terms: HashMap<String, u32>,
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
            terms: HashMap::new(),
            idf: Vec::new(),
            postings: Vec::new(),
            max_idf: 1.0,
        };
        // Per candidate: term -> field weight (1 for phrasings/keywords, ANSWER_WEIGHT otherwise).
        let mut fields: Vec<HashMap<u32, f32>> = Vec::new();
        let mut phrasing_terms: Vec<Vec<u32>> = Vec::new();

        let mut add_candidate = |index: &mut LangIndex,
                                 target: Target,
                                 phrasings: &[String],
                                 strong: &[&str],
                                 weak: &[&str]| {
            let cand = index.candidates.len() as u32;
            let mut field: HashMap<u32, f32> = HashMap::new();
            for p in phrasings {
                let terms = index.intern_all(&index.analyzer.analyze_knowledge(p).terms);
                if terms.is_empty() {
                    continue;
                }
                for &t in &terms {
                    field.insert(t, 1.0);
                }
                index.phrasings.push(Phrasing {
                    candidate: cand,
                    weight: 0.0,
                });
                phrasing_terms.push(terms);
            }
            for s in strong {
                for t in index.intern_all(&index.analyzer.analyze_knowledge(s).terms) {
                    field.insert(t, 1.0);
                }
            }
            for w in weak {
                for t in index.intern_all(&index.analyzer.analyze_knowledge(w).terms) {
                    field.entry(t).or_insert(ANSWER_WEIGHT);
                }
            }
            index.candidates.push(Candidate { target });
            fields.push(field);
        };

        for (i, e) in knowledge
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.lang == lang)
        {
            let mut phrasings = e.phrasings.clone();
            phrasings.push(e.question.clone());
            let strong: Vec<&str> = e.keywords.iter().map(String::as_str).collect();
            add_candidate(
                &mut index,
                Target::Entry(i),
                &phrasings,
                &strong,
                &[&e.answer, &e.section],
            );
        }
        for (i, intent) in knowledge.intents.iter().enumerate() {
            // Politeness is handled by stripping its words, not by matching; emergencies by
            // their rules and phrases both.
            if intent.politeness {
                continue;
            }
            let phrases = intent.phrases.get(&lang).cloned().unwrap_or_default();
            if phrases.is_empty() {
                continue;
            }
            add_candidate(&mut index, Target::Intent(i), &phrases, &[], &[]);
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
            for &t in field.keys() {
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
            let mut entries: Vec<(&u32, &f32)> = field.iter().collect();
            entries.sort_by_key(|(t, _)| **t);
            for (&t, &w) in entries {
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

    fn intern_all(&mut self, terms: &[String]) -> Vec<u32> {
        let mut out: Vec<u32> = terms.iter().map(|t| self.intern(t)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn intern(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.terms.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.insert(term.to_owned(), id);
        id
    }
}
