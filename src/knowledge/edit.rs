//! Editing FAQ entries from the console: an entry as a form (`EntryDraft`) and back to the same
//! Markdown file support staff edit by hand, saved atomically and refused if someone saved first.
//!
//! **Invariant:** the file on disk is always either the old entry or the new one, never half of
//! each (write to a temporary file in the same folder, fsync, rename, fsync the folder).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::faq::{parse_entry, FaqEntry};
use super::LoadError;
use crate::text::Lang;

/// An entry as the console's form holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryDraft {
    pub id: String,
    pub lang: String,
    pub question: String,
    pub section: String,
    #[serde(default)]
    pub phrasings: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    pub answer: String,
}

/// Why a save did not happen. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the entry has problems: fix them and save again")]
    Invalid(Vec<LoadError>),
    #[error("id `{0}` must be lowercase letters, digits and `_` only, and lang \"fr\" or \"en\"")]
    BadName(String),
    #[error("entry `{id}` ({lang}) was changed by someone else since you opened it: your text is kept in the form; open the entry again, redo your change on the new version, and save")]
    Conflict { id: String, lang: String },
    #[error("entry `{id}` ({lang}) already exists: open it to edit it, or choose another id")]
    Exists { id: String, lang: String },
    #[error("cannot write {}: {source} (check the folder exists and the service may write to it)", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A saved entry: where, and its new revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub path: PathBuf,
    pub revision: String,
}

impl EntryDraft {
    pub fn from_entry(entry: &FaqEntry) -> EntryDraft {
        EntryDraft {
            id: entry.id.clone(),
            lang: entry.lang.code().to_owned(),
            question: entry.question.clone(),
            section: entry.section.clone(),
            phrasings: entry.phrasings.clone(),
            keywords: entry.keywords.clone(),
            related: entry.related.clone(),
            answer: entry.answer.clone(),
        }
    }

    /// The language, if the draft names a supported one.
    pub fn language(&self) -> Option<Lang> {
        Lang::from_code(&self.lang)
    }

    /// `faq/<lang>/<id>.md`, or `None` if id or lang could escape the folder or is not valid.
    pub fn path_in(&self, faq_dir: &Path) -> Option<PathBuf> {
        let lang = self.language()?;
        valid_id(&self.id).then(|| faq_dir.join(lang.code()).join(format!("{}.md", self.id)))
    }

    /// The Markdown file, in the layout of the shipped files (one phrasing per line, so a diff
    /// in git shows exactly the phrasing added).
    pub fn render(&self) -> String {
        let mut out = String::from("+++\n");
        let clean = |items: &[String]| -> Vec<String> {
            items
                .iter()
                .map(|s| one_line(s))
                .filter(|s| !s.is_empty())
                .collect()
        };
        // `writeln!` into a String cannot fail.
        let _ = writeln!(out, "id = {}", quote(self.id.trim()));
        let _ = writeln!(out, "lang = {}", quote(self.lang.trim()));
        let _ = writeln!(out, "question = {}", quote(&one_line(&self.question)));
        let _ = writeln!(out, "section = {}", quote(&one_line(&self.section)));
        out.push_str("phrasings = [\n");
        for p in clean(&self.phrasings) {
            let _ = writeln!(out, "  {},", quote(&p));
        }
        out.push_str("]\n");
        let list = |items: Vec<String>| {
            items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let keywords = clean(&self.keywords);
        if !keywords.is_empty() {
            let _ = writeln!(out, "keywords = [{}]", list(keywords));
        }
        let related = clean(&self.related);
        if !related.is_empty() {
            let _ = writeln!(out, "related = [{}]", list(related));
        }
        out.push_str("+++\n");
        let answer = self.answer.replace("\r\n", "\n");
        out.push_str(answer.trim());
        out.push('\n');
        out
    }

    /// Every problem the file would have, as `faqbot check` reports it for this one file.
    pub fn problems(&self, faq_dir: &Path) -> Vec<LoadError> {
        self.to_entry(faq_dir).err().unwrap_or_default()
    }

    /// The entry the draft would load as, for matching checks before saving.
    pub fn to_entry(&self, faq_dir: &Path) -> Result<FaqEntry, Vec<LoadError>> {
        let (Some(path), Some(lang)) = (self.path_in(faq_dir), self.language()) else {
            return Err(vec![LoadError::new(
                &faq_dir.join(format!("{}/{}.md", self.lang, self.id)),
                Some(2),
                SaveError::BadName(self.id.clone()).to_string(),
            )]);
        };
        parse_entry(&path, &self.render(), lang)
    }
}

/// A short, stable fingerprint of a file's bytes: what the editor saw when it opened the entry.
pub fn revision(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..12])
}

/// The current revision of `path`, `None` if it does not exist.
pub fn current_revision(path: &Path) -> Result<Option<String>, SaveError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(revision(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SaveError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Saves `draft` as `faq/<lang>/<id>.md`. `base` is the revision the editor opened (`None`
/// creates a new entry). The caller serialises saves: between the revision check and the rename
/// no other save of this process may run.
pub fn save(faq_dir: &Path, draft: &EntryDraft, base: Option<&str>) -> Result<Saved, SaveError> {
    let path = draft
        .path_in(faq_dir)
        .ok_or_else(|| SaveError::BadName(draft.id.clone()))?;
    let problems = draft.problems(faq_dir);
    if !problems.is_empty() {
        return Err(SaveError::Invalid(problems));
    }
    let (id, lang) = (draft.id.clone(), draft.lang.clone());
    match (current_revision(&path)?, base) {
        (Some(_), None) => return Err(SaveError::Exists { id, lang }),
        (Some(current), Some(base)) if current != base => {
            return Err(SaveError::Conflict { id, lang })
        }
        (None, Some(_)) => return Err(SaveError::Conflict { id, lang }),
        _ => {}
    }
    let text = draft.render();
    write_atomically(&path, text.as_bytes()).map_err(|source| SaveError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Saved {
        path,
        revision: revision(text.as_bytes()),
    })
}

/// Write-then-rename in the same folder (a rename is atomic within one file system). The
/// temporary name starts with a dot so the file watcher ignores it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("entry.md");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable only once the folder is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Form fields are single-line in the file: a pasted newline would break the layout.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> EntryDraft {
        EntryDraft {
            id: "horaires".into(),
            lang: "fr".into(),
            question: "Quels sont vos horaires ?".into(),
            section: "Contact".into(),
            phrasings: vec![
                "vous êtes ouverts quand ?".into(),
                "horaires d'ouverture".into(),
                "  ".into(),
                "il dit \"bonjour\"\nà tous".into(),
            ],
            keywords: vec!["horaires".into()],
            related: vec![],
            answer: "Du lundi au vendredi.\r\n\r\n- ligne\n".into(),
        }
    }

    #[test]
    fn every_shipped_entry_renders_back_to_the_same_bytes() {
        // So a save from the console shows in git as the lines changed, nothing else.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (knowledge, problems) = super::super::load(&root.join("faq"), &root.join("intents"));
        assert!(problems.is_empty(), "{problems:?}");
        for entry in &knowledge.entries {
            let draft = EntryDraft::from_entry(entry);
            let text = draft.render();
            let file = std::fs::read_to_string(&entry.path).expect("read");
            assert_eq!(text, file, "{}", entry.path.display());
            let again = parse_entry(&entry.path, &text, entry.lang).expect("parses");
            assert_eq!(
                EntryDraft::from_entry(&again),
                draft,
                "{}",
                entry.path.display()
            );
        }
    }

    #[test]
    fn quotes_newlines_and_blank_items_survive_a_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = draft();
        let entry = d.to_entry(dir.path()).expect("a valid entry");
        // The blank phrasing is dropped, the newline folded into a space.
        assert_eq!(entry.phrasings.len(), 3, "{:?}", entry.phrasings);
        assert_eq!(entry.phrasings[2], "il dit \"bonjour\" à tous");
        let text = d.render();
        assert!(
            text.contains("  \"il dit \\\"bonjour\\\" à tous\",\n"),
            "{text}"
        );
        assert!(
            text.ends_with("+++\nDu lundi au vendredi.\n\n- ligne\n"),
            "{text}"
        );
    }

    #[test]
    fn ids_that_could_leave_the_folder_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        for id in ["../x", "a/b", "", "Cout", "x.md"] {
            let d = EntryDraft {
                id: id.into(),
                ..draft()
            };
            assert!(matches!(
                save(dir.path(), &d, None),
                Err(SaveError::BadName(_))
            ));
        }
        let d = EntryDraft {
            lang: "../../etc".into(),
            ..draft()
        };
        assert!(matches!(
            save(dir.path(), &d, None),
            Err(SaveError::BadName(_))
        ));
    }

    #[test]
    fn a_save_on_an_old_revision_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut d = draft();
        d.phrasings.extend(["a".into(), "b".into(), "c".into()]);
        let first = save(dir.path(), &d, None).expect("created");
        assert!(matches!(
            save(dir.path(), &d, None),
            Err(SaveError::Exists { .. })
        ));

        let mut alice = d.clone();
        alice.phrasings.push("d'alice".into());
        let mut bob = d.clone();
        bob.phrasings.push("de bob".into());
        let saved = save(dir.path(), &alice, Some(&first.revision)).expect("alice saves");
        assert!(matches!(
            save(dir.path(), &bob, Some(&first.revision)),
            Err(SaveError::Conflict { .. })
        ));
        let on_disk = std::fs::read_to_string(&saved.path).expect("read");
        assert!(on_disk.contains("d'alice") && !on_disk.contains("de bob"));
        assert_eq!(revision(on_disk.as_bytes()), saved.revision);
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("fr"))
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
