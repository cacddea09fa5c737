//! The urgency examples (`intents/urgency/urgent.txt` and `not_urgent.txt`): messages support
//! staff filed as an emergency happening now or not, from which the matcher learns to withhold
//! an emergency rule's 112 from a message that only uses the vocabulary.

use std::collections::HashMap;
use std::path::Path;

use super::{list_files, read_text, LoadError};

/// The folder under `intents/` that holds the two files.
const FOLDER: &str = "urgency";
const URGENT: &str = "urgent.txt";
const NOT_URGENT: &str = "not_urgent.txt";
/// A longer line is a paste or two messages run together: it would teach little and weigh a lot.
const MAX_CHARS: usize = 1000;

/// One message filed as urgent or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrgencyExample {
    pub text: String,
    pub urgent: bool,
    /// The `## name` heading the line sits under: cross-validation keeps a family's lines on the
    /// same side, so that the threshold is judged on messages unlike those it learnt from.
    pub family: String,
}

/// Reads `intents/urgency/`. No folder means no examples (every rule's 112 is sent); a folder
/// with one file missing or empty is a warning, since the model needs both sides.
pub(super) fn read_dir(intents: &Path, errors: &mut Vec<LoadError>) -> Vec<UrgencyExample> {
    let dir = intents.join(FOLDER);
    if !dir.is_dir() {
        return Vec::new();
    }
    let mut found: HashMap<String, (bool, usize, std::path::PathBuf)> = HashMap::new();
    let mut examples = Vec::new();
    for path in list_files(&dir, "txt", errors) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let urgent = match name {
            URGENT => true,
            NOT_URGENT => false,
            _ => {
                errors.push(LoadError::warning(
                    &path,
                    None,
                    format!(
                        "this file is not read: urgency examples go in {URGENT} (an emergency \
                         now) or {NOT_URGENT} (no emergency); move its lines to one of them"
                    ),
                ));
                continue;
            }
        };
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(err) => {
                errors.push(err);
                continue;
            }
        };
        if parse(&path, &text, urgent, &mut found, &mut examples, errors) == 0 {
            errors.push(LoadError::warning(
                &path,
                None,
                "no message in this file: the urgency check needs examples on both sides and \
                 stays off until it has some (one message per line)",
            ));
        }
    }
    for (name, urgent) in [(URGENT, true), (NOT_URGENT, false)] {
        let path = dir.join(name);
        if !path.exists() {
            let what = if urgent {
                "an emergency now"
            } else {
                "no emergency"
            };
            errors.push(LoadError::warning(
                &path,
                None,
                format!(
                    "missing: the urgency check learns from both files and stays off without \
                     this one; create it with one message per line that describes {what}"
                ),
            ));
        }
        if !examples.iter().any(|e: &UrgencyExample| e.urgent == urgent) {
            // Without both sides there is nothing to learn: serve every rule's 112.
            examples.clear();
        }
    }
    examples
}

fn parse(
    path: &Path,
    text: &str,
    urgent: bool,
    found: &mut HashMap<String, (bool, usize, std::path::PathBuf)>,
    examples: &mut Vec<UrgencyExample>,
    errors: &mut Vec<LoadError>,
) -> usize {
    let mut family = String::new();
    let mut messages = 0;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim();
        if let Some(name) = line.strip_prefix("##") {
            family = name.trim().to_owned();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.chars().count() > MAX_CHARS {
            errors.push(LoadError::new(
                path,
                Some(line_no),
                format!(
                    "this message is longer than {MAX_CHARS} characters and is left out: keep \
                     one visitor message per line, or split it"
                ),
            ));
            continue;
        }
        messages += 1;
        let key = crate::text::fold(line);
        match found.get(&key) {
            Some((was_urgent, at, other)) if *was_urgent != urgent => {
                errors.push(LoadError::new(
                    path,
                    Some(line_no),
                    format!(
                        "this message is also in {}:{at}: a message cannot be both urgent and \
                         not; keep it in the file that says what it is and delete the other",
                        other.display()
                    ),
                ));
                // Neither copy is learnt from: which one is right is the author's call.
                examples.retain(|e| crate::text::fold(&e.text) != key);
                continue;
            }
            Some(_) => continue,
            None => {
                found.insert(key, (urgent, line_no, path.to_path_buf()));
            }
        }
        examples.push(UrgencyExample {
            text: line.to_owned(),
            urgent,
            family: family.clone(),
        });
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(urgent: Option<&str>, not_urgent: Option<&str>) -> (Vec<UrgencyExample>, Vec<String>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = dir.path().join(FOLDER);
        std::fs::create_dir(&folder).expect("folder");
        for (name, text) in [(URGENT, urgent), (NOT_URGENT, not_urgent)] {
            if let Some(text) = text {
                std::fs::write(folder.join(name), text).expect("write");
            }
        }
        let mut errors = Vec::new();
        let examples = read_dir(dir.path(), &mut errors);
        let folder = format!("{}/", folder.display());
        let errors = errors
            .iter()
            .map(|e| e.to_string().replace(&folder, ""))
            .collect();
        (examples, errors)
    }

    #[test]
    fn lines_are_read_with_their_family() {
        let (examples, errors) = load(
            Some("# a comment\n## a\nil vomit du sang\n\n## b\nelle ne répond plus\n"),
            Some("## a\nle vomissement est-il un effet secondaire ?\n"),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let got: Vec<(&str, bool, &str)> = examples
            .iter()
            .map(|e| (e.text.as_str(), e.urgent, e.family.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("le vomissement est-il un effet secondaire ?", false, "a"),
                ("il vomit du sang", true, "a"),
                ("elle ne répond plus", true, "b"),
            ]
        );
    }

    #[test]
    fn a_message_filed_on_both_sides_is_an_error_and_learnt_from_neither() {
        let (examples, errors) = load(
            Some("il vomit du sang\nelle ne répond plus\n"),
            Some("Il vomit du sang\nest-ce risqué ?\n"),
        );
        assert_eq!(examples.len(), 2, "{examples:?}");
        assert!(examples.iter().all(|e| e.text != "il vomit du sang"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("urgent.txt:1: this message is also in"),
            "{errors:?}"
        );
        assert!(errors[0].contains("not_urgent.txt:1"), "{errors:?}");
    }

    #[test]
    fn one_side_missing_turns_the_check_off_with_a_warning() {
        let (examples, errors) = load(Some("il vomit du sang\n"), None);
        assert!(examples.is_empty());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("not_urgent.txt: warning: missing"),
            "{errors:?}"
        );
    }

    #[test]
    fn an_overlong_line_is_left_out_with_its_line_number() {
        let long = "sang ".repeat(300);
        let (examples, errors) = load(Some(&format!("il vomit\n{long}\n")), Some("est-ce sûr ?\n"));
        assert_eq!(examples.len(), 2);
        assert!(
            errors[0].starts_with("urgent.txt:2: this message is longer"),
            "{errors:?}"
        );
    }
}
