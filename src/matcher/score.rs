//! Scoring: how well each candidate explains a question. Accumulates over posting lists only
//! (never a loop over all entries) into per-thread scratch buffers, so a question costs
//! microseconds and allocates nothing per entry.

use std::cell::RefCell;

use super::index::{LangIndex, ANSWER_WEIGHT};

/// How much of a question one candidate explains, and the confidence derived from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub candidate: u32,
    /// Share of the question's weight found in the candidate (phrasings, keywords, answer).
    pub coverage: f32,
    /// Best whole-phrase similarity (weighted Dice) between the question and one phrasing.
    pub similarity: f32,
    /// Best share of one phrasing's weight found in the question.
    pub recall: f32,
    /// Weight of the question's terms found in that best-recall phrasing.
    pub evidence: f32,
    /// The confidence from the lexical evidence alone ([`confidence`]).
    pub lexical: f32,
    /// Cosine of the question's terms with the candidate's phrasings (their centroid).
    pub words: f32,
    /// Cosine of the question's character n-grams with the candidate's phrasings.
    pub chars: f32,
    /// Share of the candidate's core terms (in most of its phrasings) the question lacks.
    pub core_missing: f32,
    /// The candidate's share of the question's likelihood among the candidates, under a naive
    /// Bayes model of each candidate's phrasings' terms.
    pub bayes: f32,
    /// What decisions are taken on: the re-ranker's probability that this candidate is the
    /// right one, or the lexical confidence where no re-ranker could be trained.
    pub confidence: f32,
}

/// A question's terms as the index sees them.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Known terms with their rarity.
    pub known: Vec<(u32, f32)>,
    /// Terms the knowledge of this language does not contain, with the weight they count for.
    pub unknown: Vec<(String, f32)>,
    /// Total weight: known plus unknown.
    pub weight: f32,
}

impl Query {
    pub fn new(index: &LangIndex, terms: &[String]) -> Query {
        let mut q = Query::default();
        for term in terms {
            match index.terms.get(term) {
                Some(&id) => {
                    let w = index.idf[id as usize];
                    q.known.push((id, w));
                    q.weight += w;
                }
                None => {
                    // A real word the FAQ does not know ("calvitie", "rembourser") is evidence
                    // that the question is about something else; digits and fragments less so.
                    let alpha = term.chars().all(|c| c.is_alphabetic());
                    let w = if alpha && term.chars().count() >= 4 {
                        UNKNOWN_WORD * index.max_idf
                    } else {
                        UNKNOWN_FRAGMENT * index.max_idf
                    };
                    q.unknown.push((term.clone(), w));
                    q.weight += w;
                }
            }
        }
        q
    }
}

/// Weight of an unknown word, as a share of the rarest known term's weight.
pub(crate) const UNKNOWN_WORD: f32 = 0.6;
const UNKNOWN_FRAGMENT: f32 = 0.25;

#[derive(Default)]
struct Scratch {
    coverage: Vec<f32>,
    similarity: Vec<f32>,
    recall: Vec<f32>,
    evidence: Vec<f32>,
    touched: Vec<u32>,
    phrasing: Vec<f32>,
    phrasings_touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// One phrasing left out of the index, as if it had never been written: the re-ranker learns
/// from each phrasing asked against the others.
pub struct Exclusion {
    pub phrasing: u32,
    pub candidate: u32,
    /// The field weight, without the phrasing, of the candidate's terms it changes.
    pub fields: Vec<(u32, f32)>,
}

impl Exclusion {
    /// Phrasing `p` left out: its terms found in no other phrasing or keyword of its
    /// candidate fall back to the answer's weight, or to nothing.
    pub fn new(index: &LangIndex, p: u32) -> Exclusion {
        let cand = index.phrasings[p as usize].candidate;
        let c = &index.candidates[cand as usize];
        let fields = index
            .phrasing_terms(p)
            .iter()
            .filter(|&&t| {
                c.keywords.binary_search(&t).is_err()
                    && !(c.phrasings.clone())
                        .any(|o| o != p && index.phrasing_terms(o).binary_search(&t).is_ok())
            })
            .map(|&t| {
                let weak = c.weak.binary_search(&t).is_ok();
                (t, if weak { ANSWER_WEIGHT } else { 0.0 })
            })
            .collect();
        Exclusion {
            phrasing: p,
            candidate: cand,
            fields,
        }
    }

    /// Whether term `t` is in no candidate once the phrasing is left out.
    pub fn drops(&self, index: &LangIndex, t: u32) -> bool {
        index.df[t as usize] == 1 && self.fields.iter().any(|&(f, w)| f == t && w == 0.0)
    }
}

/// The `k` best candidates for a query, best first (by lexical confidence).
pub fn top(index: &LangIndex, query: &Query, k: usize) -> Vec<Scored> {
    top_excluding(index, query, k, None)
}

/// [`top`], with one phrasing left out.
pub fn top_excluding(
    index: &LangIndex,
    query: &Query,
    k: usize,
    exclusion: Option<&Exclusion>,
) -> Vec<Scored> {
    if query.known.is_empty() || query.weight <= 0.0 {
        return Vec::new();
    }
    SCRATCH.with(|cell| {
        let mut s = cell.borrow_mut();
        let s = &mut *s;
        let n = index.candidates.len();
        let np = index.phrasings.len();
        if s.coverage.len() < n {
            s.coverage.resize(n, 0.0);
            s.similarity.resize(n, 0.0);
            s.recall.resize(n, 0.0);
            s.evidence.resize(n, 0.0);
        }
        if s.phrasing.len() < np {
            s.phrasing.resize(np, 0.0);
        }

        for &(term, w) in &query.known {
            let postings = &index.postings[term as usize];
            for &(cand, field) in &postings.candidates {
                let field = match exclusion {
                    Some(ex) if ex.candidate == cand => ex
                        .fields
                        .iter()
                        .find(|&&(t, _)| t == term)
                        .map_or(field, |&(_, w)| w),
                    _ => field,
                };
                if field == 0.0 {
                    continue;
                }
                let slot = &mut s.coverage[cand as usize];
                if *slot == 0.0 {
                    s.touched.push(cand);
                }
                *slot += w * field;
            }
            for &p in &postings.phrasings {
                if exclusion.is_some_and(|ex| ex.phrasing == p) {
                    continue;
                }
                let slot = &mut s.phrasing[p as usize];
                if *slot == 0.0 {
                    s.phrasings_touched.push(p);
                }
                *slot += w;
            }
        }
        for &p in &s.phrasings_touched {
            let matched = s.phrasing[p as usize];
            s.phrasing[p as usize] = 0.0;
            let phrasing = &index.phrasings[p as usize];
            let c = phrasing.candidate as usize;
            let dice = 2.0 * matched / (query.weight + phrasing.weight);
            let recall = matched / phrasing.weight.max(f32::EPSILON);
            if dice > s.similarity[c] {
                s.similarity[c] = dice;
            }
            if recall > s.recall[c] || (recall == s.recall[c] && matched > s.evidence[c]) {
                s.recall[c] = recall;
                s.evidence[c] = matched;
            }
        }
        s.phrasings_touched.clear();

        let mut scored: Vec<Scored> = Vec::with_capacity(s.touched.len().min(64));
        for &c in &s.touched {
            let ci = c as usize;
            let mut item = Scored {
                candidate: c,
                coverage: (s.coverage[ci] / query.weight).min(1.0),
                similarity: s.similarity[ci].min(1.0),
                recall: s.recall[ci].min(1.0),
                evidence: s.evidence[ci],
                lexical: 0.0,
                words: 0.0,
                chars: 0.0,
                core_missing: 0.0,
                bayes: 0.0,
                confidence: 0.0,
            };
            item.lexical = confidence(&item, index.max_idf);
            item.confidence = item.lexical;
            s.coverage[ci] = 0.0;
            s.similarity[ci] = 0.0;
            s.recall[ci] = 0.0;
            s.evidence[ci] = 0.0;
            push_top(&mut scored, item, k);
        }
        s.touched.clear();
        scored
    })
}

/// Two paths to confidence. Short questions: how much of the question the candidate explains,
/// and how close it is to one phrasing. Long stories: most of one phrasing is in the question
/// and that phrasing carries enough specific evidence, whatever the context around it.
pub fn confidence(s: &Scored, max_idf: f32) -> f32 {
    let short = 0.4 * s.coverage + 0.6 * s.similarity;
    let specific = (s.evidence / max_idf).min(1.0);
    let long = 0.85 * s.recall * specific;
    short.max(long).clamp(0.0, 1.0)
}

/// Keeps the `k` best in `list`, sorted best first.
fn push_top(list: &mut Vec<Scored>, item: Scored, k: usize) {
    if list.len() == k
        && list
            .last()
            .is_some_and(|last| last.confidence >= item.confidence)
    {
        return;
    }
    let pos = list.partition_point(|x| x.confidence >= item.confidence);
    list.insert(pos, item);
    list.truncate(k);
}
