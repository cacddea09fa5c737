//! Groups missed questions by similar wording: greedily, per language, on the matcher's terms
//! (Dice coefficient against each group's first question). Pure and deterministic.
//!
//! Each question is compared with the *first* question of each group, not with every member,
//! so a group cannot drift from "carte vitale" to "carte bleue" to "virement" one step at a time.

use std::collections::{BTreeSet, HashMap};

use crate::model::{MissKind, Outcome, StoredMiss};

/// Two questions belong together when the Dice coefficient of their term sets reaches this:
/// 2 shared terms of 3 each (0.67) do; 1 shared of 2 each (0.5) does not, as the one shared
/// term is often the generic one ("traitement", "foie").
pub const SIMILAR_AT: f64 = 0.6;
/// Distinct wordings kept per group.
const EXAMPLES: usize = 5;
/// Candidates kept per group.
const CANDIDATES: usize = 3;

/// Questions the bot missed that say the same thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The id of its first miss: stable as long as the data is.
    pub id: i64,
    pub lang: String,
    /// The first question's terms, which the others were compared with.
    pub terms: Vec<String>,
    pub count: usize,
    /// Distinct wordings (case, accents and punctuation aside), most frequent first.
    pub examples: Vec<String>,
    /// Misses per kind, most frequent first.
    pub kinds: Vec<(MissKind, usize)>,
    /// Misses per outcome name, most frequent first (on a tie, the more telling one first).
    pub outcomes: Vec<(&'static str, usize)>,
    /// The bot's candidates across the group, most frequent first.
    pub candidates: Vec<GroupCandidate>,
    /// The entry to add these wordings to; `None`: a new entry.
    pub suggestion: Option<Suggested>,
    /// Unix milliseconds of the first and last miss.
    pub first_at: i64,
    pub last_at: i64,
}

impl Group {
    /// The most frequent kind.
    pub fn kind(&self) -> MissKind {
        self.kinds.first().map_or(MissKind::Fallback, |k| k.0)
    }

    /// The most frequent outcome name.
    pub fn outcome(&self) -> &'static str {
        self.outcomes.first().map_or("none", |o| o.0)
    }
}

/// One of the bot's candidates across a group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCandidate {
    pub id: String,
    pub is_intent: bool,
    /// The entry's question (empty for an intent).
    pub question: String,
    /// Misses of the group that had it among their best candidates.
    pub count: usize,
    /// Its best confidence among them.
    pub confidence: f32,
}

/// Why an entry is suggested for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Visitors picked it among the suggestions.
    Picked,
    /// Nobody picked anything: it was most often the bot's best candidate.
    TopCandidate,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Picked => "picked",
            Basis::TopCandidate => "top_candidate",
        }
    }
}

/// The entry a group's wordings could be added to as phrasings.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggested {
    pub faq_id: String,
    /// The entry's question, when a candidate carried it.
    pub question: Option<String>,
    pub basis: Basis,
    /// Misses of the group behind the suggestion.
    pub votes: usize,
}

/// Outcome names from the most to the least telling, to break ties.
const OUTCOME_ORDER: [&str; 6] = [
    "picked",
    "answered",
    "asked_person",
    "asked_again",
    "other",
    "none",
];

/// Groups `misses` (in the order given, normally oldest first); the biggest group first.
pub fn group(misses: &[StoredMiss]) -> Vec<Group> {
    let keys: Vec<BTreeSet<String>> = misses.iter().map(key).collect();
    // Each group: the index of its first miss, then its members.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, m) in misses.iter().enumerate() {
        let best = groups
            .iter()
            .enumerate()
            .filter(|(_, (seed, _))| misses[*seed].miss.lang == m.miss.lang)
            .map(|(g, (seed, _))| (g, dice(&keys[i], &keys[*seed])))
            .filter(|(_, d)| *d >= SIMILAR_AT)
            // The most similar group; the older one on a tie.
            .fold(None::<(usize, f64)>, |acc, (g, d)| match acc {
                Some((_, best)) if best >= d => acc,
                _ => Some((g, d)),
            });
        match best {
            Some((g, _)) => groups[g].1.push(i),
            None => groups.push((i, vec![i])),
        }
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(seed, members)| {
            let members: Vec<&StoredMiss> = members.iter().map(|&i| &misses[i]).collect();
            summarise(&misses[seed], &members)
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_at.cmp(&a.last_at))
            .then(a.id.cmp(&b.id))
    });
    out
}

/// What a question is compared on: its terms, or, when it has none (only stop words or
/// symbols), its words, so that only the same wording groups with it.
fn key(m: &StoredMiss) -> BTreeSet<String> {
    if !m.miss.terms.is_empty() {
        return m.miss.terms.iter().cloned().collect();
    }
    let words = crate::text::tokenize(&m.miss.question).join(" ");
    BTreeSet::from([format!("={words}")])
}

/// Dice coefficient of two term sets: 1 when equal, 0 when disjoint; terms pair one to one
/// when [`same_term`].
fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut unpaired: Vec<&String> = b.iter().collect();
    let mut shared = 0;
    for x in a {
        if let Some(i) = unpaired.iter().position(|y| same_term(x, y)) {
            unpaired.swap_remove(i);
            shared += 1;
        }
    }
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

/// Equal, or one stem a prefix of the other of at least 5 letters: the stemmer leaves
/// "acceptée" as `accepte` and "acceptez" as `accept`. Concepts (`#…`) only when equal.
fn same_term(x: &str, y: &str) -> bool {
    const MIN_PREFIX: usize = 5;
    if x == y {
        return true;
    }
    if x.starts_with('#') || y.starts_with('#') {
        return false;
    }
    let (short, long) = if x.len() <= y.len() { (x, y) } else { (y, x) };
    short.chars().count() >= MIN_PREFIX && long.starts_with(short)
}

/// Counts in first-seen order, then sorted by count (stable: first seen wins a tie).
fn tally<K: Eq + std::hash::Hash + Clone>(items: impl Iterator<Item = K>) -> Vec<(K, usize)> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut counts: Vec<(K, usize)> = Vec::new();
    for k in items {
        match index.get(&k) {
            Some(&i) => counts[i].1 += 1,
            None => {
                index.insert(k.clone(), counts.len());
                counts.push((k, 1));
            }
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

fn summarise(seed: &StoredMiss, members: &[&StoredMiss]) -> Group {
    let wordings = tally(
        members
            .iter()
            .map(|m| crate::text::tokenize(&m.miss.question).join(" ")),
    );
    let examples = wordings
        .iter()
        .take(EXAMPLES)
        .filter_map(|(words, _)| {
            members
                .iter()
                .find(|m| crate::text::tokenize(&m.miss.question).join(" ") == *words)
                .map(|m| m.miss.question.trim().to_owned())
        })
        .collect();

    let mut kinds = tally(members.iter().map(|m| m.miss.kind));
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut outcomes = tally(members.iter().map(|m| m.miss.outcome.as_str()));
    let rank = |name: &str| OUTCOME_ORDER.iter().position(|o| *o == name);
    outcomes.sort_by(|a, b| b.1.cmp(&a.1).then(rank(a.0).cmp(&rank(b.0))));

    let mut candidates: Vec<GroupCandidate> = Vec::new();
    for c in members.iter().flat_map(|m| &m.miss.candidates) {
        match candidates.iter_mut().find(|g| g.id == c.id) {
            Some(g) => {
                g.count += 1;
                g.confidence = g.confidence.max(c.confidence);
            }
            None => candidates.push(GroupCandidate {
                id: c.id.clone(),
                is_intent: c.is_intent,
                question: c.question.clone(),
                count: 1,
                confidence: c.confidence,
            }),
        }
    }
    candidates.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.confidence.total_cmp(&a.confidence))
    });
    candidates.truncate(CANDIDATES);

    Group {
        id: seed.id,
        lang: seed.miss.lang.clone(),
        terms: seed.miss.terms.clone(),
        count: members.len(),
        examples,
        kinds,
        outcomes,
        candidates,
        suggestion: suggest(members),
        first_at: members.iter().map(|m| m.at).min().unwrap_or(seed.at),
        last_at: members.iter().map(|m| m.at).max().unwrap_or(seed.at),
    }
}

/// The entry visitors picked most; else the entry most often the bot's best candidate (an
/// intent on top means out of scope: no entry); else none.
fn suggest(members: &[&StoredMiss]) -> Option<Suggested> {
    let picked = tally(members.iter().filter_map(|m| match &m.miss.outcome {
        Outcome::Picked(id) => Some(id.clone()),
        _ => None,
    }));
    let top = || {
        tally(members.iter().filter_map(|m| {
            m.miss
                .candidates
                .first()
                .filter(|c| !c.is_intent)
                .map(|c| c.id.clone())
        }))
    };
    let (faq_id, votes, basis) = match picked.into_iter().next() {
        Some((id, n)) => (id, n, Basis::Picked),
        None => {
            let (id, n) = top().into_iter().next()?;
            (id, n, Basis::TopCandidate)
        }
    };
    let question = members
        .iter()
        .flat_map(|m| &m.miss.candidates)
        .find(|c| c.id == faq_id && !c.question.is_empty())
        .map(|c| c.question.clone());
    Some(Suggested {
        faq_id,
        question,
        basis,
        votes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Candidate as CandidateWire;
    use crate::model::Miss;

    fn candidate(id: &str, confidence: f32) -> CandidateWire {
        CandidateWire {
            id: id.into(),
            is_intent: id.starts_with("intent:"),
            question: format!("{id}?"),
            confidence,
        }
    }

    fn miss(id: i64, lang: &str, question: &str, terms: &[&str], top: &[&str]) -> StoredMiss {
        StoredMiss {
            id,
            conversation: format!("c{id}"),
            at: id * 1000,
            miss: Miss {
                lang: lang.into(),
                question: question.into(),
                terms: terms.iter().map(|t| t.to_string()).collect(),
                kind: MissKind::Fallback,
                confidence: 0.2,
                candidates: top
                    .iter()
                    .enumerate()
                    .map(|(i, c)| candidate(c, 0.3 - i as f32 * 0.1))
                    .collect(),
                outcome: Outcome::None,
            },
        }
    }

    #[test]
    fn the_same_question_typed_differently_lands_in_one_group() {
        let misses = vec![
            miss(
                1,
                "fr",
                "Acceptez-vous la carte vitale ?",
                &["accept", "#refund"],
                &[],
            ),
            miss(2, "fr", "xyzzy", &["xyzzy"], &[]),
            miss(
                3,
                "fr",
                "acceptez vous la CARTE VITALE",
                &["accept", "#refund"],
                &[],
            ),
            // `accepte` and `accept`: the stemmer's two readings of one word.
            miss(
                4,
                "fr",
                "la carte vitale est acceptée ?",
                &["#refund", "accepte"],
                &[],
            ),
            // A concept is never a prefix match.
            miss(5, "fr", "acceptable ?", &["#acceptable"], &[]),
        ];
        let groups = group(&misses);
        assert_eq!(groups.len(), 3, "{groups:#?}");
        assert_eq!(groups[0].count, 3);
        assert_eq!(groups[0].id, 1);
        assert_eq!(groups[0].first_at, 1000);
        assert_eq!(groups[0].last_at, 4000);
        // Case and punctuation aside, the first two are one wording.
        assert_eq!(
            groups[0].examples,
            vec![
                "Acceptez-vous la carte vitale ?".to_owned(),
                "la carte vitale est acceptée ?".to_owned()
            ]
        );
        assert_eq!(groups[1].count, 1);
        assert!(same_term("accepte", "accept"));
        assert!(!same_term("acc", "accept"), "too short to be a stem");
        assert!(!same_term("#cost", "#costly"));
    }

    #[test]
    fn one_shared_generic_term_is_not_enough_and_languages_never_mix() {
        let misses = vec![
            miss(1, "fr", "prix du traitement", &["#cost", "#treatment"], &[]),
            miss(
                2,
                "fr",
                "durée du traitement",
                &["#duration", "#treatment"],
                &[],
            ),
            miss(3, "en", "treatment price", &["#cost", "#treatment"], &[]),
        ];
        let groups = group(&misses);
        assert_eq!(groups.len(), 3, "{groups:#?}");
        assert!(groups.iter().all(|g| g.count == 1));
    }

    #[test]
    fn a_group_does_not_drift_from_its_first_question() {
        // b is close to a and c is close to b, but c shares only one term of three with a.
        let misses = vec![
            miss(1, "fr", "a", &["x", "y", "z"], &[]),
            miss(2, "fr", "b", &["x", "y", "w"], &[]),
            miss(3, "fr", "c", &["x", "v", "w"], &[]),
        ];
        let groups = group(&misses);
        assert_eq!(
            groups.iter().map(|g| g.count).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }

    #[test]
    fn questions_without_terms_group_only_with_the_same_words() {
        let misses = vec![
            miss(1, "fr", "???", &[], &[]),
            miss(2, "fr", "et vous ?", &[], &[]),
            miss(3, "fr", "Et vous", &[], &[]),
        ];
        let groups = group(&misses);
        assert_eq!(
            groups.iter().map(|g| g.count).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }

    #[test]
    fn the_suggested_entry_is_the_one_picked_else_the_usual_best_candidate() {
        let mut misses = vec![
            miss(1, "fr", "traitement", &["#treatment"], &["a", "b"]),
            miss(2, "fr", "le traitement", &["#treatment"], &["a", "b"]),
            miss(3, "fr", "traitement ?", &["#treatment"], &["b", "a"]),
        ];
        let groups = group(&misses);
        let s = groups[0].suggestion.as_ref().expect("a suggestion");
        assert_eq!(
            (s.faq_id.as_str(), s.basis, s.votes),
            ("a", Basis::TopCandidate, 2)
        );
        assert_eq!(s.question.as_deref(), Some("a?"));
        assert_eq!(groups[0].candidates[0].id, "a");
        assert_eq!(groups[0].candidates[0].count, 3);

        misses[2].miss.outcome = Outcome::Picked("b".into());
        misses[1].miss.outcome = Outcome::AskedAgain;
        let groups = group(&misses);
        let s = groups[0].suggestion.as_ref().expect("a suggestion");
        assert_eq!(
            (s.faq_id.as_str(), s.basis, s.votes),
            ("b", Basis::Picked, 1)
        );
        // One each: the more telling outcome comes first.
        assert_eq!(groups[0].outcome(), "picked");
        let names: Vec<&str> = groups[0].outcomes.iter().map(|o| o.0).collect();
        assert_eq!(names, vec!["picked", "asked_again", "none"]);
    }

    #[test]
    fn an_intent_on_top_means_a_new_entry() {
        let misses = vec![miss(
            1,
            "fr",
            "carte vitale ?",
            &["#refund"],
            &["intent:out_of_scope", "cout"],
        )];
        assert_eq!(group(&misses)[0].suggestion, None);
        assert_eq!(group(&[]), Vec::new());
    }
}
