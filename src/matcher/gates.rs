//! Quality gates for authors: every phrasing is asked as a visitor would ask it, and what the
//! matcher does with it becomes warnings (sent elsewhere, overlapping entries, long answers).
//!
//! [`gates`] runs over the whole knowledge for `faqbot check`; [`check_entry`] and
//! [`check_edit`] give the findings about one entry, for the console when an author saves it.
//! Nothing here blocks serving: every finding is a [`Severity::Warning`], except the parse
//! errors [`check_edit`] passes on.
//!
//! [`Severity::Warning`]: crate::knowledge::Severity::Warning

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::{Matcher, ReplyKind};
use crate::knowledge::{self, FaqEntry, LoadError};
use crate::text::Lang;

/// Default longest answer, in characters. The shipped answers have a median of about 330 and
/// the longest (a list of six references) about 920; past 1000 a phone shows a wall of text.
pub const DEFAULT_MAX_ANSWER_CHARS: usize = 1000;

/// Another entry within this much of a phrasing's own confidence contests it: the phrasing wins
/// only because it is written word for word in the file, and a visitor wording it a little
/// differently would lose that edge and be asked "did you mean". The answer margin at the answer
/// threshold ([`MARGIN`]) is the natural size for "a little".
pub const OVERLAP_GAP: f32 = 0.08;

/// Two entries overlap when at least this share of their phrasings (both entries counted) is
/// contested by the other. The shipped files peak at a quarter (`therapie_definition` and
/// `types_cellules`, which share much of their vocabulary); a copied entry is near 1.
pub const OVERLAP_SHARE: f32 = 1.0 / 3.0;

/// …and at least this many: one or two shared phrasings are better reported one by one, with
/// their lines, than as "merge these entries".
pub const OVERLAP_MIN: usize = 3;

/// What the gates measure against; from `[knowledge]` in the settings, or `faqbot check` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateOptions {
    /// Longest answer, in characters, before it is reported as too long for a chat bubble.
    pub max_answer_chars: usize,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            max_answer_chars: DEFAULT_MAX_ANSWER_CHARS,
        }
    }
}

/// The findings that need the matcher or the options, for every entry: phrasings sent to another
/// entry (or to no entry), overlapping pairs, answers too long. The other warnings (few
/// phrasings, dangling `related`, missing translation) come with [`knowledge::load`], so
/// `faqbot check` prints each finding once.
pub fn gates(matcher: &Matcher, opts: &GateOptions) -> Vec<LoadError> {
    let mut findings = Vec::new();
    for lang in Lang::ALL {
        for f in run(matcher, lang, opts, None) {
            findings.push(f.error);
        }
    }
    findings
}

/// Every finding about the entry `id` in `lang`, for the console when it is saved: its
/// phrasings sent elsewhere, other entries' phrasings it now takes, its overlaps, a long answer,
/// too few phrasings, dangling follow-ups, a missing translation. Give it a matcher built with
/// the edit applied ([`check_edit`] does). Empty if there is no such entry.
pub fn check_entry(matcher: &Matcher, id: &str, lang: Lang, opts: &GateOptions) -> Vec<LoadError> {
    let knowledge = matcher.knowledge();
    let Some(entry) = knowledge.entry(id, lang) else {
        return Vec::new();
    };
    let mut findings = knowledge::entry_warnings(knowledge, entry);
    findings.extend(
        run(matcher, lang, opts, Some(id))
            .into_iter()
            .filter(|f| f.involves.contains(id))
            .map(|f| f.error),
    );
    findings
}

/// Checks the edited text of one entry file before it is saved: parse errors if it cannot be
/// used (then nothing else is checked), otherwise [`check_entry`] on the knowledge of `current`
/// with the edit applied. `path` is where the file will be saved (`faq/fr/cout.md`): the id must
/// match its name. Costs one index build and the phrasings of one language (milliseconds).
pub fn check_edit(
    current: &Matcher,
    path: &Path,
    text: &str,
    lang: Lang,
    opts: &GateOptions,
) -> Vec<LoadError> {
    let entry = match knowledge::parse_entry(path, text, lang) {
        Ok(entry) => entry,
        Err(errors) => return errors,
    };
    let id = entry.id.clone();
    let edited = Matcher::new(Arc::new(current.knowledge().with_entry(entry)));
    check_entry(&edited, &id, lang, opts)
}

/// A finding and the entries it is about (both ids of a pair), to pick one entry's findings.
struct Finding<'k> {
    error: LoadError,
    involves: HashSet<&'k str>,
}

/// What asking one phrasing gave.
enum Outcome<'k> {
    /// Answered by its own entry (or "did you mean" offering only it).
    Own,
    /// Answered by another entry.
    Other(&'k str),
    /// "Did you mean" offering these other entries (those within [`OVERLAP_GAP`] if any).
    Clarify(Vec<&'k str>),
    /// No entry: fallback, small talk, handoff or emergency (with the intent, if any).
    Elsewhere(ReplyKind, Option<String>),
}

struct Asked<'k> {
    entry: &'k FaqEntry,
    phrasing: &'k str,
    outcome: Outcome<'k>,
    /// Other entries that took it or came within [`OVERLAP_GAP`] of it.
    contested_by: Vec<&'k str>,
}

/// Asks every phrasing of `lang` and turns the outcomes into findings. `focus` is the entry the
/// console checks: an overlap is then reported on its file rather than on the first id's.
fn run<'k>(
    matcher: &'k Matcher,
    lang: Lang,
    opts: &GateOptions,
    focus: Option<&str>,
) -> Vec<Finding<'k>> {
    let entries: Vec<&FaqEntry> = matcher
        .knowledge()
        .entries
        .iter()
        .filter(|e| e.lang == lang)
        .collect();
    // By id, so a finding costs no scan of the entries (the FAQ may grow large).
    let by_id: HashMap<&str, &FaqEntry> = entries.iter().map(|e| (e.id.as_str(), *e)).collect();
    let asked: Vec<Asked> = entries
        .iter()
        .flat_map(|&entry| {
            let by_id = &by_id;
            entry
                .phrasings
                .iter()
                .map(move |p| ask(matcher, by_id, entry, p))
        })
        .collect();
    let mut findings = Vec::new();

    // Overlapping pairs first: their phrasings are reported once, as the pair.
    let mut contested: BTreeMap<(&str, &str), (usize, &str)> = BTreeMap::new();
    for a in &asked {
        for &other in &a.contested_by {
            let key = pair(&a.entry.id, other);
            let slot = contested.entry(key).or_insert((0, a.phrasing));
            slot.0 += 1;
        }
    }
    let phrasings_of = |id: &str| by_id.get(id).map_or(0, |e| e.phrasings.len());
    let mut overlapping: HashSet<(&str, &str)> = HashSet::new();
    for (&(x, y), &(n, example)) in &contested {
        let total = phrasings_of(x) + phrasings_of(y);
        if n < OVERLAP_MIN || (n as f32) < OVERLAP_SHARE * total as f32 {
            continue;
        }
        overlapping.insert((x, y));
        let (here, there) = if focus == Some(y) { (y, x) } else { (x, y) };
        let Some(entry) = by_id.get(here) else {
            continue;
        };
        findings.push(Finding {
            error: LoadError::warning(
                &entry.path,
                entry.line_of("phrasings"),
                format!(
                    "`{here}` and `{there}` overlap: {n} of their {total} phrasings go to the other, get \"did you mean\" between the two, or win by less than {OVERLAP_GAP} (e.g. \"{example}\"); visitors asking in their own words would be asked to choose: add a word specific to each, or merge them"
                ),
            )
            .for_entry(here),
            involves: HashSet::from([x, y]),
        });
    }

    // The same phrasing in two entries: one of them always loses, or visitors get "did you
    // mean". Reported once, naming both files, unless the pair is reported as overlapping.
    let mut by_phrasing: BTreeMap<String, Vec<&FaqEntry>> = BTreeMap::new();
    for a in &asked {
        let owners = by_phrasing.entry(a.phrasing.to_lowercase()).or_default();
        if !owners.iter().any(|e| e.id == a.entry.id) {
            owners.push(a.entry);
        }
    }
    let mut duplicated: HashSet<((&str, &str), &str)> = HashSet::new();
    for (lowered, owners) in &by_phrasing {
        for (i, x) in owners.iter().enumerate() {
            for y in &owners[i + 1..] {
                let key = pair(&x.id, &y.id);
                if overlapping.contains(&key) {
                    continue;
                }
                duplicated.insert((key, lowered.as_str()));
                let (here, there) = if focus == Some(y.id.as_str()) {
                    (y, x)
                } else {
                    (x, y)
                };
                let line_of = |e: &FaqEntry| {
                    e.phrasings
                        .iter()
                        .find(|p| p.to_lowercase() == *lowered)
                        .and_then(|p| e.line_of_phrasing(p))
                };
                let there_at = match line_of(there) {
                    Some(line) => format!("{}:{line}", there.path.display()),
                    None => there.path.display().to_string(),
                };
                findings.push(Finding {
                    error: LoadError::warning(
                        &here.path,
                        line_of(here),
                        format!(
                            "phrasing \"{lowered}\" is in both `{}` and `{}` ({there_at}): only one of them can answer it, or visitors get \"did you mean\"; keep it in the entry it belongs to",
                            here.id, there.id
                        ),
                    )
                    .for_entry(&here.id),
                    involves: HashSet::from([x.id.as_str(), y.id.as_str()]),
                });
            }
        }
    }
    let reported = |id: &str, other: &str, phrasing: &str| {
        let key = pair(id, other);
        overlapping.contains(&key) || duplicated.contains(&(key, phrasing.to_lowercase().as_str()))
    };

    for a in &asked {
        let id = a.entry.id.as_str();
        let phrasing = a.phrasing;
        let (message, involves) = match &a.outcome {
            Outcome::Own => continue,
            Outcome::Other(other) => {
                if reported(id, other, phrasing) {
                    continue;
                }
                (
                    format!("phrasing \"{phrasing}\" of `{id}` is answered by `{other}` instead: make it more specific, or move it to `{other}`"),
                    HashSet::from([id, *other]),
                )
            }
            Outcome::Clarify(others) => {
                let others: Vec<&str> = others
                    .iter()
                    .copied()
                    .filter(|o| !reported(id, o, phrasing))
                    .collect();
                if others.is_empty() {
                    continue;
                }
                let names: Vec<String> = others.iter().map(|o| format!("`{o}`")).collect();
                let mut involves: HashSet<&str> = others.iter().copied().collect();
                involves.insert(id);
                (
                    format!("phrasing \"{phrasing}\" of `{id}` is too close to {}: visitors asking it get \"did you mean\"; add a word specific to `{id}`", names.join(", ")),
                    involves,
                )
            }
            Outcome::Elsewhere(kind, intent) => (
                format!(
                    "phrasing \"{phrasing}\" of `{id}` gets a {} reply ({}): reword it, or check intents/ for a rule that catches it",
                    kind.as_str(),
                    intent.as_deref().unwrap_or("no entry close enough")
                ),
                HashSet::from([id]),
            ),
        };
        findings.push(Finding {
            error: LoadError::warning(&a.entry.path, a.entry.line_of_phrasing(phrasing), message)
                .for_entry(id),
            involves,
        });
    }

    for entry in entries {
        // Only the edited entry's answer when the console checks one.
        if focus.is_some_and(|f| f != entry.id) {
            continue;
        }
        let chars = entry.answer.chars().count();
        if chars > opts.max_answer_chars {
            findings.push(Finding {
                error: LoadError::warning(
                    &entry.path,
                    Some(entry.answer_line()),
                    format!(
                        "the answer is {chars} characters, more than a chat bubble should hold ({} at most, `max_answer_chars`): keep the essentials, or split it into two entries linked by `related`",
                        opts.max_answer_chars
                    ),
                )
                .for_entry(&entry.id),
                involves: HashSet::from([entry.id.as_str()]),
            });
        }
    }
    findings
}

/// Asks one phrasing of `entry` as a visitor would, in the entry's language.
fn ask<'k>(
    matcher: &Matcher,
    by_id: &HashMap<&str, &'k FaqEntry>,
    entry: &'k FaqEntry,
    phrasing: &'k str,
) -> Asked<'k> {
    let explanation = matcher.explain(phrasing, Some(entry.lang));
    let reply = &explanation.reply;
    // Asked as written, a phrasing wins for its own entry (an exact phrasing is answered by
    // it); asked as if unseen, the re-ranker says where a visitor wording it so would go.
    // Misfiled phrasings show only that way, so an answer elsewhere is judged unseen, while
    // "too close" is judged as written (unseen, short phrasings such as "cirrhose ?" sit
    // between two entries by nature, and every one would be reported).
    let unseen = matcher.explain_unseen(phrasing, entry.lang).reply;
    let elsewhere = match (unseen.kind, unseen.faq_id.as_deref()) {
        (ReplyKind::Answer, Some(other)) if other != entry.id => Some(other.to_owned()),
        _ => None,
    };
    // Ids borrowed from the knowledge (not the reply) so findings can outlive the reply.
    let known = |id: &str| -> Option<&'k str> { by_id.get(id).map(|e| e.id.as_str()) };
    let own = explanation
        .top
        .iter()
        .find(|(id, kind, _)| *kind == "faq" && *id == entry.id)
        .map_or(0.0, |(_, _, s)| s.confidence);
    let mut contested_by: Vec<&str> = explanation
        .top
        .iter()
        .filter(|(id, kind, s)| {
            *kind == "faq" && *id != entry.id && s.confidence >= own - OVERLAP_GAP
        })
        .filter_map(|(id, _, _)| known(id))
        .collect();
    let outcome = match (reply.kind, reply.faq_id.as_deref()) {
        (ReplyKind::Answer, Some(id)) if id == entry.id => match elsewhere {
            Some(other) => known(&other).map_or(Outcome::Own, Outcome::Other),
            None => Outcome::Own,
        },
        (ReplyKind::Answer, Some(other)) => known(other).map_or(Outcome::Own, Outcome::Other),
        (ReplyKind::Clarify, _) => {
            let offered: Vec<&str> = reply
                .suggestions
                .iter()
                .filter(|s| s.faq_id != entry.id)
                .filter_map(|s| known(&s.faq_id))
                .collect();
            // Blame the entries that are really close: a "did you mean" offers up to three,
            // and the third is often only there because the first two tie.
            let close: Vec<&str> = offered
                .iter()
                .copied()
                .filter(|o| contested_by.contains(o))
                .collect();
            match (offered.is_empty(), close.is_empty()) {
                // "Did you mean" offering only this entry is as good as an answer.
                (true, _) => Outcome::Own,
                // Not a tie but a weak match: every entry offered is in the way.
                (false, true) => Outcome::Clarify(offered),
                (false, false) => Outcome::Clarify(close),
            }
        }
        (kind, _) => Outcome::Elsewhere(kind, reply.intent.clone()),
    };
    if let Outcome::Other(other) = &outcome {
        contested_by.push(other);
    }
    contested_by.sort_unstable();
    contested_by.dedup();
    Asked {
        entry,
        phrasing,
        outcome,
        contested_by,
    }
}

/// An unordered pair of ids, in a canonical order.
fn pair<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[cfg(test)]
mod tests {
    //! Each gate on a small in-memory FAQ, parsed from text as the console would send it.
    use super::*;
    use crate::knowledge::{Knowledge, Severity};

    fn text(id: &str, phrasings: &[&str], related: &[&str], answer: &str) -> String {
        let quote = |items: &[&str]| {
            items
                .iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "+++\nid = \"{id}\"\nlang = \"fr\"\nquestion = \"{id} ?\"\nsection = \"{id}\"\nphrasings = [{}]\nrelated = [{}]\n+++\n{answer}\n",
            quote(phrasings),
            quote(related)
        )
    }

    fn entry(id: &str, phrasings: &[&str], related: &[&str], answer: &str) -> FaqEntry {
        let path = format!("faq/fr/{id}.md");
        match knowledge::parse_entry(
            Path::new(&path),
            &text(id, phrasings, related, answer),
            Lang::Fr,
        ) {
            Ok(e) => e,
            Err(errors) => panic!("test entry does not parse: {errors:?}"),
        }
    }

    const COUT: [&str; 4] = [
        "combien coûte le traitement",
        "prix des soins",
        "tarif de la thérapie",
        "c'est cher",
    ];
    const DUREE: [&str; 4] = [
        "combien de temps dure le séjour",
        "durée du séjour à la clinique",
        "le séjour dure combien de jours",
        "nombre de nuits à la clinique",
    ];
    const RISQUE: [&str; 4] = [
        "est-ce dangereux",
        "quels sont les risques",
        "effets secondaires possibles",
        "risque de complication",
    ];

    fn faq(extra: Vec<FaqEntry>) -> Matcher {
        let mut knowledge = Knowledge {
            entries: vec![
                entry("cout", &COUT, &["duree"], "Entre 7 000 et 31 000 euros."),
                entry("duree", &DUREE, &[], "Le séjour dure de 5 à 10 jours."),
                entry("risque", &RISQUE, &[], "Les complications sont rares."),
            ],
            ..Knowledge::default()
        };
        for e in extra {
            knowledge = knowledge.with_entry(e);
        }
        Matcher::new(Arc::new(knowledge))
    }

    fn messages(findings: &[LoadError]) -> String {
        findings
            .iter()
            .map(|f| format!("{f}\n"))
            .collect::<String>()
    }

    #[test]
    fn a_clean_faq_passes_every_gate() {
        let findings = gates(&faq(Vec::new()), &GateOptions::default());
        assert!(findings.is_empty(), "{}", messages(&findings));
    }

    #[test]
    fn a_phrasing_copied_from_another_entry_is_reported_once_with_both_files() {
        let mut phrasings = RISQUE.to_vec();
        phrasings.push("Combien coûte le traitement");
        let m = faq(vec![entry("risque", &phrasings, &[], "Rares.")]);
        let findings = gates(&m, &GateOptions::default());
        assert_eq!(findings.len(), 1, "{}", messages(&findings));
        let f = &findings[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.entry.as_deref(), Some("cout"));
        assert_eq!(
            f.to_string(),
            "faq/fr/cout.md:6: warning: phrasing \"combien coûte le traitement\" is in both `cout` and `risque` (faq/fr/risque.md:6): only one of them can answer it, or visitors get \"did you mean\"; keep it in the entry it belongs to"
        );
    }

    #[test]
    fn a_phrasing_close_to_another_entry_names_both_ids_on_its_line() {
        // The same words in another order: a tie, so "did you mean" for both phrasings.
        let mut phrasings = RISQUE.to_vec();
        phrasings.push("le traitement coûte combien");
        let m = faq(vec![entry("risque", &phrasings, &[], "Rares.")]);
        let findings = gates(&m, &GateOptions::default());
        let f = findings
            .iter()
            .find(|f| f.entry.as_deref() == Some("risque"))
            .unwrap_or_else(|| panic!("no finding on risque: {}", messages(&findings)));
        assert_eq!(
            f.to_string(),
            "faq/fr/risque.md:6: warning: phrasing \"le traitement coûte combien\" of `risque` is too close to `cout`: visitors asking it get \"did you mean\"; add a word specific to `risque`"
        );
    }

    #[test]
    fn near_identical_entries_are_reported_once_as_a_pair() {
        let copy: Vec<&str> = COUT.iter().copied().chain(["prix du traitement"]).collect();
        let m = faq(vec![entry("prix", &copy, &[], "Entre 7 000 et 31 000 €.")]);
        let findings = gates(&m, &GateOptions::default());
        assert_eq!(findings.len(), 1, "{}", messages(&findings));
        let f = &findings[0];
        assert_eq!(f.entry.as_deref(), Some("cout"), "on the first id's file");
        assert!(
            f.message.starts_with("`cout` and `prix` overlap: ")
                && f.message
                    .contains("add a word specific to each, or merge them"),
            "{f}"
        );
        // The console editing `prix` sees it on `prix`.
        let findings = check_entry(&m, "prix", Lang::Fr, &GateOptions::default());
        let pair: Vec<&LoadError> = findings
            .iter()
            .filter(|f| f.message.contains("overlap"))
            .collect();
        assert_eq!(pair.len(), 1, "{}", messages(&findings));
        assert!(pair[0].message.starts_with("`prix` and `cout` overlap"));
        assert_eq!(pair[0].path, Path::new("faq/fr/prix.md"));
    }

    #[test]
    fn a_long_answer_is_reported_at_its_first_line_with_the_limit() {
        let m = faq(Vec::new());
        let findings = gates(
            &m,
            &GateOptions {
                max_answer_chars: 29,
            },
        );
        assert_eq!(findings.len(), 1, "{}", messages(&findings));
        assert_eq!(
            findings[0].to_string(),
            "faq/fr/duree.md:9: warning: the answer is 31 characters, more than a chat bubble should hold (29 at most, `max_answer_chars`): keep the essentials, or split it into two entries linked by `related`"
        );
    }

    #[test]
    fn check_entry_gives_only_the_findings_about_that_entry() {
        // `risque` now has a phrasing of `cout`, two phrasings, and a dangling follow-up.
        let m = faq(vec![entry(
            "risque",
            &["est-ce dangereux", "combien coûte le traitement"],
            &["nulle_part"],
            "Rares.",
        )]);
        let opts = GateOptions::default();
        let findings: Vec<String> = check_entry(&m, "risque", Lang::Fr, &opts)
            .iter()
            .filter(|f| !f.message.contains("has no en version"))
            .map(|f| f.to_string())
            .collect();
        assert_eq!(findings.len(), 3, "{findings:#?}");
        assert!(findings[0].starts_with("faq/fr/risque.md:6: warning: only 2 phrasing(s)"));
        assert!(findings[1].starts_with(
            "faq/fr/risque.md:7: warning: `related` names `nulle_part`, which is no fr entry's id"
        ));
        assert!(findings[2].contains("`risque`") && findings[2].contains("`cout`"));
        // The same finding concerns `cout`; `duree` has none.
        let cout = check_entry(&m, "cout", Lang::Fr, &opts);
        assert!(cout.iter().any(|f| f.message.contains("`risque`")));
        let duree = check_entry(&m, "duree", Lang::Fr, &opts);
        assert!(duree
            .iter()
            .all(|f| f.message.contains("has no en version")));
        assert!(check_entry(&m, "absent", Lang::Fr, &opts).is_empty());
    }

    #[test]
    fn check_edit_parses_the_text_then_checks_it_against_the_others() {
        let m = faq(Vec::new());
        let opts = GateOptions::default();
        let path = Path::new("faq/fr/risque.md");
        let broken = text("risque", &[], &[], "Rares.");
        let errors = check_edit(&m, path, &broken, Lang::Fr, &opts);
        assert!(
            errors.iter().all(LoadError::is_error) && errors[0].message.starts_with("no phrasings"),
            "{}",
            messages(&errors)
        );
        let edited = text("risque", &["c'est cher", "est-ce dangereux"], &[], "Rares.");
        let findings = check_edit(&m, path, &edited, Lang::Fr, &opts);
        assert!(findings.iter().all(|f| !f.is_error()));
        assert!(
            findings.iter().any(|f| f
                .to_string()
                .starts_with("faq/fr/risque.md:6: warning: phrasing \"c'est cher\" is in both `risque` and `cout` (faq/fr/cout.md:6)")),
            "{}",
            messages(&findings)
        );
    }

    #[test]
    fn a_dangling_follow_up_is_left_out_of_the_answer() {
        let m = faq(vec![entry(
            "cout",
            &COUT,
            &["nulle_part", "duree"],
            "Cher.",
        )]);
        let reply = m.answer_entry("cout", Lang::Fr).expect("entry exists");
        let ids: Vec<&str> = reply
            .suggestions
            .iter()
            .map(|s| s.faq_id.as_str())
            .collect();
        assert_eq!(ids, ["duree"]);
    }
}
