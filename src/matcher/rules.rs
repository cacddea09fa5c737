//! The intents' rules and `[[unless]]` exceptions with their concepts as numbers, and a
//! message's concepts as a set of them: every message is checked against some 500 rules.

use crate::knowledge::Intent;
use crate::text::FastMap;

/// The rules of every intent, in the knowledge's order, as concept numbers.
#[derive(Debug, Default)]
pub struct RuleBook {
    /// Each concept a rule or an exception names, to its number.
    ids: FastMap<String, u32>,
    intents: Vec<Compiled>,
}

#[derive(Debug, Default)]
struct Compiled {
    /// Each rule's concepts (`Rule::all`), in the intent's order.
    rules: Vec<Box<[u32]>>,
    /// Each exception's `any`, `with` and `except`.
    unless: Vec<[Box<[u32]>; 3]>,
}

/// The concepts of one message that some rule names, one bit each.
#[derive(Debug)]
pub struct ConceptSet(Vec<u64>);

impl ConceptSet {
    fn has(&self, id: u32) -> bool {
        self.0
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn has_any(&self, ids: &[u32]) -> bool {
        ids.iter().any(|&c| self.has(c))
    }
}

impl RuleBook {
    pub fn new(intents: &[Intent]) -> RuleBook {
        let mut ids: FastMap<String, u32> = FastMap::default();
        let mut number = |names: &[String]| -> Box<[u32]> {
            names
                .iter()
                .map(|n| {
                    let next = ids.len() as u32;
                    *ids.entry(n.clone()).or_insert(next)
                })
                .collect()
        };
        let intents = intents
            .iter()
            .map(|i| Compiled {
                rules: i.rules.iter().map(|r| number(&r.all)).collect(),
                unless: i
                    .unless
                    .iter()
                    .map(|u| [number(&u.any), number(&u.with), number(&u.except)])
                    .collect(),
            })
            .collect();
        RuleBook { ids, intents }
    }

    /// The message's concepts that a rule or an exception names (the others change nothing).
    pub fn set(&self, concepts: &[String]) -> ConceptSet {
        let mut bits = vec![0u64; self.ids.len().div_ceil(64)];
        for id in concepts.iter().filter_map(|c| self.ids.get(c)) {
            bits[*id as usize / 64] |= 1 << (id % 64);
        }
        ConceptSet(bits)
    }

    /// Whether an `[[unless]]` of intent `intent` holds (as [`Unless::holds`]).
    pub fn held_back(&self, intent: usize, set: &ConceptSet) -> bool {
        self.intents[intent]
            .unless
            .iter()
            .any(|[any, with, except]| {
                set.has_any(any) && (with.is_empty() || set.has_any(with)) && !set.has_any(except)
            })
    }

    /// Whether rule `rule` of intent `intent` fires (as [`Rule::fires`]).
    pub fn fires(&self, intent: usize, rule: usize, set: &ConceptSet) -> bool {
        let all = &self.intents[intent].rules[rule];
        !all.is_empty() && all.iter().all(|&c| set.has(c))
    }
}

#[cfg(test)]
mod tests {
    //! The numbered rules decide as the named ones do, on every intent and a spread of messages.
    use super::*;
    use crate::matcher::tests::shipped;

    #[test]
    fn numbered_rules_decide_as_named_ones() {
        let k = shipped();
        let book = RuleBook::new(&k.intents);
        // Every rule's own concepts, each with one left out, and each exception's.
        let mut messages: Vec<Vec<String>> = Vec::new();
        for i in &k.intents {
            for r in &i.rules {
                messages.push(r.all.clone());
                messages.push(r.all.iter().skip(1).cloned().collect());
                for u in &i.unless {
                    let mut m = r.all.clone();
                    m.extend(u.any.iter().take(1).cloned());
                    m.extend(u.except.iter().take(1).cloned());
                    messages.push(m.clone());
                    m.extend(u.with.iter().take(1).cloned());
                    messages.push(m);
                }
            }
        }
        messages.push(vec!["not_a_concept".into()]);
        for concepts in &messages {
            let set = book.set(concepts);
            for (n, i) in k.intents.iter().enumerate() {
                let held = i.unless.iter().any(|u| u.holds(concepts));
                assert_eq!(book.held_back(n, &set), held, "{} {concepts:?}", i.id);
                for (r, named) in i.rules.iter().enumerate() {
                    assert_eq!(
                        book.fires(n, r, &set),
                        named.fires(concepts),
                        "{concepts:?}"
                    );
                }
            }
        }
        assert!(messages.len() > 1000, "{}", messages.len());
    }
}
