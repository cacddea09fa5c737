//! One FAQ entry: a Markdown file with TOML front matter between `+++` lines (as Zola does),
//! then the answer. See `faq/README.md` for the format support staff follow.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{line_at, line_of_key, read_text, LoadError};
use crate::text::Lang;

/// A question the bot can answer, in one language, with the passage of the article that answers.
#[derive(Debug, Clone, PartialEq)]
pub struct FaqEntry {
    /// Stable id shared by the French and English versions (`cout`).
    pub id: String,
    pub lang: Lang,
    /// The canonical question, shown on suggestion buttons.
    pub question: String,
    /// The article section the answer comes from, shown as the source.
    pub section: String,
    /// Ways visitors ask it.
    pub phrasings: Vec<String>,
    pub keywords: Vec<String>,
    /// Ids offered as follow-ups after the answer.
    pub related: Vec<String>,
    /// The answer, in the article's words.
    pub answer: String,
    /// Where it was read from, and the text of the front matter, for line numbers in messages.
    pub path: PathBuf,
    front_matter: String,
    /// The 1-based line where the answer starts.
    answer_line: usize,
}

impl FaqEntry {
    /// The 1-based line in the file where `key` is set.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        // The front matter starts on line 2, after the opening `+++`.
        line_of_key(&self.front_matter, key).map(|l| l + 1)
    }

    /// The line of a phrasing (for "this phrasing matches another entry" messages).
    pub fn line_of_phrasing(&self, phrasing: &str) -> Option<usize> {
        let quoted = format!("\"{phrasing}\"");
        self.front_matter
            .find(&quoted)
            .map(|off| line_at(&self.front_matter, off) + 1)
    }

    /// The 1-based line where the answer starts (for "the answer is too long").
    pub fn answer_line(&self) -> usize {
        self.answer_line
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    lang: String,
    question: String,
    section: String,
    phrasings: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
}

/// Reads one entry file from the folder of `folder_lang`. Every problem in the file is returned.
pub(super) fn read_entry(path: &Path, folder_lang: Lang) -> Result<FaqEntry, Vec<LoadError>> {
    let text = read_text(path).map_err(|e| vec![e])?;
    parse_entry(path, &text, folder_lang)
}

/// Parses the text of one entry file as if read from `path` in the folder of `folder_lang`.
/// No file is read: the console checks an edit with it before saving. Only errors are returned
/// here (what makes the entry unusable); quality warnings come from [`super::entry_warnings`]
/// and the matcher's gates.
pub fn parse_entry(path: &Path, text: &str, folder_lang: Lang) -> Result<FaqEntry, Vec<LoadError>> {
    let err = |line: Option<usize>, msg: String| vec![LoadError::new(path, line, msg)];
    let (front, body, body_offset) = split_front_matter(text).ok_or_else(|| {
        err(
            Some(1),
            "no front matter: the file must start with a line `+++`, the settings, then another `+++` line (see faq/README.md)".to_owned(),
        )
    })?;
    let fm: FrontMatter = toml::from_str(front).map_err(|e| {
        let line = e.span().map(|s| line_at(front, s.start) + 1);
        err(
            line,
            format!(
                "bad settings between the `+++` lines: {} (see faq/README.md)",
                super::one_line(e.message())
            ),
        )
    })?;

    let mut errors = Vec::new();
    let line = |key: &str| line_of_key(front, key).map(|l| l + 1);
    let mut problem = |key: &str, msg: String| {
        let e = LoadError::new(path, line(key), msg);
        // Named when the id is usable, so the console can show the problem on that entry.
        errors.push(if fm.id.is_empty() {
            e
        } else {
            e.for_entry(&fm.id)
        });
    };

    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if fm.id.is_empty()
        || !fm
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        problem(
            "id",
            format!(
                "id `{}` must be lowercase letters, digits and `_` only",
                fm.id
            ),
        );
    } else if fm.id != stem {
        problem(
            "id",
            format!(
                "id `{}` differs from the file name `{stem}.md`: rename the file or fix the id",
                fm.id
            ),
        );
    }
    match Lang::from_code(&fm.lang) {
        Some(lang) if lang == folder_lang => {}
        Some(lang) => problem(
            "lang",
            format!(
                "lang is \"{lang}\" but the file is in faq/{folder_lang}/: move it or fix lang"
            ),
        ),
        None => problem(
            "lang",
            format!(
                "lang \"{}\" is not supported: use \"fr\" or \"en\"",
                fm.lang
            ),
        ),
    }
    if fm.question.trim().is_empty() {
        problem(
            "question",
            "question is empty: write the question as a visitor would see it on a button"
                .to_owned(),
        );
    }
    if fm.section.trim().is_empty() {
        problem(
            "section",
            "section is empty: give the title of the article section the answer comes from"
                .to_owned(),
        );
    }
    let phrasings: Vec<String> = fm
        .phrasings
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    // Without a phrasing nothing leads to the entry; a few are enough to serve it (a new entry
    // written from one missed question), and too few is a warning (`super::entry_warnings`).
    if phrasings.is_empty() {
        problem(
            "phrasings",
            format!(
                "no phrasings: write at least {} ways visitors ask this (short, colloquial, with typos…)",
                super::MIN_PHRASINGS
            ),
        );
    }
    let answer = body.trim().to_owned();
    if answer.is_empty() {
        let last = text.lines().count();
        let e = LoadError::new(
            path,
            Some(last),
            "the answer is empty: write the answer from the article after the second `+++` line",
        );
        errors.push(if fm.id.is_empty() {
            e
        } else {
            e.for_entry(&fm.id)
        });
    }
    let leading = body.len() - body.trim_start().len();
    let answer_line = line_at(text, body_offset + leading);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(FaqEntry {
        id: fm.id,
        lang: folder_lang,
        question: fm.question.trim().to_owned(),
        section: fm.section.trim().to_owned(),
        phrasings,
        keywords: fm
            .keywords
            .into_iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        related: fm.related,
        answer,
        path: path.to_path_buf(),
        front_matter: front.to_owned(),
        answer_line,
    })
}

/// Splits `+++\n<front>\n+++\n<body>` and gives the byte offset of the body in `text`.
/// Tolerates `\r\n` and blank lines before the first `+++`.
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let trimmed = text.trim_start_matches(['\n', '\r']);
    let rest = trimmed.strip_prefix("+++")?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            let body_start = offset + line.len();
            let body_offset = text.len() - rest.len() + body_start;
            return Some((&rest[..offset], &rest[body_start..], body_offset));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    //! Front matter parsing and the messages support staff see for each mistake.
    use super::*;

    const GOOD: &str = "+++\nid = \"cout\"\nlang = \"fr\"\nquestion = \"Combien ?\"\nsection = \"Prix\"\nphrasings = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]\n+++\nEntre 7 000 et 31 000 €.\n";

    fn parse(text: &str) -> Result<FaqEntry, Vec<LoadError>> {
        parse_entry(Path::new("faq/fr/cout.md"), text, Lang::Fr)
    }

    fn first_error(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("expected an error"),
            Err(errors) => errors[0].to_string(),
        }
    }

    #[test]
    fn a_good_entry_parses() {
        let entry = parse(GOOD).expect("valid entry");
        assert_eq!(entry.id, "cout");
        assert_eq!(entry.answer, "Entre 7 000 et 31 000 €.");
        assert_eq!(entry.line_of("phrasings"), Some(6));
    }

    #[test]
    fn a_bom_and_crlf_are_accepted() {
        let text = format!("\u{feff}{}", GOOD.replace('\n', "\r\n"));
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        assert!(parse(text).is_ok());
    }

    #[test]
    fn missing_front_matter_says_how_to_fix() {
        assert_eq!(
            first_error("id = 1\n"),
            "faq/fr/cout.md:1: no front matter: the file must start with a line `+++`, the settings, then another `+++` line (see faq/README.md)"
        );
    }

    #[test]
    fn bad_toml_names_the_line() {
        let text = GOOD.replace("section = \"Prix\"", "section = Prix");
        assert!(
            first_error(&text).starts_with("faq/fr/cout.md:5: bad settings"),
            "{}",
            first_error(&text)
        );
    }

    #[test]
    fn missing_key_and_unknown_key_are_reported() {
        let text = GOOD.replace("section = \"Prix\"\n", "");
        assert!(first_error(&text).contains("missing field `section`"));
        let text = GOOD.replace("section =", "sektion =");
        assert!(first_error(&text).contains("unknown field `sektion`"));
    }

    #[test]
    fn empty_answer_and_no_phrasing_are_errors_but_one_phrasing_parses() {
        let text = GOOD.replace("Entre 7 000 et 31 000 €.\n", "");
        assert!(first_error(&text).contains("the answer is empty"));
        let text = GOOD.replace("\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"", "\" \"");
        assert!(first_error(&text).starts_with("faq/fr/cout.md:6: no phrasings"));
        match parse(&text) {
            Err(errors) => assert_eq!(errors[0].entry.as_deref(), Some("cout")),
            Ok(_) => panic!("expected an error"),
        }
        // A new entry written from one missed question is servable (few phrasings: a warning).
        let text = GOOD.replace("\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"", "\"a\"");
        assert_eq!(parse(&text).map(|e| e.phrasings.len()), Ok(1));
    }

    #[test]
    fn the_answer_line_is_where_the_answer_starts() {
        let entry = parse(&GOOD.replace("+++\nEntre", "+++\n\n\nEntre")).expect("valid entry");
        assert_eq!(entry.answer_line(), 10);
        let entry = parse(&format!("\n{GOOD}")).expect("valid entry");
        assert_eq!(entry.answer_line(), 9);
    }

    #[test]
    fn id_must_match_the_file_name() {
        let text = GOOD.replace("id = \"cout\"", "id = \"prix\"");
        assert_eq!(
            first_error(&text),
            "faq/fr/cout.md:2: id `prix` differs from the file name `cout.md`: rename the file or fix the id"
        );
    }
}
