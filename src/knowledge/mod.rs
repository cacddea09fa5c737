//! The knowledge the bot answers from: FAQ entries (`faq/`) and intents, synonyms and SMS
//! spelling (`intents/`), read from files written by support staff.
//!
//! Loading never fails as a whole: [`load`] returns what it could read plus every problem found,
//! each naming the file, the line and the fix, so one typo in one file is reported, not fatal.
//! Errors leave something out; warnings ([`Severity`]) are served anyway and only fail
//! `faqbot check`.

pub mod edit;
mod error;
mod faq;
mod intents;
mod urgency;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use error::{LoadError, Severity};
pub use faq::{parse_entry, FaqEntry};
pub use intents::{Concept, Intent, IntentKind, Rule, Spelling};
pub use urgency::UrgencyExample;

use crate::text::Lang;

/// Everything loaded from `faq/` and `intents/`. Immutable once built: a reload builds a new one.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// FAQ entries, French and English, in a stable order (by id, then language).
    pub entries: Vec<FaqEntry>,
    /// Intents (small talk, handoff, emergency, out of scope), by id.
    pub intents: Vec<Intent>,
    /// Synonym concepts shared by the question side and the FAQ side.
    pub concepts: Vec<Concept>,
    /// Whole-word SMS rewrites, per language.
    pub spelling: Spelling,
    /// Messages filed as an emergency now or not (`intents/urgency/`): what the matcher learns
    /// to withhold a rule's 112 from. Empty: every rule's 112 is sent.
    pub urgency: Vec<UrgencyExample>,
}

impl Knowledge {
    /// The entry with this id in this language, if any.
    pub fn entry(&self, id: &str, lang: Lang) -> Option<&FaqEntry> {
        self.entries.iter().find(|e| e.id == id && e.lang == lang)
    }

    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.id == id)
    }

    /// A copy with `entry` added, or replacing the entry with its id and language: the
    /// knowledge as it would be after saving an edit, to check the edit before it is saved.
    pub fn with_entry(&self, entry: FaqEntry) -> Knowledge {
        let mut knowledge = self.clone();
        knowledge
            .entries
            .retain(|e| !(e.id == entry.id && e.lang == entry.lang));
        knowledge.entries.push(entry);
        knowledge
            .entries
            .sort_by(|a, b| (&a.id, a.lang).cmp(&(&b.id, b.lang)));
        knowledge
    }
}

/// Fewer phrasings than this is a warning: the matcher has too little to recognise the entry by.
/// Zero is an error (nothing leads to the entry); faq/README.md advises 6 or more.
pub const MIN_PHRASINGS: usize = 3;

/// Warnings about one entry that need no matcher: too few phrasings, follow-ups that point
/// nowhere, no translation. [`load`] reports them for every entry; the console asks them for the
/// entry it edits.
pub fn entry_warnings(knowledge: &Knowledge, entry: &FaqEntry) -> Vec<LoadError> {
    warnings_of(entry, |id, lang| knowledge.entry(id, lang).is_some())
}

/// [`entry_warnings`] with the lookup given, so [`load`] can use a set (linear in the entries).
fn warnings_of(entry: &FaqEntry, exists: impl Fn(&str, Lang) -> bool) -> Vec<LoadError> {
    let mut warnings = Vec::new();
    let mut warn = |line: Option<usize>, message: String| {
        warnings.push(LoadError::warning(&entry.path, line, message).for_entry(&entry.id));
    };
    if entry.phrasings.len() < MIN_PHRASINGS {
        warn(
            entry.line_of("phrasings"),
            format!(
                "only {} phrasing(s): write at least {MIN_PHRASINGS} ways visitors ask this, 6 or more is better (short, colloquial, with typos…)",
                entry.phrasings.len()
            ),
        );
    }
    for related in &entry.related {
        // The reply leaves a dangling follow-up out, so this is served; but the author meant to
        // offer something.
        if !exists(related, entry.lang) {
            warn(
                entry.line_of("related"),
                format!(
                    "`related` names `{related}`, which is no {} entry's id: the follow-up is not offered; fix the id or remove it",
                    entry.lang
                ),
            );
        }
    }
    for lang in Lang::ALL {
        // The language that exists is served meanwhile (a new entry is often written in one
        // language first).
        if lang != entry.lang && !exists(&entry.id, lang) {
            warn(
                None,
                format!(
                    "entry `{}` has no {lang} version: add faq/{lang}/{}.md (same id, translated)",
                    entry.id, entry.id
                ),
            );
        }
    }
    warnings
}

/// Loads `faq_dir` (with `fr/` and `en/` inside) and `intents_dir`. Returns the knowledge that
/// could be read and every problem found; an entry with a problem is left out.
pub fn load(faq_dir: &Path, intents_dir: &Path) -> (Knowledge, Vec<LoadError>) {
    let mut errors = Vec::new();
    let mut knowledge = Knowledge::default();

    if !faq_dir.is_dir() {
        errors.push(LoadError::new(
            faq_dir,
            None,
            "the FAQ folder does not exist: run from the project folder, or pass --faq DIR",
        ));
    } else {
        let mut files = Vec::new();
        for lang in Lang::ALL {
            let dir = faq_dir.join(lang.code());
            files.extend(
                markdown_files(&dir, &mut errors)
                    .into_iter()
                    .map(|path| (path, lang)),
            );
        }
        for read in read_entries(&files) {
            match read {
                Ok(entry) => knowledge.entries.push(entry),
                Err(mut errs) => errors.append(&mut errs),
            }
        }
    }

    if !intents_dir.is_dir() {
        errors.push(LoadError::new(
            intents_dir,
            None,
            "the intents folder does not exist: run from the project folder, or pass --intents DIR",
        ));
    } else {
        intents::read_dir(intents_dir, &mut knowledge, &mut errors);
        knowledge.urgency = urgency::read_dir(intents_dir, &mut errors);
    }

    knowledge
        .entries
        .sort_by(|a, b| (&a.id, a.lang).cmp(&(&b.id, b.lang)));
    knowledge.intents.sort_by(|a, b| a.id.cmp(&b.id));
    cross_check(&mut knowledge, &mut errors);
    (knowledge, errors)
}

/// Checks that need more than one file: duplicate ids and rules naming unknown concepts
/// (errors); follow-ups that point nowhere, missing translations, few phrasings (warnings).
fn cross_check(knowledge: &mut Knowledge, errors: &mut Vec<LoadError>) {
    let mut seen: HashMap<(String, Lang), PathBuf> = HashMap::new();
    let mut keep = vec![true; knowledge.entries.len()];
    for (i, entry) in knowledge.entries.iter().enumerate() {
        if let Some(first) = seen.get(&(entry.id.clone(), entry.lang)) {
            errors.push(
                LoadError::new(
                    &entry.path,
                    entry.line_of("id"),
                    format!(
                        "duplicate id `{}` ({}): already used by {}; give one of them another id",
                        entry.id,
                        entry.lang,
                        first.display()
                    ),
                )
                .for_entry(&entry.id),
            );
            keep[i] = false;
        } else {
            seen.insert((entry.id.clone(), entry.lang), entry.path.clone());
        }
    }
    let mut flags = keep.into_iter();
    knowledge.entries.retain(|_| flags.next().unwrap_or(true));

    let present: HashSet<(&str, Lang)> = knowledge
        .entries
        .iter()
        .map(|e| (e.id.as_str(), e.lang))
        .collect();
    for entry in &knowledge.entries {
        errors.extend(warnings_of(entry, |id, lang| present.contains(&(id, lang))));
    }

    let concepts: HashSet<&str> = knowledge.concepts.iter().map(|c| c.id.as_str()).collect();
    for intent in &knowledge.intents {
        let named = intent
            .rules
            .iter()
            .flat_map(|r| r.all.iter().map(move |c| (c, r.line, "rule")))
            .chain(intent.unless.iter().flat_map(|u| {
                u.any
                    .iter()
                    .chain(&u.with)
                    .chain(&u.except)
                    .map(move |c| (c, u.line, "[unless]"))
            }))
            .chain(
                intent
                    .along
                    .iter()
                    .map(|c| (c, intent.along_line, "`along`")),
            );
        if intent.firm && intent.kind != IntentKind::Fallback {
            errors.push(LoadError::new(
                &intent.path,
                None,
                "`firm = true` only applies to `kind = \"fallback\"` (emergency and handoff rules \
                 are always firm): remove the line",
            ));
        }
        if !intent.along.is_empty() && intent.kind != IntentKind::Smalltalk {
            errors.push(LoadError::new(
                &intent.path,
                intent.along_line,
                "`along` only applies to `kind = \"smalltalk\"` (what may surround its words): \
                 remove `along`",
            ));
        }
        for (concept, line, what) in named {
            if !concepts.contains(concept.as_str()) {
                errors.push(LoadError::new(
                    &intent.path,
                    line,
                    format!("{what} names concept `{concept}`, which synonyms.toml does not define: add it there or fix the name"),
                ));
            }
        }
    }
}

/// The TOML parser's message on one line ("invalid string; expected `"`"): one finding is one
/// line in a CI log and in the console.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads and parses the entry files, in order, on every core: parsing the front matter is most
/// of a large FAQ's load time, and each file stands alone.
fn read_entries(files: &[(PathBuf, Lang)]) -> Vec<Result<FaqEntry, Vec<LoadError>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let chunk = files.len().div_ceil(threads).max(64);
    std::thread::scope(|scope| {
        let parts: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(path, lang)| faq::read_entry(path, *lang))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            // A panic while parsing is a bug: re-raise it rather than load half the files.
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

fn markdown_files(dir: &Path, errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    list_files(dir, "md", errors)
}

/// Files with this extension in `dir`, sorted; README.md is documentation, not content.
pub(crate) fn list_files(dir: &Path, ext: &str, errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(err) => {
            errors.push(LoadError::new(
                dir,
                None,
                format!("cannot read this folder ({err})"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.eq_ignore_ascii_case("README.md"))
        })
        .collect();
    files.sort();
    files
}

/// Reads a content file as UTF-8, without the BOM that Windows editors add.
pub(crate) fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path)
        .map_err(|err| LoadError::new(path, None, format!("cannot read the file ({err})")))?;
    let text = String::from_utf8(bytes).map_err(|err| {
        LoadError::new(
            path,
            None,
            format!(
                "the file is not UTF-8 text (byte {}): save it as UTF-8",
                err.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}

/// The 1-based line of a byte offset.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line where `key = ` is set, for messages about a value.
pub(crate) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}
